/**
 * RTMP chunk stream encoder: Adobe RTMP specification 1.0, section 5.3 (chunk basic header, message header
 * formats 0-3, extended timestamp) and 5.3.2 (header compression examples).
 *
 * `ChunkEncoder` keeps, per chunk stream id, the last header sent and picks the smallest format the receiver
 * can expand: 0 for a new stream id or a timestamp that goes backwards, 1 when length or type changed, 2 when
 * only the timestamp delta changed, 3 when even the delta repeats. Format 3 is only used for a new message
 * after a format 1/2 header, because receivers disagree on the delta that follows a format 0 header (the spec
 * and ffmpeg reuse the absolute timestamp, nginx-rtmp uses 0).
 *
 * Every chunk of a message whose header needed an extended timestamp repeats it, format 3 chunks included
 * (spec 5.3.1.3; FMS, Flash Player and ffmpeg expect it).
 *
 * `chunkMessageFmt0` encodes one message with a self-contained format 0 header, for writing the same Buffer
 * to many players.
 */
import { RtmpError } from '../errors';
import { RTMP_DEFAULT_CHUNK_SIZE, RTMP_MAX_CHUNK_SIZE, type RtmpMessage } from './types';

const EXTENDED = 0xffffff;
const MAX_LENGTH = 0xffffff;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;

function checkMessage(msg: RtmpMessage): void {
  const csid = msg.csid;
  if (!Number.isInteger(csid) || csid < 2 || csid > 65599) {
    throw new RtmpError('ERR_RTMP_BAD_CSID', `chunk stream id ${csid} is outside 2..65599`, { csid });
  }
  if (msg.payload.length > MAX_LENGTH) {
    throw new RtmpError('ERR_RTMP_MESSAGE_TOO_LARGE', `message of ${msg.payload.length} bytes exceeds 0xFFFFFF`, {
      length: msg.payload.length,
    });
  }
}

function checkChunkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > RTMP_MAX_CHUNK_SIZE) {
    throw new RtmpError('ERR_RTMP_BAD_CHUNK_SIZE', `chunk size ${size} is outside 1..${RTMP_MAX_CHUNK_SIZE}`, { size });
  }
}

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasicHeader(out: Buffer, pos: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[pos] = (fmt << 6) | csid;
    return pos + 1;
  }
  if (csid < 320) {
    out[pos] = fmt << 6;
    out[pos + 1] = csid - 64;
    return pos + 2;
  }
  const id = csid - 64;
  out[pos] = (fmt << 6) | 1;
  out[pos + 1] = id & 0xff;
  out[pos + 2] = id >> 8;
  return pos + 3;
}

/**
 * Encodes all chunks of one message into one Buffer. `tsField` is the header's timestamp or delta (written as
 * the extended field when >= 0xFFFFFF); for format 3 `extended` says whether the stream's last header was
 * extended (then every chunk, the first included, carries `tsField` again).
 */
function writeMessage(msg: RtmpMessage, fmt: number, tsField: number, extended: boolean, chunkSize: number): Buffer {
  const payload = msg.payload;
  const length = payload.length;
  const csid = msg.csid;
  const basic = basicHeaderSize(csid);
  const ext = extended ? 4 : 0;
  const chunks = length === 0 ? 1 : Math.ceil(length / chunkSize);
  const total = basic + MESSAGE_HEADER_SIZE[fmt]! + ext + length + (chunks - 1) * (basic + ext);
  const out = Buffer.allocUnsafe(total);

  let pos = writeBasicHeader(out, 0, fmt, csid);
  if (fmt <= 2) {
    const t = extended ? EXTENDED : tsField;
    out[pos] = t >>> 16;
    out[pos + 1] = (t >>> 8) & 0xff;
    out[pos + 2] = t & 0xff;
    pos += 3;
    if (fmt <= 1) {
      out[pos] = length >>> 16;
      out[pos + 1] = (length >>> 8) & 0xff;
      out[pos + 2] = length & 0xff;
      out[pos + 3] = msg.type;
      pos += 4;
      if (fmt === 0) {
        out.writeUInt32LE(msg.streamId >>> 0, pos);
        pos += 4;
      }
    }
  }
  if (extended) {
    out.writeUInt32BE(tsField, pos);
    pos += 4;
  }
  if (length <= chunkSize) {
    payload.copy(out, pos);
    return out;
  }
  // Continuation header bytes are the same for every chunk: build them once.
  const contStart = pos + chunkSize;
  payload.copy(out, pos, 0, chunkSize);
  pos = contStart;
  let contLen = writeBasicHeader(out, pos, 3, csid) - pos;
  if (extended) {
    out.writeUInt32BE(tsField, pos + contLen);
    contLen += 4;
  }
  let from = chunkSize;
  for (;;) {
    if (pos !== contStart) out.copy(out, pos, contStart, contStart + contLen);
    pos += contLen;
    const to = from + chunkSize < length ? from + chunkSize : length;
    payload.copy(out, pos, from, to);
    pos += to - from;
    from = to;
    if (from >= length) break;
  }
  return out;
}

