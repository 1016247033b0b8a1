/**
 * Fuzz: random bytes and mutated golden fixtures (bit flips, truncation, insertions, maxed-out length fields).
 * Only AmfError may come out of a decoder, every call is quick, memory stays bounded, and whatever decodes
 * also re-encodes (AMF3: to an equal value).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Amf0Reader, Amf3Reader, decodeAmf3, encodeAmf0With, encodeAmf3, type AmfValue } from '../../src/amf';
import { Rng, amfDiff, amfErrorCode } from './amf-test-utils';

type Format = 'amf0' | 'amf3';
const SLOW_MS = 50;

function decodeAll(format: Format, buf: Buffer): AmfValue[] {
  const r = format === 'amf0' ? new Amf0Reader(buf) : new Amf3Reader(buf);
  const out: AmfValue[] = [];
  while (!r.atEnd()) out.push(r.readValue());
  return out;
}

interface Stats {
  cases: number;
  decoded: number;
  maxMs: number;
  codes: Map<string, number>;
}

function fuzzOne(format: Format, buf: Buffer, stats: Stats): void {
  stats.cases++;
  let values: AmfValue[] | undefined;
  const run = (): void => {
    values = undefined;
    const code = amfErrorCode(() => {
      values = decodeAll(format, buf);
    });
    if (code !== null) stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
  };
  let t0 = performance.now();
  run();
  let ms = performance.now() - t0;
  if (ms > SLOW_MS) {
    // Time it again so a GC pause or a busy machine is not mistaken for a slow input.
    t0 = performance.now();
    run();
    ms = performance.now() - t0;
    if (ms > SLOW_MS) throw new Error(`${format} decode took ${ms.toFixed(1)} ms on ${buf.toString('hex').slice(0, 200)}`);
  }
  stats.maxMs = Math.max(stats.maxMs, ms);
  if (values === undefined) return;
  stats.decoded++;
  // Whatever decodes must encode again; only AmfError may stop it (none is expected for decoded values).
  const decodedValues = values;
  if (format === 'amf0') {
    const code = amfErrorCode(() => encodeAmf0With({ avmplus: true }, decodedValues));
    expect(code).toBeNull();
  } else {
    for (const v of decodedValues) {
      let again: AmfValue;
      expect(amfErrorCode(() => (again = decodeAmf3(encodeAmf3(v)).value))).toBeNull();
      const d = amfDiff(v, again!);
      if (d !== null) throw new Error(`AMF3 re-encode changed ${buf.toString('hex')}: ${d}`);
    }
  }
}

function mutate(rng: Rng, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const n = rng.int(1, 3);
  for (let k = 0; k < n; k++) {
    switch (rng.int(0, 5)) {
      case 0: // bit flip
        if (b.length > 0) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
        break;
      case 1: // truncation
        b = b.subarray(0, rng.int(0, b.length));
        break;
      case 2: {
        // inserted bytes
        const at = rng.int(0, b.length);
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 4)), b.subarray(at)]);
        break;
      }
      case 3: {
        // a length field pushed to an extreme
        if (b.length === 0) break;
        const at = rng.int(0, b.length - 1);
        const fill = rng.pick([0xff, 0x7f, 0x80, 0x00]);
        for (let i = at; i < Math.min(b.length, at + rng.int(1, 4)); i++) b[i] = fill;
        break;
      }
      case 4: // random byte
        if (b.length > 0) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
        break;
      default: {
        // duplicated slice (repeats references and markers)
        const from = rng.int(0, b.length);
        const to = Math.min(b.length, from + rng.int(1, 16));
        b = Buffer.concat([b, b.subarray(from, to)]);
      }
    }
  }
  return b;
}

function fixtures(format: Format): Buffer[] {
  const dir = path.join(__dirname, '..', 'fixtures', format);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f)));
}

describe.each(['amf0', 'amf3'] as const)('%s fuzz', (format) => {
  const mem0 = process.memoryUsage();
  const checkMemory = (): void => {
    const m = process.memoryUsage();
    expect(m.heapUsed - mem0.heapUsed).toBeLessThan(256 * 1024 * 1024);
    expect(m.arrayBuffers - mem0.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
  };

  test('random bytes: only AmfError, quick, bounded memory', () => {
    const rng = new Rng(format === 'amf0' ? 101 : 303);
    const stats: Stats = { cases: 0, decoded: 0, maxMs: 0, codes: new Map() };
    for (let i = 0; i < 15000; i++) {
      const n = rng.int(0, 48);
      const b = Buffer.allocUnsafe(n);
      for (let j = 0; j < n; j++) b[j] = rng.chance(0.5) ? rng.int(0, 0x12) : rng.int(0, 255);
      fuzzOne(format, b, stats);
      if (i % 1000 === 0) checkMemory();
    }
    checkMemory();
    expect(stats.maxMs).toBeLessThan(SLOW_MS);
    expect(stats.decoded).toBeGreaterThan(100);
    expect(stats.codes.get('ERR_AMF_TRUNCATED')).toBeGreaterThan(100);
  });

  test('mutated golden fixtures: only AmfError, quick, bounded memory', () => {
    const rng = new Rng(format === 'amf0' ? 202 : 404);
    const stats: Stats = { cases: 0, decoded: 0, maxMs: 0, codes: new Map() };
    const seeds = fixtures(format);
    const perSeed = Math.ceil(15000 / seeds.length);
    for (const seed of seeds) {
      const rounds = seed.length > 4096 ? 20 : perSeed;
      for (let i = 0; i < rounds; i++) fuzzOne(format, mutate(rng, seed), stats);
      checkMemory();
    }
    expect(stats.cases).toBeGreaterThan(10000);
    expect(stats.maxMs).toBeLessThan(SLOW_MS);
    expect(stats.decoded).toBeGreaterThan(500);
  });
});

test('hostile length prefixes are refused before anything is allocated', () => {
  const hostile: [Format, string][] = [
    ['amf0', '0c ffffffff 61'], // long string
    ['amf0', '0f ffffffff 61'], // XML document
    ['amf0', '0a ffffffff 05'], // strict array
    ['amf0', '02 ffff 61'], // string
    ['amf0', '11 0c ffffff7f 00'], // switched ByteArray
    ['amf3', '06 ffffff7f 61'], // string
    ['amf3', '0b ffffff7f 61'], // XML
    ['amf3', '07 ffffff7f 61'], // XMLDocument
    ['amf3', '0c ffffff7f 61'], // ByteArray
    ['amf3', '09 ffffff7f 01'], // Array
    ['amf3', '0d ffffff7f 00'], // Vector.<int>
    ['amf3', '0e ffffff7f 00'], // Vector.<uint>
    ['amf3', '0f ffffff7f 00'], // Vector.<Number>
    ['amf3', '10 ffffff7f 00 01'], // Vector.<Object>
    ['amf3', '11 ffffff7f 00'], // Dictionary
    ['amf3', '0a fffffffb 01'], // traits with 2^25 sealed members
  ];
  for (const [format, hex] of hostile) {
    const buf = Buffer.from(hex.replace(/\s/g, ''), 'hex');
    expect(buf.length).toBeLessThanOrEqual(10);
    const before = process.memoryUsage();
    const t0 = performance.now();
    expect([hex, amfErrorCode(() => decodeAll(format, buf))]).toEqual([hex, 'ERR_AMF_TRUNCATED']);
    expect(performance.now() - t0).toBeLessThan(SLOW_MS);
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(1024 * 1024);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(16 * 1024 * 1024);
  }
});
