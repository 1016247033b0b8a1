/**
 * Hostile input for the wire layer: random bytes and mutated valid chunk streams (bit flips, overwrites,
 * insertions, deletions, truncations, splices) fed in random pieces. Only RtmpError may escape, every push
 * returns promptly, and memory held for incomplete messages stays within the configured limit and in
 * proportion to the bytes that actually arrived. Seeds are fixed, so failures reproduce.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ChunkDecoder, type ChunkDecoderOptions } from '../../src/rtmp/chunk-decoder';
import { ChunkEncoder } from '../../src/rtmp/chunk-encoder';
import { ClientHandshake, ServerHandshake, HANDSHAKE_SIZE } from '../../src/rtmp/handshake';
import { splitAggregate } from '../../src/rtmp/aggregate';
import * as control from '../../src/rtmp/control';
import { RtmpError } from '../../src/errors';
import type { RtmpMessage } from '../../src/rtmp/types';
import { Rng, randomPieces } from './rtmp-test-utils';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'rtmp');

function expectRtmpError(err: unknown, context: string): void {
  if (!(err instanceof RtmpError) || !/^ERR_RTMP_[A-Z_]+$/.test(err.code)) {
    throw new Error(`${context}: escaped ${String((err as Error)?.stack ?? err)}`);
  }
}

const OPTION_SETS: Omit<ChunkDecoderOptions, 'onMessage'>[] = [
  {},
  { maxMessageSize: 1000, maxChunkStreams: 4, maxChunkSize: 4096, maxPendingBytes: 100_000 },
  { maxChunkStreams: 1000, maxPendingBytes: 1 << 20 },
  { extendedTimestampOnType3: 'always' },
  { extendedTimestampOnType3: 'never', maxPendingBytes: 300_000 },
];

const PENDING_BOUND_PER_STREAM = 64 * 1024;

/** Feeds pieces, checking the error type and the memory bounds after every push. Returns messages seen. */
function runDecoder(pieces: Buffer[], options: Omit<ChunkDecoderOptions, 'onMessage'>, context: string): number {
  let messages = 0;
  const d = new ChunkDecoder({
    ...options,
    onMessage: (m: RtmpMessage) => {
      messages++;
      if (m.payload.length > (options.maxMessageSize ?? 0xffffff)) throw new Error(`${context}: oversize message delivered`);
    },
  });
  const limit = options.maxPendingBytes ?? 32 * 1024 * 1024;
  const maxStreams = options.maxChunkStreams ?? 128;
  for (const p of pieces) {
    const started = performance.now();
    try {
      d.push(p);
    } catch (err) {
      expectRtmpError(err, context);
      // Dead for good, with the same error.
      let again: unknown;
      try {
        d.push(Buffer.from([3]));
      } catch (e) {
        again = e;
      }
      if (again !== err) throw new Error(`${context}: decoder accepted input after an error`);
      return messages;
    }
    const elapsed = performance.now() - started;
    if (elapsed > 250) throw new Error(`${context}: one push of ${p.length} bytes took ${elapsed.toFixed(0)} ms`);
    if (d.pendingBytes > limit) throw new Error(`${context}: ${d.pendingBytes} pending bytes over the limit ${limit}`);
    if (d.pendingBytes > maxStreams * PENDING_BOUND_PER_STREAM + 2 * d.bytesReceived) {
      throw new Error(`${context}: ${d.pendingBytes} pending bytes for ${d.bytesReceived} received`);
    }
  }
  return messages;
}

/** Valid chunk streams to mutate: captured prefixes and encoder output with every header feature. */
function seedStreams(): Buffer[] {
  const seeds: Buffer[] = [];
  for (const f of ['ffmpeg-publish.bin', 'nginx-play.bin']) {
    const b = fs.readFileSync(path.join(FIXTURES, f));
    seeds.push(b.subarray(0, 3000), b.subarray(b.length - 9000, b.length - 6000));
  }
  const rng = new Rng(99);
  for (let s = 0; s < 6; s++) {
    const enc = new ChunkEncoder();
    const parts: Buffer[] = [];
    let ts = rng.pick([0, 0xfffff0, 0xfffffff0]);
    for (let i = 0; i < 25; i++) {
      if (i === 5) {
        const size = rng.pick([1, 50, 200, 4096]);
        parts.push(enc.encode(control.setChunkSize(size)));
        enc.setChunkSize(size);
      }
      ts = (ts + rng.pick([0, 20, 33, 0x1000000])) >>> 0;
      const csid = rng.pick([2, 3, 8, 70, 400]);
      const len = rng.pick([0, 4, 100, 300]);
      parts.push(enc.encode({ type: rng.pick([8, 9, 20]), streamId: 1, timestamp: ts, csid, payload: rng.bytes(len) }));
      if (i === 12) parts.push(enc.encode(control.abort(8)));
    }
    seeds.push(Buffer.concat(parts));
  }
  return seeds;
}

