/** Application.Resource.LowMemory reaches application.onStatus before the script runs out of memory. */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import { RtmpClient } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir } from '../support';

it('warns the script when its heap passes 80 % of RuntimeSize', async () => {
  const apps = makeTempDir('lowmem');
  fs.mkdirSync(path.join(apps, 'grow'));
  fs.writeFileSync(path.join(apps, 'grow', 'Application.xml'), '<Application><JSEngine><RuntimeSize>32768</RuntimeSize></JSEngine></Application>');
  fs.writeFileSync(
    path.join(apps, 'grow', 'main.asc'),
    [
      'var keep = [], statuses = [];',
      'application.onStatus = function (info) { statuses.push(info.code + "/" + info.level); };',
      'Client.prototype.grow = function (mb) { for (var i = 0; i < mb; i++) keep.push(new Array(131072).fill(i + Math.random())); return keep.length; };',
      'Client.prototype.statuses = function () { return statuses; };',
    ].join('\n'),
  );
  const server = createServer({ appsDir: apps, port: 0 });
  const { url } = await server.listen();
  const c = await RtmpClient.connect(`${url}/grow`);
  await c.call('grow', 27);
  let st: unknown[] = [];
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    st = (await c.call('statuses')) as unknown[];
    if (st.length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(st).toContain('Application.Resource.LowMemory/warning');
  // Still alive and answering.
  expect(await c.call('grow', 0)).toBe(27);
  c.close();
  await server.close();
  removeDir(apps);
});
