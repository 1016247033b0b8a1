/**
 * A script that traces in a loop (issue 17: "log lines per second (a script that traces in a loop does not
 * fill the disk)"): at most traceLinesPerSecond lines (1000 by default, 200 here) reach the logs per
 * instance and second; the rest are dropped and counted in one warning a second (ERR_TRACE_RATE); another
 * application's traces are not affected, and lines longer than 64 KB are cut.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink, type LogRecord } from '../../src/logger';
import { makeTempDir, removeDir, until } from '../support';

jest.setTimeout(30_000);

let server: Server;
let url: string;
const apps = makeTempDir('trace-flood');
const records: LogRecord[] = [];
let unsink: () => void;

beforeAll(async () => {
  for (const a of ['noisy', 'quiet']) {
    fs.mkdirSync(path.join(apps, a));
    fs.writeFileSync(
      path.join(apps, a, 'main.asc'),
      [
        'Client.prototype.spam = function (n) { for (var i = 0; i < n; i++) trace("line " + i); return n; };',
        'Client.prototype.say = function (s) { trace(s); return true; };',
        'Client.prototype.huge = function () { var s = "x"; while (s.length < 200000) s += s; trace(s); return s.length; };',
      ].join('\n'),
    );
  }
  unsink = addLogSink((r) => records.push(r), 'trace');
  server = createServer({ appsDir: apps, port: 0, traceLinesPerSecond: 200 });
  url = (await server.listen()).url;
});

afterAll(async () => {
  unsink();
  await server.close();
  removeDir(apps);
});

const traces = (app: string): LogRecord[] => records.filter((r) => r.level === 'trace' && r.namespace === `app:${app}/_definst_`);

test('20,000 trace lines in one call: at most 200 a second are logged, the rest counted in a warning; another app is unaffected', async () => {
  const noisy = await RtmpClient.connect(`${url}/noisy`);
  const quiet = await RtmpClient.connect(`${url}/quiet`);
  const t0 = Date.now();
  expect(await noisy.call('spam', 20_000)).toBe(20_000);
  expect(await quiet.call('say', 'still heard')).toBe(true);
  await until(() => records.some((r) => r.level === 'warn' && /trace\(\) lines dropped/.test(r.message)), 5000);
  const seconds = Math.max(1, Math.ceil((Date.now() - t0) / 1000));
  const logged = traces('noisy').filter((r) => r.message.startsWith('line ')).length;
  const warn = records.find((r) => r.level === 'warn' && /trace\(\) lines dropped/.test(r.message))!;
  const dropped = Number(/(\d+) trace\(\) lines dropped/.exec(warn.message)![1]);
  expect(logged).toBeGreaterThanOrEqual(200);
  expect(logged).toBeLessThanOrEqual(200 * (seconds + 1));
  expect(warn.message).toMatch(/more than 200 per second \[ERR_TRACE_RATE\]/);
  expect(dropped).toBeGreaterThan(10_000);
  expect(traces('quiet').map((r) => r.message)).toContain('still heard');
  noisy.close();
  quiet.close();
});

test('a trace of 200,000 characters is cut to 64 KB', async () => {
  const c = await RtmpClient.connect(`${url}/quiet`);
  await new Promise((r) => setTimeout(r, 1100)); // a fresh second
  expect(await c.call('huge')).toBeGreaterThanOrEqual(200_000);
  const last = traces('quiet').at(-1)!;
  expect(last.message.length).toBeLessThan(66_000);
  expect(last.message).toMatch(/\.\.\. \(\d+ characters\)$/);
  c.close();
});
