/**
 * Test helpers for the AMF codecs: a structural equality that knows the AMF value model (class names, ECMA
 * markers, sealed members, vector kinds, dictionary entries, bytes, object identity and cycles), a seeded PRNG
 * and a random AmfValue tree generator.
 */
import {
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  arrayCollection,
  ecmaArray,
  getClassName,
  getSealedMembers,
  isEcmaArray,
  objectProxy,
  setSealedMembers,
  typedObject,
  type AmfObject,
  type AmfValue,
  type AmfVectorKind,
} from '../../src/amf';
import { isSsasError } from '../../src/errors';

// ------------------------------------------------------------------------------------------------- equality

/**
 * Returns null when `actual` is what decoding `expected` should give, else a path and reason. Lenient only
 * where the format cannot carry the difference: kSealedMembers and AmfDate time zones are compared when the
 * expected value has them; key order is not compared (sealed member order is).
 */
export function amfDiff(expected: unknown, actual: unknown): string | null {
  return diff(expected, actual, '$', new Map());
}

function diff(e: unknown, a: unknown, path: string, seen: Map<object, unknown>): string | null {
  if (typeof e !== 'object' || e === null) {
    if (typeof e === 'number' && typeof a === 'number') return Object.is(e, a) ? null : `${path}: ${e} != ${a}`;
    return e === a ? null : `${path}: ${show(e)} != ${show(a)}`;
  }
  if (typeof a !== 'object' || a === null) return `${path}: expected an object, got ${show(a)}`;
  if (seen.has(e)) return seen.get(e) === a ? null : `${path}: object identity not preserved`;
  seen.set(e, a);

  if (e instanceof Date) {
    if (!(a instanceof Date)) return `${path}: expected a Date`;
    if (!Object.is(e.getTime(), a.getTime())) return `${path}: date ${e.getTime()} != ${a.getTime()}`;
    if (e instanceof AmfDate && (!(a instanceof AmfDate) || a.timezone !== e.timezone)) {
      return `${path}: time zone ${e.timezone} != ${(a as AmfDate).timezone}`;
    }
    return null;
  }
  if (e instanceof Uint8Array) {
    if (!(a instanceof Uint8Array)) return `${path}: expected bytes`;
    return Buffer.compare(Buffer.from(e), Buffer.from(a)) === 0 ? null : `${path}: bytes differ`;
  }
  if (e instanceof AmfXmlDocument || e instanceof AmfXml) {
    if (a.constructor !== e.constructor) return `${path}: expected ${e.constructor.name}`;
    return (a as AmfXml).xml === e.xml ? null : `${path}: xml text differs`;
  }
  if (e instanceof AmfVector) {
    if (!(a instanceof AmfVector)) return `${path}: expected an AmfVector`;
    if (a.kind !== e.kind || a.fixed !== e.fixed) return `${path}: vector kind/fixed ${e.kind}/${e.fixed} != ${a.kind}/${a.fixed}`;
    if (e.kind === 'object' && a.className !== e.className) return `${path}: vector type ${e.className} != ${a.className}`;
    if (a.items.length !== e.items.length) return `${path}: vector length ${e.items.length} != ${a.items.length}`;
    for (let i = 0; i < e.items.length; i++) {
      const d = diff(e.items[i], a.items[i], `${path}[${i}]`, seen);
      if (d) return d;
    }
    return null;
  }
  if (e instanceof AmfDictionary) {
    if (!(a instanceof AmfDictionary)) return `${path}: expected an AmfDictionary`;
    if (a.weakKeys !== e.weakKeys) return `${path}: weakKeys differs`;
    if (a.entries.size !== e.entries.size) return `${path}: dictionary size ${e.entries.size} != ${a.entries.size}`;
    const ea = [...e.entries];
    const aa = [...a.entries];
    for (let i = 0; i < ea.length; i++) {
      const d = diff(ea[i][0], aa[i][0], `${path}.key#${i}`, seen) ?? diff(ea[i][1], aa[i][1], `${path}.value#${i}`, seen);
      if (d) return d;
    }
    return null;
  }
  if (Array.isArray(e) !== Array.isArray(a)) return `${path}: array vs object`;
  if (Array.isArray(e) && (a as unknown[]).length !== e.length) return `${path}: length ${e.length} != ${(a as unknown[]).length}`;
  if (getClassName(e) !== getClassName(a)) return `${path}: class ${getClassName(e)} != ${getClassName(a)}`;
  if (isEcmaArray(e) !== isEcmaArray(a)) return `${path}: ECMA array marker differs`;
  const sealed = getSealedMembers(e);
  if (sealed !== undefined && JSON.stringify(sealed) !== JSON.stringify(getSealedMembers(a))) {
    return `${path}: sealed members ${JSON.stringify(sealed)} != ${JSON.stringify(getSealedMembers(a))}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(e)) return `${path}: prototype differs`;
  const ek = Object.keys(e).sort();
  const ak = Object.keys(a).sort();
  if (JSON.stringify(ek) !== JSON.stringify(ak)) return `${path}: keys ${JSON.stringify(ek)} != ${JSON.stringify(ak)}`;
  for (const k of ek) {
    const d = diff((e as Record<string, unknown>)[k], (a as Record<string, unknown>)[k], `${path}.${k}`, seen);
    if (d) return d;
  }
  return null;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return String(v);
}

export function expectAmfEqual(actual: unknown, expected: unknown): void {
  const d = amfDiff(expected, actual);
  if (d !== null) throw new Error(`AMF values differ: ${d}`);
}

/** Runs `fn`; returns the thrown error's code, failing the test if something other than an AmfError escaped. */
export function amfErrorCode(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!isSsasError(e) || e.name !== 'AmfError' || !e.code.startsWith('ERR_AMF_')) {
      throw new Error(`non-AmfError escaped: ${String((e as Error)?.stack ?? e)}`);
    }
    return e.code;
  }
}

// ------------------------------------------------------------------------------------------------- random

/** mulberry32: small, fast, deterministic. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
}

const WORDS = ['a', 'b', 'name', 'value', 'x', 'y', 'code', 'level', 'description', 'objectEncoding', 'é€', '0', '7'];
const CLASSES = ['com.example.Point', 'flex.messaging.messages.AcknowledgeMessage', 'Foo', 'a.b.C'];
const ODD_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '1e3', '-1', '01'];

export type Format = 'amf0' | 'amf3';

interface Ctx {
  format: Format;
  /** Containers that may be referenced again (same reference table). */
  pool: object[];
  /** Ancestors of the value being generated (cycles). */
  stack: object[];
}

export class AmfGenerator {
  constructor(
    private readonly rng: Rng,
    private readonly maxDepth = 4,
  ) {}

  /** Values for one AMF0 message (one shared table) or one AMF3 value. */
  values(format: Format): AmfValue[] {
    const ctx: Ctx = { format, pool: [], stack: [] };
    const n = format === 'amf0' ? this.rng.int(1, 3) : 1;
    const out: AmfValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(ctx, 0));
    return out;
  }

  string(): string {
    const r = this.rng;
    switch (r.int(0, 5)) {
      case 0:
        return '';
      case 1:
      case 2:
        return r.pick(WORDS);
      case 3: {
        let s = '';
        const n = r.int(1, 30);
        for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x20, 0x7e));
        return s;
      }
      case 4: {
        let s = '';
        const n = r.int(1, 20);
        for (let i = 0; i < n; i++) {
          const cp = r.pick([r.int(0, 0x7f), r.int(0x80, 0x7ff), r.int(0x800, 0xd7ff), r.int(0xe000, 0xfffd), r.int(0x10000, 0x10ffff)]);
          s += String.fromCodePoint(cp);
        }
        return s;
      }
      default:
        return r.chance(0.02) ? 'z'.repeat(r.int(65530, 70000)) : `${r.pick(WORDS)}${r.int(0, 9)}`;
    }
  }

  number(): number {
    const r = this.rng;
    switch (r.int(0, 7)) {
      case 0:
        return r.int(-100, 100);
      case 1:
        return r.pick([0x0fffffff, -0x10000000, 0x10000000, -0x10000001, 2 ** 31, -(2 ** 31), 2 ** 32]);
      case 2:
        return r.pick([NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON]);
      case 3:
        return r.int(-(2 ** 30), 2 ** 30);
      case 4:
        return Number.MAX_SAFE_INTEGER - r.int(0, 10);
      default:
        return (r.next() - 0.5) * 10 ** r.int(-10, 20);
    }
  }

  private key(ctx: Ctx): string {
    const r = this.rng;
    if (r.chance(0.08)) return r.pick(ODD_KEYS);
    if (ctx.format === 'amf0' && r.chance(0.03)) return '';
    const k = this.string();
    return k === '' && ctx.format === 'amf3' ? 'k' : k.length > 1000 ? 'long' : k;
  }

  private primitive(): AmfValue {
    const r = this.rng;
    switch (r.int(0, 5)) {
      case 0:
        return r.pick([undefined, null]);
      case 1:
        return r.chance(0.5);
      case 2:
      case 3:
        return this.number();
      default:
        return this.string();
    }
  }

  private value(ctx: Ctx, depth: number): AmfValue {
    const r = this.rng;
    if (depth >= this.maxDepth || r.chance(0.45)) return this.primitive();
    if (ctx.pool.length > 0 && r.chance(0.08)) return r.pick(ctx.pool) as AmfValue;
    if (ctx.stack.length > 0 && r.chance(0.04)) return r.pick(ctx.stack) as AmfValue;
    return ctx.format === 'amf0' ? this.amf0Complex(ctx, depth) : this.amf3Complex(ctx, depth);
  }

  private children(ctx: Ctx, depth: number, n: number): AmfValue[] {
    const out: AmfValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(ctx, depth + 1));
    return out;
  }

  /** Generates members into `obj` with `obj` on the ancestor stack. */
  private fill(ctx: Ctx, depth: number, obj: Record<string, unknown>, keys: string[]): void {
    ctx.stack.push(obj);
    for (const k of keys) {
      const v = this.value(ctx, depth + 1);
      Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    ctx.stack.pop();
  }

  private keys(ctx: Ctx, n: number): string[] {
    const set = new Set<string>();
    for (let i = 0; i < n; i++) set.add(this.key(ctx));
    return [...set];
  }

  private amf0Complex(ctx: Ctx, depth: number): AmfValue {
    const r = this.rng;
    switch (r.int(0, 9)) {
      case 0:
      case 1: {
        const o: AmfObject = {};
        ctx.pool.push(o);
        this.fill(ctx, depth, o, this.keys(ctx, r.int(0, 5)));
        return o;
      }
      case 2: {
        const o = typedObject(r.pick(CLASSES), {} as AmfObject);
        ctx.pool.push(o);
        this.fill(ctx, depth, o, this.keys(ctx, r.int(0, 4)));
        return o;
      }
      case 3: {
        const o = ecmaArray({} as AmfObject);
        ctx.pool.push(o);
        this.fill(ctx, depth, o, this.keys(ctx, r.int(0, 4)));
        return o;
      }
      case 4:
      case 5: {
        const arr: AmfValue[] = [];
        ctx.pool.push(arr);
        ctx.stack.push(arr);
        const n = r.int(0, 5);
        for (let i = 0; i < n; i++) arr.push(this.value(ctx, depth + 1));
        ctx.stack.pop();
        return arr;
      }
      case 6:
        return r.chance(0.5) ? new AmfDate(this.number(), r.int(-720, 720)) : new Date(r.int(-1e12, 4e12));
      case 7:
        return new AmfXmlDocument(`<r>${this.string().replace(/[<&]/g, '')}</r>`);
      default: {
        // Behind the 0x11 switch: its own AMF3 tables, so its own pool and ancestors.
        return this.amf3Only({ format: 'amf3', pool: [], stack: [] }, depth);
      }
    }
  }

  private amf3Only(ctx: Ctx, depth: number): AmfValue {
    const r = this.rng;
    let v: AmfValue;
    switch (r.int(0, 6)) {
      case 0:
        v = r.bytes(r.int(0, 40));
        break;
      case 1:
        v = new AmfXml(`<x a="${r.int(0, 9)}"/>`);
        break;
      case 2:
      case 3:
        v = this.vector(ctx, depth);
        break;
      default:
        v = this.dictionary(ctx, depth);
    }
    ctx.pool.push(v as object);
    return v;
  }

  private vector(ctx: Ctx, depth: number): AmfVector {
    const r = this.rng;
    const kind = r.pick<AmfVectorKind>(['int', 'uint', 'double', 'object']);
    const n = r.int(0, 6);
    const fixed = r.chance(0.3);
    if (kind === 'object') {
      const vec = new AmfVector('object', [], fixed, r.pick(['', '*', 'Object', 'com.example.Point']));
      ctx.stack.push(vec);
      for (let i = 0; i < n; i++) vec.items.push(this.value(ctx, depth + 1));
      ctx.stack.pop();
      return vec;
    }
    const items: number[] = [];
    for (let i = 0; i < n; i++) {
      items.push(
        kind === 'int' ? r.int(-(2 ** 31), 2 ** 31 - 1) : kind === 'uint' ? r.int(0, 2 ** 32 - 1) : this.number(),
      );
    }
    return new AmfVector(kind, items, fixed);
  }

  private dictionary(ctx: Ctx, depth: number): AmfDictionary {
    const r = this.rng;
    const d = new AmfDictionary(new Map(), r.chance(0.5));
    ctx.stack.push(d);
    const n = r.int(0, 4);
    for (let i = 0; i < n; i++) d.entries.set(this.value(ctx, depth + 1), this.value(ctx, depth + 1));
    ctx.stack.pop();
    return d;
  }

  private amf3Complex(ctx: Ctx, depth: number): AmfValue {
    const r = this.rng;
    switch (r.int(0, 12)) {
      case 0:
      case 1: {
        const o: AmfObject = {};
        ctx.pool.push(o);
        this.fill(ctx, depth, o, this.keys(ctx, r.int(0, 5)));
        return o;
      }
      case 2: {
        // Typed object: sealed members either implied (all keys) or declared, plus dynamic extras.
        const o = typedObject(r.pick(CLASSES), {} as AmfObject);
        ctx.pool.push(o);
        const keys = this.keys(ctx, r.int(0, 5));
        if (r.chance(0.5)) setSealedMembers(o, keys.slice(0, r.int(0, keys.length)));
        this.fill(ctx, depth, o, keys);
        return o;
      }
      case 3:
      case 4: {
        const arr: AmfValue[] = [];
        ctx.pool.push(arr);
        ctx.stack.push(arr);
        const n = r.int(0, 5);
        for (let i = 0; i < n; i++) arr.push(this.value(ctx, depth + 1));
        if (r.chance(0.3)) {
          for (const k of this.keys(ctx, r.int(1, 3))) {
            if (k === 'length' || /^\d+$/.test(k)) continue;
            Object.defineProperty(arr, k, { value: this.value(ctx, depth + 1), enumerable: true, writable: true, configurable: true });
          }
          if (r.chance(0.3)) arr[n + r.int(1, 5)] = this.value(ctx, depth + 1); // index past a hole
        }
        ctx.stack.pop();
        return arr;
      }
      case 5: {
        const d = new Date(r.chance(0.1) ? NaN : r.int(-1e12, 4e12));
        ctx.pool.push(d);
        return d;
      }
      case 6: {
        const x = new AmfXmlDocument(`<d>${r.int(0, 999)}</d>`);
        ctx.pool.push(x);
        return x;
      }
      case 7: {
        const ac = r.chance(0.5) ? arrayCollection([]) : objectProxy(null);
        ctx.pool.push(ac);
        ctx.stack.push(ac);
        if (ac.source !== undefined) ac.source = this.children(ctx, depth, r.int(0, 4));
        else ac.object = this.value(ctx, depth + 1);
        ctx.stack.pop();
        return ac;
      }
      default:
        return this.amf3Only(ctx, depth);
    }
  }
}
