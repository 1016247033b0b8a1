/**
 * The bridge interns client ids and method names (ScriptRuntime #intern): after 4096 distinct strings the
 * table starts over on both sides. Thousands of distinct method names (through __resolve) and several
 * clients must all still reach the right method with the right client.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { setLogLevel } from '../../src/logger';
import { makeTempDir, removeDir } from '../support';

let server: Server;
let base: string;
const apps = makeTempDir('bridge-intern');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'names'));
  fs.writeFileSync(
    path.join(apps, 'names', 'main.asc'),
    [
      'application.onConnect = function (client, who) { client.who = who; return true; };',
      'Client.prototype.__resolve = function (name) {',
      '  var self = this;',
      '  return function (x) { return self.who + ":" + name + ":" + x; };',
      '};',
    ].join('\n'),
  );
  setLogLevel('warn');
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

it('answers 9,000 distinct method names from three clients, across two intern table restarts', async () => {
  const clients = await Promise.all(['a', 'b', 'c'].map((who) => RtmpClient.connect(`${base}/names`, { args: [who] })));
  try {
    const expected: string[] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 9000; i++) {
      const c = i % 3;
      const who = ['a', 'b', 'c'][c];
      // Non-ASCII and astral names too: names cross as UTF-16 units.
      const name = i % 500 === 0 ? `m\u00e9\u{1F600}${i}` : `m${i}`;
      expected.push(`${who}:${name}:${i}`);
      calls.push(clients[c].call(name, i));
    }
    expect(await Promise.all(calls)).toEqual(expected);
    // Names seen before the restarts still resolve correctly afterwards.
    expect(await clients[1].call('m1', 'again')).toBe('b:m1:again');
  } finally {
    for (const c of clients) c.close();
  }
});
