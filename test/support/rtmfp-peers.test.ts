/**
 * Self-test of the RTMFP peer helpers against the peers alone (no ssas): rtmfp-cpp's tcpublish ->
 * tcserver -> tcconn, ffmpeg RTMP -> tcserver -> tcconn, and two librtmfp TestClients exchanging media
 * peer to peer in a NetGroup with MonaTiny as the rendezvous server (cases a, c and b of
 * ../shared/peers/smoke.sh). Set SSAS_SUPPORT_TIMINGS=1 to print start-up and case times.
 */
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as path from 'path';
import {
  audioStream,
  freeUdpPort,
  killAllTracked,
  makeTempDir,
  makeTestClip,
  pidAlive,
  probeUrl,
  publishWithFfmpeg,
  removeDir,
  spawnedPidHistory,
  trackedProcesses,
  videoStream,
  type ProbeResult,
} from './index';
import {
  DEFAULT_GROUP_ID,
  DEFAULT_GROUPSPEC,
  RTMFP_PEER_NAMES,
  requireRtmfpPeer,
  rtmfpPeersDir,
  runTcconn,
  runTcpublish,
  runTestClient,
  startMonaTiny,
  startTcconn,
  startTcserver,
  startTestClient,
} from './rtmfp-peers';
import { createNetns, netnsUnavailable, type Netns } from './netns';

const CLIP_SECONDS = 8;
const timings: Record<string, number | string> = {};
const scratch = makeTempDir('rtmfp-selftest');
let clip: string;
let clipBytes: number;
let clipVideoPackets: number;
let clipAudioPackets: number;

