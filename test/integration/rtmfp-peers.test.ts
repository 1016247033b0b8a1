/**
 * ssas's RTMFP against the independent implementations of ../shared/peers (issue 12), as separate
 * processes over UDP on 127.0.0.1:
 *
 * - rtmfp-cpp's tcconn plays (default: HMAC and session sequence numbers required; and with -H -S) a
 *   stream ffmpeg publishes to ssas over RTMP; tcpublish publishes into ssas and ffprobe reads it back
 *   over RTMP.
 * - librtmfp's TestClient (Flash-era profile: DH group 2, 64-byte cookie, fixed offsets) plays and
 *   publishes the same way.
 * - A TestClient that publishes peer to peer is reached by another TestClient through ssas as the
 *   introducer (forwarded IHello and Redirect): the media goes between the two clients.
 * - ssas's own client (server-side NetConnection) connects to tcserver and to MonaTiny.
 */
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import {
  audioStream,
  killAllTracked,
  makeTempDir,
  makeTestClip,
  probeUrl,
  publishWithFfmpeg,
  removeDir,
  SSAS_BIN,
  videoStream,
  waitForPublishStart,
} from '../support';
import { runTcpublish, startMonaTiny, startTcconn, startTcserver, startTestClient, runTestClient } from '../support/rtmfp-peers';
import { createNetns, netnsUnavailable } from '../support/netns';

jest.setTimeout(90_000);

let server: Server;
let rtmp: string;
let rtmfpPort: number;
let clip: string;
const dirs: string[] = [];
function tmp(prefix: string): string {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  server = createServer({ appsDir: path.join(__dirname, '../../sandbox/applications'), port: 0 });
  const l = await server.listen();
  rtmp = l.url;
  rtmfpPort = server.rtmfpPort;
  expect(rtmfpPort).toBeGreaterThan(0);
  clip = await makeTestClip({ durationSec: 6, width: 320, height: 240 });
});

afterEach(async () => {
  await killAllTracked();
});

afterAll(async () => {
  await server.close();
  for (const d of dirs) removeDir(d);
});

const rtmfpUrl = (app: string, stream?: string, sep = '#'): string => `rtmfp://127.0.0.1:${rtmfpPort}/${app}${stream ? `${sep}${stream}` : ''}`;

