/**
 * Instances created through URLs (issue 17: "app/r0 ... app/r299: 300 instances add 300-400 MB ...
 * nothing caps the count"). maxAppInstances (FMS Vhost.xml ResourceLimits/MaxAppInstances; 250 by
 * default, 3 here): a connect that would load one more instance is rejected with
 * NetConnection.Connect.Rejected, the loaded instances keep serving, and once one unloads a new one loads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { parseVhostConfig } from '../../src/server/vhost-config';
import { makeTempDir, removeDir, until } from '../support';

jest.setTimeout(60_000);

let server: Server;
let url: string;
const apps = makeTempDir('instance-limit');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'rooms'));
  fs.writeFileSync(path.join(apps, 'rooms', 'main.asc'), 'Client.prototype.where = function () { return application.name; };\n');
  fs.writeFileSync(path.join(apps, 'rooms', 'Application.xml'), '<Application><MaxAppIdleTime>1</MaxAppIdleTime></Application>');
  server = createServer({ appsDir: apps, port: 0, maxAppInstances: 3 });
  url = (await server.listen()).url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

test('the fourth instance is refused while three are loaded; when one unloads, a new one loads', async () => {
  const clients = [];
  for (const r of ['r0', 'r1', 'r2']) clients.push(await RtmpClient.connect(`${url}/rooms/${r}`));
  const refused = await RtmpClient.connect(`${url}/rooms/r3`).then(
    () => null,
    (err: { info?: { code?: string; description?: string } }) => err.info ?? err,
  );
  expect(refused).toMatchObject({ code: 'NetConnection.Connect.Rejected', description: expect.stringContaining('MaxAppInstances 3') });
  // An instance already loaded still takes clients, and the others keep serving.
  const again = await RtmpClient.connect(`${url}/rooms/r1`);
  expect(await again.call('where')).toBe('rooms/r1');
  expect(await clients[0]!.call('where')).toBe('rooms/r0');
  again.close();
  // r2's last client leaves; after MaxAppIdleTime its instance unloads and r3 can load.
  clients[2]!.close();
  await until(() => !server.instances.has('rooms/r2'), 20_000);
  const r3 = await RtmpClient.connect(`${url}/rooms/r3`);
  expect(await r3.call('where')).toBe('rooms/r3');
  r3.close();
  for (const c of clients.slice(0, 2)) c.close();
});

test('Vhost.xml ResourceLimits/MaxAppInstances is read and checked', () => {
  expect(parseVhostConfig('<VirtualHost><ResourceLimits><MaxAppInstances>42</MaxAppInstances></ResourceLimits></VirtualHost>', 'Vhost.xml').maxAppInstances).toBe(42);
  expect(() => parseVhostConfig('<VirtualHost><ResourceLimits><MaxAppInstances>0</MaxAppInstances></ResourceLimits></VirtualHost>', 'Vhost.xml')).toThrow(
    expect.objectContaining({ code: 'ERR_VHOST_CONFIG' }),
  );
  expect(() => createServer({ appsDir: apps, port: 0, maxAppInstances: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
});
