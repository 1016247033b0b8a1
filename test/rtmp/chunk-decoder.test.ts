/**
 * ChunkDecoder: hand-written hex fixtures (the spec's 5.3.2 examples and edge cases) and two captured chunk
 * streams (ffmpeg publishing to nginx-rtmp, nginx-rtmp sending to a player; see
 * test/fixtures/rtmp/capture-fixtures.js), fed whole, split at every byte boundary and in random pieces,
 * which must all give the same messages. Errors are asserted by code.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ChunkDecoder } from '../../src/rtmp/chunk-decoder';
import { RtmpError, isSsasError } from '../../src/errors';
import type { RtmpMessage } from '../../src/rtmp/types';
import { Rng, commandName, decodePieces, randomPieces, type DecodeResult, type PlainMessage } from './rtmp-test-utils';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'rtmp');

/** Concatenates hex parts (spaces allowed). */
function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

/** n payload bytes with a recognisable pattern, as hex. */
function fill(n: number, seed: number): string {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i) & 0xff;
  return b.toString('hex');
}

function decodeAll(input: Buffer, options = {}): DecodeResult {
  return decodePieces([input], options);
}

/** Every split of `input` into two pushes (and into 1-byte pushes) gives the same result as one push. */
function expectSplitInvariant(input: Buffer, options = {}): DecodeResult {
  const whole = decodeAll(input, options);
  for (let i = 1; i < input.length; i++) {
    const split = decodePieces([input.subarray(0, i), input.subarray(i)], options);
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      expect({ splitAt: i, result: split }).toEqual({ splitAt: i, result: whole });
    }
  }
  const bytes = decodePieces(
    Array.from(input, (b) => Buffer.from([b])),
    options,
  );
  expect(bytes).toEqual(whole);
  return whole;
}

function msg(type: number, streamId: number, timestamp: number, csid: number, payloadHex: string): PlainMessage {
  return { type, streamId, timestamp, csid, payload: payloadHex };
}

// Spec 5.3.2.1: four 32-byte audio messages on one chunk stream, formats 0, 2, 3, 3.
const SPEC_EXAMPLE_1 = hex(
  '03 0003e8 000020 08 39300000',
  fill(32, 1),
  '83 000014',
  fill(32, 2),
  'c3',
  fill(32, 3),
  'c3',
  fill(32, 4),
);

// Spec 5.3.2.2: one 307-byte video message in chunks of 128, 128, 51.
const SPEC_EXAMPLE_2 = hex(
  '04 0003e8 000133 09 3a300000',
  fill(307, 9).slice(0, 256),
  'c4',
  fill(307, 9).slice(256, 512),
  'c4',
  fill(307, 9).slice(512),
);

describe('ChunkDecoder: spec examples', () => {
  test('5.3.2.1 header compression (formats 0, 2, 3, 3)', () => {
    const r = expectSplitInvariant(SPEC_EXAMPLE_1);
    expect(r.error).toBeNull();
    expect(r.messages).toEqual([
      msg(8, 12345, 1000, 3, fill(32, 1)),
      msg(8, 12345, 1020, 3, fill(32, 2)),
      msg(8, 12345, 1040, 3, fill(32, 3)),
      msg(8, 12345, 1060, 3, fill(32, 4)),
    ]);
  });

  test('5.3.2.2 one message split into chunks', () => {
    const r = expectSplitInvariant(SPEC_EXAMPLE_2);
    expect(r.messages).toEqual([msg(9, 12346, 1000, 4, fill(307, 9))]);
  });
});

