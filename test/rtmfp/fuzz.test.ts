/**
 * Hostile input for src/rtmfp: every decoder that reads outside data (the group ones too: groupspec
 * strings, member-to-member messages, the server's group channel, a group publication's neighbours),
 * receive flows, a session fed plaintext packets, and whole endpoints fed datagrams. For each decoder
 * family: valid encodings built with the encoders (round trips checked), each truncated at every byte
 * (prefixes and suffixes), single-byte mutations at every position, structural mutations, random bytes
 * and structured-random inputs.
 * Only SsasError (RtmfpError) with a code may escape a decoder; Session and Endpoint entry points may not
 * throw at all; every input must finish promptly; what flows, sessions and endpoints keep stays bounded.
 *
 * The generators and oracles are in scripts/fuzz/rtmfp-lib.js, shared with the long-running fuzzer
 * (`npm run fuzz -- rtmfp --minutes N`, on dist/); here they run on the TypeScript sources with fixed
 * seeds, so a failure reproduces. Inputs that the long runner found are in test/fixtures/rtmfp-crashers/
 * and are replayed below.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as errors from '../../src/errors';
import * as wire from '../../src/rtmfp/wire';
import * as packet from '../../src/rtmfp/packet';
import * as chunks from '../../src/rtmfp/chunks';
import * as handshake from '../../src/rtmfp/handshake';
import * as crypto from '../../src/rtmfp/crypto';
import * as tc from '../../src/rtmfp/tc';
import * as recvFlow from '../../src/rtmfp/recv-flow';
import * as session from '../../src/rtmfp/session';
import * as endpoint from '../../src/rtmfp/endpoint';
import * as groupspec from '../../src/rtmfp/groupspec';
import * as groupMessages from '../../src/rtmfp/group-messages';
import * as groups from '../../src/rtmfp/groups';
import * as groupPublisher from '../../src/rtmfp/group-publisher';
import { Loopback } from './loopback';

interface Failure {
  target: string;
  seed: number;
  how: string;
  input: Buffer;
  message: string;
}
interface Plan {
  positions: number;
  valid: number;
  truncate: number;
  mutate1: number;
  mutate: number;
  random: number;
  structured: number;
}
interface Target {
  name: string;
  family: string;
  kind: 'bytes' | 'scenario';
}
interface Hooks {
  onFailure?: (f: Failure) => void;
}
interface Result {
  inputs: number;
  failures: number;
  maxMs: number;
  note?: Record<string, number>;
}
interface FuzzLib {
  SLOW_MS: number;
  createTargets(m: unknown): { targets: Target[]; byName: Record<string, Target> };
  runBatch(lib: unknown, t: Target, seed: number, plan: Plan, hooks: Hooks): Result;
  runRound(t: Target, seed: number, n: number, hooks: Hooks): Result;
  replayCrasher(lib: unknown, m: unknown, text: string): string | null;
}

// Plain CommonJS shared with scripts/fuzz/rtmfp.js (no types of its own).
const fuzz = require('../../scripts/fuzz/rtmfp-lib.js') as FuzzLib;
const modules = { errors, wire, packet, chunks, handshake, crypto, tc, recvFlow, session, endpoint, groupspec, groupMessages, groups, groupPublisher };
const lib = fuzz.createTargets(modules);
const CRASHERS = path.join(__dirname, '..', 'fixtures', 'rtmfp-crashers');

/** Fails with the seed, the case and the input of the first failure (and how to replay it). */
function expectNoFailures(failures: Failure[], r: Result): void {
  if (failures.length > 0) {
    const f = failures[0]!;
    throw new Error(
      `${failures.length} failing input(s) of ${r.inputs}. First: target ${f.target}, seed ${f.seed}, case ${f.how}\n` +
        `${f.message}\ninput (hex, ${f.input.length} bytes): ${f.input.toString('hex')}\n` +
        `(the same batch: npm run build && npm run fuzz -- rtmfp --only ${f.target} --slice-seed ${f.seed})`,
    );
  }
}

