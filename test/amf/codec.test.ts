/** Behaviour of the AMF0/AMF3 readers and writers beyond the golden vectors: choices, limits, API details. */
import {
  Amf0Reader,
  Amf0Writer,
  Amf3Reader,
  Amf3Writer,
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  decodeAmf0,
  decodeAmf0All,
  decodeAmf3,
  defaultExternalizables,
  ecmaArray,
  encodeAmf0,
  encodeAmf0With,
  encodeAmf3,
  getClassName,
  getSealedMembers,
  isEcmaArray,
  kClassName,
  setSealedMembers,
  typedObject,
  type Amf3Externalizable,
  type AmfObject,
  type AmfValue,
} from '../../src/amf';
import { amfErrorCode, expectAmfEqual } from './amf-test-utils';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s).toString('hex');
const D1 = '3ff0000000000000';

describe('AMF0 encoding choices', () => {
  test('an Array with named keys or holes is an ECMA array; a dense one a strict array', () => {
    expect(encodeAmf0([1]).toString('hex')).toBe(`0a00000001 00${D1}`.replace(/ /g, ''));
    const named = Object.assign([1], { k: 'v' });
    expect(encodeAmf0(named)).toEqual(hex(`08 00000002 | 0001 30 00 ${D1} | 0001 6b 02 0001 76 | 000009`));
    const back = decodeAmf0(encodeAmf0(named)).value;
    expect(isEcmaArray(back)).toBe(true);
    expectAmfEqual(back, ecmaArray({ 0: 1, k: 'v' }));
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3];
    expectAmfEqual(decodeAmf0(encodeAmf0(sparse as AmfValue)).value, ecmaArray({ 0: 1, 2: 3 }));
  });

  test('ECMA arrays and objects stay distinct; the ECMA count is a hint only', () => {
    expect(encodeAmf0(ecmaArray({ a: 1 }))[0]).toBe(0x08);
    expect(encodeAmf0({ a: 1 })[0]).toBe(0x03);
    expectAmfEqual(decodeAmf0(hex(`08 00000000 0001 61 00 ${D1} 000009`)).value, ecmaArray({ a: 1 }));
  });

  test('an empty key that is not the terminator is an ordinary member', () => {
    const bytes = hex('03 0000 02 0001 78 000009');
    expectAmfEqual(decodeAmf0(bytes).value, { '': 'x' });
    expect(encodeAmf0({ '': 'x' })).toEqual(bytes);
  });

  test('functions and symbols are skipped in objects and undefined elsewhere', () => {
    const f = (): void => undefined;
    const o = { a: 1, f, s: Symbol('x') } as unknown as AmfValue;
    expect(encodeAmf0(o)).toEqual(encodeAmf0({ a: 1 }));
    expect(encodeAmf0(f as unknown as AmfValue)).toEqual(hex('06'));
    expect(encodeAmf0([f] as unknown as AmfValue)).toEqual(hex('0a 00000001 06'));
    expect(encodeAmf3({ a: 1, f } as unknown as AmfValue)).toEqual(encodeAmf3({ a: 1 }));
    expect(encodeAmf3(f as unknown as AmfValue)).toEqual(hex('00'));
  });

  test('AMF3-only values need the avmplus switch', () => {
    const amf3Only: AmfValue[] = [
      Buffer.from([1]),
      new Uint8Array([1]),
      new AmfXml('<a/>'),
      new AmfVector('int', [1]),
      new AmfDictionary(),
    ];
    for (const v of amf3Only) {
      expect(amfErrorCode(() => encodeAmf0(v))).toBe('ERR_AMF_AMF3_ONLY');
      expect(amfErrorCode(() => encodeAmf0({ nested: [v] }))).toBe('ERR_AMF_AMF3_ONLY');
      const bytes = encodeAmf0With({ avmplus: true }, [{ nested: [v] }]);
      expect(bytes.includes(0x11)).toBe(true);
      expectAmfEqual(decodeAmf0(bytes).value, { nested: [v instanceof Uint8Array ? Buffer.from(v) : v] });
    }
    // AMF0-native values never take the switch.
    expect(encodeAmf0With({ avmplus: true }, [new AmfXmlDocument('<a/>')])[0]).toBe(0x0f);
  });

  test('strings longer than 65535 UTF-8 bytes become long strings', () => {
    expect(encodeAmf0('a'.repeat(65535))[0]).toBe(0x02);
    expect(encodeAmf0('a'.repeat(65536))[0]).toBe(0x0c);
    expect(encodeAmf0('€'.repeat(21845))[0]).toBe(0x02); // 65535 bytes
    expect(encodeAmf0('€'.repeat(21846))[0]).toBe(0x0c); // 65538 bytes
    for (const s of ['€'.repeat(21846), 'é'.repeat(40000), 'a'.repeat(100000)]) {
      expect(decodeAmf0(encodeAmf0(s)).value).toBe(s);
    }
  });

  test('bare strings, class names and keys are limited to 65535 bytes', () => {
    const long = 'a'.repeat(65536);
    expect(amfErrorCode(() => new Amf0Writer().writeString(long))).toBe('ERR_AMF_LIMIT');
    expect(amfErrorCode(() => encodeAmf0({ [long]: 1 }))).toBe('ERR_AMF_LIMIT');
    expect(amfErrorCode(() => encodeAmf0(typedObject(long, {})))).toBe('ERR_AMF_LIMIT');
  });

  test('dates keep or default the time zone', () => {
    expect(encodeAmf0(new Date(0))).toEqual(hex('0b 0000000000000000 0000'));
    expect(encodeAmf0(new AmfDate(0, 120))).toEqual(hex('0b 0000000000000000 0078'));
    const d = decodeAmf0(encodeAmf0(new AmfDate(5, -300))).value as AmfDate;
    expect(d).toBeInstanceOf(AmfDate);
    expect([d.getTime(), d.timezone]).toEqual([5, -300]);
    expect(Number.isNaN((decodeAmf0(encodeAmf0(new Date(NaN))).value as Date).getTime())).toBe(true);
  });

  test('typed objects keep their class name', () => {
    const v = decodeAmf0(encodeAmf0(typedObject('com.Foo', { a: 1 }))).value;
    expect(getClassName(v)).toBe('com.Foo');
    expect((v as Record<symbol, unknown>)[kClassName]).toBe('com.Foo');
    expect(Object.keys(v as object)).toEqual(['a']);
  });

  test('references beyond index 65535 are written again in full', () => {
    const objs: AmfObject[] = [];
    for (let i = 0; i < 70000; i++) objs.push({});
    const list: AmfValue[] = [...objs, objs[0], objs[69999]];
    const back = decodeAmf0(encodeAmf0(list)).value as AmfObject[];
    expect(back[70000]).toBe(back[0]);
    expect(back[70001]).not.toBe(back[69999]);
    expect(back[70001]).toEqual({});
  });

  test('one writer or reader shares its reference table across values', () => {
    const o = { a: 1 };
    const bytes = encodeAmf0(o, o);
    expect(bytes.subarray(bytes.length - 3)).toEqual(hex('07 0000'));
    const [x, y] = decodeAmf0All(bytes);
    expect(x).toBe(y);
  });
});

