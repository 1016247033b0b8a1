/**
 * Hostile script: an event handler that never returns. The watchdog stops it after MaxTimeOut seconds of
 * CPU, the instance is unloaded (connected clients get NetConnection.Connect.AppShutdown), the next connect
 * loads it afresh, and a live stream in another application never stalls meanwhile.
 */
import { RtmpClient } from '../../src/net/rtmp-client';
import { liveProbe, startBed, until, type Bed } from './hostile-helpers';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({
    spin: {
      'Application.xml': '<Application><JSEngine><MaxTimeOut>1</MaxTimeOut></JSEngine></Application>',
      'main.asc': [
        'loads = (typeof loads == "number") ? loads + 1 : 1;',
        'Client.prototype.spin = function () { for (;;) {} };',
        'Client.prototype.ok = function () { return "fine"; };',
        'application.onConnect = function (c, how) { if (how == "spin") { while (true) {} } return true; };',
      ].join('\n'),
    },
  });
});
afterAll(() => bed.close());

it('a method that loops forever is stopped; its clients get AppShutdown; the app reloads; live media keeps flowing', async () => {
  const probe = await liveProbe(bed.base);
  const a = await RtmpClient.connect(`${bed.base}/spin`);
  const b = await RtmpClient.connect(`${bed.base}/spin`);
  const codes: string[] = [];
  b.onStatus = (i) => codes.push(i.code);
  const bClosed = new Promise<void>((r) => (b.onClose = () => r()));
  const before = probe.received();
  const started = Date.now();
  const err = await a.call('spin').catch((e) => e);
  const took = Date.now() - started;
  expect(err.info.code).toBe('NetConnection.Call.Failed');
  await bClosed;
  expect(codes).toContain('NetConnection.Connect.AppShutdown');
  expect(took).toBeGreaterThanOrEqual(900);
  expect(took).toBeLessThan(5000);
  // ~200 heartbeats per second kept arriving while the script spun.
  expect(probe.received() - before).toBeGreaterThan((took / 5) * 0.5);
  expect(Math.max(...probe.gaps())).toBeLessThan(250);
  // Reloaded on the next connect.
  const c = await RtmpClient.connect(`${bed.base}/spin`);
  expect(await c.call('ok')).toBe('fine');
  c.close();
  probe.stop();
}, 30_000);

it('an onConnect that never returns rejects that connect and unloads the instance', async () => {
  const err = await RtmpClient.connect(`${bed.base}/spin`, { args: ['spin'] }).catch((e) => e);
  expect(err.info.code).toBe('NetConnection.Connect.Rejected');
  expect(err.info.description).toMatch(/time limit/);
  await until(() => !bed.server.instances.has('spin/_definst_'));
  const c = await RtmpClient.connect(`${bed.base}/spin`);
  expect(await c.call('ok')).toBe('fine');
  c.close();
}, 30_000);
