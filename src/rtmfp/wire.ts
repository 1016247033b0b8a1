/**
 * Bytes on the RTMFP wire: network byte order integers and the Variable Length Unsigned integer of
 * RFC 7016 section 2.1.2 (7 bits per byte, most significant first, high bit set on every byte but the
 * last). Every read checks what is left so malformed input surfaces as RtmfpError ERR_RTMFP_TRUNCATED,
 * never as a RangeError.
 *
 * VLUs are read into JavaScript numbers: values above 2^53 - 1 cannot be represented exactly and are
 * refused (ERR_RTMFP_VLU_TOO_LARGE). Flow ids, sequence numbers and lengths of a real session are far
 * below that.
 */
import { RtmfpError } from '../errors';

const MAX_VLU_BYTES = 8; // 56 bits, more than any value below 2^53 needs

export class Cursor {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new RtmfpError('ERR_RTMFP_TRUNCATED', `${what}: need ${n} bytes, ${this.end - this.pos} left`, { offset: this.pos });
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  vlu(what = 'VLU'): number {
    let v = 0;
    for (let i = 0; i < MAX_VLU_BYTES; i++) {
      if (this.pos >= this.end) throw new RtmfpError('ERR_RTMFP_TRUNCATED', `${what}: VLU cut short`, { offset: this.pos });
      const b = this.buf[this.pos++]!;
      v = v * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        return v;
      }
    }
    throw new RtmfpError('ERR_RTMFP_VLU_TOO_LARGE', `${what}: VLU larger than 2^53`, { offset: this.pos });
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A VLU length, then that many bytes. */
  vluBytes(what: string): Buffer {
    return this.bytes(this.vlu(what), what);
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
}

export function vluLength(v: number): number {
  if (!(v >= 0) || !Number.isSafeInteger(v)) throw new RtmfpError('ERR_RTMFP_VLU_TOO_LARGE', `cannot encode ${v} as a VLU`);
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes v as a VLU at `at`; returns the offset after it. */
export function writeVlu(buf: Buffer, at: number, v: number): number {
  if (!(v >= 0) || !Number.isSafeInteger(v)) throw new RtmfpError('ERR_RTMFP_VLU_TOO_LARGE', `cannot encode ${v} as a VLU`);
  const n = vluLength(v);
  for (let i = n - 1; i >= 0; i--) {
    buf[at + i] = (v % 128) | (i === n - 1 ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  return at + n;
}

export function vlu(v: number): Buffer {
  const b = Buffer.allocUnsafe(vluLength(v));
  writeVlu(b, 0, v);
  return b;
}

/** A growing byte writer for the few places that build variable structures (handshake, options). */
export class Writer {
  #buf: Buffer;
  #len = 0;

  constructor(size = 256) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf.writeUInt16BE(v & 0xffff, this.#len);
    this.#len += 2;
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    this.#buf.writeUInt32BE(v >>> 0, this.#len);
    this.#len += 4;
    return this;
  }

  vlu(v: number): this {
    this.#room(MAX_VLU_BYTES);
    this.#len = writeVlu(this.#buf, this.#len, v);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** A VLU length, then the bytes. */
  vluBytes(b: Uint8Array): this {
    return this.vlu(b.length).bytes(b);
  }

  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len));
  }
}

/** RFC 7016 2.1.3 option: VLU length of (type VLU + value), type VLU, value. A zero length is a marker. */
export interface RtmfpOption {
  type: number;
  value: Buffer;
}

/** Reads options until the end of the cursor, or until a zero-length marker when `untilMarker`. */
export function readOptions(c: Cursor, what: string, untilMarker: boolean): RtmfpOption[] {
  const out: RtmfpOption[] = [];
  while (!c.atEnd()) {
    const len = c.vlu(`${what} option length`);
    if (len === 0) {
      if (untilMarker) return out;
      continue;
    }
    c.need(len, `${what} option`);
    const inner = new Cursor(c.buf, c.pos, c.pos + len);
    c.pos += len;
    const type = inner.vlu(`${what} option type`);
    out.push({ type, value: inner.rest() });
  }
  if (untilMarker) throw new RtmfpError('ERR_RTMFP_TRUNCATED', `${what}: option list without its end marker`);
  return out;
}

export function writeOption(w: Writer, type: number, value: Uint8Array): Writer {
  w.vlu(vluLength(type) + value.length).vlu(type).bytes(value);
  return w;
}

export function option(type: number, value: Uint8Array): Buffer {
  return writeOption(new Writer(value.length + 8), type, value).finish();
}
