/**
 * Remote shared objects of one application instance, with the FMS semantics of ssas-api.md section 5 (server
 * SharedObject class), 9.5 (status codes) and 11.6/11.7 (wire protocol and event order). Independent of
 * sockets and of the script sandbox: clients are `SoSubscriber`s (a session wraps the encoded body in an RTMP
 * message of type 19 or 16), the script is reached through `SoScriptHooks`.
 *
 * Behaviour, and the choices where FMS is not documented:
 * - Persistent and non-persistent objects are separate namespaces (same name, two objects).
 * - Use: readAccess is checked (denied: Status SharedObject.NoReadAccess). The answer is one message:
 *   UseSuccess, then either Clear and a Change per slot (full resync) or only the Changes/Removes since the
 *   client's version (delta). A version number names one state only within one history of the object, and a
 *   client may hold a version from another history (the server restarted and a non-persistent object was
 *   created again; a persistent one lost its unsaved changes in a crash; its file was deleted) that this one
 *   reaches again with other contents. So a delta is sent only when that cannot be: the object was loaded
 *   from a file marked "final" (written when the object was unloaded, so nothing after that version was ever
 *   handed out), the client's version is at least the loaded one and not purged, and within resyncDepth when
 *   that is not -1 (infinite). Before the first new version after such a load, the file is rewritten without
 *   the mark (synchronously, once per load), so a crash cannot leave a "final" file behind a newer history.
 *   Everything else gets a full resync, which is always right. Deleted slots are remembered (tombstones) for
 *   deltas; purge(), resyncDepth and a cap trim them.
 * - RequestChange / RequestRemove: writeAccess is checked (denied: Status SharedObject.NoWriteAccess plus a
 *   Change or Remove with the current value, so the client's optimistic value is put back). Applied in
 *   arrival order, version+1 per change; the requester gets Success (for deletes too: Red5 sends Remove, but
 *   one acknowledgement kind lets a client tell its own confirmation from someone else's change), every other
 *   subscriber gets Change / Remove, the script's onSync gets {code:"change"|"delete", name, oldValue}. Two
 *   clients changing one slot converge: the later request wins and the earlier requester receives a Change
 *   with the winner's value after its own Success. Several requests in one message give one answer message
 *   per subscriber and one onSync list.
 * - SendMessage from a client reaches every subscriber including the sender (the Flash SharedObject.send
 *   documentation says so) and the script's handler of that name (onSend). No writeAccess check: nothing is
 *   written.
 * - Release unsubscribes. An object with no subscribers and no script reference is dropped; a persistent one
 *   is saved first when dirty and autoCommit is on (with autoCommit off, unsaved changes are lost, as FMS
 *   documents).
 * - Script API (ServerSharedObject): setProperty (null deletes; clients see it before the call returns; the
 *   script's own onSync is not called), lock/unlock (changes inside are batched into one message per
 *   subscriber at the last unlock; client requests arriving meanwhile wait for it; lock returns the new count,
 *   unlock the remaining count or -1 when not locked), send, mark (a send that joins the lock batch), clear,
 *   flush (synchronous save, Boolean), purge, close, resyncDepth, autoCommit, isDirty, version, name.
 * - AMF: subscribers with objectEncoding 3 get type 16 bodies (values in AMF0 with the 0x11 switch where
 *   needed), others type 19. An AMF0 subscriber that would have to receive an AMF3-only value (ByteArray, E4X
 *   XML, Vector, Dictionary) is disconnected, as FMS 3 did in blended mode.
 * - Slot values are treated as immutable: callers hand in fresh values and must not change them afterwards.
 * - Proxied shared objects (SharedObject.get with a NetConnection) are not implemented. The seam: set
 *   `remoteOwner` on an object and client requests go to it instead of being applied; lock/unlock answer -1.
 */
import type { AmfValue } from '../amf';
import { RtmpError, SsasError, isSsasError } from '../errors';
import { getLogger } from '../logger';
import {
  decodeSharedObjectMessage,
  encodeSharedObjectEvent,
  encodeSharedObjectHeader,
  type SoEvent,
  type SoMessage,
} from '../rtmp/shared-object';
import type { RtmpMessage } from '../rtmp/types';
import { loadSharedObjectSync, parseSoPattern, saveSharedObject, saveSharedObjectSync, soPatternMatches, deleteSharedObjects } from './so-store';

const log = getLogger('so');

