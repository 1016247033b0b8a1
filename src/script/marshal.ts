/**
 * Values crossing the sandbox bridge. isolated-vm copies plain data (structured clone: objects, arrays,
 * Date, typed arrays, undefined, cycles) but drops what AMF distinguishes and JS does not: class names,
 * ECMA arrays, XML documents, vectors, dictionaries, arrays with named keys. Those travel as small tagged
 * objects `{"\u0001": kind, ...}` that sandbox/core.js (toHost/fromHost) understands.
 *
 *   T typed object {c: className, p: props}      E ECMA array {p: props}
 *   A array with named keys {d: dense, p: named}  X XMLDocument {s}   X3 AS3 XML {s}
 *   V vector {k, f, c, i: items}                  D dictionary {w, e: [[key, value]...]}
 */
import {
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  ecmaArray,
  getClassName,
  setMember,
  isEcmaArray,
  typedObject,
  type AmfValue,
  type AmfVectorKind,
} from '../amf';

export const TAG = '\u0001';

type Tagged = Record<string, unknown>;

/**
 * True when a value must be rewritten before isolated-vm can copy it (class names, ECMA arrays, XML, vectors,
 * dictionaries, arrays with named keys, functions). Most call arguments are plain data: they are passed
 * as they are and copied once, by the structured clone.
 */
function needsTagging(value: unknown): boolean {
  // No visited set (this runs for every call): a cycle, or nesting this deep, simply takes the full path.
  const check = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint';
    if (depth > 32) return true;
    if (v instanceof Date || v instanceof Uint8Array) return false;
    if (v instanceof AmfXmlDocument || v instanceof AmfXml || v instanceof AmfVector || v instanceof AmfDictionary) return true;
    if (Array.isArray(v)) {
      if (Object.keys(v).length !== v.length) return true;
      for (let i = 0; i < v.length; i++) if (check(v[i], depth + 1)) return true;
      return false;
    }
    if (getClassName(v) !== undefined || isEcmaArray(v)) return true;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return true;
    for (const k in v) if (check((v as Record<string, unknown>)[k], depth + 1)) return true;
    return false;
  };
  return check(value, 0);
}

/** AMF value -> copyable tagged form for the isolate. */
export function toIsolate(value: AmfValue): unknown {
  if (value === null || typeof value !== 'object' || !needsTagging(value)) return value;
  const seen = new Map<object, unknown>();
  const conv = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? undefined : v;
    if (depth > 512) return null;
    const hit = seen.get(v);
    if (hit !== undefined) return hit;
    if (v instanceof Date) return new Date(v.getTime());
    if (v instanceof Uint8Array) return new Uint8Array(v);
    if (v instanceof AmfXmlDocument) return { [TAG]: 'X', s: v.xml };
    if (v instanceof AmfXml) return { [TAG]: 'X3', s: v.xml };
    if (v instanceof AmfVector) {
      const out: Tagged = { [TAG]: 'V', k: v.kind, f: v.fixed, c: v.className, i: [] as unknown[] };
      seen.set(v, out);
      out.i = v.items.map((x) => conv(x, depth + 1));
      return out;
    }
    if (v instanceof AmfDictionary) {
      const out: Tagged = { [TAG]: 'D', w: v.weakKeys, e: [] as unknown[] };
      seen.set(v, out);
      out.e = Array.from(v.entries, ([k, val]) => [conv(k, depth + 1), conv(val, depth + 1)]);
      return out;
    }
    if (Array.isArray(v)) {
      const dense: unknown[] = [];
      seen.set(v, dense);
      let named: Tagged | null = null;
      for (const k of Object.keys(v)) {
        const idx = Number(k);
        if (String(idx >>> 0) === k && idx < 4294967295) continue;
        named ??= {};
        setMember(named, k, conv((v as unknown as Record<string, unknown>)[k], depth + 1));
      }
      for (let i = 0; i < v.length; i++) dense[i] = conv(v[i], depth + 1);
      if (named) {
        const t: Tagged = { [TAG]: 'A', d: dense, p: named };
        seen.set(v, t);
        return t;
      }
      return dense;
    }
    const props: Tagged = {};
    const cls = getClassName(v);
    let result: Tagged = props;
    if (cls !== undefined) result = { [TAG]: 'T', c: cls, p: props };
    else if (isEcmaArray(v)) result = { [TAG]: 'E', p: props };
    seen.set(v, result);
    for (const [k, val] of Object.entries(v)) setMember(props, k, conv(val, depth + 1));
    return result;
  };
  return conv(value, 0);
}

