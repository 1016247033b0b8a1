/**
 * Bounds-checked big-endian byte reading and a geometrically growing byte writer shared by the AMF0 and AMF3
 * codecs (both specs are big-endian: Adobe AMF0 spec section 1.3, AMF3 spec section 1.3).
 *
 * Every read checks the bytes left first so malformed input surfaces as AmfError ERR_AMF_TRUNCATED and never
 * as a RangeError from Buffer. Strings decode leniently: invalid UTF-8 becomes U+FFFD, as Flash Player does.
 */
import { AmfError } from '../errors';

export function truncated(at: number, need: number, have: number): AmfError {
  return new AmfError('ERR_AMF_TRUNCATED', `AMF data truncated at offset ${at}: need ${need} bytes, ${have} left`, {
    offset: at,
    need,
    have,
  });
}

function asBuffer(buf: Buffer | Uint8Array): Buffer {
  if (Buffer.isBuffer(buf)) return buf;
  if (buf instanceof Uint8Array) return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new AmfError('ERR_AMF_TRUNCATED', 'AMF input is not a Buffer or Uint8Array');
}

export class ByteReader {
  /** @internal */
  readonly buf: Buffer;
  /** @internal */
  pos: number;
  /** @internal */
  readonly end: number;

  constructor(buf: Buffer | Uint8Array, offset = 0) {
    this.buf = asBuffer(buf);
    this.end = this.buf.length;
    if (!Number.isInteger(offset) || offset < 0 || offset > this.end) {
      throw new AmfError('ERR_AMF_TRUNCATED', `offset ${offset} outside the ${this.end}-byte input`, { offset });
    }
    this.pos = offset;
  }

  /** Offset of the next byte to read. */
  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** @internal Throws ERR_AMF_TRUNCATED unless `n` more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.pos) throw truncated(this.pos, n, this.end - this.pos);
  }

  readUInt8(): number {
    if (this.pos >= this.end) throw truncated(this.pos, 1, 0);
    return this.buf[this.pos++];
  }

  readUInt16(): number {
    this.need(2);
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  readInt16(): number {
    return (this.readUInt16() << 16) >> 16;
  }

  readUInt32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readInt32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readDouble(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Copies `n` bytes out, so the result never pins the (possibly large) input buffer. */
  readBytes(n: number): Buffer {
    this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** @internal `n` bytes as UTF-8 (lenient: invalid sequences become U+FFFD). */
  utf8(n: number): string {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    if (n <= 24) {
      // Short keys and values are nearly always ASCII: building them directly skips a native call.
      const buf = this.buf;
      let s = '';
      for (let i = start; i < start + n; i++) {
        const c = buf[i];
        if (c >= 0x80) return buf.toString('utf8', start, start + n);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return this.buf.toString('utf8', start, start + n);
  }
}

const EMPTY = Buffer.alloc(0);

export class ByteWriter {
  /** @internal */
  buf: Buffer = EMPTY;
  /** @internal */
  len = 0;
  private readonly initialSize: number;

  constructor(initialSize = 256) {
    this.initialSize = Math.max(16, Math.min(initialSize | 0, 1 << 24));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /**
   * The bytes written so far, as a view of the internal buffer (no copy). Later writes only append, so the
   * view stays valid.
   */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** @internal Continue writing on another writer's buffer (used for the AMF0 -> AMF3 switch). */
  adopt(other: ByteWriter): void {
    this.buf = other.buf;
    this.len = other.len;
  }

  /** @internal */
  ensure(n: number): void {
    if (this.len + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let cap = Math.max(this.buf.length * 2, this.initialSize);
    while (cap < this.len + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  writeUInt8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  writeUInt16(v: number): this {
    this.ensure(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  writeInt16(v: number): this {
    return this.writeUInt16(v & 0xffff);
  }

  writeUInt32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  writeInt32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.len);
    this.len += 4;
    return this;
  }

  writeDouble(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
    return this;
  }

  writeBytes(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  /**
   * @internal Writes `s` as UTF-8 with no prefix and returns the byte count. Reserves 3 bytes per UTF-16 unit
   * (the UTF-8 worst case) so callers can back-fill a length prefix instead of measuring first.
   */
  utf8(s: string): number {
    const n = s.length;
    this.ensure(n > 4096 ? Buffer.byteLength(s, 'utf8') : n * 3);
    const buf = this.buf;
    let p = this.len;
    if (n < 64) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        this.len = p;
        return n;
      }
    }
    const written = buf.write(s, this.len, 'utf8');
    this.len += written;
    return written;
  }
}

/** AMF nesting deeper than the configured limit (or than V8's stack allows). */
export function tooDeep(limit: number, offset?: number): AmfError {
  return new AmfError('ERR_AMF_TOO_DEEP', `AMF nesting deeper than ${limit}`, { limit, offset });
}

export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/**
 * Runs one top-level read or write; nested calls (depth > 0) run as they are. A V8 stack overflow on hostile
 * nesting becomes ERR_AMF_TOO_DEEP, like the explicit depth limit.
 */
export function guardDepth<T>(depth: number, limit: number, offset: () => number | undefined, fn: () => T): T {
  if (depth > 0) return fn();
  try {
    return fn();
  } catch (e) {
    if (isStackOverflow(e)) throw tooDeep(limit, offset());
    throw e;
  }
}