describe('AMF0 reader and writer API', () => {
  test('bare strings, position, atEnd, remaining, offsets', () => {
    const w = new Amf0Writer({ initialSize: 16 });
    expect(w.writeString('héllo').writeValue(42).writeValue('x'.repeat(1000))).toBe(w);
    const buf = Buffer.concat([Buffer.from([0xee, 0xee]), w.toBuffer()]);
    const r = new Amf0Reader(buf, 2);
    expect(r.position).toBe(2);
    expect(r.readString()).toBe('héllo');
    expect(r.position).toBe(2 + 2 + 6);
    expect(r.readValue()).toBe(42);
    expect(r.atEnd()).toBe(false);
    expect(r.readValue()).toBe('x'.repeat(1000));
    expect(r.atEnd()).toBe(true);
    expect(r.remaining).toBe(0);
    expect(decodeAmf0(buf, 10)).toEqual({ value: 42, position: 19 });
    expect(decodeAmf0All(buf, 10)).toEqual([42, 'x'.repeat(1000)]);
    expect(decodeAmf0All(buf, buf.length)).toEqual([]);
    expect(amfErrorCode(() => decodeAmf0(buf, buf.length + 1))).toBe('ERR_AMF_TRUNCATED');
    expect(amfErrorCode(() => decodeAmf0(buf, -1))).toBe('ERR_AMF_TRUNCATED');
  });

  test('a Uint8Array input works like a Buffer', () => {
    const b = encodeAmf0({ a: [1, 'x'] });
    const u8 = new Uint8Array(b.length + 4);
    u8.set(b, 4);
    expect(decodeAmf0(u8.subarray(4)).value).toEqual({ a: [1, 'x'] });
  });

  test('toBuffer is a view that later writes do not disturb; the buffer grows as needed', () => {
    const w = new Amf0Writer({ initialSize: 16 });
    w.writeValue('first');
    const first = w.toBuffer();
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) w.writeValue({ i, s: 'some text' });
    expect(first).toEqual(copy);
    const all = decodeAmf0All(w.toBuffer());
    expect(all.length).toBe(1001);
    expect(all[1000]).toEqual({ i: 999, s: 'some text' });
  });
});

