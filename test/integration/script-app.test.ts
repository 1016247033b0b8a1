/**
 * A legacy FMS 2/3 style application (test/fixtures/apps/legacy: ES3, CRLF, BOM, secure.asc, load(),
 * prototype methods, __resolve, intervals, registerClass) running unchanged, driven by our own client and
 * by python-librtmp.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink, setLogLevel } from '../../src/logger';
import { typedObject, getClassName } from '../../src/amf';
import { copyDir, killAllTracked, librtmpClient, makeTempDir, publishWithFfmpeg, removeDir, startLibrtmpClient, waitForPublishStart, until} from '../support';

let server: Server;
let base: string;
const apps = makeTempDir('script-app');
const traces: string[] = [];
let removeSink: () => void;

beforeAll(async () => {
  copyDir(path.join(__dirname, '..', 'fixtures', 'apps', 'legacy'), path.join(apps, 'legacy'));
  setLogLevel('info');
  removeSink = addLogSink((r) => traces.push(`${r.level} ${r.message}`));
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  removeSink();
  await killAllTracked();
  await server.close();
  removeDir(apps);
});


/** 1-based line of the first line of the fixture's main.asc containing `text`. */
const lineOf = (text: string): number =>
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'apps', 'legacy', 'main.asc'), 'utf8').split(/\r?\n/).findIndex((l) => l.includes(text)) + 1;

const connect = (mode = 'normal', opts: Parameters<typeof RtmpClient.connect>[1] = {}) =>
  RtmpClient.connect(`${base}/legacy/room`, { args: [mode], ...opts });

