/**
 * Hostile script: a method that allocates without end. isolated-vm's memory limit (RuntimeSize) stops it;
 * the instance is unloaded without onAppStop (as FMS did on out-of-memory), its clients get AppShutdown,
 * other instances keep running, and the server process stays healthy.
 */
import { RtmpClient } from '../../src/net/rtmp-client';
import { liveProbe, startBed, type Bed } from './hostile-helpers';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({
    bomb: {
      'Application.xml': '<Application><JSEngine><RuntimeSize>32768</RuntimeSize><MaxTimeOut>20</MaxTimeOut></JSEngine></Application>',
      'main.asc': [
        'application.onAppStop = function () { trace("onAppStop must not run on out-of-memory"); };',
        'Client.prototype.bomb = function () { var a = []; for (;;) { a.push(new Array(1000000).fill(Math.random())); } };',
        'Client.prototype.ok = function () { return "fine"; };',
      ].join('\n'),
    },
    calm: { 'main.asc': 'Client.prototype.ok = function () { return "calm"; };' },
  });
});
afterAll(() => bed.close());

it('exhausting memory unloads only that instance', async () => {
  const probe = await liveProbe(bed.base);
  const calm = await RtmpClient.connect(`${bed.base}/calm`);
  const a = await RtmpClient.connect(`${bed.base}/bomb`);
  const codes: string[] = [];
  a.onStatus = (i) => codes.push(i.code);
  const closed = new Promise<void>((r) => (a.onClose = () => r()));
  const heapBefore = process.memoryUsage().rss;
  const err = await a.call('bomb').catch((e) => e);
  await closed;
  expect(err.info?.code ?? err.code).toMatch(/NetConnection.Call.Failed|ERR_RTMP_CALL_FAILED/);
  expect(codes).toContain('NetConnection.Connect.AppShutdown');
  expect(bed.server.instances.has('bomb/_definst_')).toBe(false);
  expect(await calm.call('ok')).toBe('calm');
  expect(probe.received()).toBeGreaterThan(10);
  // The host process did not absorb the script's garbage.
  expect(process.memoryUsage().rss - heapBefore).toBeLessThan(512 * 1024 * 1024);
  const again = await RtmpClient.connect(`${bed.base}/bomb`);
  expect(await again.call('ok')).toBe('fine');
  again.close();
  calm.close();
  probe.stop();
}, 60_000);
