/**
 * A client that floods an application with calls (issue 17: "100,000-200,000 calls of 1 KB to a method
 * that takes 2 ms: the call queue has no bound ... the instance dies"). At limits.maxPendingCalls (256)
 * calls waiting for the script, ssas stops reading that client until half are answered: every call is
 * still answered, in order; the calls waiting at the server stay bounded; and another client's call is
 * answered after at most about 256 of the flooder's, not after all of them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir } from '../support';

jest.setTimeout(90_000);

const APP = String.raw`
Client.prototype.slow = function (n, pad) {
  var end = Date.now() + 2;
  while (Date.now() < end) {}
  return n * 2 + pad.length;
};
Client.prototype.quick = function () { return "ok"; };
`;

let server: Server;
let rtmp: string;
let rtmfp: string;
const apps = makeTempDir('call-flood');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'flood'));
  fs.writeFileSync(path.join(apps, 'flood', 'main.asc'), APP);
  server = createServer({ appsDir: apps, port: 0 });
  const l = await server.listen();
  rtmp = l.url;
  rtmfp = l.rtmfpUrl!;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

const CALLS = 5000;
const PAD = 'x'.repeat(1000);

describe.each([
  ['RTMP', () => rtmp],
  ['RTMFP', () => rtmfp],
])('%s', (_name, base) => {
  test(`${CALLS} calls of 1 KB to a 2 ms method, sent at once: all answered in order, at most ~256 waiting at the server, another client answered meanwhile`, async () => {
    const flooder = await RtmpClient.connect(`${base()}/flood`);
    const other = await RtmpClient.connect(`${base()}/flood`);
    expect(await other.call('quick')).toBe('ok'); // the instance is warm
    let peak = 0;
    const sampler = setInterval(() => {
      for (const s of server.sessions) peak = Math.max(peak, s.callsInFlight);
    }, 5);
    const started = Date.now();
    const answers = Array.from({ length: CALLS }, (_, i) => flooder.call('slow', i, PAD));
    // Once the flood is queued at the server, another client of the same instance asks something.
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    expect(await other.call('quick')).toBe('ok');
    const otherMs = Date.now() - t0;
    const results = await Promise.all(answers);
    const floodMs = Date.now() - started;
    clearInterval(sampler);
    process.stderr.write(`${_name} call flood: ${CALLS} calls in ${floodMs} ms, at most ${peak} waiting at the server, another client answered in ${otherMs} ms\n`);
    expect(results).toEqual(Array.from({ length: CALLS }, (_, i) => i * 2 + 1000));
    expect(peak).toBeGreaterThanOrEqual(200); // the flood really queued
    expect(peak).toBeLessThanOrEqual(256 + 128); // the limit, plus what one read of the socket / one burst held
    // Without the limit the other call waits behind the whole flood (5000 x 2 ms = 10 s).
    expect(otherMs).toBeLessThan(4000);
    flooder.close();
    other.close();
  });
});

test('limits.maxPendingCalls is checked', () => {
  expect(() => createServer({ appsDir: apps, port: 0, limits: { maxPendingCalls: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
});