describe('AMF3 encoding choices', () => {
  test('integers in the 29-bit range are integers, everything else doubles', () => {
    const cases: [number, number][] = [
      [0, 0x04],
      [2 ** 28 - 1, 0x04],
      [-(2 ** 28), 0x04],
      [2 ** 28, 0x05],
      [-(2 ** 28) - 1, 0x05],
      [-0, 0x05],
      [1.5, 0x05],
      [NaN, 0x05],
      [Infinity, 0x05],
    ];
    for (const [n, marker] of cases) {
      const b = encodeAmf3(n);
      expect([n, b[0]]).toEqual([n, marker]);
      expect(Object.is(decodeAmf3(b).value, n)).toBe(true);
    }
    expect(decodeAmf3(encodeAmf3(10n as unknown as AmfValue)).value).toBe(10);
  });

  test('U29 out of range is refused', () => {
    expect(amfErrorCode(() => new Amf3Writer().writeU29(2 ** 29))).toBe('ERR_AMF_LIMIT');
    expect(new Amf3Writer().writeU29(2 ** 29 - 1).toBuffer()).toEqual(hex('ffffffff'));
  });

  test('strings: references per writer, the empty string never', () => {
    expect(encodeAmf3(['ab', 'ab', '', ''])).toEqual(hex('09 09 01 06 05 6162 06 00 06 01 06 01'));
    const w = new Amf3Writer().writeValue('hello').writeValue('hello');
    expect(w.toBuffer()).toEqual(hex(`06 0b ${ascii('hello')} 06 00`));
    const r = new Amf3Reader(w.toBuffer());
    expect([r.readValue(), r.readValue(), r.atEnd()]).toEqual(['hello', 'hello', true]);
    const long = 'ü'.repeat(5000);
    expect(decodeAmf3(encodeAmf3([long, long])).value).toEqual([long, long]);
  });

  test('typed objects: implicit sealed members, declared sealed members plus dynamic ones', () => {
    const implicit = typedObject('com.P', { x: 1, y: 2, f: () => 0 } as unknown as AmfObject);
    expect(encodeAmf3(implicit)).toEqual(hex(`0a 23 0b ${ascii('com.P')} 03 78 03 79 04 01 04 02`));
    const back = decodeAmf3(encodeAmf3(implicit)).value;
    expect(getSealedMembers(back)).toEqual(['x', 'y']);
    const declared = setSealedMembers(typedObject('com.P', { y: 2, x: 1, extra: true }), ['x', 'y']);
    expect(encodeAmf3(declared)).toEqual(
      hex(`0a 2b 0b ${ascii('com.P')} 03 78 03 79 04 01 04 02 0b ${ascii('extra')} 03 01`),
    );
    expectAmfEqual(decodeAmf3(encodeAmf3(declared)).value, declared);
  });

  test('anonymous objects are dynamic and share one traits entry', () => {
    expect(encodeAmf3([{ a: 1 }, { b: 2 }])).toEqual(hex('09 05 01 0a 0b 01 03 61 04 01 01 0a 01 03 62 04 02 01'));
  });

  test('arrays: associative part on the Array, "length" dropped, indices past a hole kept', () => {
    const arr: AmfValue[] = [1];
    arr[3] = 'x';
    const back = decodeAmf3(encodeAmf3(arr)).value as AmfValue[];
    expect(back.length).toBe(4);
    expect(Object.keys(back)).toEqual(['0', '3']);
    expect(back[3]).toBe('x');
    const withLength = decodeAmf3(hex(`09 03 0d ${ascii('length')} 04 07 01 04 01`)).value as AmfValue[];
    expect(withLength).toEqual([1]);
  });

  test('vectors coerce their items to the element type', () => {
    const v = decodeAmf3(encodeAmf3(new AmfVector('int', [1.7, -1, 2 ** 32 + 5]))).value as AmfVector;
    expect(v.items).toEqual([1, -1, 5]);
    const u = decodeAmf3(encodeAmf3(new AmfVector('uint', [-1]))).value as AmfVector;
    expect(u.items).toEqual([4294967295]);
  });

  test('ByteArray: any Uint8Array in, a Buffer that does not alias the input out', () => {
    const input = encodeAmf3(new Uint8Array([9, 8, 7]));
    expect(input).toEqual(hex('0c 07 090807'));
    const out = decodeAmf3(input).value as Buffer;
    expect(Buffer.isBuffer(out)).toBe(true);
    input[2] = 0;
    expect([...out]).toEqual([9, 8, 7]);
  });

  test('dictionaries take keys of any type', () => {
    const key = { k: 1 };
    const d = new AmfDictionary(
      new Map<AmfValue, AmfValue>([
        [key, 'object'],
        [1, 'int'],
        ['1', 'string'],
        [true, 'bool'],
        [null, 'null'],
        [key, 'again'],
      ]),
      true,
    );
    const back = decodeAmf3(encodeAmf3([d, key])).value as [AmfDictionary, AmfObject];
    expectAmfEqual(back, [d, key]);
    expect([...back[0].entries.keys()][0]).toBe(back[1]);
  });

  test('one Amf3Reader keeps its tables across values', () => {
    const w = new Amf3Writer();
    const o = { a: 1 };
    w.writeValue(o).writeValue(o);
    expect(w.toBuffer()).toEqual(hex('0a 0b 01 03 61 04 01 01 0a 00'));
    const r = new Amf3Reader(w.toBuffer());
    expect(r.readValue()).toBe(r.readValue());
  });
});

