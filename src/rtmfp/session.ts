/**
 * An open RTMFP session, RFC 7016 section 3.5 onwards: packets in and out of one peer once the
 * handshake (handshake.ts, endpoint.ts) gave both ends their session ids and keys.
 *
 * - Flows (3.6): sending flows queue fragments; receiving flows reassemble and acknowledge.
 * - Transmission (3.5.2): acknowledgements first, then user data by flow priority, within the congestion
 *   window (Appendix A: slow start, additive increase, multiplicative decrease on loss) and the
 *   receiver's advertised buffer; at most MAX_BURST data packets before an ack or the burst timer.
 * - Loss (3.6.2.4): a fragment in flight is lost when three fragments sent after it are acknowledged, or
 *   when the retransmission timer (ERTO, from RTT measured through timestamp echo, 3.5.2.2) fires.
 * - Acks (3.6.3.4): after every second packet carrying data, at once when something arrived out of
 *   order, else within the delayed-ack period.
 * - Keepalive and idle limits, and the close handshake (3.5.5).
 *
 * Time is passed in (`now`, ms): nothing here reads a clock or touches a socket, so tests drive it.
 */
import { RtmfpError, isSsasError } from '../errors';
import {
  Chunk,
  FLAG_TC,
  MODE_INITIATOR,
  MODE_RESPONDER,
  MAX_SESSION_PACKET,
  PacketBuilder,
  TIMESTAMP_TICK_MS,
  timestampAt,
  type ChunkView,
  type PacketHeader,
} from './packet';
import {
  OPTION_METADATA,
  OPTION_RETURN_ASSOCIATION,
  UD_ABN,
  UD_FIN,
  UD_OPT,
  BUFFER_BLOCK,
  decodeAckBitmap,
  decodeAckRanges,
  decodeFlowException,
  decodeFlowId,
  decodeNextUserData,
  decodeUserData,
  encodeAckRanges,
  encodeVlus,
  userDataHeaderLength,
  writeUserDataHeader,
  type UserDataChunk,
} from './chunks';
import { SendFlow, type SendFrag, type SendFlowHost } from './send-flow';
import { RecvFlow } from './recv-flow';
import { Cursor } from './wire';
import type { PacketCipher } from './crypto';

export interface PeerAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

