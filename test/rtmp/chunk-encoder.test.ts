/**
 * ChunkEncoder and chunkMessageFmt0: exact bytes for the spec's examples, header format choices, and
 * encoder -> decoder round trips over many random message sequences (chunk stream ids of all three basic
 * header forms, chunk sizes from 1 up, timestamps around 0xFFFFFF and the 2^32 wrap, chunk size changes).
 */
import { ChunkEncoder, chunkMessageFmt0 } from '../../src/rtmp/chunk-encoder';
import { ChunkDecoder } from '../../src/rtmp/chunk-decoder';
import * as control from '../../src/rtmp/control';
import type { RtmpMessage } from '../../src/rtmp/types';
import { Rng, decodePieces, plain, randomPieces, type PlainMessage } from './rtmp-test-utils';

function m(csid: number, timestamp: number, payload: Buffer | number, type = 8, streamId = 1): RtmpMessage {
  return { type, streamId, timestamp, csid, payload: typeof payload === 'number' ? Buffer.alloc(payload, 0xab) : payload };
}

const fmtOf = (b: Buffer): number => b[0]! >> 6;

describe('ChunkEncoder: header formats', () => {
  test('reproduces the spec 5.3.2.1 example byte for byte', () => {
    const enc = new ChunkEncoder();
    const payloads = [1, 2, 3, 4].map((i) => Buffer.alloc(32, i));
    const out = Buffer.concat(payloads.map((p, i) => enc.encode(m(3, 1000 + 20 * i, p, 8, 12345))));
    const expected = Buffer.concat([
      Buffer.from('030003e80000200839300000', 'hex'),
      payloads[0]!,
      Buffer.from('83000014', 'hex'),
      payloads[1]!,
      Buffer.from('c3', 'hex'),
      payloads[2]!,
      Buffer.from('c3', 'hex'),
      payloads[3]!,
    ]);
    expect(out.toString('hex')).toBe(expected.toString('hex'));
  });

  test('reproduces the spec 5.3.2.2 example (307 bytes at chunk size 128)', () => {
    const payload = Buffer.from(Array.from({ length: 307 }, (_, i) => i & 0xff));
    const out = new ChunkEncoder().encode(m(4, 1000, payload, 9, 12346));
    const expected = Buffer.concat([
      Buffer.from('040003e8000133093a300000', 'hex'),
      payload.subarray(0, 128),
      Buffer.from([0xc4]),
      payload.subarray(128, 256),
      Buffer.from([0xc4]),
      payload.subarray(256),
    ]);
    expect(out.toString('hex')).toBe(expected.toString('hex'));
  });

  test('picks format 0 for new streams and backward timestamps, 1 for new length/type, 2 for new delta, 3 for same delta', () => {
    const enc = new ChunkEncoder();
    expect(fmtOf(enc.encode(m(5, 0, 10)))).toBe(0);
    // Same timestamp after format 0: delta 0, but format 3 would be read differently by peers: format 2.
    expect(fmtOf(enc.encode(m(5, 0, 10)))).toBe(2);
    expect(fmtOf(enc.encode(m(5, 0, 10)))).toBe(3);
    expect(fmtOf(enc.encode(m(5, 40, 10)))).toBe(2);
    expect(fmtOf(enc.encode(m(5, 80, 10)))).toBe(3);
    expect(fmtOf(enc.encode(m(5, 120, 11)))).toBe(1);
    expect(fmtOf(enc.encode(m(5, 160, 11, 9)))).toBe(1);
    expect(fmtOf(enc.encode(m(5, 100, 11, 9)))).toBe(0); // backwards
    expect(fmtOf(enc.encode(m(5, 140, 11, 9, 2)))).toBe(0); // other message stream
    // Wrapping forward is a small delta, not a step back.
    enc.encode(m(6, 0xfffffff0, 1));
    expect(fmtOf(enc.encode(m(6, 0x10, 1)))).toBe(2);
    enc.resetChunkStream(5);
    expect(fmtOf(enc.encode(m(5, 180, 11, 9, 2)))).toBe(0);
    enc.reset();
    expect(fmtOf(enc.encode(m(6, 0x20, 1)))).toBe(0);
  });

  test('extended timestamps are repeated on every type 3 chunk', () => {
    const enc = new ChunkEncoder();
    const out = enc.encode(m(4, 0x01000000, 300, 9));
    // 12-byte header + 4 extended, 128 bytes, [c4 + 4 extended + 128], [c4 + 4 extended + 44]
    expect(out.length).toBe(16 + 128 + 5 + 128 + 5 + 44);
    expect(out.readUInt32BE(12)).toBe(0x01000000);
    expect(out[16 + 128]).toBe(0xc4);
    expect(out.readUInt32BE(16 + 128 + 1)).toBe(0x01000000);
    expect(out.readUInt32BE(16 + 128 + 5 + 128 + 1)).toBe(0x01000000);
    // Delta >= 0xFFFFFF on a format 1 header: extended too, and its type 3 chunks repeat the delta.
    const next = enc.encode(m(4, 0x02000000, 129, 8));
    expect(fmtOf(next)).toBe(1);
    expect(next.readUInt32BE(8)).toBe(0x01000000);
    expect(next.readUInt32BE(12 + 128 + 1)).toBe(0x01000000);
  });

  test('timestamp 0xFFFFFE is not extended, 0xFFFFFF is', () => {
    expect(new ChunkEncoder().encode(m(3, 0xfffffe, 1)).length).toBe(12 + 1);
    expect(new ChunkEncoder().encode(m(3, 0xffffff, 1)).length).toBe(16 + 1);
  });

  test('chunk size changes apply to the next message', () => {
    const enc = new ChunkEncoder();
    expect(enc.chunkSize).toBe(128);
    enc.setChunkSize(4096);
    expect(enc.encode(m(3, 0, 4096)).length).toBe(12 + 4096);
    expect(enc.encode(m(3, 0, 4097)).length).toBe(8 + 4096 + 1 + 1);
  });

  test('bad input', () => {
    const enc = new ChunkEncoder();
    expect(() => enc.encode(m(1, 0, 1))).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CSID' }));
    expect(() => enc.encode(m(65600, 0, 1))).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CSID' }));
    expect(() => enc.encode(m(3, 0, 0x1000000))).toThrow(expect.objectContaining({ code: 'ERR_RTMP_MESSAGE_TOO_LARGE' }));
    expect(() => enc.setChunkSize(0)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
    expect(() => enc.setChunkSize(0x1000000)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
    expect(() => chunkMessageFmt0(m(3, 0, 1), 0)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
  });
});

describe('chunkMessageFmt0', () => {
  test('is what a fresh encoder produces, for every basic header form and extended timestamps', () => {
    for (const csid of [3, 63, 64, 319, 320, 65599]) {
      for (const ts of [0, 1000, 0xfffffe, 0xffffff, 0xffffffff]) {
        for (const [len, size] of [
          [0, 128],
          [100, 128],
          [1000, 128],
          [5000, 4096],
          [7, 1],
        ] as const) {
          const msg = m(csid, ts, len, 9, 7);
          const enc = new ChunkEncoder();
          enc.setChunkSize(size);
          const fresh = enc.encode(msg);
          const fmt0 = chunkMessageFmt0(msg, size);
          expect(fmt0.equals(fresh)).toBe(true);
        }
      }
    }
  });

  test('one Buffer shared by many players decodes to the message; noteFmt0 lets the encoder compress after it', () => {
    const msgs = [m(6, 0x01000000, 5000, 9, 1), m(6, 0x01000021, 5000, 9, 1), m(6, 0x01000042, 30, 9, 1)];
    const enc = new ChunkEncoder();
    enc.setChunkSize(1000);
    const first = chunkMessageFmt0(msgs[0]!, 1000);
    enc.noteFmt0(msgs[0]!);
    const second = enc.encode(msgs[1]!);
    expect(fmtOf(second)).toBe(2);
    const announce = new ChunkEncoder().encode(control.setChunkSize(1000));
    const r = decodePieces([announce, first, second, enc.encode(msgs[2]!)]);
    expect(r.error).toBeNull();
    expect(r.messages.slice(1)).toEqual(msgs.map(plain));
  });
});

describe('encoder -> decoder round trips', () => {
  const CSIDS = [2, 3, 4, 5, 6, 7, 8, 63, 64, 100, 319, 320, 1000, 65599];
  const CHUNK_SIZES = [1, 2, 7, 64, 128, 129, 1000, 4096, 65536, 0xffffff];

  interface Track {
    ts: number;
    delta: number;
    type: number;
    streamId: number;
    length: number;
  }

  function nextTimestamp(rng: Rng, t: Track): number {
    switch (rng.int(10)) {
      case 0:
        return t.ts; // same
      case 1:
      case 2:
        return (t.ts + t.delta) >>> 0; // same delta (format 3 candidates)
      case 3:
        return (t.ts + rng.range(1, 100)) >>> 0;
      case 4:
        return rng.pick([0xfffffe, 0xffffff, 0x1000000, 0xfffffff0, 0xffffffff, 0]); // boundaries
      case 5:
        return (t.ts + rng.pick([0xfffffe, 0xffffff, 0x1000000, 0x7fffffff])) >>> 0; // huge deltas
      case 6:
        return (t.ts - rng.range(1, 5000)) >>> 0; // backwards
      case 7:
        return (t.ts + rng.range(0xfff0, 0x10010)) >>> 0;
      default:
        return rng.u32();
    }
  }

  function runCase(seed: number, count: number): void {
    const rng = new Rng(seed);
    const enc = new ChunkEncoder();
    const pool = Array.from({ length: rng.range(1, 5) }, () => rng.pick(CSIDS));
    const tracks = new Map<number, Track>();
    const sent: PlainMessage[] = [];
    const wire: Buffer[] = [];
    let maxLength = 300;
    for (let i = 0; i < count; i++) {
      if (rng.int(12) === 0) {
        const size = rng.pick(CHUNK_SIZES);
        const msg = control.setChunkSize(size);
        wire.push(enc.encode(msg));
        sent.push(plain(msg));
        enc.setChunkSize(size);
        maxLength = size === 1 ? 300 : Math.min(3 * size, 6000);
        continue;
      }
      const csid = rng.pick(pool);
      let t = tracks.get(csid);
      if (!t) {
        t = { ts: rng.u32(), delta: rng.range(0, 50), type: rng.pick([8, 9, 18, 20]), streamId: rng.range(0, 3), length: rng.range(0, 50) };
        tracks.set(csid, t);
      }
      const ts = nextTimestamp(rng, t);
      t.delta = (ts - t.ts) >>> 0;
      t.ts = ts;
      if (rng.int(3) === 0) t.length = rng.range(0, maxLength);
      if (rng.int(8) === 0) t.type = rng.pick([8, 9, 15, 18, 20, 22]);
      if (rng.int(15) === 0) t.streamId = rng.pick([0, 1, 2, 0xffffffff, 0x01020304]);
      const msg: RtmpMessage = { type: t.type, streamId: t.streamId, timestamp: ts, csid, payload: rng.bytes(t.length) };
      if (rng.int(6) === 0) {
        // Fan-out path: bypasses the encoder, which must be told, as a session would.
        wire.push(chunkMessageFmt0(msg, enc.chunkSize));
        if (rng.int(2) === 0) enc.noteFmt0(msg);
        else enc.resetChunkStream(csid);
      } else {
        wire.push(enc.encode(msg));
      }
      sent.push(plain(msg));
    }
    const all = Buffer.concat(wire);
    const maxPiece = all.length < 20_000 ? rng.pick([1, 5, 64, 1000, 100_000]) : rng.pick([64, 1000, 100_000]);
    const r = decodePieces(randomPieces(all, rng, maxPiece), { maxChunkStreams: 64 });
    if (r.error || r.messages.length !== sent.length) {
      throw new Error(`seed ${seed}: ${JSON.stringify(r.error)} after ${r.messages.length}/${sent.length} messages`);
    }
    expect(r.messages).toEqual(sent);
  }

  test('400 random sequences of 60 messages', () => {
    for (let seed = 1; seed <= 400; seed++) runCase(seed, 60);
  });

  test('the decoder also reads them with extendedTimestampOnType3 = always', () => {
    const enc = new ChunkEncoder();
    const msgs = [m(4, 0x01000000, 300, 9), m(4, 0x02000000, 300, 9), m(4, 0x03000000, 300, 9), m(4, 5, 300, 9)];
    const r = decodePieces([Buffer.concat(msgs.map((x) => enc.encode(x)))], { extendedTimestampOnType3: 'always' });
    expect(r.messages).toEqual(msgs.map(plain));
  });
});

test('decoder payload views survive later pushes (the decoder never reuses memory)', () => {
  const enc = new ChunkEncoder();
  const got: RtmpMessage[] = [];
  const d = new ChunkDecoder({ onMessage: (x) => got.push(x) });
  const a = enc.encode(m(3, 0, Buffer.from('first')));
  const b = enc.encode(m(3, 0, 500));
  d.push(a);
  d.push(b);
  expect(got[0]!.payload.toString()).toBe('first');
  expect(got[1]!.payload.length).toBe(500);
});
