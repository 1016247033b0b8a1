/**
 * The seed's RTMFP half for remote servers (issue 12): "To copy a stream to a remote server over RTMFP
 * ... pass an RTMFP protocol to the NetConnection.connect() method". An origin application republishes
 * what ffmpeg publishes with nc.connect("rtmfp://...") + ns.attach + ns.publish, to a second ssas and to
 * rtmfp-cpp's tcserver; ffprobe reads each remote over RTMP with the codecs ffmpeg sent. Also over
 * RTMFP: the status codes of refused, rejected and unknown remotes, call() with a result, the remote
 * calling the NetConnection back, the multicast defaults after a successful RTMFP connection, and the
 * seed's own send() right after the constructor.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { addLogSink } from '../../src/logger';
import {
  audioStream,
  freeUdpPort,
  killAllTracked,
  makeTempDir,
  makeTestClip,
  probeUrl,
  publishWithFfmpeg,
  removeDir,
  until,
  videoStream,
  waitForPublishStart,
} from '../support';
import { startTcserver, type Tcserver } from '../support/rtmfp-peers';

jest.setTimeout(90_000);

const ORIGIN = String.raw`
var log = [];
var links = {};
application.onPublish = function (client, stream) {
  var uri = application.config.remote;
  var nc = new NetConnection();
  var ns;
  nc.onStatus = function (info) {
    log.push("nc " + info.code);
    if (info.code == "NetConnection.Connect.Success") {
      log.push("defaults " + [ns.multicastAvailabilityUpdatePeriod, ns.multicastFetchPeriod, ns.multicastPushNeighborLimit,
        ns.multicastRelayMarginDuration, ns.multicastWindowDuration, ns.multicastAvailabilitySendToAll].join(" "));
      log.push("identity " + ns.farID + " " + typeof ns.nearNonce + " " + ns.nearNonce.length);
      ns.multicastFetchPeriod = -3;
      ns.multicastPushNeighborLimit = 1e12;
      log.push("coerced " + ns.multicastFetchPeriod + " " + ns.multicastPushNeighborLimit);
    }
  };
  nc.connect(uri);
  ns = new NetStream(nc);
  // The seed's own example: send() right after the constructor.
  log.push("early send " + ns.send("foo", "Hello world"));
  ns.onStatus = function (info) { log.push("ns " + info.code); };
  ns.attach(stream);
  ns.publish(stream.name, "live");
  links[stream.name] = ns;
};
application.onUnpublish = function (client, stream) {
  if (links[stream.name]) links[stream.name].publish(false);
};
Client.prototype.log = function () { return log; };
Client.prototype.time = function (name) { return links[name] ? links[name].time : -1; };

var probes = [];
Client.prototype.probe = function (uri, mode) {
  var nc = new NetConnection();
  // The remote asks who we are when we connect; once it had time to hear the answer, we call it.
  nc.whoAmI = function () {
    var iv = setInterval(function () {
      clearInterval(iv);
      nc.call("add", { onResult: function (r) { probes.push("add " + r); nc.close(); } }, 20, 22);
    }, 200);
    return "origin over rtmfp";
  };
  nc.onStatus = function (info) { probes.push(mode + " " + info.code); };
  nc.connect(uri, mode);
  return true;
};
Client.prototype.probes = function () { return probes; };

var recorder = null;
Client.prototype.recordRemote = function (uri, source, target, how) {
  var nc = new NetConnection();
  nc.onStatus = function (info) { probes.push("rec nc " + info.code); };
  nc.connect(uri);
  recorder = new NetStream(nc);
  recorder.onStatus = function (info) { probes.push("rec ns " + info.code); };
  var relay = Stream.get("relay_" + source);
  relay.play(source, -1, -1);
  recorder.attach(relay);
  recorder.publish(target, how);
  return true;
};
Client.prototype.stopRemote = function () { recorder.publish(false); return true; };
`;

const REMOTE = String.raw`
application.onConnect = function (client, mode) {
  if (mode == "reject") { application.rejectConnection(client, { reason: "go away" }); return; }
  application.acceptConnection(client);
  if (mode == "call") client.call("whoAmI", { onResult: function (r) { who = r; } });
};
var who = null;
Client.prototype.add = function (a, b) { return a + b + " via " + this.protocol + " (" + who + ")"; };
`;

const dirs: string[] = [];
const traces: string[] = [];
let removeSink: () => void;
let clip: string;

beforeAll(async () => {
  removeSink = addLogSink((r) => traces.push(r.message));
  clip = await makeTestClip({ durationSec: 6 });
});

afterEach(async () => {
  await killAllTracked();
});

afterAll(() => {
  removeSink();
  for (const d of dirs) removeDir(d);
});

function apps(remote: string): string {
  const d = makeTempDir('nsrtmfp');
  dirs.push(d);
  fs.mkdirSync(path.join(d, 'origin'));
  fs.writeFileSync(path.join(d, 'origin', 'main.asc'), ORIGIN);
  fs.writeFileSync(path.join(d, 'origin', 'Application.xml'), `<Application><JSEngine><ApplicationObject><config><remote>${remote}</remote></config></ApplicationObject></JSEngine></Application>`);
  fs.mkdirSync(path.join(d, 'remote'));
  fs.writeFileSync(path.join(d, 'remote', 'main.asc'), REMOTE);
  fs.mkdirSync(path.join(d, 'live'));
  return d;
}

function dataOf(s: ClientStream): string[] {
  const out: string[] = [];
  s.onEvent = (e) => {
    if (e.kind === 'data') out.push(`${e.name} ${e.args.join(' ')}`);
  };
  return out;
}

async function originLog(origin: string): Promise<string[]> {
  const c = await RtmpClient.connect(`${origin}/origin`);
  const l = (await c.call('log')) as string[];
  c.close();
  return l;
}

describe('republishing over RTMFP', () => {
  let remote: Server;
  let origin: Server;

  afterEach(async () => {
    await origin?.close();
    await remote?.close();
  });

  test('to a second ssas: statuses, multicast defaults and coercion, the early send() arrives, ffprobe reads the codecs', async () => {
    const remoteApps = apps('none');
    remote = createServer({ appsDir: remoteApps, port: 0 });
    const r = await remote.listen();
    origin = createServer({ appsDir: apps(`${r.rtmfpUrl}/live`), port: 0 });
    const o = await origin.listen();
    // A player waits on the remote before the stream exists, so it sees the data message sent before Publish.Start.
    const player = await RtmpClient.connect(`${r.url}/live`);
    const ps = await player.createStream();
    const data = dataOf(ps);
    await ps.play('seeded');
    const ff = publishWithFfmpeg(`${o.url}/origin/seeded`, { file: clip, loop: true });
    await waitForPublishStart(ff);
    await until(async () => (await originLog(o.url)).includes('ns NetStream.Publish.Start'), 15_000);
    const log = await originLog(o.url);
    expect(log[0]).toBe('early send true');
    expect(log).toEqual(
      expect.arrayContaining([
        'nc NetConnection.Connect.Success',
        'defaults 0.1 2.5 4 2 8 false',
        'coerced 0 4294967295',
        'ns NetStream.Connect.Success',
        'ns NetStream.Publish.Start',
      ]),
    );
    expect(log.find((l) => l.startsWith('identity '))).toBe('identity null string 64');
    // The data message sent before Publish.Start reached the remote's player.
    await until(() => data.includes('foo Hello world'), 10_000);
    const probe = await probeUrl(`${r.url}/live/seeded`, 20_000);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    // The remote sees an RTMFP client.
    expect(Array.from(remote.sessions).some((s) => s.conn.protocol === 'rtmfp' && s.instance?.app.name === 'live')).toBe(true);
    player.close();
  });

  test('to rtmfp-cpp tcserver: ffprobe reads the republished stream from tcserver over RTMP', async () => {
    const tcs: Tcserver = await startTcserver();
    origin = createServer({ appsDir: apps(tcs.rtmfpUrl('live')), port: 0 });
    const o = await origin.listen();
    const ff = publishWithFfmpeg(`${o.url}/origin/totc`, { file: clip, loop: true });
    await waitForPublishStart(ff);
    await until(async () => (await originLog(o.url)).includes('ns NetStream.Publish.Start'), 15_000);
    await tcs.waitForEvent('publish', (e) => e.name === 'totc', 10_000);
    const probe = await probeUrl(tcs.rtmpUrl('live', 'totc'), 20_000);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    // The remote dies without a word (SIGKILL): the NetConnection learns it and says Connect.Closed.
    tcs.process.child.kill('SIGKILL');
    const t0 = Date.now();
    await until(async () => (await originLog(o.url)).includes('nc NetConnection.Connect.Closed'), 25_000);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

describe('NetConnection over RTMFP: outcomes', () => {
  let remote: Server;
  let origin: Server;
  let originUrl: string;
  let remoteRtmfp: string;
  let remoteApps: string;

  beforeAll(async () => {
    remoteApps = apps('none');
    remote = createServer({ appsDir: remoteApps, port: 0 });
    remoteRtmfp = (await remote.listen()).rtmfpUrl!;
    origin = createServer({ appsDir: apps('none'), port: 0 });
    originUrl = (await origin.listen()).url;
  });

  afterAll(async () => {
    await origin.close();
    await remote.close();
  });

  test('call() with a result, the remote calling the NetConnection back, close()', async () => {
    const c = await RtmpClient.connect(`${originUrl}/origin`);
    await c.call('probe', `${remoteRtmfp}/remote`, 'call');
    let last: string[] = [];
    await until(
      async () => (last = (await c.call('probes')) as string[]).some((p) => p.startsWith('add ')),
      10_000,
      'the remote answered add()',
      () => last.join(' | '),
    );
    const p = (await c.call('probes')) as string[];
    expect(p).toEqual(expect.arrayContaining(['call NetConnection.Connect.Success', 'add 42 via rtmfp (origin over rtmfp)', 'call NetConnection.Connect.Closed']));
    c.close();
  });

  test('publish(name, "record") over RTMFP: the remote records the file; publish(false) ends with Unpublish.Success', async () => {
    const clip2 = await makeTestClip({ durationSec: 4 });
    const ff = publishWithFfmpeg(`${originUrl}/origin/src`, { file: clip2, loop: true });
    await waitForPublishStart(ff);
    const c = await RtmpClient.connect(`${originUrl}/origin`);
    await c.call('recordRemote', `${remoteRtmfp}/remote`, 'src', 'taped', 'record');
    await until(async () => ((await c.call('probes')) as string[]).includes('rec ns NetStream.Publish.Start'), 15_000);
    await new Promise((r) => setTimeout(r, 2500));
    await c.call('stopRemote');
    await until(async () => ((await c.call('probes')) as string[]).includes('rec ns NetStream.Unpublish.Success'), 10_000);
    const file = path.join(remoteApps, 'remote', 'streams', '_definst_', 'taped.flv');
    await until(() => fs.existsSync(file) && fs.statSync(file).size > 40_000, 10_000, 'recorded file');
    const probe = await probeUrl(file);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    c.close();
  });

  test('Rejected (with the application object), InvalidApp, and Failed for a port where nobody answers', async () => {
    const c = await RtmpClient.connect(`${originUrl}/origin`);
    const silent = await freeUdpPort();
    await c.call('probe', `${remoteRtmfp}/remote`, 'reject');
    await c.call('probe', `${remoteRtmfp}/nosuchapp`, 'invalid');
    await c.call('probe', `rtmfp://127.0.0.1:${silent}/remote`, 'silent');
    await until(async () => ((await c.call('probes')) as string[]).some((p) => p.startsWith('silent ')), 20_000);
    const p = (await c.call('probes')) as string[];
    expect(p).toContain('reject NetConnection.Connect.Rejected');
    expect(p).toContain('invalid NetConnection.Connect.InvalidApp');
    expect(p).toContain('silent NetConnection.Connect.Failed');
    c.close();
  });
});
