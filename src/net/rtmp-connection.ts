/**
 * One RTMP connection over a TCP socket, server or client side: handshake, chunk decoding and encoding,
 * protocol control (RTMP spec 5.4: chunk size, acknowledgements, bandwidth) and user control pings
 * (spec 6.2/7.1.7). Everything above it (commands, streams, shared objects) sees whole messages.
 *
 * Writes are queued and flushed once per event-loop turn by the write scheduler; `backlog` tells media
 * fan-out how far behind this peer is so a slow player can be skipped to the next key frame instead of
 * buffering without bound.
 */
import type { Socket } from 'node:net';
import { ServerHandshake, ClientHandshake } from '../rtmp/handshake';
import { ChunkDecoder } from '../rtmp/chunk-decoder';
import { ChunkEncoder } from '../rtmp/chunk-encoder';
import * as control from '../rtmp/control';
import { MessageType, PeerBandwidthLimit, UserControlEvent, csidFor, type RtmpMessage } from '../rtmp/types';
import type { RtmpLimits } from '../config';
import { NetError, RtmpError, isSsasError, type SsasError } from '../errors';
import { scheduleFlush, cancelFlush, type Flushable } from './write-scheduler';
import { getLogger } from '../logger';
import { newConnectionStats, type ConnectionStats, type MessageConnection, type OutgoingLiveMessage, type SessionStartSettings } from '../server/connection';

const log = getLogger('net');

export interface RtmpConnectionOptions {
  role: 'server' | 'client';
  limits: RtmpLimits;
  /** Client role: use the plain (version 3, no digest) handshake. */
  simpleHandshake?: boolean;
}

export type { ConnectionStats };

let nextConnectionId = 1;

/**
 * Bytes of unfinished messages held by all RTMP connections of this process (limits.maxServerPendingBytes).
 * Each connection may hold limits up to its own 32 MB; when all together would pass the cap, the
 * connection holding the most is closed (ERR_RTMP_SERVER_BUFFER_LIMIT): one that trickles huge messages
 * goes before one that sends an ordinary key frame.
 */
const pendingBudget = { used: 0, cap: 256 * 1024 * 1024, holders: new Set<RtmpConnection>() };

export function configurePendingBudget(capBytes: number): void {
  pendingBudget.cap = capBytes;
}

/** What the budget above holds now (for tests and stats). */
export function pendingBytesInUse(): number {
  return pendingBudget.used;
}

export class RtmpConnection implements Flushable, MessageConnection {
  readonly protocol = 'rtmp' as const;
  readonly identity = null;
  readonly id: number;
  readonly socket: Socket;
  readonly role: 'server' | 'client';
  readonly stats: ConnectionStats = newConnectionStats();

  /** Called for every message except protocol control and ping traffic handled here. */
  onMessage: (msg: RtmpMessage) => void = () => {};
  /** Called once when the handshake completes. */
  onReady: () => void = () => {};
  /** Called once when the connection is gone; `err` says why when it was not a clean close. */
  onClose: (err?: SsasError) => void = () => {};

  #handshake: ServerHandshake | ClientHandshake | null;
  #decoder: ChunkDecoder;
  #encoder = new ChunkEncoder();
  /** Buffers queued for the next flush. */
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #closed = false;
  #ready = false;
  /** The peer's acknowledgement window: we must acknowledge after this many bytes. */
  #peerWindow = 0;
  #lastAckAt = 0;
  /** Our own window as last announced to the peer. */
  #announcedWindow = 0;
  #pings = new Map<number, (rttMs: number) => void>();
  #lastRtt = 0;
  /** Client-to-server limit in bytes per second (0 = none): reading pauses when a second's budget is used. */
  #inLimit = 0;
  #inWindowStart = 0;
  #inWindowBytes = 0;
  #inPauseTimer: NodeJS.Timeout | null = null;
  /** Server-to-client accounting for Client.setBandwidthLimit (bytes sent in the current second). */
  #outWindowStart = 0;
  #outWindowBytes = 0;