/** A client subscribed (or about to subscribe) to shared objects. */
export interface SoSubscriber {
  readonly id: string;
  /** 0 (AMF0, type 19 messages) or 3 (AMF3, type 16 messages). */
  readonly objectEncoding: number;
  canRead(path: string): boolean;
  canWrite(path: string): boolean;
  /** Delivers an encoded message body; `amf3` says type 16 (else 19). */
  send(body: Buffer, amf3: boolean): void;
  /** Closes the client (AMF3-only data for an AMF0 client). */
  disconnect(reason: SsasError): void;
}

/** One onSync list entry. */
export interface SoSyncInfo {
  code: 'change' | 'delete' | 'clear' | 'success' | 'reject';
  name?: string;
  oldValue?: AmfValue;
}

export interface SoStatusInfo {
  code: string;
  level: 'error' | 'warning' | 'status';
  description?: string;
}

/** Where the script side listens. Called only for objects the script holds (SharedObject.get, not closed). */
export interface SoScriptHooks {
  /** Changes made by clients (never the script's own). */
  onSync?(so: ServerSharedObject, list: SoSyncInfo[]): void;
  /** A client's send(handler, ...args): run the object's handler of that name in the script, if any. */
  onSend?(so: ServerSharedObject, handler: string, args: AmfValue[]): void;
  onStatus?(so: ServerSharedObject, info: SoStatusInfo): void;
}

/** Seam for proxied shared objects (owned by another instance or server): not implemented here. */
export interface SoRemoteOwner {
  /** Client requests (requestChange, requestRemove, sendMessage) to forward to the owner. */
  forward(so: ServerSharedObject, from: SoSubscriber, events: SoEvent[]): void;
}

export interface SharedObjectManagerOptions {
  /** The instance's shared object folder (see instanceSharedObjectRoot); null keeps persistent objects in memory. */
  root?: string | null;
  /** Default resyncDepth of new objects: -1 = infinite (FMS default). */
  resyncDepth?: number;
  /** Default autoCommit of new objects (FMS default true). */
  autoCommit?: boolean;
  /** Period of the autoCommit saves; 0 disables the timer. Default 5000 ms. */
  autoCommitIntervalMs?: number;
  hooks?: SoScriptHooks;
  /** For log lines, e.g. "chat/_definst_". */
  label?: string;
  /** Objects one client may use at once (more: ObjectCreationFailed). Default 1000. */
  maxSubscriptionsPerClient?: number;
  /** Deleted-slot records kept for delta resyncs, per object. Default 4096. */
  maxTombstones?: number;
  /** Messages above this size are split (a full resync of a huge object). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Objects one instance may have loaded at once (more: ERR_SO_LIMIT, ObjectCreationFailed). Default 10,000. */
  maxObjects?: number;
}

interface Slot {
  value: AmfValue;
  /** Version at which the slot last changed. */
  version: number;
}

type Outbox = Map<SoSubscriber, SoEvent[]>;

const STATUS_NO_READ = 'SharedObject.NoReadAccess';
const STATUS_NO_WRITE = 'SharedObject.NoWriteAccess';
const STATUS_CREATION_FAILED = 'SharedObject.ObjectCreationFailed';

function keyOf(name: string, persistent: boolean): string {
  return `${persistent ? 'P' : 'T'}:${name}`;
}

let nextObjectId = 1;

/** One shared object, with the server-side SharedObject API. */
export class ServerSharedObject {
  readonly id = nextObjectId++;
  readonly name: string;
  readonly persistent: boolean;
  /** Proxied-object seam: when set, client requests are forwarded instead of applied. */
  remoteOwner: SoRemoteOwner | null = null;

  /** @internal */ readonly slots = new Map<string, Slot>();
  /** @internal */ readonly tombstones = new Map<string, number>();
  /** @internal */ readonly subscribers = new Set<SoSubscriber>();
  /** @internal Deltas are possible for client versions >= historyStart. */
  historyStart = Number.POSITIVE_INFINITY;
  /** @internal */ scriptRef = false;
  /** @internal */ lockCount = 0;
  /** @internal Events of the current lock batch. */
  batch: SoEvent[] = [];
  /** @internal Client requests that arrived while locked. */
  queued: { sub: SoSubscriber; msg: SoMessage }[] = [];
  /** @internal */ saveSeq = 0;
  /** @internal The file on disk is this state, marked final (or a final save of it is under way). */
  finalOnDisk = false;
  /** @internal */ finalPending = false;
  /** @internal A file of this object exists (loaded or saved). */
  hasFile = false;
  /** @internal */ saving: Promise<void> = Promise.resolve();
  /** @internal */ unloaded = false;

  #version = 0;
  #dirty = false;
  #resyncDepth: number;
  #autoCommit: boolean;
  readonly #mgr: SharedObjectManager;