// Counts per batch: each decoder sees thousands of inputs; the stream targets (flows, sessions) fewer but
// longer ones; the group targets (cheap decoders, or op streams) about 2 s of it. About 8 s in all on an idle machine.
const base = { positions: 400, valid: 60, truncate: 6, mutate1: 6, mutate: 1200, random: 1200, structured: 1200 };
const PLANS: Record<string, Plan> = {
  wire: base,
  packet: base,
  chunks: { ...base, positions: 200, random: 600 },
  handshake: base,
  crypto: base,
  dh: { positions: 300, valid: 10, truncate: 2, mutate1: 2, mutate: 300, random: 600, structured: 600 },
  cipher: { ...base, valid: 120 },
  tc: base,
  recvflow: { positions: 200, valid: 40, truncate: 2, mutate1: 2, mutate: 500, random: 500, structured: 800 },
  session: { positions: 150, valid: 12, truncate: 2, mutate1: 2, mutate: 300, random: 300, structured: 400 },
  groupspec: { positions: 80, valid: 14, truncate: 2, mutate1: 2, mutate: 300, random: 250, structured: 350 },
  'group-address': { positions: 100, valid: 40, truncate: 4, mutate1: 4, mutate: 800, random: 600, structured: 1000 },
  'group-main': { positions: 80, valid: 10, truncate: 2, mutate1: 2, mutate: 250, random: 200, structured: 300 },
  'group-media': { positions: 80, valid: 14, truncate: 2, mutate1: 2, mutate: 300, random: 200, structured: 300 },
  'group-channel': { positions: 100, valid: 40, truncate: 4, mutate1: 4, mutate: 800, random: 600, structured: 1000 },
  'group-directory': { positions: 30, valid: 3, truncate: 2, mutate1: 1, mutate: 100, random: 50, structured: 150 },
  'group-publisher': { positions: 30, valid: 3, truncate: 2, mutate1: 1, mutate: 120, random: 60, structured: 160 },
};
/** Batches with fewer inputs: long stream inputs, or (the group decoders) a shorter share of the run. */
const FEW: Record<string, number> = { session: 1000, recvflow: 1000, dh: 1000, 'group-directory': 400, 'group-publisher': 400 };
const ROUNDS: Record<string, Array<[seed: number, datagrams: number]>> = {
  'endpoint-garbage': [
    [1, 1500],
    [2, 1500],
  ],
  'endpoint-handshake': [
    [3, 800],
    [4, 800],
  ],
  'endpoint-replay': [
    [5, 600],
    [6, 600],
  ],
  'endpoint-live': [
    [7, 800],
    [8, 800],
    [9, 800],
  ],
};

describe('RTMFP decoders, flows and sessions under hostile input', () => {
  test.each(Object.keys(PLANS))('%s', (name) => {
    const t = lib.byName[name]!;
    const failures: Failure[] = [];
    const r = fuzz.runBatch(lib, t, 1000 + Object.keys(PLANS).indexOf(name), PLANS[name]!, { onFailure: (f) => failures.push(f) });
    expectNoFailures(failures, r);
    expect(r.inputs).toBeGreaterThan(FEW[name] ?? (name.startsWith('group') ? 1000 : 4000));
    expect(r.maxMs).toBeLessThan(fuzz.SLOW_MS);
  });
});

describe('RTMFP endpoints under hostile datagrams', () => {
  test.each(Object.keys(ROUNDS))('%s', (name) => {
    const t = lib.byName[name]!;
    let inputs = 0;
    for (const [seed, n] of ROUNDS[name]!) {
      const failures: Failure[] = [];
      const r = fuzz.runRound(t, seed, n, { onFailure: (f) => failures.push(f) });
      expectNoFailures(failures, r);
      inputs += r.inputs;
    }
    expect(inputs).toBeGreaterThanOrEqual(600);
  });
});

