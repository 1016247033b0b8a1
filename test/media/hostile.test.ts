/**
 * Every reader fed truncated and randomly corrupted files must end cleanly or throw a coded MediaError,
 * within a bounded number of steps, without trusting sizes/counts from the file for allocations.
 */
import * as fs from 'fs';
import { isSsasError } from '../../src/errors';
import { FlvReader, FlvWriter, inspectFlvForAppend } from '../../src/media/flv';
import { mediaLength, openMediaReader } from '../../src/media/index';
import type { MediaReader } from '../../src/media/media-types';
import { Mp3Reader } from '../../src/media/mp3';
import { Mp4Reader } from '../../src/media/mp4-reader';
import { repairMp4 } from '../../src/media/mp4-writer';
import { Mp4Writer } from '../../src/media/mp4-writer';
import { parseMpegAudioHeader } from '../../src/media/mpeg-audio';
import { BufferSource, type RandomAccessSource } from '../../src/media/source';
import { fixture } from './fixtures';

/** xorshift32: reproducible mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** A source that records the largest read it was asked for. */
class WatchedSource implements RandomAccessSource {
  readonly size: number;
  maxRead = 0;
  reads = 0;
  constructor(private readonly bytes: Buffer) {
    this.size = bytes.length;
  }
  async read(position: number, length: number): Promise<Buffer> {
    this.maxRead = Math.max(this.maxRead, length);
    this.reads++;
    return new BufferSource(this.bytes).read(position, length);
  }
}

type Open = (s: RandomAccessSource) => Promise<MediaReader>;

interface Outcome {
  ok: boolean;
  code?: string;
  tags: number;
}

const expectCoded = (err: unknown): string => {
  if (!isSsasError(err) || err.name !== 'MediaError' || !/^ERR_MEDIA_/.test(err.code)) {
    throw new Error(`not a coded MediaError: ${String(err)}\n${(err as Error)?.stack ?? ''}`);
  }
  return err.code;
};

/** Opens, reads everything (bounded), seeks twice and reads a little more. */
async function exercise(open: Open, bytes: Buffer, maxTags: number): Promise<Outcome> {
  const src = new WatchedSource(bytes);
  let tags = 0;
  try {
    const r = await open(src);
    for (let t = await r.next(); t; t = await r.next()) {
      if (++tags > maxTags) throw new Error(`reader did not end after ${maxTags} tags`);
    }
    for (const ms of [1000, 0, 1e7]) {
      await r.seek(ms);
      for (let i = 0; i < 5 && (await r.next()); i++);
    }
    await mediaLength(src);
    return { ok: true, tags };
  } catch (err) {
    if (err instanceof Error && /did not end/.test(err.message)) throw err;
    return { ok: false, code: expectCoded(err), tags };
  } finally {
    // Reads are clamped to the file, but asking for more than the file holds would mean a size was trusted.
    expect(src.maxRead).toBeLessThanOrEqual(Math.max(bytes.length, 64 * 1024));
  }
}

/** Patches Buffer allocation functions to record the largest request while `fn` runs. */
async function largestAllocation(fn: () => Promise<void>): Promise<number> {
  const B = Buffer as unknown as Record<string, (...a: unknown[]) => Buffer>;
  const saved = { alloc: B.alloc!, allocUnsafe: B.allocUnsafe!, allocUnsafeSlow: B.allocUnsafeSlow! };
  let max = 0;
  for (const k of Object.keys(saved) as (keyof typeof saved)[]) {
    B[k] = (size: unknown, ...rest: unknown[]) => {
      if (typeof size === 'number') max = Math.max(max, size);
      return saved[k].call(Buffer, size, ...rest);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(B, saved);
  }
  return max;
}

function mutate(bytes: Buffer, rand: () => number, focusEnd: number): Buffer {
  const out = Buffer.from(bytes);
  const n = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < n; i++) {
    // Most mutations hit the structural part (headers, moov / metadata), some anywhere.
    const region = rand() < 0.75 ? focusEnd : out.length;
    const pos = Math.floor(rand() * region);
    const kind = rand();
    if (kind < 0.5) out[pos] = Math.floor(rand() * 256);
    else if (kind < 0.75 && pos + 4 <= out.length) out.writeUInt32BE([0xffffffff, 0x7fffffff, 0, 1, 8, 0x10000000][Math.floor(rand() * 6)]!, pos);
    else out[pos] ^= 1 << Math.floor(rand() * 8);
  }
  return out;
}

/** Offsets of per-tag / per-frame headers (FLV tag headers and PreviousTagSize, MPEG audio frame headers). */
function headerOffsets(bytes: Buffer): number[] {
  const out: number[] = [];
  if (bytes.toString('latin1', 0, 3) === 'FLV') {
    for (let p = 13; p + 11 <= bytes.length; p += 15 + bytes.readUIntBE(p + 1, 3)) {
      for (let k = 0; k < 11; k++) out.push(p + k);
      out.push(p - 4, p - 3, p - 2, p - 1);
    }
  } else if (bytes.toString('latin1', 4, 8) === 'ftyp') {
    // Fragmented MP4: every moof is structure.
    for (let p = 0; p + 8 <= bytes.length && bytes.readUInt32BE(p) >= 8; p += bytes.readUInt32BE(p)) {
      if (bytes.toString('latin1', p + 4, p + 8) === 'moof') for (let k = 0; k < bytes.readUInt32BE(p); k++) out.push(p + k);
    }
  } else {
    for (let p = 0; p + 4 <= bytes.length; p++) {
      const h = parseMpegAudioHeader(bytes, p);
      if (!h) continue;
      out.push(p, p + 1, p + 2, p + 3);
      p += h.frameSize - 1;
    }
  }
  return out;
}

