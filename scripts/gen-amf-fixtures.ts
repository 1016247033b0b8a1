/**
 * Golden AMF0/AMF3 byte vectors, written by hand from Adobe's "AMF 0" (2007) and "AMF 3" (2013) specs, and
 * the generator of test/fixtures/amf0/*.bin and test/fixtures/amf3/*.bin. Nothing here calls our codec: the
 * bytes are the reference the codec is tested against (test/amf/golden.test.ts checks the .bin files still
 * equal this table, then decodes and re-encodes each one).
 *
 * Regenerate (from the repository root):
 *   npx tsc --outDir /tmp/gen-amf --module commonjs --target es2022 --types node scripts/gen-amf-fixtures.ts \
 *     && node /tmp/gen-amf/gen-amf-fixtures.js .
 *
 * Files named error-*.bin are malformed on purpose; the test expects the AmfError code given in the table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Hex with free spacing; `|` may separate fields for readability. */
function hex(s: string): Buffer {
  const clean = s.replace(/[\s|]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex: ${s}`);
  return Buffer.from(clean, 'hex');
}

function ascii(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

const D_1 = '3ff0000000000000'; // 1.0
const D_2 = '4000000000000000'; // 2.0
const D_2010 = '42725e72e7800000'; // 1262304000000 = 2010-01-01T00:00:00Z in ms
const END = '000009'; // AMF0 empty key + object-end marker

export const amf0Fixtures: Record<string, Buffer> = {
  'number': hex('00 4059000000000000'), // 100
  'number-negative-zero': hex('00 8000000000000000'),
  'number-nan': hex('00 7ff8000000000000'),
  'boolean-true': hex('01 01'),
  'boolean-false': hex('01 00'),
  'string': hex(`02 0005 ${ascii('hello')}`),
  'string-empty': hex('02 0000'),
  'string-utf8': hex(`02 000a 68 c3a9 6c6c6f 20 e282ac`), // "héllo €"
  'object': hex(`03 0001 61 00 ${D_1} | 0001 62 02 0001 78 | ${END}`), // {a: 1, b: "x"}
  'object-empty': hex(`03 ${END}`),
  'null': hex('05'),
  'undefined': hex('06'),
  // [o, o]: the strict array is reference 0, the object reference 1.
  'reference': hex(`0a 00000002 | 03 0001 61 00 ${D_1} ${END} | 07 0001`),
  // o = {name: "root", self: o}
  'reference-cycle': hex(`03 0004 ${ascii('name')} 02 0004 ${ascii('root')} | 0004 ${ascii('self')} 07 0000 | ${END}`),
  'ecma-array': hex(`08 00000002 | 0001 61 00 ${D_1} | 0001 62 00 ${D_2} | ${END}`), // {a: 1, b: 2} as ECMA
  'ecma-array-empty': hex(`08 00000000 ${END}`),
  'strict-array': hex(`0a 00000003 | 00 ${D_1} | 01 01 | 02 0001 63`), // [1, true, "c"]
  'strict-array-empty': hex('0a 00000000'),
  'date': hex(`0b ${D_2010} 0000`),
  'date-timezone': hex(`0b ${D_2010} ffc4`), // time zone -60 minutes
  'long-string': hex(`0c 00011170 ${'61'.repeat(70000)}`), // 70000 x "a"
  'unsupported': hex('0d'),
  'xml-document': hex(`0f 0000000f ${ascii('<a><b>1</b></a>')}`),
  'typed-object': hex(`10 0009 ${ascii('com.Point')} | 0001 78 00 ${D_1} | 0001 79 00 ${D_2} | ${END}`),
  // AVM+ switch: an AMF3 ByteArray [1, 2, 3].
  'avmplus-byte-array': hex('11 0c 07 010203'),
  // {data: <AMF3 ByteArray aa bb>, kind: "mp3"}
  'avmplus-in-object': hex(`03 0004 ${ascii('data')} 11 0c 05 aabb | 0004 ${ascii('kind')} 02 0003 ${ascii('mp3')} | ${END}`),
  // Two switched Vector.<foo> values: each 0x11 starts fresh AMF3 tables, so "foo" is sent inline twice.
  'avmplus-fresh-tables': hex(`0a 00000002 | 11 10 03 00 07 ${ascii('foo')} 04 01 | 11 10 03 00 07 ${ascii('foo')} 04 02`),
  // An RTMP connect command payload: "connect", 1, {app: "live", objectEncoding: 0} (decodeAmf0All).
  'command-connect': hex(
    `02 0007 ${ascii('connect')} | 00 ${D_1} | 03 0003 ${ascii('app')} 02 0004 ${ascii('live')} | ` +
      `000e ${ascii('objectEncoding')} 00 0000000000000000 | ${END}`,
  ),
  'error-movieclip': hex('04'),
  'error-recordset': hex('0e'),
  'error-object-end': hex('09'),
  'error-unknown-marker': hex('12'),
  'error-bad-reference': hex('07 0000'),
  'error-truncated-string': hex(`02 0005 ${ascii('hel')}`),
  'error-truncated-object': hex(`03 0001 61 00 ${D_1}`),
  'error-huge-strict-array': hex('0a ffffffff 05'),
  'error-huge-long-string': hex('0c ffffffff 61'),
};

const COM_POINT = `13 ${ascii('com.Point')}`; // UTF-8-vr, 9 bytes
export const amf3Fixtures: Record<string, Buffer> = {
  'undefined': hex('00'),
  'null': hex('01'),
  'false': hex('02'),
  'true': hex('03'),
  'integer-0': hex('04 00'),
  'integer-127': hex('04 7f'),
  'integer-128': hex('04 8100'),
  'integer-16383': hex('04 ff7f'),
  'integer-16384': hex('04 818000'),
  'integer-2097151': hex('04 ffff7f'),
  'integer-2097152': hex('04 80c08000'),
  'integer-max': hex('04 bfffffff'), // 2^28 - 1
  'integer-min': hex('04 c0808000'), // -2^28
  'integer-minus-1': hex('04 ffffffff'),
  'double': hex('05 4059a00000000000'), // 102.5
  'double-2-pow-28': hex('05 41b0000000000000'), // just past the integer range
  'double-negative-zero': hex('05 8000000000000000'),
  'string': hex(`06 0b ${ascii('hello')}`),
  'string-empty': hex('06 01'),
  'string-300': hex(`06 8459 ${'61'.repeat(300)}`), // two-byte U29 length (300 << 1 | 1 = 601)
  // ["abc", "abc", "", ""]: the second "abc" is string reference 0; empty strings are never referenced.
  'string-reference': hex(`09 09 01 | 06 07 ${ascii('abc')} | 06 00 | 06 01 | 06 01`),
  'xml-document': hex(`07 09 ${ascii('<a/>')}`),
  'date': hex(`08 01 ${D_2010}`),
  'date-reference': hex(`09 05 01 | 08 01 ${D_2010} | 08 02`), // [d, d]: d is object 1
  'array-dense': hex('09 07 01 04 01 04 02 04 03'), // [1, 2, 3]
  'array-empty': hex('09 01 01'),
  // [1, 2] with foo = "bar" in the associative part
  'array-associative': hex(`09 05 | 07 ${ascii('foo')} 06 07 ${ascii('bar')} | 01 | 04 01 04 02`),
  'object-anonymous': hex('0a 0b 01 | 03 61 04 01 | 03 62 06 03 78 | 01'), // {a: 1, b: "x"}
  'object-empty': hex('0a 0b 01 01'),
  // [{a: 1}, {a: 2}]: the second object uses traits reference 0 and string reference 0 for "a".
  'object-traits-reference': hex('09 05 01 | 0a 0b 01 03 61 04 01 01 | 0a 01 00 04 02 01'),
  // o = {self: o}
  'object-reference-cycle': hex(`0a 0b 01 09 ${ascii('self')} 0a 00 01`),
  // com.Point {x: 1, y: 2}, sealed x, y (U29O-traits 2 << 4 | 0b0011)
  'typed-object': hex(`0a 23 ${COM_POINT} 03 78 03 79 | 04 01 04 02`),
  // two com.Points: the second reuses the traits (reference 0)
  'typed-object-traits-reference': hex(`09 05 01 | 0a 23 ${COM_POINT} 03 78 03 79 04 01 04 02 | 0a 01 04 03 04 04`),
  // com.Dyn {id: 1 (sealed), extra: "e" (dynamic)}: U29O-traits 1 << 4 | 0b1011
  'typed-object-dynamic': hex(`0a 1b 0f ${ascii('com.Dyn')} 05 ${ascii('id')} | 04 01 | 0b ${ascii('extra')} 06 03 65 | 01`),
  // ArrayCollection wrapping [1, 2]
  'externalizable-array-collection': hex(`0a 07 43 ${ascii('flex.messaging.io.ArrayCollection')} | 09 05 01 04 01 04 02`),
  'externalizable-array-list': hex(`0a 07 37 ${ascii('flex.messaging.io.ArrayList')} | 09 03 01 06 03 78`),
  // ObjectProxy wrapping {a: 1}
  'externalizable-object-proxy': hex(`0a 07 3b ${ascii('flex.messaging.io.ObjectProxy')} | 0a 0b 01 03 61 04 01 01`),
  'xml': hex(`0b 09 ${ascii('<a/>')}`),
  'byte-array': hex('0c 07 010203'),
  'byte-array-empty': hex('0c 01'),
  'vector-int': hex('0d 07 00 | 00000001 fffffffe 7fffffff'), // [1, -2, 2^31 - 1]
  'vector-int-fixed': hex('0d 05 01 | 00000003 00000004'),
  'vector-uint': hex('0e 05 00 | 00000001 ffffffff'), // [1, 2^32 - 1]
  'vector-double': hex('0f 05 00 | 3ff8000000000000 c004000000000000'), // [1.5, -2.5]
  // Vector.<Object> of [{a: 1}, {a: 2}]: "Object" is string 0, so "a" is string 1 the second time
  'vector-object': hex(`10 05 00 0d ${ascii('Object')} | 0a 0b 01 03 61 04 01 01 | 0a 01 02 04 02 01`),
  'vector-object-any': hex('10 03 01 01 | 06 03 78'), // fixed Vector.<*> ["x"], empty type name
  // Dictionary {"a" => 1, {} => "x"}
  'dictionary': hex('11 05 00 | 06 03 61 04 01 | 0a 0b 01 01 06 03 78'),
  'dictionary-weak': hex('11 03 01 | 04 05 03'), // weak keys {5 => true}
  'error-unknown-marker': hex('12'),
  'error-bad-string-reference': hex('06 02'),
  'error-bad-object-reference': hex('0a 00'),
  'error-bad-traits-reference': hex('0a 05'),
  'error-truncated-string': hex(`06 0b ${ascii('hel')}`),
  'error-truncated-u29': hex('04 ff ff'),
  'error-unknown-externalizable': hex(`0a 07 07 ${ascii('Foo')} 01`),
  'error-huge-array': hex('09 ffffff7f 01'),
  'error-huge-vector': hex('0f ffffff7f 00'),
  'error-huge-dictionary': hex('11 ffffff7f 00'),
  'error-huge-traits': hex('0a fffffffb 01'), // 2^25 sealed members announced, 1 byte left
};

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? '.');
  for (const [dir, table] of [
    ['amf0', amf0Fixtures],
    ['amf3', amf3Fixtures],
  ] as const) {
    const out = path.join(root, 'test', 'fixtures', dir);
    fs.mkdirSync(out, { recursive: true });
    for (const [name, bytes] of Object.entries(table)) fs.writeFileSync(path.join(out, `${name}.bin`), bytes);
    process.stdout.write(`wrote ${Object.keys(table).length} fixtures to ${out}\n`);
  }
}
