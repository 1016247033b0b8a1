/**
 * FMS-style per-instance application logs (`--logs DIR`): trace() and script errors of each instance in
 * DIR/_defaultVHost_/APP/INSTANCE/application.00.log, W3C header, tab-separated fields, history rotation.
 * Through a real server and client, the real `ssas serve` process, and a folder that cannot be written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import { RtmpClient } from '../../src/net/rtmp-client';
import { ApplicationLogWriter, appLogHeader, appLogLine, appLogStatus, instanceOfNamespace } from '../../src/server/app-log';
import { addLogSink, getLogLevel, setLogLevel, type LogRecord } from '../../src/logger';
import { killAllTracked, makeTempDir, removeDir, startSsasServe } from '../support';

const root = makeTempDir('applog');
const apps = path.join(root, 'apps');

const MAIN = String.raw`
trace("started " + application.name);
Client.prototype.say = function (text) { trace(text); return true; };
Client.prototype.fail = function () { null.x = 1; };
`;

beforeAll(() => {
  fs.mkdirSync(path.join(apps, 'chat'), { recursive: true });
  fs.writeFileSync(path.join(apps, 'chat', 'main.asc'), MAIN);
});

afterAll(async () => {
  await killAllTracked();
  removeDir(root);
});

const rec = (level: LogRecord['level'], message: string, namespace = 'app:chat/room'): LogRecord => ({
  time: new Date(2026, 11, 2, 9, 5, 7),
  level,
  namespace,
  message,
});

describe('format', () => {
  it('header, fields and x-status codes as FMS wrote them', () => {
    expect(appLogHeader(new Date(2026, 0, 3, 4, 5, 6), 'Flash Media Server 3,5,7,7009 (ssas)')).toBe(
      '#Version: 1.0\n#Start-Date: 2026-01-03 04:05:06\n#Software: Flash Media Server 3,5,7,7009 (ssas)\n#Date: 2026-01-03\n#Fields: date\ttime\tx-pid\tx-status\tx-ctx\n',
    );
    expect(appLogLine(rec('trace', 'hello'), 42)).toBe('2026-12-02\t09:05:07\t42\t(s)2641173\thello\n');
    expect(appLogStatus(rec('error', 'Application.Script.Error: TypeError: x'))).toBe('(e)2640000');
    expect(appLogStatus(rec('warn', 'script heap at 85 % of its limit'))).toBe('(w)2650000');
    expect(appLogStatus(rec('info', 'instance created'))).toBe('(i)2650000');
    // Every record stays one line with five fields.
    const line = appLogLine(rec('trace', 'a\tb\nc\r\\d'), 1);
    expect(line).toBe('2026-12-02\t09:05:07\t1\t(s)2641173\ta\\tb\\nc\\r\\\\d\n');
    expect(appLogLine(rec('trace', ''), 1).split('\t')[4]).toBe('-\n');
  });

  it('only records of an instance, with a safe instance path, go to a file', () => {
    expect(instanceOfNamespace('app:chat/room')).toEqual(['chat', 'room']);
    expect(instanceOfNamespace('app:chat/room/sub')).toEqual(['chat', 'room/sub']);
    for (const ns of ['server', 'app:chat', 'app:/x', 'app:chat/', 'app:chat/../x', 'app:chat/a//b', 'streams']) expect(instanceOfNamespace(ns)).toBeNull();
  });
});

describe('with a server', () => {
  it('trace() and script errors of each instance land in its own file, even when the console shows only errors', async () => {
    const logs = path.join(root, 'logs1');
    const writer = new ApplicationLogWriter({ dir: logs, software: 'test' });
    writer.attach();
    const level = getLogLevel();
    setLogLevel('error');
    const server = createServer({ appsDir: apps, port: 0 });
    const { url } = await server.listen();
    try {
      const a = await RtmpClient.connect(`${url}/chat/room`);
      const b = await RtmpClient.connect(`${url}/chat/lobby/east`);
      expect(await a.call('say', 'tab\there')).toBe(true);
      expect(await b.call('say', 'from the east')).toBe(true);
      await expect(a.call('fail')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
      await writer.flush();
      const room = fs.readFileSync(writer.fileOf('chat', 'room'), 'utf8');
      const east = fs.readFileSync(path.join(logs, '_defaultVHost_', 'chat', 'lobby', 'east', 'application.00.log'), 'utf8');
      expect(room.startsWith('#Version: 1.0\n')).toBe(true);
      const lines = room.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const fields = lines.map((l) => l.split('\t'));
      for (const f of fields) {
        expect(f).toHaveLength(5);
        expect(f[2]).toBe(String(process.pid));
      }
      expect(fields.filter((f) => f[3] === '(s)2641173').map((f) => f[4])).toEqual(['started chat/room', 'tab\\there']);
      expect(fields.some((f) => f[3] === '(e)2640000' && /TypeError/.test(f[4]!))).toBe(true);
      expect(east).toContain('\t(s)2641173\tfrom the east\n');
      expect(east).not.toContain('tab\\there');
      a.close();
      b.close();
    } finally {
      setLogLevel(level);
      await server.close();
      await writer.close();
    }
  });

  it('keeps history: the first write of a process and a full file move 00 to 01 ..., the oldest goes', async () => {
    const logs = path.join(root, 'logs2');
    const dir = path.join(logs, '_defaultVHost_', 'chat', 'room');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'application.00.log'), 'older run\n');
    fs.writeFileSync(path.join(dir, 'application.01.log'), 'oldest run\n');
    const writer = new ApplicationLogWriter({ dir: logs, software: 'test', maxBytes: 400, history: 3 });
    writer.attach();
    const server = createServer({ appsDir: apps, port: 0 });
    const { url } = await server.listen();
    try {
      const a = await RtmpClient.connect(`${url}/chat/room`);
      await writer.flush();
      expect(fs.readFileSync(path.join(dir, 'application.01.log'), 'utf8')).toBe('older run\n');
      expect(fs.readFileSync(path.join(dir, 'application.02.log'), 'utf8')).toBe('oldest run\n');
      // Past 400 bytes the file rotates again; only 3 files are kept.
      for (let i = 0; i < 6; i++) {
        await a.call('say', `message ${i} ${'x'.repeat(60)}`);
        await writer.flush();
      }
      const files = fs.readdirSync(dir).sort();
      expect(files).toEqual(['application.00.log', 'application.01.log', 'application.02.log']);
      const all = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
      expect(all).not.toContain('oldest run');
      expect(all).toContain('message 5');
      for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThan(400 + 200);
      a.close();
    } finally {
      await server.close();
      await writer.close();
    }
  });

  it('a logs folder that cannot be written is reported once; the server keeps serving', async () => {
    const blocked = path.join(root, 'blocked');
    fs.writeFileSync(blocked, 'a file, not a folder');
    const errors: string[] = [];
    const remove = addLogSink((r) => {
      if (r.namespace === 'app-log') errors.push(r.message);
    });
    const writer = new ApplicationLogWriter({ dir: blocked, software: 'test' });
    writer.attach();
    const server = createServer({ appsDir: apps, port: 0 });
    const { url } = await server.listen();
    try {
      const a = await RtmpClient.connect(`${url}/chat/room`);
      for (let i = 0; i < 3; i++) {
        expect(await a.call('say', `x${i}`)).toBe(true);
        await writer.flush();
      }
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/cannot write .*application\.00\.log/);
      a.close();
    } finally {
      remove();
      await server.close();
      await writer.close();
    }
  });
});

it('ssas serve --logs DIR writes the application log and finishes it on SIGTERM', async () => {
  const logs = path.join(root, 'logs-cli');
  const { proc, url } = await startSsasServe(['--apps', apps, '--logs', logs, '--log-level', 'warn']);
  const c = await RtmpClient.connect(`${url}/chat/cli`);
  expect(await c.call('say', 'via the command line')).toBe(true);
  c.close();
  const exit = await proc.kill();
  expect(exit.code).toBe(0);
  const text = fs.readFileSync(path.join(logs, '_defaultVHost_', 'chat', 'cli', 'application.00.log'), 'utf8');
  expect(text).toMatch(/^#Version: 1\.0\n#Start-Date: .*\n#Software: Flash Media Server \S+ \(ssas\)\n/);
  expect(text).toMatch(/\t\d+\t\(s\)2641173\tvia the command line\n/);
}, 30_000);
