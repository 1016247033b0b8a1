/**
 * The shell in a real terminal: the built CLI (`node scripts/ssas.js repl`) runs in a tmux pane of fixed
 * size; keys go in with send-keys and the screen comes back with capture-pane. Covers what only a real TTY
 * shows: colour, line editing, completion, events drawn above the line being typed, a runaway statement
 * stopped by Ctrl-C, history on disk, and Ctrl-D ending the process and its server.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RtmpClient } from '../../src/net/rtmp-client';
import { copyDir, makeTempDir, removeDir, until } from '../support';
import { fixtureApps } from './repl-helpers';

const TMUX = '/usr/bin/tmux';
const socket = `ssas-repl-test-${process.pid}`;
const root = path.join(__dirname, '..', '..');
let tmp: string;
let url = '';

const tmux = (...args: string[]): string => execFileSync(TMUX, ['-L', socket, ...args], { encoding: 'utf8' });
const screen = (escapes = false): string => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'repl');
const keys = (...k: string[]): void => void tmux('send-keys', '-t', 'repl', ...k);
/** Types text literally (no key-name interpretation). */
const text = (s: string): void => void tmux('send-keys', '-t', 'repl', '-l', s);
const lastLine = (): string => screen().trimEnd().split('\n').pop() ?? '';

async function see(re: RegExp, ms = 8000): Promise<string> {
  let s = '';
  await until(() => re.test((s = screen())), ms, `screen ${re}`, () => s);
  return s;
}