/**
 * One message as a self-contained format 0 encoding at the given chunk size: independent of any header
 * state, so the same Buffer can be written to many peers. One allocation, one copy of the payload.
 * The next message a peer's ChunkEncoder sends on that chunk stream must not be compressed against what it
 * sent before: call `resetChunkStream(csid)` or `noteFmt0(msg)` on it.
 */
export function chunkMessageFmt0(msg: RtmpMessage, chunkSize: number): Buffer {
  checkMessage(msg);
  checkChunkSize(chunkSize);
  const ts = msg.timestamp >>> 0;
  return writeMessage(msg, 0, ts, ts >= EXTENDED, chunkSize);
}

/** What the receiver remembers about a chunk stream after our last message on it. */
interface SentHeader {
  timestamp: number;
  /** Timestamp delta of the last header when it was format 1/2 (or 3 reusing one), else -1. */
  delta: number;
  length: number;
  type: number;
  streamId: number;
}

export class ChunkEncoder {
  #chunkSize = RTMP_DEFAULT_CHUNK_SIZE;
  readonly #low: (SentHeader | undefined)[] = new Array<SentHeader | undefined>(64);
  #high: Map<number, SentHeader> | null = null;

  /** Our outgoing chunk size (what the peer was told with Set Chunk Size). */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Switches the outgoing chunk size; send the Set Chunk Size message (encoded at the old size) first. */
  setChunkSize(size: number): void {
    checkChunkSize(size);
    this.#chunkSize = size;
  }

  /** The next message on this chunk stream gets a format 0 header. */
  resetChunkStream(csid: number): void {
    if (csid < 64) this.#low[csid] = undefined;
    else this.#high?.delete(csid);
  }

  /** Forgets every chunk stream (all next messages get format 0 headers). */
  reset(): void {
    this.#low.fill(undefined);
    this.#high = null;
  }

  /** Records that `msg` was sent by other means as a format 0 encoding (chunkMessageFmt0). */
  noteFmt0(msg: RtmpMessage): void {
    this.#remember(msg.csid, msg, msg.timestamp >>> 0, -1);
  }

  /** All chunks of one message, in one Buffer, with header compression against this chunk stream's last message. */
  encode(msg: RtmpMessage): Buffer {
    checkMessage(msg);
    const csid = msg.csid;
    const ts = msg.timestamp >>> 0;
    const length = msg.payload.length;
    const last = csid < 64 ? this.#low[csid] : this.#high?.get(csid);
    let fmt = 0;
    let field = ts;
    if (last !== undefined && last.streamId === msg.streamId >>> 0) {
      const delta = (ts - last.timestamp) >>> 0;
      // A delta of 2^31 or more is a step backwards, not a wrap: send the absolute timestamp.
      if (delta < 0x80000000) {
        field = delta;
        if (last.length !== length || last.type !== msg.type) fmt = 1;
        else if (last.delta === delta) fmt = 3;
        else fmt = 2;
      }
    }
    const out = writeMessage(msg, fmt, field, field >= EXTENDED, this.#chunkSize);
    if (fmt === 3) last!.timestamp = ts;
    else this.#remember(csid, msg, ts, fmt === 0 ? -1 : field);
    return out;
  }

  #remember(csid: number, msg: RtmpMessage, ts: number, delta: number): void {
    const h = csid < 64 ? this.#low[csid] : this.#high?.get(csid);
    if (h !== undefined) {
      h.timestamp = ts;
      h.delta = delta;
      h.length = msg.payload.length;
      h.type = msg.type;
      h.streamId = msg.streamId >>> 0;
      return;
    }
    const fresh: SentHeader = { timestamp: ts, delta, length: msg.payload.length, type: msg.type, streamId: msg.streamId >>> 0 };
    if (csid < 64) this.#low[csid] = fresh;
    else (this.#high ??= new Map()).set(csid, fresh);
  }
}