function packets(probe: ProbeResult, kind: 'video' | 'audio'): number {
  const s = kind === 'video' ? videoStream(probe) : audioStream(probe);
  return Number(s?.nb_read_packets ?? 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeAll(async () => {
  // H.264 (1 s GOP) + AAC, 320x240@25, starting at timestamp 0 as tcpublish requires.
  clip = await makeTestClip({ durationSec: CLIP_SECONDS });
  clipBytes = fs.statSync(clip).size;
  const probe = await probeUrl(clip, 15_000, { extra: ['-count_packets'] });
  clipVideoPackets = packets(probe, 'video');
  clipAudioPackets = packets(probe, 'audio');
  expect(clipVideoPackets).toBe(CLIP_SECONDS * 25);
  expect(clipAudioPackets).toBeGreaterThan(CLIP_SECONDS * 40);
}, 120_000);

afterEach(async () => {
  await killAllTracked();
  expect(trackedProcesses()).toEqual([]);
});

afterAll(async () => {
  await killAllTracked();
  removeDir(scratch);
  if (process.env.SSAS_SUPPORT_TIMINGS) console.log(JSON.stringify(timings, null, 2));
  const leftovers = spawnedPidHistory().filter(pidAlive);
  expect(leftovers).toEqual([]);
});

describe('RTMFP peer binaries and ports', () => {
  it('finds every peer built by ../shared/peers/build.sh', () => {
    for (const name of RTMFP_PEER_NAMES) expect(requireRtmfpPeer(name)).toBe(path.join(rtmfpPeersDir(), name));
  });

  it('names build.sh when a binary is missing', () => {
    const saved = process.env.SSAS_PEERS_DIR;
    const empty = makeTempDir('no-peers');
    process.env.SSAS_PEERS_DIR = empty;
    try {
      expect(rtmfpPeersDir()).toBe(empty);
      expect(() => requireRtmfpPeer('tcserver')).toThrow(/bash \.\.\/shared\/peers\/build\.sh/);
    } finally {
      if (saved === undefined) delete process.env.SSAS_PEERS_DIR;
      else process.env.SSAS_PEERS_DIR = saved;
      removeDir(empty);
    }
  });

  it('freeUdpPort returns a UDP port that can be bound on 127.0.0.1', async () => {
    const port = await freeUdpPort();
    expect(port).toBeGreaterThan(0);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    expect(socket.address().port).toBe(port);
    await new Promise<void>((r) => socket.close(() => r()));
  });

  it('start-up fails clearly when the chosen port is taken (tcserver exits 1, MonaTiny logs the error)', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const taken = socket.address().port;
    try {
      await expect(startTcserver({ rtmfpPort: taken, rtmpPort: false })).rejects.toThrow(/tcserver did not start[\s\S]*can't bind/);
      await expect(startMonaTiny({ port: taken })).rejects.toThrow(/MonaTiny could not open its RTMFP port: Address already in use/);
    } finally {
      await new Promise<void>((r) => socket.close(() => r()));
    }
  });
});

describe('rtmfp-cpp: tcserver, tcpublish, tcconn', () => {
  it('tcpublish -> tcserver -> tcconn delivers the FLV over RTMFP both ways', async () => {
    const t0 = Date.now();
    const server = await startTcserver({ rtmpPort: false });
    timings.tcserverStartMs = server.startupMs;
    expect(server.rtmfpPort).toBeGreaterThan(0);
    expect(server.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const url = server.rtmfpUrl('live', 'selftest-a');

    const conn = startTcconn(url);
    await conn.waitForConnect(15_000);
    timings.tcconnConnectMs = Date.now() - t0 - server.startupMs;
    await server.waitForEvent('play', (e) => e.name === 'selftest-a', 5000);

    const pub = await runTcpublish(url, clip, { timeoutMs: 30_000 });
    expect({ code: pub.code, published: pub.published, finished: pub.finished, timedOut: pub.timedOut }).toEqual({
      code: 0,
      published: true,
      finished: true,
      timedOut: false,
    });
    expect(pub.statuses).toContain('NetStream.Publish.Start');
    // Everything sent is at most a few RTTs behind on loopback; wait for the last GOP to arrive.
    await conn.waitForMedia(clipVideoPackets, clipAudioPackets - 5, 5000).catch(() => undefined);
    await sleep(500);
    const got = await conn.stop();
    timings.caseA_ms = Date.now() - t0;
    timings.caseA = `${got.videoMessages} video + ${got.audioMessages} audio msgs, ${got.bytes} of ${clipBytes} bytes`;

    expect(got.connected).toBe(true);
    expect(got.statuses).toEqual(expect.arrayContaining(['NetConnection.Connect.Success', 'NetStream.Play.Start', 'NetStream.Play.PublishNotify']));
    // +1 for the AVC sequence header, which tcserver may send a second time (seen once in a full run: 202
    // for 200 packets); allow a little loss at the very end.
    expect(got.videoMessages).toBeGreaterThanOrEqual(Math.floor(clipVideoPackets * 0.9));
    expect(got.videoMessages).toBeLessThanOrEqual(clipVideoPackets + 2);
    expect(got.audioMessages).toBeGreaterThanOrEqual(Math.floor(clipAudioPackets * 0.9));
    expect(got.bytes).toBeGreaterThan(clipBytes * 0.8);
    expect(got.dataMessages).toBeGreaterThanOrEqual(1); // onMetaData
    expect(got.firstVideoTs).toBe(0);
    expect(got.lastVideoTs).toBeGreaterThan((CLIP_SECONDS - 1) * 1000);
    expect(got.exit.code).toBe(0);

    expect(server.events('publish').map((e) => e.name)).toEqual(['selftest-a']);
    await server.waitForEvent('unpublish', (e) => e.name === 'selftest-a', 5000);
    const stopped = await server.stop();
    expect(stopped.code).toBe(0);
  }, 40_000);

  it('ffmpeg RTMP publish -> tcserver (RTMP port) -> tcconn (RTMFP play)', async () => {
    const t0 = Date.now();
    const server = await startTcserver();
    expect(server.rtmpPort).toBeGreaterThan(0);
    expect(server.rtmpPort).not.toBe(server.rtmfpPort);

    const playing = runTcconn(server.rtmfpUrl('live', 'selftest-c'), { durationMs: CLIP_SECONDS * 1000 + 6000 });
    await server.waitForEvent('play', (e) => e.name === 'selftest-c', 15_000);
    const ffmpeg = publishWithFfmpeg(server.rtmpUrl('live', 'selftest-c'), { file: clip });
    const ffmpegExit = await ffmpeg.exited;
    expect(ffmpegExit.code).toBe(0);
    await server.waitForEvent('publish', (e) => e.name === 'selftest-c' && e.proto === 'rtmp', 1000);
    const got = await playing;
    timings.caseC_ms = Date.now() - t0;
    timings.caseC = `${got.videoMessages} video + ${got.audioMessages} audio msgs, ${got.bytes} of ${clipBytes} bytes`;

    expect(got.connected).toBe(true);
    expect(got.videoMessages).toBeGreaterThanOrEqual(Math.floor(clipVideoPackets * 0.9));
    expect(got.audioMessages).toBeGreaterThanOrEqual(Math.floor(clipAudioPackets * 0.9));
    expect(got.bytes).toBeGreaterThan(clipBytes * 0.8);
    expect(got.statuses).toContain('NetStream.Play.PublishNotify');
  }, 40_000);
});

describe('librtmfp TestClient + MonaTiny: NetGroup', () => {
  // The members announce the machine's interface addresses to each other whatever they bind, then send
  // there: the group runs in a network namespace of its own, where only lo exists.
  const inNetns = netnsUnavailable() === null ? it : it.skip;
  let ns: Netns | null = null;
  afterEach(async () => {
    await killAllTracked();
    ns?.delete();
    ns = null;
  });
  inNetns(`a TestClient publishes into a NetGroup and a second one receives it peer to peer (MonaTiny rendezvous, in a network namespace${netnsUnavailable() ? `; skipped: ${netnsUnavailable()}` : ''})`, async () => {
    ns = createNetns();
    const t0 = Date.now();
    const mona = await startMonaTiny({ netns: ns });
    timings.monaTinyStartMs = mona.startupMs;
    const url = mona.url('selftest', 'live');
    expect(url).toBe(`rtmfp://127.0.0.1:${mona.port}/selftest/live`);
    expect(ns.run('ip', ['-o', 'addr']).trim().split('\n').every((l) => / lo /.test(l))).toBe(true);

    const receiver = startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: path.join(scratch, 'group-received.flv'), dir: scratch, netns: ns });
    await receiver.waitForGroupJoin(20_000);
    await mona.waitForLog(new RegExp(` join group ${DEFAULT_GROUP_ID}`), 5000);
    timings.receiverJoinMs = Date.now() - t0 - mona.startupMs;
    await sleep(1000); // as smoke.sh: let the group settle before the publisher arrives

    const pub = await runTestClient({ url, mode: 'publish', netGroup: DEFAULT_GROUPSPEC, mediaFile: clip, dir: scratch, timeoutMs: 30_000, netns: ns });
    timings.publisherRunMs = Date.now() - t0;
    expect({ code: pub.code, timedOut: pub.timedOut }).toEqual({ code: 0, timedOut: false });
    expect(pub.statuses).toEqual(expect.arrayContaining(['NetConnection.Connect.Success', 'NetGroup.Publish.Start']));
    expect(pub.output).toMatch(/End of file reached/);

    await sleep(2500); // the tail of the stream is still travelling between the peers
    const got = await receiver.stop();
    timings.caseB_ms = Date.now() - t0;

    expect(got.code).toBe(0);
    expect(got.statuses).toContain('NetConnection.Connect.Success');
    expect(got.peerId).toMatch(/^[0-9a-f]{64}$/);
    expect(got.peerId).not.toBe(pub.peerId);
    expect(got.group).toEqual({ name: 'test', peersConnected: '1/1', p2pSuccess: '1/1' });
    // The receiver misses what was published before the P2P link was up (about a second or two).
    expect(got.mediaBytes).toBeGreaterThan(clipBytes * 0.25);
    const probe = await probeUrl(got.mediaFile, 15_000, { extra: ['-count_packets'] });
    timings.caseB = `${got.mediaBytes} of ${clipBytes} bytes, ${packets(probe, 'video')} video + ${packets(probe, 'audio')} audio packets`;
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    expect(packets(probe, 'video')).toBeGreaterThanOrEqual(25 * 2);
    expect(packets(probe, 'audio')).toBeGreaterThanOrEqual(43 * 2);

    // MonaTiny only introduced the peers: both joined the group and one asked for the other's addresses.
    const log = mona.log();
    const joins = [...log.matchAll(new RegExp(`(127\\.0\\.0\\.1:\\d+) join group ${DEFAULT_GROUP_ID}`, 'g'))].map((m) => m[1]);
    expect(new Set(joins).size).toBe(2);
    expect(log).toMatch(/Rendezvous request from 127\.0\.0\.1:\d+/);
    await mona.stop();
  }, 40_000);
});
