/**
 * Handshake classes in memory: client against server for both digest schemes and the plain handshake,
 * input in arbitrary pieces, digests re-checked here with the formulas written out independently,
 * version handling and state errors. Real peers are in handshake-interop.test.ts.
 */
import { createHmac } from 'crypto';
import {
  ClientHandshake,
  ServerHandshake,
  HANDSHAKE_SIZE,
  FLASH_MEDIA_SERVER_KEY,
  FLASH_PLAYER_KEY,
  digestOffset,
  type HandshakeStep,
} from '../../src/rtmp/handshake';
import { Rng, randomPieces, seededFill } from './rtmp-test-utils';

const FP_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001'), Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex')]);
const FMS_KEY = Buffer.concat([
  Buffer.from('Genuine Adobe Flash Media Server 001'),
  Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex'),
]);

const hmac = (data: Buffer, key: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** Digest position written out from the two schemes' definitions. */
function position(block: Buffer, scheme: 0 | 1): number {
  const base = scheme === 0 ? 8 : 772;
  const sum = block[base]! + block[base + 1]! + block[base + 2]! + block[base + 3]!;
  return scheme === 0 ? (sum % 728) + 12 : (sum % 728) + 776;
}

function hasDigest(block: Buffer, scheme: 0 | 1, key: Buffer): boolean {
  const pos = position(block, scheme);
  const without = Buffer.concat([block.subarray(0, pos), block.subarray(pos + 32)]);
  return hmac(without, key).equals(block.subarray(pos, pos + 32));
}

/** Pushes pieces until done, collecting what was sent. */
function feed(hs: { push(b: Buffer): HandshakeStep }, pieces: Buffer[]): { sent: Buffer; done: boolean; rest: Buffer | null } {
  const sent: Buffer[] = [];
  let done = false;
  let rest: Buffer | null = null;
  for (let i = 0; i < pieces.length; i++) {
    const step = hs.push(pieces[i]!);
    sent.push(...step.send);
    if (step.done) {
      done = true;
      // What followed the handshake: the rest of this piece and every later piece.
      const after = [...(step.rest ? [step.rest] : []), ...pieces.slice(i + 1)];
      rest = after.length > 0 ? Buffer.concat(after) : null;
      break;
    }
  }
  return { sent: Buffer.concat(sent), done, rest };
}

describe('keys and offsets', () => {
  test('the published 62- and 68-byte keys', () => {
    expect(FLASH_PLAYER_KEY.equals(FP_KEY)).toBe(true);
    expect(FLASH_MEDIA_SERVER_KEY.equals(FMS_KEY)).toBe(true);
    expect(FP_KEY.length).toBe(62);
    expect(FMS_KEY.length).toBe(68);
  });

  test('digestOffset follows both schemes and stays inside the block', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 200; i++) {
      const block = rng.bytes(HANDSHAKE_SIZE);
      for (const scheme of [0, 1] as const) {
        const off = digestOffset(block, scheme);
        expect(off).toBe(position(block, scheme));
        expect(off + 32).toBeLessThanOrEqual(scheme === 0 ? 772 : HANDSHAKE_SIZE);
      }
    }
    const max = Buffer.alloc(HANDSHAKE_SIZE, 0xff);
    expect(digestOffset(max, 0)).toBe((1020 % 728) + 12);
  });
});

