/**
 * Helpers shared by the RTMP wire-layer tests: deterministic randomness, hand-made AMF0 (the few bytes a
 * connect command needs, so these tests do not depend on src/amf), input splitting, peer processes.
 */
import { spawn, type ChildProcess } from 'child_process';
import type { RtmpMessage } from '../../src/rtmp/types';
import { ChunkDecoder, type ChunkDecoderOptions } from '../../src/rtmp/chunk-decoder';

/** xorshift32: reproducible pseudo-random numbers for fuzz and round-trip tests. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#s = x;
    return x;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A deterministic `random` option for the handshake classes. */
export function seededFill(seed: number): (buf: Buffer) => void {
  const rng = new Rng(seed);
  return (buf) => {
    for (let i = 0; i < buf.length; i++) buf[i] = rng.u32() & 0xff;
  };
}

// ---- AMF0, by hand ----

export function amf0Number(n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x00;
  b.writeDoubleBE(n, 1);
  return b;
}

export function amf0String(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const b = Buffer.alloc(3);
  b[0] = 0x02;
  b.writeUInt16BE(body.length, 1);
  return Buffer.concat([b, body]);
}

export function amf0Boolean(v: boolean): Buffer {
  return Buffer.from([0x01, v ? 1 : 0]);
}

export function amf0Object(props: Record<string, string | number | boolean>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [k, v] of Object.entries(props)) {
    const key = Buffer.from(k, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(key.length);
    parts.push(len, key);
    parts.push(typeof v === 'string' ? amf0String(v) : typeof v === 'number' ? amf0Number(v) : amf0Boolean(v));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

/** Reads the AMF0 string at the start of a command payload (the command name). */
export function commandName(payload: Buffer): string | null {
  if (payload.length < 3 || payload[0] !== 0x02) return null;
  const n = payload.readUInt16BE(1);
  return payload.subarray(3, 3 + n).toString('utf8');
}

// ---- Decoding helpers ----

/** Plain copy of a message, for deep equality that does not care about views. */
export interface PlainMessage {
  type: number;
  streamId: number;
  timestamp: number;
  csid: number;
  payload: string;
}

export function plain(m: RtmpMessage): PlainMessage {
  return { type: m.type, streamId: m.streamId, timestamp: m.timestamp, csid: m.csid, payload: m.payload.toString('hex') };
}

export interface DecodeResult {
  messages: PlainMessage[];
  error: { code: string } | null;
}

/** Feeds the pieces to a fresh decoder; collects messages and the error code (if any). */
export function decodePieces(pieces: Buffer[], options: Omit<ChunkDecoderOptions, 'onMessage'> = {}): DecodeResult {
  const messages: PlainMessage[] = [];
  const decoder = new ChunkDecoder({ ...options, onMessage: (m) => messages.push(plain(m)) });
  try {
    for (const p of pieces) decoder.push(p);
  } catch (err) {
    return { messages, error: { code: (err as { code: string }).code } };
  }
  return { messages, error: null };
}

/** Splits `buf` into random pieces of 1..maxPiece bytes (copies, so no two pieces share memory). */
export function randomPieces(buf: Buffer, rng: Rng, maxPiece: number): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    const n = Math.min(buf.length - off, rng.range(1, maxPiece));
    out.push(Buffer.from(buf.subarray(off, off + n)));
    off += n;
  }
  return out;
}

// ---- Peer processes ----

export interface Peer {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill: () => Promise<void>;
}

/** Spawns a peer tool; collects stdout+stderr; `kill` ends it (SIGKILL) and waits for the exit. */
export function spawnPeer(cmd: string, args: string[], options: { cwd?: string } = {}): Peer {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', () => resolve(null));
  });
  return {
    proc,
    output: () => out,
    exited,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resolves when `p` settles or rejects after `ms` with a message that includes `what`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
