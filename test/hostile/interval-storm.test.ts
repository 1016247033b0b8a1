/**
 * An interval storm (issue 17: "timers (setInterval storms)"): a script asks for 5,000 intervals of 1 ms.
 * An instance may have 1,000 at once: setInterval beyond that returns -1 and one warning a second says so
 * (ERR_INTERVAL_LIMIT); the instance keeps answering, and once intervals are cleared new ones are granted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink, type LogRecord } from '../../src/logger';
import { makeTempDir, removeDir } from '../support';

jest.setTimeout(30_000);

let server: Server;
let url: string;
const apps = makeTempDir('interval-storm');
const records: LogRecord[] = [];
let unsink: () => void;

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'storm'));
  fs.writeFileSync(
    path.join(apps, 'storm', 'main.asc'),
    [
      'var ids = [], ticks = 0;',
      'Client.prototype.storm = function (n) { var ok = 0; for (var i = 0; i < n; i++) { var id = setInterval(function () { ticks++; }, 1); if (id != -1) { ids.push(id); ok++; } } return ok; };',
      'Client.prototype.calm = function () { for (var i = 0; i < ids.length; i++) clearInterval(ids[i]); var n = ids.length; ids = []; return n; };',
      'Client.prototype.ticks = function () { return ticks; };',
    ].join('\n'),
  );
  unsink = addLogSink((r) => records.push(r), 'warn');
  server = createServer({ appsDir: apps, port: 0 });
  url = (await server.listen()).url;
});

afterAll(async () => {
  unsink();
  await server.close();
  removeDir(apps);
});

test('5,000 intervals asked for: 1,000 granted, the rest -1 with a warning; the instance still answers; after clearing, new ones are granted', async () => {
  const c = await RtmpClient.connect(`${url}/storm`);
  expect(await c.call('storm', 5000)).toBe(1000);
  expect(records.some((r) => /setInterval refused: the instance has 1000 intervals, its limit \[ERR_INTERVAL_LIMIT\]/.test(r.message))).toBe(true);
  // A thousand 1 ms intervals keep the instance busy, but it answers.
  const t0 = Date.now();
  const before = (await c.call('ticks')) as number;
  await new Promise((r) => setTimeout(r, 500));
  const after = (await c.call('ticks')) as number;
  expect(after).toBeGreaterThan(before);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(await c.call('calm')).toBe(1000);
  expect(await c.call('storm', 10)).toBe(10);
  expect(await c.call('calm')).toBe(10);
  c.close();
});
