/**
 * Property test: seeded random AmfValue trees (every kind, nested, with shared references and cycles) come
 * back equal from decode(encode(x)), for AMF0 (with the AVM+ switch for AMF3-only values) and for AMF3.
 */
import {
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  decodeAmf0All,
  decodeAmf3,
  ecmaArray,
  encodeAmf0With,
  encodeAmf3,
  setSealedMembers,
  typedObject,
} from '../../src/amf';
import { AmfGenerator, Rng, amfDiff } from './amf-test-utils';

const CASES = 3000;

test.each([
  ['amf0', 0x5eed0],
  ['amf3', 0x5eed3],
] as const)('%s: decode(encode(x)) equals x for %#', (format, seed) => {
  const gen = new AmfGenerator(new Rng(seed));
  let bytes = 0;
  for (let i = 0; i < CASES; i++) {
    const values = gen.values(format);
    let decoded: unknown;
    if (format === 'amf0') {
      const buf = encodeAmf0With({ avmplus: true }, values);
      bytes += buf.length;
      decoded = decodeAmf0All(buf);
    } else {
      const buf = encodeAmf3(values[0]);
      bytes += buf.length;
      const r = decodeAmf3(buf);
      expect(r.position).toBe(buf.length);
      decoded = [r.value];
    }
    const d = amfDiff(values, decoded);
    if (d !== null) throw new Error(`case ${i} (seed ${seed}): ${d}`);
  }
  expect(bytes).toBeGreaterThan(CASES);
});

test('the generator covers every kind', () => {
  const seen = new Set<string>();
  const visit = (v: unknown, depth = 0): void => {
    if (depth > 10) return;
    if (typeof v !== 'object' || v === null) {
      seen.add(typeof v === 'object' ? 'null' : typeof v);
      return;
    }
    seen.add(v.constructor?.name ?? 'null-proto');
    if (Array.isArray(v) && Object.keys(v).length !== v.length) seen.add('sparse-or-associative');
    const kids: unknown[] = v instanceof Map ? [...v.keys(), ...v.values()] : Object.values(v);
    if ('entries' in v && (v as { entries: unknown }).entries instanceof Map) {
      for (const [k, x] of (v as { entries: Map<unknown, unknown> }).entries) kids.push(k, x);
    }
    if ('items' in v) kids.push(...(v as { items: unknown[] }).items);
    for (const k of kids) visit(k, depth + 1);
  };
  const gen = new AmfGenerator(new Rng(1));
  for (let i = 0; i < 500; i++) {
    visit(gen.values('amf0'));
    visit(gen.values('amf3'));
  }
  for (const kind of ['Object', 'Array', 'Date', 'AmfDate', 'Buffer', 'AmfXml', 'AmfXmlDocument', 'AmfVector', 'AmfDictionary', 'sparse-or-associative', 'string', 'number', 'boolean', 'null', 'undefined']) {
    expect([kind, seen.has(kind)]).toEqual([kind, true]);
  }
});

test('the equality helper notices what matters', () => {
  const o = { a: 1 };
  expect(amfDiff([o, o], [{ a: 1 }, { a: 1 }])).toMatch(/identity/);
  expect(amfDiff(typedObject('A', {}), typedObject('B', {}))).toMatch(/class/);
  expect(amfDiff(ecmaArray({}), {})).toMatch(/ECMA/);
  expect(amfDiff(new AmfVector('int', [1]), new AmfVector('uint', [1]))).toMatch(/kind/);
  expect(amfDiff(new AmfVector('object', [], false, 'A'), new AmfVector('object', [], false, 'B'))).toMatch(/type/);
  expect(amfDiff(new AmfDictionary(new Map([[1, 2]])), new AmfDictionary(new Map([[1, 3]])))).toMatch(/value/);
  expect(amfDiff(new AmfDictionary(new Map(), true), new AmfDictionary(new Map(), false))).toMatch(/weak/);
  expect(amfDiff(Buffer.from([1]), Buffer.from([2]))).toMatch(/bytes/);
  expect(amfDiff(new AmfDate(0, 60), new AmfDate(0, 0))).toMatch(/zone/);
  expect(amfDiff(-0, 0)).not.toBeNull();
  expect(amfDiff(NaN, NaN)).toBeNull();
  expect(amfDiff(Object.assign([1], { k: 2 }), [1])).toMatch(/keys/);
  expect(amfDiff(setSealedMembers({ a: 1, b: 2 }, ['a', 'b']), setSealedMembers({ a: 1, b: 2 }, ['b', 'a']))).toMatch(/sealed/);
  expect(amfDiff(new AmfXml('a'), new AmfXmlDocument('a'))).toMatch(/AmfXml/);
});
