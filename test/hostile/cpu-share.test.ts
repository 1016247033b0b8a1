/**
 * Hostile script (issue 17): an interval whose every tick uses 0.9 s of CPU, under its 1 s MaxTimeOut, so
 * the per-event watchdog never fires. Over a window of 6 x MaxTimeOut an instance may use at most 5/6 of a
 * core: this one is stopped after about 6 s (ERR_SCRIPT_CPU_SHARE), its client gets
 * NetConnection.Connect.AppShutdown, and a new client loads it afresh. One at about half a core is not
 * stopped. Live media in another application keeps flowing throughout.
 */
import { RtmpClient } from '../../src/net/rtmp-client';
import { liveProbe, startBed, type Bed } from './hostile-helpers';

jest.setTimeout(60_000);

const ticker = (busyMs: number, everyMs: number): string =>
  [
    'var ticks = 0;',
    `application.onAppStart = function () { setInterval(function () { var end = Date.now() + ${busyMs}; while (Date.now() < end) {} ticks++; }, ${everyMs}); };`,
    'Client.prototype.ticks = function () { return ticks; };',
  ].join('\n');
const XML = '<Application><JSEngine><MaxTimeOut>1</MaxTimeOut></JSEngine></Application>';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({
    hog: { 'Application.xml': XML, 'main.asc': ticker(900, 20) },
    half: { 'Application.xml': XML, 'main.asc': ticker(300, 600) },
  });
});
afterAll(() => bed.close());

it('an interval at ~100 % of a core, each tick under MaxTimeOut, is stopped within the window; half a core is not', async () => {
  const probe = await liveProbe(bed.base);
  const half = await RtmpClient.connect(`${bed.base}/half`);
  const hog = await RtmpClient.connect(`${bed.base}/hog`);
  const codes: string[] = [];
  hog.onStatus = (i) => codes.push(i.code);
  const started = Date.now();
  await new Promise<void>((r) => (hog.onClose = () => r()));
  const took = Date.now() - started;
  expect(codes).toContain('NetConnection.Connect.AppShutdown');
  expect(took).toBeGreaterThan(4000);
  expect(took).toBeLessThan(15_000);
  // The half-core instance kept its client and its ticks.
  const t1 = (await half.call('ticks')) as number;
  await new Promise((r) => setTimeout(r, 3000));
  const t2 = (await half.call('ticks')) as number;
  expect(t2).toBeGreaterThan(t1);
  // The stopped one loads afresh for a new client.
  const again = await RtmpClient.connect(`${bed.base}/hog`);
  expect(typeof (await again.call('ticks'))).toBe('number');
  again.close();
  half.close();
  expect(Math.max(...probe.gaps())).toBeLessThan(500);
  probe.stop();
});