describe('ssas as the RTMFP server', () => {
  test.each([
    ['default options (HMAC and session sequence numbers required)', [] as string[]],
    ['-H -S (checksum mode)', ['-H', '-S']],
  ])('tcconn plays a stream ffmpeg publishes over RTMP: %s', async (_name, args) => {
    const name = `tc${args.length}`;
    const ff = publishWithFfmpeg(`${rtmp}/live/${name}`, { file: clip, loop: true });
    await waitForPublishStart(ff);
    const tc = startTcconn(rtmfpUrl('live', name), { args });
    await tc.waitForConnect(15_000);
    await tc.waitForMedia(40, 60, 20_000);
    const r = await tc.stop();
    expect(r.connected).toBe(true);
    expect(r.statuses).toEqual(expect.arrayContaining(['NetStream.Play.Start']));
    expect(r.videoMessages).toBeGreaterThanOrEqual(40);
    expect(r.audioMessages).toBeGreaterThanOrEqual(60);
    expect(r.dataMessages).toBeGreaterThanOrEqual(1);
  });

  test('tcpublish publishes into ssas; ffprobe reads the same codecs over RTMP', async () => {
    const pub = runTcpublish(`rtmfp://127.0.0.1:${rtmfpPort}/live#tcpub`, clip, { args: ['-L'] });
    void pub;
    const probe = await probeUrl(`${rtmp}/live/tcpub`, 20_000);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(videoStream(probe)?.width).toBe(320);
    expect(audioStream(probe)?.codec_name).toBe('aac');
  });

  test('librtmfp TestClient plays: the FLV it writes has H.264 and AAC', async () => {
    const ff = publishWithFfmpeg(`${rtmp}/live/lib1`, { file: clip, loop: true });
    await waitForPublishStart(ff);
    const r = await runTestClient({ url: `rtmfp://127.0.0.1:${rtmfpPort}/live/lib1`, mode: 'play', dir: tmp('tc-play'), durationMs: 6000 });
    expect(r.statuses).toEqual(expect.arrayContaining(['NetConnection.Connect.Success', 'NetStream.Play.Start']));
    expect(r.mediaBytes).toBeGreaterThan(100_000);
    const probe = await probeUrl(r.mediaFile);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
  });

  test('librtmfp TestClient publishes into ssas; ffprobe reads the same codecs over RTMP', async () => {
    const tc = startTestClient({ url: `rtmfp://127.0.0.1:${rtmfpPort}/live/lib2`, mode: 'publish', mediaFile: clip, dir: tmp('tc-pub') });
    await tc.waitFor(/NetStream\.Publish\.Start/, 15_000);
    const probe = await probeUrl(`${rtmp}/live/lib2`, 20_000);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    await tc.stop();
  });

  // Peer to peer, TestClient sends to the addresses its peer announced, which are the machine's own
  // interface addresses whatever it binds: this one runs in a network namespace of its own (only lo).
  const inNetns = netnsUnavailable() === null ? test : test.skip;
  inNetns(`ssas introduces peers: a TestClient reaches a peer-to-peer publisher by its peer id through ssas (in a network namespace${netnsUnavailable() ? `; skipped: ${netnsUnavailable()}` : ''})`, async () => {
    const ns = createNetns();
    try {
      const ssas = ns.spawn(process.execPath, [SSAS_BIN, 'serve', '--port', '0', '--log-level', 'debug'], { name: 'ssas-netns' });
      const m = await ssas.waitForOutput(/ssas listening on rtmfp:\/\/127\.0\.0\.1:(\d+)/, 20_000);
      const port = Number(m[1]);
      const pub = startTestClient({ url: `rtmfp://127.0.0.1:${port}/live/p2p`, mode: 'publish', mediaFile: clip, args: ['--p2pWrite'], dir: tmp('tc-p2p-pub'), netns: ns });
      const id = await pub.waitFor(/Peer ID : \s*([0-9a-f]{64})/, 15_000);
      const peerId = id[1]!;
      await pub.waitFor(/NetConnection\.Connect\.Success/, 15_000);
      const r = await runTestClient({
        url: `rtmfp://127.0.0.1:${port}/live/p2p`,
        mode: 'play',
        args: [`--peerId=${peerId}`],
        dir: tmp('tc-p2p-play'),
        durationMs: 8000,
        netns: ns,
      });
      expect(ssas.output()).toMatch(new RegExp(`introduced peer ${peerId.slice(0, 16)}`));
      expect(r.mediaBytes).toBeGreaterThan(20_000);
      const probe = await probeUrl(r.mediaFile);
      expect(videoStream(probe)?.codec_name).toBe('h264');
      await pub.stop();
      await ssas.kill();
    } finally {
      await killAllTracked();
      ns.delete();
    }
  });
});

describe('ssas as the RTMFP client', () => {
  test('our client connects to tcserver (HMAC and sequence numbers as it requires) and publishes; tcserver logs it', async () => {
    const tcs = await startTcserver();
    const c = await RtmpClient.connect(`rtmfp://127.0.0.1:${tcs.rtmfpPort}/live`);
    expect(c.connectResult?.info.code).toBe('NetConnection.Connect.Success');
    expect(c.connectResult?.info.serverFingerprint).toBe(tcs.fingerprint);
    const s = await c.createStream();
    expect((await s.publish('fromssas')).code).toBe('NetStream.Publish.Start');
    await tcs.waitForEvent('publish', (e) => e.name === 'fromssas', 10_000);
    c.close();
    await tcs.stop();
  });

  test('our client connects to MonaTiny (Flash-era server: group 2, fixed offsets) and publishes', async () => {
    const mona = await startMonaTiny();
    const c = await RtmpClient.connect(`rtmfp://127.0.0.1:${mona.port}/live`);
    expect(c.connectResult?.info.code).toBe('NetConnection.Connect.Success');
    const s = await c.createStream();
    expect((await s.publish('frommona')).code).toBe('NetStream.Publish.Start');
    c.close();
    await mona.stop();
  });
});
