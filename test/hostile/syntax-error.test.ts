/**
 * Hostile (broken) script: a syntax error. The server says so at start with file and line, connections
 * are rejected with a message naming them, and other applications are unaffected.
 */
import { RtmpClient } from '../../src/net/rtmp-client';
import { startApplications } from '../../src/server/create';
import { startBed, type Bed } from './hostile-helpers';

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({
    broken: { 'main.asc': 'application.onConnect = function (c) {\n  return true;\n};\nvar x = {;\n' },
    compiled: { 'main.ase': 'bytecode' },
    fine: { 'main.asc': 'Client.prototype.ok = function () { return 1; };' },
  });
});
afterAll(() => bed.close());

it('reports the file and line on start and rejects connects with it', async () => {
  const problems = await startApplications(bed.server);
  const broken = problems.find((p) => p.app === 'broken');
  expect(broken?.error).toMatch(/main\.asc:4: SyntaxError/);
  expect(problems.find((p) => p.app === 'compiled')?.error).toMatch(/ERR_SCRIPT_COMPILED_UNSUPPORTED/);
  const err = await RtmpClient.connect(`${bed.base}/broken`).catch((e) => e);
  expect(err.info.code).toBe('NetConnection.Connect.Rejected');
  expect(err.info.description).toMatch(/main\.asc:4: SyntaxError/);
  const err2 = await RtmpClient.connect(`${bed.base}/compiled`).catch((e) => e);
  expect(err2.info.description).toMatch(/\.ase/);
  const ok = await RtmpClient.connect(`${bed.base}/fine`);
  expect(await ok.call('ok')).toBe(1);
  ok.close();
});
