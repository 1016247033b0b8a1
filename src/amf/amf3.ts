/**
 * AMF3 codec, following Adobe "Action Message Format -- AMF 3" (January 2013), section 3 (type markers and
 * value encodings: U29 3.6, strings 3.8, XMLDocument 3.9, Date 3.10, Array 3.11, Object and traits 3.12,
 * XML 3.13, ByteArray 3.14, Vectors 3.15, Dictionary 3.16) and the reference tables of section 2.2.
 *
 * Choices the spec leaves open:
 * - Integers in -2^28..2^28-1 (except -0) go out as integer 0x04; every other number as double 0x05.
 * - A JS Array's dense part is its longest hole-free prefix from index 0; every other own enumerable key
 *   (later indices, named keys) goes to the associative part. Decoding sets associative keys on the Array
 *   itself, so both parts survive a round trip. A key "length" cannot live on a JS Array and is dropped.
 * - Typed objects: sealed members come from kSealedMembers when present (the rest of the own keys are then
 *   written as dynamic members); a typed object without kSealedMembers writes all its enumerable properties as
 *   sealed members and is not dynamic, which is what Flash Player does for registered classes. Anonymous
 *   objects are dynamic. Decoding records kSealedMembers on typed objects (and on anonymous ones that had any).
 * - Typed objects whose class has an externalizable codec with `write` are written as externalizable.
 *   Built-ins wrap one value: ArrayCollection/ArrayList as `{ source }`, ObjectProxy as `{ object }`.
 * - Functions and symbols are skipped as object members, and written as undefined elsewhere. An empty key
 *   cannot be a dynamic member (it terminates the list) and is skipped.
 * - Other objects (class instances, Map, Set...) are written as anonymous objects of their own enumerable
 *   properties; bigint is written as a number.
 * - Invalid UTF-8 decodes leniently (U+FFFD), like Flash Player.
 */
import { AmfError, isSsasError } from '../errors';
import { ByteReader, ByteWriter, guardDepth, isStackOverflow, tooDeep, truncated } from './byte-io';
import {
  DEFAULT_MAX_DEPTH,
  type Amf3Externalizable,
  type Amf3ExternalizableRegistry,
  type AmfDecodeOptions,
  type AmfDecodeResult,
  type AmfEncodeOptions,
} from './options';
import {
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  getClassName,
  getSealedMembers,
  setSealedMembers,
  typedObject,
  type AmfObject,
  type AmfValue,
  type AmfVectorKind,
} from './types';

export enum Amf3Marker {
  Undefined = 0x00,
  Null = 0x01,
  False = 0x02,
  True = 0x03,
  Integer = 0x04,
  Double = 0x05,
  String = 0x06,
  XmlDocument = 0x07,
  Date = 0x08,
  Array = 0x09,
  Object = 0x0a,
  Xml = 0x0b,
  ByteArray = 0x0c,
  VectorInt = 0x0d,
  VectorUint = 0x0e,
  VectorDouble = 0x0f,
  VectorObject = 0x10,
  Dictionary = 0x11,
}

const U29_MAX = 0x1fffffff;
const INT29_MIN = -0x10000000;
const INT29_MAX = 0x0fffffff;
/** Largest length or reference index that fits a U29 next to its one flag bit. */
const U28_MAX = 0x0fffffff;

// ---------------------------------------------------------------------------------------------- externalizables

/** Flex collection classes that serialize one wrapped value, represented as `typedObject(name, { [prop]: v })`. */
function wrapperCodec(prop: string): Amf3Externalizable {
  return {
    read(reader, target) {
      const v = reader.readValue();
      if (prop === '__proto__') Object.defineProperty(target, prop, { value: v, enumerable: true, writable: true, configurable: true });
      else target[prop] = v;
    },
    write(writer, value) {
      writer.writeValue(value[prop]);
    },
  };
}

export const ARRAY_COLLECTION = 'flex.messaging.io.ArrayCollection';
export const ARRAY_LIST = 'flex.messaging.io.ArrayList';
export const OBJECT_PROXY = 'flex.messaging.io.ObjectProxy';

