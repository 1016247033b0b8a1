/**
 * The server-wide Application.xml (`<apps>/Application.xml`, FMS's vhost-level file) through a real server
 * and client: every application starts from it, its own Application.xml overrides element by element, and
 * `override="no"` keeps a setting the server's (here a one-second MaxTimeOut an application asks to raise).
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { runCheck } from '../../src/cli/check';
import { makeTempDir, removeDir } from '../support';

const apps = makeTempDir('serverwide');
let server: Server;
let base: string;

const MAIN = String.raw`
Client.prototype.config = function () { return [application.config.site, application.config.region]; };
Client.prototype.spin = function () { for (;;) {} };
`;

beforeAll(async () => {
  fs.writeFileSync(
    path.join(apps, 'Application.xml'),
    '<Application><JSEngine><MaxTimeOut override="no">1</MaxTimeOut><ApplicationObject><config><site>main</site><region>eu</region></config></ApplicationObject></JSEngine></Application>',
  );
  for (const name of ['plain', 'own']) {
    fs.mkdirSync(path.join(apps, name));
    fs.writeFileSync(path.join(apps, name, 'main.asc'), MAIN);
  }
  fs.writeFileSync(
    path.join(apps, 'own', 'Application.xml'),
    '<Application><JSEngine><MaxTimeOut>30</MaxTimeOut><ApplicationObject><config><region>us</region></config></ApplicationObject></JSEngine></Application>',
  );
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  await server?.close();
  removeDir(apps);
});

it('application.config comes from the server-wide file, overridden key by key by the application', async () => {
  const plain = await RtmpClient.connect(`${base}/plain`);
  const own = await RtmpClient.connect(`${base}/own`);
  expect(await plain.call('config')).toEqual(['main', 'eu']);
  expect(await own.call('config')).toEqual(['main', 'us']);
  plain.close();
  own.close();
});

it('a MaxTimeOut locked with override="no" stops a loop after 1 s although the application asks for 30', async () => {
  const own = await RtmpClient.connect(`${base}/own`);
  const t0 = Date.now();
  await expect(own.call('spin')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
  expect(Date.now() - t0).toBeLessThan(10_000);
  own.close();
}, 20_000);

it('a malformed server-wide file stops the server from starting', async () => {
  const bad = makeTempDir('serverwide-bad');
  try {
    fs.writeFileSync(path.join(bad, 'Application.xml'), '<Application><JSEngine><MaxTimeOut>x</MaxTimeOut></JSEngine></Application>');
    const s = createServer({ appsDir: bad, port: 0 });
    await expect(s.listen()).rejects.toMatchObject({ code: 'ERR_APP_CONFIG' });
    await s.close();
    // ssas check reads it as serve does and reports it for every application.
    fs.mkdirSync(path.join(bad, 'app'));
    fs.writeFileSync(path.join(bad, 'app', 'main.asc'), 'trace(1);');
    const report = await runCheck(bad);
    expect(report.errors).toBe(1);
    expect(report.apps[0]!.notes[0]!.message).toMatch(/^Application\.xml: .*MaxTimeOut/);
    expect((await runCheck(apps)).errors).toBe(0);
  } finally {
    removeDir(bad);
  }
});