describe('ChunkDecoder: headers', () => {
  test('basic header forms: 1 byte (2..63), 2 bytes (64..319), 3 bytes (320..65599)', () => {
    const input = hex(
      '02 000000 000001 14 00000000 aa', // csid 2
      '3f 000000 000001 14 00000000 bb', // csid 63
      '00 00 000000 000001 14 00000000 cc', // csid 64
      '00 ff 000000 000001 14 00000000 dd', // csid 319
      '01 00 01 000000 000001 14 00000000 ee', // csid 320
      '01 ff ff 000000 000001 14 00000000 ff', // csid 65599
      'c1 ff ff', // format 3 on csid 65599: a new 1-byte message
      '11',
    );
    const r = expectSplitInvariant(input);
    expect(r.error).toBeNull();
    expect(r.messages.map((m) => [m.csid, m.payload])).toEqual([
      [2, 'aa'],
      [63, 'bb'],
      [64, 'cc'],
      [319, 'dd'],
      [320, 'ee'],
      [65599, 'ff'],
      [65599, '11'],
    ]);
  });

  test('format 1 keeps the stream id, format 2 also length and type; deltas accumulate', () => {
    const input = hex(
      '05 000064 000002 09 07000000 0102', // ts 100, stream 7
      '45 00000a 000001 08 03', // +10, new length/type
      '85 000005 04', // +5
      'c5 05', // +5 again (format 3 repeats the last delta)
    );
    const r = expectSplitInvariant(input);
    expect(r.messages).toEqual([msg(9, 7, 100, 5, '0102'), msg(8, 7, 110, 5, '03'), msg(8, 7, 115, 5, '04'), msg(8, 7, 120, 5, '05')]);
  });

  test('a format 3 message after a format 0 header reuses its timestamp as the delta (spec 5.3.1.2.4)', () => {
    const r = expectSplitInvariant(hex('06 000064 000001 08 01000000 aa', 'c6 bb', 'c6 cc'));
    expect(r.messages.map((m) => m.timestamp)).toEqual([100, 200, 300]);
  });

  test('timestamps wrap modulo 2^32', () => {
    const r = expectSplitInvariant(hex('07 ffffff 000001 08 01000000 fffffff0 aa', '87 000020 bb'));
    expect(r.messages.map((m) => m.timestamp)).toEqual([0xfffffff0, 0x10]);
  });

  test('zero-length messages complete with their header', () => {
    const r = expectSplitInvariant(hex('03 000000 000000 14 00000000', 'c3', '43 000001 000001 12 aa'));
    expect(r.messages).toEqual([msg(20, 0, 0, 3, ''), msg(20, 0, 0, 3, ''), msg(18, 0, 1, 3, 'aa')]);
  });

  test('messages interleaved across chunk streams', () => {
    const big = fill(200, 5);
    const input = hex(
      '06 000010 0000c8 09 01000000',
      big.slice(0, 256), // 128 bytes of the video message
      '04 000011 000003 08 01000000 a1a2a3', // a whole audio message in between
      'c6',
      big.slice(256), // the last 72 bytes of the video message
    );
    const r = expectSplitInvariant(input);
    expect(r.messages).toEqual([msg(8, 1, 0x11, 4, 'a1a2a3'), msg(9, 1, 0x10, 6, big)]);
  });

  test('a new full header while a message is incomplete drops the partial message', () => {
    const r = expectSplitInvariant(
      hex('06 000000 0000c8 09 01000000', fill(128, 1), '06 000005 000002 09 01000000 abcd'),
    );
    expect(r.messages).toEqual([msg(9, 1, 5, 6, 'abcd')]);
  });
});