  /** @internal */
  constructor(mgr: SharedObjectManager, name: string, persistent: boolean, resyncDepth: number, autoCommit: boolean) {
    this.#mgr = mgr;
    this.name = name;
    this.persistent = persistent;
    this.#resyncDepth = resyncDepth;
    this.#autoCommit = autoCommit;
  }

  get version(): number {
    return this.#version;
  }

  /** Modified since the last save; always false for non-persistent objects. */
  get isDirty(): boolean {
    return this.persistent && this.#dirty;
  }

  get resyncDepth(): number {
    return this.#resyncDepth;
  }

  set resyncDepth(depth: number) {
    this.#resyncDepth = Number.isFinite(depth) && depth >= 0 ? Math.floor(depth) : -1;
    if (this.#resyncDepth >= 0) this.purge(this.#version - this.#resyncDepth);
  }

  get autoCommit(): boolean {
    return this.#autoCommit;
  }

  set autoCommit(on: boolean) {
    this.#autoCommit = on === true;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** @internal */
  loadFrom(version: number, slots: Map<string, AmfValue>, final: boolean): void {
    this.#version = version;
    for (const [k, v] of slots) this.slots.set(k, { value: v, version });
    this.hasFile = true;
    this.finalOnDisk = final;
    if (final) this.historyStart = version;
  }

  /** @internal Unreferenced: no subscriber, no script handle, no lock. */
  get idle(): boolean {
    return this.subscribers.size === 0 && !this.scriptRef && this.lockCount === 0;
  }

  /** @internal Records a change: version+1, slot or tombstone, dirty. Returns the new version. */
  bump(): number {
    if (this.finalOnDisk || this.finalPending) this.#mgr.unfinalize(this);
    this.#version++;
    if (this.persistent) this.#dirty = true;
    return this.#version;
  }

  /** @internal */
  markClean(): void {
    this.#dirty = false;
  }

  /** @internal */
  markDirty(): void {
    if (this.persistent) this.#dirty = true;
  }

  /** @internal */
  applySet(key: string, value: AmfValue): void {
    const v = this.bump();
    this.slots.set(key, { value, version: v });
    this.tombstones.delete(key);
  }

  /** @internal */
  applyDelete(key: string): void {
    const v = this.bump();
    this.slots.delete(key);
    this.tombstones.set(key, v);
    if (this.tombstones.size > this.#mgr.maxTombstones) this.#trimTombstones();
  }

  /** @internal */
  applyClear(): void {
    const v = this.bump();
    this.slots.clear();
    this.tombstones.clear();
    // Older clients would need a Remove per former slot: make them take a full resync instead.
    this.historyStart = Math.max(this.historyStart, v);
  }

  #trimTombstones(): void {
    const sorted = [...this.tombstones.entries()].sort((a, b) => a[1] - b[1]);
    const drop = sorted.slice(0, Math.ceil(sorted.length / 2));
    for (const [k] of drop) this.tombstones.delete(k);
    const upTo = drop[drop.length - 1]![1];
    if (this.historyStart !== Number.POSITIVE_INFINITY) this.historyStart = Math.max(this.historyStart, upTo);
  }

  // ------------------------------------------------------------------------------------------- script API

  getProperty(name: string): AmfValue {
    return this.slots.get(String(name))?.value;
  }

  getPropertyNames(): string[] {
    return [...this.slots.keys()];
  }

  size(): number {
    return this.slots.size;
  }

  /** Sets a slot (null deletes). Subscribers are told before this returns unless the object is locked. */
  setProperty(name: string, value: AmfValue): boolean {
    const key = String(name);
    if (value === null) {
      if (!this.slots.has(key)) return true;
      this.applyDelete(key);
      this.#mgr.scriptEvent(this, { kind: 'remove', key });
      return true;
    }
    const cur = this.slots.get(key);
    if (cur !== undefined && Object.is(cur.value, value) && (typeof value !== 'object' || value === null)) return true;
    this.applySet(key, value);
    this.#mgr.scriptEvent(this, { kind: 'change', key, value });
    return true;
  }

  /** Deletes every slot; subscribers get "clear". */
  clear(): boolean {
    this.applyClear();
    this.#mgr.scriptEvent(this, { kind: 'clear' });
    return true;
  }

  /** Returns the lock count after locking (>= 1), or -1 (proxied objects). */
  lock(): number {
    if (this.remoteOwner) return -1;
    return ++this.lockCount;
  }

  /** Returns the lock count left (0 = unlocked, batch sent), or -1 when not locked or proxied. */
  unlock(): number {
    if (this.remoteOwner || this.lockCount === 0) return -1;
    if (--this.lockCount === 0) this.#mgr.unlocked(this);
    return this.lockCount;
  }

  /** Calls `handler` on every subscribed client's SharedObject. */
  send(handler: string, ...args: AmfValue[]): boolean {
    this.#mgr.deliverToAll(this, [{ kind: 'sendMessage', handler: String(handler), args }]);
    return true;
  }

  /** Like send, but delivered as part of the current lock batch (FMS 2 mark). */
  mark(handler: string, ...args: AmfValue[]): boolean {
    this.#mgr.scriptEvent(this, { kind: 'sendMessage', handler: String(handler), args });
    return true;
  }

  /** Writes a persistent object to disk now. False for non-persistent objects or when the write failed. */
  flush(): boolean {
    return this.#mgr.flushSync(this);
  }

  /** Forgets deleted slots older than `version` (clients older than that get full resyncs). */
  purge(version: number): boolean {
    const v = Number(version);
    if (!Number.isFinite(v)) return false;
    for (const [k, at] of this.tombstones) if (at < v) this.tombstones.delete(k);
    if (this.historyStart !== Number.POSITIVE_INFINITY) this.historyStart = Math.max(this.historyStart, v);
    return true;
  }

  /** The script stops listening (no more onSync/handlers); clients keep the object. */
  close(): void {
    this.scriptRef = false;
    this.#mgr.maybeUnload(this);
  }

  /** @internal Events since `v` for a delta resync, or null when a full resync is needed. */
  deltaSince(v: number): SoEvent[] | null {
    const cur = this.#version;
    if (v <= 0 || v > cur || v < this.historyStart) return null;
    if (this.#resyncDepth >= 0 && cur - v > this.#resyncDepth) return null;
    const out: { at: number; ev: SoEvent }[] = [];
    for (const [key, s] of this.slots) if (s.version > v) out.push({ at: s.version, ev: { kind: 'change', key, value: s.value } });
    for (const [key, at] of this.tombstones) if (at > v) out.push({ at, ev: { kind: 'remove', key } });
    out.sort((a, b) => a.at - b.at);
    return out.map((o) => o.ev);
  }

  /** @internal */
  fullState(): SoEvent[] {
    const out: SoEvent[] = [{ kind: 'clear' }];
    for (const [key, s] of this.slots) out.push({ kind: 'change', key, value: s.value });
    return out;
  }

  /** @internal */
  snapshot(): Map<string, AmfValue> {
    const m = new Map<string, AmfValue>();
    for (const [k, s] of this.slots) m.set(k, s.value);
    return m;
  }
}

/** The shared objects of one application instance. */
export class SharedObjectManager {
  hooks: SoScriptHooks;
  readonly root: string | null;
  readonly maxTombstones: number;
  readonly #label: string;
  readonly #defaults: { resyncDepth: number; autoCommit: boolean };
  readonly #maxSubs: number;
  readonly #maxMessageBytes: number;
  readonly #maxObjects: number;
  readonly #objects = new Map<string, ServerSharedObject>();
  readonly #bySubscriber = new Map<SoSubscriber, Set<ServerSharedObject>>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: SharedObjectManagerOptions = {}) {
    this.root = opts.root ?? null;
    this.hooks = opts.hooks ?? {};
    this.#label = opts.label ?? 'shared objects';
    this.#defaults = {
      resyncDepth: opts.resyncDepth !== undefined && opts.resyncDepth >= 0 ? Math.floor(opts.resyncDepth) : -1,
      autoCommit: opts.autoCommit ?? true,
    };
    this.#maxSubs = opts.maxSubscriptionsPerClient ?? 1000;
    this.maxTombstones = Math.max(2, opts.maxTombstones ?? 4096);
    this.#maxMessageBytes = opts.maxMessageBytes ?? 1 << 20;
    this.#maxObjects = opts.maxObjects ?? 10_000;
    const period = opts.autoCommitIntervalMs ?? 5000;
    if (period > 0) {
      this.#timer = setInterval(() => void this.autoCommitNow(), period);
      this.#timer.unref?.();
    }
  }

  // ------------------------------------------------------------------------------------------- objects

  /** SharedObject.get(name, persistent): returns (creating or loading) the object, held by the script. */
  get(name: string, persistent = false): ServerSharedObject {
    const so = this.#obtain(String(name), persistent === true);
    so.scriptRef = true;
    return so;
  }

  /** The live object of that name, if any (no side effects). */
  find(name: string, persistent: boolean): ServerSharedObject | undefined {
    return this.#objects.get(keyOf(name, persistent));
  }

  /** Every live object. */
  objects(): ServerSharedObject[] {
    return [...this.#objects.values()];
  }

  #obtain(name: string, persistent: boolean): ServerSharedObject {
    if (this.#closed) throw new SsasError('ERR_SO_CLOSED', `${this.#label}: the shared object manager is closed`);
    const key = keyOf(name, persistent);
    const have = this.#objects.get(key);
    if (have) return have;
    if (this.#objects.size >= this.#maxObjects) {
      throw new SsasError('ERR_SO_LIMIT', `${this.#label}: ${this.#objects.size} shared objects are loaded, the limit of an instance`);
    }
    const so = new ServerSharedObject(this, name, persistent, this.#defaults.resyncDepth, this.#defaults.autoCommit);
    if (persistent && this.root !== null) {
      try {
        const stored = loadSharedObjectSync(this.root, name);
        if (stored) so.loadFrom(stored.version, stored.slots, stored.final);
      } catch (err) {
        if (!isSsasError(err) || err.code !== 'ERR_SO_CORRUPT') throw err;
        // The file was moved aside; the object starts empty (and is not saved over anything).
        log.warn(`${this.#label}: ${err.message}; shared object ${name} starts empty`);
      }
    }
    this.#objects.set(key, so);
    return so;
  }

  /** @internal Drops an object nobody uses (saving a dirty persistent one first when autoCommit is on). */
  maybeUnload(so: ServerSharedObject): void {
    if (so.unloaded || !so.idle) return;
    // Without a folder, persistent objects live as long as the instance.
    if (so.persistent && this.root === null) return;
    if (this.#wantsFinalSave(so)) {
      // Stays registered until saved, so a client coming back meanwhile finds it rather than an older file.
      void this.#saveAsync(so, 'unload').then(() => {
        if (so.idle && !so.isDirty) this.#drop(so);
      });
      return;
    }
    this.#drop(so);
  }

  /** Unloading: save when there is something unsaved, or to mark an existing file final. */
  #wantsFinalSave(so: ServerSharedObject): boolean {
    return so.persistent && so.autoCommit && this.root !== null && (so.isDirty || (so.hasFile && !so.finalOnDisk));
  }

