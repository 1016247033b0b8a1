/**
 * RTMP handshake: Adobe RTMP specification 1.0, section 5.2 (C0/C1/C2 and S0/S1/S2, 1536-byte blocks),
 * plus the "Flash Player 9" digest handshake that Flash Player, FMS, librtmp (handshake.h), ffmpeg
 * (libavformat/rtmpproto.c) and nginx-rtmp layer on top of it. The digest scheme is not in the spec; the
 * facts used here (offset formulas, HMAC keys, where signatures go) are those the implementations agree on:
 *
 * - C1/S1 carry a 32-byte HMAC-SHA256 "digest" somewhere in the block. Scheme 0 places it at
 *   12 + (sum of bytes 8..11) % 728; scheme 1 at 776 + (sum of bytes 772..775) % 728. The HMAC covers the
 *   1536 bytes minus the 32 digest bytes and is keyed with the first 30 bytes of the Flash Player key
 *   (C1) or the first 36 bytes of the Flash Media Server key (S1).
 * - S2 (C2) ends with a 32-byte signature: HMAC-SHA256 over its first 1504 bytes, keyed with
 *   HMAC-SHA256(peer's C1 (S1) digest, full 68-byte FMS key (full 62-byte FP key)).
 * - ffmpeg (when playing) and librtmp (when it uses the digest handshake) abort unless S1's digest and
 *   S2's signature validate, so a server must produce them.
 *
 * Peers that send no valid digest get the plain handshake of the spec: S2 echoes C1 (C2 echoes S1).
 * RTMPE (versions 6, 8, 9: encrypted RTMP) is not supported.
 *
 * Pure: bytes in, bytes out. The caller writes `send` buffers to the socket and, once `done`, hands
 * `rest` (bytes that followed the handshake) to the chunk decoder.
 */
import { createHmac, randomFillSync, timingSafeEqual } from 'crypto';
import { RtmpError } from '../errors';

/** Size of C1/C2/S1/S2. */
export const HANDSHAKE_SIZE = 1536;
export const RTMP_VERSION = 3;
const DIGEST_SIZE = 32;
const SIGNATURE_OFFSET = HANDSHAKE_SIZE - DIGEST_SIZE;

const KEY_TAIL = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex');
/** "Genuine Adobe Flash Player 001" + 32 bytes: 62 bytes. The first 30 key C1 digests. */
export const FLASH_PLAYER_KEY: Buffer = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);
/** "Genuine Adobe Flash Media Server 001" + 32 bytes: 68 bytes. The first 36 key S1 digests. */
export const FLASH_MEDIA_SERVER_KEY: Buffer = Buffer.concat([
  Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'),
  KEY_TAIL,
]);
const FP_DIGEST_KEY = FLASH_PLAYER_KEY.subarray(0, 30);
const FMS_DIGEST_KEY = FLASH_MEDIA_SERVER_KEY.subarray(0, 36);

/** Where the digest of a C1/S1 lives: 0 = offset from bytes 8..11, 1 = offset from bytes 772..775. */
export type DigestScheme = 0 | 1;

/** What one `push` produced. */
export interface HandshakeStep {
  /** Bytes to write to the peer, in order (may be empty). */
  send: Buffer[];
  /** True once the handshake is complete; further input belongs to the chunk stream. */
  done: boolean;
  /** When done: bytes of this push that follow the handshake (the first chunks), or null. */
  rest: Buffer | null;
}

/** Offset of the 32-byte digest in a 1536-byte C1/S1 under the given scheme. */
export function digestOffset(block: Buffer, scheme: DigestScheme): number {
  const base = scheme === 0 ? 8 : 772;
  return ((block[base]! + block[base + 1]! + block[base + 2]! + block[base + 3]!) % 728) + base + 4;
}

/** HMAC-SHA256 of the block without its 32 digest bytes at `offset`. */
function blockDigest(block: Buffer, offset: number, key: Buffer): Buffer {
  return createHmac('sha256', key)
    .update(block.subarray(0, offset))
    .update(block.subarray(offset + DIGEST_SIZE, HANDSHAKE_SIZE))
    .digest();
}

