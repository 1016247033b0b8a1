/**
 * One NetConnection over an RTMFP session (RFC 7425 section 5), server or client side, behind the same
 * MessageConnection interface as RTMP: the session above never knows which transport it has.
 *
 * Flows (src/rtmfp/tc.ts): the client's NetConnection flow (TC, stream 0, unassociated) and the
 * server's in return carry stream-0 messages; each NetStream gets flows of its own in each direction.
 * Like tcserver, the sending side of a NetStream has three flows, so each can be abandoned on its own
 * schedule: commands and data (never abandoned), audio (abandoned 2.2 s after queuing), video (2.0 s;
 * after a video message was abandoned, inter frames are skipped until the next key frame). Sequence
 * headers and metadata are never abandoned.
 */
import { lookup } from 'node:dns/promises';
import { NetError, RtmfpError, type SsasError } from '../errors';
import { epdForUrl, type Negotiation } from '../rtmfp/crypto';
import { getLogger } from '../logger';
import { MessageType, UserControlEvent, type RtmpMessage } from '../rtmp/types';
import * as control from '../rtmp/control';
import { newConnectionStats, type ConnectionStats, type MessageConnection, type OutgoingLiveMessage, type PeerIdentity, type SessionStartSettings } from '../server/connection';
import type { RecvFlow } from '../rtmfp/recv-flow';
import type { Session } from '../rtmfp/session';
import type { OutMessage, SendFlow } from '../rtmfp/send-flow';
import { decodeTcMessage, encodeTcMessage, parseTcMetadata, tcMetadata, USER_CONTROL_SET_KEEPALIVE } from '../rtmfp/tc';
import { openClientSocket, type RtmfpSocket } from './rtmfp-socket';

const log = getLogger('rtmfp');

/** Flow priorities (RFC 7016 3.6.2.1 leaves them to us; rtmfp-cpp's 4 and up are time critical). */
const PRIORITY_CONTROL = 5;
const PRIORITY_AUDIO = 5;
const PRIORITY_VIDEO = 4;
/** Lifetimes of live media on the wire (tcserver's -A / -V defaults). */
const AUDIO_LIFETIME_MS = 2200;
const VIDEO_LIFETIME_MS = 2000;
/** Our client's session limits: keepalive pings at 5 s of silence, given up at 15 s (or 10 s unacknowledged). */
const CLIENT_SESSION_LIMITS = { keepaliveMs: 5000, idleMs: 15_000, retransmitLimitMs: 10_000 };
/** Longest wait for the peer to acknowledge our last messages before the session is closed anyway. */
const CLOSE_GRACE_MS = 3000;
/** Most NetStreams a peer may open on one connection. */
const MAX_STREAMS = 256;

interface StreamFlows {
  data: SendFlow | null;
  audio: SendFlow | null;
  video: SendFlow | null;
  /** The last video message queued: if it was abandoned, inter frames wait for a key frame. */
  lastVideo: OutMessage | null;
  waitKeyframe: boolean;
}

export interface RtmfpConnectionOptions {
  role: 'server' | 'client';
  session: Session;
  socket: RtmfpSocket;
  /** Server: the client's NetConnection flow that created this connection. */
  ncRecv?: RecvFlow;
  /** Our fingerprint (server) or peer id (client), hex: nearID. */
  nearId: string;
}

