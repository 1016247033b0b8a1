/**
 * Remote shared objects end to end (issue 6): our own Flash-style clients in AMF0 and AMF3 on one object,
 * conflicts, send(), a script's setProperty/onSync/lock batching/handlers, a late joiner, access rules,
 * proxied objects between two instances, persistence across unload and restart, kill -9 during a flush
 * loop, and malformed messages.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { RemoteSharedObject } from '../../src/net/so-client';
import { loadSharedObject } from '../../src/server/so-store';
import { MessageType } from '../../src/rtmp/types';
import { typedObject, getClassName } from '../../src/amf';
import { killAllTracked, makeTempDir, removeDir, until, startSsasServe } from '../support';

const ROOM = String.raw`
var syncLog = [], chatLog = [];
application.onAppStart = function () {
  room = SharedObject.get("room", false);
  room.onSync = function (list) {
    for (var i = 0; i < list.length; i++) syncLog.push(list[i].code + ":" + list[i].name + ":" + list[i].oldValue);
  };
  room.chat = function (from, text) { chatLog.push(from + ">" + text); };
  scores = SharedObject.get("scores", true);
};
application.onConnect = function (client, role) {
  if (role == "reader") client.writeAccess = "";
  if (role == "nobody") client.readAccess = "other";
  return true;
};
Client.prototype.serverSet = function (k, v) { room.setProperty(k, v); return [room.getProperty(k), room.size()]; };
Client.prototype.logs = function () { return [syncLog, chatLog]; };
Client.prototype.batch = function () {
  var l = room.lock();
  room.setProperty("a", 1); room.setProperty("b", 2); room.setProperty("a", 3); room.setProperty("gone", null);
  return [l, room.unlock(), room.getPropertyNames().sort(), room.version > 0];
};
Client.prototype.announce = function (m) { return room.send("announce", m, 2); };
Client.prototype.persist = function (k, v) { scores.setProperty(k, v); return [scores.isDirty, scores.flush(), scores.isDirty]; };
Client.prototype.read = function (k) { return scores.getProperty(k); };
Client.prototype.flushLoop = function (n) {
  for (var i = 0; i < n; i++) { scores.setProperty("counter", i); scores.setProperty("blob", new Array(2000).join("x") + i); scores.flush(); }
  return n;
};
Client.prototype.clearAll = function (p) { return application.clearSharedObjects(p); };
Client.prototype.proxy = function (uri) {
  var nc = new NetConnection();
  nc.connect(uri);
  proxied = SharedObject.get("shared", false, nc);
  proxied.onSync = function (list) { for (var i = 0; i < list.length; i++) syncLog.push("proxy " + list[i].code + ":" + list[i].name); };
  return true;
};
Client.prototype.proxyGet = function (k) { return proxied.getProperty(k); };
Client.prototype.proxySet = function (k, v) { proxied.setProperty(k, v); return true; };
`;

let server: Server;
let base: string;
const apps = makeTempDir('so-apps');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'room'));
  fs.writeFileSync(path.join(apps, 'room', 'main.asc'), ROOM);
  fs.writeFileSync(path.join(apps, 'room', 'Application.xml'), '<Application><MaxAppIdleTime>1</MaxAppIdleTime></Application>');
  fs.mkdirSync(path.join(apps, 'plain'));
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  await killAllTracked();
  await server.close();
  removeDir(apps);
});


async function join(objectEncoding: 0 | 3, name = 'room', app = 'room/r1', persistent = false, role = 'normal') {
  const c = await RtmpClient.connect(`${base}/${app}`, { objectEncoding, args: [role] });
  const so = RemoteSharedObject.get(c, name, persistent);
  await so.connect();
  return { c, so };
}

describe('clients on one object', () => {
  it('changes, deletes and send() between AMF0 and AMF3 clients; the script sees client changes in onSync', async () => {
    const a = await join(0);
    const b = await join(3);
    const bSync = b.so.nextSync();
    a.so.setProperty('color', 'red');
    a.so.setProperty('pos', { x: 1, y: [2, 3], when: new Date(5000) });
    await a.so.settled();
    await until(() => b.so.data.color === 'red' && b.so.data.pos !== undefined);
    expect(b.so.data.pos).toEqual({ x: 1, y: [2, 3], when: new Date(5000) });
    expect((await bSync).some((s) => s.code === 'change')).toBe(true);
    b.so.deleteProperty('color');
    await b.so.settled();
    await until(() => !('color' in a.so.data));
    const heard: unknown[] = [];
    a.so.handlers.chat = (...args) => void heard.push(['a', ...args]);
    b.so.handlers.chat = (...args) => void heard.push(['b', ...args]);
    b.so.send('chat', 'bob', 'hi all');
    await until(() => heard.length === 2);
    expect(heard).toContainEqual(['a', 'bob', 'hi all']);
    const [syncLog, chatLog] = (await a.c.call('logs')) as string[][];
    expect(syncLog).toEqual(expect.arrayContaining(['change:color:undefined', 'delete:color:red']));
    expect(chatLog).toContain('bob>hi all');
    // Typed objects and ByteArrays survive (AMF3 client; the AMF0 client would be disconnected for a ByteArray).
    b.so.setProperty('typed', typedObject('com.example.Card', { rank: 12 }));
    await b.so.settled();
    await until(() => a.so.data.typed !== undefined);
    expect(getClassName(a.so.data.typed)).toBe('com.example.Card');
    a.c.close();
    b.c.close();
  });

  it('two clients change one slot at the same time: the server order wins and both converge', async () => {
    const a = await join(0);
    const b = await join(3);
    for (let i = 0; i < 20; i++) {
      a.so.setProperty('race', `a${i}`);
      b.so.setProperty('race', `b${i}`);
    }
    await Promise.all([a.so.settled(), b.so.settled()]);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.so.data.race).toBe(b.so.data.race);
    const c = await join(0);
    expect(c.so.data.race).toBe(a.so.data.race);
    for (const x of [a, b, c]) x.c.close();
  });

  it('script setProperty reaches clients; lock/unlock batches into one message; send() from the script; a late joiner gets the full state', async () => {
    const a = await join(3);
    const before = a.so.messagesReceived;
    expect(await a.c.call('serverSet', 'server', 'value')).toEqual(['value', expect.any(Number)]);
    await until(() => a.so.data.server === 'value');
    const mid = a.so.messagesReceived;
    expect(mid).toBe(before + 1);
    expect(await a.c.call('batch')).toEqual([1, 0, expect.arrayContaining(['a', 'b']), true]);
    await until(() => a.so.data.a === 3 && a.so.data.b === 2);
    expect(a.so.messagesReceived).toBe(mid + 1);
    const heard: unknown[] = [];
    a.so.handlers.announce = (...args) => void heard.push(args);
    expect(await a.c.call('announce', 'hello')).toBe(true);
    await until(() => heard.length === 1);
    expect(heard[0]).toEqual(['hello', 2]);
    const late = await join(0);
    expect(late.so.data).toMatchObject({ server: 'value', a: 3, b: 2 });
    // The script's own changes never reach its onSync.
    const [syncLog] = (await a.c.call('logs')) as string[][];
    expect(syncLog.some((s) => s.includes(':server:'))).toBe(false);
    a.c.close();
    late.c.close();
  });

  it('readAccess/writeAccess apply to shared objects with the FMS status codes', async () => {
    const reader = await join(0, 'room', 'room/r1', false, 'reader');
    const statuses: string[] = [];
    reader.so.onStatus = (i) => void statuses.push(i.code);
    reader.so.setProperty('forbidden', 1);
    await until(() => statuses.includes('SharedObject.NoWriteAccess'));
    await until(() => !('forbidden' in reader.so.data));
    reader.c.close();
    const c = await RtmpClient.connect(`${base}/room/r1`, { args: ['nobody'] });
    const so = RemoteSharedObject.get(c, 'room', false);
    const st: string[] = [];
    so.onStatus = (i) => void st.push(i.code);
    await so.connect(2000).catch(() => null);
    await until(() => st.includes('SharedObject.NoReadAccess'));
    c.close();
  });
});

describe('proxied shared objects', () => {
  it('SharedObject.get(name, false, nc) mirrors an object of another instance, both ways', async () => {
    const owner = await join(0, 'shared', 'room/owner');
    const proxyAdmin = await RtmpClient.connect(`${base}/room/proxy`);
    await proxyAdmin.call('proxy', `${base}/room/owner`);
    owner.so.setProperty('fromOwner', 1);
    await owner.so.settled();
    const end = Date.now() + 5000;
    while ((await proxyAdmin.call('proxyGet', 'fromOwner')) !== 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await proxyAdmin.call('proxyGet', 'fromOwner')).toBe(1);
    // A client of the proxy instance sees the owner's object and writes through to it.
    const viaProxy = RemoteSharedObject.get(proxyAdmin, 'shared', false);
    await viaProxy.connect();
    expect(viaProxy.data.fromOwner).toBe(1);
    viaProxy.setProperty('fromProxyClient', 'x');
    await until(() => owner.so.data.fromProxyClient === 'x');
    await proxyAdmin.call('proxySet', 'fromProxyScript', 'y');
    await until(() => owner.so.data.fromProxyScript === 'y');
    const [syncLog] = (await proxyAdmin.call('logs')) as string[][];
    expect(syncLog.some((s) => s.startsWith('proxy '))).toBe(true);
    owner.c.close();
    proxyAdmin.close();
  });
});

describe('persistence', () => {
  it('persistent objects survive instance unload and a server restart', async () => {
    const a = await join(3, 'scores', 'room/persist', true);
    expect(await a.c.call('persist', 'best', 99)).toEqual([true, true, false]);
    a.so.setProperty('fromClient', { deep: [1, 2] });
    await a.so.settled();
    a.c.close();
    await until(() => !server.instances.has('room/persist'), 8000);
    const file = path.join(apps, 'room', 'sharedobjects', 'persist', 'scores.fso');
    expect(fs.existsSync(file)).toBe(true);
    await server.close();
    server = createServer({ appsDir: apps, port: 0 });
    base = (await server.listen()).url;
    const b = await join(0, 'scores', 'room/persist', true);
    expect(b.so.data).toMatchObject({ best: 99, fromClient: { deep: [1, 2] } });
    expect(await b.c.call('read', 'best')).toBe(99);
    expect(await b.c.call('clearAll', '/scores')).toBe(true);
    await until(() => Object.keys(b.so.data).length === 0);
    b.c.close();
  }, 30_000);

  it('kill -9 during a flush loop: the file always loads afterwards', async () => {
    for (let round = 0; round < 3; round++) {
      const { proc, url } = await startSsasServe(['--apps', apps]);
      const c = await RtmpClient.connect(`${url}/room/crash`);
      void c.call('flushLoop', 100000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
      proc.child.kill('SIGKILL');
      await proc.exited;
      c.close();
      const loaded = await loadSharedObject(path.join(apps, 'room', 'sharedobjects', 'crash'), 'scores');
      expect(loaded).not.toBeNull();
      const counter = loaded!.slots.get('counter') as number;
      expect(String(loaded!.slots.get('blob')).endsWith(String(counter))).toBe(true);
    }
  }, 60_000);
});

describe('bad input', () => {
  it('a malformed shared object message closes that connection with a coded error; the object is intact for others', async () => {
    const a = await join(0);
    a.so.setProperty('keep', 'me');
    await a.so.settled();
    const bad = await RtmpClient.connect(`${base}/room/r1`);
    const closed = new Promise<string | undefined>((r) => (bad.onClose = (e) => r(e?.code)));
    // A shared object message whose event claims more bytes than there are.
    const body = Buffer.from([0, 4, 0x72, 0x6f, 0x6f, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x10, 0, 1, 2]);
    bad.sendRaw({ type: MessageType.SharedObjectAmf0, streamId: 0, timestamp: 0, csid: 4, payload: body });
    await closed;
    const b = await join(3);
    expect(b.so.data.keep).toBe('me');
    a.so.setProperty('still', 'works');
    await until(() => b.so.data.still === 'works');
    a.c.close();
    b.c.close();
  });
});
