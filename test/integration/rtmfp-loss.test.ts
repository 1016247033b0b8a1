/**
 * RTMFP over a lossy path (issue 12): a UDP impairment proxy between the peers and ssas loses 5 % of the
 * datagrams each way, duplicates 2 % and reorders 10 %. Commands and other reliable flows must arrive
 * complete and in order; media must stay playable (ffmpeg decodes what ssas relays, tcconn keeps
 * receiving).
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { killAllTracked, makeTempDir, makeTestClip, publishWithFfmpeg, readWithFfmpeg, removeDir, waitForPublishStart } from '../support';
import { runTcpublish, startTcconn } from '../support/rtmfp-peers';
import { UdpImpairProxy } from '../support/udp-impair';

jest.setTimeout(90_000);

const APP = String.raw`
var order = [];
Client.prototype.take = function (i, blob) { order.push(i); return [i, blob.length, blob.charAt(blob.length - 1)]; };
Client.prototype.order = function () { return order; };
`;

const IMPAIR = { loss: 0.05, duplicate: 0.02, reorder: 0.1, reorderMs: 30 };

let server: Server;
let rtmp: string;
let proxy: UdpImpairProxy;
let clip: string;
const apps = makeTempDir('rtmfp-loss');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'app'));
  fs.writeFileSync(path.join(apps, 'app', 'main.asc'), APP);
  fs.mkdirSync(path.join(apps, 'live'));
  server = createServer({ appsDir: apps, port: 0 });
  rtmp = (await server.listen()).url;
  proxy = await UdpImpairProxy.start(server.rtmfpPort, IMPAIR, 4242);
  clip = await makeTestClip({ durationSec: 6 });
});

afterEach(async () => {
  await killAllTracked();
});

afterAll(async () => {
  await proxy.close();
  await server.close();
  removeDir(apps);
});

test('500 calls of up to 6 KB through 5 % loss, duplication and reordering: every answer right, in order', async () => {
  const c = await RtmpClient.connect(`rtmfp://127.0.0.1:${proxy.port}/app`, { timeoutMs: 20_000 });
  const calls: Array<Promise<unknown>> = [];
  for (let i = 0; i < 500; i++) calls.push(c.call('take', i, `${'y'.repeat(i % 3 === 0 ? 6000 : 200)}${i % 10}`));
  const results = (await Promise.all(calls)) as Array<[number, number, string]>;
  results.forEach((r, i) => expect(r).toEqual([i, i % 3 === 0 ? 6001 : 201, String(i % 10)]));
  expect(await c.call('order')).toEqual(Array.from({ length: 500 }, (_, i) => i));
  expect(proxy.stats.dropped).toBeGreaterThan(10);
  expect(proxy.stats.duplicated + proxy.stats.reordered).toBeGreaterThan(10);
  c.close();
});

test('tcpublish through the lossy path: ffmpeg decodes what ssas relays over RTMP', async () => {
  const before = proxy.stats.dropped;
  void runTcpublish(`rtmfp://127.0.0.1:${proxy.port}/live#lossy`, clip, { args: ['-L'] });
  await new Promise((r) => setTimeout(r, 1500));
  const r = await readWithFfmpeg(`${rtmp}/live/lossy`, { durationSec: 4 });
  // 25 fps for 4 s, joined at a key frame: most frames decode despite the loss.
  expect(r.video.frames).toBeGreaterThanOrEqual(60);
  expect(r.audio.frames).toBeGreaterThanOrEqual(100);
  expect(proxy.stats.dropped - before).toBeGreaterThan(5);
});

test('tcconn plays through the lossy path from a stream ffmpeg publishes', async () => {
  const ff = publishWithFfmpeg(`${rtmp}/live/lossyplay`, { file: clip, loop: true });
  await waitForPublishStart(ff);
  const before = proxy.stats.dropped;
  const tc = startTcconn(`rtmfp://127.0.0.1:${proxy.port}/live#lossyplay`);
  await tc.waitForConnect(20_000);
  await tc.waitForMedia(60, 100, 20_000);
  const res = await tc.stop();
  expect(res.videoMessages).toBeGreaterThanOrEqual(60);
  expect(proxy.stats.dropped - before).toBeGreaterThan(5);
});