describe('client and server together', () => {
  const rng = new Rng(42);

  test.each([
    ['digest, scheme 0', { scheme: 0 as const }],
    ['digest, scheme 1', { scheme: 1 as const }],
    ['plain', { simple: true }],
  ])('%s, fed in random pieces', (_name, opts) => {
    for (let round = 0; round < 20; round++) {
      const client = new ClientHandshake({ ...opts, random: seededFill(round + 1) });
      const server = new ServerHandshake({ random: seededFill(round + 100), time: 1234 });
      const c0c1 = client.start();
      expect(c0c1.length).toBe(1 + HANDSHAKE_SIZE);
      expect(c0c1[0]).toBe(3);
      const trailing = Buffer.from('first chunk bytes');

      // C0+C1 in pieces: S0+S1+S2 comes out once C1 is complete.
      const s = feed(server, randomPieces(c0c1, rng, 700));
      expect(s.done).toBe(false);
      expect(s.sent.length).toBe(1 + 2 * HANDSHAKE_SIZE);
      expect(s.sent[0]).toBe(3);
      const s1 = s.sent.subarray(1, 1 + HANDSHAKE_SIZE);
      const s2 = s.sent.subarray(1 + HANDSHAKE_SIZE);
      expect(s1.readUInt32BE(0)).toBe(1234);

      const c = feed(client, randomPieces(Buffer.concat([s.sent, trailing]), rng, 900));
      expect(c.done).toBe(true);
      expect(c.rest?.toString()).toBe(trailing.toString());
      expect(c.sent.length).toBe(HANDSHAKE_SIZE);
      expect(client.s2Valid).toBe(true);

      const f = feed(server, randomPieces(Buffer.concat([c.sent, trailing]), rng, 900));
      expect(f.done).toBe(true);
      expect(f.rest?.toString()).toBe(trailing.toString());
      expect(server.c2Valid).toBe(true);

      const c1 = c0c1.subarray(1);
      if ('simple' in opts) {
        expect(server.digestScheme).toBeNull();
        expect(client.serverDigestScheme).toBeNull();
        expect(c1.readUInt32BE(4)).toBe(0);
        expect(s2.equals(c1)).toBe(true);
        expect(c.sent.equals(s1)).toBe(true);
      } else {
        const scheme = opts.scheme;
        expect(server.digestScheme).toBe(scheme);
        expect(client.serverDigestScheme).toBe(scheme);
        expect(server.clientFlashVersion).toBe('9.0.124.2');
        expect(client.serverFmsVersion).toBe('3.5.1.1');
        // Independent checks: C1 and S1 digests, then S2 and C2 signatures keyed from the peer's digest.
        expect(hasDigest(c1, scheme, FP_KEY.subarray(0, 30))).toBe(true);
        expect(hasDigest(s1, scheme, FMS_KEY.subarray(0, 36))).toBe(true);
        const c1Digest = c1.subarray(position(c1, scheme), position(c1, scheme) + 32);
        const s1Digest = s1.subarray(position(s1, scheme), position(s1, scheme) + 32);
        expect(hmac(s2.subarray(0, 1504), hmac(c1Digest, FMS_KEY)).equals(s2.subarray(1504))).toBe(true);
        expect(hmac(c.sent.subarray(0, 1504), hmac(s1Digest, FP_KEY)).equals(c.sent.subarray(1504))).toBe(true);
      }
    }
  });

  test('byte by byte', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const s = feed(server, Array.from(client.start(), (b) => Buffer.from([b])));
    const c = feed(client, Array.from(s.sent, (b) => Buffer.from([b])));
    const f = feed(server, Array.from(c.sent, (b) => Buffer.from([b])));
    expect([c.done, f.done, c.rest, f.rest, client.s2Valid, server.c2Valid]).toEqual([true, true, null, null, true, true]);
  });

  test('the client sends C2 as soon as S1 is in, before S2', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const s = feed(server, [client.start()]).sent;
    const step = client.push(s.subarray(0, 1 + HANDSHAKE_SIZE));
    expect(step.send).toHaveLength(1);
    expect(step.done).toBe(false);
    expect(client.push(s.subarray(1 + HANDSHAKE_SIZE)).done).toBe(true);
  });
});

