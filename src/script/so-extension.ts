/**
 * The bridge part of the server-side SharedObject class (ssas-api.md 5): the ops and requests of
 * sandbox/shared-object.js carried out on the instance's SharedObjectManager, the script hooks (onSync, send
 * handlers, onStatus) posted back as events, and proxied shared objects — SharedObject.get(name, persistent,
 * netConnection) — mirrored from the instance or server at the other end of a NetConnection.
 */
import type { AmfValue } from '../amf';
import { ScriptError, isSsasError } from '../errors';
import { getLogger } from '../logger';
import { RemoteSharedObject, type SoClientSyncInfo } from '../net/so-client';
import type { ServerNetConnection, NcState } from '../host/net-connection';
import type { SharedObjectFeature } from '../server/so-feature';
import type { ServerSharedObject, SharedObjectManager, SoRemoteOwner, SoSubscriber } from '../server/shared-objects';
import type { SoEvent } from '../rtmp/shared-object';
import { fromIsolate, toIsolate } from './marshal';
import type { NetExtension } from './net-extension';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { HostRequest, ScriptOp } from './runtime';

const log = getLogger('so');

/** A shared object owned elsewhere: local subscribers see a mirror; their requests go to the owner. */
class ProxyOwner implements SoRemoteOwner {
  readonly so: ServerSharedObject;
  readonly #mgr: SharedObjectManager;
  readonly nc: ServerNetConnection;
  readonly #post: (e: { e: string; [k: string]: unknown }) => void;
  #remote: RemoteSharedObject | null = null;
  readonly #listener: (s: NcState) => void;

  constructor(so: ServerSharedObject, mgr: SharedObjectManager, nc: ServerNetConnection, post: (e: { e: string; [k: string]: unknown }) => void) {
    this.so = so;
    this.#mgr = mgr;
    this.nc = nc;
    this.#post = post;
    this.#listener = (state) => (state === 'connected' ? this.#subscribe() : this.#idle());
    nc.stateListeners.add(this.#listener);
    if (nc.isConnected) this.#subscribe();
  }

  #subscribe(): void {
    const client = this.nc.client;
    if (!client) return;
    const remote = RemoteSharedObject.get(client, this.so.name, this.so.persistent);
    this.#remote = remote;
    remote.onSync = (list) => this.#apply(list);
    remote.onMessage = (handler, args) => {
      this.#mgr.deliverToAll(this.so, [{ kind: 'sendMessage', handler, args }]);
      if (this.so.scriptRef) this.#post({ e: 'soSend', key: keyOf(this.so), handler, args: toIsolate(args) });
    };
    remote.onStatus = (info) => this.#post({ e: 'soStatus', key: keyOf(this.so), info: toIsolate(info as unknown as AmfValue) });
    remote.connect().catch((err) => log.warn(`proxied shared object ${this.so.name}: ${(err as Error).message}`));
  }

  /** The connection is gone: the proxied object idles; client messages are discarded until it is back. */
  #idle(): void {
    this.#remote = null;
  }

  #apply(list: SoClientSyncInfo[]): void {
    const remote = this.#remote;
    if (!remote) return;
    const out: SoEvent[] = [];
    for (const item of list) {
      if (item.code === 'clear') {
        this.so.applyClear();
        out.push({ kind: 'clear' });
        continue;
      }
      const key = item.name;
      if (key === undefined) continue;
      const v = remote.data[key];
      if (v === undefined || item.code === 'delete') {
        if (this.so.slots.has(key)) {
          this.so.applyDelete(key);
          out.push({ kind: 'remove', key });
        }
      } else {
        this.so.applySet(key, v);
        out.push({ kind: 'change', key, value: v });
      }
    }
    if (out.length > 0) this.#mgr.deliverToAll(this.so, out);
    if (this.so.scriptRef) this.#post({ e: 'soSync', key: keyOf(this.so), list: toIsolate(list as unknown as AmfValue) });
  }

  forward(_so: ServerSharedObject, _from: SoSubscriber, events: SoEvent[]): void {
    const remote = this.#remote;
    if (!remote) return; // idle: discarded, as FMS documents for a disconnected proxy
    for (const ev of events) {
      if (ev.kind === 'requestChange') remote.setProperty(ev.key, ev.value);
      else if (ev.kind === 'requestRemove') remote.deleteProperty(ev.key);
      else if (ev.kind === 'sendMessage') remote.send(ev.handler, ...ev.args);
    }
  }

  setFromScript(key: string, value: AmfValue): void {
    const remote = this.#remote;
    if (!remote) return;
    if (value === null) remote.deleteProperty(key);
    else remote.setProperty(key, value);
  }

  send(handler: string, args: AmfValue[]): void {
    this.#remote?.send(handler, ...args);
  }

  detach(): void {
    this.nc.stateListeners.delete(this.#listener);
    this.#remote?.close();
    this.#remote = null;
  }
}

function keyOf(so: { name: string; persistent: boolean }): string {
  return `${so.persistent ? 'P' : 'T'}:${so.name}`;
}

export class SharedObjectExtension implements ScriptExtension {
  readonly #feature: SharedObjectFeature;
  readonly #net: NetExtension;
  readonly #proxies = new WeakMap<ServerSharedObject, ProxyOwner>();
  readonly #hooked = new WeakSet<ScriptLogic>();

