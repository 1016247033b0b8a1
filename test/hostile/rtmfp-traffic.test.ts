/**
 * Hostile traffic at ssas's RTMFP port (issue 12), while a real player (rtmfp-cpp's tcconn) keeps
 * playing a stream ffmpeg publishes: random datagrams, IHellos from thousands of source ports,
 * thousands of half-open handshakes (valid IIKeying, never a packet after it), a publisher that vanishes
 * mid-flow. The server keeps serving, its session tables stay within their bounds, and it never sends an
 * unverified address more than a bounded multiple of what that address sent.
 */
import { createSocket, type Socket } from 'dgram';
import { randomBytes } from 'crypto';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { Endpoint } from '../../src/rtmfp/endpoint';
import { Chunk, MODE_STARTUP, PacketBuilder } from '../../src/rtmfp/packet';
import { encodeIHello } from '../../src/rtmfp/handshake';
import { epdForUrl, startupCipher } from '../../src/rtmfp/crypto';
import { RtmpClient } from '../../src/net/rtmp-client';
import { RtmfpSocket } from '../../src/net/rtmfp-socket';
import { killAllTracked, makeTestClip, publishWithFfmpeg, until, waitForPublishStart } from '../support';
import { startTcconn, type Tcconn } from '../support/rtmfp-peers';

jest.setTimeout(120_000);

const HALF_OPEN_LIMIT = 300;

let server: Server;
let port: number;
let player: Tcconn;

beforeAll(async () => {
  server = createServer({
    appsDir: path.join(__dirname, '../../sandbox/applications'),
    port: 0,
    rtmfpLimits: { maxHalfOpen: HALF_OPEN_LIMIT, halfOpenMs: 4000, rhelloPerSecond: 20_000 },
    rtmfpSessionLimits: { idleMs: 6000, keepaliveMs: 2000 },
  });
  const l = await server.listen();
  port = server.rtmfpPort;
  const clip = await makeTestClip({ durationSec: 5 });
  const ff = publishWithFfmpeg(`${l.url}/live/steady`, { file: clip, loop: true });
  await waitForPublishStart(ff);
  player = startTcconn(`rtmfp://127.0.0.1:${port}/live#steady`);
  await player.waitForConnect(15_000);
  await player.waitForMedia(10, 10, 15_000);
});

afterAll(async () => {
  await player?.stop();
  await killAllTracked();
  await server.close();
});

function endpointStats() {
  return server.rtmfp!.socket.endpoint.stats;
}

/** The player's video count grows over the next `ms`: it kept playing. */
async function stillPlaying(ms = 1500): Promise<void> {
  const before = player.counts().videoMessages;
  await new Promise((r) => setTimeout(r, ms));
  expect(player.counts().videoMessages).toBeGreaterThan(before + 10);
}

async function udpSockets(n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
      const s = createSocket('udp4');
      s.on('error', () => {});
      s.bind(0, '127.0.0.1', () => resolve(s));
    })),
  );
}

function closeAll(socks: Socket[]): void {
  for (const s of socks) s.close();
}

