/**
 * FMS's server-wide scriptlib: applications written for FMS `load("components.asc")`, `load("framework.asc")`
 * and friends from the scriptlib folder of the FMS installation. ssas does not ship Adobe's files; a user
 * names their copy with `--scriptlib` (serve, repl, run, check), and without one ssas's own netservices.asc,
 * components.asc and framework.asc are found. Checked with the real `ssas serve` process and our client: the
 * search order (main script folder, application folder, Application.xml ScriptLibPath, then --scriptlib
 * folders in order, then ssas's scriptlib), sub-folders (`components/chat.asc`), and the message a missing
 * FMS scriptlib file ssas does not ship gives.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import { RtmpClient } from '../../src/net/rtmp-client';
import { runCheck } from '../../src/cli/check';
import { addLogSink } from '../../src/logger';
import { SSAS_BIN, killAllTracked, makeTempDir, removeDir, runTracked, startSsasServe } from '../support';

const root = makeTempDir('scriptlib');
const apps = path.join(root, 'apps');
const lib1 = path.join(root, 'fms', 'scriptlib');
const lib2 = path.join(root, 'more');
const appLib = path.join(root, 'applib');

// Our own stand-ins for the framework files: each records who loaded it from where.
const MAIN = String.raw`
var loaded = [];
load("components.asc");
Client.prototype.loaded = function () { return loaded; };
`;

beforeAll(() => {
  for (const d of [apps, lib1, path.join(lib1, 'components'), lib2, appLib]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(lib1, 'components.asc'), 'loaded.push("components@lib1");\nload("framework.asc");\nload("components/chat.asc");\nload("extra.asc");\n');
  fs.writeFileSync(path.join(lib1, 'framework.asc'), 'loaded.push("framework@lib1");\nvar gFrameworkFC = { name: "stand-in" };\n');
  fs.writeFileSync(path.join(lib1, 'components', 'chat.asc'), 'loaded.push("chat@lib1 " + gFrameworkFC.name);\n');
  fs.writeFileSync(path.join(lib2, 'extra.asc'), 'loaded.push("extra@lib2");\n');
  // The application's own ScriptLibPath comes before the server-wide folders.
  fs.writeFileSync(path.join(appLib, 'framework.asc'), 'loaded.push("framework@applib");\nvar gFrameworkFC = { name: "app copy" };\n');
  fs.mkdirSync(path.join(apps, 'legacy'));
  fs.writeFileSync(path.join(apps, 'legacy', 'main.asc'), MAIN);
  fs.mkdirSync(path.join(apps, 'own'));
  fs.writeFileSync(path.join(apps, 'own', 'main.asc'), MAIN);
  fs.writeFileSync(path.join(apps, 'own', 'Application.xml'), `<Application><JSEngine><ScriptLibPath>${appLib}</ScriptLibPath></JSEngine></Application>`);
});

afterAll(async () => {
  await killAllTracked();
  removeDir(root);
});

it('ssas serve --scriptlib "A;B": load() finds components.asc, framework.asc, components/chat.asc and a file of the second folder', async () => {
  const { proc, url } = await startSsasServe(['--apps', apps, '--scriptlib', `${lib1};${lib2}`]);
  try {
    const c = await RtmpClient.connect(`${url}/legacy`);
    expect(await c.call('loaded')).toEqual(['components@lib1', 'framework@lib1', 'chat@lib1 stand-in', 'extra@lib2']);
    const own = await RtmpClient.connect(`${url}/own`);
    expect(await own.call('loaded')).toEqual(['components@lib1', 'framework@applib', 'chat@lib1 app copy', 'extra@lib2']);
    c.close();
    own.close();
  } finally {
    await proc.kill();
  }
}, 30_000);

it('without it, load("components.asc") and load("netservices.asc") find ssas\'s own scriptlib; an FMS file ssas does not ship stops the script with a message that names it', async () => {
  const logs: string[] = [];
  const removeSink = addLogSink((r) => logs.push(r.message));
  const server = createServer({ appsDir: apps, port: 0 });
  const { url } = await server.listen();
  fs.mkdirSync(path.join(apps, 'bundled'), { recursive: true });
  fs.writeFileSync(
    path.join(apps, 'bundled', 'main.asc'),
    'load("components.asc");\nload("netservices.asc");\nClient.prototype.kinds = function () { return [typeof gFrameworkFC.getClientGlobals, typeof NetServices.createGatewayConnection, typeof FCChat]; };\n',
  );
  try {
    const b = await RtmpClient.connect(`${url}/bundled`);
    expect(await b.call('kinds')).toEqual(['function', 'function', 'function']);
    b.close();
    // As on FMS, a top-level error stops the rest of the script, not the instance: the connect is accepted
    // (no onConnect was reached) and the methods defined after the load() do not exist.
    fs.mkdirSync(path.join(apps, 'notshipped'), { recursive: true });
    fs.writeFileSync(path.join(apps, 'notshipped', 'main.asc'), 'load("netdebug.asc");\nClient.prototype.after = function () { return 1; };\n');
    const c = await RtmpClient.connect(`${url}/notshipped`);
    await expect(c.call('after')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
    const line = logs.find((l) => l.includes('load("netdebug.asc"): not found'));
    expect(line).toMatch(/Application\.Script\.Error/);
    expect(line).toContain('scriptlib folder of an FMS installation');
    expect(line).toContain('--scriptlib');
    c.close();
    // The hint is only for FMS's own files, not the application's.
    fs.writeFileSync(path.join(apps, 'own', 'main.asc'), 'load("mine.asc");');
    const own = await RtmpClient.connect(`${url}/own`);
    const mine = logs.find((l) => l.includes('load("mine.asc"): not found'));
    expect(mine).toBeDefined();
    expect(mine).not.toContain('scriptlib folder of an FMS installation');
    own.close();
  } finally {
    removeSink();
    fs.writeFileSync(path.join(apps, 'own', 'main.asc'), MAIN);
    fs.rmSync(path.join(apps, 'bundled'), { recursive: true, force: true });
    fs.rmSync(path.join(apps, 'notshipped'), { recursive: true, force: true });
    await server.close();
  }
});

it('ssas check follows load() into --scriptlib folders, or into ssas\'s own scriptlib without them', async () => {
  const withLib = await runCheck(apps, [lib1, lib2]);
  const legacy = withLib.apps.find((a) => a.name === 'legacy')!;
  expect(legacy.files.map((f) => f.file)).toEqual(expect.arrayContaining(['main.asc']));
  expect(legacy.files.length).toBeGreaterThanOrEqual(4);
  expect(withLib.errors).toBe(0);
  // Without --scriptlib, ssas's own components.asc and the files it loads are followed.
  const r = await runTracked(process.execPath, [SSAS_BIN, 'check', apps], { timeoutMs: 30_000 });
  expect(r.stdout).toMatch(/\(ssas scriptlib\) components\.asc/);
  expect(r.stdout).not.toMatch(/not found/);
  expect(r.code).toBe(0);
  const ok = await runTracked(process.execPath, [SSAS_BIN, 'check', apps, '--scriptlib', `${lib1};${lib2}`], { timeoutMs: 30_000 });
  expect(ok.stdout).not.toMatch(/not found/);
  expect(ok.code).toBe(0);
}, 60_000);