function mutate(src: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(src);
  const rounds = rng.range(1, 4);
  for (let r = 0; r < rounds; r++) {
    if (b.length === 0) break;
    switch (rng.int(7)) {
      case 0: // bit flips
        for (let i = rng.range(1, 8); i > 0; i--) b[rng.int(b.length)] ^= 1 << rng.int(8);
        break;
      case 1: // overwrite with interesting bytes
        for (let i = rng.range(1, 4); i > 0; i--) b[rng.int(b.length)] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01, 0xc0, 0x3f]);
        break;
      case 2: {
        // insert random bytes
        const at = rng.int(b.length);
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 20)), b.subarray(at)]);
        break;
      }
      case 3: {
        // delete a range
        const at = rng.int(b.length);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.range(1, 40)))]);
        break;
      }
      case 4: // truncate
        b = b.subarray(0, rng.int(b.length));
        break;
      case 5: {
        // splice a slice of itself elsewhere
        const from = rng.int(b.length);
        const slice = b.subarray(from, Math.min(b.length, from + rng.range(1, 200)));
        const at = rng.int(b.length);
        b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
        break;
      }
      default: {
        // a header claiming a huge message
        const at = rng.int(b.length);
        const h = Buffer.from([rng.range(2, 63), 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]);
        b = Buffer.concat([b.subarray(0, at), h, b.subarray(at)]);
      }
    }
  }
  return b;
}

describe('ChunkDecoder fuzz', () => {
  test('20000 random inputs', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 20_000; i++) {
      const input = rng.bytes(rng.range(1, 400));
      runDecoder(randomPieces(input, rng, rng.pick([1, 7, 64, 400])), rng.pick(OPTION_SETS), `random case ${i}`);
    }
  });

  test('25000 mutated valid streams', () => {
    const rng = new Rng(2);
    const seeds = seedStreams();
    let delivered = 0;
    for (let i = 0; i < 25_000; i++) {
      const input = mutate(rng.pick(seeds), rng);
      delivered += runDecoder(randomPieces(input, rng, rng.pick([16, 100, 1000, 10_000])), rng.pick(OPTION_SETS), `mutation case ${i}`);
    }
    // Mutations mostly keep a valid prefix: a sanity check that the fuzz reaches deep states.
    expect(delivered).toBeGreaterThan(100_000);
  });

  test('huge claimed messages on every chunk stream stay within the pending-bytes limit', () => {
    const rng = new Rng(3);
    for (let round = 0; round < 50; round++) {
      const chunks: Buffer[] = [Buffer.from('02000000000004010000000000ffffff', 'hex')]; // chunk size 0xFFFFFF
      for (let csid = 3; csid < 60; csid++) {
        chunks.push(Buffer.from([csid, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]), rng.bytes(rng.range(1, 70_000)));
      }
      runDecoder(randomPieces(Buffer.concat(chunks), rng, 65536), { maxPendingBytes: 8 << 20 }, `huge claims ${round}`);
    }
  });
});

describe('handshake, control and aggregate fuzz', () => {
  test('5000 random handshake inputs on both sides', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 5000; i++) {
      const input = rng.bytes(rng.range(1, 2 * HANDSHAKE_SIZE + 20));
      if (rng.int(2) === 0) input[0] = rng.pick([3, 3, 3, 0, 6, 31, 32]);
      const hs = rng.int(2) === 0 ? new ServerHandshake() : new ClientHandshake({ simple: rng.int(2) === 0 });
      if (hs instanceof ClientHandshake) hs.start();
      try {
        for (const p of randomPieces(input, rng, 600)) {
          const step = hs.push(p);
          if (step.done) break;
        }
      } catch (err) {
        expectRtmpError(err, `handshake case ${i}`);
      }
    }
  });

  test('5000 random payloads through every parser and splitAggregate', () => {
    const rng = new Rng(5);
    const parsers: ((m: RtmpMessage) => unknown)[] = [
      control.parseSetChunkSize,
      control.parseAbort,
      control.parseAcknowledgement,
      control.parseWindowAckSize,
      control.parseSetPeerBandwidth,
      control.parseUserControl,
      splitAggregate,
    ];
    const types = [1, 2, 3, 5, 6, 4, 22];
    for (let i = 0; i < 5000; i++) {
      const k = rng.int(parsers.length);
      const type = rng.int(10) === 0 ? rng.int(30) : types[k]!;
      const msg: RtmpMessage = { type, streamId: 1, timestamp: rng.u32(), csid: 3, payload: rng.bytes(rng.range(0, 60)) };
      try {
        parsers[k]!(msg);
      } catch (err) {
        expectRtmpError(err, `parser ${k} case ${i}`);
      }
    }
  });
});
