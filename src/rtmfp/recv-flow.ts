/**
 * A receiving flow, RFC 7016 section 3.6.3: fragments arrive in any order, are acknowledged (cumulative
 * ack plus ranges), reassembled into messages and delivered in sequence order. The forward sequence
 * number (3.6.3.2) lets the sender abandon fragments: everything at or below it counts as received, and a
 * message that lost a fragment that way is dropped whole, never delivered in part.
 *
 * The receive buffer is bounded (`maxBuffer`): what is held out of order or half reassembled counts
 * against it, the free part is advertised in every ack, and a sender that sends beyond it anyway has the
 * excess dropped (it will retransmit once the window opens).
 */
import { RtmfpError } from '../errors';
import { FRA_BEGIN, FRA_END, FRA_MIDDLE, FRA_WHOLE, UD_ABN, UD_FIN, UD_FRA_MASK, BUFFER_BLOCK, type AckChunk } from './chunks';

export type RecvFlowState = 'open' | 'complete' | 'rejected';

interface HeldFrag {
  fra: number;
  data: Buffer;
  abandoned: boolean;
}

export class RecvFlow {
  readonly id: number;
  readonly metadata: Buffer;
  /** The flow of ours this one answers (return association), or -1. */
  readonly associatedFlowId: number;
  state: RecvFlowState = 'open';
  /** Everything at or below this is received or abandoned. */
  cumulative = 0;
  readonly maxBuffer: number;
  /** Fragments above `cumulative + 1` that arrived early, by sequence number. */
  readonly #held = new Map<number, HeldFrag>();
  #heldBytes = 0;
  /** The message being reassembled from in-order fragments. */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** After a lost (abandoned) fragment: drop middle/end fragments until the next message starts. */
  #skipping = false;
  #finalSeq = -1;
  /** Set when the peer sent something since the last ack of this flow. */
  ackDue = false;
  /** The receiver rejected the flow with this code (sent in Flow Exception Reports). */
  exceptionCode = 0;
  onMessage: (data: Buffer) => void = () => {};
  /** The sender finished the flow (every message up to FIN received or abandoned). */
  onComplete: () => void = () => {};

  /** Largest message reassembled; a larger one is a protocol error (ERR_RTMFP_MESSAGE_TOO_LARGE). */
  readonly maxMessage: number;

  constructor(id: number, metadata: Buffer, associatedFlowId: number, maxBuffer: number, maxMessage: number) {
    this.id = id;
    this.metadata = metadata;
    this.associatedFlowId = associatedFlowId;
    this.maxBuffer = maxBuffer;
    this.maxMessage = maxMessage;
  }