/** What a held connection (holdInput) may send before it is disconnected. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

export class RtmfpConnection implements MessageConnection {
  readonly protocol = 'rtmfp' as const;
  readonly role: 'server' | 'client';
  readonly session: Session;
  readonly #socket: RtmfpSocket;
  readonly stats: ConnectionStats = newConnectionStats();
  readonly identity: PeerIdentity;
  onMessage: (msg: RtmpMessage) => void = () => {};
  onClose: (err?: SsasError) => void = () => {};
  /** Client side: the connection is usable (our NetConnection flow is open). */
  onReady: () => void = () => {};
  /** setPeerInfo addresses the client reported (its own view of its addresses), for introductions. */
  reportedAddresses: string[] = [];
  setPeerInfo(addresses: string[]): void {
    this.reportedAddresses = addresses.slice(0, 16);
  }

  /** A flow of this connection that is not RTMP (TC): true when taken (the server's group channel). */
  onOtherFlow: (flow: RecvFlow) => boolean = () => false;

  /**
   * Opens a flow answering `flow` that carries raw messages (no RTMP framing): the group channel.
   * `onAnswer` gets the peer's flows that answer this one in turn.
   */
  openRawFlow(metadata: Buffer, answering: RecvFlow, onAnswer?: (flow: RecvFlow) => void): SendFlow | null {
    if (this.#closed || this.session.state !== 'open') return null;
    try {
      const f = this.session.openFlow(metadata, answering.id, PRIORITY_CONTROL);
      if (onAnswer) {
        this.#rawAnswers.set(f.id, onAnswer);
        const done = f.onComplete;
        f.onComplete = () => {
          this.#rawAnswers.delete(f.id);
          done();
        };
      }
      return f;
    } catch {
      return null;
    }
  }

  /** The server's NetConnection flow (client side): what a group channel answers. */
  get serverControlFlow(): RecvFlow | null {
    return this.role === 'client' ? this.#ncRecv : null;
  }

  /** The UDP socket under this connection (a client's own; peer-to-peer sessions share it). */
  get socket(): RtmfpSocket {
    return this.#socket;
  }

  readonly #rawAnswers = new Map<number, (flow: RecvFlow) => void>();

  /** Called once after onClose (the owner's bookkeeping). */
  closedHook: () => void = () => {};

  #ncSend: SendFlow | null = null;
  #ncRecv: RecvFlow | null = null;
  readonly #streams = new Map<number, StreamFlows>();
  readonly #recvFlows = new Set<RecvFlow>();
  #closed = false;
  #inLimit = 0;
  #inQueue: RtmpMessage[] = [];
  #inQueuedBytes = 0;
  #inWindowStart = 0;
  #inWindowBytes = 0;
  #inTimer: NodeJS.Timeout | null = null;
  #outWindowStart = 0;
  #outWindowBytes = 0;

  constructor(opts: RtmfpConnectionOptions) {
    this.role = opts.role;
    this.session = opts.session;
    this.#socket = opts.socket;
    const s = opts.session;
    this.identity = {
      farId: s.farId,
      nearId: opts.nearId,
      farNonce: s.farNonce.toString('hex'),
      nearNonce: s.nearNonce.toString('hex'),
    };
    if (opts.role === 'server') {
      this.#ncRecv = opts.ncRecv!;
      this.#attachRecv(this.#ncRecv, 0);
      // Our NetConnection flow first: tcconn closes a connection whose first associated flow is not stream 0.
      this.#ncSend = s.openFlow(tcMetadata(0), this.#ncRecv.id, PRIORITY_CONTROL);
    } else {
      this.#ncSend = s.openFlow(tcMetadata(0), -1, PRIORITY_CONTROL);
    }
    this.#ncSend.onException = () => this.destroy(new RtmfpError('ERR_RTMFP_FLOW_REJECTED', 'the peer rejected our NetConnection flow'));
  }

  get remoteAddress(): string {
    return this.session.address.address;
  }
  get remotePort(): number {
    return this.session.address.port;
  }
  get localAddress(): string {
    return this.#socket.address;
  }
  get localPort(): number {
    return this.#socket.port;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get backlog(): number {
    return this.session.queuedBytes;
  }
  get pingRtt(): number {
    return this.session.srtt > 0 ? Math.round(this.session.srtt) : 0;
  }

  /**
   * A new flow of the peer in this session. Returns true when it belongs to this connection (a flow
   * answering our NetConnection flow).
   */
  acceptFlow(flow: RecvFlow): boolean {
    if (this.#closed) return false;
    const raw = this.#rawAnswers.get(flow.associatedFlowId);
    if (raw) {
      raw(flow);
      return true;
    }
    if (!this.#ncSend || flow.associatedFlowId !== this.#ncSend.id) return false;
    const md = parseTcMetadata(flow.metadata);
    if (!md) {
      // Not RTMP: a group's server channel ("GC") or something we do not speak.
      if (!this.onOtherFlow(flow)) flow.reject(0);
      return true;
    }
    if (md.streamId === 0) {
      if (this.role === 'client' && this.#ncRecv === null) {
        this.#ncRecv = flow;
        this.#attachRecv(flow, 0);
        return true;
      }
      flow.reject(0);
      return true;
    }
    if (this.#recvFlows.size > MAX_STREAMS * 4) {
      flow.reject(0);
      return true;
    }
    this.#attachRecv(flow, md.streamId);
    return true;
  }

  #attachRecv(flow: RecvFlow, streamId: number): void {
    this.#recvFlows.add(flow);
    flow.onMessage = (data) => {
      if (this.#closed) return;
      let msg: RtmpMessage;
      try {
        msg = decodeTcMessage(data, streamId);
      } catch (err) {
        this.destroy(err as SsasError);
        return;
      }
      this.stats.msgIn++;
      this.stats.bytesIn += data.length;
      this.#deliver(msg);
    };
    flow.onComplete = () => {
      this.#recvFlows.delete(flow);
      // The peer closing its NetConnection flow closes the connection (Flash Player's NetConnection.close).
      if (flow === this.#ncRecv) this.#shutdown();
    };
  }

  #deliver(msg: RtmpMessage): void {
    if (msg.type === MessageType.UserControl && msg.payload.length >= 2) {
      const ev = msg.payload.readUInt16BE(0);
      if (ev === UserControlEvent.PingRequest && msg.payload.length >= 6) {
        this.sendUserControl(UserControlEvent.PingResponse, msg.payload.readUInt32BE(2));
        return;
      }
      if (ev === USER_CONTROL_SET_KEEPALIVE || ev === UserControlEvent.PingResponse) return;
    }
    if (this.#held || this.#inQueue.length > 0) {
      // Held (too many calls waiting for the application), or what was held is still going in: in order.
      this.#inQueue.push(msg);
      this.#inQueuedBytes += msg.payload.length;
      if (this.#held && this.#inQueuedBytes > MAX_HELD_BYTES) {
        this.destroy(new RtmfpError('ERR_RTMFP_INPUT_FLOOD', `more than ${MAX_HELD_BYTES} bytes sent while ${this.remoteAddress} had too many calls waiting`));
        return;
      }
      this.#drainInbound();
      return;
    }
    if (this.#inLimit > 0) {
      this.#inQueue.push(msg);
      this.#inQueuedBytes += msg.payload.length;
      // Beyond a few seconds' worth the sender ignores the limit: drop its media, keep its commands.
      while (this.#inQueuedBytes > Math.max(this.#inLimit * 4, 256 * 1024)) {
        const i = this.#inQueue.findIndex((m) => m.type === MessageType.Audio || m.type === MessageType.Video);
        if (i < 0) break;
        this.#inQueuedBytes -= this.#inQueue[i]!.payload.length;
        this.#inQueue.splice(i, 1);
        this.stats.msgDropped++;
      }
      this.#drainInbound();
      return;
    }
    this.onMessage(msg);
  }

  // ---------------------------------------------------------------------------------------------------------
  // MessageConnection

  beginSession(_settings: SessionStartSettings): void {
    // RTMFP has no chunk size or window; the peer learns our keepalive periods (RFC 7425 5.3.4), as
    // FMS and MonaServer tell it: 15 s to the server, 10 s to peers.
    const b = Buffer.alloc(10);
    b.writeUInt16BE(USER_CONTROL_SET_KEEPALIVE, 0);
    b.writeUInt32BE(15_000, 2);
    b.writeUInt32BE(10_000, 6);
    this.#write(this.#ncSend, MessageType.UserControl, 0, b, Infinity);
  }

  send(msg: RtmpMessage): void {
    if (this.#closed) return;
    if (msg.streamId === 0) {
      this.#write(this.#ncSend, msg.type, msg.timestamp, msg.payload, Infinity);
      return;
    }
    const s = this.#flows(msg.streamId);
    if (!s) return;
    if (msg.type === MessageType.Audio) this.#write(this.#flow(s, 'audio', msg.streamId), msg.type, msg.timestamp, msg.payload, Infinity);
    else if (msg.type === MessageType.Video) this.#write(this.#flow(s, 'video', msg.streamId), msg.type, msg.timestamp, msg.payload, Infinity);
    else this.#write(this.#flow(s, 'data', msg.streamId), msg.type, msg.timestamp, msg.payload, Infinity);
  }

  sendLive(msg: OutgoingLiveMessage, streamId: number): void {
    if (this.#closed) return;
    const s = this.#flows(streamId);
    if (!s) return;
    const now = this.#socket.now();
    if (msg.type === MessageType.Audio) {
      this.#write(this.#flow(s, 'audio', streamId), msg.type, msg.timestamp, msg.payload, msg.essential ? Infinity : AUDIO_LIFETIME_MS, now);
      return;
    }
    if (msg.type === MessageType.Video) {
      if (!msg.essential) {
        if (s.lastVideo && s.lastVideo.check(now) && !s.waitKeyframe) s.waitKeyframe = true;
        if (s.waitKeyframe && !msg.keyframe) {
          this.stats.msgDropped++;
          this.stats.droppedVideoMsgs++;
          this.stats.droppedVideoBytes += msg.payload.length;
          return;
        }
        s.waitKeyframe = false;
      }
      s.lastVideo = this.#write(this.#flow(s, 'video', streamId), msg.type, msg.timestamp, msg.payload, msg.essential ? Infinity : VIDEO_LIFETIME_MS, now);
      return;
    }
    this.#write(this.#flow(s, 'data', streamId), msg.type, msg.timestamp, msg.payload, Infinity, now);
  }

  sendUserControl(event: number, value: number, extra?: number): void {
    const m = control.userControl(event, value, extra);
    // Stream events go on the stream's own flow (as MonaServer; librtmfp accepts them there), others on the NetConnection flow.
    if ((event === UserControlEvent.StreamBegin || event === UserControlEvent.StreamEOF || event === UserControlEvent.StreamDry || event === UserControlEvent.StreamIsRecorded) && value > 0) {
      const s = this.#flows(value);
      if (s) this.#write(this.#flow(s, 'data', value), m.type, 0, m.payload, Infinity);
      return;
    }
    this.#write(this.#ncSend, m.type, 0, m.payload, Infinity);
  }

  releaseStream(streamId: number): void {
    const s = this.#streams.get(streamId);
    if (!s) return;
    this.#streams.delete(streamId);
    for (const f of [s.data, s.audio, s.video]) f?.close();
  }

  #flows(streamId: number): StreamFlows | null {
    let s = this.#streams.get(streamId);
    if (!s) {
      if (this.#streams.size >= MAX_STREAMS) return null;
      s = { data: null, audio: null, video: null, lastVideo: null, waitKeyframe: false };
      this.#streams.set(streamId, s);
    }
    return s;
  }

  #flow(s: StreamFlows, kind: 'data' | 'audio' | 'video', streamId: number): SendFlow | null {
    const existing = s[kind];
    if (existing && existing.isOpen) return existing;
    // Server NetStream flows answer the client's NetConnection flow, client ones the server's.
    const assoc = this.#ncRecv?.id ?? -1;
    if (assoc < 0 || this.session.state !== 'open') return null;
    try {
      const f = this.session.openFlow(tcMetadata(streamId), assoc, kind === 'video' ? PRIORITY_VIDEO : kind === 'audio' ? PRIORITY_AUDIO : PRIORITY_CONTROL);
      s[kind] = f;
      return f;
    } catch (err) {
      log.debug(`${this.remoteAddress}:${this.remotePort}: no flow for stream ${streamId}: ${(err as Error).message}`);
      return null;
    }
  }

  #write(flow: SendFlow | null, type: number, timestamp: number, payload: Buffer, lifetimeMs: number, now = this.#socket.now()): OutMessage | null {
    if (!flow || this.#closed) return null;
    const data = encodeTcMessage(type, timestamp, payload);
    const m = flow.write(data, now, lifetimeMs);
    if (!m) return null;
    this.stats.msgOut++;
    this.stats.bytesOut += data.length;
    return m;
  }

  ping(timeoutMs = 5000): Promise<number> {
    if (this.#closed) return Promise.resolve(-1);
    const p = this.session.ping(this.#socket.now(), timeoutMs, (ms, fn) => setTimeout(fn, ms).unref?.());
    this.#socket.kick();
    return p.then((rtt) => (rtt >= 0 ? Math.round(rtt) : rtt));
  }

  setInboundLimit(bytesPerSecond: number): void {
    this.#inLimit = Math.max(0, bytesPerSecond);
    this.#drainInbound();
  }

  /**
   * RTMFP has no socket per client to pause: while held, messages wait here in order (acknowledged, so
   * the sender goes on); a client that sends more than MAX_HELD_BYTES meanwhile is disconnected.
   */
  #held = false;

  holdInput(hold: boolean): void {
    if (this.#held === hold) return;
    this.#held = hold;
    if (!hold) this.#drainInbound();
  }

  #drainInbound(): void {
    if (this.#inTimer) return;
    while (this.#inQueue.length > 0 && !this.#closed && !this.#held) {
      if (this.#inLimit === 0) {
        const m = this.#inQueue.shift()!;
        this.#inQueuedBytes -= m.payload.length;
        this.onMessage(m);
        continue;
      }
      const t = Date.now();
      if (t - this.#inWindowStart >= 1000) {
        this.#inWindowStart = t;
        this.#inWindowBytes = 0;
      }
      const head = this.#inQueue[0]!;
      if (this.#inWindowBytes > 0 && this.#inWindowBytes + head.payload.length > this.#inLimit) {
        this.#inTimer = setTimeout(() => {
          this.#inTimer = null;
          this.#drainInbound();
        }, Math.max(1, 1000 - (t - this.#inWindowStart)));
        return;
      }
      this.#inQueue.shift();
      this.#inQueuedBytes -= head.payload.length;
      this.#inWindowBytes += head.payload.length;
      this.onMessage(head);
    }
  }

  takeOutbound(bytes: number, limit: number): boolean {
    const t = Date.now();
    if (t - this.#outWindowStart >= 1000) {
      this.#outWindowStart = t;
      this.#outWindowBytes = 0;
    }
    if (this.#outWindowBytes + bytes > limit && this.#outWindowBytes > 0) return false;
    this.#outWindowBytes += bytes;
    return true;
  }

  /**
   * Ends our flows; the session closes once our NetConnection flow is acknowledged to its end (so a last
   * _error or NetConnection.Connect.AppShutdown arrives), or after CLOSE_GRACE_MS at the latest.
   */
  close(): void {
    if (this.#closed) return;
    for (const s of this.#streams.values()) for (const f of [s.data, s.audio, s.video]) f?.close();
    const session = this.session;
    const sock = this.#socket;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      if (session.isOpen && !this.#sharesSession()) session.close(sock.now());
      sock.kick();
    };
    const t = setTimeout(finish, CLOSE_GRACE_MS);
    t.unref?.();
    if (this.#ncSend && this.#ncSend.state === 'open') {
      this.#ncSend.onComplete = finish;
      this.#ncSend.close();
    } else {
      finish();
    }
    this.#shutdown();
    sock.kick();
  }

  /** Other NetConnections still use this session (tcserver's -m: several per session). */
  sharesSessionWith: () => boolean = () => false;
  #sharesSession(): boolean {
    return this.sharesSessionWith();
  }

  destroy(err?: SsasError): void {
    if (this.#closed) return;
    this.session.close(this.#socket.now());
    this.#socket.kick();
    this.#shutdown(err);
  }

  /** The session ended under us (peer closed, vanished, replaced). */
  sessionClosed(err?: SsasError): void {
    this.#shutdown(err);
  }

  #shutdown(err?: SsasError): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inTimer) clearTimeout(this.#inTimer);
    this.#inTimer = null;
    this.#inQueue = [];
    this.#inQueuedBytes = 0;
    try {
      this.onClose(err);
    } catch (e) {
      log.error(`close handler threw: ${(e as Error).message}`);
    }
    this.closedHook();
  }
}

/**
 * Our client side: opens a UDP socket, runs the handshake with the server at `host:port` whose URL is
 * `url` (sent as the endpoint discriminator, as Flash Player does), and resolves with the connection
 * once the session is open (ERR_RTMFP_CONNECT_TIMEOUT, ERR_NET_DNS otherwise).
 */
export async function dialRtmfp(url: string, host: string, port: number, opts: { timeoutMs: number; negotiation?: Negotiation }): Promise<RtmfpConnection> {
  let address: string;
  let family: 4 | 6;
  try {
    const r = await lookup(host);
    address = r.address;
    family = r.family === 6 ? 6 : 4;
  } catch (err) {
    throw new NetError('ERR_NET_DNS', `${host}: ${(err as Error).message}`);
  }
  const socket = await openClientSocket(address, {
    acceptsUrls: false,
    // Like Flash Player, our client is also a peer: others may open sessions to its peer id (NetGroup).
    acceptsPeers: true,
    negotiation: opts.negotiation,
    limits: { connectTimeoutMs: opts.timeoutMs },
    // A server that vanishes is noticed within seconds (server-side NetConnection: Connect.Closed).
    sessionLimits: CLIENT_SESSION_LIMITS,
  });
  let session: Session;
  try {
    const p = socket.endpoint.connect(epdForUrl(url), [{ address, port, family }], socket.now());
    socket.kick();
    session = await p;
  } catch (err) {
    await socket.close(true);
    throw err;
  }
  const conn = new RtmfpConnection({ role: 'client', session, socket, nearId: socket.endpoint.peerId.toString('hex') });
  session.onRecvFlow = (flow) => {
    if (!conn.acceptFlow(flow)) flow.reject(0);
  };
  session.onClose = (err) => conn.sessionClosed(err);
  conn.closedHook = () => {
    // Let the close request go out and be acknowledged, then release the port.
    const t = setTimeout(() => void socket.close(), 1500);
    t.unref?.();
  };
  socket.kick();
  return conn;
}
