/**
 * Server-side NetConnection and NetStream (ssas-api.md 6 and 7; the NetStream seed document). A script's
 * NetConnection is our RTMP client connected to a remote server (another ssas, nginx-rtmp,
 * node-media-server, SRS, FMS); its NetStreams publish an attached local Stream to the remote under a name,
 * relay the remote's statuses, and send data messages. Everything is asynchronous: a slow or dead remote
 * never blocks the instance.
 */
import { randomBytes } from 'node:crypto';
import type { AmfValue } from '../amf';
import { getLogger } from '../logger';
import { info, type InfoObject } from '../rtmp/command';
import { RtmpClient, ConnectError, CallError, parseRtmpUrl, type ClientStream } from '../net/rtmp-client';
import { isSsasError } from '../errors';
import { TAG_SCRIPT } from '../media/tag-info';
import type { AppInstance } from '../server/app-instance';
import type { LiveMessage, LiveStream, LiveSubscriber } from '../server/live-stream';
import { RtmfpConnection } from '../net/rtmfp-connection';
import { parseGroupspec } from '../rtmfp/groupspec';
import { GroupPublishing, type IpMulticastTarget } from './group-publishing';

const log = getLogger('netconnection');

export interface NetConnectionEvents {
  /** NetConnection status (Connect.Success / Failed / Rejected / Closed / InvalidApp / AppShutdown). */
  status(nc: ServerNetConnection, info: InfoObject): void;
  /** NetStream status (relayed from the remote, or local: Connect.Success/Failed, Play.Failed...). */
  streamStatus(ns: ServerNetStream, info: InfoObject): void;
  /** The remote calls a method of the script's NetConnection object. */
  remoteCall(nc: ServerNetConnection, name: string, args: AmfValue[]): Promise<AmfValue>;
}

export type NcState = 'idle' | 'connecting' | 'connected' | 'closed';

let nextNonce = 0;

/** Server-side NetConnections one instance may have connecting or connected at once (each holds a socket). */
const MAX_NETCONNECTIONS = 256;
const openConnections = new WeakMap<AppInstance, Set<ServerNetConnection>>();

export class ServerNetConnection {
  readonly id: number;
  readonly instance: AppInstance;
  uri: string | null = null;
  objectEncoding: 0 | 3;
  state: NcState = 'idle';
  client: RtmpClient | null = null;
  /** Unique to this connection (NetStream.nearNonce for RTMP streams). */
  nearNonce = '';
  /** AMF headers for Flash Remoting (addHeader); kept for the Remoting transport, unused over RTMP. */
  readonly headers = new Map<string, { mustUnderstand: boolean; value: AmfValue }>();
  readonly streams = new Set<ServerNetStream>();
  /** Told when the connection is established or lost (proxied shared objects follow it). */
  readonly stateListeners = new Set<(state: NcState) => void>();
  #events: NetConnectionEvents;
  #attempt = 0;
  #release: (() => void) | null = null;

  constructor(instance: AppInstance, id: number, events: NetConnectionEvents, objectEncoding: 0 | 3) {
    this.instance = instance;
    this.id = id;
    this.#events = events;
    this.objectEncoding = objectEncoding;
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  get protocol(): string {
    const m = /^([a-z0-9+.-]+):/i.exec(this.uri ?? '');
    return m ? m[1]!.toLowerCase() : '';
  }

  #status(i: InfoObject): void {
    this.#events.status(this, i);
  }