describe('ChunkDecoder: extended timestamps', () => {
  test('format 0 with an extended timestamp', () => {
    const r = expectSplitInvariant(hex('04 ffffff 000001 08 01000000 01000000 aa'));
    expect(r.messages).toEqual([msg(8, 1, 0x01000000, 4, 'aa')]);
  });

  const payload = fill(300, 7);
  // 300 bytes at chunk size 128 with timestamp 0x01000000: the peer repeats the extended field on type 3 chunks.
  const REPEATED = hex(
    '04 ffffff 00012c 09 01000000 01000000',
    payload.slice(0, 256),
    'c4 01000000',
    payload.slice(256, 512),
    'c4 01000000',
    payload.slice(512),
  );
  const NOT_REPEATED = hex('04 ffffff 00012c 09 01000000 01000000', payload.slice(0, 256), 'c4', payload.slice(256, 512), 'c4', payload.slice(512));

  test.each([
    ['repeated on type 3 chunks (spec, FMS, ffmpeg)', REPEATED],
    ['not repeated (some encoders)', NOT_REPEATED],
  ])('auto-detects the extended field %s', (_name, input) => {
    const r = expectSplitInvariant(input);
    expect(r.error).toBeNull();
    expect(r.messages).toEqual([msg(9, 1, 0x01000000, 4, payload)]);
  });

  test('forced modes', () => {
    expect(decodeAll(REPEATED, { extendedTimestampOnType3: 'always' }).messages).toHaveLength(1);
    expect(decodeAll(NOT_REPEATED, { extendedTimestampOnType3: 'never' }).messages).toHaveLength(1);
    // The wrong forced mode misreads the stream.
    const wrong = decodeAll(REPEATED, { extendedTimestampOnType3: 'never' });
    expect(wrong.messages).not.toEqual([msg(9, 1, 0x01000000, 4, payload)]);
  });

  test('a type 3 chunk starting a new message after an extended delta adds that delta again', () => {
    const r = expectSplitInvariant(
      hex('04 000000 000001 08 01000000 aa', '84 ffffff 01000000 bb', 'c4 01000000 cc', 'c4 01000000 dd'),
    );
    expect(r.messages.map((m) => m.timestamp)).toEqual([0, 0x01000000, 0x02000000, 0x03000000]);
  });
});

describe('ChunkDecoder: protocol control applied by the decoder', () => {
  test('Set Chunk Size takes effect for the very next chunk, and is delivered too', () => {
    const body = fill(200, 3);
    const input = hex('02 000000 000004 01 00000000 000000c8', '03 000000 0000c8 09 01000000', body);
    const r = expectSplitInvariant(input);
    expect(r.error).toBeNull();
    expect(r.messages).toEqual([msg(1, 0, 0, 2, '000000c8'), msg(9, 1, 0, 3, body)]);
  });

  test('chunk sizes above 0xFFFFFF act as 0xFFFFFF (spec 5.4.1)', () => {
    const d = new ChunkDecoder({ onMessage: () => undefined });
    d.push(hex('02 000000 000004 01 00000000 7fffffff'));
    expect(d.chunkSize).toBe(0xffffff);
  });

  test('Abort drops the partial message of that chunk stream', () => {
    const input = hex(
      '06 000000 0000c8 09 01000000',
      fill(128, 1),
      '02 000000 000004 02 00000000 00000006',
      '06 000001 000001 09 01000000 ee',
    );
    const r = expectSplitInvariant(input);
    expect(r.messages).toEqual([msg(2, 0, 0, 2, '00000006'), msg(9, 1, 1, 6, 'ee')]);
  });

  test('an Abort for an idle or unknown chunk stream is harmless', () => {
    const r = expectSplitInvariant(hex('02 000000 000004 02 00000000 00000009', '03 000000 000001 14 00000000 01'));
    expect(r.error).toBeNull();
    expect(r.messages).toHaveLength(2);
  });
});

describe('ChunkDecoder: payloads and accounting', () => {
  test('a one-chunk message inside one input Buffer is a view; others are assembled', () => {
    const got: RtmpMessage[] = [];
    const d = new ChunkDecoder({ onMessage: (m) => got.push(m) });
    const input = Buffer.concat([SPEC_EXAMPLE_1, SPEC_EXAMPLE_2]);
    d.push(input);
    expect(got).toHaveLength(5);
    const isViewOfInput = (b: Buffer): boolean =>
      b.buffer === input.buffer && b.byteOffset >= input.byteOffset && b.byteOffset + b.length <= input.byteOffset + input.length;
    expect(got.slice(0, 4).every((m) => isViewOfInput(m.payload))).toBe(true);
    expect(isViewOfInput(got[4]!.payload)).toBe(false);
    expect(got[4]!.payload.toString('hex')).toBe(fill(307, 9));
    expect(d.pendingBytes).toBe(0);
  });

  test('bytesReceived counts every byte pushed', () => {
    const d = new ChunkDecoder({ onMessage: () => undefined });
    d.push(SPEC_EXAMPLE_1.subarray(0, 10));
    d.push(SPEC_EXAMPLE_1.subarray(10));
    d.push(SPEC_EXAMPLE_2.subarray(0, 5));
    expect(d.bytesReceived).toBe(SPEC_EXAMPLE_1.length + 5);
  });

  test('headers claiming 16 MB messages on 60 chunk streams do not allocate 1 GB', () => {
    const d = new ChunkDecoder({ onMessage: () => undefined });
    for (let csid = 3; csid < 63; csid++) {
      d.push(Buffer.concat([Buffer.from([csid, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]), Buffer.alloc(100)]));
    }
    // Buffers grow with the data that arrived: 60 x 64 KiB at most here.
    expect(d.pendingBytes).toBeLessThanOrEqual(60 * 64 * 1024);
  });
});