/** Where a file keeps its structure: MP4 moov (wherever it is), else the first 4 KiB. */
function structuralRegion(bytes: Buffer): { start: number; end: number } {
  const moov = bytes.indexOf('moov', 0, 'latin1');
  if (moov > 4) return { start: moov - 4, end: Math.min(bytes.length, moov - 4 + bytes.readUInt32BE(moov - 4)) };
  return { start: 0, end: Math.min(bytes.length, 4096) };
}

const CASES: [string, Open][] = [
  ['avc-aac.flv', (s) => FlvReader.open(s)],
  ['aac-only.flv', (s) => FlvReader.open(s)],
  ['avc-aac.mp4', (s) => Mp4Reader.open(s)],
  ['avc-aac-faststart.mp4', (s) => Mp4Reader.open(s)],
  ['mp3-in.mp4', (s) => Mp4Reader.open(s)],
  ['frag.mp4', (s) => Mp4Reader.open(s)],
  ['vbr.mp3', (s) => Mp3Reader.open(s)],
  ['cbr.mp3', (s) => Mp3Reader.open(s)],
  ['avc-aac-2s.flv', (s) => openMediaReader(s)],
];

describe.each(CASES)('%s', (name, open) => {
  let bytes: Buffer;
  let tagCount = 0;
  beforeAll(async () => {
    bytes = fs.readFileSync(fixture(name));
    const r = await open(new BufferSource(bytes));
    for (let t = await r.next(); t; t = await r.next()) tagCount++;
  });

  test('truncated at many lengths: clean end or coded error', async () => {
    const rand = rng(name.length * 7919);
    const cuts = new Set([0, 1, 3, 4, 7, 8, 9, 12, 13, 16, 24, 40, 100, 1000, bytes.length - 1, bytes.length - 4, bytes.length - 11]);
    for (let i = 0; i < 40; i++) cuts.add(Math.floor(rand() * bytes.length));
    const { start, end } = structuralRegion(bytes);
    for (let i = 0; i < 10; i++) cuts.add(start + Math.floor(rand() * (end - start)));
    const codes = new Map<string, number>();
    for (const cut of cuts) {
      if (cut < 0 || cut > bytes.length) continue;
      const res = await exercise(open, bytes.subarray(0, cut), tagCount + 10);
      if (!res.ok) codes.set(res.code!, (codes.get(res.code!) ?? 0) + 1);
      else expect(res.tags).toBeLessThanOrEqual(tagCount);
    }
    expect([...codes.keys()].every((c) => /^ERR_MEDIA_(TRUNCATED|CORRUPT|NO_SUPPORTED_TRACK|UNSUPPORTED)$/.test(c))).toBe(true);
  });

  test('randomly corrupted (100 mutations): clean end or coded error, bounded, no huge allocations', async () => {
    const rand = rng(0x5eed + name.length);
    const { start, end } = structuralRegion(bytes);
    const hot = headerOffsets(bytes);
    const started = Date.now();
    let failures = 0;
    const maxAlloc = await largestAllocation(async () => {
      for (let i = 0; i < 100; i++) {
        const m = mutate(bytes, () => rand(), end);
        // Bias a share of the mutations into the structural region specifically.
        if (i % 3 === 0) for (let k = 0; k < 3; k++) m[start + Math.floor(rand() * (end - start))] = Math.floor(rand() * 256);
        // And another share into tag / frame headers all through the file.
        if (i % 3 === 1 && hot.length > 0) for (let k = 0; k < 2; k++) m[hot[Math.floor(rand() * hot.length)]!] = Math.floor(rand() * 256);
        const res = await exercise(open, m, Math.max(tagCount * 20, 2000));
        if (!res.ok) failures++;
      }
    });
    expect(maxAlloc).toBeLessThan(Math.max(4 * bytes.length, 1024 * 1024));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(failures).toBeLessThanOrEqual(100);
  });
});

describe('writers and tools on hostile input', () => {
  test('FLV append inspection of corrupted files: coded errors only', async () => {
    const bytes = fs.readFileSync(fixture('avc-aac-2s.flv'));
    const rand = rng(99);
    for (let i = 0; i < 60; i++) {
      const m = mutate(bytes, rand, 2048);
      try {
        const info = await inspectFlvForAppend(new BufferSource(m));
        const w = new FlvWriter({ append: info });
        w.start();
        w.write({ type: 8, timestamp: 0, payload: Buffer.from([0xaf, 1, 1, 2]) });
        for (const p of w.end().patches) expect(p.position + p.bytes.length).toBeLessThanOrEqual(m.length + 64);
      } catch (err) {
        expectCoded(err);
      }
    }
  });

  test('MP4 writer never throws on garbage payloads; repair of a corrupted index is coded', () => {
    const rand = rng(7);
    const w = new Mp4Writer();
    const side: Buffer[] = [...w.start().sidecar];
    let size = 0;
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(rand() * 40);
      const payload = Buffer.alloc(len);
      for (let k = 0; k < len; k++) payload[k] = Math.floor(rand() * 256);
      if (len > 0 && rand() < 0.5) payload[0] = rand() < 0.5 ? 0x17 : 0xaf;
      if (len > 1 && rand() < 0.3) payload[1] = 0;
      const out = w.write({ type: rand() < 0.5 ? 8 : 9, timestamp: Math.floor(rand() * 5000), payload });
      size += out.data.reduce((n, b) => n + b.length, 0);
      side.push(...out.sidecar);
    }
    w.end();
    const index = Buffer.concat(side);
    for (let i = 0; i < 100; i++) {
      const m = mutate(index, rand, index.length);
      try {
        const plan = repairMp4(size + 200, m);
        expect(plan.truncateTo).toBeLessThanOrEqual(size + 200);
      } catch (err) {
        expectCoded(err);
      }
    }
  });
});
