/**
 * Remote shared objects on our RTMP client, as a Flash client uses them (flash.net.SharedObject.getRemote,
 * connect, data, setProperty, send, close, onSync/onStatus and handler functions). The wire side is
 * src/rtmp/shared-object.ts; the behaviour follows ssas-api.md sections 5, 9.5 and 11.6.
 *
 * Local changes are optimistic: `data` changes at once and a RequestChange/RequestRemove goes out. The server
 * applies requests in arrival order and acknowledges each with Success; while a slot has requests of ours in
 * flight, Changes for it from others are not applied (ours were applied later, so ours win), which makes every
 * client converge on the server's value. onSync codes, per message, as Flash reports them:
 *   clear    the server reset the object (first connect, or a resync that is not a delta)
 *   change   someone else changed a slot (oldValue given)
 *   delete   someone else deleted a slot
 *   success  the server accepted our change or delete
 *   reject   the server refused our change (NoWriteAccess): the slot is back to the server's value
 * One SharedObjectDispatcher per client routes incoming type 19/16 messages to the objects by name (it takes
 * over `onSharedObjectMessage`, passing messages for unknown names to whatever handler was there before).
 */
import type { AmfValue } from '../amf';
import { NetError, SsasError } from '../errors';
import { getLogger } from '../logger';
import {
  decodeSharedObjectMessage,
  encodeSharedObjectMessage,
  sharedObjectRtmpMessage,
  type SoEvent,
  type SoMessage,
} from '../rtmp/shared-object';
import type { RtmpMessage } from '../rtmp/types';

const log = getLogger('so-client');

/** What a RemoteSharedObject needs of a connection; RtmpClient has it. */
export interface SoTransport {
  objectEncoding: number;
  sendRaw(msg: RtmpMessage): void;
  onSharedObjectMessage: (msg: RtmpMessage) => void;
  onClose?: (err?: SsasError) => void;
}

export interface SoClientSyncInfo {
  code: 'clear' | 'change' | 'delete' | 'success' | 'reject';
  name?: string;
  oldValue?: AmfValue;
}

export interface SoClientStatus {
  code: string;
  level: string;
}

const dispatchers = new WeakMap<SoTransport, SharedObjectDispatcher>();

function soKey(name: string, persistent: boolean): string {
  return `${persistent ? 'P' : 'T'}:${name}`;
}

/** Routes a connection's shared object messages to its RemoteSharedObjects. */
export class SharedObjectDispatcher {
  readonly transport: SoTransport;
  readonly #objects = new Map<string, RemoteSharedObject>();
  readonly #previous: (msg: RtmpMessage) => void;

