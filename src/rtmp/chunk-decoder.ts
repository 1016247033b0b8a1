/**
 * RTMP chunk stream decoder: Adobe RTMP specification 1.0, section 5.3 (chunk basic header, chunk message
 * header formats 0-3, extended timestamp) with Set Chunk Size (5.4.1) and Abort (5.4.2) applied here, since
 * they change how the following bytes are framed.
 *
 * Shape: a state machine fed arbitrary Buffers (`push`), two states (reading a chunk header, copying chunk
 * data), every limit an option and checked before memory is committed, errors with stable codes. After an
 * error the decoder is dead and rethrows that error on every push.
 *
 * Payload ownership: a message that fits in one chunk and arrives inside one input Buffer is delivered as a
 * view of that Buffer (no copy); every other message is assembled into a Buffer of its own. The decoder
 * never writes to input Buffers nor reuses a delivered Buffer, so payloads stay valid after the callback as
 * long as the caller does not modify Buffers it pushed (Node sockets hand out fresh Buffers). A view keeps its
 * whole input Buffer alive: callers that retain a payload for long (caches) may want to copy small ones.
 *
 * Extended timestamps on format 3 chunks: the spec (5.3.1.3) says a type 3 chunk that follows a header with an
 * extended timestamp repeats the 4-byte field, and FMS, Flash Player, ffmpeg and librtmp do so; some peers
 * do not. In 'auto' mode the first such chunk decides: if the next 4 bytes equal the expected value (the
 * header's extended field, or the message timestamp) they are the repeated field and the peer is taken to
 * always repeat it; otherwise they are payload and the peer is taken never to repeat it.
 *
 * Timestamps: format 0 carries the absolute timestamp, formats 1/2 a delta; a format 3 chunk that starts a
 * new message adds the previous delta again, where the "delta" of a format 0 header is its timestamp (as the
 * spec words it and ffmpeg implements it). Arithmetic is modulo 2^32.
 *
 * A format 0/1/2 header arriving while a message on that chunk stream is incomplete discards the partial
 * message (as an Abort would) and starts the new one.
 */
import { RtmpError } from '../errors';
import { MessageType, RTMP_DEFAULT_CHUNK_SIZE, RTMP_MAX_CHUNK_SIZE, type RtmpMessage } from './types';

export interface ChunkDecoderOptions {
  /** Receives every complete message, including Set Chunk Size and Abort (already applied). */
  onMessage: (msg: RtmpMessage) => void;
  /** Largest message length accepted (bytes). Default (and cap) 0xFFFFFF, the largest a header can express. */
  maxMessageSize?: number;
  /** Most distinct chunk stream ids a peer may use over the connection. Default 128. */
  maxChunkStreams?: number;
  /** Largest chunk size the peer may set. Default (and cap) 0xFFFFFF: larger sizes act like it (spec 5.4.1). */
  maxChunkSize?: number;
  /**
   * Most bytes held for incomplete messages across all chunk streams. Buffers grow with the data that
   * actually arrived (not with what headers claim), so this bounds memory per connection. Default 32 MiB.
   */
  maxPendingBytes?: number;
  /** Whether type 3 chunks repeat an extended timestamp: 'auto' (detect, default), 'always', 'never'. */
  extendedTimestampOnType3?: 'auto' | 'always' | 'never';
}

export const DEFAULT_MAX_CHUNK_STREAMS = 128;
export const DEFAULT_MAX_PENDING_BYTES = 32 * 1024 * 1024;

/** First allocation for a message that spans chunks; grows by doubling up to the message length. */
const INITIAL_ASSEMBLY = 64 * 1024;
/** Longest chunk header: 3-byte basic header, 11-byte message header, 4-byte extended timestamp. */
const MAX_HEADER = 18;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
const EXTENDED = 0xffffff;

const EXT_AUTO = 0;
const EXT_ALWAYS = 1;
const EXT_NEVER = 2;

/** Per chunk stream id: the last header's fields and the message being assembled. */
class ChunkStream {
  readonly csid: number;
  /** Absolute timestamp of the current (or last) message. */
  timestamp = 0;
  /** Timestamp field of the last format 0/1/2 header (or its extended value); reused by format 3. */
  delta = 0;
  /** Whether the last format 0/1/2 header used the extended timestamp field. */
  extended = false;
  length = 0;
  type = 0;
  streamId = 0;
  /** A message is partly received. */
  inProgress = false;
  filled = 0;
  buffer: Buffer | null = null;

