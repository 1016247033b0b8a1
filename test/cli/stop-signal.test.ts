/**
 * A stop signal to whatever the person started stops the server, with the clean shutdown of Ctrl-C (clients
 * told NetConnection.Connect.AppShutdown, the port closed, nothing left running): `npm start`, `npx ssas
 * serve` (npm runs both through `sh -c`, which dies on SIGTERM without passing it on), the `ssas` bin run
 * directly, and `node scripts/ssas.js` (the wrapper that re-runs node with --no-node-snapshot).
 */
import * as fs from 'fs';
import * as path from 'path';
import { RtmpClient } from '../../src/net/rtmp-client';
import { canConnect, killAllTracked, pidAlive, spawnTracked, until, type TrackedProcess } from '../support';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'scripts', 'ssas.js');

afterAll(async () => {
  await killAllTracked();
});

/** Every process below `pid` (read from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Starts `command`, waits for the server's URL, connects a client to `live`, sends SIGTERM to the started
 * process only, and checks the server shut down cleanly. Whatever is still alive afterwards is killed (and
 * fails the test).
 */
async function stopsCleanly(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const proc: TrackedProcess = spawnTracked(command, args, { cwd: root, env });
  let below: number[] = [];
  try {
    await proc.waitForOutput(/ssas listening on rtmp:\/\/127\.0\.0\.1:\d+\n/, 60_000, 'stdout');
    const url = /ssas listening on (rtmp:\/\/127\.0\.0\.1:(\d+))/.exec(proc.stdout())!;
    const port = Number(url[2]);
    below = descendants(proc.pid);
    const client = await RtmpClient.connect(`${url[1]}/live`);
    const codes: string[] = [];
    client.onStatus = (i) => codes.push(i.code);
    process.kill(proc.pid, 'SIGTERM');
    await until(() => codes.includes('NetConnection.Connect.AppShutdown'), 10_000, 'AppShutdown', () => proc.output());
    // The listener goes and every process of the command with it.
    await until(() => below.every((p) => !pidAlive(p)), 10_000, 'every process gone', () => `${below.filter(pidAlive)} still running\n${proc.output()}`);
    expect(await canConnect(port)).toBe(false);
    await proc.exited;
    expect(proc.output()).toMatch(/shutting down/);
  } finally {
    for (const p of [...below, ...descendants(proc.pid)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// npm's own environment must not leak in from `npm test`: the command is started as a person would.
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  return env;
};

it('kill -TERM of `npm start` stops the server', async () => {
  await stopsCleanly('npm', ['start', '--', '--port', '0'], cleanEnv());
}, 90_000);

it('kill -TERM of `npx ssas serve` stops the server', async () => {
  await stopsCleanly('npx', ['--no-install', 'ssas', 'serve', '--port', '0'], cleanEnv());
}, 90_000);

it('kill -TERM of the bin run directly, and of `node scripts/ssas.js` (the re-running wrapper), stops the server', async () => {
  await stopsCleanly(bin, ['serve', '--port', '0'], cleanEnv());
  await stopsCleanly(process.execPath, [bin, 'serve', '--port', '0'], cleanEnv());
}, 90_000);
