/**
 * A script that opens NetConnections in a loop (issue 17: "per application instance: ... server-side
 * NetConnections"): an instance may have 256 connecting or connected at once; the next connect() gives
 * NetConnection.Connect.Failed at once (and a warning, ERR_NETCONNECTION_LIMIT); closing some makes room.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir, until } from '../support';

jest.setTimeout(60_000);

let server: Server;
let url: string;
const apps = makeTempDir('nc-limit');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'dialer'));
  fs.mkdirSync(path.join(apps, 'target'));
  fs.writeFileSync(
    path.join(apps, 'dialer', 'main.asc'),
    [
      'var ncs = [], codes = {};',
      'Client.prototype.dial = function (uri, n) {',
      '  for (var i = 0; i < n; i++) {',
      '    var nc = new NetConnection();',
      '    nc.onStatus = function (info) { codes[info.code] = (codes[info.code] || 0) + 1; };',
      '    nc.connect(uri);',
      '    ncs.push(nc);',
      '  }',
      '  return ncs.length;',
      '};',
      'Client.prototype.codes = function () { return codes; };',
      'Client.prototype.hangUp = function (n) { for (var i = 0; i < n; i++) ncs.shift().close(); codes = {}; return ncs.length; };',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(apps, 'target', 'main.asc'), '');
  server = createServer({ appsDir: apps, port: 0 });
  url = (await server.listen()).url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

test('300 NetConnections asked for: 256 connect, 44 fail at once; after closing 10, 10 of 12 more connect', async () => {
  const c = await RtmpClient.connect(`${url}/dialer`);
  expect(await c.call('dial', `${url}/target`, 300)).toBe(300);
  await until(async () => {
    const codes = (await c.call('codes')) as Record<string, number>;
    return (codes['NetConnection.Connect.Success'] ?? 0) + (codes['NetConnection.Connect.Failed'] ?? 0) === 300;
  }, 30_000);
  expect(await c.call('codes')).toEqual({ 'NetConnection.Connect.Success': 256, 'NetConnection.Connect.Failed': 44 });
  // The 44 that failed hold nothing; closing 10 of the connected leaves room for exactly 10.
  expect(await c.call('hangUp', 10)).toBe(290);
  expect(await c.call('dial', `${url}/target`, 12)).toBe(302);
  await until(async () => {
    const codes = (await c.call('codes')) as Record<string, number>;
    return (codes['NetConnection.Connect.Success'] ?? 0) + (codes['NetConnection.Connect.Failed'] ?? 0) >= 12;
  }, 20_000);
  const after = (await c.call('codes')) as Record<string, number>;
  expect(after['NetConnection.Connect.Success']).toBe(10);
  expect(after['NetConnection.Connect.Failed']).toBe(2);
  c.close();
});