export function addressKey(a: PeerAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** What a session needs from its endpoint. */
export interface SessionHost {
  transmit(datagram: Buffer, to: PeerAddress): void;
  /** The session wants `timer(now)` at `at` (ms). */
  schedule(session: Session, at: number): void;
  /** The session has something to send: call flush() soon (after the current input is processed). */
  wantFlush(session: Session): void;
  /** The session closed and its id can be forgotten (after any linger). */
  released(session: Session): void;
  /** Every chunk type the session does not handle (forwarded IHello for introductions, ...). */
  otherChunk?(session: Session, chunk: ChunkView): void;
}

export interface SessionLimits {
  /** Receive buffer per flow, bytes. */
  flowBuffer: number;
  /** Largest reassembled message. */
  maxMessage: number;
  /** Receiving flows open at once (more are rejected). */
  maxRecvFlows: number;
  /** Sending flows open at once. */
  maxSendFlows: number;
  /** ms without anything received before a keepalive ping. */
  keepaliveMs: number;
  /** ms without anything received before the session is closed. */
  idleMs: number;
  /** ms of retransmissions without any acknowledgement before the session is given up. */
  retransmitLimitMs: number;
}

export const defaultSessionLimits: SessionLimits = {
  flowBuffer: 256 * 1024,
  maxMessage: 16 * 1024 * 1024,
  maxRecvFlows: 256,
  maxSendFlows: 256,
  keepaliveMs: 10_000,
  idleMs: 60_000,
  retransmitLimitMs: 30_000,
};

export type SessionState = 'open' | 'nearclose' | 'farclose' | 'closed';

/** Flow exception codes we send (RFC 7016 leaves them to the application). */
export const FLOW_REJECTED = 0;
const FLOW_TOO_MANY = 1;

const MSS = MAX_SESSION_PACKET - 5 - 3 - 1 - 3 * 8; // header, chunk header, flags, three VLUs
const CWND_INIT = 3 * MSS;
const CWND_TIMEDOUT = 2 * MSS;
const MAX_BURST = 6;
const DELACK_MS = 200;
const INITIAL_ERTO = 3000;
const MIN_ERTO = 250;
const MAX_ERTO = 10_000;
const NAKS_FOR_LOSS = 3;
const OBLIGATORY_ACK_AFTER = 2;
const CLOSE_RTX_MS = 1000;
const NEARCLOSE_MS = 10_000;
const FARCLOSE_LINGER_MS = 19_000;
const RECV_LINGER_MS = 20_000;
const TIME_CRITICAL_PRIORITY = 4;

export interface SessionInit {
  role: 'initiator' | 'responder';
  /** Our id: what the peer writes in packets to us. */
  rxId: number;
  /** The peer's id: what we write in packets to it. */
  txId: number;
  address: PeerAddress;
  cipher: PacketCipher;
  limits: SessionLimits;
  now: number;
  /** RFC 7425 identity: the peer's id (fingerprint) and the two nonces, hex strings. */
  farId: string;
  nearNonce: Buffer;
  farNonce: Buffer;
  /** The endpoint discriminator the initiator used (the URL for a server), for the application. */
  epd: Buffer;
}

export class Session implements SendFlowHost {
  readonly role: 'initiator' | 'responder';
  readonly rxId: number;
  readonly txId: number;
  address: PeerAddress;
  readonly farId: string;
  readonly nearNonce: Buffer;
  readonly farNonce: Buffer;
  readonly epd: Buffer;
  state: SessionState = 'open';
  readonly fragmentSize = MSS - 64;
  readonly #host: SessionHost;
  readonly #cipher: PacketCipher;
  readonly #limits: SessionLimits;
  readonly #mode: number;

  readonly sendFlows = new Map<number, SendFlow>();
  readonly recvFlows = new Map<number, RecvFlow>();
  #recvDoneAt = new Map<number, number>();
  #nextFlowId = 1;
  #ready = new Set<SendFlow>();
  #outstanding: SendFrag[] = [];
  #outHead = 0;
  #outstandingBytes = 0;
  #nextTsn = 1;

  // Timing (RFC 7016 names).
  #tsRx = -1;
  #tsRxTime = 0;
  #lastTsEchoRx = -1;
  srtt = -1;
  #rttvar = 0;
  #erto = INITIAL_ERTO;
  #mrto = 250;
  #rtoAt = Infinity;
  #lastProgress = 0;
  #cwnd = CWND_INIT;
  #ssthresh = Infinity;
  #ackedAccumulator = 0;
  #dataPacketsSinceAck = 0;
  #ackNow = false;
  #delackAt = Infinity;
  #lastRecv: number;
  #keepaliveSent = false;
  #burstAt = Infinity;
  #pings: Buffer[] = [];
  #pingReplies: Buffer[] = [];
  #exceptions: Array<[number, number]> = [];
  #probes = new Set<number>();
  #probeAt = Infinity;
  #closeAt = Infinity;
  #closeDeadline = Infinity;
  #sendCloseAck = false;
  #lingerUntil = Infinity;
  readonly #builder = new PacketBuilder();
  #pingWaiters = new Map<string, (rtt: number) => void>();

  /** The endpoint's scheduled wake-up for this session (managed by the endpoint). */
  timerAt = Infinity;
  #rawChunks: Array<[number, Buffer]> = [];

  /** Decrypts a datagram addressed to this session (null when it does not verify). */
  cipherOpen(datagram: Buffer): Buffer | null {
    return this.#cipher.open(datagram);
  }

  /** Sends a chunk the session does not know itself (forwarded IHello of an introduction). */
  sendRawChunk(type: number, body: Buffer): void {
    if (this.state !== 'open' || this.#rawChunks.length >= 64) return;
    this.#rawChunks.push([type, body]);
    this.#host.wantFlush(this);
  }

  /** Bytes in and out (datagrams), for Client.getStats. */
  bytesIn = 0;
  bytesOut = 0;
  packetsIn = 0;
  packetsOut = 0;
  retransmits = 0;

  /** A new receiving flow (not associated, or associated to one of ours): set handlers or reject it. */
  onRecvFlow: (flow: RecvFlow) => void = (f) => f.reject(FLOW_REJECTED);
  /** The session closed (`err` when it was not an orderly close by either end). */
  onClose: (err?: RtmfpError) => void = () => {};

  constructor(host: SessionHost, init: SessionInit) {
    this.#host = host;
    this.role = init.role;
    this.rxId = init.rxId;
    this.txId = init.txId;
    this.address = init.address;
    this.#cipher = init.cipher;
    this.#limits = init.limits;
    this.farId = init.farId;
    this.nearNonce = init.nearNonce;
    this.farNonce = init.farNonce;
    this.epd = init.epd;
    this.#mode = init.role === 'initiator' ? MODE_INITIATOR : MODE_RESPONDER;
    // An initiator's first flow is 2, as Flash Player's and librtmfp's: MonaServer associates its stream
    // flows with flow 2 whatever the client used (notes, trap 12).
    this.#nextFlowId = init.role === 'initiator' ? 2 : 1;
    this.#lastRecv = init.now;
    this.#lastProgress = init.now;
    this.#scheduleTimer();
  }

  get cwnd(): number {
    return this.#cwnd;
  }

  get outstandingBytes(): number {
    return this.#outstandingBytes;
  }

  /** Bytes queued in every sending flow and not yet acknowledged. */
  get queuedBytes(): number {
    let n = 0;
    for (const f of this.sendFlows.values()) n += f.queuedBytes;
    return n;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  // ---------------------------------------------------------------------------------------------------------
  // Flows

  /** Opens a sending flow; `associatedFlowId` answers a flow of the peer (return association). */
  openFlow(metadata: Buffer, associatedFlowId = -1, priority = 2): SendFlow {
    if (this.state !== 'open') throw new RtmfpError('ERR_RTMFP_SESSION_CLOSED', 'session is closed');
    if (this.sendFlows.size >= this.#limits.maxSendFlows) {
      throw new RtmfpError('ERR_RTMFP_TOO_MANY_FLOWS', `more than ${this.#limits.maxSendFlows} sending flows`);
    }
    const f = new SendFlow(this, this.#nextFlowId++, metadata, associatedFlowId, priority);
    this.sendFlows.set(f.id, f);
    return f;
  }

  flowReady(flow: SendFlow): void {
    if (this.state !== 'open' && this.state !== 'nearclose') return;
    this.#ready.add(flow);
    this.#host.wantFlush(this);
  }

  flowDone(flow: SendFlow): void {
    this.sendFlows.delete(flow.id);
    this.#ready.delete(flow);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Input

  /** A decrypted packet for this session. */
  receive(header: PacketHeader, chunks: ChunkView[], from: PeerAddress, size: number, now: number): void {
    if (this.state === 'closed') return;
    if (header.mode === this.#mode || header.mode === 0 || header.mode === 3) return; // our own mode or startup: not from the peer
    this.bytesIn += size;
    this.packetsIn++;
    this.#lastRecv = now;
    this.#keepaliveSent = false;
    if (this.state === 'farclose') {
      // Everything the peer sends while we linger is answered with a close acknowledgement.
      this.#sendCloseAck = true;
      this.#host.wantFlush(this);
      return;
    }
    if (from.port !== this.address.port || from.address !== this.address.address) this.address = from; // mobility
    if (header.timestamp >= 0 && header.timestamp !== this.#tsRx) {
      this.#tsRx = header.timestamp;
      this.#tsRxTime = now;
    }
    if (header.timestampEcho >= 0 && header.timestampEcho !== this.#lastTsEchoRx) {
      this.#lastTsEchoRx = header.timestampEcho;
      this.#measureRtt(header.timestampEcho, now);
    }
    let ackState: AckState | null = null;
    let sawData = false;
    let prevUd: UserDataChunk | null = null;
    for (const ch of chunks) {
      try {
        switch (ch.type) {
          case Chunk.UserData:
          case Chunk.NextUserData: {
            const ud: UserDataChunk = ch.type === Chunk.UserData ? decodeUserData(ch.body) : prevUd ? decodeNextUserData(ch.body, prevUd) : null!;
            if (!ud) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'Next User Data without a User Data before it');
            prevUd = ud;
            sawData = true;
            this.#onUserData(ud, now);
            break;
          }
          case Chunk.AckRanges:
          case Chunk.AckBitmap: {
            const ack = ch.type === Chunk.AckRanges ? decodeAckRanges(ch.body) : decodeAckBitmap(ch.body);
            ackState ??= { acked: 0, maxTsn: 0 };
            this.#onAck(ack.flowId, ack.bufferBlocks, ack.cumulativeAck, ack.ranges, ackState, now);
            break;
          }
          case Chunk.BufferProbe: {
            const id = decodeFlowId(ch.body, 'buffer probe flow id');
            const rf = this.recvFlows.get(id);
            if (rf) {
              rf.ackDue = true;
              this.#ackNow = true;
            }
            break;
          }
          case Chunk.FlowException: {
            const ex = decodeFlowException(ch.body);
            this.sendFlows.get(ex.flowId)?.onFlowException(ex.code);
            break;
          }
          case Chunk.Ping:
            if (this.#pingReplies.length < 8) this.#pingReplies.push(Buffer.from(ch.body));
            break;
          case Chunk.PingReply:
            this.#onPingReply(ch.body, now);
            break;
          case Chunk.SessionClose:
            this.#onCloseRequest(now);
            return;
          case Chunk.SessionCloseAck:
            if (this.state === 'nearclose') this.#finish(now);
            return;
          default:
            this.#host.otherChunk?.(this, ch);
        }
      } catch (err) {
        if (!isSsasError(err)) throw err;
        // A malformed chunk loses only itself; a flow that broke its own rules is rejected.
        if (err.code === 'ERR_RTMFP_MESSAGE_TOO_LARGE' || err.code === 'ERR_RTMFP_BAD_FLOW') {
          const id = prevUd?.flowId;
          const rf = id !== undefined ? this.recvFlows.get(id) : undefined;
          if (rf) this.#rejectFlow(rf, FLOW_REJECTED);
        }
        this.lastError = err;
      }
    }
    if (ackState) this.#afterAcks(ackState, now);
    if (sawData) {
      this.#dataPacketsSinceAck++;
      if (this.#dataPacketsSinceAck >= OBLIGATORY_ACK_AFTER) this.#ackNow = true;
      else if (this.#delackAt === Infinity) this.#delackAt = now + DELACK_MS;
    }
    if (this.#ackNow || this.#pingReplies.length > 0 || this.#exceptions.length > 0 || this.#ready.size > 0) this.#host.wantFlush(this);
    this.#scheduleTimer();
  }

  /** The last chunk-level error (for logs and tests); the session carries on. */
  lastError: RtmfpError | null = null;

  #onUserData(ud: UserDataChunk, now: number): void {
    let rf = this.recvFlows.get(ud.flowId);
    if (!rf) {
      let metadata: Buffer | null = null;
      let assoc = -1;
      for (const o of ud.options ?? []) {
        if (o.type === OPTION_METADATA) metadata = o.value;
        else if (o.type === OPTION_RETURN_ASSOCIATION) assoc = new Cursor(o.value).vlu('return association');
      }
      if (metadata === null) {
        // Not a flow we know and no metadata to start one (RFC 7016 3.6.3.1): reject it.
        this.#exceptions.push([ud.flowId, FLOW_REJECTED]);
        return;
      }
      if (this.recvFlows.size - this.#recvDoneAt.size >= this.#limits.maxRecvFlows) {
        // Refused without keeping a RecvFlow: a peer that opens flows without end must not grow the map.
        this.#exceptions.push([ud.flowId, FLOW_TOO_MANY]);
        this.#ackNow = true;
        return;
      }
      rf = new RecvFlow(ud.flowId, Buffer.from(metadata), assoc, this.#limits.flowBuffer, this.#limits.maxMessage);
      this.recvFlows.set(rf.id, rf);
      if (assoc >= 0 && !this.sendFlows.has(assoc)) {
        this.#rejectFlow(rf, FLOW_REJECTED);
      } else {
        const flow = rf;
        flow.onComplete = () => this.#recvComplete(flow, now);
        try {
          this.onRecvFlow(flow);
        } catch (err) {
          this.lastError = isSsasError(err) ? err : new RtmfpError('ERR_RTMFP_INTERNAL', String(err));
          flow.reject(FLOW_REJECTED);
        }
        if (flow.state === 'rejected') this.#exceptions.push([flow.id, flow.exceptionCode]);
      }
    }
    const before = rf.cumulative;
    rf.onData(ud.flags, ud.seq, ud.seq - ud.fsnOffset, ud.data);
    if (rf.state === 'rejected') {
      if (!this.#exceptions.some((e) => e[0] === rf!.id)) this.#exceptions.push([rf.id, rf.exceptionCode]);
      this.#ackNow = true;
    }
    // Out of order (a gap before it), or the flow finished: acknowledge at once.
    if (ud.seq > rf.cumulative || rf.cumulative === before || (ud.flags & UD_FIN) !== 0) this.#ackNow = true;
  }

  #rejectFlow(rf: RecvFlow, code: number): void {
    rf.reject(code);
    this.#exceptions.push([rf.id, code]);
    this.#ackNow = true;
  }

  #recvComplete(rf: RecvFlow, now: number): void {
    this.#recvDoneAt.set(rf.id, now);
    this.#ackNow = true;
    // Finished flows linger (RECV_LINGER_MS) but at most maxRecvFlows of them: past that the oldest is
    // forgotten early, or a peer that opens and finishes flows without end holds unbounded memory.
    if (this.#recvDoneAt.size > this.#limits.maxRecvFlows) {
      const oldest = this.#recvDoneAt.keys().next().value as number;
      this.#recvDoneAt.delete(oldest);
      this.recvFlows.delete(oldest);
    }
  }

  #onAck(flowId: number, blocks: number, cumulative: number, ranges: Array<[number, number]>, st: AckState, now: number): void {
    const flow = this.sendFlows.get(flowId);
    if (!flow) return;
    const bytes = flow.onAck(blocks * BUFFER_BLOCK, cumulative, ranges, now, (f) => {
      if (f.tsn > st.maxTsn) st.maxTsn = f.tsn;
    });
    st.acked += bytes;
    this.#probes.delete(flowId);
    if (flow.wantsToSend) this.#ready.add(flow);
  }

  /** After every ack of a packet: loss by NAK count, congestion window, progress for the retransmit limit. */
  #afterAcks(st: AckState, now: number): void {
    let lost = 0;
    const out = this.#outstanding;
    let write = this.#outHead;
    for (let i = this.#outHead; i < out.length; i++) {
      const f = out[i]!;
      if (!f.inFlight) {
        this.#outstandingBytes -= f.size;
        continue;
      }
      if (f.tsn < st.maxTsn && ++f.nakCount >= NAKS_FOR_LOSS) {
        f.flow.lost(f);
        this.#outstandingBytes -= f.size;
        lost += f.size;
        this.retransmits++;
        if (f.flow.wantsToSend) this.#ready.add(f.flow);
        continue;
      }
      out[write++] = f;
    }
    out.length = write;
    if (st.acked > 0 || lost > 0) this.#lastProgress = now;
    if (this.#outHead > 0 && this.#outHead >= out.length) {
      out.length = 0;
      this.#outHead = 0;
    }
    this.#updateCwnd(st.acked, lost);
    if (this.#outstanding.length === this.#outHead) this.#rtoAt = Infinity;
    else this.#rtoAt = now + this.#erto;
    if (st.acked > 0) this.#burstAt = Infinity;
  }

  /** RFC 7016 Appendix A, simplified: slow start below ssthresh, then about one MSS per RTT. */
  #updateCwnd(acked: number, lost: number): void {
    if (lost > 0) {
      const base = Math.min(this.#cwnd, this.#outstandingBytes + lost + acked);
      this.#ssthresh = Math.max(Math.floor(base / 2), CWND_INIT);
      this.#cwnd = this.#ssthresh;
      this.#ackedAccumulator = 0;
      return;
    }
    if (acked === 0) return;
    if (this.#cwnd < this.#ssthresh) {
      this.#cwnd += acked;
    } else {
      this.#ackedAccumulator += acked;
      while (this.#ackedAccumulator >= this.#cwnd) {
        this.#ackedAccumulator -= this.#cwnd;
        this.#cwnd += MSS;
      }
    }
    this.#cwnd = Math.min(this.#cwnd, 16 * 1024 * 1024);
  }

  #measureRtt(echo: number, now: number): void {
    const ticks = (timestampAt(now) - echo) & 0xffff;
    if (ticks >= 32768) return;
    const rtt = ticks * TIMESTAMP_TICK_MS;
    if (this.srtt < 0) {
      this.srtt = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = (3 * this.#rttvar + Math.abs(this.srtt - rtt)) / 4;
      this.srtt = (7 * this.srtt + rtt) / 8;
    }
    this.#mrto = this.srtt + 4 * this.#rttvar + DELACK_MS;
    this.#erto = Math.max(this.#mrto, MIN_ERTO);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Pings

  /** Sends a ping; resolves with the RTT in ms, or -1 without an answer within timeoutMs. */
  ping(now: number, timeoutMs: number, timer: (ms: number, fn: () => void) => void): Promise<number> {
    if (this.state !== 'open') return Promise.resolve(-1);
    const body = Buffer.alloc(9);
    body[0] = 0x70; // our own marker, so replies to keepalives are told apart
    body.writeDoubleBE(now, 1);
    const key = body.toString('hex');
    return new Promise((resolve) => {
      this.#pingWaiters.set(key, resolve);
      timer(timeoutMs, () => {
        if (this.#pingWaiters.delete(key)) resolve(-1);
      });
      this.#pings.push(body);
      this.#host.wantFlush(this);
    });
  }

  #onPingReply(body: Buffer, now: number): void {
    if (body.length === 0) {
      // librtmfp and MonaServer answer every ping with an empty reply: it answers the oldest one.
      const first = this.#pingWaiters.entries().next();
      if (!first.done) {
        const [key, w] = first.value;
        this.#pingWaiters.delete(key);
        w(now - Buffer.from(key, 'hex').readDoubleBE(1));
      }
      return;
    }
    const key = body.toString('hex');
    const w = this.#pingWaiters.get(key);
    if (w && body.length === 9) {
      this.#pingWaiters.delete(key);
      w(now - body.readDoubleBE(1));
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Output

  /** Sends what can be sent now. */
  flush(now: number): void {
    if (this.state === 'closed') return;
    let dataPackets = 0;
    for (let guard = 0; guard < 256; guard++) {
      const b = this.#builder;
      this.#startPacket(b, now);
      this.#addControl(b, now);
      let carriesData = false;
      if (this.state === 'open' || this.state === 'nearclose') {
        if (dataPackets < MAX_BURST && this.#burstAt === Infinity) carriesData = this.#addData(b, now);
      }
      if (b.chunkCount === 0) break;
      if (carriesData) dataPackets++;
      this.#send(b);
      if (!carriesData && !this.#controlPending()) break;
    }
    if (dataPackets >= MAX_BURST && this.#hasSendable()) {
      // Pace the rest: about one MSS per (srtt / cwnd in packets).
      const srtt = this.srtt > 0 ? this.srtt : 50;
      this.#burstAt = now + Math.max(1, (srtt * MSS) / this.#cwnd);
    }
    this.#scheduleTimer();
  }

  #startPacket(b: PacketBuilder, now: number): void {
    b.reset();
    let echo = -1;
    if (this.#tsRx >= 0) {
      const elapsed = now - this.#tsRxTime;
      if (elapsed < 128_000) echo = (this.#tsRx + Math.floor(elapsed / TIMESTAMP_TICK_MS)) & 0xffff;
    }
    b.start(this.#mode, timestampAt(now), echo);
  }

  #controlPending(): boolean {
    return (
      this.#ackNow || this.#pingReplies.length > 0 || this.#pings.length > 0 || this.#exceptions.length > 0 || this.#sendCloseAck || this.#rawChunks.length > 0
    );
  }

  #addControl(b: PacketBuilder, now: number): void {
    if (this.#sendCloseAck) {
      if (b.chunk(Chunk.SessionCloseAck, EMPTY)) this.#sendCloseAck = false;
      if (this.state === 'farclose') return;
    }
    if (this.#closeAt <= now && this.state === 'nearclose') {
      if (b.chunk(Chunk.SessionClose, EMPTY)) this.#closeAt = now + CLOSE_RTX_MS;
    }
    while (this.#rawChunks.length > 0 && b.chunk(this.#rawChunks[0]![0], this.#rawChunks[0]![1])) this.#rawChunks.shift();
    while (this.#exceptions.length > 0) {
      const [id, code] = this.#exceptions[0]!;
      if (!b.chunk(Chunk.FlowException, encodeVlus(id, code))) break;
      this.#exceptions.shift();
    }
    if (this.#ackNow || this.#delackAt <= now) this.#addAcks(b);
    while (this.#pingReplies.length > 0 && b.chunk(Chunk.PingReply, this.#pingReplies[0]!)) this.#pingReplies.shift();
    while (this.#pings.length > 0 && b.chunk(Chunk.Ping, this.#pings[0]!)) this.#pings.shift();
    for (const id of this.#probes) {
      if (this.#probeAt > now) break;
      b.chunk(Chunk.BufferProbe, encodeVlus(id));
    }
    if (this.#probeAt <= now) this.#probeAt = this.#probes.size > 0 ? now + this.#erto : Infinity;
  }

  #addAcks(b: PacketBuilder): void {
    let all = true;
    for (const rf of this.recvFlows.values()) {
      if (!rf.ackDue) continue;
      const a = rf.ack();
      if (!b.chunk(Chunk.AckRanges, encodeAckRanges(a, Math.max(16, b.room)))) {
        rf.ackDue = true;
        all = false;
        break;
      }
    }
    if (all) {
      this.#ackNow = false;
      this.#delackAt = Infinity;
      this.#dataPacketsSinceAck = 0;
    }
  }

  #hasSendable(): boolean {
    for (const f of this.#ready) if (f.wantsToSend) return true;
    return false;
  }

  /** Fills the packet with fragments of ready flows, highest priority first; true if any went in. */
  #addData(b: PacketBuilder, now: number): boolean {
    if (this.#ready.size === 0) return false;
    const flows = Array.from(this.#ready).sort((x, y) => y.priority - x.priority);
    let any = false;
    let timeCritical = false;
    for (const flow of flows) {
      if (this.#outstandingBytes >= this.#cwnd) break;
      flow.trim(now);
      if (!flow.wantsToSend) {
        this.#ready.delete(flow);
        if (flow.pendingCount > 0 && flow.rxBuffer === 0 && flow.outstanding === 0 && !this.#probes.has(flow.id)) {
          // The receiver's buffer is full and nothing is in flight to bring an ack: probe it (3.6.2.5).
          this.#probes.add(flow.id);
          if (this.#probeAt === Infinity) this.#probeAt = now + this.#erto;
        }
        continue;
      }
      const flowFsn = flow.forwardSeq(now);
      let fsn = flowFsn;
      let prevSeq = -2;
      let full = false;
      for (const f of flow.sendable(now)) {
        if (this.#outstandingBytes >= this.#cwnd) {
          full = true;
          break;
        }
        const abn = f.message.abandoned;
        // Until the flow is acknowledged its first chunk in each packet repeats the startup options, and
        // only the first: librtmfp reads no options in Next User Data chunks.
        const withOptions = flow.needsOptions && prevSeq === -2 ? flow.startupOptions : null;
        const fin = f.seq === flow.finalSeq ? UD_FIN : 0;
        const flags = f.fra | (abn ? UD_ABN : 0) | fin | (withOptions ? UD_OPT : 0);
        const dataLen = abn ? 0 : f.data.length;
        const optLen = withOptions ? withOptions.length : 0;
        const next = f.seq === prevSeq + 1;
        // The FSN may not pass the fragment itself (fsnOffset >= 0); Next User Data keeps the previous FSN.
        if (!next) fsn = Math.min(flowFsn, f.seq);
        const headLen = next ? 1 : userDataHeaderLength(flow.id, f.seq, f.seq - fsn);
        const at = b.reserve(next ? Chunk.NextUserData : Chunk.UserData, headLen + optLen + dataLen);
        if (at < 0) {
          full = true;
          break;
        }
        let p = next ? ((b.buf[at] = flags), at + 1) : writeUserDataHeader(b.buf, at, flags, flow.id, f.seq, f.seq - fsn);
        if (withOptions) p += withOptions.copy(b.buf, p);
        if (dataLen > 0) f.data.copy(b.buf, p);
        const size = 3 + headLen + optLen + dataLen;
        if (f.everSent) this.retransmits++;
        flow.sent(f, size, this.#nextTsn++);
        this.#outstanding.push(f);
        this.#outstandingBytes += size;
        prevSeq = f.seq;
        any = true;
        if (flow.priority >= TIME_CRITICAL_PRIORITY) timeCritical = true;
      }
      if (!flow.wantsToSend) this.#ready.delete(flow);
      if (full) break;
    }
    if (any) {
      if (timeCritical) b.buf[0]! |= FLAG_TC;
      if (this.#rtoAt === Infinity) this.#rtoAt = now + this.#erto;
    }
    return any;
  }

  #send(b: PacketBuilder): void {
    const datagram = this.#cipher.seal(b.bytes(), this.txId);
    this.bytesOut += datagram.length;
    this.packetsOut++;
    this.#host.transmit(datagram, this.address);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Timers

  #scheduleTimer(): void {
    if (this.state === 'closed') return;
    const live = this.state === 'open' || this.state === 'nearclose';
    const at = Math.min(
      this.#rtoAt,
      this.#delackAt,
      this.#burstAt,
      this.#probeAt,
      this.#closeAt,
      this.#closeDeadline,
      this.#lingerUntil,
      live ? this.#lastRecv + (this.#keepaliveSent || this.state !== 'open' ? this.#limits.idleMs : this.#limits.keepaliveMs) : Infinity,
      this.#recvDoneAt.size > 0 ? this.#oldestDone() + RECV_LINGER_MS : Infinity,
    );
    this.#host.schedule(this, at);
  }

  #oldestDone(): number {
    let min = Infinity;
    for (const t of this.#recvDoneAt.values()) if (t < min) min = t;
    return min;
  }

  timer(now: number): void {
    if (this.state === 'closed') return;
    if (now >= this.#lingerUntil || now >= this.#closeDeadline) {
      this.#finish(now);
      return;
    }
    if (now - this.#lastRecv >= this.#limits.idleMs && this.state !== 'farclose') {
      this.#abort(new RtmfpError('ERR_RTMFP_IDLE', `nothing received for ${Math.round((now - this.#lastRecv) / 1000)} s`));
      return;
    }
    if (!this.#keepaliveSent && now - this.#lastRecv >= this.#limits.keepaliveMs && this.state === 'open') {
      this.#keepaliveSent = true;
      this.#pings.push(KEEPALIVE);
    }
    if (now >= this.#rtoAt) this.#onTimeout(now);
    if (now >= this.#burstAt) this.#burstAt = Infinity;
    for (const [id, t] of this.#recvDoneAt) {
      if (now - t >= RECV_LINGER_MS) {
        this.#recvDoneAt.delete(id);
        this.recvFlows.delete(id);
      }
    }
    if (this.#closed()) return;
    this.flush(now);
  }

  /** Re-reads the state (TypeScript narrows it across the calls above). */
  #closed(): boolean {
    return this.state === 'closed';
  }

  #onTimeout(now: number): void {
    this.#rtoAt = Infinity;
    if (this.#outstanding.length === this.#outHead) return;
    if (now - this.#lastProgress >= this.#limits.retransmitLimitMs) {
      this.#abort(new RtmfpError('ERR_RTMFP_PEER_GONE', `no acknowledgement for ${Math.round((now - this.#lastProgress) / 1000)} s`));
      return;
    }
    for (let i = this.#outHead; i < this.#outstanding.length; i++) {
      const f = this.#outstanding[i]!;
      if (f.inFlight) {
        f.flow.lost(f);
        if (f.flow.wantsToSend) this.#ready.add(f.flow);
      }
    }
    this.#outstanding.length = 0;
    this.#outHead = 0;
    this.#outstandingBytes = 0;
    this.#ssthresh = Math.max(this.#ssthresh === Infinity ? this.#cwnd : this.#ssthresh, Math.floor((this.#cwnd * 3) / 4));
    this.#cwnd = CWND_TIMEDOUT;
    this.#erto = Math.max(Math.min(this.#erto * Math.SQRT2, MAX_ERTO), this.#mrto);
    this.#burstAt = Infinity;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Closing

  /** Orderly close (3.5.5.1): Close Request until acknowledged or NEARCLOSE_MS passed. */
  close(now: number): void {
    if (this.state !== 'open') return;
    this.state = 'nearclose';
    this.#closeFlows();
    this.#closeAt = now;
    this.#closeDeadline = now + NEARCLOSE_MS;
    this.#host.wantFlush(this);
    this.#scheduleTimer();
    this.#notifyClosed();
  }

  #onCloseRequest(now: number): void {
    this.#sendCloseAck = true;
    if (this.state === 'nearclose') {
      this.#finish(now);
      return;
    }
    if (this.state !== 'open') return;
    this.state = 'farclose';
    this.#closeFlows();
    this.#lingerUntil = now + FARCLOSE_LINGER_MS;
    this.#host.wantFlush(this);
    this.#scheduleTimer();
    this.#notifyClosed();
  }

  /** Ends at once without telling the peer (it vanished, or the endpoint shuts down hard). */
  abort(reason?: RtmfpError): void {
    this.#abort(reason ?? new RtmfpError('ERR_RTMFP_ABORTED', 'session aborted'));
  }

  #abort(err: RtmfpError): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.#closeFlows();
    this.state = 'closed';
    this.#host.released(this);
    if (wasOpen) this.#notifyClosed(err);
  }

  #finish(now: number): void {
    if (this.state === 'closed') return;
    if (this.#sendCloseAck && this.state !== 'farclose') this.flush(now);
    this.state = 'closed';
    this.#host.released(this);
  }

  #closedNotified = false;
  #notifyClosed(err?: RtmfpError): void {
    if (this.#closedNotified) return;
    this.#closedNotified = true;
    for (const w of this.#pingWaiters.values()) w(-1);
    this.#pingWaiters.clear();
    this.onClose(err);
  }

  #closeFlows(): void {
    for (const f of this.sendFlows.values()) f.abort();
    this.sendFlows.clear();
    for (const rf of this.recvFlows.values()) rf.reject(FLOW_REJECTED);
    this.recvFlows.clear();
    this.#recvDoneAt.clear();
    this.#ready.clear();
    this.#outstanding.length = 0;
    this.#outHead = 0;
    this.#outstandingBytes = 0;
    this.#rtoAt = Infinity;
    this.#delackAt = Infinity;
    this.#burstAt = Infinity;
    this.#probes.clear();
    this.#probeAt = Infinity;
  }
}

interface AckState {
  acked: number;
  maxTsn: number;
}

const EMPTY = Buffer.alloc(0);
const KEEPALIVE = Buffer.from([0x6b]); // "k": a keepalive ping, answered like any other

export { MSS as RTMFP_MSS };
