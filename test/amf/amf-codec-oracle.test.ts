/**
 * npm `amf-codec` as an independent AMF0 oracle, for the subset it supports (numbers, booleans, strings
 * including long strings, null, undefined, anonymous objects, strict arrays, dates, no repeated objects):
 * its bytes must equal ours, and each side must decode the other's bytes to the same value.
 */
import { decodeAmf0, encodeAmf0, type AmfObject, type AmfValue } from '../../src/amf';
import { Rng, expectAmfEqual } from './amf-test-utils';

// amf-codec ships no type declarations.
const amfCodec = require('amf-codec') as { toAMF(v: unknown): Buffer; fromAMF(b: Buffer): unknown };

function gen(rng: Rng, depth: number): AmfValue {
  const k = rng.int(0, depth >= 3 ? 5 : 8);
  switch (k) {
    case 0:
      return rng.pick([null, undefined, true, false]);
    case 1:
    case 2:
      return rng.pick([0, -1.5, 1e300, NaN, -Infinity, rng.int(-1e9, 1e9), rng.next()]);
    case 3:
    case 4:
      return rng.chance(0.01) ? 'L'.repeat(70000) : rng.pick(['', 'a', 'héllo', '日本語', '😀', `k${rng.int(0, 99)}`]);
    case 5:
      return new Date(rng.int(-1e12, 4e12));
    case 6:
    case 7: {
      const o: AmfObject = {};
      const n = rng.int(0, 4);
      for (let i = 0; i < n; i++) o[rng.pick(['a', 'b', 'name', 'é', `k${rng.int(0, 9)}`])] = gen(rng, depth + 1);
      return o;
    }
    default: {
      const arr: AmfValue[] = [];
      const n = rng.int(0, 4);
      for (let i = 0; i < n; i++) arr.push(gen(rng, depth + 1));
      return arr;
    }
  }
}

test('amf-codec and our AMF0 codec agree byte for byte on the common subset', () => {
  const rng = new Rng(0xa0f);
  for (let i = 0; i < 2000; i++) {
    const v = gen(rng, 0);
    const ours = encodeAmf0(v);
    const theirs = amfCodec.toAMF(v);
    if (!ours.equals(theirs)) throw new Error(`case ${i}: ${ours.toString('hex')} != ${theirs.toString('hex')}`);
    expectAmfEqual(decodeAmf0(theirs).value, v);
    expectAmfEqual(amfCodec.fromAMF(ours), v);
  }
});
