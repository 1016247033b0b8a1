/**
 * Getting the `ssas` command the way Node users expect: `npm link` in the clone puts it on the PATH (here into
 * a scratch global prefix, so the machine's own is untouched), and it then works from any folder, serving
 * the bundled samples. `npm pack` makes a package that carries the built code, so it can be installed by file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RtmpClient } from '../../src/net/rtmp-client';
import { killAllTracked, makeTempDir, removeDir, runTracked, spawnTracked } from '../support';

const root = path.join(__dirname, '..', '..');
let prefix: string;
let elsewhere: string;

beforeAll(() => {
  prefix = makeTempDir('npm-prefix');
  elsewhere = makeTempDir('somewhere-else');
});

afterAll(async () => {
  await killAllTracked();
  removeDir(prefix);
  removeDir(elsewhere);
});

/** The environment of a person's shell: no npm variables from `npm test`, the scratch prefix's bin first. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  env.npm_config_prefix = prefix;
  env.PATH = `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`;
  return env;
}

it('npm link puts ssas on the PATH; it then runs from any folder', async () => {
  const link = await runTracked('npm', ['link', '--no-audit', '--no-fund'], { cwd: root, env: userEnv(), timeoutMs: 120_000 });
  expect(link.code).toBe(0);
  expect(fs.existsSync(path.join(prefix, 'bin', 'ssas'))).toBe(true);

  // A folder that has nothing to do with the clone: no package.json, no node_modules.
  const version = await runTracked('ssas', ['--version'], { cwd: elsewhere, env: userEnv(), timeoutMs: 20_000 });
  expect(version.code).toBe(0);
  expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);

  const serve = spawnTracked('ssas', ['serve', '--port', '0'], { cwd: elsewhere, env: userEnv() });
  await serve.waitForOutput(/applications \(bundled samples\): chat, live, vod\n/, 20_000);
  const url = /ssas listening on (rtmp:\/\/\S+)/.exec(serve.stdout())![1]!;
  const c = await RtmpClient.connect(`${url}/live`);
  c.close();
  serve.child.kill('SIGINT');
  expect((await serve.exited).code).toBe(0);
}, 150_000);

it('npm pack carries the built code, the sandbox and the samples, not the sources and tests', async () => {
  const r = await runTracked('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, env: userEnv(), timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of ['scripts/ssas.js', 'dist/cli/main.js', 'dist/server/server.js', 'sandbox/core.js', 'sandbox/applications/live/main.asc', 'README.md']) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/'))).toEqual([]);
}, 90_000);