function hmac(data: Buffer, key: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Writes a valid digest into `block` (in place) under `scheme`; returns its offset. */
function imprintDigest(block: Buffer, scheme: DigestScheme, key: Buffer): number {
  const offset = digestOffset(block, scheme);
  blockDigest(block, offset, key).copy(block, offset);
  return offset;
}

/** Finds a valid digest in a C1 (key = FP) or S1 (key = FMS); tries scheme 0 then 1. */
function findDigest(block: Buffer, key: Buffer): { scheme: DigestScheme; offset: number } | null {
  for (const scheme of [0, 1] as const) {
    const offset = digestOffset(block, scheme);
    const expected = blockDigest(block, offset, key);
    if (timingSafeEqual(expected, block.subarray(offset, offset + DIGEST_SIZE))) return { scheme, offset };
  }
  return null;
}

/** The signature that ends an S2 (C2) answering a C1 (S1) digest. */
function responseSignature(block: Buffer, peerDigest: Buffer, fullKey: Buffer): Buffer {
  return hmac(block.subarray(0, SIGNATURE_OFFSET), hmac(peerDigest, fullKey));
}

/** Writes the response signature over the last 32 bytes of `block` (the rest is already random). */
function signResponse(block: Buffer, peerDigest: Buffer, fullKey: Buffer): void {
  responseSignature(block, peerDigest, fullKey).copy(block, SIGNATURE_OFFSET);
}

function signatureValid(block: Buffer, peerDigest: Buffer, fullKey: Buffer): boolean {
  return timingSafeEqual(responseSignature(block, peerDigest, fullKey), block.subarray(SIGNATURE_OFFSET));
}

/** C2/S2 of the plain handshake: the peer's C1/S1 back, except the time2 field (bytes 4..7). */
function isEcho(answer: Buffer, original: Buffer): boolean {
  return answer.readUInt32BE(0) === original.readUInt32BE(0) && answer.subarray(8).equals(original.subarray(8));
}

function versionString(block: Buffer): string | null {
  if (block.readUInt32BE(4) === 0) return null;
  return `${block[4]}.${block[5]}.${block[6]}.${block[7]}`;
}

/**
 * Checks C0/S0. 3 is RTMP; 6, 8 and 9 are RTMPE variants we do not speak; 32..255 are excluded by the
 * spec (5.2.2) so that RTMP can be told apart from text protocols (an HTTP request starts with "G" or "P").
 * Other values are reserved or deprecated: the spec lets a server answer them with 3.
 */
function checkVersion(version: number, who: 'client' | 'server'): void {
  if (version === 6 || version === 8 || version === 9) {
    throw new RtmpError('ERR_RTMP_HANDSHAKE_UNSUPPORTED_VERSION', `${who} requested RTMPE (version ${version}), which is not supported`, {
      version,
    });
  }
  if (version >= 32) {
    throw new RtmpError('ERR_RTMP_HANDSHAKE_BAD_VERSION', `${who} sent version byte ${version}: not an RTMP peer`, { version });
  }
}

function versionBytes(v: readonly number[] | undefined, fallback: readonly number[]): Buffer {
  const src = v ?? fallback;
  if (src.length !== 4 || src.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new RtmpError('ERR_RTMP_HANDSHAKE_BAD_OPTION', 'version must be four integers in [0, 255]', { version: src });
  }
  return Buffer.from(src);
}

function defaultRandom(buf: Buffer): void {
  randomFillSync(buf);
}

/** Collects exactly `size` bytes across pushes into one preallocated buffer. */
class Collector {
  readonly buf: Buffer;
  filled = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  /** Copies what fits from `src` starting at `off`; returns the new offset in `src`. */
  take(src: Buffer, off: number): number {
    const n = Math.min(this.buf.length - this.filled, src.length - off);
    src.copy(this.buf, this.filled, off, off + n);
    this.filled += n;
    return off + n;
  }
  get full(): boolean {
    return this.filled === this.buf.length;
  }
}

export interface ServerHandshakeOptions {
  /** Version field of S1 (bytes 4..7). Must be non-zero for digest peers; ffmpeg requires the first byte >= 3. Default 3.5.1.1. */
  serverVersion?: readonly number[];
  /** Time field of S1 (ms, uint32). Default 0, which the spec allows. */
  time?: number;
  /** Fills a buffer with random bytes (tests inject a deterministic one). Default crypto.randomFillSync. */
  random?: (buf: Buffer) => void;
}

const enum ServerState {
  C0,
  C1,
  C2,
  Done,
}

/**
 * Server side: reads C0+C1, answers S0+S1+S2 in one write, reads C2.
 *
 * C2 is checked but never rejected (FMS does not reject a bad C2 either); the outcome is in `c2Valid`.
 */
export class ServerHandshake {
  /** The version byte the client sent in C0. */
  clientVersion: number | null = null;
  /** The client's Flash Player version from C1 ("9.0.124.2"), or null when it sent zeros (plain handshake). */
  clientFlashVersion: string | null = null;
  /** The client's time field from C1. */
  clientTime = 0;
  /** Digest scheme the client used in C1, or null when it did not send a valid digest (plain handshake). */
  digestScheme: DigestScheme | null = null;
  /** After completion: whether C2 is what the client should have sent (signature, or echo of S1). */
  c2Valid: boolean | null = null;

  readonly #random: (buf: Buffer) => void;
  readonly #version: Buffer;
  readonly #time: number;
  #state = ServerState.C0;
  #c1 = new Collector(HANDSHAKE_SIZE);
  #c2: Collector | null = null;
  #s1: Buffer | null = null;
  #s1Digest: Buffer | null = null;

  constructor(options: ServerHandshakeOptions = {}) {
    this.#random = options.random ?? defaultRandom;
    this.#version = versionBytes(options.serverVersion, [3, 5, 1, 1]);
    this.#time = (options.time ?? 0) >>> 0;
  }

  get done(): boolean {
    return this.#state === ServerState.Done;
  }

  push(input: Buffer): HandshakeStep {
    if (this.#state === ServerState.Done) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_STATE', 'handshake already complete; feed the chunk decoder instead');
    }
    const send: Buffer[] = [];
    let off = 0;
    if (this.#state === ServerState.C0 && off < input.length) {
      const version = input[off++]!;
      checkVersion(version, 'client');
      this.clientVersion = version;
      this.#state = ServerState.C1;
    }
    if (this.#state === ServerState.C1 && off < input.length) {
      off = this.#c1.take(input, off);
      if (this.#c1.full) {
        send.push(this.#answer(this.#c1.buf));
        this.#state = ServerState.C2;
        this.#c2 = new Collector(HANDSHAKE_SIZE);
      }
    }
    if (this.#state === ServerState.C2 && off < input.length) {
      const c2 = this.#c2!;
      off = c2.take(input, off);
      if (c2.full) {
        this.#checkC2(c2.buf);
        this.#state = ServerState.Done;
        this.#c2 = null;
        return { send, done: true, rest: off < input.length ? input.subarray(off) : null };
      }
    }
    return { send, done: false, rest: null };
  }

  /** Builds S0+S1+S2 for a complete C1. */
  #answer(c1: Buffer): Buffer {
    this.clientTime = c1.readUInt32BE(0);
    this.clientFlashVersion = versionString(c1);
    const out = Buffer.allocUnsafe(1 + 2 * HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_SIZE);
    this.#random(s1);
    s1.writeUInt32BE(this.#time, 0);

    const found = findDigest(c1, FP_DIGEST_KEY);
    if (found) {
      this.digestScheme = found.scheme;
      this.#version.copy(s1, 4);
      const s1Offset = imprintDigest(s1, found.scheme, FMS_DIGEST_KEY);
      this.#s1Digest = Buffer.from(s1.subarray(s1Offset, s1Offset + DIGEST_SIZE));
      this.#random(s2);
      signResponse(s2, c1.subarray(found.offset, found.offset + DIGEST_SIZE), FLASH_MEDIA_SERVER_KEY);
    } else {
      // Plain handshake: version field zero (librtmp reads a zero first byte as "no digest"), S2 = C1.
      s1.writeUInt32BE(0, 4);
      c1.copy(s2);
    }
    this.#s1 = Buffer.from(s1);
    return out;
  }

  #checkC2(c2: Buffer): void {
    // A digest client signs C2; a plain one echoes S1 (time2, bytes 4..7, may differ). ffmpeg echoes S1 even
    // after a digest C1 when it publishes, so an echo counts as valid either way.
    this.c2Valid = isEcho(c2, this.#s1!) || (this.#s1Digest !== null && signatureValid(c2, this.#s1Digest, FLASH_PLAYER_KEY));
  }
}

export interface ClientHandshakeOptions {
  /** Plain spec handshake: zero version field, no digest, C2 echoes S1. Default false (digest handshake). */
  simple?: boolean;
  /** Digest placement in C1. Default 0 (what ffmpeg and Flash Player 9 use; librtmp uses 1). */
  scheme?: DigestScheme;
  /** Flash Player version in C1 bytes 4..7. Default 9.0.124.2 (ffmpeg's). Ignored when simple. */
  flashVersion?: readonly number[];
  /** Time field of C1 (ms, uint32). Default 0. */
  time?: number;
  /** Throw ERR_RTMP_HANDSHAKE_BAD_DIGEST when a digest server's S2 signature is wrong. Default false. */
  strict?: boolean;
  random?: (buf: Buffer) => void;
}

const enum ClientState {
  Idle,
  S0,
  S1,
  S2,
  Done,
}

/**
 * Client side: `start()` gives C0+C1; `push` consumes S0+S1+S2. C2 goes out as soon as S1 is complete
 * (spec 5.2.4 allows it from then on, and it spares a deadlock with servers that hold S2 until C2 arrives),
 * and `done` is reported once S2 is in.
 *
 * If S1 carries no valid FMS digest the server is treated as a plain-handshake server and C2 echoes S1,
 * like librtmp and ffmpeg do.
 */
export class ClientHandshake {
  /** The version byte the server sent in S0. */
  serverVersion: number | null = null;
  /** The server's version field from S1 ("3.5.1.1"), or null when zero. */
  serverFmsVersion: string | null = null;
  /** Digest scheme of S1, or null if S1 had no valid digest (or we did a simple handshake). */
  serverDigestScheme: DigestScheme | null = null;
  /** After completion: whether S2 is what the server should have sent (signature, or echo of C1). */
  s2Valid: boolean | null = null;

  readonly #simple: boolean;
  readonly #scheme: DigestScheme;
  readonly #flashVersion: Buffer;
  readonly #time: number;
  readonly #strict: boolean;
  readonly #random: (buf: Buffer) => void;
  #state = ClientState.Idle;
  #c1: Buffer | null = null;
  #c1Digest: Buffer | null = null;
  #s1 = new Collector(HANDSHAKE_SIZE);
  #s2: Collector | null = null;

  constructor(options: ClientHandshakeOptions = {}) {
    this.#simple = options.simple === true;
    this.#scheme = options.scheme ?? 0;
    if (this.#scheme !== 0 && this.#scheme !== 1) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_BAD_OPTION', 'scheme must be 0 or 1', { scheme: this.#scheme });
    }
    this.#flashVersion = versionBytes(options.flashVersion, [9, 0, 124, 2]);
    if (!this.#simple && this.#flashVersion.readUInt32BE(0) === 0) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_BAD_OPTION', 'a digest handshake needs a non-zero flashVersion (peers read zero as "plain")');
    }
    this.#time = (options.time ?? 0) >>> 0;
    this.#strict = options.strict === true;
    this.#random = options.random ?? defaultRandom;
  }

  get done(): boolean {
    return this.#state === ClientState.Done;
  }

  /** C0+C1, to be written first. */
  start(): Buffer {
    if (this.#state !== ClientState.Idle) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_STATE', 'start() was already called');
    }
    const out = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const c1 = out.subarray(1);
    this.#random(c1);
    c1.writeUInt32BE(this.#time, 0);
    if (this.#simple) {
      c1.writeUInt32BE(0, 4);
    } else {
      this.#flashVersion.copy(c1, 4);
      const offset = imprintDigest(c1, this.#scheme, FP_DIGEST_KEY);
      this.#c1Digest = Buffer.from(c1.subarray(offset, offset + DIGEST_SIZE));
    }
    this.#c1 = Buffer.from(c1);
    this.#state = ClientState.S0;
    return out;
  }

  push(input: Buffer): HandshakeStep {
    if (this.#state === ClientState.Idle) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_STATE', 'call start() and send C0+C1 before feeding server bytes');
    }
    if (this.#state === ClientState.Done) {
      throw new RtmpError('ERR_RTMP_HANDSHAKE_STATE', 'handshake already complete; feed the chunk decoder instead');
    }
    const send: Buffer[] = [];
    let off = 0;
    if (this.#state === ClientState.S0 && off < input.length) {
      const version = input[off++]!;
      checkVersion(version, 'server');
      this.serverVersion = version;
      this.#state = ClientState.S1;
    }
    if (this.#state === ClientState.S1 && off < input.length) {
      off = this.#s1.take(input, off);
      if (this.#s1.full) {
        send.push(this.#answer(this.#s1.buf));
        this.#state = ClientState.S2;
        this.#s2 = new Collector(HANDSHAKE_SIZE);
      }
    }
    if (this.#state === ClientState.S2 && off < input.length) {
      const s2 = this.#s2!;
      off = s2.take(input, off);
      if (s2.full) {
        this.#checkS2(s2.buf);
        this.#state = ClientState.Done;
        this.#s2 = null;
        return { send, done: true, rest: off < input.length ? input.subarray(off) : null };
      }
    }
    return { send, done: false, rest: null };
  }

  /** Builds C2 for a complete S1. */
  #answer(s1: Buffer): Buffer {
    this.serverFmsVersion = versionString(s1);
    const found = this.#simple ? null : findDigest(s1, FMS_DIGEST_KEY);
    if (!found) return Buffer.from(s1);
    this.serverDigestScheme = found.scheme;
    const c2 = Buffer.allocUnsafe(HANDSHAKE_SIZE);
    this.#random(c2);
    signResponse(c2, s1.subarray(found.offset, found.offset + DIGEST_SIZE), FLASH_PLAYER_KEY);
    return c2;
  }

  #checkS2(s2: Buffer): void {
    if (this.serverDigestScheme !== null) {
      this.s2Valid = signatureValid(s2, this.#c1Digest!, FLASH_MEDIA_SERVER_KEY);
      if (!this.s2Valid && this.#strict) {
        throw new RtmpError('ERR_RTMP_HANDSHAKE_BAD_DIGEST', 'server S2 signature does not match our C1 digest');
      }
    } else {
      this.s2Valid = isEcho(s2, this.#c1!);
    }
  }
}
