/**
 * The FMS 2 component framework (issue 14): ssas's own components.asc / framework.asc, loaded without any
 * --scriptlib, in an application driven by real RTMP clients (our client, with its remote shared objects):
 * onConnect then onConnectAccept / onConnectReject with the connect parameters, gFrameworkFC client globals
 * and listeners, and the server side of SimpleConnect, UserColor, PeopleList and Chat through their client
 * protocol ("FCChat.chat.sendMessage"... calls, callbacks, shared objects).
 */
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { until } from '../support';
import { RtmpClient, ConnectError } from '../../src/net/rtmp-client';
import { RemoteSharedObject } from '../../src/net/so-client';
import type { AmfValue } from '../../src/amf';

const MAIN = String.raw`
load("components.asc");
var events = [];
Client.prototype.events = function () { return events; };

application.onConnect = function (client, username, extra) {
  events.push("onConnect " + username);
  gFrameworkFC.getClientGlobals(client).username = username;
  if (username == "hacker") application.rejectConnection(client, { message: "no hackers" });
  else application.acceptConnection(client);
  // Code here after accept/reject belongs in onConnectAccept / onConnectReject with components.
};
application.onConnectAccept = function (client, username, extra) {
  events.push("accept " + username + " " + extra);
  client.call("welcome", null, "hello " + gFrameworkFC.getClientGlobals(client).username);
};
application.onConnectReject = function (client, username) {
  events.push("reject " + username);
};
application.onDisconnect = function (client) {
  events.push("disconnect " + gFrameworkFC.getClientGlobals(client).username);
};

// Another part of the application, subscribed to the same events.
gFrameworkFC.addListener({
  onConnectAccept: function (client, username) { events.push("listener accept " + username); },
  onDisconnect: function (client) { events.push("listener disconnect " + client.id); }
});
`;

// An application that leaves connecting to the framework (SimpleConnect-style: the name is the parameter).
const SIMPLE = String.raw`
load("components.asc");
var accepted = [];
application.onConnectAccept = function (client, name) { accepted.push(name); };
Client.prototype.accepted = function () { return accepted; };
`;

let apps: ScriptApps;
const clients: RtmpClient[] = [];

async function connect(app: string, name: string, extra: AmfValue = 'x'): Promise<{ c: RtmpClient; calls: { name: string; args: AmfValue[] }[] }> {
  const calls: { name: string; args: AmfValue[] }[] = [];
  const c = await RtmpClient.connect(`${apps.url}/${app}`, {
    args: [name, extra],
    fallbackHandler: (n, a) => {
      calls.push({ name: n, args: a });
      return null;
    },
  });
  clients.push(c);
  return { c, calls };
}

beforeAll(async () => {
  apps = await startScriptApps({ 'conf/main.asc': MAIN, 'simple/main.asc': SIMPLE });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await apps?.close();
});

it('onConnect, then onConnectAccept with the connect parameters, listeners too; onConnectReject for a rejected client', async () => {
  const { c, calls } = await connect('conf', 'alice', 'blue');
  await until(() => calls.some((x) => x.name === 'welcome'), 5000, 'welcome');
  expect(calls.find((x) => x.name === 'welcome')!.args).toEqual(['hello alice']);
  await expect(connect('conf', 'hacker')).rejects.toBeInstanceOf(ConnectError);
  const events = (await c.call('events')) as string[];
  expect(events).toEqual(['onConnect alice', 'listener accept alice', 'accept alice blue', 'onConnect hacker', 'reject hacker']);
});

it('SimpleConnect, UserColor, PeopleList and Chat: their calls, callbacks and shared objects', async () => {
  const a = await connect('conf', 'ann');
  const b = await connect('conf', 'ben');
  expect(await a.c.call('FCSimpleConnect.connect_mc.connect')).toBe('ann');
  expect(await a.c.call('FCUserColor.color_mc.connect')).toBe('0x000000');
  expect(await a.c.call('FCUserColor.color_mc.changeColor', '#ff8000')).toBe('0xFF8000');
  expect(await a.c.call('FCUserColor.color_mc.changeColor', 'not a colour')).toBe(false);

  // PeopleList: one slot per joined client, renamed by SimpleConnect.changeName, gone at disconnect.
  const people = RemoteSharedObject.get(b.c, 'FCPeopleList.people_mc.users', false);
  await people.connect();
  expect(await a.c.call('FCPeopleList.people_mc.connect')).toBe(true);
  expect(await b.c.call('FCPeopleList.people_mc.connect')).toBe(true);
  await until(() => Object.values(people.data).sort().join() === 'ann,ben', 5000, 'both in the people list');
  expect(await a.c.call('FCSimpleConnect.connect_mc.changeName', '  Annie ')).toBe('Annie');
  await until(() => Object.values(people.data).sort().join() === 'Annie,ben', 5000, 'the rename');

  // Chat: history at connect, lines to everyone through FCChat.chat_mc.message, escaped, in the colour.
  const lines: string[] = [];
  const msgSo = RemoteSharedObject.get(b.c, 'FCChat.chat_mc.message', false);
  msgSo.handlers.message = (line: AmfValue) => lines.push(String(line));
  await msgSo.connect();
  expect(await b.c.call('FCChat.chat_mc.connect')).toBe(true);
  await until(() => b.calls.some((x) => x.name === 'FCChat.chat_mc.receiveHistory'), 5000, 'the history');
  expect(b.calls.find((x) => x.name === 'FCChat.chat_mc.receiveHistory')!.args).toEqual([[]]);
  const line = await a.c.call('FCChat.chat_mc.sendMessage', 'hi <b>all</b> & bye');
  expect(line).toBe('<font color="#FF8000"><b>Annie: </b>hi &lt;b&gt;all&lt;/b&gt; &amp; bye</font><br>');
  await until(() => lines.length === 1, 5000, 'the chat line');
  expect(lines[0]).toBe(line);
  // A client joining later gets the history.
  const late = await connect('conf', 'carl');
  await late.c.call('FCChat.chat_mc.connect');
  await until(() => late.calls.some((x) => x.name === 'FCChat.chat_mc.receiveHistory'), 5000, 'the late history');
  expect(late.calls.find((x) => x.name === 'FCChat.chat_mc.receiveHistory')!.args).toEqual([[line]]);
  expect(await a.c.call('FCChat.chat_mc.clearHistory')).toBe(true);

  // Leaving: onDisconnect of the script and the listeners; the people list forgets the client.
  a.c.close();
  await until(() => Object.values(people.data).join() === 'ben', 5000, 'ann gone from the list');
  const events = (await b.c.call('events')) as string[];
  expect(events).toEqual(expect.arrayContaining(['disconnect Annie', expect.stringMatching(/^listener disconnect /)]));
  // Unknown components and methods are "method not found", as any missing client method.
  await expect(b.c.call('FCNothing.x.y')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
  await expect(b.c.call('FCChat.chat_mc.noSuchMethod')).rejects.toMatchObject({ info: { code: 'NetConnection.Call.Failed' } });
});

it('without an onConnect of the script, the framework accepts and keeps the first parameter as the username', async () => {
  const { c } = await connect('simple', 'dora');
  expect(await c.call('FCSimpleConnect.connect_mc.connect')).toBe('dora');
  expect(await c.call('accepted')).toEqual(['dora']);
});
