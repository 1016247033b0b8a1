/**
 * ssas as the server of RTMFP groups (issue 13, the rendezvous role FMS 4 had): librtmfp TestClients
 * that join a NetGroup through ssas are told about each other (0b on the group channel), introduced
 * (forwarded IHello / Redirect) and stream to each other peer to peer; the media never passes through
 * ssas. Everything runs in a network namespace of the test's own (the clients announce every interface
 * address to their peers).
 */
import * as fs from 'fs';
import { audioStream, killAllTracked, makeTempDir, makeTestClip, probeUrl, removeDir, SSAS_BIN, videoStream, type TrackedProcess } from '../support';
import { DEFAULT_GROUPSPEC, DEFAULT_GROUP_ID, runTestClient, startTestClient } from '../support/rtmfp-peers';
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