/** Externalizable codecs known by default: Flex ArrayCollection, ArrayList (`{ source }`) and ObjectProxy (`{ object }`). */
export const defaultExternalizables: Amf3ExternalizableRegistry = new Map<string, Amf3Externalizable>([
  [ARRAY_COLLECTION, wrapperCodec('source')],
  [ARRAY_LIST, wrapperCodec('source')],
  [OBJECT_PROXY, wrapperCodec('object')],
]);

/** A Flex ArrayCollection (externalizable in AMF3) around `source`. */
export function arrayCollection(source: AmfValue[]): AmfObject {
  return typedObject(ARRAY_COLLECTION, { source });
}

/** A Flex ObjectProxy (externalizable in AMF3) around `object`. */
export function objectProxy(object: AmfValue): AmfObject {
  return typedObject(OBJECT_PROXY, { object });
}

// ------------------------------------------------------------------------------------------------------ shared

/** Own data property, safe for keys such as "__proto__" that an assignment would treat specially. */
export function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}



/** Object members that AMF carries: functions and symbols are skipped, like Flash Player does. */
function isSkipped(v: unknown): boolean {
  const t = typeof v;
  return t === 'function' || t === 'symbol';
}

/**
 * The associative part of an Array: own enumerable keys beyond its hole-free prefix. Returns the dense length
 * and the extra keys (null when there are none, the common case).
 */
export function splitArray(arr: readonly unknown[]): { dense: number; extra: string[] | null } {
  const len = arr.length;
  const keys = Object.keys(arr);
  if (keys.length === len && (len === 0 || keys[len - 1] === String(len - 1))) return { dense: len, extra: null };
  let dense = 0;
  while (dense < len && dense in arr) dense++;
  // Object.keys lists integer indices first in ascending order, so indices 0..dense-1 are the first keys.
  return { dense, extra: keys.slice(dense) };
}

// ------------------------------------------------------------------------------------------------------ reader

interface Traits {
  className: string;
  dynamic: boolean;
  externalizable: boolean;
  sealed: readonly string[];
}

const NO_MEMBERS: readonly string[] = Object.freeze([]);

export class Amf3Reader extends ByteReader {
  private readonly strings: string[] = [];
  private readonly objects: unknown[] = [];
  private readonly traits: Traits[] = [];
  private readonly maxDepth: number;
  private readonly externalizables: Amf3ExternalizableRegistry;
  /** @internal Current container nesting; the AMF0 reader seeds it when it switches to AMF3. */
  depth = 0;

  constructor(buf: Buffer | Uint8Array, offset = 0, opts: AmfDecodeOptions = {}) {
    super(buf, offset);
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.externalizables = opts.externalizables ?? defaultExternalizables;
  }

  /** Reads one AMF3 value (marker included). Reference tables persist across calls on this reader. */
  readValue(): AmfValue {
    return guardDepth(this.depth, this.maxDepth, () => this.pos, () => this.value());
  }

  /** U29 (1 to 4 bytes, AMF3 spec 1.3.1). */
  readU29(): number {
    const buf = this.buf;
    let p = this.pos;
    const end = this.end;
    let v = 0;
    for (let i = 0; i < 3; i++) {
      if (p >= end) throw truncated(p, 1, 0);
      const b = buf[p++];
      if (b < 0x80) {
        this.pos = p;
        return (v << 7) | b;
      }
      v = (v << 7) | (b & 0x7f);
    }
    if (p >= end) throw truncated(p, 1, 0);
    v = (v << 8) | buf[p++];
    this.pos = p;
    return v >>> 0;
  }

  /** UTF-8-vr: a string or a string-table reference (AMF3 spec 1.3.2). */
  readStringRef(): string {
    const u = this.readU29();
    if ((u & 1) === 0) {
      const idx = u >>> 1;
      if (idx >= this.strings.length) throw this.badRef('string', idx, this.strings.length);
      return this.strings[idx];
    }
    const n = u >>> 1;
    if (n === 0) return '';
    const s = this.utf8(n);
    this.strings.push(s);
    return s;
  }

