/**
 * Hostile members of an RTMFP group (issue 13): a script publishes into a group through ssas (ssas is
 * also the group's server), two librtmfp TestClients play it, and then members that misbehave join:
 * one answers the group handshake with a wrong key, one floods (bogus pulls, maps, fragments, reports
 * with 40 made-up peers, thousands of messages a second), one goes silent after its handshake, and one
 * spams the server's group channel with joins to thousands of groups. The receivers keep receiving, the
 * wrong key is refused, the silent member is dropped, ssas stays up and its memory stays bounded.
 */
import * as fs from 'fs';
import * as path from 'path';
import { audioStream, killAllTracked, makeTempDir, makeTestClip, probeUrl, removeDir, SSAS_BIN, videoStream } from '../support';
import { DEFAULT_GROUPSPEC, startTestClient } from '../support/rtmfp-peers';
import { createNetns, netnsUnavailable, type Netns } from '../support/netns';

jest.setTimeout(180_000);

const why = netnsUnavailable();
const inNetns = why === null ? test : test.skip;
const dirs: string[] = [];
let clip: string;
let ns: Netns | null = null;
const HOSTILE = path.join(__dirname, '../support/scripts/hostile-member.js');

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

const PUBLISHER = String.raw`
application.onPublish = function (client, stream) {
  if (stream.name != "src") return;
  var nc = new NetConnection();
  nc.onStatus = function (info) {
    if (info.code != "NetConnection.Connect.Success") return;
    var gs = new GroupSpecifier("test");
    gs.multicastEnabled = true;
    gs.postingEnabled = true;
    gs.serverChannelEnabled = true;
    gs.ipMulticastMemberUpdatesEnabled = true;
    var ns = new NetStream(nc, gs);
    ns.onStatus = function (i) { trace("group ns " + i.code); };
    var g = new NetGroup(nc, gs);
    g.onStatus = function (i) { if (i.code == "NetGroup.Neighbor.Connect" || i.code == "NetGroup.Neighbor.Disconnect") trace("netgroup " + i.code + " " + i.peerID); };
    setInterval(function () { trace("neighbours " + g.neighborCount); }, 1000);
    ns.attach(stream);
    ns.publish("grouped");
  };
  nc.connect("rtmfp://127.0.0.1:" + application.config.port + "/" + application.name);
};
`;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface HostileStats {
  mode: string;
  sessions: number;
  sent: number;
  closedByPeer: number;
  joins?: number;
  refusedChannels?: number;
  error?: string;
}

inNetns(`hostile members (wrong group key, floods, a silent member, group channel spam): the receivers keep receiving and ssas's memory stays bounded${why ? ` (skipped: ${why})` : ''}`, async () => {
  ns = createNetns();
  const n = ns;
  const apps = tmp('hostile-apps');
  const port = 19360;
  fs.mkdirSync(`${apps}/origin`);
  fs.writeFileSync(`${apps}/origin/main.asc`, PUBLISHER);
  fs.writeFileSync(`${apps}/origin/Application.xml`, `<Application><JSEngine><ApplicationObject><config><port>${port}</port></config></ApplicationObject></JSEngine></Application>`);
  const ssas = n.spawn(process.execPath, [SSAS_BIN, 'serve', '--apps', apps, '--port', String(port), '--log-level', 'debug'], { name: 'ssas-netns' });
  await ssas.waitForOutput(/ssas listening on rtmfp:/, 20_000);
  const url = `rtmfp://127.0.0.1:${port}/origin/grouped`;
  const receivers = [0, 1].map((i) => {
    const dir = tmp(`hostile-rx${i}`);
    return startTestClient({ url, netGroup: DEFAULT_GROUPSPEC, mediaFile: `${dir}/received.flv`, dir, netns: n, args: ['--app=origin'] });
  });
  for (const r of receivers) await r.waitForGroupJoin(20_000);
  n.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/origin/src`], { name: 'ffmpeg' });
  await ssas.waitForOutput(/group ns NetStream\.Publish\.Start/, 20_000);
  await ssas.waitForOutput(/neighbours 2/, 20_000);
  const rssBefore = rssKb(ssas.pid);
  // The debug log is long: watch for the refusal of the wrong key while it happens.
  const keyRefused = ssas.waitForOutput(/group init with another group, recipient or key/, 60_000);
  const channelsRefused = ssas.waitForOutput(/more than 32 group channels: refused/, 60_000);
  const seconds = 14;
  const hostile = ['wrongkey', 'flood', 'silent', 'joinspam'].map((mode) =>
    n.spawn(process.execPath, [HOSTILE, `rtmfp://127.0.0.1:${port}/origin`, DEFAULT_GROUPSPEC, mode, String(seconds)], { name: `hostile-${mode}` }),
  );
  // The member that goes silent is dropped by ssas's member (its session times out): Neighbor.Disconnect.
  const silentId = (await hostile[2]!.waitForOutput(/peer ([0-9a-f]{64})/, 20_000))[1]!;
  const silentDropped = ssas.waitForOutput(new RegExp(`netgroup NetGroup\\.Neighbor\\.Disconnect ${silentId}`), 60_000);
  const silentJoined = ssas.waitForOutput(new RegExp(`netgroup NetGroup\\.Neighbor\\.Connect ${silentId}`), 30_000);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, rssKb(ssas.pid));
    } catch {
      /* exited: asserted below */
    }
  }, 250);
  await Promise.all(hostile.map((h) => h.exited));
  clearInterval(sampler);
  const stats = hostile.map((h) => JSON.parse(h.stdout().trim().split('\n').pop()!) as HostileStats);
  process.stderr.write(`hostile: ${JSON.stringify(stats)}; ssas RSS ${(rssBefore / 1024).toFixed(0)} MB before, peak ${(rssPeak / 1024).toFixed(0)} MB\n`);
  for (const s of stats) expect(s.error).toBeUndefined();
  const [wrongkey, flood, silent, joinspam] = stats as [HostileStats, HostileStats, HostileStats, HostileStats];
  // Every legitimate member (ssas's and both receivers) tried each hostile one.
  expect(wrongkey.sessions).toBeGreaterThanOrEqual(1);
  expect(flood.sessions).toBeGreaterThanOrEqual(1);
  expect(flood.sent).toBeGreaterThan(10_000);
  expect(silent.sessions).toBeGreaterThanOrEqual(1);
  expect(joinspam.joins).toBeGreaterThan(5000);
  await new Promise((r) => setTimeout(r, 2000));
  // The receivers still receive: the stream after the attack too.
  // (about 4 s of the 30 kB/s stream; up to 20 s on a loaded machine)
  const sizes = receivers.map((r) => fs.statSync(r.mediaFile).size);
  const grown = (): boolean => receivers.every((r, i) => fs.statSync(r.mediaFile).size > sizes[i]! + 100_000);
  for (const end = Date.now() + 20_000; !grown() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 250));
  for (const [i, r] of receivers.entries()) {
    expect(fs.statSync(r.mediaFile).size).toBeGreaterThan(sizes[i]! + 100_000);
    const got = await r.stop();
    const probe = await probeUrl(got.mediaFile);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
  }
  await silentJoined;
  await silentDropped;
  expect(ssas.running).toBe(true);
  await keyRefused;
  await channelsRefused;
  expect(joinspam.refusedChannels).toBeGreaterThanOrEqual(8);
  expect(rssPeak - rssBefore).toBeLessThan(150 * 1024);
  expect(ssas.output()).not.toMatch(/uncaught|FATAL/i);
}, 180_000);