  constructor(csid: number) {
    this.csid = csid;
  }
}

function bad(code: string, message: string, details?: Record<string, unknown>): RtmpError {
  return new RtmpError(code, message, details);
}

function checkLimit(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw bad('ERR_RTMP_BAD_OPTION', `${name} must be an integer in [${min}, ${max}]`, { name, value: v });
  }
  return v;
}

export class ChunkDecoder {
  /** Bytes pushed so far (for Acknowledgement sequence numbers, which the caller takes modulo 2^32). */
  bytesReceived = 0;

  readonly #onMessage: (msg: RtmpMessage) => void;
  readonly #maxMessageSize: number;
  readonly #maxChunkStreams: number;
  readonly #maxChunkSize: number;
  readonly #maxPendingBytes: number;
  #extMode: number;

  #chunkSize = RTMP_DEFAULT_CHUNK_SIZE;
  #failure: unknown = null;
  #hasFailed = false;
  #busy = false;

  /** Chunk streams 0..63 by index (the common ones), the rest in a map. */
  readonly #low: (ChunkStream | undefined)[] = new Array<ChunkStream | undefined>(64);
  #high: Map<number, ChunkStream> | null = null;
  #streamCount = 0;
  #pendingBytes = 0;

  /** Chunk being read: its stream and the data bytes still to come (0 = reading a header). */
  #current: ChunkStream | null = null;
  #chunkLeft = 0;
  /** A header split across pushes: its first bytes. */
  readonly #head = Buffer.alloc(MAX_HEADER);
  #headLen = 0;

