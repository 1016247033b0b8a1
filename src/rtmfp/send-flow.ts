/**
 * A sending flow, RFC 7016 section 3.6.2: messages cut into fragments with sequence numbers, each
 * fragment in flight until acknowledged, lost (three later transmissions acknowledged, 3.6.2.4) or timed
 * out, then sent again unless its message was abandoned. Partial reliability (3.6.2.3.1): a message may
 * carry a deadline after which what is not yet delivered is abandoned; the forward sequence number tells
 * the receiver it may stop waiting for it. Commands get no deadline (never abandoned); media does.
 *
 * The session owns transmission order, congestion control and the ack clock; a flow only says what it
 * would send and learns what was acknowledged or lost.
 */
import { RtmfpError } from '../errors';
import { FRA_BEGIN, FRA_END, FRA_MIDDLE, FRA_WHOLE, OPTION_METADATA, OPTION_RETURN_ASSOCIATION } from './chunks';
import { Writer, writeOption } from './wire';

/** What the session needs from a flow's fragments. */
export class SendFrag {
  readonly flow: SendFlow;
  readonly seq: number;
  readonly fra: number;
  readonly data: Buffer;
  readonly message: OutMessage;
  inFlight = false;
  everSent = false;
  sentAbandoned = false;
  acked = false;
  /** Transmission sequence number of the last transmission (session-wide order, for loss detection). */
  tsn = 0;
  nakCount = 0;
  /** Bytes this fragment took in its last packet (chunk header included): what congestion control counts. */
  size = 0;

  constructor(flow: SendFlow, seq: number, fra: number, data: Buffer, message: OutMessage) {
    this.flow = flow;
    this.seq = seq;
    this.fra = fra;
    this.data = data;
    this.message = message;
  }
}

export class OutMessage {
  /** ms (same clock as `now`), Infinity for never. */
  deadline: number;
  abandoned = false;
  /** Fragments not yet acknowledged (or abandoned). */
  pending = 0;
  readonly bytes: number;

  constructor(deadline: number, bytes: number) {
    this.deadline = deadline;
    this.bytes = bytes;
  }

  /** Abandons when the deadline passed; true if abandoned. */
  check(now: number): boolean {
    if (!this.abandoned && now >= this.deadline) this.abandoned = true;
    return this.abandoned;
  }
}

export interface SendFlowHost {
  /** The flow has something it could send. */
  flowReady(flow: SendFlow): void;
  /** The flow is finished (FIN acknowledged, or it was rejected and closed): forget its id. */
  flowDone(flow: SendFlow): void;
  /** Largest fragment payload. */
  readonly fragmentSize: number;
}

export type SendFlowState = 'open' | 'closing' | 'complete';

export class SendFlow {
  readonly id: number;
  readonly metadata: Buffer;
  /** The receiving flow this one answers (return flow association, 2.3.11.1.2), or -1. */
  readonly associatedFlowId: number;
  priority: number;
  state: SendFlowState = 'open';
  /** Set by a Flow Exception Report from the receiver (the flow was rejected). */
  exception: number | null = null;
  /** The receiver's last advertised buffer, bytes (RFC 7016 3.6.3.5); optimistic before the first ack. */
  rxBuffer = 65536;
  /** Bytes of this flow in flight. */
  outstanding = 0;
  /** Bytes queued and not yet acknowledged (for backpressure). */
  queuedBytes = 0;
  /** Fragments from the lowest unacknowledged sequence number on. */
  readonly queue: SendFrag[] = [];
  #head = 0;
  #nextSeq = 1;
  #finalSeq = -1;
  /** Startup options (metadata, association) go with the first fragment until it is acknowledged. */
  readonly startupOptions: Buffer;
  #everAcked = false;
  readonly host: SendFlowHost;
  /** Told when the receiver rejects the flow (its Flow Exception Report code). */
  onException: (code: number) => void = () => {};
  /** Told when every message was delivered or abandoned and the queue emptied (a writer may refill). */
  onDrain: () => void = () => {};
  /** Told once the flow finished: its FIN and everything before it acknowledged. */
  onComplete: () => void = () => {};

