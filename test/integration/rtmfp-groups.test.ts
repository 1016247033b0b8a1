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
import { DEFAULT_GROUPSPEC, DEFAULT_GROUP_ID, runTestClient, startMonaTiny, startTestClient, type TestClient } from '../support/rtmfp-peers';
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

/**
 * Waits at least `minMs`, then until `count` of the receivers have written `minBytes` (or `maxMs` passed):
 * on a loaded machine (CI runs several suites at once) members find each other and pull their first
 * fragments later. What the members logged is printed when the wait runs out, for the failure that follows.
 */
async function untilReceived(receivers: TestClient[], minBytes: number, opts: { minMs: number; maxMs: number; count?: number; server?: TrackedProcess }): Promise<void> {
  const start = Date.now();
  const need = opts.count ?? receivers.length;
  for (;;) {
    const elapsed = Date.now() - start;
    const done = receivers.filter((r) => fileSize(r.mediaFile) >= minBytes).length;
    if (elapsed >= opts.minMs && done >= need) return;
    if (elapsed >= opts.maxMs) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const lines = [`untilReceived: ${receivers.filter((r) => fileSize(r.mediaFile) >= minBytes).length}/${receivers.length} receivers reached ${minBytes} bytes in ${opts.maxMs} ms`];
  for (const r of receivers) lines.push(`--- ${r.logFile} (${fileSize(r.mediaFile)} bytes received)`, tail(r.logFile, 15));
  if (opts.server) lines.push('--- server', opts.server.output().split('\n').filter((l) => !/ access /.test(l)).slice(-40).join('\n'));
  process.stderr.write(`${lines.join('\n')}\n`);
}

function fileSize(f: string): number {
  try {
    return fs.statSync(f).size;
  } catch {
    return 0;
  }
}

function tail(f: string, n: number): string {
  try {
    return fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

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
  // 20 s of media: on a loaded machine a receiver may reach the publisher (an introduction through ssas,
  // then a handshake of their own) seconds after it started; the clip must outlast that.
  const longClip = await makeTestClip({ durationSec: 20 });
  const pub = await runTestClient({ url, mode: 'publish', netGroup: DEFAULT_GROUPSPEC, mediaFile: longClip, dir: tmp('group-pub'), timeoutMs: 60_000, netns: ns });
  expect(pub.statuses).toEqual(expect.arrayContaining(['NetConnection.Connect.Success', 'NetGroup.Publish.Start']));
  await new Promise((r) => setTimeout(r, 2500));
  const clipBytes = fs.statSync(longClip).size;
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
  await untilReceived(receivers, 60_000, { minMs: 9000, maxMs: 40_000, server: ssas });
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
  await untilReceived(receivers, 60_000, { minMs: 9000, maxMs: 40_000, server: ssas });
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

const MEASURED = GROUP_PUBLISHER.replace(
  '    ns.attach(stream);',
  `    if (application.config.window) ns.multicastWindowDuration = Number(application.config.window);
    if (application.config.fetch) ns.multicastFetchPeriod = Number(application.config.fetch);
    if (application.config.update) ns.multicastAvailabilityUpdatePeriod = Number(application.config.update);
    if (application.config.push !== undefined && application.config.push !== "") ns.multicastPushNeighborLimit = Number(application.config.push);
    var iv = setInterval(function () {
      var i = ns.multicastInfo;
      trace("mcinfo " + JSON.stringify({ pushed: i.bytesPushedToPeers, requested: i.bytesRequestedByPeers, time: ns.time, control: i.sendControlBytesPerSecond }));
    }, 1000);
    ns.attach(stream);`,
);

function lastInfo(out: string): { pushed: number; requested: number; time: number; control: number } {
  const all = [...out.matchAll(/mcinfo (\{[^\n]*\})/g)].map((m) => JSON.parse(m[1]!) as { pushed: number; requested: number; time: number; control: number });
  return all[all.length - 1]!;
}

async function groupRun(n: Netns, config: Record<string, string>, receivers: number, seconds: number, logLevel = 6, opts: { pushedBytes?: number } = {}) {
  const apps = tmp('group-apps-measured');
  const port = 19353;
  fs.mkdirSync(`${apps}/origin`);
  fs.writeFileSync(`${apps}/origin/main.asc`, MEASURED);
  const cfg = Object.entries({ port: String(port), ...config }).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
  fs.writeFileSync(`${apps}/origin/Application.xml`, `<Application><JSEngine><ApplicationObject><config>${cfg}</config></ApplicationObject></JSEngine></Application>`);
  const ssas = n.spawn(process.execPath, [SSAS_BIN, 'serve', '--apps', apps, '--port', String(port)], { name: 'ssas-netns' });
  await ssas.waitForOutput(/ssas listening on rtmfp:/, 20_000);
  const url = `rtmfp://127.0.0.1:${port}/origin/grouped`;
  const rx = Array.from({ length: receivers }, (_, i) => {
    const dir = tmp(`group-m${i}`);
    return startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: `${dir}/received.flv`, dir, netns: n, args: ['--app=origin'], logLevel });
  });
  for (const r of rx) await r.waitForGroupJoin(30_000);
  n.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/origin/src`], { name: 'ffmpeg' });
  await ssas.waitForOutput(/group ns NetStream\.Publish\.Start/, 20_000);
  await untilReceived(rx, 30_000, { minMs: seconds * 1000, maxMs: seconds * 1000 + 30_000, count: receivers - Math.floor(receivers / 10), server: ssas });
  // librtmfp asks its neighbours for pushes a while after it starts pulling: on a loaded machine, later.
  if (opts.pushedBytes) {
    for (const end = Date.now() + 20_000; Date.now() < end && (lastInfo(ssas.output())?.pushed ?? 0) < opts.pushedBytes; ) await new Promise((r) => setTimeout(r, 250));
  }
  const results = [];
  for (const r of rx) results.push(await r.stop());
  return { ssas, results };
}

inNetns(`not copied at the server: with 10 receivers the member uploads about multicastPushNeighborLimit copies, not 10${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  const { ssas, results } = await groupRun(ns, {}, 10, 12);
  const clipRate = fs.statSync(clip).size / 8; // bytes per second of the published clip
  const info = lastInfo(ssas.output());
  const streamBytes = info.time * clipRate;
  const ratio = (info.pushed + info.requested) / streamBytes;
  process.stderr.write(`group upload: ${(info.pushed / 1e3).toFixed(0)} kB pushed + ${(info.requested / 1e3).toFixed(0)} kB pulled for ${info.time.toFixed(1)} s of a ${(clipRate / 1e3).toFixed(0)} kB/s stream = ${ratio.toFixed(2)} copies\n`);
  const playing = results.filter((r) => r.mediaBytes > 20_000).length;
  expect(playing).toBeGreaterThanOrEqual(9);
  expect(ratio).toBeLessThan(4 + 1.5);
  expect(ratio).toBeGreaterThan(0.5);
}, 180_000);

inNetns(`the multicast properties drive the wire: window, update and fetch periods as the receivers read them, no pushes with a limit of 0, fewer maps with a longer period${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  // One receiver: its only neighbour is ssas's member, so whatever it asks to be pushed, ssas must push (with
  // two, librtmfp may ask the other receiver for every push and ssas pushes nothing even with the defaults).
  const changed = await groupRun(ns, { window: '5', fetch: '1', update: '0.5', push: '0' }, 1, 8, 8);
  const changedInfo = lastInfo(changed.ssas.output());
  await killAllTracked();
  ns.delete();
  ns = createNetns();
  const defaults = await groupRun(ns, {}, 1, 8, 8, { pushedBytes: 40_000 });
  const defaultInfo = lastInfo(defaults.ssas.output());
  const receiverIds = (rs: typeof changed.results): Set<string> => new Set(rs.map((r) => r.peerId!));
  const pushesFromSsas = (rs: typeof changed.results): number => {
    const others = receiverIds(rs);
    let n = 0;
    for (const r of rs) {
      const log = fs.readFileSync(r.logFile, 'utf8');
      for (const m of log.matchAll(/Push In - fragment received from ([0-9a-f]{64})/g)) if (!others.has(m[1]!)) n++;
    }
    return n;
  };
  for (const r of changed.results) {
    const log = fs.readFileSync(r.logFile, 'utf8');
    expect(log).toMatch(/Window Duration : 5000ms/);
    expect(log).toMatch(/Avaibility Update period : 500ms/);
    expect(log).toMatch(/Fetch period : 1000ms/);
    expect(r.mediaBytes).toBeGreaterThan(20_000); // pulls alone deliver it
  }
  for (const r of defaults.results) {
    const log = fs.readFileSync(r.logFile, 'utf8');
    expect(log).toMatch(/Window Duration : 8000ms/);
    expect(log).not.toMatch(/Avaibility Update period/); // librtmfp traces it only when it differs from its 100 ms
    expect(log).toMatch(/Fetch period : 2500ms/);
  }
  expect(pushesFromSsas(changed.results)).toBe(0);
  expect(pushesFromSsas(defaults.results)).toBeGreaterThan(20);
  expect(changedInfo.pushed).toBe(0);
  expect(defaultInfo.pushed).toBeGreaterThan(0);
  // Maps every 0.5 s instead of 0.1 s: less control traffic.
  expect(defaultInfo.control).toBeGreaterThan(changedInfo.control * 1.5);
}, 240_000);
