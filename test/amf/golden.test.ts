/**
 * Golden byte vectors (test/fixtures/amf0, test/fixtures/amf3, written by hand by scripts/gen-amf-fixtures.ts):
 * each one decodes to the expected value and re-encodes to exactly the same bytes; error-*.bin fixtures fail
 * with the expected AmfError code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { amf0Fixtures, amf3Fixtures } from '../../scripts/gen-amf-fixtures';
import {
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  arrayCollection,
  decodeAmf0,
  decodeAmf0All,
  decodeAmf3,
  ecmaArray,
  encodeAmf0With,
  encodeAmf3,
  objectProxy,
  setSealedMembers,
  typedObject,
  type AmfObject,
  type AmfValue,
} from '../../src/amf';
import { amfErrorCode, expectAmfEqual } from './amf-test-utils';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const D2010 = 1262304000000;

function load(dir: string, name: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, dir, `${name}.bin`));
}

function binNames(dir: string): string[] {
  return fs
    .readdirSync(path.join(FIXTURES, dir))
    .filter((f) => f.endsWith('.bin'))
    .map((f) => f.slice(0, -4))
    .sort();
}

// Built lazily so every fixture gets fresh objects (identity matters for reference cases).
type Case = { value: () => AmfValue | AmfValue[]; reencode?: string; all?: boolean };

const amf0Cases: Record<string, Case> = {
  'number': { value: () => 100 },
  'number-negative-zero': { value: () => -0 },
  'number-nan': { value: () => NaN },
  'boolean-true': { value: () => true },
  'boolean-false': { value: () => false },
  'string': { value: () => 'hello' },
  'string-empty': { value: () => '' },
  'string-utf8': { value: () => 'héllo €' },
  'object': { value: () => ({ a: 1, b: 'x' }) },
  'object-empty': { value: () => ({}) },
  'null': { value: () => null },
  'undefined': { value: () => undefined },
  'reference': {
    value: () => {
      const o = { a: 1 };
      return [o, o];
    },
  },
  'reference-cycle': {
    value: () => {
      const o: AmfObject = { name: 'root' };
      o.self = o;
      return o;
    },
  },
  'ecma-array': { value: () => ecmaArray({ a: 1, b: 2 }) },
  'ecma-array-empty': { value: () => ecmaArray({}) },
  'strict-array': { value: () => [1, true, 'c'] },
  'strict-array-empty': { value: () => [] },
  'date': { value: () => new AmfDate(D2010, 0) },
  'date-timezone': { value: () => new AmfDate(D2010, -60) },
  'long-string': { value: () => 'a'.repeat(70000) },
  // 0x0D has no JS counterpart: it decodes as undefined and so comes back as undefined (0x06).
  'unsupported': { value: () => undefined, reencode: '06' },
  'xml-document': { value: () => new AmfXmlDocument('<a><b>1</b></a>') },
  'typed-object': { value: () => typedObject('com.Point', { x: 1, y: 2 }) },
  'avmplus-byte-array': { value: () => Buffer.from([1, 2, 3]) },
  'avmplus-in-object': { value: () => ({ data: Buffer.from([0xaa, 0xbb]), kind: 'mp3' }) },
  'avmplus-fresh-tables': {
    value: () => [new AmfVector('object', [1], false, 'foo'), new AmfVector('object', [2], false, 'foo')],
  },
  'command-connect': { value: () => ['connect', 1, { app: 'live', objectEncoding: 0 }], all: true },
};

const amf0Errors: Record<string, string> = {
  'error-movieclip': 'ERR_AMF_UNSUPPORTED_MARKER',
  'error-recordset': 'ERR_AMF_UNSUPPORTED_MARKER',
  'error-object-end': 'ERR_AMF_UNSUPPORTED_MARKER',
  'error-unknown-marker': 'ERR_AMF_UNKNOWN_MARKER',
  'error-bad-reference': 'ERR_AMF_BAD_REFERENCE',
  'error-truncated-string': 'ERR_AMF_TRUNCATED',
  'error-truncated-object': 'ERR_AMF_TRUNCATED',
  'error-huge-strict-array': 'ERR_AMF_TRUNCATED',
  'error-huge-long-string': 'ERR_AMF_TRUNCATED',
};

const amf3Cases: Record<string, Case> = {
  'undefined': { value: () => undefined },
  'null': { value: () => null },
  'false': { value: () => false },
  'true': { value: () => true },
  'integer-0': { value: () => 0 },
  'integer-127': { value: () => 127 },
  'integer-128': { value: () => 128 },
  'integer-16383': { value: () => 16383 },
  'integer-16384': { value: () => 16384 },
  'integer-2097151': { value: () => 2097151 },
  'integer-2097152': { value: () => 2097152 },
  'integer-max': { value: () => 2 ** 28 - 1 },
  'integer-min': { value: () => -(2 ** 28) },
  'integer-minus-1': { value: () => -1 },
  'double': { value: () => 102.5 },
  'double-2-pow-28': { value: () => 2 ** 28 },
  'double-negative-zero': { value: () => -0 },
  'string': { value: () => 'hello' },
  'string-empty': { value: () => '' },
  'string-300': { value: () => 'a'.repeat(300) },
  'string-reference': { value: () => ['abc', 'abc', '', ''] },
  'xml-document': { value: () => new AmfXmlDocument('<a/>') },
  'date': { value: () => new Date(D2010) },
  'date-reference': {
    value: () => {
      const d = new Date(D2010);
      return [d, d];
    },
  },
  'array-dense': { value: () => [1, 2, 3] },
  'array-empty': { value: () => [] },
  'array-associative': { value: () => Object.assign([1, 2], { foo: 'bar' }) },
  'object-anonymous': { value: () => ({ a: 1, b: 'x' }) },
  'object-empty': { value: () => ({}) },
  'object-traits-reference': { value: () => [{ a: 1 }, { a: 2 }] },
  'object-reference-cycle': {
    value: () => {
      const o: AmfObject = {};
      o.self = o;
      return o;
    },
  },
  'typed-object': { value: () => setSealedMembers(typedObject('com.Point', { x: 1, y: 2 }), ['x', 'y']) },
  'typed-object-traits-reference': {
    value: () => [
      setSealedMembers(typedObject('com.Point', { x: 1, y: 2 }), ['x', 'y']),
      setSealedMembers(typedObject('com.Point', { x: 3, y: 4 }), ['x', 'y']),
    ],
  },
  'typed-object-dynamic': { value: () => setSealedMembers(typedObject('com.Dyn', { id: 1, extra: 'e' }), ['id']) },
  'externalizable-array-collection': { value: () => arrayCollection([1, 2]) },
  'externalizable-array-list': { value: () => typedObject('flex.messaging.io.ArrayList', { source: ['x'] }) },
  'externalizable-object-proxy': { value: () => objectProxy({ a: 1 }) },
  'xml': { value: () => new AmfXml('<a/>') },
  'byte-array': { value: () => Buffer.from([1, 2, 3]) },
  'byte-array-empty': { value: () => Buffer.alloc(0) },
  'vector-int': { value: () => new AmfVector('int', [1, -2, 2 ** 31 - 1]) },
  'vector-int-fixed': { value: () => new AmfVector('int', [3, 4], true) },
  'vector-uint': { value: () => new AmfVector('uint', [1, 2 ** 32 - 1]) },
  'vector-double': { value: () => new AmfVector('double', [1.5, -2.5]) },
  'vector-object': { value: () => new AmfVector('object', [{ a: 1 }, { a: 2 }], false, 'Object') },
  'vector-object-any': { value: () => new AmfVector('object', ['x'], true, '') },
  'dictionary': {
    value: () =>
      new AmfDictionary(
        new Map<AmfValue, AmfValue>([
          ['a', 1],
          [{}, 'x'],
        ]),
      ),
  },
  'dictionary-weak': { value: () => new AmfDictionary(new Map([[5, true]]), true) },
};

const amf3Errors: Record<string, string> = {
  'error-unknown-marker': 'ERR_AMF_UNKNOWN_MARKER',
  'error-bad-string-reference': 'ERR_AMF_BAD_REFERENCE',
  'error-bad-object-reference': 'ERR_AMF_BAD_REFERENCE',
  'error-bad-traits-reference': 'ERR_AMF_BAD_REFERENCE',
  'error-truncated-string': 'ERR_AMF_TRUNCATED',
  'error-truncated-u29': 'ERR_AMF_TRUNCATED',
  'error-unknown-externalizable': 'ERR_AMF_UNKNOWN_EXTERNALIZABLE',
  'error-huge-array': 'ERR_AMF_TRUNCATED',
  'error-huge-vector': 'ERR_AMF_TRUNCATED',
  'error-huge-dictionary': 'ERR_AMF_TRUNCATED',
  'error-huge-traits': 'ERR_AMF_TRUNCATED',
};

describe.each([
  ['amf0', amf0Fixtures, amf0Cases, amf0Errors],
  ['amf3', amf3Fixtures, amf3Cases, amf3Errors],
] as const)('%s golden fixtures', (dir, table, cases, errors) => {
  test('the .bin files are exactly the hand-written table, and every fixture has a case', () => {
    expect(binNames(dir)).toEqual(Object.keys(table).sort());
    for (const name of Object.keys(table)) expect(load(dir, name).equals(table[name])).toBe(true);
    expect([...Object.keys(cases), ...Object.keys(errors)].sort()).toEqual(Object.keys(table).sort());
  });

  test.each(Object.keys(cases))('%s decodes to the expected value and re-encodes to the same bytes', (name) => {
    const bytes = load(dir, name);
    const c = cases[name];
    const expected = c.value();
    const reencodeTo = c.reencode !== undefined ? Buffer.from(c.reencode, 'hex') : bytes;
    if (dir === 'amf0') {
      const values = c.all ? (expected as AmfValue[]) : [expected];
      const decoded = decodeAmf0All(bytes);
      expectAmfEqual(decoded, values);
      if (!c.all) expect(decodeAmf0(bytes).position).toBe(bytes.length);
      expect(encodeAmf0With({ avmplus: true }, decoded).toString('hex')).toBe(reencodeTo.toString('hex'));
      expect(encodeAmf0With({ avmplus: true }, values).toString('hex')).toBe(reencodeTo.toString('hex'));
    } else {
      const { value, position } = decodeAmf3(bytes);
      expect(position).toBe(bytes.length);
      expectAmfEqual(value, expected);
      expect(encodeAmf3(value).toString('hex')).toBe(reencodeTo.toString('hex'));
      expect(encodeAmf3(expected as AmfValue).toString('hex')).toBe(reencodeTo.toString('hex'));
    }
  });

  test.each(Object.keys(errors))('%s fails with the expected AmfError code', (name) => {
    const bytes = load(dir, name);
    const decode = dir === 'amf0' ? () => decodeAmf0All(bytes) : () => decodeAmf3(bytes);
    expect(amfErrorCode(decode)).toBe(errors[name]);
  });
});

test('identity survives in the reference fixtures', () => {
  const [arr] = decodeAmf0All(load('amf0', 'reference')) as [AmfObject[]];
  expect(arr[0]).toBe(arr[1]);
  const cyc = decodeAmf0(load('amf0', 'reference-cycle')).value as AmfObject;
  expect(cyc.self).toBe(cyc);
  const dates = decodeAmf3(load('amf3', 'date-reference')).value as Date[];
  expect(dates[0]).toBe(dates[1]);
  const o3 = decodeAmf3(load('amf3', 'object-reference-cycle')).value as AmfObject;
  expect(o3.self).toBe(o3);
});

test('unknown externalizable names the class', () => {
  try {
    decodeAmf3(load('amf3', 'error-unknown-externalizable'));
    throw new Error('no error');
  } catch (e) {
    expect((e as { code: string }).code).toBe('ERR_AMF_UNKNOWN_EXTERNALIZABLE');
    expect((e as Error).message).toContain('"Foo"');
    expect((e as { details: { className: string } }).details.className).toBe('Foo');
  }
});