  private constructor(transport: SoTransport) {
    this.transport = transport;
    this.#previous = transport.onSharedObjectMessage;
    transport.onSharedObjectMessage = (msg) => this.dispatch(msg);
    if ('onClose' in transport) {
      const prevClose = transport.onClose;
      transport.onClose = (err?: SsasError) => {
        for (const so of this.#objects.values()) so.handleClosed(err);
        prevClose?.call(transport, err);
      };
    }
  }

  static for(transport: SoTransport): SharedObjectDispatcher {
    let d = dispatchers.get(transport);
    if (!d) dispatchers.set(transport, (d = new SharedObjectDispatcher(transport)));
    return d;
  }

  /** The object of that name and persistence, created on first use (Flash's getRemote gives the same one). */
  object(name: string, persistent: boolean): RemoteSharedObject {
    const key = soKey(name, persistent);
    let so = this.#objects.get(key);
    if (!so) this.#objects.set(key, (so = new RemoteSharedObject(this, name, persistent)));
    return so;
  }

  /** Decodes and routes one message; malformed ones throw (the client then closes the connection). */
  dispatch(msg: RtmpMessage): void {
    const m = decodeSharedObjectMessage(msg);
    const so = this.#objects.get(soKey(m.name, m.persistent)) ?? this.#objects.get(soKey(m.name, !m.persistent));
    if (!so) {
      this.#previous(msg);
      return;
    }
    so.handleMessage(m);
  }

  /** @internal */
  sendMessage(m: SoMessage): void {
    const amf3 = this.transport.objectEncoding === 3;
    this.transport.sendRaw(sharedObjectRtmpMessage(encodeSharedObjectMessage(m, amf3), amf3));
  }
}

interface Waiter {
  resolve: (list: SoClientSyncInfo[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A remote shared object seen from the client side. */
export class RemoteSharedObject {
  readonly name: string;
  readonly persistent: boolean;
  /** The slots (a prototype-less object, so any key works). */
  readonly data: Record<string, AmfValue> = Object.create(null) as Record<string, AmfValue>;
  /** The server's version as last seen. */
  version = 0;
  connected = false;
  onSync: (list: SoClientSyncInfo[]) => void = () => {};
  onStatus: (info: SoClientStatus) => void = () => {};
  /** Handlers for the server's and other clients' send(handler, ...args). */
  readonly handlers: Record<string, (...args: AmfValue[]) => void> = Object.create(null) as Record<string, (...args: AmfValue[]) => void>;
  /** Every SendMessage received, for those who want them all. */
  onMessage: (handler: string, args: AmfValue[]) => void = () => {};
  /** Messages received (for tests that count them). */
  messagesReceived = 0;

  readonly #dispatcher: SharedObjectDispatcher;
  /** Requests of ours in flight, per slot. */
  readonly #pending = new Map<string, number>();
  /** Slots whose pending requests the server refused: the next Change/Remove puts the server value back. */
  readonly #rejected = new Set<string>();
  #connecting: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  #syncWaiters: Waiter[] = [];
  #idleWaiters: (() => void)[] = [];

  /** @internal use RemoteSharedObject.get */
  constructor(dispatcher: SharedObjectDispatcher, name: string, persistent: boolean) {
    this.#dispatcher = dispatcher;
    this.name = name;
    this.persistent = persistent;
  }

  /** SharedObject.getRemote(name, uri, persistence) on an already connected client. */
  static get(client: SoTransport, name: string, persistent = false): RemoteSharedObject {
    return SharedObjectDispatcher.for(client).object(name, persistent);
  }

  /** Number of our requests not acknowledged yet. */
  get pendingCount(): number {
    let n = 0;
    for (const c of this.#pending.values()) n += c;
    return n;
  }

  /**
   * Subscribes (Use with our version: 0 the first time, so the server sends everything; after a close, the
   * version we had, so it may send only what changed). Resolves once the first sync has been applied.
   */
  connect(timeoutMs = 10000): Promise<void> {
    if (this.#connecting) return Promise.reject(new NetError('ERR_SO_BUSY', `shared object ${this.name} is already connecting`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#connecting = null;
        reject(new NetError('ERR_NET_TIMEOUT', `shared object ${this.name}: no answer to connect within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.#connecting = { resolve, reject, timer };
      this.#send([{ kind: 'use' }]);
    });
  }

  /** so.data[name] = value, sent to the server. */
  setProperty(name: string, value: AmfValue): void {
    this.#requireConnected();
    const key = String(name);
    this.data[key] = value;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    this.#send([{ kind: 'requestChange', key, value }]);
  }

  /** delete so.data[name], sent to the server. */
  deleteProperty(name: string): void {
    this.#requireConnected();
    const key = String(name);
    delete this.data[key];
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    this.#send([{ kind: 'requestRemove', key }]);
  }

  /** so.send(handler, ...args): runs `handler` on every subscriber, this one included. */
  send(handler: string, ...args: AmfValue[]): void {
    this.#requireConnected();
    this.#send([{ kind: 'sendMessage', handler, args }]);
  }

  /** Unsubscribes (Release). `data` and `version` stay, for a later connect. */
  close(): void {
    if (this.connected) this.#send([{ kind: 'release' }]);
    this.connected = false;
    this.#pending.clear();
    this.#rejected.clear();
    this.#wakeIdle();
  }

  /** Resolves with the next onSync list. */
  nextSync(timeoutMs = 10000): Promise<SoClientSyncInfo[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w.timer !== timer);
        reject(new NetError('ERR_NET_TIMEOUT', `shared object ${this.name}: no sync within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.#syncWaiters.push({ resolve, reject, timer });
    });
  }

  /** Resolves when every request of ours has been answered. */
  settled(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #requireConnected(): void {
    if (!this.connected) throw new NetError('ERR_SO_NOT_CONNECTED', `shared object ${this.name} is not connected`);
  }

  #send(events: SoEvent[]): void {
    this.#dispatcher.sendMessage({ name: this.name, version: this.version, persistent: this.persistent, events });
  }

  #ack(key: string): void {
    const n = (this.#pending.get(key) ?? 0) - 1;
    if (n > 0) this.#pending.set(key, n);
    else this.#pending.delete(key);
  }

  #wakeIdle(): void {
    if (this.pendingCount > 0) return;
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const f of w) f();
  }

  /** @internal */
  handleMessage(m: SoMessage): void {
    this.messagesReceived++;
    this.version = m.version;
    const list: SoClientSyncInfo[] = [];
    let usedNow = false;
    let failed: SoClientStatus | null = null;
    for (const ev of m.events) {
      switch (ev.kind) {
        case 'useSuccess':
          this.connected = true;
          usedNow = true;
          break;
        case 'clear':
          for (const k of Object.keys(this.data)) if (!this.#pending.has(k)) delete this.data[k];
          list.push({ code: 'clear' });
          break;
        case 'change':
        case 'remove': {
          const k = ev.key;
          const old = this.data[k];
          if (this.#rejected.delete(k)) {
            if (ev.kind === 'change') this.data[k] = ev.value;
            else delete this.data[k];
            list.push({ code: 'reject', name: k, oldValue: old });
          } else if (!this.#pending.has(k)) {
            if (ev.kind === 'change') this.data[k] = ev.value;
            else delete this.data[k];
            list.push({ code: ev.kind === 'change' ? 'change' : 'delete', name: k, oldValue: old });
          }
          break;
        }
        case 'success':
          this.#ack(ev.key);
          list.push({ code: 'success', name: ev.key });
          break;
        case 'status': {
          const info = { code: ev.code, level: ev.level };
          if (ev.code === 'SharedObject.NoWriteAccess') {
            for (const k of this.#pending.keys()) this.#rejected.add(k);
            this.#pending.clear();
          }
          if (ev.level === 'error' && this.#connecting && !this.connected) failed = info;
          try {
            this.onStatus(info);
          } catch (err) {
            log.warn(`onStatus handler of ${this.name} threw: ${(err as Error).message}`);
          }
          break;
        }
        case 'sendMessage': {
          try {
            this.onMessage(ev.handler, ev.args);
            this.handlers[ev.handler]?.(...ev.args);
          } catch (err) {
            log.warn(`handler ${ev.handler} of ${this.name} threw: ${(err as Error).message}`);
          }
          break;
        }
        default:
          log.debug(`shared object ${this.name}: ignoring ${ev.kind} event from the server`);
      }
    }
    if (list.length > 0) {
      try {
        this.onSync(list);
      } catch (err) {
        log.warn(`onSync handler of ${this.name} threw: ${(err as Error).message}`);
      }
      const waiters = this.#syncWaiters;
      this.#syncWaiters = [];
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.resolve(list);
      }
    }
    const c = this.#connecting;
    if (c && (usedNow || failed)) {
      this.#connecting = null;
      clearTimeout(c.timer);
      if (usedNow) c.resolve();
      else {
        const f = failed as SoClientStatus;
        c.reject(new SsasError('ERR_SO_CONNECT_FAILED', `shared object ${this.name}: ${f.code}`, { code: f.code, level: f.level }));
      }
    }
    this.#wakeIdle();
  }

  /** @internal The connection closed. */
  handleClosed(err?: SsasError): void {
    this.connected = false;
    this.#pending.clear();
    const c = this.#connecting;
    this.#connecting = null;
    if (c) {
      clearTimeout(c.timer);
      c.reject(new NetError('ERR_NET_CLOSED', `connection closed while connecting shared object ${this.name}${err ? `: ${err.message}` : ''}`));
    }
    for (const w of this.#syncWaiters) {
      clearTimeout(w.timer);
      w.reject(new NetError('ERR_NET_CLOSED', 'connection closed'));
    }
    this.#syncWaiters = [];
    this.#wakeIdle();
  }
}
