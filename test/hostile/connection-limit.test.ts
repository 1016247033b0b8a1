/**
 * Connection counts (issue 17: "per client address and server-wide: connection counts"): at
 * maxConnections (10,000 by default, FMS Vhost.xml ResourceLimits/MaxConnections; 6 here) and
 * maxConnectionsPerAddress (off by default; 3 here) new connections are closed as they arrive, with one
 * warning a second (ERR_CONNECTION_LIMIT); connected clients keep working, and a connection that leaves
 * makes room. RTMFP connections count too.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { parseVhostConfig } from '../../src/server/vhost-config';
import { makeTempDir, removeDir, until } from '../support';

jest.setTimeout(30_000);

let server: Server;
let url: string;
let rtmfp: string;
let port: number;
const apps = makeTempDir('connection-limit');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'app'));
  fs.writeFileSync(path.join(apps, 'app', 'main.asc'), 'Client.prototype.ping2 = function () { return "pong"; };\n');
  server = createServer({ appsDir: apps, port: 0, maxConnections: 6, maxConnectionsPerAddress: 3 });
  const l = await server.listen();
  url = l.url;
  rtmfp = l.rtmfpUrl!;
  port = l.port;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

/** A raw TCP connection from `localAddress`: true if the server answers the handshake's C0+C1 with S0. */
function answered(localAddress: string): Promise<{ ok: boolean; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      resolve({ ok, socket });
    };
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])));
    socket.on('data', () => finish(true));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    setTimeout(() => finish(false), 3000);
  });
}

test('three per address, six in all: the next ones are closed at once, the connected keep working, leaving makes room', async () => {
  const a = await Promise.all([1, 2, 3].map(() => RtmpClient.connect(`${url}/app`)));
  // A fourth from 127.0.0.1 is over the per-address limit; over RTMFP too.
  await expect(RtmpClient.connect(`${url}/app`)).rejects.toBeTruthy();
  await expect(RtmpClient.connect(`${rtmfp}/app`)).rejects.toBeTruthy();
  // Other addresses are welcome until the server has six.
  const others = [];
  for (const ip of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    const r = await answered(ip);
    expect([ip, r.ok]).toEqual([ip, true]);
    others.push(r.socket);
  }
  const seventh = await answered('127.0.0.5');
  expect(seventh.ok).toBe(false);
  for (const c of a) expect(await c.call('ping2')).toBe('pong');
  // One leaves: room for one more.
  others[0]!.destroy();
  await until(() => server.sessions.size === 5, 5000);
  const again = await answered('127.0.0.5');
  expect(again.ok).toBe(true);
  again.socket.destroy();
  for (const s of others) s.destroy();
  for (const c of a) c.close();
  await until(() => server.sessions.size === 0, 5000);
  const back = await RtmpClient.connect(`${url}/app`);
  expect(await back.call('ping2')).toBe('pong');
  back.close();
});

test('Vhost.xml ResourceLimits/MaxConnections is read (-1: the server setting)', () => {
  const read = (v: string) => parseVhostConfig(`<VirtualHost><ResourceLimits><MaxConnections>${v}</MaxConnections></ResourceLimits></VirtualHost>`, 'Vhost.xml').maxConnections;
  expect(read('500')).toBe(500);
  expect(read('-1')).toBeUndefined();
  expect(() => createServer({ appsDir: apps, port: 0, maxConnections: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
});
