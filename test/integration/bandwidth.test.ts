/**
 * Client.setBandwidthLimit / getBandwidthLimit and Application.xml Client/BandwidthCap: the server-to-client
 * limit skips media (InsufficientBW) instead of queueing, the client-to-server limit slows what the server
 * reads (TCP pushes back on the publisher).
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir, until } from '../support';

let server: Server;
let base: string;
const apps = makeTempDir('bw');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'bw'));
  fs.writeFileSync(
    path.join(apps, 'bw', 'Application.xml'),
    '<Application><Client><BandwidthCap><ServerToClient>50000</ServerToClient><ClientToServer>50000</ClientToServer></BandwidthCap></Client></Application>',
  );
  fs.writeFileSync(
    path.join(apps, 'bw', 'main.asc'),
    [
      'application.onConnect = function (client, down, up) {',
      '  if (down || up) client.setBandwidthLimit(down, up);',
      '  return true;',
      '};',
      'Client.prototype.limits = function () { return [this.getBandwidthLimit(0), this.getBandwidthLimit(1)]; };',
      'Client.prototype.myStats = function () { return this.getStats(); };',
    ].join('\n'),
  );
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

it('getBandwidthLimit reflects setBandwidthLimit, capped by BandwidthCap', async () => {
  const c = await RtmpClient.connect(`${base}/bw`, { args: [20000, 1e9] });
  expect(await c.call('limits')).toEqual([50000, 20000]);
  c.close();
});

it('a server-to-client limit makes the player skip media (InsufficientBW) at about the limit', async () => {
  const pub = await RtmpClient.connect(`${base}/bw`);
  const ps = await pub.createStream();
  await ps.publish('fast');
  const limited = await RtmpClient.connect(`${base}/bw`, { args: [20000, 0] });
  const ls = await limited.createStream();
  let bytes = 0;
  ls.onEvent = (ev) => {
    if (ev.kind === 'media') bytes += ev.msg.payload.length;
  };
  await ls.play('fast', -1);
  const frame = Buffer.alloc(5000, 1);
  const t0 = Date.now();
  for (let i = 0; i < 60; i++) {
    // ~200 kB/s of video, a key frame every 10 frames.
    ps.sendMedia(9, i * 25, Buffer.concat([Buffer.from([i % 10 === 0 ? 0x17 : 0x27, 1, 0, 0, 0]), frame]));
    await new Promise((r) => setTimeout(r, 25));
  }
  const secs = (Date.now() - t0) / 1000;
  await ls.waitFor('NetStream.Play.InsufficientBW', 2000, true);
  expect(bytes / secs).toBeLessThan(20000 * 1.6);
  expect(bytes).toBeGreaterThan(5000);
  // Client.getStats() counts what was skipped, by type, and the measured rates.
  const st = (await limited.call('myStats')) as Record<string, number>;
  expect(st.dropped_video_msgs).toBeGreaterThan(0);
  expect(st.dropped_video_bytes).toBeGreaterThanOrEqual(st.dropped_video_msgs * 5005);
  expect(st.dropped_audio_msgs).toBe(0);
  expect(st.dropped_audio_bytes).toBe(0);
  expect(st.msg_dropped).toBe(st.dropped_video_msgs);
  expect(st.bw_out).toBeGreaterThan(1000);
  expect(st.bw_out).toBeLessThan(20000 * 2);
  const ps0 = (await pub.call('myStats')) as Record<string, number>;
  // The publisher sent ~200 kB/s for about 1.5 s; its rate is measured since it connected (under a second ago or more).
  expect(ps0.bw_in).toBeGreaterThan(20000);
  expect(ps0.dropped_video_msgs).toBe(0);
  pub.close();
  limited.close();
});

it('a client-to-server limit slows what the server reads from that client', async () => {
  const slow = await RtmpClient.connect(`${base}/bw`, { args: [0, 10000] });
  const ss = await slow.createStream();
  await ss.publish('upload');
  const watcher = await RtmpClient.connect(`${base}/bw`);
  const ws = await watcher.createStream();
  let bytes = 0;
  ws.onEvent = (ev) => {
    if (ev.kind === 'media') bytes += ev.msg.payload.length;
  };
  await ws.play('upload', -1);
  const t0 = Date.now();
  for (let i = 0; i < 40; i++) ss.sendMedia(8, i * 20, Buffer.concat([Buffer.from([0xaf, 1]), Buffer.alloc(2000, i)]));
  await new Promise((r) => setTimeout(r, 2500));
  const secs = (Date.now() - t0) / 1000;
  // 80 kB were sent at once; about 10 kB/s got through.
  expect(bytes / secs).toBeLessThan(10000 * 2);
  await until(() => bytes >= 20000, 10_000);
  slow.close();
  watcher.close();
});