describe('ChunkDecoder: errors', () => {
  function codeOf(input: Buffer, options = {}): string | null {
    const whole = decodeAll(input, options);
    // The same error whatever the split.
    for (let i = 1; i < input.length; i++) {
      const split = decodePieces([input.subarray(0, i), input.subarray(i)], options);
      expect(split.error).toEqual(whole.error);
    }
    return whole.error?.code ?? null;
  }

  test('format 1/2/3 on a chunk stream that never had a full header', () => {
    expect(codeOf(hex('43 000000 000001 08'))).toBe('ERR_RTMP_NO_PREVIOUS_HEADER');
    expect(codeOf(hex('83 000000'))).toBe('ERR_RTMP_NO_PREVIOUS_HEADER');
    expect(codeOf(hex('c3'))).toBe('ERR_RTMP_NO_PREVIOUS_HEADER');
  });

  test('message larger than maxMessageSize', () => {
    expect(codeOf(hex('03 000000 000065 08 00000000'), { maxMessageSize: 100 })).toBe('ERR_RTMP_MESSAGE_TOO_LARGE');
    expect(codeOf(hex('03 000000 000064 08 00000000'), { maxMessageSize: 100 })).toBeNull();
    // Format 1 changes the length too.
    expect(codeOf(hex('03 000000 000001 08 00000000 aa 43 000000 000065 08'), { maxMessageSize: 100 })).toBe(
      'ERR_RTMP_MESSAGE_TOO_LARGE',
    );
  });

  test('more chunk streams than maxChunkStreams', () => {
    const three = hex('03 000000 000000 08 00000000', '04 000000 000000 08 00000000', '05 000000 000000 08 00000000');
    expect(codeOf(three, { maxChunkStreams: 2 })).toBe('ERR_RTMP_TOO_MANY_CHUNK_STREAMS');
    expect(codeOf(three, { maxChunkStreams: 3 })).toBeNull();
  });

  test('bad chunk sizes', () => {
    expect(codeOf(hex('02 000000 000004 01 00000000 00000000'))).toBe('ERR_RTMP_BAD_CHUNK_SIZE');
    expect(codeOf(hex('02 000000 000004 01 00000000 80000000'))).toBe('ERR_RTMP_BAD_CHUNK_SIZE');
    expect(codeOf(hex('02 000000 000004 01 00000000 00002000'), { maxChunkSize: 4096 })).toBe('ERR_RTMP_BAD_CHUNK_SIZE');
    expect(codeOf(hex('02 000000 000004 01 00000000 00001000'), { maxChunkSize: 4096 })).toBeNull();
  });

  test('truncated control payloads', () => {
    expect(codeOf(hex('02 000000 000003 01 00000000 000080'))).toBe('ERR_RTMP_BAD_CONTROL_MESSAGE');
    expect(codeOf(hex('02 000000 000002 02 00000000 0003'))).toBe('ERR_RTMP_BAD_CONTROL_MESSAGE');
  });

  test('incomplete messages holding more than maxPendingBytes', () => {
    const input = hex('06 000000 00c800 09 01000000', fill(128, 1), '07 000000 00c800 09 01000000', fill(128, 2));
    expect(codeOf(input, { maxPendingBytes: 60_000 })).toBe('ERR_RTMP_BUFFER_LIMIT');
    expect(codeOf(input, { maxPendingBytes: 200_000 })).toBeNull();
  });

  test('after an error the decoder rethrows it on every push', () => {
    const d = new ChunkDecoder({ onMessage: () => undefined });
    let first: unknown;
    try {
      d.push(hex('c3'));
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(RtmpError);
    expect(() => d.push(SPEC_EXAMPLE_1)).toThrow(first as Error);
    expect(isSsasError(first)).toBe(true);
  });

  test('an exception from onMessage propagates and stops the decoder', () => {
    const boom = new Error('listener failed');
    const d = new ChunkDecoder({
      onMessage: () => {
        throw boom;
      },
    });
    expect(() => d.push(SPEC_EXAMPLE_1)).toThrow(boom);
    expect(() => d.push(SPEC_EXAMPLE_2)).toThrow(boom);
  });

  test('push from inside onMessage is refused', () => {
    let inner: unknown;
    const d: ChunkDecoder = new ChunkDecoder({
      onMessage: () => {
        try {
          d.push(SPEC_EXAMPLE_2);
        } catch (err) {
          inner = err;
        }
      },
    });
    d.push(SPEC_EXAMPLE_1.subarray(0, 44));
    expect((inner as RtmpError).code).toBe('ERR_RTMP_REENTRANT');
  });

  test('bad options', () => {
    const onMessage = (): void => undefined;
    expect(() => new ChunkDecoder({ onMessage, maxChunkSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_OPTION' }));
    expect(() => new ChunkDecoder({ onMessage, maxMessageSize: -1 })).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_OPTION' }));
    expect(() => new ChunkDecoder({ onMessage, maxChunkStreams: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_OPTION' }));
    // Limits beyond the protocol's are fine (a 16 MiB message limit is the same as 0xFFFFFF).
    expect(() => new ChunkDecoder({ onMessage, maxMessageSize: 16 * 1024 * 1024, maxChunkSize: 0x7fffffff })).not.toThrow();
    expect(() => new ChunkDecoder({} as never)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_OPTION' }));
  });
});

describe('ChunkDecoder: captured streams', () => {
  const publish = fs.readFileSync(path.join(FIXTURES, 'ffmpeg-publish.bin'));
  const play = fs.readFileSync(path.join(FIXTURES, 'nginx-play.bin'));

  test('ffmpeg publishing (extended timestamps repeated on a type 3 chunk)', () => {
    const r = decodeAll(publish);
    expect(r.error).toBeNull();
    const names = r.messages.filter((m) => m.type === 20).map((m) => commandName(Buffer.from(m.payload, 'hex')));
    expect(names.slice(0, 5)).toEqual(['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
    const media = r.messages.filter((m) => m.type === 8 || m.type === 9);
    expect(media.length).toBeGreaterThan(90);
    expect(media.filter((m) => m.timestamp > 0xffffff).length).toBeGreaterThan(90);
    for (const type of [8, 9]) {
      const ts = media.filter((m) => m.type === type).map((m) => m.timestamp);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
    }
    // The same stream misread if the repeated extended field were taken as payload.
    expect(decodeAll(publish, { extendedTimestampOnType3: 'never' }).error).not.toBeNull();
  });

  test('nginx-rtmp sending to a player', () => {
    const r = decodeAll(play);
    expect(r.error).toBeNull();
    const types = new Set(r.messages.map((m) => m.type));
    for (const t of [1, 4, 5, 6, 8, 9, 18, 20]) expect(types.has(t)).toBe(true);
  });

  test.each([
    ['ffmpeg-publish.bin', publish],
    ['nginx-play.bin', play],
  ])('%s: every split of the first 6000 bytes, and random pieces of the whole, decode the same', (_name, input) => {
    expectSplitInvariant(input.subarray(0, 6000));
    const whole = decodeAll(input);
    const rng = new Rng(input.length);
    for (let i = 0; i < 60; i++) {
      const max = rng.pick([1, 3, 17, 100, 1000, 5000]);
      expect(decodePieces(randomPieces(input, rng, max))).toEqual(whole);
    }
  });
});
