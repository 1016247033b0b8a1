/**
 * RTMFP packets, RFC 7016 section 2.2: the scrambled session id in front of the encrypted packet
 * (2.2.1), and inside the packet the flags byte, the optional timestamp and timestamp echo (2.2.4) and
 * the chunks (2.3), each a type byte and a 16-bit length. Encryption lives in crypto.ts; this file only
 * frames plaintext.
 */
import { RtmfpError } from '../errors';

export const FLAG_TC = 0x80;
export const FLAG_TCR = 0x40;
export const FLAG_TS = 0x08;
export const FLAG_TSE = 0x04;
export const MODE_MASK = 0x03;
export const MODE_INITIATOR = 1;
export const MODE_RESPONDER = 2;
export const MODE_STARTUP = 3;

export const Chunk = {
  PacketFragment: 0x7f,
  IHello: 0x30,
  ForwardedIHello: 0x0f,
  RHello: 0x70,
  Redirect: 0x71,
  RHelloCookieChange: 0x79,
  IIKeying: 0x38,
  RIKeying: 0x78,
  Ping: 0x01,
  PingReply: 0x41,
  UserData: 0x10,
  NextUserData: 0x11,
  AckBitmap: 0x50,
  AckRanges: 0x51,
  BufferProbe: 0x18,
  FlowException: 0x5e,
  SessionClose: 0x0c,
  SessionCloseAck: 0x4c,
  /** Padding: the rest of the packet is filler (2.3.1). */
  Padding: 0xff,
  /** Also padding in practice (Flash Player fills with 0x00 too). */
  Padding0: 0x00,
} as const;

export const CHUNK_HEADER_LENGTH = 3;
/** Timestamps count 4 ms ticks, 16 bits (2.2.4). */
export const TIMESTAMP_TICK_MS = 4;

/** Largest packet (before encryption) we send in an open session, as rtmfp-cpp: fits 1280-byte IPv6 paths. */
export const MAX_SESSION_PACKET = 1200;
/** Startup packets may be larger (certificates); RFC 7016 allows up to 8192, peers send far less. */
export const MAX_STARTUP_PACKET = 4256;
/** Anything larger than this is not an RTMFP datagram we will read. */
export const MAX_DATAGRAM = 8192;

export interface PacketHeader {
  flags: number;
  mode: number;
  /** -1 when absent. */
  timestamp: number;
  timestampEcho: number;
}

export interface ChunkView {
  type: number;
  /** The chunk's body (a view into the packet). */
  body: Buffer;
}

/**
 * Reads the header and the chunks of a decrypted packet (the bytes after the checksum or sequence
 * number). Stops at padding; a chunk that claims more bytes than remain ends the packet (2.3: "the
 * remainder is padding" for Flash-era senders that pad with random bytes).
 */
export function parsePacket(plain: Buffer, start = 0, end = plain.length): { header: PacketHeader; chunks: ChunkView[] } {
  if (end - start < 1) throw new RtmfpError('ERR_RTMFP_TRUNCATED', 'empty packet');
  let p = start;
  const flags = plain[p++]!;
  let timestamp = -1;
  let timestampEcho = -1;
  if (flags & FLAG_TS) {
    if (end - p < 2) throw new RtmfpError('ERR_RTMFP_TRUNCATED', 'packet timestamp cut short');
    timestamp = (plain[p]! << 8) | plain[p + 1]!;
    p += 2;
  }
  if (flags & FLAG_TSE) {
    if (end - p < 2) throw new RtmfpError('ERR_RTMFP_TRUNCATED', 'packet timestamp echo cut short');
    timestampEcho = (plain[p]! << 8) | plain[p + 1]!;
    p += 2;
  }
  const chunks: ChunkView[] = [];
  while (end - p >= CHUNK_HEADER_LENGTH) {
    const type = plain[p]!;
    if (type === Chunk.Padding || type === Chunk.Padding0) break;
    const len = (plain[p + 1]! << 8) | plain[p + 2]!;
    p += CHUNK_HEADER_LENGTH;
    if (len > end - p) break;
    chunks.push({ type, body: plain.subarray(p, p + len) });
    p += len;
  }
  return { header: { flags, mode: flags & MODE_MASK, timestamp, timestampEcho }, chunks };
}

/**
 * Builds packets in one reusable buffer: header, then chunks while they fit. `finish()` returns a copy
 * of the bytes so far (the plaintext the cipher encrypts).
 */
export class PacketBuilder {
  readonly buf: Buffer;
  length = 0;
  readonly limit: number;

  constructor(limit = MAX_SESSION_PACKET) {
    this.limit = limit;
    this.buf = Buffer.allocUnsafe(limit);
  }

  start(flags: number, timestamp: number, timestampEcho: number): void {
    let p = 0;
    let f = flags & ~(FLAG_TS | FLAG_TSE);
    if (timestamp >= 0) f |= FLAG_TS;
    if (timestampEcho >= 0) f |= FLAG_TSE;
    this.buf[p++] = f;
    if (timestamp >= 0) {
      this.buf.writeUInt16BE(timestamp & 0xffff, p);
      p += 2;
    }
    if (timestampEcho >= 0) {
      this.buf.writeUInt16BE(timestampEcho & 0xffff, p);
      p += 2;
    }
    this.length = p;
  }

  get headerOnly(): boolean {
    return this.length <= 5 && this.#chunks === 0;
  }

  #chunks = 0;

  get chunkCount(): number {
    return this.#chunks;
  }

  /** Bytes a chunk body may still take. */
  get room(): number {
    return this.limit - this.length - CHUNK_HEADER_LENGTH;
  }

  /** Appends a chunk whose body is given; false when it does not fit. */
  chunk(type: number, body: Uint8Array): boolean {
    if (body.length > this.room) return false;
    const b = this.buf;
    b[this.length] = type;
    b.writeUInt16BE(body.length, this.length + 1);
    b.set(body, this.length + CHUNK_HEADER_LENGTH);
    this.length += CHUNK_HEADER_LENGTH + body.length;
    this.#chunks++;
    return true;
  }

  /**
   * Reserves a chunk of `len` bytes and returns the offset of its body, for callers that write the body
   * in place (user data). -1 when it does not fit.
   */
  reserve(type: number, len: number): number {
    if (len > this.room) return -1;
    const b = this.buf;
    b[this.length] = type;
    b.writeUInt16BE(len, this.length + 1);
    const at = this.length + CHUNK_HEADER_LENGTH;
    this.length = at + len;
    this.#chunks++;
    return at;
  }

  reset(): void {
    this.length = 0;
    this.#chunks = 0;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Current 16-bit timestamp for a time in ms. */
export function timestampAt(nowMs: number): number {
  return Math.floor(nowMs / TIMESTAMP_TICK_MS) & 0xffff;
}

/** RFC 7016 2.2.1: the scrambled session id is the id XOR the first two 32-bit words of the encrypted packet. */
export function unscrambleSessionId(datagram: Buffer): number {
  if (datagram.length < 12) throw new RtmfpError('ERR_RTMFP_TRUNCATED', `datagram of ${datagram.length} bytes is too short`);
  return (datagram.readUInt32BE(0) ^ datagram.readUInt32BE(4) ^ datagram.readUInt32BE(8)) >>> 0;
}

/** Writes the scrambled id of `sessionId` into the first 4 bytes of `datagram` (encrypted packet after them). */
export function scrambleSessionId(datagram: Buffer, sessionId: number): void {
  datagram.writeUInt32BE((sessionId ^ datagram.readUInt32BE(4) ^ datagram.readUInt32BE(8)) >>> 0, 0);
}