describe('loading', () => {
  it('runs secure.asc first, then main.asc with a synchronous load(), then onAppStart', async () => {
    const c = await connect();
    expect(traces).toContain('trace onAppStart legacy/room user=jdoe secure=boolean/true');
    const g = (await c.call('globals')) as unknown[];
    // setTimeout/require/process/Buffer do not exist; getGlobal/protectObject only existed in secure.asc.
    expect(g).toEqual(['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'object', 'function', undefined, true, 'yes', 'undefined', 'boolean']);
    expect(await c.call('implicitGlobal')).toEqual([true, 'undefined']);
    expect(await c.call('loadOutside')).toMatch(/^refused: .*not allowed/);
    c.close();
  });
});

describe('onConnect', () => {
  it('reject delivers the error object as info.application', async () => {
    const err = await connect('reject', { args: ['reject', 'because'] }).catch((e) => e);
    expect(err.info).toMatchObject({ code: 'NetConnection.Connect.Rejected', level: 'error', application: { message: 'Rejected by script', why: 'because' } });
  });

  it('a client once rejected cannot be accepted afterwards (acceptConnection returns false)', async () => {
    const admin = await connect();
    const err = await connect('rejectThenAccept').catch((e) => e);
    expect(err.info).toMatchObject({ code: 'NetConnection.Connect.Rejected', application: { message: 'no' } });
    expect(await admin.call('doubleDecision')).toEqual([false, false, 1]);
    admin.close();
  });

  it('redirect gives ex.code 302 and the redirect URL', async () => {
    const err = await connect('redirect').catch((e) => e);
    expect(err.info).toMatchObject({
      code: 'NetConnection.Connect.Rejected',
      description: 'Moved',
      ex: { code: 302, redirect: 'rtmp://other.example/app' },
      application: { hint: 1 },
    });
  });

  it('returning null or an integer leaves the client pending until a later acceptConnection', async () => {
    let pendingDone = false;
    // Client.call made while pending (in onConnect) arrives only after the accept, then answers as usual.
    const calls: string[] = [];
    const pend = connect('pending', {
      handlers: {
        whilePending: (x) => {
          calls.push(String(x));
          return `got ${String(x)}`;
        },
      },
    }).then((c) => {
      pendingDone = true;
      return c;
    });
    const pendInt = connect('integer');
    await new Promise((r) => setTimeout(r, 300));
    expect(pendingDone).toBe(false);
    expect(calls).toEqual([]);
    const admin = await connect();
    expect(await admin.call('approveAll')).toBe(1);
    const p = await pend;
    expect(await p.call('counter')).toBeGreaterThan(0);
    expect(calls).toEqual(['early']);
    let results: unknown[] = [];
    for (let i = 0; i < 50 && results.length === 0; i++) {
      results = (await admin.call('pendingResults')) as unknown[];
      if (results.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(results).toEqual(['got early']);
    // The integer-returning one was not put in the pending list: it stays pending forever; close it.
    let intDone = false;
    void pendInt.then(() => (intDone = true), () => (intDone = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(intDone).toBe(false);
    p.close();
    admin.close();
  });

  it('a pending client can be rejected later; an onConnect that throws rejects and reports Application.Script.Error', async () => {
    const pend = connect('pending').catch((e) => e);
    const admin = await connect();
    await until(() => server.instances.get('legacy/room')!.sessions.size >= 2);
    await admin.call('rejectAll');
    expect((await pend).info).toMatchObject({ code: 'NetConnection.Connect.Rejected', application: { message: 'later no' } });
    const t = await connect('throw').catch((e) => e);
    expect(t.info.code).toBe('NetConnection.Connect.Rejected');
    const last = (await admin.call('lastError')) as Record<string, unknown>;
    expect(last).toMatchObject({ code: 'Application.Script.Error', level: 'error', filename: 'main.asc', lineno: lineOf('onConnect failed on purpose') });
    expect(String(last.linebuf)).toContain('onConnect failed on purpose');
    // Rejected and pending-then-rejected clients leave nothing behind in the script host: only admin is known.
    const logic = server.instances.get('legacy/room')!.logic as unknown as { sessions: Map<string, unknown> };
    await until(() => logic.sessions.size === 1);
    admin.close();
  });

  it('application.clients counts accepted clients only; maxUsers from Application.xml config', async () => {
    const limited = (mode = 'normal') => RtmpClient.connect(`${base}/legacy/limit`, { args: [mode] });
    const a = await limited();
    const b = await limited();
    const pend = limited('pending').catch(() => null);
    const c = await limited();
    const info = (await a.call('clientInfo')) as Record<string, unknown>;
    expect(info.clients).toBe(3);
    const d = await limited().catch((e) => e);
    expect(d.info.application).toEqual({ message: 'Too many connections' });
    await c.call('rejectAll');
    await pend;
    for (const x of [a, b, c]) x.close();
    await until(() => server.instances.get('legacy/limit')?.clients.length === 0);
    const e = await limited();
    e.close();
  });
});

describe('Client', () => {
  it('exposes the FMS client properties', async () => {
    const c = await connect('normal', { flashVer: 'WIN 9,0,124,0', swfUrl: 'http://example.com/a.swf', pageUrl: 'http://example.com/p.html' });
    const i = (await c.call('clientInfo')) as Record<string, unknown>;
    expect(i).toMatchObject({
      ip: '127.0.0.1',
      agent: 'WIN 9,0,124,0',
      referrer: 'http://example.com/a.swf',
      pageUrl: 'http://example.com/p.html',
      uri: `${base}/legacy/room`,
      protocol: 'rtmp',
      objectEncoding: 0,
      readAccess: '/',
      writeAccess: '/',
      isClient: true,
    });
    expect(i.id).toBe(c.connectResult!.info.clientid);
    c.close();
  });

  it('dispatches instance methods, prototype methods, dotted names, __resolve; unknown names fail', async () => {
    const c = await connect('normal');
    expect(await c.call('greet', 'ann')).toBe('hello ann from normal');
    expect(await c.call('echo', 1, 'two', true, null)).toBe('1,two,true,null');
    expect(await c.call('math.mul', 6, 7)).toBe(42);
    expect(await c.call('dyn_anything', 1, 2)).toBe('resolved dyn_anything 2');
    await expect(c.call('notThere')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed', description: 'Method not found (notThere).' } });
    await expect(c.call('fail')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
    const last = (await c.call('lastError')) as Record<string, unknown>;
    expect(last).toMatchObject({ code: 'Application.Script.Error', filename: 'main.asc', lineno: lineOf('undefinedFunctionCall()') });
    c.close();
  });

  it('round-trips AMF values, and typed objects get the registered prototype with onInitialize', async () => {
    for (const objectEncoding of [0, 3] as const) {
      const c = await connect('normal', { objectEncoding });
      const v = { s: 'x', n: 1.5, b: false, nul: null, arr: [1, 'a', [2]], d: new Date(1234567890000), nested: { deep: { k: 'v' } } };
      expect(await c.call('echoValue', v)).toEqual(v);
      const p = (await c.call('makePoint', 2, 3)) as Record<string, unknown>;
      expect(getClassName(p)).toBe('flash.geom.Point');
      expect(p).toMatchObject({ x: 2, y: 3 });
      expect(await c.call('pointSum', typedObject('flash.geom.Point', { x: 4, y: 5 }))).toEqual([true, 9, true]);
      if (objectEncoding === 3) {
        const bytes = Buffer.from([1, 2, 3, 250]);
        const back = (await c.call('echoValue', bytes)) as Buffer;
        expect(Buffer.from(back).equals(bytes)).toBe(true);
      }
      c.close();
    }
  });

  it('Client.call reaches the client, with onResult and onStatus on the result object', async () => {
    const got: unknown[] = [];
    const c = await connect('normal', {
      handlers: {
        'clientSide.double': (x) => (x as number) * 2,
        gotResult: (r) => void got.push(['result', r]),
        gotStatus: (s) => void got.push(['status', s]),
      },
    });
    expect(await c.call('askBack', 21)).toBe('asked');
    await until(() => got.length === 1);
    expect(got[0]).toEqual(['result', 42]);
    await c.call('askMissing');
    await until(() => got.length === 2);
    expect(got[1]).toEqual(['status', 'NetConnection.Call.Failed']);
    c.close();
  });

  it('broadcastMsg reaches every accepted client; setInterval object+method form with arguments; clearInterval stops it', async () => {
    const seen: string[] = [];
    const a = await connect('normal', { handlers: { onBroadcast: (m) => void seen.push(`a:${m}`), onTick: (l, n) => void seen.push(`tick:${l}:${n}`) } });
    const b = await connect('normal', { handlers: { onBroadcast: (m) => void seen.push(`b:${m}`) } });
    await a.call('broadcast', 'hi');
    await until(() => seen.filter((s) => s.endsWith(':hi')).length === 2);
    await a.call('startTicks', 3);
    await until(() => seen.includes('tick:t:3'));
    await new Promise((r) => setTimeout(r, 150));
    expect(seen.filter((s) => s.startsWith('tick'))).toEqual(['tick:t:1', 'tick:t:2', 'tick:t:3']);
    a.close();
    b.close();
  });

  it('getStats, ping and application.disconnect (the client sees the connection close; onDisconnect runs)', async () => {
    const c = await connect();
    expect(await c.call('stats')).toEqual(['number', true]);
    expect(await c.call('myStats')).toEqual(['number', true]);
    expect(await c.call('pingMe')).toBe(true);
    const closed = new Promise<void>((r) => (c.onClose = () => r()));
    void c.call('kick').catch(() => null);
    await closed;
    await until(() => traces.some((t) => t.startsWith('trace bye ')));
  });

  it('readAccess/writeAccess set by the script are enforced on play and publish', async () => {
    const c = await connect('readonly');
    const s = await c.createStream();
    await expect(s.publish('anything')).rejects.toMatchObject({ info: { code: 'NetStream.Publish.Failed' } });
    const p = await c.createStream();
    expect((await p.play('private/x')).code).toBe('NetStream.Play.Failed');
    expect((await p.play('public/x')).code).toBe('NetStream.Play.Start');
    c.close();
  });
});

describe('instance lifecycle', () => {
  it('application.shutdown() unloads (onAppStop, clients get AppShutdown, onDisconnect for each) and the next connect reloads a changed script', async () => {
    const c = await connect();
    const other = await connect();
    const ids = [(await c.call('clientInfo')) as Record<string, unknown>, (await other.call('clientInfo')) as Record<string, unknown>].map((i) => String(i.id));
    const codes: string[] = [];
    c.onStatus = (i) => codes.push(i.code);
    const closed = new Promise<void>((r) => (c.onClose = () => r()));
    const from = traces.length;
    await c.call('shutdownApp');
    await closed;
    expect(codes).toContain('NetConnection.Connect.AppShutdown');
    // The order of the FMS documentation for shutdown(): onAppStop, then onDisconnect for each client.
    await until(() => traces.slice(from).filter((t) => t.startsWith('trace bye ')).length >= 2);
    const seen = traces.slice(from).filter((t) => t === 'trace onAppStop Application.Shutdown' || t.startsWith('trace bye '));
    expect(seen[0]).toBe('trace onAppStop Application.Shutdown');
    expect(seen.slice(1).sort()).toEqual(ids.map((id) => `trace bye ${id}`).sort());
    const file = path.join(apps, 'legacy', 'main.asc');
    fs.appendFileSync(file, '\r\nClient.prototype.added = function () { return "new code"; };\r\n');
    const d = await connect();
    expect(await d.call('added')).toBe('new code');
    d.close();
  });

  it('an idle instance unloads after MaxAppIdleTime with onAppStop(Application.GC); returning false keeps it', async () => {
    const c = await RtmpClient.connect(`${base}/legacy/idle`, { args: ['normal'] });
    await c.call('setKeepAlive', true);
    c.close();
    await until(() => traces.includes('trace onAppStop Application.GC'), 5000);
    expect(server.instances.get('legacy/idle')?.state).toBe('running');
    const d = await RtmpClient.connect(`${base}/legacy/idle`, { args: ['normal'] });
    await d.call('setKeepAlive', false);
    d.close();
    await until(() => !server.instances.has('legacy/idle'), 5000);
  });
});

describe('real clients', () => {
  it('python-librtmp connects with arguments, calls prototype methods and receives server calls and broadcasts', async () => {
    const listener = startLibrtmpClient({
      url: `${base}/legacy/py`,
      app: 'legacy/py',
      tcUrl: `${base}/legacy/py`,
      connectArgs: ['normal'],
      listenSec: 3,
    });
    await listener.waitForLine((l) => l.kind === 'connect', 10_000);
    const r = await librtmpClient({
      url: `${base}/legacy/py`,
      app: 'legacy/py',
      tcUrl: `${base}/legacy/py`,
      connectArgs: ['normal', 'extra'],
      calls: [
        { method: 'echo', args: ['a', 1, true] },
        { method: 'greet', args: ['py'] },
        { method: 'broadcast', args: ['from python'] },
        { method: 'nothing' },
      ],
    });
    expect(r.connect?.info.code).toBe('NetConnection.Connect.Success');
    expect(r.callResults.map((x) => [x.method, x.name, x.args[0]])).toEqual([
      ['echo', '_result', 'a,1,true'],
      ['greet', '_result', 'hello py from normal'],
      ['broadcast', '_result', true],
      ['nothing', '_error', expect.objectContaining({ code: 'NetConnection.Call.Failed' })],
    ]);
    const res = await listener.result;
    expect(res.commands.some((c) => c.name === 'onBroadcast' && c.args[0] === 'from python')).toBe(true);
    const rejected = await librtmpClient({ url: `${base}/legacy/py`, app: 'legacy/py', tcUrl: `${base}/legacy/py`, connectArgs: ['reject'] });
    expect(rejected.connect?.name).toBe('_error');
    expect(rejected.connect?.info.application.message).toBe('Rejected by script');
  }, 30_000);
});