  constructor(feature: SharedObjectFeature, net: NetExtension) {
    this.#feature = feature;
    this.#net = net;
  }

  #manager(logic: ScriptLogic): SharedObjectManager {
    const mgr = this.#feature.manager(logic.instance);
    if (!this.#hooked.has(logic)) {
      this.#hooked.add(logic);
      const post = (e: { e: string; [k: string]: unknown }): void => logic.runtime?.post(e);
      mgr.hooks = {
        onSync: (so, list) => post({ e: 'soSync', key: keyOf(so), list: toIsolate(list as unknown as AmfValue) }),
        onSend: (so, handler, args) => post({ e: 'soSend', key: keyOf(so), handler, args: toIsolate(args) }),
        onStatus: (so, info) => post({ e: 'soStatus', key: keyOf(so), info: toIsolate(info as unknown as AmfValue) }),
      };
    }
    return mgr;
  }

  #so(logic: ScriptLogic, req: Record<string, unknown>): ServerSharedObject {
    const mgr = this.#manager(logic);
    const so = mgr.find(String(req.name), req.persistent === true);
    if (!so) throw new ScriptError('ERR_SO_NOT_FOUND', `shared object ${String(req.name)} is not open`);
    return so;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    if (!op.op.startsWith('so')) return false;
    let so: ServerSharedObject;
    try {
      so = this.#so(logic, op);
    } catch (err) {
      log.debug(`${op.op}: ${(err as Error).message}`);
      return true;
    }
    const proxy = this.#proxies.get(so);
    switch (op.op) {
      case 'soSet': {
        const value = fromIsolate(op.value);
        if (proxy) proxy.setFromScript(String(op.key), value === undefined ? null : value);
        else so.setProperty(String(op.key), value === undefined ? null : value);
        return true;
      }
      case 'soSend': {
        const args = (fromIsolate(op.args) as AmfValue[]) ?? [];
        if (proxy) proxy.send(String(op.handler), args);
        else so.send(String(op.handler), ...args);
        return true;
      }
      case 'soMark':
        so.mark(String(op.handler), ...((fromIsolate(op.args) as AmfValue[]) ?? []));
        return true;
      case 'soClear':
        so.clear();
        return true;
      case 'soPurge':
        so.purge(Number(op.version));
        return true;
      case 'soClose':
        proxy?.detach();
        this.#proxies.delete(so);
        so.close();
        return true;
      case 'soSetResyncDepth':
        so.resyncDepth = Number(op.value);
        return true;
      case 'soSetAutoCommit':
        so.autoCommit = op.value === true;
        return true;
    }
    return false;
  }

  request(logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined {
    if (!req.t.startsWith('so')) return undefined;
    const mgr = this.#manager(logic);
    switch (req.t) {
      case 'soGet': {
        const name = String(req.name);
        const persistent = req.persistent === true;
        let so: ServerSharedObject;
        try {
          so = mgr.get(name, persistent);
        } catch (err) {
          if (isSsasError(err)) return { value: { error: `${err.message} [${err.code}]` } };
          throw err;
        }
        if (typeof req.nc === 'number') this.#proxy(logic, so, req.nc);
        return { value: { version: so.version } };
      }
      case 'soCommit':
        return { value: mgr.commit(typeof req.name === 'string' ? req.name : undefined) };
      case 'soClearAll':
        return { value: mgr.clearSharedObjects(String(req.path)) };
    }
    const so = this.#so(logic, req);
    switch (req.t) {
      case 'soGetProperty':
        return { value: so.getProperty(String(req.key)) ?? null };
      case 'soNames':
        return { value: so.getPropertyNames() };
      case 'soSize':
        return { value: so.size() };
      case 'soVersion':
        return { value: so.version };
      case 'soIsDirty':
        return { value: so.isDirty };
      case 'soResyncDepth':
        return { value: so.resyncDepth };
      case 'soAutoCommit':
        return { value: so.autoCommit };
      case 'soLock':
        return { value: so.lock() };
      case 'soUnlock':
        return { value: so.unlock() };
      case 'soFlush':
        return { value: so.flush() };
    }
    return undefined;
  }

  /** SharedObject.get with a NetConnection: the object becomes (or stays) a proxy of the remote one. */
  #proxy(logic: ScriptLogic, so: ServerSharedObject, ncId: number): void {
    const nc = this.#net.netConnection(logic, ncId);
    if (!nc) return;
    const old = this.#proxies.get(so);
    if (old && old.nc === nc) return;
    if (old) {
      // Another connection: unsubscribe, tell subscribers "clear", subscribe again through the new one.
      old.detach();
      so.applyClear();
      this.#feature.manager(logic.instance).deliverToAll(so, [{ kind: 'clear' }]);
    }
    const post = (e: { e: string; [k: string]: unknown }): void => logic.runtime?.post(e);
    const owner = new ProxyOwner(so, this.#feature.manager(logic.instance), nc, post);
    so.remoteOwner = owner;
    this.#proxies.set(so, owner);
    logic.instance.closers.add(() => owner.detach());
  }
}