describe('externalizables', () => {
  const codec: Amf3Externalizable = {
    read(reader, target) {
      target.id = reader.readInt32();
      target.label = reader.readUTF();
      target.rest = reader.readValue();
    },
    write(writer, value) {
      writer.writeInt32(value.id as number).writeUTF(value.label as string);
      writer.writeValue(value.rest);
    },
  };
  const registry = new Map([...defaultExternalizables, ['com.Ext', codec]]);

  test('a custom registry reads and writes its classes', () => {
    const v = typedObject('com.Ext', { id: -5, label: 'hé', rest: ['x'] });
    const bytes = encodeAmf3(v, { externalizables: registry });
    expect(bytes).toEqual(hex(`0a 07 0f ${ascii('com.Ext')} fffffffb 0003 68c3a9 09 03 01 06 03 78`));
    expectAmfEqual(decodeAmf3(bytes, 0, { externalizables: registry }).value, v);
    expect(amfErrorCode(() => decodeAmf3(bytes))).toBe('ERR_AMF_UNKNOWN_EXTERNALIZABLE');
    // Without a codec the class is an ordinary typed object.
    expect(encodeAmf3(v)[1]).toBe(0x33);
  });

  test('a reader may return a replacement value; errors from it become AmfError', () => {
    const replacing = new Map([['R', { read: (r: Amf3Reader) => `replaced:${String(r.readValue())}` }]]);
    const bytes = hex(`09 05 01 0a 07 03 52 06 03 78 0a 02`); // [R("x"), ref to object 1]
    expect(decodeAmf3(bytes, 0, { externalizables: replacing }).value).toEqual(['replaced:x', 'replaced:x']);
    const throwing = new Map([['R', { read: () => { throw new TypeError('boom'); } }]]);
    expect(amfErrorCode(() => decodeAmf3(bytes, 0, { externalizables: throwing }))).toBe('ERR_AMF_EXTERNALIZABLE');
  });
});

