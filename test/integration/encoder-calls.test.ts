/**
 * The commands common RTMP clients send unasked, answered as FMS answered them, so that no client logs a
 * server error: `_checkbw` (sent by ffmpeg and librtmp when the server calls onBWDone, as the bundled live and
 * vod samples do) runs the native bandwidth check with `_onbwcheck` / `_onbwdone`; `releaseStream`,
 * `FCPublish`, `FCUnpublish`, `FCSubscribe` and `getStreamLength` are answered by the script when it defines
 * them and by the server when it does not. Checked with ffmpeg, ffprobe and rtmpdump against the samples and
 * an application without a script.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RtmpClient } from '../../src/net/rtmp-client';
import {
  killAllTracked,
  makeTempDir,
  publishWithFfmpeg,
  recordWithRtmpdump,
  removeDir,
  requirePeer,
  runTracked,
  SSAS_BIN,
  spawnTracked,
  until,
  waitForPublishStart,
  type TrackedProcess,
} from '../support';

let tmp: string;
let server: TrackedProcess;
let base: string;

beforeAll(async () => {
  tmp = makeTempDir('encoder-calls');
  // The bundled samples, and one application folder without a script (FMS's "no main.asc" behaviour).
  fs.cpSync(path.join(__dirname, '..', '..', 'sandbox', 'applications'), path.join(tmp, 'apps'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'apps', 'plain'));
  // Small check payloads keep rtmpdump's packet dumps (-z) short enough to read whole.
  fs.writeFileSync(
    path.join(tmp, 'apps', 'vod', 'Application.xml'),
    '<Application><Client><BandwidthDetection enabled="true"><DataSize>200</DataSize><MaxWait>1</MaxWait></BandwidthDetection></Client></Application>',
  );
  server = spawnTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'serve', '--port', '0', '--apps', path.join(tmp, 'apps'), '--log-level', 'debug']);
  await server.waitForOutput(/ssas listening on rtmp:\/\/\S+\n/, 20_000);
  base = /ssas listening on (rtmp:\/\/\S+)/.exec(server.stdout())![1]!;
}, 30_000);

afterAll(async () => {
  await killAllTracked();
  removeDir(tmp);
});

/** ffprobe at warning level (where ffmpeg prints "Server error: ..."), for `seconds` of a live stream. */
async function probe(url: string): Promise<string> {
  const r = await runTracked(requirePeer('ffprobe'), ['-hide_banner', '-v', 'warning', '-rw_timeout', '8000000', '-show_streams', '-of', 'json', url], {
    timeoutMs: 20_000,
  });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).streams.length).toBeGreaterThan(0);
  return r.stderr;
}

async function publishProbeStop(app: string, name: string): Promise<{ publisher: string; prober: string }> {
  const pub = publishWithFfmpeg(`${base}/${app}/${name}`, { durationSec: 30 });
  await waitForPublishStart(pub, 15_000);
  const prober = await probe(`${base}/${app}/${name}`);
  await pub.kill(5000);
  return { publisher: pub.stderr(), prober };
}

it('ffmpeg and ffprobe on the live sample: _checkbw answered, no server error', async () => {
  const { publisher, prober } = await publishProbeStop('live', 'enc');
  expect(publisher).not.toMatch(/Server error/);
  expect(prober).not.toMatch(/Server error/);
  // They did send _checkbw (the sample calls onBWDone) and the server ran the check for it.
  await until(() => (server.output().match(/_checkbw: native bandwidth check/g) ?? []).length >= 2, 5000, '_checkbw', () => server.output().slice(-3000));
  expect(server.output()).not.toMatch(/Method not found \(_checkbw\)/);
}, 60_000);

it('ffmpeg and ffprobe on an application without a script: encoder calls answered by the server', async () => {
  const { publisher, prober } = await publishProbeStop('plain', 'enc2');
  expect(publisher).not.toMatch(/Server error/);
  expect(prober).not.toMatch(/Server error/);
}, 60_000);

it('rtmpdump (librtmp) answers _onbwcheck and gets _onbwdone for its _checkbw on the vod sample', async () => {
  const out = path.join(tmp, 'dump.flv');
  // A short buffer paces the file (with rtmpdump's default buffer it would all come at once, before the check ends).
  const r = await recordWithRtmpdump(`${base}/vod/sample`, out, { live: false, stopAfterSec: 4, extra: ['-z', '--buffer', '500'], timeoutMs: 30_000 });
  expect(r.bytes).toBeGreaterThan(10_000);
  expect(r.stderr).toMatch(/Invoking _checkbw/);
  expect(r.stderr).toMatch(/server invoking <_onbwcheck>/);
  expect(r.stderr).toMatch(/server invoking <_onbwdone>/);
  expect(r.stderr).not.toMatch(/_error/);
}, 60_000);

it('a _checkbw gets _onbwcheck rounds and one _onbwdone(kbps, KB, ms, latency), never an _error or another onBWDone', async () => {
  let checks = 0;
  let done: unknown[] | null = null;
  let bwDone = 0;
  const c = await RtmpClient.connect(`${base}/plain`, {
    handlers: {
      _onbwcheck: () => ++checks,
      _onbwdone: (...a) => void (done = a),
      onBWDone: () => void ++bwDone,
    },
  });
  let settled = '';
  c.call('_checkbw').then(
    () => (settled = 'result'),
    (e) => (settled = `error ${String((e as Error).message)}`),
  );
  await until(() => done !== null, 10_000, '_onbwdone');
  expect(checks).toBeGreaterThan(3);
  expect(done).toHaveLength(4);
  expect((done as unknown as number[]).every((n) => typeof n === 'number')).toBe(true);
  await new Promise((r) => setTimeout(r, 300));
  expect(settled).toBe('');
  expect(bwDone).toBe(0);
  c.close();
}, 30_000);