  constructor(host: SendFlowHost, id: number, metadata: Buffer, associatedFlowId: number, priority: number) {
    this.host = host;
    this.id = id;
    this.metadata = metadata;
    this.associatedFlowId = associatedFlowId;
    this.priority = priority;
    const w = new Writer(metadata.length + 16);
    writeOption(w, OPTION_METADATA, metadata);
    if (associatedFlowId >= 0) {
      const a = new Writer(8).vlu(associatedFlowId).finish();
      writeOption(w, OPTION_RETURN_ASSOCIATION, a);
    }
    w.vlu(0); // end of options
    this.startupOptions = w.finish();
  }

  get isOpen(): boolean {
    return this.state === 'open' && this.exception === null;
  }

  /** Unacknowledged fragments, from the lowest sequence number. */
  get pendingCount(): number {
    return this.queue.length - this.#head;
  }

  /** Startup options still needed: nothing of this flow was acknowledged yet. */
  get needsOptions(): boolean {
    return !this.#everAcked;
  }

  /**
   * Queues one message; `lifetimeMs` (from `now`) makes it abandonable. Returns the message (its
   * `abandoned` tells later whether it was given up), or null when the flow can no longer send.
   */
  write(data: Buffer, now: number, lifetimeMs = Infinity): OutMessage | null {
    if (!this.isOpen) return null;
    const size = this.host.fragmentSize;
    const msg = new OutMessage(lifetimeMs === Infinity ? Infinity : now + lifetimeMs, data.length);
    if (data.length <= size) {
      this.#push(new SendFrag(this, this.#nextSeq++, FRA_WHOLE, data, msg));
    } else {
      for (let off = 0; off < data.length; off += size) {
        const end = Math.min(off + size, data.length);
        const fra = off === 0 ? FRA_BEGIN : end === data.length ? FRA_END : FRA_MIDDLE;
        this.#push(new SendFrag(this, this.#nextSeq++, fra, data.subarray(off, end), msg));
      }
    }
    this.host.flowReady(this);
    return msg;
  }

