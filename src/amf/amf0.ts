/**
 * AMF0 codec, following Adobe "Action Message Format -- AMF 0" (December 2007), section 2 (type markers 2.1,
 * values 2.2-2.18, reference table 2.9) and section 3.1 (the avmplus-object-marker switch to AMF3).
 *
 * About npm `amf-codec` (1.4.0), which the issue asked to build on where it fits: it was read and is not used
 * at run time. Its encoder allocates a Buffer per value and concatenates (our writers sit on hot paths), never
 * writes references, drops class names, time zones and the ECMA array / object distinction; its decoder reads
 * without bounds checks (RangeError or silently short strings on truncated input), returns undefined for bad
 * references, decodes ECMA arrays as JS arrays and has no XML document, unsupported, typed-object class name,
 * AVM+ switch, movieclip/recordset handling or depth limit. The primitives it does have are one Buffer call
 * each, so wrapping them would only add allocations. It stays useful as an independent oracle: the tests check
 * that for the values it supports, its bytes equal ours and it decodes our bytes to the same values.
 *
 * What this file adds, and the choices made:
 * - References (0x07) for repeated objects, strict arrays, ECMA arrays and typed objects, in both directions
 *   (cycles resolve to the same JS object). Dates and XML documents are not in the AMF0 table (spec 2.9).
 *   Indices above 65535 cannot be written, so such objects are written again in full.
 * - ECMA arrays (0x08) decode to plain objects marked with kEcmaArray and encode back as 0x08; the count field
 *   is written as the number of entries and ignored when reading (encoders disagree on its meaning).
 * - A JS Array is a strict array when its own enumerable keys are exactly 0..length-1; otherwise (holes, named
 *   keys) it is written as an ECMA array and so decodes as a kEcmaArray object.
 * - Typed objects (0x10) keep their class name (typedObject / kClassName).
 * - Dates decode as AmfDate keeping the time-zone field; other Dates encode with time zone 0.
 * - Strings longer than 65535 UTF-8 bytes are written as long strings (0x0C).
 * - unsupported (0x0D) decodes as undefined; movieclip (0x04), recordset (0x0E) and a stray object-end (0x09)
 *   are ERR_AMF_UNSUPPORTED_MARKER.
 * - AMF3-only values (ByteArray, XML, Vector, Dictionary) are written behind 0x11 when the writer has
 *   `avmplus: true`, else ERR_AMF_AMF3_ONLY. Each 0x11 value, read or written, gets fresh AMF3 tables.
 * - Functions and symbols are skipped as object members and written as undefined elsewhere.
 * - Other objects (class instances, Map, Set...) are written as anonymous objects of their own enumerable
 *   properties; bigint is written as a number.
 * - Invalid UTF-8 decodes leniently (U+FFFD).
 */
import { AmfError } from '../errors';
import { Amf3Reader, Amf3Writer, setMember, splitArray } from './amf3';
import { ByteReader, ByteWriter, guardDepth, tooDeep, truncated } from './byte-io';
import { DEFAULT_MAX_DEPTH, type AmfDecodeOptions, type AmfDecodeResult, type AmfEncodeOptions } from './options';
import {
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  ecmaArray,
  getClassName,
  isEcmaArray,
  typedObject,
  type AmfObject,
  type AmfValue,
} from './types';

export type { AmfDecodeResult } from './options';

export enum Amf0Marker {
  Number = 0x00,
  Boolean = 0x01,
  String = 0x02,
  Object = 0x03,
  MovieClip = 0x04,
  Null = 0x05,
  Undefined = 0x06,
  Reference = 0x07,
  EcmaArray = 0x08,
  ObjectEnd = 0x09,
  StrictArray = 0x0a,
  Date = 0x0b,
  LongString = 0x0c,
  Unsupported = 0x0d,
  RecordSet = 0x0e,
  XmlDocument = 0x0f,
  TypedObject = 0x10,
  AvmPlus = 0x11,
}


// ------------------------------------------------------------------------------------------------------ reader

