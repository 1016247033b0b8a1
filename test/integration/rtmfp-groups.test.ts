/**
 * ssas as the server of RTMFP groups (issue 13, the rendezvous role FMS 4 had): librtmfp TestClients
 * that join a NetGroup through ssas are told about each other (0b on the group channel), introduced
 * (forwarded IHello / Redirect) and stream to each other peer to peer; the media never passes through
 * ssas. Everything runs in a network namespace of the test's own (the clients announce every interface
 * address to their peers).
 */
import * as fs from 'fs';
import * as path from 'path';
import { audioStream, killAllTracked, makeTempDir, makeTestClip, probeUrl, removeDir, SSAS_BIN, videoStream, type TrackedProcess } from '../support';
import { DEFAULT_GROUPSPEC, DEFAULT_GROUP_ID, runTestClient, startMonaTiny, startTestClient } from '../support/rtmfp-peers';
import { createNetns, netnsUnavailable, type Netns } from '../support/netns';

jest.setTimeout(120_000);

const why = netnsUnavailable();
const inNetns = why === null ? test : test.skip;
const dirs: string[] = [];
let clip: string;
let ns: Netns | null = null;

function tmp(prefix: string): string {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  clip = await makeTestClip({ durationSec: 8 });
});

afterEach(async () => {
  await killAllTracked();
  ns?.delete();
  ns = null;
});

afterAll(() => {
  for (const d of dirs) removeDir(d);
});

async function ssasIn(n: Netns): Promise<{ proc: TrackedProcess; port: number }> {
  const proc = n.spawn(process.execPath, [SSAS_BIN, 'serve', '--port', '0', '--log-level', 'debug'], { name: 'ssas-netns' });
  const m = await proc.waitForOutput(/ssas listening on rtmfp:\/\/127\.0\.0\.1:(\d+)/, 20_000);
  return { proc, port: Number(m[1]) };
}

inNetns(`a TestClient publisher and three TestClient receivers meet in a NetGroup through ssas; the media goes peer to peer${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  const { proc: ssas, port } = await ssasIn(ns);
  const url = `rtmfp://127.0.0.1:${port}/live/grouped`;
  const receivers = [0, 1, 2].map((i) => {
    const dir = tmp(`group-rx${i}`);
    return startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: `${dir}/received.flv`, dir, netns: ns! });
  });
  for (const r of receivers) await r.waitForGroupJoin(20_000);
  await ssas.waitForOutput(new RegExp(`joined group ${DEFAULT_GROUP_ID.slice(0, 16)}\\.\\.\\. \\(3 members`), 10_000);
  await new Promise((r) => setTimeout(r, 1000));
  const pub = await runTestClient({ url, mode: 'publish', netGroup: DEFAULT_GROUPSPEC, mediaFile: clip, dir: tmp('group-pub'), timeoutMs: 40_000, netns: ns });
  expect(pub.statuses).toEqual(expect.arrayContaining(['NetConnection.Connect.Success', 'NetGroup.Publish.Start']));
  await new Promise((r) => setTimeout(r, 2500));
  const clipBytes = fs.statSync(clip).size;
  for (const r of receivers) {
    const got = await r.stop();
    expect(got.statuses).toContain('NetConnection.Connect.Success');
    expect(got.mediaBytes).toBeGreaterThan(clipBytes * 0.2);
    const probe = await probeUrl(got.mediaFile);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
  }
  // ssas told the members about each other and introduced them, and carried no media.
  const out = ssas.output();
  expect(out).toMatch(/\(4 members, 3 told\)/);
  expect(out).toMatch(/introduced peer/);
  expect(out).not.toMatch(/publishes grouped/);
});

const GROUP_PUBLISHER = String.raw`
var log = [];
var ns = null;
application.onPublish = function (client, stream) {
  if (stream.name != "src") return;
  var nc = new NetConnection();
  nc.onStatus = function (info) {
    log.push("nc " + info.code);
    if (info.code != "NetConnection.Connect.Success") return;
    var gs = new GroupSpecifier("test");
    gs.multicastEnabled = true;
    gs.postingEnabled = true;
    gs.serverChannelEnabled = true;
    gs.ipMulticastMemberUpdatesEnabled = true;
    log.push("spec " + gs.toString());
    ns = new NetStream(nc, gs);
    ns.onStatus = function (i) { log.push("ns " + i.code); trace("group ns " + i.code); };
    log.push("farID " + ns.farID + " nearNonce '" + ns.nearNonce + "'");
    ns.attach(stream);
    ns.publish("grouped");
  };
  // The seed's example: the group's server is this very server.
  nc.connect("rtmfp://127.0.0.1:" + application.config.port + "/" + application.name);
};
Client.prototype.log = function () { return log; };
Client.prototype.info = function () { return ns ? ns.multicastInfo : null; };
`;