  #push(f: SendFrag): void {
    f.message.pending++;
    this.queue.push(f);
    this.queuedBytes += f.data.length;
  }

  /** Ends the flow after what is queued (the last fragment carries FIN). */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    if (this.pendingCount === 0 || this.exception !== null) {
      // Nothing left to carry the FIN: send an empty abandoned fragment with it (3.6.2.3.2).
      const msg = new OutMessage(Infinity, 0);
      msg.abandoned = true;
      this.#push(new SendFrag(this, this.#nextSeq++, FRA_WHOLE, Buffer.alloc(0), msg));
    }
    this.#finalSeq = this.#nextSeq - 1;
    this.host.flowReady(this);
  }

  get finalSeq(): number {
    return this.#finalSeq;
  }

  /** The forward sequence number to announce: everything up to it is delivered or abandoned (3.6.2.3.1). */
  forwardSeq(now: number): number {
    let fsn = this.#lowest() - 1;
    for (let i = this.#head; i < this.queue.length; i++) {
      const f = this.queue[i]!;
      if (f.acked) {
        fsn = f.seq;
        continue;
      }
      if (!f.message.check(now)) break;
      // An abandoned fragment still in flight without the ABN flag may yet arrive: wait for it.
      if (f.inFlight && !f.sentAbandoned) break;
      fsn = f.seq;
    }
    return fsn;
  }

  #lowest(): number {
    return this.#head < this.queue.length ? this.queue[this.#head]!.seq : this.#nextSeq;
  }

  /** True when a fragment could go out now (flow control permitting). */
  get wantsToSend(): boolean {
    if (this.pendingCount === 0) return false;
    return this.exception !== null || this.rxBuffer > this.outstanding;
  }

  /** Fragments to (re)transmit, in order; the caller marks what it sent. */
  *sendable(now: number): Generator<SendFrag> {
    for (let i = this.#head; i < this.queue.length; i++) {
      if (this.outstanding >= this.rxBuffer && this.exception === null) return;
      const f = this.queue[i]!;
      if (f.inFlight || f.acked) continue;
      // Sent once and lost: a message without a deadline is sent again; abandoned ones go as ABN.
      f.message.check(now);
      yield f;
    }
  }

  /** The session sent `f` in a packet. */
  sent(f: SendFrag, size: number, tsn: number): void {
    f.sentAbandoned = f.message.abandoned;
    f.inFlight = true;
    f.everSent = true;
    f.size = size;
    f.tsn = tsn;
    f.nakCount = 0;
    this.outstanding += size;
  }

  /** `f` left flight without an acknowledgement (lost or timed out). */
  lost(f: SendFrag): void {
    if (!f.inFlight) return;
    f.inFlight = false;
    this.outstanding -= f.size;
  }

  /**
   * Applies an acknowledgement; calls `acked(frag)` for each fragment newly acknowledged (the session
   * removes it from flight). Returns the bytes newly acknowledged.
   */
  onAck(bufferBytes: number, cumulative: number, ranges: ReadonlyArray<[number, number]>, now: number, acked: (f: SendFrag) => void): number {
    this.rxBuffer = bufferBytes;
    let bytes = 0;
    const take = (f: SendFrag): void => {
      if (f.acked) return;
      f.acked = true;
      if (f.inFlight) {
        f.inFlight = false;
        this.outstanding -= f.size;
        bytes += f.size;
      }
      acked(f);
    };
    let i = this.#head;
    for (; i < this.queue.length && this.queue[i]!.seq <= cumulative; i++) take(this.queue[i]!);
    if (ranges.length > 0) {
      let r = 0;
      for (let j = i; j < this.queue.length && r < ranges.length; j++) {
        const f = this.queue[j]!;
        while (r < ranges.length && ranges[r]![1] < f.seq) r++;
        if (r < ranges.length && f.seq >= ranges[r]![0]) take(f);
      }
    }
    if (cumulative >= 1 || ranges.length > 0) this.#everAcked = true;
    this.trim(now);
    return bytes;
  }

  /**
   * Drops acknowledged fragments from the front of the queue. Abandoned ones stay until acknowledged:
   * they are sent as empty ABN fragments, because Flash-era receivers (librtmfp, MonaServer) ignore the
   * forward sequence number and would otherwise wait for them forever (notes, trap 7).
   */
  trim(_now: number): void {
    const q = this.queue;
    let h = this.#head;
    while (h < q.length) {
      const f = q[h]!;
      if (!f.acked) break;
      this.queuedBytes -= f.data.length;
      f.message.pending--;
      h++;
    }
    if (h !== this.#head) {
      this.#head = h;
      if (h > 64 && h * 2 > q.length) {
        q.splice(0, h);
        this.#head = 0;
      }
      if (this.pendingCount === 0) {
        if (this.state === 'closing') {
          this.state = 'complete';
          this.host.flowDone(this);
          this.onComplete();
        } else {
          this.onDrain();
        }
      }
    }
  }

  /** The receiver rejected the flow (Flow Exception Report): stop, abandon everything, close. */
  onFlowException(code: number): void {
    if (this.exception !== null) return;
    this.exception = code;
    for (let i = this.#head; i < this.queue.length; i++) this.queue[i]!.message.abandoned = true;
    try {
      this.onException(code);
    } finally {
      this.close();
    }
  }

  /** The session is gone: forget everything. */
  abort(): void {
    this.state = 'complete';
    this.queue.length = 0;
    this.#head = 0;
    this.outstanding = 0;
    this.queuedBytes = 0;
  }
}

/** Shown in errors when a flow is used after it closed. */
export function flowClosedError(id: number): RtmfpError {
  return new RtmfpError('ERR_RTMFP_FLOW_CLOSED', `flow ${id} is closed`);
}
