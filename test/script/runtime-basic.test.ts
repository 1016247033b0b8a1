import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink, setLogLevel } from '../../src/logger';
import { makeTempDir, removeDir } from '../support';

let server: Server;
let base: string;
const apps = makeTempDir('rt-basic');
const traces: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'app1'));
  fs.writeFileSync(
    path.join(apps, 'app1', 'main.asc'),
    [
      'application.onAppStart = function () { started = true; trace("started " + application.name); };',
      'application.onConnect = function (client, who) {',
      '  if (who == "bad") { application.rejectConnection(client, { message: "go away" }); return; }',
      '  return true;',
      '};',
      'Client.prototype.add = function (a, b) { return a + b; };',
      'Client.prototype.boom = function () { null.x; };',
    ].join('\r\n'),
  );
  setLogLevel('debug');
  addLogSink((r) => traces.push(`${r.level} ${r.namespace} ${r.message}`));
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

it('runs onAppStart, accepts, calls prototype methods', async () => {
  const c = await RtmpClient.connect(`${base}/app1`, { args: ["me"] }).catch((e) => { console.log(traces.join("\n")); throw e; });
  expect(await c.call('add', 2, 3)).toBe(5);
  await expect(c.call('boom')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
  const err = await RtmpClient.connect(`${base}/app1`, { args: ['bad'] }).catch((e) => e);
  expect(err.info).toMatchObject({ code: 'NetConnection.Connect.Rejected', application: { message: 'go away' } });
  c.close();
  console.log(traces.filter((t) => !t.startsWith('debug')).join('\n'));
});