export class Amf0Reader extends ByteReader {
  private readonly refs: object[] = [];
  private readonly opts: AmfDecodeOptions;
  private readonly maxDepth: number;
  /** @internal */
  depth = 0;

  constructor(buf: Buffer | Uint8Array, offset = 0, opts: AmfDecodeOptions = {}) {
    super(buf, offset);
    this.opts = opts;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Reads one AMF0 value (marker included). The reference table persists across calls on this reader. */
  readValue(): AmfValue {
    return guardDepth(this.depth, this.maxDepth, () => this.pos, () => this.value());
  }

  /** A bare string: u16 byte length + UTF-8, no marker (object keys, shared object message fields). */
  readString(): string {
    return this.utf8(this.readUInt16());
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw tooDeep(this.maxDepth, this.pos);
  }

  /** @internal */
  value(): AmfValue {
    if (this.pos >= this.end) throw truncated(this.pos, 1, 0);
    const marker = this.buf[this.pos++];
    switch (marker) {
      case Amf0Marker.Number:
        return this.readDouble();
      case Amf0Marker.Boolean:
        return this.readUInt8() !== 0;
      case Amf0Marker.String:
        return this.utf8(this.readUInt16());
      case Amf0Marker.Object:
        return this.object({});
      case Amf0Marker.Null:
        return null;
      case Amf0Marker.Undefined:
      case Amf0Marker.Unsupported:
        return undefined;
      case Amf0Marker.Reference: {
        const idx = this.readUInt16();
        if (idx >= this.refs.length) {
          throw new AmfError('ERR_AMF_BAD_REFERENCE', `AMF0 reference ${idx} outside the table of ${this.refs.length}`, {
            index: idx,
            size: this.refs.length,
            offset: this.pos - 3,
          });
        }
        return this.refs[idx] as AmfValue;
      }
      case Amf0Marker.EcmaArray:
        this.readUInt32(); // associative-count: a hint only, the object-end marker terminates
        return this.object(ecmaArray({}));
      case Amf0Marker.StrictArray: {
        const n = this.readUInt32();
        if (n > this.end - this.pos) throw truncated(this.pos, n, this.end - this.pos);
        this.enter();
        const arr: AmfValue[] = [];
        this.refs.push(arr);
        for (let i = 0; i < n; i++) arr.push(this.value());
        this.depth--;
        return arr;
      }
      case Amf0Marker.Date: {
        const ms = this.readDouble();
        return new AmfDate(ms, this.readInt16());
      }
      case Amf0Marker.LongString:
        return this.utf8(this.readUInt32());
      case Amf0Marker.XmlDocument:
        return new AmfXmlDocument(this.utf8(this.readUInt32()));
      case Amf0Marker.TypedObject:
        return this.object(typedObject(this.readString(), {}));
      case Amf0Marker.AvmPlus: {
        const r3 = new Amf3Reader(this.buf, this.pos, this.opts);
        r3.depth = this.depth;
        const v = r3.value();
        this.pos = r3.position;
        return v;
      }
      case Amf0Marker.MovieClip:
      case Amf0Marker.RecordSet:
      case Amf0Marker.ObjectEnd:
        throw new AmfError('ERR_AMF_UNSUPPORTED_MARKER', `AMF0 marker 0x${marker.toString(16)} is not supported here`, {
          marker,
          offset: this.pos - 1,
        });
      default:
        throw new AmfError('ERR_AMF_UNKNOWN_MARKER', `unknown AMF0 marker 0x${marker.toString(16)}`, {
          marker,
          offset: this.pos - 1,
        });
    }
  }

  /** Properties up to the empty-key + object-end terminator (spec 2.5). */
  private object(obj: AmfObject): AmfObject {
    this.enter();
    this.refs.push(obj);
    for (;;) {
      const key = this.utf8(this.readUInt16());
      if (key === '' && this.pos < this.end && this.buf[this.pos] === Amf0Marker.ObjectEnd) {
        this.pos++;
        break;
      }
      setMember(obj, key, this.value());
    }
    this.depth--;
    return obj;
  }
}

// ------------------------------------------------------------------------------------------------------ writer

function amf3TypeName(v: object): string {
  if (v instanceof Uint8Array) return 'ByteArray';
  if (v instanceof AmfXml) return 'XML';
  if (v instanceof AmfVector) return `Vector.<${v.kind}>`;
  return 'Dictionary';
}

export class Amf0Writer extends ByteWriter {
  private readonly refs = new Map<object, number>();
  private refCount = 0;
  private readonly opts: AmfEncodeOptions;
  private readonly maxDepth: number;
  /** @internal */
  depth = 0;

