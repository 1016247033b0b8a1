/**
 * `ssas repl` with piped input, as a user runs it (the built CLI): statements from stdin, one result per
 * line, no colour, status 1 when a statement threw. Output is compared with golden files
 * (test/fixtures/repl/golden/<case>.out; UPDATE_GOLDEN=1 rewrites them).
 */
import * as fs from 'fs';
import * as path from 'path';
import { killAllTracked, runTracked, spawnTracked } from '../support';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'scripts', 'ssas.js');
const golden = path.join(root, 'test', 'fixtures', 'repl', 'golden');
const apps = path.join(root, 'test', 'fixtures', 'repl', 'apps');
const env = { ...process.env, SSAS_REPL_HISTORY: '', FORCE_COLOR: '1' };

afterAll(async () => {
  await killAllTracked();
});

async function repl(args: string[], input: string, cwd = root): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runTracked(process.execPath, [bin, 'repl', '--port', '0', ...args], { input, cwd, env, timeoutMs: 30_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

describe.each([
  ['values', 0],
  ['errors', 1],
])('golden %s', (name, status) => {
  it(`prints exactly ${name}.out and exits ${status}`, async () => {
    const input = fs.readFileSync(path.join(golden, `${name}.in`), 'utf8');
    const r = await repl(['--apps', apps, 'shell'], input);
    const outFile = path.join(golden, `${name}.out`);
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, r.stdout);
    expect(r.stdout).toBe(fs.readFileSync(outFile, 'utf8'));
    expect(r.code).toBe(status);
    // Piped output never carries colour, even when colour is forced for the terminal.
    expect(r.stdout).not.toMatch(/\u001b\[/);
    expect(r.stderr).toMatch(/^ssas listening on rtmp:\/\/127\.0\.0\.1:\d+$/m);
  });
});

it("prints the issue's example: echo 'application.name' | ssas repl chat", async () => {
  // From a folder without ./applications: the bundled samples.
  const r = await repl(['chat'], 'application.name\n', path.join(root, 'test'));
  expect(r.stdout).toBe('chat/_definst_\n');
  expect(r.code).toBe(0);
});

it('lists repl, run and check in ssas --help and documents their options', async () => {
  const top = await runTracked(process.execPath, [bin, '--help'], { timeoutMs: 15_000 });
  for (const cmd of ['repl', 'run', 'check']) expect(top.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
  const expected: Record<string, string[]> = {
    repl: ['--apps', '--host', '--port', '--idle-timeout', '--log-level'],
    run: ['--host', '--port', '--inspect[=[HOST:]PORT]', '--idle-timeout', '--log-level'],
    check: ['--json', '--strict'],
  };
  for (const [cmd, opts] of Object.entries(expected)) {
    const r = await runTracked(process.execPath, [bin, cmd, '--help'], { timeoutMs: 15_000 });
    expect(r.code).toBe(0);
    for (const o of opts) expect(r.stdout).toContain(o);
  }
});

it('leaves cleanly on SIGTERM while waiting for input', async () => {
  const p = spawnTracked(process.execPath, [bin, 'repl', '--port', '0', '--apps', apps, 'shell'], { cwd: root, env, keepStdin: true });
  await p.waitForOutput(/ssas listening on/, 20_000);
  p.child.stdin!.write('double(4)\n');
  await p.waitForOutput(/^8$/m, 10_000, 'stdout');
  p.child.kill('SIGTERM');
  expect((await p.exited).code).toBe(0);
});