  constructor(socket: Socket, opts: RtmpConnectionOptions) {
    this.id = nextConnectionId++;
    this.socket = socket;
    this.role = opts.role;
    socket.setNoDelay(true);
    socket.once('connect', () => this.#addresses());
    this.#decoder = new ChunkDecoder({
      maxMessageSize: opts.limits.maxMessageSize,
      maxChunkStreams: opts.limits.maxChunkStreams,
      maxChunkSize: opts.limits.maxChunkSize,
      onMessage: (msg: RtmpMessage) => this.#onDecoded(msg),
    });
    if (opts.role === 'server') {
      this.#handshake = new ServerHandshake();
    } else {
      const hs = new ClientHandshake({ simple: opts.simpleHandshake === true });
      this.#handshake = hs;
      this.#writeNow(hs.start());
    }
    socket.on('data', (buf: Buffer) => this.#onData(buf));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#shutdown(new NetError(err.code === 'ECONNRESET' ? 'ERR_NET_RESET' : 'ERR_NET_SOCKET', err.message, { cause: err.code }));
    });
    socket.on('close', () => this.#shutdown());
    socket.on('end', () => {
      // Half-open sockets are useless for RTMP: finish our side too.
      if (!this.#closed) socket.end();
    });
  }

  // Addresses are read lazily: a client socket has none until it connected; a destroyed one keeps the last.
  #addr: { ra: string; rp: number; la: string; lp: number } | null = null;
  #addresses(): { ra: string; rp: number; la: string; lp: number } {
    if (this.#addr) return this.#addr;
    const s = this.socket;
    const a = { ra: normalizeAddress(s.remoteAddress), rp: s.remotePort ?? 0, la: normalizeAddress(s.localAddress), lp: s.localPort ?? 0 };
    if (a.rp !== 0 && a.lp !== 0) this.#addr = a;
    return a;
  }
  get remoteAddress(): string {
    return this.#addresses().ra;
  }
  get remotePort(): number {
    return this.#addresses().rp;
  }
  get localAddress(): string {
    return this.#addresses().la;
  }
  get localPort(): number {
    return this.#addresses().lp;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unsent bytes for this peer: what we queued plus what the kernel has not taken yet. */
  get backlog(): number {
    return this.#queuedBytes + this.socket.writableLength;
  }

  get chunkSize(): number {
    return this.#encoder.chunkSize;
  }

  /** Round trip time of the last answered ping, in ms. */
  get pingRtt(): number {
    return this.#lastRtt;
  }

  /** Encodes and queues one message (header compression per chunk stream). */
  send(msg: RtmpMessage): void {
    if (this.#closed) return;
    this.#enqueue(this.#encoder.encode(msg));
    this.stats.msgOut++;
  }

  /**
   * Queues a message that was already chunked (format 0, self-contained) for many peers at once.
   * The next message on that chunk stream is sent with a full header again.
   */
  sendPreChunked(buf: Buffer, csid: number): void {
    if (this.#closed) return;
    this.#encoder.resetChunkStream(csid);
    this.#enqueue(buf);
    this.stats.msgOut++;
  }

  /** A live message fanned out to many players: chunked once for all players with the same settings. */
  sendLive(msg: OutgoingLiveMessage, streamId: number): void {
    this.sendPreChunked(msg.chunked(this.chunkSize, streamId), csidFor(msg.type));
  }

  /** Server side, when the client's connect arrives: window, peer bandwidth, StreamBegin 0, chunk size. */
  beginSession(settings: SessionStartSettings): void {
    this.setWindowAckSize(settings.windowAckSize);
    this.setPeerBandwidth(settings.peerBandwidth, PeerBandwidthLimit.Dynamic);
    this.sendUserControl(UserControlEvent.StreamBegin, 0);
    this.setChunkSize(settings.chunkSize);
  }

  /** Chunk streams are per connection, not per NetStream: nothing to release. */
  releaseStream(_streamId: number): void {}

  /** Announces and switches our outgoing chunk size. */
  setChunkSize(size: number): void {
    this.send(control.setChunkSize(size));
    this.#encoder.setChunkSize(size);
  }

  setWindowAckSize(size: number): void {
    this.#announcedWindow = size;
    this.send(control.windowAckSize(size));
  }

  setPeerBandwidth(size: number, limitType: number): void {
    this.send(control.setPeerBandwidth(size, limitType));
  }

  sendUserControl(event: number, value: number, extra?: number): void {
    this.send(control.userControl(event, value, extra));
  }

  /** Sends a PingRequest; resolves with the round trip in ms, or -1 if no answer within timeoutMs. */
  ping(timeoutMs = 5000): Promise<number> {
    if (this.#closed) return Promise.resolve(-1);
    const stamp = (Date.now() & 0x7fffffff) >>> 0;
    return new Promise((resolve) => {
      const started = Date.now();
      const timer = setTimeout(() => {
        this.#pings.delete(stamp);
        resolve(-1);
      }, timeoutMs);
      timer.unref?.();
      this.#pings.set(stamp, () => {
        clearTimeout(timer);
        this.#lastRtt = Date.now() - started;
        resolve(this.#lastRtt);
      });
      this.sendUserControl(UserControlEvent.PingRequest, stamp);
    });
  }

  /** Flushes what is queued and closes gracefully. */
  close(): void {
    if (this.#closed) return;
    this.flushQueued();
    this.socket.end();
    // A peer that never reads must not keep the socket forever.
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref?.();
  }

  /** Closes at once with an error (protocol violation, limit exceeded). */
  destroy(err?: SsasError): void {
    if (this.#closed) return;
    this.socket.destroy();
    this.#shutdown(err);
  }

  flushQueued(): void {
    const q = this.#queue;
    if (q.length === 0 || this.#closed) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (q.length === 1) {
      this.#writeNow(q[0]!);
      return;
    }
    this.socket.cork();
    for (const b of q) this.#writeNow(b);
    this.socket.uncork();
  }

  #enqueue(buf: Buffer): void {
    this.#queue.push(buf);
    this.#queuedBytes += buf.length;
    scheduleFlush(this);
  }

  #writeNow(buf: Buffer): void {
    this.stats.bytesOut += buf.length;
    this.socket.write(buf);
  }

  /** Limits what the peer may send (bytes per second, 0 = unlimited): TCP pushes back while reading pauses. */
  setInboundLimit(bytesPerSecond: number): void {
    this.#inLimit = Math.max(0, bytesPerSecond);
    if (this.#inLimit === 0) {
      if (this.#inPauseTimer) clearTimeout(this.#inPauseTimer);
      this.#inPauseTimer = null;
      const queued = this.#inQueue;
      this.#inQueue = [];
      for (const b of queued) this.#consume(b);
      if (!this.#closed && !this.#held) this.socket.resume();
    }
  }

  /**
   * Counts `bytes` against a server-to-client budget of `limit` bytes per second; false when this second's
   * budget is spent (the caller skips media, as for a slow player).
   */
  takeOutbound(bytes: number, limit: number): boolean {
    const now = Date.now();
    if (now - this.#outWindowStart >= 1000) {
      this.#outWindowStart = now;
      this.#outWindowBytes = 0;
    }
    if (this.#outWindowBytes + bytes > limit && this.#outWindowBytes > 0) return false;
    this.#outWindowBytes += bytes;
    return true;
  }

  /** holdInput(true): the socket is paused until the session has handled what it already read. */
  #held = false;

  holdInput(hold: boolean): void {
    if (this.#held === hold || this.#closed) return;
    this.#held = hold;
    if (hold) this.socket.pause();
    else if (this.#inQueue.length > 0) {
      if (!this.#inPauseTimer) this.#drainInbound();
    } else if (!this.#inPauseTimer) this.socket.resume();
  }

  /** Input held back by the client-to-server limit, fed to the decoder as each second's budget allows. */
  #inQueue: Buffer[] = [];

  #drainInbound(): void {
    this.#inPauseTimer = null;
    while (this.#inQueue.length > 0 && !this.#closed && !this.#held) {
      const now = Date.now();
      if (now - this.#inWindowStart >= 1000) {
        this.#inWindowStart = now;
        this.#inWindowBytes = 0;
      }
      const budget = this.#inLimit - this.#inWindowBytes;
      if (budget <= 0) {
        this.socket.pause();
        this.#inPauseTimer = setTimeout(() => this.#drainInbound(), Math.max(1, 1000 - (now - this.#inWindowStart)));
        return;
      }
      const head = this.#inQueue[0]!;
      const take = head.length <= budget ? head : head.subarray(0, budget);
      if (take === head) this.#inQueue.shift();
      else this.#inQueue[0] = head.subarray(budget);
      this.#inWindowBytes += take.length;
      this.#consume(take);
    }
    if (!this.#closed && !this.#held) this.socket.resume();
  }

  #onData(buf: Buffer): void {
    if (this.#closed) return;
    this.stats.bytesIn += buf.length;
    if (this.#inLimit > 0 && this.#handshake === null) {
      this.#inQueue.push(buf);
      if (!this.#inPauseTimer) this.#drainInbound();
      return;
    }
    this.#consume(buf);
  }

  #consume(buf: Buffer): void {
    try {
      if (this.#handshake) {
        const r = this.#handshake.push(buf);
        for (const out of r.send) this.#writeNow(out);
        if (!r.done) return;
        this.#handshake = null;
        this.#ready = true;
        this.onReady();
        if (r.rest && r.rest.length > 0 && !this.#closed) this.#decoder.push(r.rest);
        return;
      }
      try {
        this.#decoder.push(buf);
      } finally {
        this.#accountPending();
      }
      this.#maybeAcknowledge();
    } catch (err) {
      this.#fail(err);
    }
  }

  #fail(err: unknown): void {
    const e = isSsasError(err)
      ? err
      : new RtmpError('ERR_RTMP_INTERNAL', `unexpected error while handling input: ${(err as Error)?.message ?? err}`);
    log.warn(`connection ${this.id} from ${this.remoteAddress}:${this.remotePort} closed: ${e.code}: ${e.message}`);
    this.destroy(e);
  }

  #maybeAcknowledge(): void {
    if (this.#peerWindow <= 0) return;
    const received = this.#decoder.bytesReceived;
    if (received - this.#lastAckAt >= this.#peerWindow) {
      this.#lastAckAt = received;
      this.send(control.acknowledgement(received >>> 0));
    }
  }

  #onDecoded(msg: RtmpMessage): void {
    this.stats.msgIn++;
    switch (msg.type) {
      case MessageType.SetChunkSize:
      case MessageType.Abort:
      case MessageType.Acknowledgement:
        return; // applied by the decoder / informational
      case MessageType.WindowAckSize:
        this.#peerWindow = control.parseWindowAckSize(msg);
        return;
      case MessageType.SetPeerBandwidth: {
        const { size } = control.parseSetPeerBandwidth(msg);
        if (size !== this.#announcedWindow) this.setWindowAckSize(size);
        return;
      }
      case MessageType.UserControl: {
        const ev = control.parseUserControl(msg);
        if (ev.event === UserControlEvent.PingRequest) {
          this.sendUserControl(UserControlEvent.PingResponse, ev.value);
          return;
        }
        if (ev.event === UserControlEvent.PingResponse) {
          this.#pings.get(ev.value)?.(0);
          this.#pings.delete(ev.value);
          return;
        }
        this.onMessage(msg);
        return;
      }
      default:
        this.onMessage(msg);
    }
  }

  /** This connection's share of pendingBudget. */
  #pendingAccounted = 0;

  #accountPending(): void {
    const held = this.#closed ? 0 : this.#decoder.pendingBytes;
    const delta = held - this.#pendingAccounted;
    if (delta === 0) return;
    pendingBudget.used += delta;
    this.#pendingAccounted = held;
    if (held > 0) pendingBudget.holders.add(this);
    else pendingBudget.holders.delete(this);
    if (delta < 0 || pendingBudget.used <= pendingBudget.cap) return;
    let largest: RtmpConnection = this;
    for (const c of pendingBudget.holders) if (c.#pendingAccounted > largest.#pendingAccounted) largest = c;
    const err = new RtmpError(
      'ERR_RTMP_SERVER_BUFFER_LIMIT',
      `unfinished messages of all connections would hold more than ${pendingBudget.cap} bytes; this one held ${largest.#pendingAccounted}`,
    );
    if (largest === this) throw err;
    log.warn(`connection ${largest.id} (${largest.remoteAddress}): ${err.message}: closed`);
    largest.destroy(err);
  }

  #shutdown(err?: SsasError): void {
    if (this.#closed) return;
    this.#closed = true;
    pendingBudget.used -= this.#pendingAccounted;
    this.#pendingAccounted = 0;
    pendingBudget.holders.delete(this);
    this.#ready = false;
    if (this.#inPauseTimer) clearTimeout(this.#inPauseTimer);
    this.#inPauseTimer = null;
    cancelFlush(this);
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const done of this.#pings.values()) done(-1);
    this.#pings.clear();
    try {
      this.onClose(err);
    } catch (e) {
      log.error(`close handler of connection ${this.id} threw: ${(e as Error).message}`);
    }
  }
}

function normalizeAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