  constructor(opts: AmfEncodeOptions = {}) {
    super(opts.initialSize);
    this.opts = opts;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Writes one AMF0 value (marker included). The reference table persists across calls on this writer. */
  writeValue(v: AmfValue): this {
    guardDepth(this.depth, this.maxDepth, () => undefined, () => this.value(v));
    return this;
  }

  /** A bare string: u16 byte length + UTF-8, no marker. Throws ERR_AMF_LIMIT above 65535 bytes. */
  writeString(s: string): this {
    this.ensure(2);
    const at = this.len;
    this.len += 2;
    const n = this.utf8(s);
    if (n > 0xffff) {
      this.len = at;
      throw new AmfError('ERR_AMF_LIMIT', `AMF0 string of ${n} bytes exceeds 65535 where a long string is not allowed`, {
        size: n,
      });
    }
    this.buf[at] = n >>> 8;
    this.buf[at + 1] = n & 0xff;
    return this;
  }

  private marker(m: number): void {
    this.ensure(1);
    this.buf[this.len++] = m;
  }

  /** @internal */
  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.stringValue(v);
        return;
      case 'boolean':
        this.ensure(2);
        this.buf[this.len++] = Amf0Marker.Boolean;
        this.buf[this.len++] = v ? 1 : 0;
        return;
      case 'bigint':
        this.number(Number(v));
        return;
      case 'object':
        if (v === null) this.marker(Amf0Marker.Null);
        else this.object(v);
        return;
      default:
        // undefined, and functions or symbols standing where a value must be.
        this.marker(Amf0Marker.Undefined);
    }
  }

  private number(v: number): void {
    this.ensure(9);
    this.buf[this.len++] = Amf0Marker.Number;
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
  }