describe('hostile input', () => {
  test('"__proto__" keys become own properties and never touch prototypes', () => {
    const amf0 = hex(`03 0009 ${ascii('__proto__')} 03 0001 ${ascii('p')} 01 01 000009 000009`);
    const o0 = decodeAmf0(amf0).value as AmfObject;
    expect(Object.getPrototypeOf(o0)).toBe(Object.prototype);
    expect(Object.keys(o0)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(encodeAmf0(o0)).toEqual(amf0);
    const amf3 = hex(`09 01 13 ${ascii('__proto__')} 0a 0b 01 03 70 03 01 01`);
    const a3 = decodeAmf3(amf3).value as AmfValue[];
    expect(Object.getPrototypeOf(a3)).toBe(Array.prototype);
    expect(Object.keys(a3)).toEqual(['__proto__']);
    const o3 = decodeAmf3(hex(`0a 0b 01 13 ${ascii('__proto__')} 03 01`)).value as AmfObject;
    expect(Object.getPrototypeOf(o3)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(o3, '__proto__')?.value).toBe(true);
  });

  test('nesting deeper than maxDepth is ERR_AMF_TOO_DEEP, in both directions', () => {
    const deep0 = Buffer.concat([Buffer.from('0a00000001'.repeat(600), 'hex'), hex('05')]);
    expect(amfErrorCode(() => decodeAmf0(deep0))).toBe('ERR_AMF_TOO_DEEP');
    expect(decodeAmf0(deep0, 0, { maxDepth: 600 }).position).toBe(deep0.length);
    const deep3 = Buffer.concat([Buffer.from('090301'.repeat(600), 'hex'), hex('01')]);
    expect(amfErrorCode(() => decodeAmf3(deep3))).toBe('ERR_AMF_TOO_DEEP');
    expect(amfErrorCode(() => decodeAmf3(hex('09 03 01 09 03 01 09 03 01 01'), 0, { maxDepth: 2 }))).toBe('ERR_AMF_TOO_DEEP');
    // The AMF3 part behind 0x11 counts on top of the AMF0 nesting.
    const mixed = hex('0a00000001 0a00000001 11 09 03 01 09 03 01 01');
    expect(amfErrorCode(() => decodeAmf0(mixed, 0, { maxDepth: 3 }))).toBe('ERR_AMF_TOO_DEEP');
    expect(decodeAmf0(mixed, 0, { maxDepth: 4 }).position).toBe(mixed.length);

    let nested: AmfValue = null;
    for (let i = 0; i < 600; i++) nested = [nested];
    expect(amfErrorCode(() => encodeAmf0(nested))).toBe('ERR_AMF_TOO_DEEP');
    expect(amfErrorCode(() => encodeAmf3(nested))).toBe('ERR_AMF_TOO_DEEP');
    expect(encodeAmf3(nested, { maxDepth: 600 }).length).toBe(600 * 3 + 1);
  });

  test('a stack overflow under a huge maxDepth still comes out as ERR_AMF_TOO_DEEP', () => {
    const n = 200000;
    const deep = Buffer.concat([Buffer.from('090301'.repeat(n), 'hex'), hex('01')]);
    expect(amfErrorCode(() => decodeAmf3(deep, 0, { maxDepth: Infinity }))).toBe('ERR_AMF_TOO_DEEP');
    let nested: AmfValue = null;
    for (let i = 0; i < n; i++) nested = [nested];
    expect(amfErrorCode(() => encodeAmf3(nested, { maxDepth: Infinity }))).toBe('ERR_AMF_TOO_DEEP');
    expect(amfErrorCode(() => encodeAmf0(nested))).toBe('ERR_AMF_TOO_DEEP');
  });

  test('invalid UTF-8 decodes leniently with replacement characters', () => {
    expect(decodeAmf0(hex('02 0003 61 ff 62')).value).toBe('a\ufffdb');
    expect(decodeAmf3(hex('06 07 61 c3 28')).value).toBe('a\ufffd(');
  });
});