  /** IDataInput.readUTF: u16 length + UTF-8, for externalizable bodies. */
  readUTF(): string {
    return this.utf8(this.readUInt16());
  }

  private badRef(table: string, idx: number, size: number): AmfError {
    return new AmfError('ERR_AMF_BAD_REFERENCE', `AMF3 ${table} reference ${idx} outside the table of ${size}`, {
      table,
      index: idx,
      size,
      offset: this.pos,
    });
  }

  private objectRef(u: number): unknown {
    const idx = u >>> 1;
    if (idx >= this.objects.length) throw this.badRef('object', idx, this.objects.length);
    return this.objects[idx];
  }

  /** A count read from the wire, each item taking at least `unit` bytes: reject before allocating. */
  private count(n: number, unit: number): number {
    if (n * unit > this.end - this.pos) throw truncated(this.pos, n * unit, this.end - this.pos);
    return n;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw tooDeep(this.maxDepth, this.pos);
  }

  /** @internal */
  value(): AmfValue {
    if (this.pos >= this.end) throw truncated(this.pos, 1, 0);
    const marker = this.buf[this.pos++];
    switch (marker) {
      case Amf3Marker.Undefined:
        return undefined;
      case Amf3Marker.Null:
        return null;
      case Amf3Marker.False:
        return false;
      case Amf3Marker.True:
        return true;
      case Amf3Marker.Integer:
        return (this.readU29() << 3) >> 3;
      case Amf3Marker.Double:
        return this.readDouble();
      case Amf3Marker.String:
        return this.readStringRef();
      case Amf3Marker.XmlDocument:
      case Amf3Marker.Xml: {
        const u = this.readU29();
        if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
        const text = this.utf8(u >>> 1);
        const v = marker === Amf3Marker.Xml ? new AmfXml(text) : new AmfXmlDocument(text);
        this.objects.push(v);
        return v;
      }
      case Amf3Marker.Date: {
        const u = this.readU29();
        if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
        const d = new Date(this.readDouble());
        this.objects.push(d);
        return d;
      }
      case Amf3Marker.Array:
        return this.readArray();
      case Amf3Marker.Object:
        return this.readObject();
      case Amf3Marker.ByteArray: {
        const u = this.readU29();
        if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
        const bytes = this.readBytes(u >>> 1);
        this.objects.push(bytes);
        return bytes;
      }
      case Amf3Marker.VectorInt:
      case Amf3Marker.VectorUint:
      case Amf3Marker.VectorDouble:
      case Amf3Marker.VectorObject:
        return this.readVector(marker);
      case Amf3Marker.Dictionary:
        return this.readDictionary();
      default:
        throw new AmfError('ERR_AMF_UNKNOWN_MARKER', `unknown AMF3 marker 0x${marker.toString(16)}`, {
          marker,
          offset: this.pos - 1,
        });
    }
  }

  private readArray(): AmfValue {
    const u = this.readU29();
    if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
    const dense = this.count(u >>> 1, 1);
    this.enter();
    const arr: AmfValue[] = [];
    this.objects.push(arr);
    for (;;) {
      const key = this.readStringRef();
      if (key === '') break;
      const v = this.value();
      if (key !== 'length') setMember(arr as unknown as Record<string, unknown>, key, v);
    }
    for (let i = 0; i < dense; i++) arr[i] = this.value();
    this.depth--;
    return arr;
  }