  /** Free receive buffer in 1024-byte blocks. */
  get bufferBlocks(): number {
    if (this.state === 'rejected') return 0;
    // A message in reassembly does not count: one larger than the buffer must still be able to finish
    // (its size is bounded by maxMessage instead).
    // Never 0 while open: librtmfp and MonaServer treat a zero window as fatal (notes, trap 8).
    return Math.max(1, Math.floor((this.maxBuffer - this.#heldBytes) / BUFFER_BLOCK));
  }

  get heldBytes(): number {
    return this.#heldBytes + this.#partialBytes;
  }

  /** Rejects the flow: nothing more is delivered; the session answers its data with exception reports. */
  reject(code: number): void {
    if (this.state !== 'open') return;
    this.state = 'rejected';
    this.exceptionCode = code;
    this.#held.clear();
    this.#heldBytes = 0;
    this.#partial = [];
    this.#partialBytes = 0;
  }

  /**
   * One User Data fragment. `fsn` is its forward sequence number. Returns false when it was dropped for
   * want of buffer (the sender retransmits). Delivers whatever became complete and in order.
   */
  onData(flags: number, seq: number, fsn: number, data: Buffer): boolean {
    this.ackDue = true;
    if (this.state !== 'open') return true;
    if (flags & UD_FIN) {
      if (this.#finalSeq >= 0 && this.#finalSeq !== seq) throw new RtmfpError('ERR_RTMFP_BAD_FLOW', `flow ${this.id}: second FIN at ${seq}`);
      this.#finalSeq = seq;
    }
    if (seq <= this.cumulative && fsn <= this.cumulative) {
      this.#maybeComplete();
      return true; // duplicate
    }
    const abandoned = (flags & UD_ABN) !== 0;
    if (seq > this.cumulative && !this.#held.has(seq)) {
      const h: HeldFrag = { fra: flags & UD_FRA_MASK, data: abandoned ? EMPTY : data, abandoned };
      // Each held fragment costs at least HELD_OVERHEAD, so empty abandoned ones cannot grow the map freely.
      if (this.#heldBytes + heldCost(h) > this.maxBuffer + BUFFER_BLOCK) return false;
      this.#held.set(seq, h);
      this.#heldBytes += heldCost(h);
    }
    if (fsn > this.cumulative) this.#forwardTo(fsn);
    this.#advance();
    this.#maybeComplete();
    return true;
  }

  /** The sender abandoned everything up to fsn: what was missing there is lost. */
  #forwardTo(fsn: number): void {
    const below = Array.from(this.#held.keys()).filter((k) => k <= fsn).sort((a, b) => a - b);
    for (const s of below) {
      const h = this.#held.get(s)!;
      this.#held.delete(s);
      this.#heldBytes -= heldCost(h);
      if (s !== this.cumulative + 1) this.#lose();
      this.cumulative = s;
      this.#consume(h);
    }
    if (fsn > this.cumulative) {
      this.#lose();
      this.cumulative = fsn;
    }
  }

  #advance(): void {
    for (;;) {
      const h = this.#held.get(this.cumulative + 1);
      if (!h) return;
      this.#held.delete(this.cumulative + 1);
      this.#heldBytes -= heldCost(h);
      this.cumulative++;
      this.#consume(h);
    }
  }

  /** A fragment that will never come: the message it belonged to is dropped. */
  #lose(): void {
    this.#partial = [];
    this.#partialBytes = 0;
    this.#skipping = true;
  }

  #consume(h: HeldFrag): void {
    if (h.abandoned) {
      this.#lose();
      return;
    }
    switch (h.fra) {
      case FRA_WHOLE:
        this.#partial = [];
        this.#partialBytes = 0;
        this.#skipping = false;
        this.#deliver(h.data);
        return;
      case FRA_BEGIN:
        this.#skipping = false;
        this.#partial = [h.data];
        this.#partialBytes = h.data.length;
        return;
      case FRA_MIDDLE:
      case FRA_END:
        if (this.#skipping || this.#partial.length === 0) {
          this.#skipping = true;
          return;
        }
        this.#partial.push(h.data);
        this.#partialBytes += h.data.length;
        if (this.#partialBytes > this.maxMessage) {
          throw new RtmfpError('ERR_RTMFP_MESSAGE_TOO_LARGE', `flow ${this.id}: message over ${this.maxMessage} bytes`);
        }
        if (h.fra === FRA_END) {
          const whole = Buffer.concat(this.#partial, this.#partialBytes);
          this.#partial = [];
          this.#partialBytes = 0;
          this.#deliver(whole);
        }
        return;
    }
  }

  #deliver(data: Buffer): void {
    if (this.state !== 'open') return;
    this.onMessage(data);
  }

  #maybeComplete(): void {
    if (this.state === 'open' && this.#finalSeq >= 0 && this.cumulative >= this.#finalSeq) {
      this.state = 'complete';
      this.onComplete();
    }
  }

  /** The acknowledgement to send now. */
  ack(): AckChunk {
    this.ackDue = false;
    const ranges: Array<[number, number]> = [];
    if (this.#held.size > 0) {
      const seqs = Array.from(this.#held.keys()).sort((a, b) => a - b);
      let from = seqs[0]!;
      let to = from;
      for (let i = 1; i < seqs.length; i++) {
        const s = seqs[i]!;
        if (s === to + 1) {
          to = s;
          continue;
        }
        ranges.push([from, to]);
        from = to = s;
      }
      ranges.push([from, to]);
    }
    return { flowId: this.id, bufferBlocks: this.bufferBlocks, cumulativeAck: this.cumulative, ranges };
  }
}

const EMPTY = Buffer.alloc(0);
/** Bookkeeping a held fragment costs beyond its data (counted against the receive buffer). */
const HELD_OVERHEAD = 64;

function heldCost(h: HeldFrag): number {
  return h.data.length + HELD_OVERHEAD;
}

export { FRA_BEGIN, FRA_END, FRA_MIDDLE, FRA_WHOLE };