inNetns(`a script publishes into a NetGroup with new NetStream(nc, groupspec) (ssas is the group's server): TestClients play it from the group${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  const apps = tmp('group-apps');
  const port = 19350; // inside the test's own namespace nothing else listens
  fs.mkdirSync(`${apps}/origin`);
  fs.writeFileSync(`${apps}/origin/main.asc`, GROUP_PUBLISHER);
  fs.writeFileSync(`${apps}/origin/Application.xml`, `<Application><JSEngine><ApplicationObject><config><port>${port}</port></config></ApplicationObject></JSEngine></Application>`);
  const ssas = ns.spawn(process.execPath, [SSAS_BIN, 'serve', '--apps', apps, '--port', String(port), '--log-level', 'debug'], { name: 'ssas-netns' });
  await ssas.waitForOutput(/ssas listening on rtmfp:/, 20_000);
  const url = `rtmfp://127.0.0.1:${port}/origin/grouped`;
  const receivers = [0, 1].map((i) => {
    const dir = tmp(`group-play${i}`);
    return startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: `${dir}/received.flv`, dir, netns: ns!, args: ['--app=origin'] });
  });
  for (const r of receivers) await r.waitForGroupJoin(20_000);
  const ff = ns.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/origin/src`], { name: 'ffmpeg' });
  void ff;
  await ssas.waitForOutput(/group ns NetStream\.Publish\.Start/, 20_000);
  await new Promise((r) => setTimeout(r, 9000));
  for (const r of receivers) {
    const got = await r.stop();
    expect(got.mediaBytes).toBeGreaterThan(50_000);
    const probe = await probeUrl(got.mediaFile);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
  }
}, 120_000);

inNetns(`the same with MonaServer's MonaTiny as the group's server: the script's member is introduced by MonaTiny${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  const mona = await startMonaTiny({ netns: ns });
  const apps = tmp('group-apps-mona');
  const port = 19351;
  fs.mkdirSync(`${apps}/origin`);
  fs.writeFileSync(`${apps}/origin/main.asc`, GROUP_PUBLISHER.replace('nc.connect("rtmfp://127.0.0.1:" + application.config.port + "/" + application.name);', 'nc.connect(application.config.rendezvous);'));
  fs.writeFileSync(`${apps}/origin/Application.xml`, `<Application><JSEngine><ApplicationObject><config><rendezvous>rtmfp://127.0.0.1:${mona.port}/origin</rendezvous></config></ApplicationObject></JSEngine></Application>`);
  const ssas = ns.spawn(process.execPath, [SSAS_BIN, 'serve', '--apps', apps, '--port', String(port), '--log-level', 'debug'], { name: 'ssas-netns' });
  await ssas.waitForOutput(/ssas listening on rtmfp:/, 20_000);
  const url = mona.url('origin', 'grouped');
  const receivers = [0, 1].map((i) => {
    const dir = tmp(`group-mona${i}`);
    return startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: `${dir}/received.flv`, dir, netns: ns!, args: ['--app=origin'] });
  });
  for (const r of receivers) await r.waitForGroupJoin(20_000);
  ns.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/origin/src`], { name: 'ffmpeg' });
  await ssas.waitForOutput(/group ns NetStream\.Publish\.Start/, 20_000);
  await new Promise((r) => setTimeout(r, 9000));
  for (const r of receivers) {
    const got = await r.stop();
    expect(got.mediaBytes).toBeGreaterThan(50_000);
    const probe = await probeUrl(got.mediaFile);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
  }
  // MonaTiny saw three members join the group (the script's among them).
  const joins = [...mona.log().matchAll(new RegExp(`(127\\.0\\.0\\.1:\\d+) join group ${DEFAULT_GROUP_ID}`, 'g'))].map((m) => m[1]);
  expect(new Set(joins).size).toBe(3);
}, 120_000);

const IP_MULTICAST = GROUP_PUBLISHER.replace(
  '    ns.attach(stream);',
  '    ns.setIPMulticastPublishAddress(application.config.mcast, null);\n    ns.attach(stream);',
);

const inMulticastNetns = why === null ? test.each : test.skip.each;
inMulticastNetns([
  ['IPv4', '239.77.0.1:30000', '239.77.0.1', '30000', '10.77.0.1'],
  ['IPv6', '[ff03::77]:30001', 'ff03::77', '30001', 'va'],
])(`setIPMulticastPublishAddress (%s): a receiver joined to the group address reassembles the stream and ffprobe reads it${why ? ` (skipped: ${why})` : ''}`, async (_fam, spec, addr, mport, iface) => {
  ns = createNetns({ multicast: true });
  const apps = tmp('group-apps-mcast');
  const port = 19352;
  fs.mkdirSync(`${apps}/origin`);
  fs.writeFileSync(`${apps}/origin/main.asc`, IP_MULTICAST);
  fs.writeFileSync(`${apps}/origin/Application.xml`, `<Application><JSEngine><ApplicationObject><config><port>${port}</port><mcast>${spec}</mcast></config></ApplicationObject></JSEngine></Application>`);
  const ssas = ns.spawn(process.execPath, [SSAS_BIN, 'serve', '--apps', apps, '--port', String(port), '--log-level', 'debug'], { name: 'ssas-netns' });
  await ssas.waitForOutput(/ssas listening on rtmfp:/, 20_000);
  const out = `${tmp('mcast-rx')}/received.flv`;
  const rx = ns.spawn(process.execPath, [path.join(__dirname, '../support/scripts/multicast-receiver.js'), addr, mport, iface, '7', out], { name: 'multicast-receiver' });
  ns.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/origin/src`], { name: 'ffmpeg' });
  await ssas.waitForOutput(/group ns NetStream\.Publish\.Start/, 20_000);
  await rx.exited;
  const seen = JSON.parse(rx.stdout().trim().split('\n').pop()!) as { infos: number; fragments: number; messages: number; stream: string; errors: number };
  expect(seen.stream).toBe('grouped');
  expect(seen.infos).toBeGreaterThanOrEqual(3);
  expect(seen.errors).toBe(0);
  expect(seen.messages).toBeGreaterThan(100);
  const probe = await probeUrl(out);
  expect(videoStream(probe)?.codec_name).toBe('h264');
  expect(audioStream(probe)?.codec_name).toBe('aac');
}, 90_000);