  private stringValue(s: string): void {
    if (s.length <= 0x5555) {
      // At most 3 bytes per UTF-16 unit, so it fits a short string: write, then back-fill the length.
      this.ensure(3);
      this.buf[this.len++] = Amf0Marker.String;
      const at = this.len;
      this.len += 2;
      const n = this.utf8(s);
      this.buf[at] = n >>> 8;
      this.buf[at + 1] = n & 0xff;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    if (n <= 0xffff) {
      this.marker(Amf0Marker.String);
      this.writeUInt16(n);
    } else {
      this.marker(Amf0Marker.LongString);
      this.writeUInt32(n);
    }
    this.utf8(s);
  }

  private object(v: object): void {
    if (v instanceof Date) {
      this.ensure(11);
      this.buf[this.len++] = Amf0Marker.Date;
      this.buf.writeDoubleBE(v.getTime(), this.len);
      this.len += 8;
      const tz = v instanceof AmfDate ? v.timezone : 0;
      this.writeInt16(Number.isInteger(tz) && tz >= -0x8000 && tz <= 0x7fff ? tz : 0);
      return;
    }
    if (v instanceof AmfXmlDocument) {
      const text = String(v.xml);
      const n = Buffer.byteLength(text, 'utf8');
      if (n > 0xffffffff) throw new AmfError('ERR_AMF_LIMIT', `XML document of ${n} bytes is too large`, { size: n });
      this.marker(Amf0Marker.XmlDocument);
      this.writeUInt32(n);
      this.utf8(text);
      return;
    }
    if (v instanceof Uint8Array || v instanceof AmfXml || v instanceof AmfVector || v instanceof AmfDictionary) {
      this.amf3Value(v);
      return;
    }
    const idx = this.refs.get(v);
    if (idx !== undefined) {
      this.ensure(3);
      this.buf[this.len++] = Amf0Marker.Reference;
      this.buf[this.len++] = idx >>> 8;
      this.buf[this.len++] = idx & 0xff;
      return;
    }
    const next = this.refCount++;
    if (next <= 0xffff) this.refs.set(v, next);
    if (++this.depth > this.maxDepth) throw tooDeep(this.maxDepth);
    if (Array.isArray(v)) this.array(v);
    else {
      const obj = v as AmfObject;
      const cls = getClassName(obj);
      if (cls !== undefined) {
        this.marker(Amf0Marker.TypedObject);
        this.writeString(cls);
        this.properties(obj, Object.keys(obj));
      } else if (isEcmaArray(obj)) {
        this.ecmaArray(obj, Object.keys(obj));
      } else {
        this.marker(Amf0Marker.Object);
        this.properties(obj, Object.keys(obj));
      }
    }
    this.depth--;
  }

  private array(arr: unknown[]): void {
    const { extra } = splitArray(arr);
    if (extra !== null) {
      this.ecmaArray(arr as unknown as AmfObject, Object.keys(arr));
      return;
    }
    const n = arr.length;
    this.ensure(5);
    this.buf[this.len++] = Amf0Marker.StrictArray;
    this.writeUInt32(n);
    for (let i = 0; i < n; i++) this.value(arr[i]);
  }

  private ecmaArray(obj: AmfObject, keys: string[]): void {
    this.ensure(5);
    this.buf[this.len++] = Amf0Marker.EcmaArray;
    const at = this.len;
    this.len += 4;
    const count = this.properties(obj, keys);
    this.buf.writeUInt32BE(count, at);
  }

  /** Writes members and the object-end terminator; returns how many members were written. */
  private properties(obj: AmfObject, keys: string[]): number {
    let count = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const item = obj[key];
      const t = typeof item;
      if (t === 'function' || t === 'symbol') continue;
      this.writeString(key);
      this.value(item);
      count++;
    }
    this.ensure(3);
    this.buf[this.len++] = 0;
    this.buf[this.len++] = 0;
    this.buf[this.len++] = Amf0Marker.ObjectEnd;
    return count;
  }

  /** 0x11 followed by one AMF3 value with its own fresh tables (spec 3.1). */
  private amf3Value(v: object): void {
    if (this.opts.avmplus !== true) {
      throw new AmfError(
        'ERR_AMF_AMF3_ONLY',
        `${amf3TypeName(v)} can only be sent with AMF3 (enable the avmplus switch or use objectEncoding 3)`,
        { type: amf3TypeName(v) },
      );
    }
    this.marker(Amf0Marker.AvmPlus);
    const w3 = new Amf3Writer(this.opts);
    w3.adopt(this);
    w3.depth = this.depth;
    w3.value(v);
    this.adopt(w3);
  }
}

// --------------------------------------------------------------------------------------------------- functions

/** Encodes values back to back as AMF0, sharing one reference table (one RTMP command or data payload). */
export function encodeAmf0(...values: AmfValue[]): Buffer {
  const w = new Amf0Writer();
  for (let i = 0; i < values.length; i++) w.writeValue(values[i]);
  return w.toBuffer();
}

/** encodeAmf0 with options (e.g. `{ avmplus: true }`). */
export function encodeAmf0With(opts: AmfEncodeOptions, values: readonly AmfValue[]): Buffer {
  const w = new Amf0Writer(opts);
  for (let i = 0; i < values.length; i++) w.writeValue(values[i]);
  return w.toBuffer();
}

/** Decodes one AMF0 value at `offset`. */
export function decodeAmf0(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfDecodeResult {
  const r = new Amf0Reader(buf, offset, opts);
  const value = r.readValue();
  return { value, position: r.position };
}

/** Decodes AMF0 values from `offset` to the end of `buf`, sharing one reference table. */
export function decodeAmf0All(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfValue[] {
  const r = new Amf0Reader(buf, offset, opts);
  const out: AmfValue[] = [];
  while (!r.atEnd()) out.push(r.readValue());
  return out;
}