  #drop(so: ServerSharedObject): void {
    const key = keyOf(so.name, so.persistent);
    if (this.#objects.get(key) === so) this.#objects.delete(key);
    so.unloaded = true;
  }

  // ------------------------------------------------------------------------------------------- clients

  /** Handles a type 19/16 message from a client. Malformed input throws (ERR_SO_*, ERR_AMF_*) before any change. */
  handleMessage(sub: SoSubscriber, msg: Pick<RtmpMessage, 'type' | 'payload'>): void {
    this.handleDecoded(sub, decodeSharedObjectMessage(msg));
  }

  handleDecoded(sub: SoSubscriber, m: SoMessage): void {
    if (this.#closed) return;
    const key = keyOf(m.name, m.persistent);
    let pending: SoEvent[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const so = this.#objects.get(key);
      const events = pending;
      pending = [];
      if (!so || !so.subscribers.has(sub)) {
        log.debug(`${this.#label}: ${sub.id} sent ${events.length} event(s) for ${m.name} without using it`);
        return;
      }
      this.#clientRequests(so, sub, { ...m, events });
    };
    for (const ev of m.events) {
      switch (ev.kind) {
        case 'use':
          flush();
          this.#use(sub, m.name, m.persistent, m.version);
          break;
        case 'release':
          flush();
          this.#release(sub, this.#objects.get(key));
          break;
        case 'requestChange':
        case 'requestRemove':
        case 'sendMessage':
          pending.push(ev);
          break;
        default:
          log.debug(`${this.#label}: ignoring ${ev.kind} event from client ${sub.id} on ${m.name}`);
      }
    }
    flush();
  }

  /** The client is gone: unsubscribe it everywhere. */
  removeSubscriber(sub: SoSubscriber): void {
    const set = this.#bySubscriber.get(sub);
    if (!set) return;
    this.#bySubscriber.delete(sub);
    for (const so of set) {
      so.subscribers.delete(sub);
      this.maybeUnload(so);
    }
  }

  #use(sub: SoSubscriber, name: string, persistent: boolean, clientVersion: number): void {
    const status = (code: string): void => this.#sendTo(sub, name, persistent, 0, [{ kind: 'status', code, level: 'error' }]);
    if (!sub.canRead(name)) {
      status(STATUS_NO_READ);
      return;
    }
    const mine = this.#bySubscriber.get(sub);
    const existing = this.#objects.get(keyOf(name, persistent));
    if ((mine?.size ?? 0) >= this.#maxSubs && !(existing && mine?.has(existing))) {
      log.warn(`${this.#label}: ${sub.id} uses too many shared objects (${this.#maxSubs})`);
      status(STATUS_CREATION_FAILED);
      return;
    }
    let so: ServerSharedObject;
    try {
      so = this.#obtain(name, persistent);
    } catch (err) {
      log.warn(`${this.#label}: cannot create shared object ${name} for ${sub.id}: ${(err as Error).message}`);
      status(STATUS_CREATION_FAILED);
      return;
    }
    so.subscribers.add(sub);
    let set = mine;
    if (!set) this.#bySubscriber.set(sub, (set = new Set()));
    set.add(so);
    const delta = so.deltaSince(clientVersion);
    const events: SoEvent[] = [{ kind: 'useSuccess' }, ...(delta ?? so.fullState())];
    this.#deliver(so, new Map([[sub, events]]));
  }

