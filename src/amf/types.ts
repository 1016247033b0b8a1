/**
 * The host-side value model for AMF0 and AMF3 (Adobe "AMF 0 Specification" and "AMF 3 Specification",
 * 2006/2013). Plain JS values where a JS value says everything; small marker classes or hidden symbols where
 * AMF distinguishes what JS does not (ECMA array vs object, typed objects, XML documents, vectors).
 *
 *   number, boolean, string, null, undefined   as themselves (AMF3 integer decodes to number)
 *   Date                                       Date (AMF0 time-zone field is kept on AmfDate for round trips)
 *   anonymous object                           plain object
 *   typed object (class name)                  plain object with className under kClassName (see typedObject)
 *   ECMA array (AMF0 0x08)                     plain object marked with kEcmaArray (see ecmaArray)
 *   strict array / AMF3 dense array            Array (named own properties = AMF3 associative part; in AMF0
 *                                              an Array with named keys is written as an ECMA array)
 *   XML document (AMF0 0x0F, AMF3 0x07)        AmfXmlDocument
 *   AMF3 XML (E4X, 0x0B)                       AmfXml
 *   AMF3 ByteArray                             Buffer (any Uint8Array encodes as ByteArray)
 *   AMF3 Vector.<int|uint|Number|Object>       AmfVector
 *   AMF3 Dictionary                            AmfDictionary
 *   AMF3 externalizable                        whatever the registered reader returns
 */

/** Hidden class name of a typed object (AMF0 0x10, AMF3 sealed/dynamic traits with a class name). */
export const kClassName: unique symbol = Symbol.for('ssas.amf.className');
/** Hidden marker of an object that came from (and should go back as) an AMF0 ECMA array. */
export const kEcmaArray: unique symbol = Symbol.for('ssas.amf.ecmaArray');
/** Hidden list of sealed member names for AMF3 typed objects (order matters on the wire). */
export const kSealedMembers: unique symbol = Symbol.for('ssas.amf.sealedMembers');

export type AmfObject = { [key: string]: AmfValue };

export type AmfValue =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | AmfObject
  | AmfValue[]
  | Uint8Array
  | AmfXmlDocument
  | AmfXml
  | AmfVector
  | AmfDictionary;

/** A Date that remembers the AMF0 time-zone field it was read with (minutes; informative only). */
export class AmfDate extends Date {
  timezone: number;
  constructor(ms: number, timezone = 0) {
    super(ms);
    this.timezone = timezone;
  }
}

/** Legacy XMLDocument (AMF0 0x0F, AMF3 0x07). */
export class AmfXmlDocument {
  constructor(public xml: string) {}
  toString(): string {
    return this.xml;
  }
}

/** AS3 (E4X) XML, AMF3 0x0B. Only AMF3 can carry it. */
export class AmfXml {
  constructor(public xml: string) {}
  toString(): string {
    return this.xml;
  }
}

export type AmfVectorKind = 'int' | 'uint' | 'double' | 'object';

/** AMF3 Vector (0x0D int, 0x0E uint, 0x0F Number, 0x10 Object). */
export class AmfVector {
  constructor(
    public kind: AmfVectorKind,
    public items: AmfValue[],
    public fixed = false,
    /** Element type name for Vector.<Object> ("" or "*" for any). */
    public className = '',
  ) {}
}

/** AMF3 Dictionary (0x11). Keys may be any AMF value. */
export class AmfDictionary {
  constructor(
    public entries: Map<AmfValue, AmfValue> = new Map(),
    public weakKeys = false,
  ) {}
}

/** Makes (or marks) an object as a typed object of class `className`. */
export function typedObject<T extends object>(className: string, props: T): T {
  Object.defineProperty(props, kClassName, { value: className, enumerable: false, writable: true, configurable: true });
  return props;
}

/** The AMF class name of a typed object, or undefined for anonymous objects. */
export function getClassName(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const name = (obj as Record<symbol, unknown>)[kClassName];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Marks a plain object so that AMF0 writes it as an ECMA array (0x08). */
export function ecmaArray<T extends object>(props: T): T {
  Object.defineProperty(props, kEcmaArray, { value: true, enumerable: false, writable: true, configurable: true });
  return props;
}

export function isEcmaArray(obj: unknown): boolean {
  return typeof obj === 'object' && obj !== null && (obj as Record<symbol, unknown>)[kEcmaArray] === true;
}

/** Sets the sealed member names (wire order) of an AMF3 object; see kSealedMembers. */
export function setSealedMembers<T extends object>(obj: T, names: readonly string[]): T {
  Object.defineProperty(obj, kSealedMembers, { value: names, enumerable: false, writable: true, configurable: true });
  return obj;
}

/** The sealed member names recorded on an object, or undefined. */
export function getSealedMembers(obj: unknown): readonly string[] | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const names = (obj as Record<symbol, unknown>)[kSealedMembers];
  return Array.isArray(names) ? (names as readonly string[]) : undefined;
}