  /**
   * Starts connecting (the script's connect() already validated the protocol). The outcome arrives as
   * status events; a later connect() closes the previous connection first.
   */
  connect(uri: string, args: AmfValue[]): void {
    this.#teardown(false);
    this.uri = uri;
    const attempt = ++this.#attempt;
    this.nearNonce = randomBytes(16).toString('hex') + (nextNonce++).toString(16);
    let url;
    try {
      url = parseRtmpUrl(uri);
    } catch (err) {
      setImmediate(() => this.#status(info('error', 'NetConnection.Connect.Failed', (err as Error).message)));
      this.state = 'closed';
      return;
    }
    let open = openConnections.get(this.instance);
    if (!open) openConnections.set(this.instance, (open = new Set()));
    if (open.size >= MAX_NETCONNECTIONS) {
      const n = open.size;
      this.instance.log.warn(`NetConnection.connect(${uri}) refused: the instance has ${n} NetConnections open, its limit [ERR_NETCONNECTION_LIMIT]`);
      setImmediate(() => this.#status(info('error', 'NetConnection.Connect.Failed', `The application instance has ${n} NetConnections open, its limit.`)));
      this.state = 'closed';
      return;
    }
    open.add(this);
    this.state = 'connecting';
    this.#release = this.instance.hold();
    RtmpClient.connect(url, {
      args,
      objectEncoding: this.objectEncoding,
      flashVer: `FMSc/1.0 ssas/${process.platform}`,
      timeoutMs: 10_000,
      chunkSize: 4096,
      fallbackHandler: (name, a) => this.#events.remoteCall(this, name, a),
    }).then(
      (client) => {
        if (attempt !== this.#attempt) {
          client.close();
          return;
        }
        this.client = client;
        this.state = 'connected';
        // Over RTMFP the nonce is the session's own (RFC 7425: HMAC of the DH secret and our keying component).
        if (client.conn.identity) this.nearNonce = client.conn.identity.nearNonce;
        client.onStatus = (i) => this.#status(i);
        client.onClose = () => {
          if (attempt !== this.#attempt) return;
          const was = this.state;
          this.#teardown(true, true);
          if (was === 'connected') this.#status(info('status', 'NetConnection.Connect.Closed', 'Connection closed.'));
        };
        this.#status(client.connectResult?.info ?? info('status', 'NetConnection.Connect.Success', 'Connection succeeded.'));
        for (const ns of this.streams) ns.connectionReady();
        for (const l of Array.from(this.stateListeners)) l('connected');
      },
      (err) => {
        if (attempt !== this.#attempt) return;
        this.#teardown(true);
        if (err instanceof ConnectError && err.info) {
          // The remote answered: Rejected (with info.application), InvalidApp, ... as it said.
          this.#status(err.info);
        } else {
          const why = isSsasError(err) ? `${err.message} [${err.code}]` : String(err);
          this.#status(info('error', 'NetConnection.Connect.Failed', `Connection to ${uri} failed: ${why}`));
        }
      },
    );
  }

  /** NetConnection.call: resolves with { ok, value } (value is the _error info when not ok). */
  call(method: string, args: AmfValue[], wantResult: boolean): Promise<{ ok: boolean; value: AmfValue }> | null {
    const c = this.client;
    if (!c || this.state !== 'connected') return null;
    if (!wantResult) {
      c.send(method, ...args);
      return null;
    }
    return c.call(method, ...args).then(
      (value) => ({ ok: true, value }),
      (err) => ({ ok: false, value: err instanceof CallError ? err.info : info('error', 'NetConnection.Call.Failed', String((err as Error).message)) }),
    );
  }

  close(): void {
    const was = this.state;
    this.#attempt++;
    this.#teardown(true);
    if (was === 'connected' || was === 'connecting') this.#status(info('status', 'NetConnection.Connect.Closed', 'Connection closed.'));
  }

  /** `lost`: the remote went away (not the script's close or an unload): publishing streams are told. */
  #teardown(closeStreams: boolean, lost = false): void {
    openConnections.get(this.instance)?.delete(this);
    const c = this.client;
    this.client = null;
    const was = this.state;
    if (this.state !== 'idle') this.state = 'closed';
    if (was === 'connected') for (const l of Array.from(this.stateListeners)) l('closed');
    c?.close();
    if (closeStreams) for (const ns of Array.from(this.streams)) ns.connectionLost(lost);
    this.#release?.();
    this.#release = null;
  }

  /** Instance unload: close without telling the (dying) script. */
  dispose(): void {
    this.#attempt++;
    this.#teardown(true);
  }
}

/** Multicast statistics of a NetStream (MulticastStreamInfo); RTMP streams only fill what they have. */
export interface MulticastStreamInfoData {
  [key: string]: number;
}

const HOW_TO_PUBLISH = new Set(['live', 'record', 'append', 'appendWithGap']);
/** NetStream.send() before Publish.Start: at most this much waits (FMS's outgoing buffer is bounded too). */
const MAX_HELD_MESSAGES = 1000;
const MAX_HELD_BYTES = 4 * 1024 * 1024;

/** A rough size of AMF values (for the bound on held messages), without encoding them. */
function approximateSize(v: AmfValue | AmfValue[], depth = 0): number {
  if (depth > 32) return 8;
  if (typeof v === 'string') return v.length + 3;
  if (Buffer.isBuffer(v)) return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + approximateSize(x, depth + 1), 5);
  if (v && typeof v === 'object') {
    let n = 5;
    for (const [k, x] of Object.entries(v)) n += k.length + 2 + approximateSize(x as AmfValue, depth + 1);
    return n;
  }
  return 9;
}

export class ServerNetStream implements LiveSubscriber {
  readonly id: number;
  readonly nc: ServerNetConnection;
  readonly groupspec: string | null;
  bufferTime = 0;
  #events: NetConnectionEvents;
  #stream: ClientStream | null = null;
  #creating = false;
  #attached: LiveStream | null = null;
  #publishName: string | null = null;
  #publishHow = 'live';
  #publishing = false;
  #firstTs: number | null = null;
  #lastSentTs = 0;
  #queue: LiveMessage[] = [];
  #drainTimer: NodeJS.Timeout | null = null;
  #failed = false;
  /** The NetConnection was lost or closed: this stream can never publish again. */
  #dead = false;
  #announced = false;
  /** NetStream.send() calls made before NetStream.Publish.Start, delivered in order once it arrives. */
  #held: Array<[string, AmfValue[]]> = [];
  #heldBytes = 0;
  readonly counters = { bytesSent: 0, messagesSent: 0, messagesDropped: 0, startedAt: 0 };

  constructor(nc: ServerNetConnection, id: number, groupspec: string | null, events: NetConnectionEvents) {
    this.nc = nc;
    this.id = id;
    this.groupspec = groupspec;
    this.#events = events;
    nc.streams.add(this);
    if (groupspec !== null && nc.protocol !== 'rtmfp') {
      // A GroupSpecifier needs an RTMFP connection (groups are not copied through the server).
      this.#fail('NetStream.Connect.Failed', 'A NetStream with a GroupSpecifier needs an RTMFP NetConnection.');
      return;
    }
    if (groupspec !== null) {
      try {
        parseGroupspec(groupspec);
      } catch (err) {
        // "NetStream.Connect.Failed: ... for example, if there is an error in the GroupSpecifier."
        this.#fail('NetStream.Connect.Failed', `The GroupSpecifier is not valid: ${(err as Error).message}`);
        return;
      }
    }
    if (nc.isConnected) this.connectionReady();
  }

  /** Publishing into an RTMFP group (constructed with a groupspec over an RTMFP NetConnection). */
  #group: GroupPublishing | null = null;
  /** Multicast properties set before the group was joined, applied when it is. */
  #multicast = new Map<string, number | boolean>();

  #ipMulticast: IpMulticastTarget | null = null;

  /** setIPMulticastPublishAddress (validated by the sandbox as the seed says; null clears). */
  setIpMulticast(target: IpMulticastTarget | null): void {
    this.#ipMulticast = target;
    this.#group?.setIpMulticast(target);
  }

  /** NetStream.multicast* set by the script (coerced by the sandbox as the seed says). */
  setMulticast(name: string, value: number | boolean): void {
    this.#multicast.set(name, value);
    this.#group?.set(name, value);
  }

  #connectGroup(client: RtmpClient): void {
    if (!(client.conn instanceof RtmfpConnection)) {
      this.#fail('NetStream.Connect.Failed', 'A NetStream with a GroupSpecifier needs an RTMFP NetConnection.');
      return;
    }
    try {
      this.#group = new GroupPublishing(client.conn, this.groupspec!, (name) => {
        // The seed: "Local overrides of multicast stream parameters are lost." Ours are the publication's
        // own, so the publisher keeps them; the script hears that the name's focus moved.
        this.#status(info('status', 'NetStream.MulticastStream.Reset', `Another member of the group publishes ${name}.`, { details: name }));
      });
    } catch (err) {
      this.#fail('NetStream.Connect.Failed', `Cannot join the group: ${(err as Error).message}`);
      return;
    }
    for (const [k, v] of this.#multicast) this.#group.set(k, v);
    if (this.#ipMulticast) this.#group.setIpMulticast(this.#ipMulticast);
    if (!this.#announced) this.#status(info('status', 'NetStream.Connect.Success', 'The NetStream is connected to the group.'));
    this.#announced = true;
    if (this.#publishName !== null) this.#groupPublish();
  }

  #groupPublish(): void {
    const g = this.#group;
    const name = this.#publishName;
    if (!g || name === null) return;
    if (!g.publish(name)) {
      this.#publishing = false;
      this.#publishName = null;
      this.#status(info('error', 'NetStream.Publish.BadName', `${name} is already being published in the group.`, { details: name }));
      return;
    }
    this.#publishing = true;
    this.counters.startedAt = Date.now();
    this.#status(info('status', 'NetStream.Publish.Start', `${name} is now published into the group.`, { details: name }));
    this.#sendHeld();
    this.#startForwarding();
  }

  #status(i: InfoObject): void {
    this.#events.streamStatus(this, i);
  }

  #fail(code: string, description: string): void {
    this.#failed = true;
    setImmediate(() => this.#status(info('error', code, description)));
  }

  /** The NetConnection is connected: create the remote stream, then publish if asked already. */
  connectionReady(): void {
    if (this.#failed || this.#stream || this.#creating || this.#group) return;
    const client = this.nc.client;
    if (!client) return;
    if (this.groupspec !== null) {
      this.#connectGroup(client);
      return;
    }
    this.#creating = true;
    client.createStream().then(
      (s) => {
        this.#creating = false;
        if (this.nc.client !== client) return;
        this.#stream = s;
        s.onEvent = (ev) => {
          if (ev.kind === 'status') this.#onRemoteStatus(ev.info);
        };
        // "In Server-Side ActionScript, this status is not sent to NetConnection.onStatus()." Only the first
        // remote stream is announced; the one made after publish(false) for a later publish is silent.
        if (!this.#announced) this.#status(info('status', 'NetStream.Connect.Success', 'The NetStream is connected.'));
        this.#announced = true;
        if (this.#publishName !== null) this.#sendPublish();
      },
      (err) => {
        this.#creating = false;
        this.#fail('NetStream.Connect.Failed', `createStream failed: ${(err as Error).message}`);
      },
    );
  }

  /**
   * The NetConnection is gone. When the remote went away (`lost`) a stream that was publishing, or asked
   * to, hears NetStream.Failed (after the NetConnection's Connect.Closed): it will not publish again on
   * this NetConnection, and the script knows to publish on a new one.
   */
  connectionLost(lost = false): void {
    const name = this.#publishName;
    if (lost && name !== null && !this.#dead && !this.#failed) {
      setImmediate(() => this.#status(info('error', 'NetStream.Failed', `The connection to ${this.nc.uri ?? 'the remote server'} was lost while ${name} was published.`, { details: name })));
    }
    this.#group?.close();
    this.#group = null;
    this.#dead = true;
    this.#held = [];
    this.#heldBytes = 0;
    this.#stopForwarding();
    this.#stream = null;
    this.#publishing = false;
    this.nc.streams.delete(this);
  }

  #onRemoteStatus(i: InfoObject): void {
    if (i.code === 'NetStream.Publish.Start') {
      this.#publishing = true;
      this.counters.startedAt = Date.now();
      this.#sendHeld();
      this.#startForwarding();
    } else if (i.code === 'NetStream.Publish.BadName' || i.code === 'NetStream.Publish.Failed') {
      this.#publishing = false;
    }
    this.#status(i);
  }

  /** NetStream.attach(stream) with a local live stream; null detaches. */
  attach(live: LiveStream | null): void {
    this.#stopForwarding();
    this.#attached = live;
    if (this.#publishing) this.#startForwarding();
  }

  /** NetStream.publish(name, howToPublish); name null = publish(false). */
  publish(name: string | null, how: string): void {
    if (this.#failed) return;
    if (name === null) {
      this.unpublish();
      return;
    }
    if (!HOW_TO_PUBLISH.has(how)) {
      setImmediate(() => this.#status(info('error', 'NetStream.Publish.Failed', `Invalid howToPublish "${how}": use live, record, append or appendWithGap.`, { details: name })));
      return;
    }
    this.#publishName = name;
    this.#publishHow = how;
    if (this.#group) this.#groupPublish();
    else if (this.#stream) this.#sendPublish();
  }

  #sendPublish(): void {
    const s = this.#stream;
    if (!s || this.#publishName === null) return;
    this.#firstTs = null;
    this.nc.client?.sendCommandOn(s.id, 'publish', 0, [this.#publishName, this.#publishHow]);
  }

  unpublish(): void {
    const s = this.#stream;
    const name = this.#publishName;
    this.#publishName = null;
    this.#stopForwarding();
    if (this.#group) {
      const was = this.#publishing;
      this.#group.unpublish();
      this.#publishing = false;
      if (was && name !== null) setImmediate(() => this.#status(info('status', 'NetStream.Unpublish.Success', `${name} is now unpublished.`, { details: name })));
      return;
    }
    if (!s || !this.#publishing) {
      if (name !== null) setImmediate(() => this.#status(info('status', 'NetStream.Unpublish.Success', `${name} is now unpublished.`, { details: name })));
      return;
    }
    this.#publishing = false;
    // FMS: publish(false) ends with Unpublish.Success (the remote says it; a remote that does not gets ours).
    let answered = false;
    const prev = s.onEvent;
    s.onEvent = (ev) => {
      if (ev.kind === 'status' && ev.info.code === 'NetStream.Unpublish.Success') answered = true;
      prev(ev);
    };
    this.nc.client?.sendCommandOn(s.id, 'closeStream', 0, []);
    setTimeout(() => {
      if (!answered) this.#status(info('status', 'NetStream.Unpublish.Success', `${name} is now unpublished.`, { details: name ?? '' }));
    }, 500).unref?.();
    // A later publish() on this NetStream needs a fresh remote stream.
    this.#stream = null;
    this.connectionReady();
  }

  /**
   * NetStream.send: true when the data message was dispatched, or held to go out once publishing starts
   * (the seed's own example sends right after the constructor); false when the stream can never publish
   * (its connection is gone, it failed, or too much is held already).
   */
  send(handler: string, args: AmfValue[]): boolean {
    if (this.#failed || this.#dead) return false;
    if (this.#group && this.#publishing) return this.#group.send(handler, args, this.#attached?.lastTimestamp ?? 0);
    const s = this.#stream;
    const c = this.nc.client;
    if (s && c && this.#publishing) {
      c.sendDataOn(s.id, this.#outTs(this.#attached?.lastTimestamp ?? 0), [handler, ...args]);
      return true;
    }
    const size = approximateSize(args) + handler.length;
    if (this.#held.length >= MAX_HELD_MESSAGES || this.#heldBytes + size > MAX_HELD_BYTES) {
      log.warn(`netstream ${this.id}: ${this.#held.length} messages already wait for NetStream.Publish.Start; send("${handler}") dropped`);
      return false;
    }
    this.#held.push([handler, args]);
    this.#heldBytes += size;
    return true;
  }

  #sendHeld(): void {
    const held = this.#held;
    if (this.#group) {
      this.#held = [];
      this.#heldBytes = 0;
      for (const [handler, args] of held) this.#group.send(handler, args, this.#attached?.lastTimestamp ?? 0);
      return;
    }
    const s = this.#stream;
    const c = this.nc.client;
    if (!s || !c) return;
    this.#held = [];
    this.#heldBytes = 0;
    for (const [handler, args] of held) c.sendDataOn(s.id, this.#outTs(this.#attached?.lastTimestamp ?? 0), [handler, ...args]);
  }

  /** Seconds the stream has been publishing (media time sent). */
  get time(): number {
    if (this.#group) return this.#group.time;
    return this.#firstTs === null ? 0 : this.#lastSentTs / 1000;
  }

  get publishing(): boolean {
    return this.#publishing;
  }

  multicastInfo(): MulticastStreamInfoData {
    if (this.#group) return this.#group.info();
    const secs = this.counters.startedAt ? Math.max(0.001, (Date.now() - this.counters.startedAt) / 1000) : 0;
    const rate = secs > 0 ? this.counters.bytesSent / secs : 0;
    return {
      bytesPushedFromPeers: 0,
      bytesPushedToPeers: 0,
      bytesReceivedFromIPMulticast: 0,
      bytesReceivedFromServer: 0,
      bytesRequestedByPeers: 0,
      bytesRequestedFromPeers: 0,
      fragmentsPushedFromPeers: 0,
      fragmentsPushedToPeers: 0,
      fragmentsReceivedFromIPMulticast: 0,
      fragmentsReceivedFromServer: 0,
      fragmentsRequestedByPeers: 0,
      fragmentsRequestedFromPeers: 0,
      receiveControlBytesPerSecond: 0,
      receiveDataBytesPerSecond: 0,
      receiveDataBytesPerSecondFromIPMulticast: 0,
      receiveDataBytesPerSecondFromPeers: 0,
      receiveDataBytesPerSecondFromServer: 0,
      sendControlBytesPerSecond: 0,
      sendControlBytesPerSecondToServer: 0,
      sendDataBytesPerSecond: rate,
      sendDataBytesPerSecondToIPMulticast: 0,
      sendDataBytesPerSecondToPeers: 0,
      sendDataBytesPerSecondToServer: rate,
    };
  }

  // --- media forwarding -------------------------------------------------------------------------------------

  #startForwarding(): void {
    const live = this.#attached;
    if (!live || !this.#publishing) return;
    for (const m of live.startupMessages()) this.onLiveMessage(m);
    // Data frames (onMetaData) go to the remote as @setDataFrame so its late joiners get them too.
    live.subscribe(this);
  }

  #stopForwarding(): void {
    this.#attached?.unsubscribe(this);
    this.#queue = [];
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = null;
  }

  #outTs(ts: number): number {
    if (this.#firstTs === null) this.#firstTs = ts;
    const out = Math.max(0, ts - this.#firstTs);
    this.#lastSentTs = Math.max(this.#lastSentTs, out);
    return out;
  }

  onLiveMessage(m: LiveMessage): void {
    if (!this.#publishing) return;
    if (this.#group) {
      this.#group.onLiveMessage(m);
      return;
    }
    this.#queue.push(m);
    this.#flush();
  }

  onUnpublishNotify(): void {
    // The attached source stopped: nothing flows until it publishes again (FMS keeps the NetStream).
  }

  /**
   * Sends what the connection can take. While the link is slow, media waits here up to `bufferTime`
   * seconds; beyond that the oldest group of pictures is dropped (key frame to key frame), so the remote
   * gets recent media and recovers at the next key frame.
   */
  #flush(): void {
    const c = this.nc.client;
    const s = this.#stream;
    if (!c || !s || c.closed) return;
    const limit = 256 * 1024;
    while (this.#queue.length > 0 && c.conn.backlog < limit) {
      const m = this.#queue.shift()!;
      const ts = this.#outTs(m.timestamp);
      if (m.type === TAG_SCRIPT) {
        c.sendRaw({ type: 18, streamId: s.id, timestamp: ts, csid: 5, payload: wrapDataFrame(m) });
      } else {
        s.sendMedia(m.type, ts, m.payload);
      }
      this.counters.bytesSent += m.payload.length;
      this.counters.messagesSent++;
    }
    if (this.#queue.length === 0) return;
    const first = this.#queue[0]!;
    const last = this.#queue[this.#queue.length - 1]!;
    if (last.timestamp - first.timestamp > this.bufferTime * 1000) this.#dropOldest();
    if (!this.#drainTimer) {
      this.#drainTimer = setTimeout(() => {
        this.#drainTimer = null;
        this.#flush();
      }, 10);
      this.#drainTimer.unref?.();
    }
  }

  #dropOldest(): void {
    // Keep sequence headers and data; drop media up to the second key frame in the queue (or all media).
    const keyIdx = this.#queue.findIndex((m, i) => i > 0 && m.keyframe);
    const cut = keyIdx > 0 ? keyIdx : this.#queue.length;
    const kept: LiveMessage[] = [];
    for (let i = 0; i < cut; i++) {
      const m = this.#queue[i]!;
      if (m.essential) kept.push(m);
      else this.counters.messagesDropped++;
    }
    this.#queue = kept.concat(this.#queue.slice(cut));
    log.debug(`netstream ${this.id}: link too slow, dropped to the next key frame`);
  }

  close(): void {
    this.unpublish();
    this.#group?.close();
    this.#group = null;
    this.#dead = true;
    this.#held = [];
    this.nc.streams.delete(this);
  }
}

/** A cached onMetaData data frame is republished as @setDataFrame so the remote caches it too. */
function wrapDataFrame(m: LiveMessage): Buffer {
  if (m.payload.length > 13 && m.payload[0] === 2 && m.payload.readUInt16BE(1) === 10 && m.payload.toString('latin1', 3, 13) === 'onMetaData') {
    const prefix = Buffer.from([2, 0, 13, ...Buffer.from('@setDataFrame', 'latin1')]);
    return Buffer.concat([prefix, m.payload]);
  }
  return m.payload;
}