test('random datagrams (20,000, 1..1500 bytes) are dropped and counted; the player keeps playing', async () => {
  const socks = await udpSockets(20);
  const ours = server.rtmfp!.socket.endpoint;
  const sessionPackets = (): number => Array.from(ours.sessions.values()).reduce((n, x) => n + x.packetsIn, 0);
  const before = endpointStats().datagramsIn;
  const playerBefore = sessionPackets();
  const droppedBefore = Object.values(endpointStats().dropped).reduce((a, b) => a + b, 0);
  for (let i = 0; i < 20_000; i++) {
    const d = randomBytes(1 + (i * 7919) % 1500);
    socks[i % socks.length]!.send(d, port, '127.0.0.1');
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  // The kernel may drop some of a burst this fast; every datagram that reached the endpoint was dropped.
  await new Promise((r) => setTimeout(r, 1000));
  const arrived = endpointStats().datagramsIn - before - (sessionPackets() - playerBefore);
  const dropped = Object.values(endpointStats().dropped).reduce((a, b) => a + b, 0) - droppedBefore;
  expect(arrived).toBeGreaterThan(5000);
  expect(dropped).toBe(arrived);
  expect(server.rtmfp!.socket.endpoint.sessions.size).toBeLessThan(10);
  await stillPlaying();
  closeAll(socks);
});

test('IHellos from 2,000 source ports: each answered once, nothing kept per address, bounded reflection', async () => {
  const socks = await udpSockets(2000);
  const st = endpointStats();
  const inBefore = st.unverifiedBytesIn;
  const outBefore = st.unverifiedBytesOut;
  const sessionsBefore = server.rtmfp!.socket.endpoint.sessions.size;
  const b = new PacketBuilder(1200);
  let sent = 0;
  let answered = 0;
  for (const s of socks) s.on('message', () => answered++);
  for (const s of socks) {
    b.reset();
    b.start(MODE_STARTUP, 1, -1);
    b.chunk(Chunk.IHello, encodeIHello({ epd: epdForUrl(`rtmfp://127.0.0.1:${port}/live`), tag: randomBytes(16) }));
    const d = startupCipher.seal(b.bytes(), 0);
    sent += d.length;
    s.send(d, port, '127.0.0.1');
  }
  await until(() => answered >= 1990, 10_000);
  const inBytes = st.unverifiedBytesIn - inBefore;
  const outBytes = st.unverifiedBytesOut - outBefore;
  expect(inBytes).toBeGreaterThanOrEqual(sent * 0.99);
  // One RHello (tag, 64-byte cookie, 77-byte certificate) per IHello: the Flash profile's minimum answer.
  expect(outBytes / inBytes).toBeLessThan(3.5);
  expect(server.rtmfp!.socket.endpoint.sessions.size).toBe(sessionsBefore);
  expect(server.rtmfp!.socket.endpoint.halfOpenCount).toBe(0);
  await stillPlaying();
  closeAll(socks);
});

test(`half-open handshakes by the thousand: at most ${HALF_OPEN_LIMIT} kept, each expires, the player keeps playing`, async () => {
  // 1,000 initiators with certificates of their own (a new session from the same peer and address
  // replaces the old one, so one initiator could only ever hold one), each finishing the handshake
  // and never sending a packet after it.
  const socks: RtmfpSocket[] = [];
  const opened: Promise<unknown>[] = [];
  for (let i = 0; i < 1000; i++) {
    const sock = await RtmfpSocket.listen('127.0.0.1', 0, { acceptsUrls: false, limits: { connectTimeoutMs: 10_000 }, sessionLimits: { keepaliveMs: 60_000 } });
    socks.push(sock);
    const ep: Endpoint = sock.endpoint;
    // Keys in hand, the initiator goes silent (its socket closes: it answers nothing, not even pings).
    opened.push(
      ep
        .connect(epdForUrl(`rtmfp://127.0.0.1:${port}/live`), [{ address: '127.0.0.1', port, family: 4 }], sock.now())
        .then(() => sock.close(true), () => sock.close(true)),
    );
    sock.kick();
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.race([Promise.all(opened), new Promise((r) => setTimeout(r, 15_000))]);
  const ours = server.rtmfp!.socket.endpoint;
  expect(ours.halfOpenCount).toBeLessThanOrEqual(HALF_OPEN_LIMIT);
  expect(ours.stats.dropped['max-half-open'] ?? 0).toBeGreaterThan(0);
  expect(ours.sessions.size).toBeLessThanOrEqual(HALF_OPEN_LIMIT + 10);
  await stillPlaying();
  // Nobody ever sends under the new keys: they all expire.
  await until(() => ours.halfOpenCount === 0, 10_000);
  expect(ours.sessions.size).toBeLessThan(10);
  await Promise.all(socks.map((s) => s.close(true)));
  // A real client still gets in.
  const c = await RtmpClient.connect(`rtmfp://127.0.0.1:${port}/live`);
  expect(c.connectResult?.info.code).toBe('NetConnection.Connect.Success');
  c.close();
});

test('a publisher that vanishes mid-flow is given up; the player of another stream never stops', async () => {
  const c = await RtmpClient.connect(`rtmfp://127.0.0.1:${port}/live`);
  const s = await c.createStream();
  await s.publish('vanishing');
  for (let i = 0; i < 20; i++) s.sendMedia(9, i * 40, Buffer.alloc(5000, i));
  await new Promise((r) => setTimeout(r, 300));
  const sessions = server.rtmfp!.socket.endpoint.sessions.size;
  // Its socket goes away without a close request (the process died).
  await (c.conn as unknown as { session: { abort(): void } }).session.abort();
  const live = () => Array.from(server.sessions).filter((x) => x.conn.protocol === 'rtmfp').length;
  const before = live();
  await until(() => live() < before, 15_000);
  expect(server.rtmfp!.socket.endpoint.sessions.size).toBeLessThan(sessions);
  await stillPlaying();
});