  private readObject(): AmfValue {
    const u = this.readU29();
    if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
    let traits: Traits;
    if ((u & 2) === 0) {
      const idx = u >>> 2;
      if (idx >= this.traits.length) throw this.badRef('traits', idx, this.traits.length);
      traits = this.traits[idx];
    } else if ((u & 4) !== 0) {
      traits = { className: this.readStringRef(), dynamic: false, externalizable: true, sealed: NO_MEMBERS };
      this.traits.push(traits);
    } else {
      // Each sealed member costs at least a name byte here and a value byte later.
      const n = this.count(u >>> 4, 2);
      const className = this.readStringRef();
      const sealed: string[] = [];
      for (let i = 0; i < n; i++) sealed.push(this.readStringRef());
      traits = {
        className,
        dynamic: (u & 8) !== 0,
        externalizable: false,
        sealed: n === 0 ? NO_MEMBERS : Object.freeze(sealed),
      };
      this.traits.push(traits);
    }
    this.enter();
    const cls = traits.className;
    const obj: AmfObject = cls !== '' ? typedObject(cls, {}) : {};
    const slot = this.objects.length;
    this.objects.push(obj);
    if (traits.externalizable) {
      const codec = this.externalizables.get(cls);
      if (!codec) {
        throw new AmfError('ERR_AMF_UNKNOWN_EXTERNALIZABLE', `no reader for externalizable class "${cls}"`, {
          className: cls,
          offset: this.pos,
        });
      }
      let result: AmfValue;
      try {
        result = codec.read(this, obj, cls) as AmfValue;
      } catch (e) {
        if (isSsasError(e) || isStackOverflow(e)) throw e;
        throw new AmfError('ERR_AMF_EXTERNALIZABLE', `reading externalizable "${cls}" failed: ${String(e)}`, { className: cls }, { cause: e });
      }
      this.depth--;
      if (result !== undefined) {
        this.objects[slot] = result;
        return result;
      }
      return obj;
    }
    const sealed = traits.sealed;
    if (cls !== '' || sealed.length > 0) setSealedMembers(obj, sealed);
    for (let i = 0; i < sealed.length; i++) setMember(obj, sealed[i], this.value());
    if (traits.dynamic) {
      for (;;) {
        const key = this.readStringRef();
        if (key === '') break;
        setMember(obj, key, this.value());
      }
    }
    this.depth--;
    return obj;
  }

  private readVector(marker: number): AmfValue {
    const u = this.readU29();
    if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
    const n = u >>> 1;
    const fixed = this.readUInt8() !== 0;
    let vec: AmfVector;
    if (marker === Amf3Marker.VectorObject) {
      const className = this.readStringRef();
      this.count(n, 1);
      this.enter();
      vec = new AmfVector('object', [], fixed, className);
      this.objects.push(vec);
      const items = vec.items;
      for (let i = 0; i < n; i++) items.push(this.value());
      this.depth--;
      return vec;
    }
    const width = marker === Amf3Marker.VectorDouble ? 8 : 4;
    this.count(n, width);
    const items: number[] = new Array<number>(n);
    const buf = this.buf;
    let p = this.pos;
    if (marker === Amf3Marker.VectorInt) {
      for (let i = 0; i < n; i++, p += 4) items[i] = buf.readInt32BE(p);
      vec = new AmfVector('int', items, fixed);
    } else if (marker === Amf3Marker.VectorUint) {
      for (let i = 0; i < n; i++, p += 4) items[i] = buf.readUInt32BE(p);
      vec = new AmfVector('uint', items, fixed);
    } else {
      for (let i = 0; i < n; i++, p += 8) items[i] = buf.readDoubleBE(p);
      vec = new AmfVector('double', items, fixed);
    }
    this.pos = p;
    this.objects.push(vec);
    return vec;
  }

  private readDictionary(): AmfValue {
    const u = this.readU29();
    if ((u & 1) === 0) return this.objectRef(u) as AmfValue;
    const n = u >>> 1;
    const weak = this.readUInt8() !== 0;
    this.count(n, 2);
    this.enter();
    const dict = new AmfDictionary(new Map(), weak);
    this.objects.push(dict);
    for (let i = 0; i < n; i++) {
      const key = this.value();
      dict.entries.set(key, this.value());
    }
    this.depth--;
    return dict;
  }
}

// ------------------------------------------------------------------------------------------------------ writer

