/**
 * The session chunks of RFC 7016 section 2.3 (those of an open session; the handshake chunks are in
 * handshake.ts): User Data and Next User Data (2.3.11, 2.3.12), the two acknowledgement forms (2.3.13,
 * 2.3.14), Buffer Probe (2.3.15), Flow Exception Report (2.3.16), Ping and Ping Reply (2.3.9, 2.3.10),
 * Session Close Request and Acknowledgement (2.3.17, 2.3.18). Decoders take a chunk body and return a
 * plain object or throw RtmfpError; encoders write bodies.
 */
import { RtmfpError } from '../errors';
import { Cursor, readOptions, vluLength, writeVlu, type RtmfpOption } from './wire';

export const UD_OPT = 0x80;
export const UD_FRA_MASK = 0x30;
export const FRA_WHOLE = 0x00;
export const FRA_BEGIN = 0x10;
export const FRA_END = 0x20;
export const FRA_MIDDLE = 0x30;
export const UD_ABN = 0x02;
export const UD_FIN = 0x01;

/** User data options (2.3.11.1.1, 2.3.11.1.2). */
export const OPTION_METADATA = 0x00;
export const OPTION_RETURN_ASSOCIATION = 0x0a;

export interface UserDataChunk {
  flags: number;
  flowId: number;
  seq: number;
  /** seq - fsn: the forward sequence number is seq - fsnOffset. */
  fsnOffset: number;
  options: RtmfpOption[] | null;
  data: Buffer;
}

export function decodeUserData(body: Buffer): UserDataChunk {
  const c = new Cursor(body);
  const flags = c.u8('user data flags');
  const flowId = c.vlu('flow id');
  const seq = c.vlu('sequence number');
  const fsnOffset = c.vlu('fsn offset');
  if (fsnOffset > seq) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', `fsn offset ${fsnOffset} beyond sequence number ${seq}`);
  const options = flags & UD_OPT ? readOptions(c, 'user data', true) : null;
  return { flags, flowId, seq, fsnOffset, options, data: c.rest() };
}

/** Next User Data: the flow, sequence number and fsn offset follow from the chunk before (2.3.12). */
export function decodeNextUserData(body: Buffer, prev: { flowId: number; seq: number; fsnOffset: number }): UserDataChunk {
  // After 2^53 - 1 the next sequence number is not exact (and cannot be acknowledged: writeVlu refuses it).
  if (prev.seq >= Number.MAX_SAFE_INTEGER) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'next user data after sequence number 2^53 - 1');
  const c = new Cursor(body);
  const flags = c.u8('next user data flags');
  const options = flags & UD_OPT ? readOptions(c, 'next user data', true) : null;
  return { flags, flowId: prev.flowId, seq: prev.seq + 1, fsnOffset: prev.fsnOffset + 1, options, data: c.rest() };
}

/** Length of a User Data chunk body without options and data. */
export function userDataHeaderLength(flowId: number, seq: number, fsnOffset: number): number {
  return 1 + vluLength(flowId) + vluLength(seq) + vluLength(fsnOffset);
}

/** Writes a User Data chunk header (flags..fsnOffset) at `at`; returns the offset after it. */
export function writeUserDataHeader(buf: Buffer, at: number, flags: number, flowId: number, seq: number, fsnOffset: number): number {
  buf[at++] = flags;
  at = writeVlu(buf, at, flowId);
  at = writeVlu(buf, at, seq);
  return writeVlu(buf, at, fsnOffset);
}

export interface AckChunk {
  flowId: number;
  /** Receive buffer free, in 1024-byte blocks (2.3.13). */
  bufferBlocks: number;
  cumulativeAck: number;
  /** Sequence numbers received beyond cumulativeAck + 1, as inclusive [from, to] ranges in order. */
  ranges: Array<[number, number]>;
}

/** A flow that has nothing else to say acknowledges this many bytes of buffer per block. */
export const BUFFER_BLOCK = 1024;

export function decodeAckRanges(body: Buffer): AckChunk {
  const c = new Cursor(body);
  const flowId = c.vlu('ack flow id');
  const bufferBlocks = c.vlu('ack buffer');
  const cumulativeAck = c.vlu('cumulative ack');
  const ranges: Array<[number, number]> = [];
  let next = cumulativeAck + 1;
  while (!c.atEnd()) {
    const holes = c.vlu('ack holes') + 1;
    const received = c.vlu('ack received') + 1;
    const from = next + holes;
    const to = from + received - 1;
    if (!Number.isSafeInteger(to) || !Number.isSafeInteger(from)) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'ack range beyond 2^53');
    ranges.push([from, to]);
    next = to + 1;
    if (ranges.length > 4096) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'more than 4096 ack ranges');
  }
  return { flowId, bufferBlocks, cumulativeAck, ranges };
}

export function decodeAckBitmap(body: Buffer): AckChunk {
  const c = new Cursor(body);
  const flowId = c.vlu('ack flow id');
  const bufferBlocks = c.vlu('ack buffer');
  const cumulativeAck = c.vlu('cumulative ack');
  const ranges: Array<[number, number]> = [];
  const bits = c.rest();
  // Bit 0 of the first byte is cumulativeAck + 2 (cumulativeAck + 1 is missing by definition).
  let open = -1;
  for (let i = 0; i < bits.length * 8; i++) {
    const set = (bits[i >> 3]! >> (i & 7)) & 1;
    const seq = cumulativeAck + 2 + i;
    if (set && open < 0) open = seq;
    if (!set && open >= 0) {
      ranges.push([open, seq - 1]);
      open = -1;
    }
  }
  if (open >= 0) ranges.push([open, cumulativeAck + 1 + bits.length * 8]);
  if (ranges.length > 0 && !Number.isSafeInteger(ranges[ranges.length - 1]![1])) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'ack range beyond 2^53');
  return { flowId, bufferBlocks, cumulativeAck, ranges };
}

/** Encodes an Ack Ranges body; ranges that do not fit in `maxLength` are left out (the ack stays valid). */
export function encodeAckRanges(ack: AckChunk, maxLength = 1100): Buffer {
  // The three header numbers always fit (up to 24 bytes); ranges only as far as maxLength allows.
  const tmp = Buffer.allocUnsafe(Math.max(24, Math.min(maxLength, 32 + ack.ranges.length * 16)));
  let p = writeVlu(tmp, 0, ack.flowId);
  p = writeVlu(tmp, p, ack.bufferBlocks);
  p = writeVlu(tmp, p, ack.cumulativeAck);
  let next = ack.cumulativeAck + 1;
  for (const [from, to] of ack.ranges) {
    const holes = from - next - 1;
    const received = to - from;
    if (holes < 0 || received < 0) throw new RtmfpError('ERR_RTMFP_BAD_ACK', 'ack ranges out of order');
    if (p + vluLength(holes) + vluLength(received) > tmp.length) break;
    p = writeVlu(tmp, p, holes);
    p = writeVlu(tmp, p, received);
    next = to + 1;
  }
  return Buffer.from(tmp.subarray(0, p));
}

export function decodeFlowId(body: Buffer, what: string): number {
  return new Cursor(body).vlu(what);
}

export function decodeFlowException(body: Buffer): { flowId: number; code: number } {
  const c = new Cursor(body);
  return { flowId: c.vlu('exception flow id'), code: c.atEnd() ? 0 : c.vlu('exception code') };
}

export function encodeVlus(...values: number[]): Buffer {
  let n = 0;
  for (const v of values) n += vluLength(v);
  const b = Buffer.allocUnsafe(n);
  let p = 0;
  for (const v of values) p = writeVlu(b, p, v);
  return b;
}
