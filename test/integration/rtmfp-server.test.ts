/**
 * RTMFP clients reach the same applications as RTMP clients (issue 12): our own RTMFP client (the
 * Flash Player side of RFC 7425) against ssas over real UDP sockets on 127.0.0.1. The script sees
 * Client.protocol "rtmfp" and the FMS 4 RTMFP properties; onConnect accepts, rejects and redirects;
 * calls go both ways; live publish and play, recorded playback, shared objects and getStats work as
 * over RTMP; an RTMP player and an RTMFP publisher share one stream.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { ConnectError, RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { RemoteSharedObject } from '../../src/net/so-client';
import { MessageType } from '../../src/rtmp/types';
import { makeTempDir, removeDir, until } from '../support';

const APP = String.raw`
var seen = [];
application.onConnect = function (client, mode) {
  seen.push([client.protocol, typeof client.farID, client.farID && client.farID.length, typeof client.nearID, client.nearID && client.nearID.length,
             client.farNonce && client.farNonce.length, client.nearNonce && client.nearNonce.length, client.farAddress.indexOf("127.0.0.1:") == 0]);
  if (mode == "reject") { application.rejectConnection(client, { why: "no" }); return; }
  if (mode == "redirect") { application.redirectConnection(client, "rtmfp://127.0.0.1:1/elsewhere", "moved"); return; }
  if (mode == "pending") { var iv = setInterval(function () { clearInterval(iv); application.acceptConnection(client); }, 200); return; }
  application.acceptConnection(client);
  client.call("hello", { onResult: function (r) { seen.push(["helloResult", r]); } }, "from server");
};
Client.prototype.add = function (a, b) { return a + b; };
Client.prototype.echo = function (v) { return v; };
Client.prototype.seen = function () { return seen; };
Client.prototype.stats = function () { var s = this.getStats(); return [typeof s.bytes_in, s.bytes_in > 0, s.msg_in > 0, typeof s.ping_rtt]; };
`;

let server: Server;
let rtmfp: string;
let rtmp: string;
const apps = makeTempDir('rtmfp-server');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'app'));
  fs.writeFileSync(path.join(apps, 'app', 'main.asc'), APP);
  fs.mkdirSync(path.join(apps, 'vod', 'streams', '_definst_'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, '../../sandbox/applications/vod/streams/_definst_/sample.flv'), path.join(apps, 'vod', 'streams', '_definst_', 'sample.flv'));
  server = createServer({ appsDir: apps, port: 0 });
  const l = await server.listen();
  expect(l.rtmfpUrl).toMatch(/^rtmfp:\/\/127\.0\.0\.1:\d+$/);
  rtmfp = l.rtmfpUrl!;
  rtmp = l.url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

function collect(s: ClientStream): { media: number[]; data: string[]; statuses: string[] } {
  const out = { media: [] as number[], data: [] as string[], statuses: [] as string[] };
  s.onEvent = (e) => {
    if (e.kind === 'media') out.media.push(e.msg.type);
    else if (e.kind === 'data') out.data.push(e.name);
    else if (e.kind === 'status') out.statuses.push(e.info.code);
  };
  return out;
}

test('the script sees an RTMFP client: protocol, farID/nearID (peer ids), nonces, farAddress; calls go both ways', async () => {
  const c = await RtmpClient.connect(`${rtmfp}/app`, {
    handlers: { hello: (x) => `client got ${String(x)}` },
  });
  expect(c.connectResult?.info.code).toBe('NetConnection.Connect.Success');
  expect(await c.call('add', 2, 3)).toBe(5);
  const big = 'x'.repeat(50_000); // a result of many fragments
  expect(await c.call('echo', big)).toBe(big);
  await until(async () => ((await c.call('seen')) as unknown[][]).some((s) => s[0] === 'helloResult'), 5000);
  const seen = (await c.call('seen')) as unknown[][];
  expect(seen[0]).toEqual(['rtmfp', 'string', 64, 'string', 64, 64, 64, true]);
  expect(seen.find((s) => s[0] === 'helloResult')).toEqual(['helloResult', 'client got from server']);
  expect(await c.call('stats')).toEqual(['number', true, true, 'number']);
  c.close();
});

test('onConnect can reject (info.application reaches the client), redirect, and keep a client pending', async () => {
  const rej = await RtmpClient.connect(`${rtmfp}/app`, { args: ['reject'] }).catch((e: unknown) => e);
  expect(rej).toBeInstanceOf(ConnectError);
  expect((rej as ConnectError).info?.code).toBe('NetConnection.Connect.Rejected');
  expect((rej as ConnectError).info?.application).toEqual({ why: 'no' });
  const red = await RtmpClient.connect(`${rtmfp}/app`, { args: ['redirect'] }).catch((e: unknown) => e);
  expect((red as ConnectError).info?.ex).toEqual({ code: 302, redirect: 'rtmfp://127.0.0.1:1/elsewhere' });
  const t0 = Date.now();
  const pend = await RtmpClient.connect(`${rtmfp}/app`, { args: ['pending'] });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  expect(await pend.call('add', 1, 1)).toBe(2);
  pend.close();
  const bad = await RtmpClient.connect(`${rtmfp}/nosuchapp`).catch((e: unknown) => e);
  expect((bad as ConnectError).info?.code).toBe('NetConnection.Connect.InvalidApp');
});

test('live: an RTMFP publisher, an RTMFP player and an RTMP player share one stream; data messages too', async () => {
  const pub = await RtmpClient.connect(`${rtmfp}/app`);
  const ps = await pub.createStream();
  expect((await ps.publish('shared')).code).toBe('NetStream.Publish.Start');
  const p1 = await RtmpClient.connect(`${rtmfp}/app`);
  const s1 = await p1.createStream();
  const got1 = collect(s1);
  expect((await s1.play('shared')).code).toBe('NetStream.Play.Start');
  const p2 = await RtmpClient.connect(`${rtmp}/app`);
  const s2 = await p2.createStream();
  const got2 = collect(s2);
  await s2.play('shared');
  // AVC sequence header, then a key frame and inter frames large enough to need many fragments.
  ps.sendMedia(MessageType.Video, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]));
  for (let i = 0; i < 50; i++) {
    const frame = Buffer.alloc(i % 10 === 0 ? 30_000 : 3000, i);
    frame[0] = i % 10 === 0 ? 0x17 : 0x27;
    frame[1] = 1;
    ps.sendMedia(MessageType.Video, i * 40, frame);
    ps.sendMedia(MessageType.Audio, i * 40, Buffer.from([0xaf, 1, 1, 2, 3]));
  }
  ps.send('onCue', 'hello');
  await until(() => got1.media.length >= 100 && got2.media.length >= 100 && got1.data.includes('onCue') && got2.data.includes('onCue'), 10_000);
  expect(got1.media.filter((t) => t === MessageType.Video).length).toBe(51);
  expect(got1.media.filter((t) => t === MessageType.Audio).length).toBe(50);
  expect(got2.media.filter((t) => t === MessageType.Video).length).toBe(51);
  expect(got1.statuses).toEqual(expect.arrayContaining(['NetStream.Play.Start']));
  pub.close();
  await until(() => got1.statuses.includes('NetStream.Play.UnpublishNotify'), 5000);
  p1.close();
  p2.close();
});

test('recorded playback over RTMFP: the VOD sequence and every frame of the file', async () => {
  const c = await RtmpClient.connect(`${rtmfp}/vod`);
  const s = await c.createStream();
  const got = collect(s);
  await s.play('sample');
  await until(() => got.statuses.includes('NetStream.Play.Stop'), 20_000);
  expect(got.statuses.slice(0, 2)).toEqual(['NetStream.Play.Reset', 'NetStream.Play.Start']);
  expect(got.data).toContain('onMetaData');
  // The same file over RTMP gives the same media.
  const r = await RtmpClient.connect(`${rtmp}/vod`);
  const rs = await r.createStream();
  const ref = collect(rs);
  await rs.play('sample');
  await until(() => ref.statuses.includes('NetStream.Play.Stop'), 20_000);
  expect(got.media.length).toBe(ref.media.length);
  expect(got.media.length).toBeGreaterThan(50);
  c.close();
  r.close();
});

test('shared objects over RTMFP: a change by an RTMFP client reaches an RTMP client', async () => {
  const a = await RtmpClient.connect(`${rtmfp}/app`);
  const b = await RtmpClient.connect(`${rtmp}/app`);
  const soa = RemoteSharedObject.get(a, 'room', false);
  const sob = RemoteSharedObject.get(b, 'room', false);
  await soa.connect();
  await sob.connect();
  const sync = sob.nextSync();
  soa.setProperty('topic', 'over udp');
  await sync;
  await until(() => sob.data.topic === 'over udp', 5000);
  expect(sob.data.topic).toBe('over udp');
  a.close();
  b.close();
});

test('setPeerInfo addresses are kept for introductions and visible as Client.reportedAddresses', async () => {
  const c = await RtmpClient.connect(`${rtmfp}/app`);
  c.send('setPeerInfo', '192.0.2.7:5000', '[2001:db8::7]:5001');
  const has = (): boolean =>
    Array.from(server.sessions).some((s) => s.conn.protocol === 'rtmfp' && s.client?.reportedAddresses.join(' ') === '192.0.2.7:5000 [2001:db8::7]:5001');
  await until(has, 3000);
  expect(has()).toBe(true);
  c.close();
});

test('an AMF3 (objectEncoding 3) RTMFP client: calls and results; the native bandwidth check over RTMFP', async () => {
  let checks = 0;
  let done: unknown[] | null = null;
  const c = await RtmpClient.connect(`${rtmfp}/app`, {
    objectEncoding: 3,
    handlers: { onBWCheck: () => ++checks, onBWDone: (...a) => void (done = a) },
  });
  expect(c.connectResult?.info.objectEncoding).toBe(3);
  expect(await c.call('echo', { nested: [1, 'two', { three: 3 }] })).toEqual({ nested: [1, 'two', { three: 3 }] });
  void c.call('checkBandwidth').catch(() => undefined);
  await until(() => done !== null, 15_000, 'onBWDone');
  expect(checks).toBeGreaterThan(1);
  expect((done as unknown as unknown[]).length).toBeGreaterThanOrEqual(1);
  expect(typeof (done as unknown as unknown[])[0]).toBe('number');
  c.close();
});