  constructor(options: ChunkDecoderOptions) {
    if (typeof options?.onMessage !== 'function') {
      throw bad('ERR_RTMP_BAD_OPTION', 'ChunkDecoder needs an onMessage callback');
    }
    this.#onMessage = options.onMessage;
    // Limits above what the protocol can express are accepted and mean "no limit of our own".
    this.#maxMessageSize = Math.min(checkLimit('maxMessageSize', options.maxMessageSize ?? 0xffffff, 0, 2 ** 32), 0xffffff);
    this.#maxChunkStreams = checkLimit('maxChunkStreams', options.maxChunkStreams ?? DEFAULT_MAX_CHUNK_STREAMS, 1, 65598);
    this.#maxChunkSize = Math.min(
      checkLimit('maxChunkSize', options.maxChunkSize ?? RTMP_MAX_CHUNK_SIZE, 1, 0x7fffffff),
      RTMP_MAX_CHUNK_SIZE,
    );
    this.#maxPendingBytes = checkLimit('maxPendingBytes', options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES, 0, 2 ** 31);
    const mode = options.extendedTimestampOnType3 ?? 'auto';
    this.#extMode = mode === 'always' ? EXT_ALWAYS : mode === 'never' ? EXT_NEVER : EXT_AUTO;
  }

  /** The peer's current chunk size. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Bytes currently held for incomplete messages. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Feeds bytes; complete messages reach onMessage before this returns. Throws RtmpError on bad input. */
  push(input: Buffer): void {
    if (this.#hasFailed) throw this.#failure;
    if (this.#busy) throw bad('ERR_RTMP_REENTRANT', 'ChunkDecoder.push called from inside onMessage');
    this.#busy = true;
    this.bytesReceived += input.length;
    try {
      this.#feed(input);
    } catch (err) {
      // Also errors thrown by onMessage: we lost our place in the input either way.
      this.#hasFailed = true;
      this.#failure = err;
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  #feed(buf: Buffer): void {
    const end = buf.length;
    let off = 0;
    if (this.#headLen > 0) {
      const head = this.#head;
      const had = this.#headLen;
      const take = Math.min(MAX_HEADER - had, end);
      buf.copy(head, had, 0, take);
      const used = this.#parseHeader(head, 0, had + take);
      if (used === 0) {
        this.#headLen = had + take;
        return;
      }
      this.#headLen = 0;
      if (used < had) {
        // The header was shorter than the bytes held back: the 4 bytes peeked for an extended timestamp
        // on a type 3 chunk turned out to be payload. Replay the surplus, then this input from its start.
        // (Each replay is a strict suffix of the last, so this recurses at most MAX_HEADER times.)
        this.#feed(Buffer.from(head.subarray(used, had)));
        this.#feed(buf);
        return;
      }
      off = used - had;
    }
    while (off < end) {
      const cs = this.#current;
      if (cs === null) {
        const used = this.#parseHeader(buf, off, end);
        if (used === 0) {
          buf.copy(this.#head, 0, off, end);
          this.#headLen = end - off;
          return;
        }
        off += used;
        continue;
      }
      const avail = end - off;
      if (cs.filled === 0 && this.#chunkLeft === cs.length && avail >= cs.length) {
        // Whole message in one chunk, inside this Buffer: hand out a view.
        const length = cs.length;
        off += length;
        this.#current = null;
        this.#chunkLeft = 0;
        this.#complete(cs, buf.subarray(off - length, off));
        continue;
      }
      const n = avail < this.#chunkLeft ? avail : this.#chunkLeft;
      const target = cs.filled + n;
      if (cs.buffer === null || cs.buffer.length < target) this.#grow(cs, target);
      buf.copy(cs.buffer!, cs.filled, off, off + n);
      cs.filled = target;
      off += n;
      this.#chunkLeft -= n;
      if (this.#chunkLeft === 0) {
        this.#current = null;
        if (target === cs.length) {
          const payload = cs.buffer!;
          this.#release(cs);
          this.#complete(cs, payload);
        }
      }
    }
  }

  /**
   * Parses one chunk header at b[off..end). Returns its length and sets up the chunk, or returns 0 without
   * side effects when the header is not complete yet.
   */
  #parseHeader(b: Buffer, off: number, end: number): number {
    let p = off;
    const b0 = b[p++]!;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    if (csid === 0) {
      if (end - p < 1) return 0;
      csid = 64 + b[p++]!;
    } else if (csid === 1) {
      if (end - p < 2) return 0;
      csid = 64 + b[p]! + (b[p + 1]! << 8);
      p += 2;
    }
    const hlen = MESSAGE_HEADER_SIZE[fmt]!;
    if (end - p < hlen) return 0;
    let cs = csid < 64 ? this.#low[csid] : this.#high?.get(csid);
    if (cs === undefined && fmt !== 0) {
      throw bad('ERR_RTMP_NO_PREVIOUS_HEADER', `chunk format ${fmt} on chunk stream ${csid}, which never had a full header`, {
        csid,
        fmt,
      });
    }

    if (fmt === 3) {
      const s = cs!;
      const continuing = s.inProgress;
      if (s.extended && this.#extMode !== EXT_NEVER) {
        if (end - p < 4) return 0;
        if (this.#extMode === EXT_AUTO) {
          const v = b.readUInt32BE(p);
          const ts = continuing ? s.timestamp : (s.timestamp + s.delta) >>> 0;
          if (v === s.delta || v === ts) {
            this.#extMode = EXT_ALWAYS;
            p += 4;
          } else {
            this.#extMode = EXT_NEVER;
          }
        } else {
          p += 4;
        }
      }
      if (!continuing) {
        s.timestamp = (s.timestamp + s.delta) >>> 0;
        s.filled = 0;
        s.inProgress = true;
      }
      this.#startChunk(s);
      return p - off;
    }

    let tsField = (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
    let length = 0;
    let type = 0;
    let streamId = 0;
    if (fmt <= 1) {
      length = (b[p + 3]! << 16) | (b[p + 4]! << 8) | b[p + 5]!;
      type = b[p + 6]!;
      if (fmt === 0) streamId = b.readUInt32LE(p + 7);
    }
    p += hlen;
    const extended = tsField === EXTENDED;
    if (extended) {
      if (end - p < 4) return 0;
      tsField = b.readUInt32BE(p);
      p += 4;
    }
    // Header complete: commit.
    if (fmt <= 1 && length > this.#maxMessageSize) {
      throw bad('ERR_RTMP_MESSAGE_TOO_LARGE', `message of ${length} bytes exceeds the limit of ${this.#maxMessageSize}`, {
        csid,
        length,
        limit: this.#maxMessageSize,
      });
    }
    if (cs === undefined) cs = this.#create(csid);
    else if (cs.inProgress) this.#discard(cs);
    if (fmt === 0) {
      cs.timestamp = tsField;
      cs.streamId = streamId;
    } else {
      cs.timestamp = (cs.timestamp + tsField) >>> 0;
    }
    if (fmt <= 1) {
      cs.length = length;
      cs.type = type;
    }
    cs.delta = tsField;
    cs.extended = extended;
    cs.filled = 0;
    cs.inProgress = true;
    this.#startChunk(cs);
    return p - off;
  }

  #startChunk(cs: ChunkStream): void {
    const left = cs.length - cs.filled;
    if (left === 0) {
      // Zero-length message: complete with its header.
      this.#complete(cs, Buffer.alloc(0));
      return;
    }
    this.#current = cs;
    this.#chunkLeft = left < this.#chunkSize ? left : this.#chunkSize;
  }

  #create(csid: number): ChunkStream {
    if (this.#streamCount >= this.#maxChunkStreams) {
      throw bad('ERR_RTMP_TOO_MANY_CHUNK_STREAMS', `more than ${this.#maxChunkStreams} chunk streams`, {
        csid,
        limit: this.#maxChunkStreams,
      });
    }
    const cs = new ChunkStream(csid);
    if (csid < 64) this.#low[csid] = cs;
    else (this.#high ??= new Map()).set(csid, cs);
    this.#streamCount++;
    return cs;
  }

  #grow(cs: ChunkStream, need: number): void {
    const old = cs.buffer;
    const oldCap = old === null ? 0 : old.length;
    let cap = old === null ? INITIAL_ASSEMBLY : oldCap * 2;
    if (cap < need) cap = need;
    if (cap > cs.length) cap = cs.length;
    if (this.#pendingBytes + cap - oldCap > this.#maxPendingBytes) {
      throw bad('ERR_RTMP_BUFFER_LIMIT', `incomplete messages would hold more than ${this.#maxPendingBytes} bytes`, {
        csid: cs.csid,
        limit: this.#maxPendingBytes,
      });
    }
    const next = Buffer.allocUnsafe(cap);
    if (old !== null && cs.filled > 0) old.copy(next, 0, 0, cs.filled);
    cs.buffer = next;
    this.#pendingBytes += cap - oldCap;
  }

  #release(cs: ChunkStream): void {
    if (cs.buffer !== null) {
      this.#pendingBytes -= cs.buffer.length;
      cs.buffer = null;
    }
  }

  #discard(cs: ChunkStream): void {
    this.#release(cs);
    cs.inProgress = false;
    cs.filled = 0;
    if (this.#current === cs) {
      this.#current = null;
      this.#chunkLeft = 0;
    }
  }

  #complete(cs: ChunkStream, payload: Buffer): void {
    cs.inProgress = false;
    cs.filled = 0;
    const type = cs.type;
    if (type === MessageType.SetChunkSize) this.#applySetChunkSize(payload);
    else if (type === MessageType.Abort) this.#applyAbort(payload);
    this.#onMessage({ type, streamId: cs.streamId, timestamp: cs.timestamp, csid: cs.csid, payload });
  }

  #applySetChunkSize(payload: Buffer): void {
    if (payload.length < 4) {
      throw bad('ERR_RTMP_BAD_CONTROL_MESSAGE', `Set Chunk Size payload of ${payload.length} bytes (needs 4)`, {
        length: payload.length,
      });
    }
    let size = payload.readUInt32BE(0);
    if (size === 0 || size > 0x7fffffff) {
      throw bad('ERR_RTMP_BAD_CHUNK_SIZE', `Set Chunk Size ${size} is outside 1..2^31-1`, { size });
    }
    // Spec 5.4.1: every size above 0xFFFFFF behaves like 0xFFFFFF, as no message is longer.
    if (size > RTMP_MAX_CHUNK_SIZE) size = RTMP_MAX_CHUNK_SIZE;
    if (size > this.#maxChunkSize) {
      throw bad('ERR_RTMP_BAD_CHUNK_SIZE', `Set Chunk Size ${size} exceeds the limit of ${this.#maxChunkSize}`, {
        size,
        limit: this.#maxChunkSize,
      });
    }
    this.#chunkSize = size;
  }

  #applyAbort(payload: Buffer): void {
    if (payload.length < 4) {
      throw bad('ERR_RTMP_BAD_CONTROL_MESSAGE', `Abort payload of ${payload.length} bytes (needs 4)`, { length: payload.length });
    }
    const csid = payload.readUInt32BE(0);
    const cs = csid < 64 ? this.#low[csid] : this.#high?.get(csid);
    if (cs !== undefined && cs.inProgress) this.#discard(cs);
  }
}
