/**
 * Server-side NetConnection/NetStream against real remote servers (issue 5): an origin app republishes
 * every ffmpeg stream with `ns.attach(stream); ns.publish(name)` to nginx-rtmp, node-media-server and a
 * second ssas; ffprobe reads each remote; send() data reaches a remote player; remote record; pulling a
 * remote live stream back with Stream.play(..., nc); a remote killed mid-stream and the script reconnecting.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer, startApplications } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink } from '../../src/logger';
import {
  audioStream,
  killAllTracked,
  makeTempDir,
  probeUrl,
  publishWithFfmpeg,
  removeDir,
  startNginxRtmp,
  startNodeMediaServer,
  videoStream,
  waitForPublishStart,
  type NginxRtmp,
  type NodeMediaServer,
  until,
} from '../support';

const ORIGIN = String.raw`
// Multipoint publishing (FMS 3 onPublish example): every stream goes to every remote in config.remotes.
var links = {};
var remotes = application.config.remotes.split(" ");
application.onPublish = function (client, stream) {
  links[stream.name] = [];
  for (var i = 0; i < remotes.length; i++) {
    (function (uri) {
      var nc = new NetConnection();
      nc.onStatus = function (info) { trace("nc " + uri + " " + info.code); };
      nc.connect(uri);
      var ns = new NetStream(nc);
      ns.onStatus = function (info) { trace("ns " + uri + " " + stream.name + " " + info.code); };
      ns.attach(stream);
      ns.publish(stream.name, "live");
      links[stream.name].push(ns);
    })(remotes[i]);
  }
};
application.onUnpublish = function (client, stream) {
  var l = links[stream.name] || [];
  for (var i = 0; i < l.length; i++) l[i].publish(false);
};
Client.prototype.sendAll = function (name, text) {
  var l = links[name] || [], ok = [];
  for (var i = 0; i < l.length; i++) ok.push(l[i].send("onChat", text, 7, { k: "v" }));
  return ok;
};
Client.prototype.times = function (name) {
  var l = links[name] || [], t = [];
  for (var i = 0; i < l.length; i++) t.push(l[i].time);
  return t;
};
`;

const RECORDER = String.raw`
// Publishes a stream that a client publishes here to the "archive" ssas with "record", and pulls
// remote streams back with Stream.play(name, -1, -1, true, nc).
var archive = new NetConnection();
archive.onStatus = function (info) {
  trace("archive " + info.code);
  if (info.code == "NetConnection.Connect.Closed") setTimeout2(function () { archive.connect(application.config.archive); }, 300);
};
archive.connect(application.config.archive);
function setTimeout2(f, ms) { var id = setInterval(function () { clearInterval(id); f(); }, ms); }
var streams = {};
application.onPublish = function (client, stream) {
  var ns = new NetStream(archive);
  ns.onStatus = function (info) { trace("archive-ns " + stream.name + " " + info.code); };
  ns.attach(stream);
  ns.publish("mp4:" + stream.name + ".f4v", "record");
  streams[stream.name] = ns;
};
application.onUnpublish = function (client, stream) {
  var ns = streams[stream.name];
  if (ns) ns.publish(false);
};
Client.prototype.pull = function (remoteName, localName) {
  var s = Stream.get(localName);
  s.onStatus = function (info) { trace("pull " + info.code); };
  return s.play(remoteName, -1, -1, true, archive);
};
Client.prototype.republish = function (name) {
  var ns = new NetStream(archive);
  ns.onStatus = function (info) { trace("re-ns " + name + " " + info.code); };
  ns.attach(Stream.get(name));
  ns.publish(name, "live");
  streams[name] = ns;
  return true;
};
Client.prototype.archiveConnected = function () { return archive.isConnected; };
`;

let nginx: NginxRtmp;
let nms: NodeMediaServer;
let edge: Server;
let origin: Server;
let originUrl: string;
let edgeUrl: string;
const apps = makeTempDir('netstream-apps');
const edgeApps = makeTempDir('netstream-edge');
const traces: string[] = [];
let removeSink: () => void;
const recent = (): string => traces.slice(-30).join(' | ');


beforeAll(async () => {
  nginx = await startNginxRtmp();
  nms = await startNodeMediaServer();
  fs.mkdirSync(path.join(edgeApps, 'live'));
  fs.mkdirSync(path.join(edgeApps, 'archive'));
  edge = createServer({ appsDir: edgeApps, port: 0 });
  edgeUrl = (await edge.listen()).url;
  const remotes = [nginx.url('live'), nms.url('live'), `${edgeUrl}/live`].join(' ');
  fs.mkdirSync(path.join(apps, 'origin'));
  fs.writeFileSync(path.join(apps, 'origin', 'main.asc'), ORIGIN);
  fs.writeFileSync(
    path.join(apps, 'origin', 'Application.xml'),
    `<Application><JSEngine><ApplicationObject><config><remotes>${remotes}</remotes></config></ApplicationObject></JSEngine></Application>`,
  );
  fs.mkdirSync(path.join(apps, 'recorder'));
  fs.writeFileSync(path.join(apps, 'recorder', 'main.asc'), RECORDER);
  fs.writeFileSync(
    path.join(apps, 'recorder', 'Application.xml'),
    `<Application><LoadOnStartup>true</LoadOnStartup><JSEngine><ApplicationObject><config><archive>${edgeUrl}/archive</archive></config></ApplicationObject></JSEngine></Application>`,
  );
  removeSink = addLogSink((r) => traces.push(r.message));
  origin = createServer({ appsDir: apps, port: 0 });
  originUrl = (await origin.listen()).url;
  // The recorder app loads on startup (LoadOnStartup) and connects to the archive server from its top level.
  expect(await startApplications(origin)).toEqual([]);
}, 60_000);

afterAll(async () => {
  removeSink();
  await killAllTracked();
  await origin?.close();
  await edge?.close();
  await nginx?.stop();
  await nms?.stop();
  removeDir(apps);
  removeDir(edgeApps);
});

describe('republishing (multipoint publish)', () => {
  it('ffmpeg -> origin -> nginx-rtmp, node-media-server and another ssas: ffprobe reads each with the same codecs', async () => {
    const pub = publishWithFfmpeg(`${originUrl}/origin/cam`, { durationSec: 60, width: 320, height: 240, fps: 25 });
    await waitForPublishStart(pub);
    await until(() => traces.filter((t) => /^ns .* cam NetStream.Publish.Start$/.test(t)).length === 3, 20_000, 'publish start on 3 remotes', recent);
    for (const url of [nginx.url('live', 'cam'), nms.url('live', 'cam'), `${edgeUrl}/live/cam`]) {
      const p = await probeUrl(url, 20_000);
      expect([videoStream(p)?.codec_name, videoStream(p)?.width, videoStream(p)?.height, audioStream(p)?.codec_name]).toEqual(['h264', 320, 240, 'aac']);
    }
    // NetStream.Connect.Success reaches ns.onStatus only, never nc.onStatus.
    expect(traces.some((t) => /^ns .* cam NetStream.Connect.Success$/.test(t))).toBe(true);
    expect(traces.some((t) => /^nc .*NetStream/.test(t))).toBe(false);

    // send() reaches every subscriber of the remote stream, arguments in order.
    // nginx-rtmp relays only some data messages (metadata); the other ssas relays all, as FMS did.
    const player = await RtmpClient.connect(`${edgeUrl}/live`);
    const ps = await player.createStream();
    const data: unknown[][] = [];
    ps.onEvent = (ev) => {
      if (ev.kind === 'data' && ev.name === 'onChat') data.push(ev.args);
    };
    await ps.play('cam');
    const admin = await RtmpClient.connect(`${originUrl}/origin`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await admin.call('sendAll', 'cam', 'hello remote')).toEqual([true, true, true]);
    await until(() => data.length > 0, 5000, 'onChat at the remote player', recent);
    expect(data[0]).toEqual(['hello remote', 7, { k: 'v' }]);
    const times = (await admin.call('times', 'cam')) as number[];
    for (const t of times) expect(t).toBeGreaterThan(0.5);
    // publish(false) on the origin side gives Unpublish.Success.
    await pub.kill();
    await until(() => traces.filter((t) => /^ns .* cam NetStream.Unpublish.Success$/.test(t)).length === 3, 10_000, 'unpublish', recent);
    admin.close();
    player.close();
  }, 90_000);

  it('a name already published on the remote gives NetStream.Publish.BadName', async () => {
    const squatter = await RtmpClient.connect(`${edgeUrl}/live`);
    const sq = await squatter.createStream();
    await sq.publish('taken');
    const pub = publishWithFfmpeg(`${originUrl}/origin/taken`, { durationSec: 30 });
    await waitForPublishStart(pub);
    await until(() => traces.some((t) => t.startsWith(`ns ${edgeUrl}/live taken NetStream.Publish.BadName`)), 15_000, 'BadName', recent);
    await pub.kill();
    squatter.close();
  }, 40_000);
});

describe('ssas to ssas', () => {
  it('publish(name, "record") on the remote ssas produces a file there; Stream.play(..., nc) pulls a remote live stream', async () => {
    await until(() => traces.includes('archive NetConnection.Connect.Success'), 10_000, 'archive connect', recent);
    const pub = publishWithFfmpeg(`${originUrl}/recorder/show`, { durationSec: 4 });
    await until(() => traces.includes('archive-ns show NetStream.Record.Start'), 20_000, 'remote Record.Start', recent);
    const done = await pub.exited;
    expect(done.code).toBe(0);
    await until(() => traces.includes('archive-ns show NetStream.Unpublish.Success'), 10_000, 'remote unpublish', recent);
    const file = path.join(edgeApps, 'archive', 'streams', '_definst_', 'show.f4v');
    await until(() => fs.existsSync(file) && !fs.existsSync(`${file}.idx`), 10_000, 'f4v closed', recent);
    const p = await probeUrl(file);
    expect(Math.abs(Number(p.format?.duration) - 4)).toBeLessThan(0.5);
    expect([videoStream(p)?.codec_name, audioStream(p)?.codec_name]).toEqual(['h264', 'aac']);

    // Pull: a stream published on the archive server comes back as a local stream of the origin.
    const remotePub = publishWithFfmpeg(`${edgeUrl}/archive/feed`, { durationSec: 30 });
    await waitForPublishStart(remotePub);
    const admin = await RtmpClient.connect(`${originUrl}/recorder`);
    expect(await admin.call('pull', 'feed', 'pulled')).toBe(true);
    const probe = await probeUrl(`${originUrl}/recorder/pulled`, 20_000);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    await remotePub.kill();
    admin.close();
  }, 60_000);

  it('the remote killed mid-stream: the script sees Connect.Closed, its publishing NetStream NetStream.Failed, it reconnects and publishes again', async () => {
    // A second archive server on a fixed port we can kill and restart.
    const port = edge.port;
    const feed = await RtmpClient.connect(`${originUrl}/recorder`);
    const fs1 = await feed.createStream();
    await fs1.publish('survivor');
    await until(() => traces.includes('archive-ns survivor NetStream.Publish.Start'), 10_000, 'publish to archive', recent);
    const before = traces.length;
    await edge.close();
    await until(() => traces.slice(before).includes('archive NetConnection.Connect.Closed'), 5000, 'Connect.Closed within seconds', recent);
    // The NetStream that was publishing there is told too, after its NetConnection.
    await until(() => traces.slice(before).includes('archive-ns survivor NetStream.Failed'), 5000, 'NetStream.Failed', recent);
    const after = traces.slice(before);
    expect(after.indexOf('archive NetConnection.Connect.Closed')).toBeLessThan(after.indexOf('archive-ns survivor NetStream.Failed'));
    edge = createServer({ appsDir: edgeApps, port });
    await edge.listen();
    await until(() => traces.slice(before).includes('archive NetConnection.Connect.Success'), 10_000, 'reconnected', recent);
    expect(await feed.call('archiveConnected')).toBe(true);
    expect(await feed.call('republish', 'survivor')).toBe(true);
    await until(() => traces.slice(before).includes('re-ns survivor NetStream.Publish.Start'), 10_000, 'republished', recent);
    feed.close();
  }, 40_000);

  it('a refused port and an unknown host give NetConnection.Connect.Failed quickly, without blocking the instance', async () => {
    const fail = path.join(apps, 'failing');
    fs.mkdirSync(fail);
    fs.writeFileSync(
      path.join(fail, 'main.asc'),
      String.raw`
      Client.prototype.go = function (uri) {
        var nc = new NetConnection();
        nc.onStatus = function (info) { trace("fail " + uri + " " + info.code); };
        return nc.connect(uri);
      };
      Client.prototype.alive = function () { return "yes"; };`,
    );
    const c = await RtmpClient.connect(`${originUrl}/failing`);
    const started = Date.now();
    expect(await c.call('go', 'rtmp://127.0.0.1:1/app')).toBe(true);
    expect(await c.call('go', 'rtmp://no-such-host.invalid/app')).toBe(true);
    expect(await c.call('alive')).toBe('yes');
    await until(() => traces.includes('fail rtmp://127.0.0.1:1/app NetConnection.Connect.Failed'), 5000, 'refused', recent);
    await until(() => traces.includes('fail rtmp://no-such-host.invalid/app NetConnection.Connect.Failed'), 10_000, 'dns', recent);
    expect(Date.now() - started).toBeLessThan(10_000);
    c.close();
  }, 20_000);
});