describe('server leniency and version handling', () => {
  test('a bad C2 is accepted (FMS does not reject it) and reported', () => {
    const server = new ServerHandshake();
    feed(server, [new ClientHandshake().start()]);
    const r = feed(server, [Buffer.alloc(HANDSHAKE_SIZE, 1)]);
    expect(r.done).toBe(true);
    expect(server.c2Valid).toBe(false);
  });

  test('a C1 whose digest does not validate gets the plain handshake', () => {
    const c0c1 = new ClientHandshake().start();
    c0c1[1 + 100] ^= 0xff; // any changed byte breaks the digest
    const server = new ServerHandshake();
    const s = feed(server, [c0c1]).sent;
    expect(server.digestScheme).toBeNull();
    expect(s.subarray(1 + HANDSHAKE_SIZE).equals(c0c1.subarray(1))).toBe(true);
  });

  test.each([0, 1, 2, 4, 5, 7, 10, 31])('version %i is answered with 3 (spec 5.2.2)', (version) => {
    const c0c1 = Buffer.concat([Buffer.from([version]), Buffer.alloc(HANDSHAKE_SIZE)]);
    const server = new ServerHandshake();
    const s = feed(server, [c0c1]).sent;
    expect(s[0]).toBe(3);
    expect(server.clientVersion).toBe(version);
  });

  test.each([6, 8, 9])('RTMPE version %i is refused on the first byte', (version) => {
    expect(() => new ServerHandshake().push(Buffer.from([version]))).toThrow(
      expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_UNSUPPORTED_VERSION' }),
    );
  });

  test.each([32, 0x47, 0x50, 255])('version byte %i (not RTMP, e.g. an HTTP request) is refused', (version) => {
    expect(() => new ServerHandshake().push(Buffer.from([version, 0x45, 0x54]))).toThrow(
      expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_BAD_VERSION' }),
    );
  });

  test('the client refuses RTMPE or non-RTMP answers too', () => {
    const client = new ClientHandshake();
    client.start();
    expect(() => client.push(Buffer.from([8]))).toThrow(expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_UNSUPPORTED_VERSION' }));
  });
});

describe('client against other servers', () => {
  test('a plain server (S2 = C1 echo, S1 without digest): C2 echoes S1', () => {
    const client = new ClientHandshake();
    const c1 = client.start().subarray(1);
    const s1 = new Rng(3).bytes(HANDSHAKE_SIZE);
    const r = feed(client, [Buffer.concat([Buffer.from([3]), s1, c1])]);
    expect(r.done).toBe(true);
    expect(r.sent.equals(s1)).toBe(true);
    expect(client.serverDigestScheme).toBeNull();
    expect(client.s2Valid).toBe(true);
  });

  test('a digest server with a wrong S2 signature: lenient by default, ERR_RTMP_HANDSHAKE_BAD_DIGEST when strict', () => {
    for (const strict of [false, true]) {
      const client = new ClientHandshake({ strict });
      const server = new ServerHandshake();
      const s = Buffer.from(feed(server, [client.start()]).sent);
      s[s.length - 1] ^= 1;
      if (strict) {
        expect(() => feed(client, [s])).toThrow(expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_BAD_DIGEST' }));
      } else {
        expect(feed(client, [s]).done).toBe(true);
        expect(client.s2Valid).toBe(false);
      }
    }
  });
});

describe('state errors and options', () => {
  const STATE = expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_STATE' });

  test('push after completion, push before start, start twice', () => {
    const client = new ClientHandshake({ simple: true });
    expect(() => client.push(Buffer.from([3]))).toThrow(STATE);
    const server = new ServerHandshake();
    const s = feed(server, [client.start()]).sent;
    const c = feed(client, [s]);
    feed(server, [c.sent]);
    expect(() => server.push(Buffer.from([1]))).toThrow(STATE);
    expect(() => client.push(Buffer.from([1]))).toThrow(STATE);
    expect(() => client.start()).toThrow(STATE);
  });

  test('empty pushes are harmless', () => {
    const server = new ServerHandshake();
    expect(server.push(Buffer.alloc(0))).toEqual({ send: [], done: false, rest: null });
  });

  test('bad options', () => {
    const BAD = expect.objectContaining({ code: 'ERR_RTMP_HANDSHAKE_BAD_OPTION' });
    expect(() => new ClientHandshake({ flashVersion: [0, 0, 0, 0] })).toThrow(BAD);
    expect(() => new ClientHandshake({ flashVersion: [1, 2, 3] })).toThrow(BAD);
    expect(() => new ServerHandshake({ serverVersion: [256, 0, 0, 0] })).toThrow(BAD);
    expect(() => new ClientHandshake({ scheme: 2 as never })).toThrow(BAD);
  });
});
