/**
 * Recording what an encoder publishes (ffmpeg always publishes "live"): `ssas init` copies the samples into
 * ./applications; the live sample records when the publisher connects with "record" (ffmpeg -rtmp_conn
 * "S:record") or when its Application.xml says <record>true</record>; the file lands under the applications
 * folder and ffprobe reads it. The bundled samples themselves are never written to: recording there is
 * refused with NetStream.Record.NoAccess and a message saying what to do.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  SSAS_BIN,
  killAllTracked,
  makeTempDir,
  probeUrl,
  publishWithFfmpeg,
  removeDir,
  runTracked,
  spawnTracked,
  until,
  videoStream,
  waitForPublishStart,
  type TrackedProcess,
} from '../support';

const bundledLive = path.join(__dirname, '..', '..', 'sandbox', 'applications', 'live');
let tmp: string;

beforeAll(() => {
  tmp = makeTempDir('recording-recipe');
});

afterAll(async () => {
  await killAllTracked();
  removeDir(tmp);
});

async function serve(cwd: string): Promise<{ proc: TrackedProcess; url: string }> {
  const proc = spawnTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'serve', '--port', '0'], { cwd });
  await proc.waitForOutput(/ssas listening on rtmp:\/\/\S+\n(?:.*\n)*?applications .*\n/, 20_000);
  return { proc, url: /ssas listening on (rtmp:\/\/\S+)/.exec(proc.stdout())![1]! };
}

/** ffmpeg publishes ~3 s of test pattern, then stops (so the recording is closed). */
async function publish(url: string, connArgs?: string[]): Promise<void> {
  const ff = publishWithFfmpeg(url, { durationSec: 3, connArgs });
  await waitForPublishStart(ff, 15_000);
  const exit = await ff.exited;
  expect(exit.code).toBe(0);
}

it('ssas init copies the samples; a connect argument records into ./applications; ffprobe reads the file', async () => {
  const init = await runTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'init'], { cwd: tmp, timeoutMs: 20_000 });
  expect(init.code).toBe(0);
  for (const app of ['chat', 'live', 'vod']) expect(init.stdout).toContain(`created ${path.join(tmp, 'applications', app)}`);
  expect(init.stdout).toMatch(/Serve them with .*ssas serve/);
  expect(fs.existsSync(path.join(tmp, 'applications', 'vod', 'streams', '_definst_', 'sample.flv'))).toBe(true);
  // Again: what is there is kept.
  const again = await runTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'init'], { cwd: tmp, timeoutMs: 20_000 });
  expect(again.stdout).toContain(`kept    ${path.join(tmp, 'applications', 'live')} (already there)`);

  const { proc, url } = await serve(tmp);
  expect(proc.stdout()).toContain(`applications (${path.join(tmp, 'applications')}): chat, live, vod`);
  await publish(`${url}/live/mystream`, ['S:record']);
  const file = path.join(tmp, 'applications', 'live', 'streams', '_definst_', 'mystream.flv');
  await until(() => fs.existsSync(file) && fs.statSync(file).size > 10_000, 10_000, 'recording', () => proc.output());
  await proc.waitForOutput(/live: recording mystream/, 5000);
  proc.child.kill('SIGTERM');
  await proc.exited;
  const probe = await probeUrl(file);
  expect(videoStream(probe)?.codec_name).toBe('h264');
  expect(Number(probe.format.duration)).toBeGreaterThan(1.5);
  // Without the argument nothing is recorded.
  expect(fs.readdirSync(path.dirname(file))).toEqual(['mystream.flv']);
}, 90_000);

it('<record>true</record> in the live application\'s Application.xml records every publish', async () => {
  const xml = path.join(tmp, 'applications', 'live', 'Application.xml');
  fs.writeFileSync(xml, fs.readFileSync(xml, 'utf8').replace('<record>false</record>', '<record>true</record>'));
  const { proc, url } = await serve(tmp);
  await publish(`${url}/live/other`);
  proc.child.kill('SIGTERM');
  await proc.exited;
  const probe = await probeUrl(path.join(tmp, 'applications', 'live', 'streams', '_definst_', 'other.flv'));
  expect(Number(probe.format.duration)).toBeGreaterThan(1.5);
}, 90_000);

it('the bundled samples are not written to: recording there is refused and says what to do', async () => {
  const empty = path.join(tmp, 'no-applications-here');
  fs.mkdirSync(empty);
  const before = fs.existsSync(path.join(bundledLive, 'streams'));
  const { proc, url } = await serve(empty);
  expect(proc.stdout()).toContain('applications (bundled samples): chat, live, vod');
  await publish(`${url}/live/refused`, ['S:record']);
  await proc.waitForOutput(/not recording refused: the bundled sample applications are read-only: `ssas init` copies them into \.\/applications/, 10_000);
  proc.child.kill('SIGTERM');
  await proc.exited;
  expect(fs.existsSync(path.join(bundledLive, 'streams', '_definst_', 'refused.flv'))).toBe(false);
  expect(fs.existsSync(path.join(bundledLive, 'streams'))).toBe(before);
}, 90_000);