/**
 * Copyable tagged form from the isolate -> AMF value. The input is always a fresh copy made by isolated-vm,
 * so plain objects and arrays are converted in place; only tagged nodes are replaced.
 */
export function fromIsolate(value: unknown): AmfValue {
  const seen = new Map<object, AmfValue>();
  const conv = (v: unknown, depth: number): AmfValue => {
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'bigint') return Number(v);
      return typeof v === 'function' || typeof v === 'symbol' ? undefined : (v as AmfValue);
    }
    if (depth > 512) return null;
    const hit = seen.get(v);
    if (hit !== undefined) return hit;
    // Copies from the isolate are created in Node's main realm, which is not always ours (jest runs tests
    // in a vm context), so built-in types are recognised by their tag, not by instanceof.
    const kind = Object.prototype.toString.call(v);
    if (kind === '[object Date]') return v instanceof Date ? v : new Date((v as Date).getTime());
    if (kind === '[object Uint8Array]') {
      const u = v as Uint8Array;
      return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    }
    if (kind === '[object ArrayBuffer]') return Buffer.from(v as ArrayBuffer);
    if (Array.isArray(v)) {
      seen.set(v, v as AmfValue[]);
      for (let i = 0; i < v.length; i++) {
        const c = conv(v[i], depth + 1);
        if (c !== v[i]) v[i] = c;
      }
      return v as AmfValue[];
    }
    const o = v as Tagged;
    const tag = o[TAG];
    if (typeof tag === 'string') {
      switch (tag) {
        case 'T': {
          const props: Record<string, AmfValue> = {};
          const t = typedObject(String(o.c), props);
          seen.set(v, t);
          fill(props, o.p, depth);
          return t;
        }
        case 'E': {
          const props = ecmaArray({} as Record<string, AmfValue>);
          seen.set(v, props);
          fill(props, o.p, depth);
          return props;
        }
        case 'A': {
          const arr: AmfValue[] = [];
          seen.set(v, arr);
          const d = Array.isArray(o.d) ? o.d : [];
          for (let i = 0; i < d.length; i++) arr[i] = conv(d[i], depth + 1);
          fill(arr as unknown as Record<string, AmfValue>, o.p, depth);
          return arr;
        }
        case 'X':
          return new AmfXmlDocument(String(o.s ?? ''));
        case 'X3':
          return new AmfXml(String(o.s ?? ''));
        case 'V': {
          const vec = new AmfVector((['int', 'uint', 'double', 'object'].includes(String(o.k)) ? o.k : 'object') as AmfVectorKind, [], o.f === true, String(o.c ?? ''));
          seen.set(v, vec);
          const items = Array.isArray(o.i) ? o.i : [];
          vec.items = items.map((x) => conv(x, depth + 1));
          return vec;
        }
        case 'D': {
          const dict = new AmfDictionary(new Map(), o.w === true);
          seen.set(v, dict);
          for (const e of Array.isArray(o.e) ? o.e : []) {
            if (Array.isArray(e)) dict.entries.set(conv(e[0], depth + 1), conv(e[1], depth + 1));
          }
          return dict;
        }
      }
    }
    seen.set(v, o as AmfValue);
    for (const k of Object.keys(o)) {
      if (k === TAG) {
        delete o[k];
        continue;
      }
      const c = conv(o[k], depth + 1);
      if (c !== o[k]) o[k] = c;
    }
    return o as AmfValue;
  };
  const fill = (target: Record<string, AmfValue>, src: unknown, depth: number): void => {
    if (src === null || typeof src !== 'object') return;
    for (const [k, val] of Object.entries(src as Tagged)) {
      if (k === TAG) continue;
      setMember(target, k, conv(val, depth + 1));
    }
  };
  return conv(value, 0);
}