const ANONYMOUS_TRAITS = '\u0000anonymous';
const VECTOR_MARKERS: Record<AmfVectorKind, number> = {
  int: Amf3Marker.VectorInt,
  uint: Amf3Marker.VectorUint,
  double: Amf3Marker.VectorDouble,
  object: Amf3Marker.VectorObject,
};

function tooLong(what: string, n: number): AmfError {
  return new AmfError('ERR_AMF_LIMIT', `${what} of ${n} is too large for AMF3 (max ${U28_MAX})`, { what, size: n });
}

export class Amf3Writer extends ByteWriter {
  private readonly strings = new Map<string, number>();
  private readonly objects = new Map<object, number>();
  private objectCount = 0;
  private readonly traits = new Map<string, number>();
  private readonly maxDepth: number;
  private readonly externalizables: Amf3ExternalizableRegistry;
  /** @internal Current container nesting; the AMF0 writer seeds it when it switches to AMF3. */
  depth = 0;

  constructor(opts: AmfEncodeOptions = {}) {
    super(opts.initialSize);
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.externalizables = opts.externalizables ?? defaultExternalizables;
  }

  /** Writes one AMF3 value (marker included). Reference tables persist across calls on this writer. */
  writeValue(v: AmfValue): this {
    guardDepth(this.depth, this.maxDepth, () => undefined, () => this.value(v));
    return this;
  }

  writeU29(v: number): this {
    this.ensure(4);
    const buf = this.buf;
    if (v < 0x80) {
      buf[this.len++] = v;
    } else if (v < 0x4000) {
      buf[this.len++] = (v >>> 7) | 0x80;
      buf[this.len++] = v & 0x7f;
    } else if (v < 0x200000) {
      buf[this.len++] = (v >>> 14) | 0x80;
      buf[this.len++] = ((v >>> 7) & 0x7f) | 0x80;
      buf[this.len++] = v & 0x7f;
    } else if (v <= U29_MAX) {
      buf[this.len++] = (v >>> 22) | 0x80;
      buf[this.len++] = ((v >>> 15) & 0x7f) | 0x80;
      buf[this.len++] = ((v >>> 8) & 0x7f) | 0x80;
      buf[this.len++] = v & 0xff;
    } else {
      throw new AmfError('ERR_AMF_LIMIT', `U29 value ${v} out of range`, { value: v });
    }
    return this;
  }

  /** UTF-8-vr: writes a reference when the string was written before (the empty string never is). */
  writeStringRef(s: string): this {
    if (s === '') {
      this.writeU29(1);
      return this;
    }
    const idx = this.strings.get(s);
    if (idx !== undefined) return this.writeU29(idx << 1);
    if (this.strings.size <= U28_MAX) this.strings.set(s, this.strings.size);
    if (s.length <= 21) {
      // At most 63 bytes: the length prefix is one byte, so write the bytes first and back-fill it.
      this.ensure(1);
      const at = this.len++;
      const n = this.utf8(s);
      this.buf[at] = (n << 1) | 1;
      return this;
    }
    return this.writeUtf8Value(s, 'string');
  }