  #release(sub: SoSubscriber, so: ServerSharedObject | undefined): void {
    if (!so || !so.subscribers.delete(sub)) return;
    const set = this.#bySubscriber.get(sub);
    set?.delete(so);
    if (set?.size === 0) this.#bySubscriber.delete(sub);
    this.maybeUnload(so);
  }

  #clientRequests(so: ServerSharedObject, sub: SoSubscriber, m: SoMessage): void {
    if (so.remoteOwner) {
      so.remoteOwner.forward(so, sub, m.events);
      return;
    }
    if (so.lockCount > 0) {
      so.queued.push({ sub, msg: m });
      return;
    }
    const reply: SoEvent[] = [];
    const others: SoEvent[] = [];
    const sync: SoSyncInfo[] = [];
    const sends: { handler: string; args: AmfValue[] }[] = [];
    let denied = false;
    for (const ev of m.events) {
      if (ev.kind === 'sendMessage') {
        reply.push(ev);
        others.push(ev);
        sends.push({ handler: ev.handler, args: ev.args });
        continue;
      }
      if (ev.kind !== 'requestChange' && ev.kind !== 'requestRemove') continue;
      if (!sub.canWrite(so.name)) {
        // Put the client's optimistic value back: one status per message, then the current value.
        if (!denied) reply.push({ kind: 'status', code: STATUS_NO_WRITE, level: 'error' });
        denied = true;
        const cur = so.slots.get(ev.key);
        reply.push(cur ? { kind: 'change', key: ev.key, value: cur.value } : { kind: 'remove', key: ev.key });
        continue;
      }
      const old = so.slots.get(ev.key);
      if (ev.kind === 'requestChange') {
        so.applySet(ev.key, ev.value);
        others.push({ kind: 'change', key: ev.key, value: ev.value });
        sync.push({ code: 'change', name: ev.key, oldValue: old?.value });
      } else if (old) {
        so.applyDelete(ev.key);
        others.push({ kind: 'remove', key: ev.key });
        sync.push({ code: 'delete', name: ev.key, oldValue: old.value });
      }
      reply.push({ kind: 'success', key: ev.key });
    }
    const outbox: Outbox = new Map();
    if (others.length > 0) for (const s of so.subscribers) if (s !== sub) outbox.set(s, others);
    if (reply.length > 0) outbox.set(sub, reply);
    this.#deliver(so, outbox);
    // After the messages went out, so a hook that re-enters (setProperty from onSync) is ordered after them.
    if (so.scriptRef) {
      if (sync.length > 0) this.#hook(so, () => this.hooks.onSync?.(so, sync));
      for (const s of sends) this.#hook(so, () => this.hooks.onSend?.(so, s.handler, s.args));
    }
  }

  #hook(so: ServerSharedObject, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      log.warn(`${this.#label}: shared object ${so.name} script hook failed: ${(err as Error)?.message ?? err}`);
    }
  }

  // ------------------------------------------------------------------------------------------- script side

  /** @internal A change made by the script: sent now, or kept for the lock batch. */
  scriptEvent(so: ServerSharedObject, ev: SoEvent): void {
    if (so.lockCount === 0) {
      this.deliverToAll(so, [ev]);
      return;
    }
    const b = so.batch;
    if (ev.kind === 'clear') {
      so.batch = b.filter((e) => e.kind !== 'change' && e.kind !== 'remove');
    } else if (ev.kind === 'change' || ev.kind === 'remove') {
      // Only the last state of a slot matters within one batch.
      const i = b.findIndex((e) => (e.kind === 'change' || e.kind === 'remove') && e.key === ev.key);
      if (i >= 0) b.splice(i, 1);
    }
    so.batch.push(ev);
  }

  /** @internal The last unlock: send the batch, then the client requests that waited. */
  unlocked(so: ServerSharedObject): void {
    const batch = so.batch;
    so.batch = [];
    if (batch.length > 0) this.deliverToAll(so, batch);
    const queued = so.queued;
    so.queued = [];
    for (const q of queued) {
      if (so.lockCount > 0) {
        so.queued.push(q);
        continue;
      }
      if (so.subscribers.has(q.sub)) this.#clientRequests(so, q.sub, q.msg);
    }
    this.maybeUnload(so);
  }

  /** @internal */
  deliverToAll(so: ServerSharedObject, events: SoEvent[]): void {
    if (so.subscribers.size === 0) return;
    const outbox: Outbox = new Map();
    for (const s of so.subscribers) outbox.set(s, events);
    this.#deliver(so, outbox);
  }

  // ------------------------------------------------------------------------------------------- delivery

  /**
   * Sends each subscriber its events in one message (more only when over maxMessageBytes). Event lists shared
   * by several subscribers are encoded once per encoding. AMF0 subscribers that cannot receive an AMF3-only
   * value are disconnected.
   */
  #deliver(so: ServerSharedObject, outbox: Outbox): void {
    const cache = new Map<SoEvent[], { amf0?: Buffer[] | SsasError; amf3?: Buffer[] | SsasError }>();
    const victims: { sub: SoSubscriber; err: SsasError }[] = [];
    for (const [sub, events] of outbox) {
      if (events.length === 0) continue;
      const amf3 = sub.objectEncoding === 3;
      let entry = cache.get(events);
      if (!entry) cache.set(events, (entry = {}));
      let bodies = amf3 ? entry.amf3 : entry.amf0;
      if (bodies === undefined) {
        bodies = this.#encode(so.name, so.version, so.persistent, events, amf3);
        if (amf3) entry.amf3 = bodies;
        else entry.amf0 = bodies;
      }
      if (bodies instanceof SsasError || !Array.isArray(bodies)) {
        victims.push({ sub, err: bodies as SsasError });
        continue;
      }
      for (const b of bodies) this.#safeSend(sub, b, amf3);
    }
    for (const v of victims) this.#dropSubscriber(v.sub, v.err);
  }

  #sendTo(sub: SoSubscriber, name: string, persistent: boolean, version: number, events: SoEvent[]): void {
    const amf3 = sub.objectEncoding === 3;
    const bodies = this.#encode(name, version, persistent, events, amf3);
    if (!Array.isArray(bodies)) {
      this.#dropSubscriber(sub, bodies);
      return;
    }
    for (const b of bodies) this.#safeSend(sub, b, amf3);
  }

  #encode(name: string, version: number, persistent: boolean, events: SoEvent[], amf3: boolean): Buffer[] | SsasError {
    try {
      const header = encodeSharedObjectHeader(name, version, persistent, amf3);
      const parts = events.map((e) => encodeSharedObjectEvent(e, amf3));
      const out: Buffer[] = [];
      let group: Buffer[] = [header];
      let size = header.length;
      for (const p of parts) {
        if (group.length > 1 && size + p.length > this.#maxMessageBytes) {
          out.push(Buffer.concat(group, size));
          group = [header];
          size = header.length;
        }
        group.push(p);
        size += p.length;
      }
      out.push(Buffer.concat(group, size));
      return out;
    } catch (err) {
      if (isSsasError(err)) return err;
      return new RtmpError('ERR_SO_ENCODE', `cannot encode shared object ${name}: ${(err as Error)?.message ?? err}`);
    }
  }

  #safeSend(sub: SoSubscriber, body: Buffer, amf3: boolean): void {
    try {
      sub.send(body, amf3);
    } catch (err) {
      log.warn(`${this.#label}: sending to ${sub.id} failed: ${(err as Error)?.message ?? err}`);
    }
  }

  #dropSubscriber(sub: SoSubscriber, err: SsasError): void {
    if (err.code === 'ERR_AMF_AMF3_ONLY') {
      log.warn(`${this.#label}: disconnecting AMF0 client ${sub.id}: shared object data needs AMF3 (${err.message})`);
    } else {
      log.warn(`${this.#label}: disconnecting ${sub.id}: ${err.code}: ${err.message}`);
    }
    this.removeSubscriber(sub);
    try {
      sub.disconnect(err);
    } catch {
      // already gone
    }
  }

  // ------------------------------------------------------------------------------------------- persistence

  /** @internal SharedObject.flush(): synchronous save. */
  flushSync(so: ServerSharedObject): boolean {
    if (!so.persistent || this.root === null) return false;
    so.saveSeq++;
    so.finalPending = false;
    try {
      saveSharedObjectSync(this.root, so.name, { version: so.version, slots: so.snapshot() });
      so.markClean();
      so.hasFile = true;
      so.finalOnDisk = false;
      return true;
    } catch (err) {
      this.#saveFailed(so, err);
      return false;
    }
  }

  /** @internal A new version is about to be handed out: the file must stop claiming to be the last one. */
  unfinalize(so: ServerSharedObject): void {
    so.finalOnDisk = false;
    so.finalPending = false;
    if (this.root === null) return;
    so.saveSeq++; // a final save still under way must not land after this
    try {
      saveSharedObjectSync(this.root, so.name, { version: so.version, slots: so.snapshot() });
    } catch (err) {
      log.warn(`${this.#label}: cannot rewrite shared object ${so.name} before a change: ${(err as Error)?.message ?? err}`);
    }
  }

  #saveFailed(so: ServerSharedObject, err: unknown): void {
    so.markDirty();
    const msg = (err as Error)?.message ?? String(err);
    log.warn(`${this.#label}: saving shared object ${so.name} failed: ${msg}`);
    if (so.scriptRef) {
      this.#hook(so, () => this.hooks.onStatus?.(so, { code: 'SharedObject.Flush.Failed', level: 'error', description: msg }));
    }
  }

  /**
   * Saves in the background; saves of one object run in order and an older one never lands after a newer one.
   * 'unload' and 'close' saves mark the file final (for 'unload' only if still nobody uses the object when the
   * snapshot is taken).
   */
  #saveAsync(so: ServerSharedObject, why: 'periodic' | 'unload' | 'close' = 'periodic'): Promise<void> {
    const root = this.root;
    if (!so.persistent || root === null) return Promise.resolve();
    const run = async (): Promise<void> => {
      // Queued behind a save that already took these changes.
      if (why === 'periodic' && !so.isDirty) return;
      const seq = ++so.saveSeq;
      const final = why === 'close' || (why === 'unload' && so.idle);
      const data = { version: so.version, slots: so.snapshot(), final };
      so.markClean();
      so.finalPending = final;
      try {
        const landed = await saveSharedObject(root, so.name, data, { shouldCommit: () => so.saveSeq === seq });
        if (landed) {
          so.hasFile = true;
          so.finalOnDisk = final && so.finalPending;
        }
      } catch (err) {
        this.#saveFailed(so, err);
      } finally {
        if (so.saveSeq === seq) so.finalPending = false;
      }
    };
    so.saving = so.saving.then(run, run);
    return so.saving;
  }

  /** SharedObject.commit([name]): saves dirty persistent objects (one, or all) now. */
  commit(name?: string): boolean {
    let ok = true;
    for (const so of this.#objects.values()) {
      if (!so.persistent || !so.isDirty) continue;
      if (name !== undefined && so.name !== name) continue;
      ok = this.flushSync(so) && ok;
    }
    return ok;
  }

  /** One autoCommit round: background saves of dirty persistent objects with autoCommit on. */
  autoCommitNow(): Promise<void> {
    const saves: Promise<void>[] = [];
    for (const so of this.#objects.values()) if (so.persistent && so.autoCommit && so.isDirty) saves.push(this.#saveAsync(so));
    return Promise.all(saves).then(() => undefined);
  }

  /**
   * application.clearSharedObjects(path): clears the matching live objects (subscribers get "clear") and deletes
   * the matching .fso files. False for an invalid path or when a file could not be deleted.
   */
  clearSharedObjects(pattern: string): boolean {
    const p = parseSoPattern(String(pattern));
    if (p === null) return false;
    for (const so of this.#objects.values()) {
      if (!soPatternMatches(p, so.name)) continue;
      // The file is being deleted: no save is needed, and none under way may land afterwards.
      so.saveSeq++;
      so.hasFile = false;
      so.finalOnDisk = false;
      so.finalPending = false;
      so.clear();
      so.markClean();
    }
    return this.root === null ? true : deleteSharedObjects(this.root, String(pattern));
  }

  /** Instance unload: stops the timer, saves dirty persistent objects (autoCommit on), forgets everything. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const saves: Promise<void>[] = [];
    for (const so of this.#objects.values()) {
      if (this.#wantsFinalSave(so)) saves.push(this.#saveAsync(so, 'close'));
      else saves.push(so.saving);
    }
    await Promise.all(saves);
    for (const so of this.#objects.values()) {
      so.unloaded = true;
      so.subscribers.clear();
    }
    this.#objects.clear();
    this.#bySubscriber.clear();
  }
}