describe('inputs the long-running fuzzer found', () => {
  const files = fs.existsSync(CRASHERS) ? fs.readdirSync(CRASHERS).filter((f) => f.endsWith('.hex')) : [];
  test('every crasher in test/fixtures/rtmfp-crashers replays without a failure', () => {
    for (const f of files) {
      const msg = fuzz.replayCrasher(lib, modules, fs.readFileSync(path.join(CRASHERS, f), 'utf8'));
      if (msg) throw new Error(`${f}: ${msg}`);
    }
  });
});

describe('what the fuzzer found, as plain regressions', () => {
  const MAX = Number.MAX_SAFE_INTEGER;
  const tcOptions = (): Buffer => Buffer.concat([wire.option(chunks.OPTION_METADATA, tc.tcMetadata(0)), Buffer.from([0])]);

  async function open(lb: Loopback): Promise<{ client: session.Session; server: session.Session }> {
    void lb.a.connect(crypto.epdForUrl('rtmfp://10.0.0.2/app'), [lb.addrB], lb.now);
    lb.until(() => lb.a.sessions.size > 0 && lb.b.sessions.size > 0, 20_000);
    await Promise.resolve();
    return { client: Array.from(lb.a.sessions.values())[0]!, server: Array.from(lb.b.sessions.values())[0]! };
  }

  test('Next User Data after sequence number 2^53 - 1 is refused (its ack made Endpoint.flush throw)', async () => {
    expect(() => chunks.decodeNextUserData(Buffer.from([0]), { flowId: 5, seq: MAX, fsnOffset: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_RTMFP_BAD_CHUNK' }),
    );
    const lb = new Loopback({ seed: 11 });
    const { client, server } = await open(lb);
    server.onRecvFlow = (f) => {
      f.onMessage = () => {};
    };
    const body = Buffer.concat([Buffer.from([chunks.UD_OPT]), chunks.encodeVlus(9, MAX, 0), tcOptions()]);
    client.sendRawChunk(packet.Chunk.UserData, body);
    client.sendRawChunk(packet.Chunk.NextUserData, Buffer.from([0]));
    expect(() => lb.run(1000)).not.toThrow();
    expect(server.recvFlows.get(9)!.cumulative).toBe(MAX);
    expect(lb.b.sessions.size).toBe(1);
  });

  test('a peer opening flows without end leaves at most maxRecvFlows of them in the session', async () => {
    const lb = new Loopback({ seed: 12, b: { sessionLimits: { maxRecvFlows: 8 } } });
    const { client, server } = await open(lb);
    let rejected = 0;
    server.onRecvFlow = (f) => {
      rejected++;
      f.reject(0); // the application refuses them all; each used to stay in recvFlows for good
    };
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 50; i++) client.sendRawChunk(packet.Chunk.UserData, Buffer.concat([Buffer.from([chunks.UD_OPT]), chunks.encodeVlus(100 + round * 50 + i, 1, 1), tcOptions()]));
      lb.run(20);
    }
    expect(rejected).toBe(8);
    expect(server.recvFlows.size).toBeLessThanOrEqual(8);
    expect(lb.b.sessions.size).toBe(1);
  });

  test('flows that finish at once linger, but no more than maxRecvFlows of them', async () => {
    const lb = new Loopback({ seed: 13, b: { sessionLimits: { maxRecvFlows: 8 } } });
    const { client, server } = await open(lb);
    let delivered = 0;
    server.onRecvFlow = (f) => {
      f.onMessage = () => delivered++;
    };
    // Each chunk opens a flow and finishes it (FIN on its only fragment): each used to stay 20 s.
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 50; i++) {
        const id = 100 + round * 50 + i;
        client.sendRawChunk(packet.Chunk.UserData, Buffer.concat([Buffer.from([chunks.UD_OPT | chunks.UD_FIN]), chunks.encodeVlus(id, 1, 1), tcOptions(), Buffer.from('m')]));
      }
      lb.run(20);
    }
    expect(delivered).toBe(2000);
    expect(server.recvFlows.size).toBeLessThanOrEqual(16);
    expect(lb.b.sessions.size).toBe(1);
  });
});