  /** Length-prefixed UTF-8 outside the string table (XML, XMLDocument). */
  private writeUtf8Value(s: string, what: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > U28_MAX) throw tooLong(what, n);
    this.writeU29((n << 1) | 1);
    this.utf8(s);
    return this;
  }

  /** IDataOutput.writeUTF: u16 length + UTF-8, for externalizable bodies. */
  writeUTF(s: string): this {
    this.ensure(2);
    const at = this.len;
    this.len += 2;
    const n = this.utf8(s);
    if (n > 0xffff) throw new AmfError('ERR_AMF_LIMIT', `writeUTF string of ${n} bytes exceeds 65535`, { size: n });
    this.buf[at] = n >>> 8;
    this.buf[at + 1] = n & 0xff;
    return this;
  }

  private marker(m: number): void {
    this.ensure(1);
    this.buf[this.len++] = m;
  }

  /** Writes a reference and returns true if `obj` was written before; otherwise enters it in the table. */
  private reference(obj: object): boolean {
    const idx = this.objects.get(obj);
    if (idx !== undefined) {
      this.writeU29(idx << 1);
      return true;
    }
    const next = this.objectCount++;
    if (next <= U28_MAX) this.objects.set(obj, next);
    return false;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw tooDeep(this.maxDepth);
  }

  /** @internal */
  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.marker(Amf3Marker.String);
        this.writeStringRef(v);
        return;
      case 'boolean':
        this.marker(v ? Amf3Marker.True : Amf3Marker.False);
        return;
      case 'bigint':
        this.number(Number(v));
        return;
      case 'object':
        if (v === null) this.marker(Amf3Marker.Null);
        else this.object(v);
        return;
      default:
        // undefined, and functions or symbols standing where a value must be.
        this.marker(Amf3Marker.Undefined);
    }
  }

  private number(v: number): void {
    if (Number.isInteger(v) && v >= INT29_MIN && v <= INT29_MAX && !Object.is(v, -0)) {
      this.marker(Amf3Marker.Integer);
      this.writeU29(v & U29_MAX);
    } else {
      this.ensure(9);
      this.buf[this.len++] = Amf3Marker.Double;
      this.buf.writeDoubleBE(v, this.len);
      this.len += 8;
    }
  }

  private object(v: object): void {
    if (Array.isArray(v)) {
      this.marker(Amf3Marker.Array);
      if (!this.reference(v)) this.array(v);
    } else if (v instanceof Date) {
      this.marker(Amf3Marker.Date);
      if (!this.reference(v)) {
        this.writeU29(1);
        this.writeDouble(v.getTime());
      }
    } else if (v instanceof Uint8Array) {
      this.marker(Amf3Marker.ByteArray);
      if (!this.reference(v)) {
        if (v.length > U28_MAX) throw tooLong('ByteArray', v.length);
        this.writeU29((v.length << 1) | 1);
        this.writeBytes(v);
      }
    } else if (v instanceof AmfXmlDocument || v instanceof AmfXml) {
      this.marker(v instanceof AmfXml ? Amf3Marker.Xml : Amf3Marker.XmlDocument);
      if (!this.reference(v)) this.writeUtf8Value(String(v.xml), 'XML');
    } else if (v instanceof AmfVector) {
      const m = VECTOR_MARKERS[v.kind];
      if (m === undefined) throw new AmfError('ERR_AMF_LIMIT', `unknown vector kind "${String(v.kind)}"`);
      this.marker(m);
      if (!this.reference(v)) this.vector(v, m);
    } else if (v instanceof AmfDictionary) {
      this.marker(Amf3Marker.Dictionary);
      if (!this.reference(v)) this.dictionary(v);
    } else {
      this.marker(Amf3Marker.Object);
      if (!this.reference(v)) this.plainObject(v as AmfObject);
    }
  }

  private array(arr: unknown[]): void {
    const { dense, extra } = splitArray(arr);
    if (dense > U28_MAX) throw tooLong('Array', dense);
    this.enter();
    this.writeU29((dense << 1) | 1);
    if (extra !== null) {
      const rec = arr as unknown as Record<string, unknown>;
      for (const key of extra) {
        const item = rec[key];
        if (key === '' || isSkipped(item)) continue;
        this.writeStringRef(key);
        this.value(item);
      }
    }
    this.writeU29(1);
    for (let i = 0; i < dense; i++) this.value(arr[i]);
    this.depth--;
  }

  private traitsRef(key: string): boolean {
    const idx = this.traits.get(key);
    if (idx !== undefined) {
      this.writeU29((idx << 2) | 1);
      return true;
    }
    if (this.traits.size <= 0x7ffffff) this.traits.set(key, this.traits.size);
    return false;
  }

  private plainObject(obj: AmfObject): void {
    this.enter();
    const cls = getClassName(obj) ?? '';
    if (cls !== '') {
      const codec = this.externalizables.get(cls);
      if (codec?.write) {
        if (!this.traitsRef(`E${cls}`)) {
          this.writeU29(0b0111);
          this.writeStringRef(cls);
        }
        codec.write(this, obj, cls);
        this.depth--;
        return;
      }
    }
    const declared = getSealedMembers(obj);
    let sealed: readonly string[];
    let dynamic: boolean;
    if (declared !== undefined) {
      sealed = declared;
      dynamic = cls === '' || this.hasDynamicMembers(obj, sealed);
    } else if (cls !== '') {
      sealed = Object.keys(obj).filter((k) => !isSkipped(obj[k]));
      dynamic = false;
    } else {
      sealed = NO_MEMBERS;
      dynamic = true;
    }
    if (sealed.length > 0x1ffffff) throw tooLong('sealed member count', sealed.length);
    const key = cls === '' && sealed.length === 0 ? ANONYMOUS_TRAITS : JSON.stringify([cls, dynamic, sealed]);
    if (!this.traitsRef(key)) {
      this.writeU29((sealed.length << 4) | (dynamic ? 0b1011 : 0b0011));
      this.writeStringRef(cls);
      for (let i = 0; i < sealed.length; i++) this.writeStringRef(sealed[i]);
    }
    for (let i = 0; i < sealed.length; i++) this.value(obj[sealed[i]]);
    if (dynamic) {
      const sealedSet = sealed.length > 0 ? new Set(sealed) : null;
      for (const k of Object.keys(obj)) {
        if (k === '' || (sealedSet !== null && sealedSet.has(k))) continue;
        const item = obj[k];
        if (isSkipped(item)) continue;
        this.writeStringRef(k);
        this.value(item);
      }
      this.writeU29(1);
    }
    this.depth--;
  }

  private hasDynamicMembers(obj: AmfObject, sealed: readonly string[]): boolean {
    const keys = Object.keys(obj);
    if (keys.length === 0) return false;
    const set = new Set(sealed);
    return keys.some((k) => k !== '' && !set.has(k) && !isSkipped(obj[k]));
  }

  private vector(v: AmfVector, m: number): void {
    const items = v.items;
    const n = items.length;
    if (n > U28_MAX) throw tooLong('Vector', n);
    this.writeU29((n << 1) | 1);
    this.writeUInt8(v.fixed ? 1 : 0);
    if (m === Amf3Marker.VectorObject) {
      this.enter();
      this.writeStringRef(String(v.className ?? ''));
      for (let i = 0; i < n; i++) this.value(items[i]);
      this.depth--;
      return;
    }
    const width = m === Amf3Marker.VectorDouble ? 8 : 4;
    this.ensure(n * width);
    const buf = this.buf;
    let p = this.len;
    if (m === Amf3Marker.VectorInt) {
      for (let i = 0; i < n; i++, p += 4) buf.writeInt32BE(Number(items[i]) | 0, p);
    } else if (m === Amf3Marker.VectorUint) {
      for (let i = 0; i < n; i++, p += 4) buf.writeUInt32BE(Number(items[i]) >>> 0, p);
    } else {
      for (let i = 0; i < n; i++, p += 8) buf.writeDoubleBE(Number(items[i]), p);
    }
    this.len = p;
  }

  private dictionary(d: AmfDictionary): void {
    const n = d.entries.size;
    if (n > U28_MAX) throw tooLong('Dictionary', n);
    this.enter();
    this.writeU29((n << 1) | 1);
    this.writeUInt8(d.weakKeys ? 1 : 0);
    for (const [k, item] of d.entries) {
      this.value(k);
      this.value(item);
    }
    this.depth--;
  }
}

// --------------------------------------------------------------------------------------------------- functions

/** Encodes one value as AMF3 with fresh reference tables. */
export function encodeAmf3(value: AmfValue, opts?: AmfEncodeOptions): Buffer {
  return new Amf3Writer(opts).writeValue(value).toBuffer();
}

/** Decodes one AMF3 value at `offset` with fresh reference tables. */
export function decodeAmf3(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfDecodeResult {
  const reader = new Amf3Reader(buf, offset, opts);
  const value = reader.readValue();
  return { value, position: reader.position };
}