beforeAll(async () => {
  tmp = makeTempDir('repl-tmux');
  copyDir(fixtureApps, path.join(tmp, 'apps'));
  const cmd = [
    `cd ${JSON.stringify(root)}`,
    `env SSAS_REPL_HISTORY=${JSON.stringify(path.join(tmp, 'history'))} ${JSON.stringify(process.execPath)} scripts/ssas.js repl --apps ${JSON.stringify(path.join(tmp, 'apps'))} --port 0 shell`,
  ].join(' && ');
  const record = `; echo $? > ${JSON.stringify(path.join(tmp, 'exit-status'))}`;
  tmux('new-session', '-d', '-s', 'repl', '-x', '110', '-y', '40', cmd + record);
  const s = await see(/shell\/_definst_> ?$/m, 20_000);
  url = /ssas listening on (rtmp:\/\/\S+)/.exec(s)![1]!;
}, 30_000);

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // already gone with its last session
  }
  // tmux leaves its socket file behind.
  fs.rmSync(path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid!()}`, socket), { force: true });
  removeDir(tmp);
});

it('evaluates with colour, continues lines, completes with Tab', async () => {
  text('double(21)');
  keys('Enter');
  await see(/^42$/m);
  // Numbers are yellow, as in Node's REPL.
  expect(screen(true)).toMatch(/\u001b\[33m42/);
  text('function q(x) {');
  keys('Enter');
  await see(/^\.\.\. ?$/m);
  text('return x + 1');
  keys('Enter');
  text('}');
  keys('Enter');
  text('q(1)');
  keys('Enter');
  await see(/^> ?q\(1\)\n2$|q\(1\)\n2$/m);
  text('gree');
  keys('Tab');
  await until(() => lastLine().endsWith('> greeting'), 5000, 'completion', () => screen());
  keys('Enter');
  await see(/^'hello'$/m);
});

it('prints trace output and clients above the prompt without breaking the line being typed', async () => {
  text('double(');
  await until(() => lastLine().endsWith('> double('), 5000, 'typed', () => screen());
  const c = await RtmpClient.connect(`${url}/shell`, { args: ['tmux'] });
  try {
    await c.call('hello', 'pane');
    await see(/trace hello from pane\n(.*\n)*shell\/_definst_> double\($/m);
    const s = await see(/\* client \w+ connected from 127\.0\.0\.1 \(WIN 10,0,32,18\)\n(.*\n)*shell\/_definst_> double\($/m);
    expect(s).toMatch(/trace connect tmux/);
  } finally {
    c.close();
  }
  text('4)');
  keys('Enter');
  await see(/double\(4\)\n(.*\n)*8$/m);
});

it('Ctrl-C stops a statement that never ends, leaving the instance and a connected client as they were; Ctrl-C cancels a line', async () => {
  const c = await RtmpClient.connect(`${url}/shell`, { args: ['stays'] });
  const codes: string[] = [];
  c.onStatus = (i) => codes.push(i.code);
  try {
    await see(/client \w+ connected/);
    // The host call hands the trace over at once: once it shows, the loop runs.
    text('trace("looping"); Stream.length("none"); while (true) {}');
    keys('Enter');
    await see(/trace looping/);
    // Past the instance's MaxTimeOut (1 s): only Ctrl-C stops a shell statement.
    await new Promise((r) => setTimeout(r, 1200));
    keys('C-c');
    await see(/interrupted: the statement was stopped; shell\/_definst_ and its clients are as they were/, 5000);
    await see(/shell\/_definst_> ?$/m);
    expect(screen()).not.toMatch(/loaded again|unloaded|time limit/);
    expect(c.closed).toBe(false);
    expect(await c.call('hello', 'still here')).toBe('hi still here');
    expect(codes).not.toContain('NetConnection.Connect.AppShutdown');
  } finally {
    c.close();
  }
  text('double(99');
  keys('C-c');
  await until(() => lastLine() === 'shell/_definst_>', 5000, 'cleared', () => screen());
  text('greeting');
  keys('Enter');
  await see(/greeting\n(.*\n)*'hello'$/m);
  // double(99) was cancelled, never evaluated: no line of its result (client ids like 00001981E may hold "198").
  expect(screen()).not.toMatch(/^198$/m);
}, 20_000);

it('Ctrl-D ends the shell and the server; history is on disk', async () => {
  keys('C-d');
  // The shell in the pane records the exit status (tmux itself may reap its child late).
  const exitFile = path.join(tmp, 'exit-status');
  await until(() => fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').endsWith('\n'), 10_000, 'exit', () => screen());
  expect(fs.readFileSync(exitFile, 'utf8')).toBe('0\n');
  const err = await RtmpClient.connect(`${url}/shell`, { timeoutMs: 2000 }).catch((e) => e);
  expect(String(err.message)).toMatch(/ECONNREFUSED/);
  const history = fs.readFileSync(path.join(tmp, 'history'), 'utf8').split('\n');
  expect(history).toEqual(expect.arrayContaining(['double(21)', 'q(1)', 'greeting', 'trace("looping"); Stream.length("none"); while (true) {}', 'double(4)']));
  expect(history).not.toContain('double(99');
});

it('without an application, offers the applications to choose from (enquirer)', async () => {
  const exitFile = path.join(tmp, 'pick-status');
  const cmd = `cd ${JSON.stringify(root)} && env SSAS_REPL_HISTORY= ${JSON.stringify(process.execPath)} scripts/ssas.js repl --apps ${JSON.stringify(path.join(tmp, 'apps'))} --port 0; echo $? > ${JSON.stringify(exitFile)}`;
  tmux('new-session', '-d', '-s', 'pick', '-x', '110', '-y', '30', cmd);
  const pane = (): string => tmux('capture-pane', '-p', '-t', 'pick');
  let s = '';
  await until(() => /Application or instance to open/.test((s = pane())), 20_000, 'picker', () => s);
  await until(() => /broken/.test((s = pane())) && /plain/.test(s) && /shell/.test(s), 5000, 'choices', () => s);
  tmux('send-keys', '-t', 'pick', '-l', 'she');
  await until(() => !/plain/.test((s = pane())), 5000, 'filtered', () => s);
  tmux('send-keys', '-t', 'pick', 'Enter');
  await until(() => /shell\/_definst_> ?$/m.test((s = pane())), 10_000, 'prompt', () => s);
  tmux('send-keys', '-t', 'pick', '-l', 'application.name');
  tmux('send-keys', '-t', 'pick', 'Enter');
  await until(() => /'shell\/_definst_'/.test((s = pane())), 5000, 'evaluated', () => s);
  tmux('send-keys', '-t', 'pick', '-l', '.exit');
  tmux('send-keys', '-t', 'pick', 'Enter');
  await until(() => fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').endsWith('\n'), 10_000, 'exit', () => pane());
  expect(fs.readFileSync(exitFile, 'utf8')).toBe('0\n');
}, 40_000);
