/**
 * The NetStream seed document's property and error rules, checked line by line through a real sandbox
 * (the script API as a main.asc sees it), plus NetConnection.connect's protocol rules and registerProxy.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { addLogSink } from '../../src/logger';
import { makeTempDir, removeDir } from '../support';

const SEED = String.raw`
function attempt(f) { try { return f(); } catch (e) { return "Error: " + e.message; } }
var statuses = [];
Client.prototype.statuses = function () { return statuses; };

Client.prototype.defaults = function () {
  var nc = new NetConnection();
  var ns = new NetStream(nc);
  return [ns.multicastAvailabilitySendToAll, ns.multicastAvailabilityUpdatePeriod, ns.multicastFetchPeriod,
          ns.multicastPushNeighborLimit, ns.multicastRelayMarginDuration, ns.multicastWindowDuration,
          ns.bufferTime, ns.time, ns.farID, nc.objectEncoding, nc.isConnected, nc.uri];
};

Client.prototype.coercion = function () {
  var ns = new NetStream(new NetConnection());
  var props = ["multicastAvailabilityUpdatePeriod", "multicastFetchPeriod", "multicastRelayMarginDuration", "multicastWindowDuration", "multicastPushNeighborLimit"];
  var out = {};
  for (var i = 0; i < props.length; i++) {
    var p = props[i], r = [];
    ns[p] = -5;            r.push(ns[p]);
    ns[p] = 1.5;           r.push(ns[p]);
    ns[p] = 4294967.295;   r.push(ns[p]);
    ns[p] = 4294967.296;   r.push(ns[p]);
    ns[p] = 1e12;          r.push(ns[p]);
    ns[p] = "7";           r.push(ns[p]);
    ns[p] = "junk";        r.push(ns[p]);
    out[p] = r;
  }
  ns.multicastAvailabilitySendToAll = 1; out.sendToAll = [ns.multicastAvailabilitySendToAll];
  ns.multicastAvailabilitySendToAll = 0; out.sendToAll.push(ns.multicastAvailabilitySendToAll);
  return out;
};

Client.prototype.ipMulticast = function () {
  var ns = new NetStream(new NetConnection());
  var cases = [["224.0.0.254", 30000], ["224.0.0.254:30000", null], ["ff03::ffff", 30000], ["[ff03::ffff]:30000", null],
               [null, null], ["224.0.0.254", null], ["10.0.0.1", 3000], ["224.0.0.254", 70000], ["ff03::ffff", null],
               ["not an address", 1], ["[ff03::ffff]", null], ["224.0.0.300:1", null], [42, 1]];
  var out = [];
  for (var i = 0; i < cases.length; i++) {
    out.push(attempt(function () { ns.setIPMulticastPublishAddress(cases[i][0], cases[i][1]); return "ok"; }));
  }
  return out;
};

Client.prototype.identity = function (remote) {
  var nc = new NetConnection();
  nc.connect(remote);
  var a = new NetStream(nc), b = new NetStream(nc), g = new NetStream(nc, "G:0101");
  g.onStatus = function (info) { statuses.push("group " + info.code + " " + info.level); };
  return [typeof a.nearNonce, a.farID, g.farID, NetStream(42), typeof NetStream(nc)];
};

Client.prototype.nonces = function (remote) {
  var nc = new NetConnection(), nc2 = new NetConnection();
  var a = new NetStream(nc), b = new NetStream(nc), c = new NetStream(nc2);
  nc.onStatus = function (info) {
    if (info.code != "NetConnection.Connect.Success") return;
    nc2.onStatus = function (i2) {
      if (i2.code == "NetConnection.Connect.Success") statuses.push("nonces " + (a.nearNonce == b.nearNonce) + " " + (a.nearNonce != c.nearNonce) + " " + a.nearNonce.length);
    };
    nc2.connect(remote);
  };
  nc.connect(remote);
  return true;
};

Client.prototype.protocols = function () {
  var out = [];
  var uris = ["rtmpt://h/app", "rtmpe://h/app", "rtmpte://h/app", "rtmps://h/app", "ftp://h/x", "not a uri", "rtmp://127.0.0.1:1/app"];
  for (var i = 0; i < uris.length; i++) out.push(attempt(function () { return new NetConnection().connect(uris[i]); }));
  return out;
};

Client.prototype.lifecycle = function (remote) {
  var nc = new NetConnection();
  nc.onStatus = function (info) { statuses.push("nc " + info.code); };
  nc.connect(remote);
  var ns = new NetStream(nc);
  ns.onStatus = function (info) {
    statuses.push("ns " + info.code + " " + info.level);
    if (info.code == "NetStream.Publish.Start") {
      statuses.push("send " + ns.send("onMsg", "x") + " attach " + ns.attach(false) + " " + ns.attach(Stream.get("src")) + " " + ns.attach("nope") + " " + ns.attach(null));
      statuses.push("whilePublishing " + attempt(function () { ns.setIPMulticastPublishAddress("224.0.0.1:5000", null); return "ok"; }));
      ns.publish(false);
    }
  };
  statuses.push("beforePublish send " + ns.send("x"));
  ns.attach(Stream.get("src"));
  ns.setBufferTime(3);
  statuses.push("bufferTime " + ns.bufferTime);
  // ns.send above handed the connect to the host; give the remote time to answer while this event still
  // runs, so its Connect.Success is queued before play() is called.
  var until = new Date().getTime() + 300;
  while (new Date().getTime() < until) {}
  ns.play("anything");
  ns.publish("seedstream");
  return true;
};

// A status handler that plays again on every Play.Failed: an endless chain of the script's own events.
var chainCount = 0, chainStop = false;
Client.prototype.chain = function (remote) {
  var nc = new NetConnection();
  nc.connect(remote);
  var ns = new NetStream(nc);
  ns.onStatus = function (info) {
    if (info.code != "NetStream.Play.Failed") return;
    chainCount++;
    if (!chainStop) ns.play("again");
  };
  ns.play("first");
  return true;
};
Client.prototype.chainCount = function () { return chainCount; };
Client.prototype.stopChain = function () { chainStop = true; return chainCount; };

Client.prototype.badHow = function (remote) {
  var nc = new NetConnection();
  nc.connect(remote);
  var ns = new NetStream(nc);
  ns.onStatus = function (info) { statuses.push("how " + info.code + " " + info.level); };
  ns.publish("x", "sideways");
  return true;
};

Client.prototype.encodingBeforeConnect = function (remote) {
  var nc = new NetConnection();
  nc.objectEncoding = 0;
  nc.objectEncoding = 5;
  var e = nc.objectEncoding;
  nc.onStatus = function (info) { if (info.code == "NetConnection.Connect.Success") statuses.push("enc " + e + " " + info.objectEncoding); };
  nc.connect(remote);
  return e;
};

Client.prototype.callRemote = function (remote) {
  var nc = new NetConnection();
  nc.whoAmI = function () { return "origin-nc"; };
  nc.onStatus = function (info) {
    if (info.code != "NetConnection.Connect.Success") return;
    nc.call("add", { onResult: function (r) { statuses.push("result " + r); } }, 20, 22);
    nc.call("missing", { onStatus: function (i) { statuses.push("status " + i.code); } });
    nc.call("askBack", { onResult: function (r) { statuses.push("askBack " + r); } });
  };
  nc.connect(remote, "arg1", 2);
  application.registerProxy("proxiedAdd", nc, "add");
  return true;
};
`;

const REMOTE = String.raw`
application.onConnect = function (client, a, b) { client.args = [a, b]; return true; };
Client.prototype.add = function (x, y) { return x + y + " from " + this.args.join("/"); };
Client.prototype.askBack = function () {
  var self = this, result = null;
  this.call("whoAmI", { onResult: function (r) { self.lastWho = r; } });
  return "asked";
};
`;

let server: Server;
let base: string;
const apps = makeTempDir('seed');
const traces: string[] = [];
let removeSink: () => void;

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'seed'));
  fs.writeFileSync(path.join(apps, 'seed', 'main.asc'), SEED);
  fs.mkdirSync(path.join(apps, 'remote'));
  fs.writeFileSync(path.join(apps, 'remote', 'main.asc'), REMOTE);
  fs.mkdirSync(path.join(apps, 'plain'));
  removeSink = addLogSink((r) => traces.push(r.message));
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
});

afterAll(async () => {
  removeSink();
  await server.close();
  removeDir(apps);
});

async function statuses(c: RtmpClient): Promise<string[]> {
  return (await c.call('statuses')) as string[];
}

/** Polls the script's status log until `want` holds (the statuses arrive asynchronously). */
async function waitStatuses(c: RtmpClient, want: (st: string[]) => boolean, ms = 8000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const st = await statuses(c);
    if (want(st)) return st;
    if (Date.now() > end) throw new Error(`statuses never matched: ${st.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('defaults: 0 without a successful RTMFP connection; bufferTime 0; farID null without a groupspec; AMF3 by default', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  expect(await c.call('defaults')).toEqual([false, 0, 0, 0, 0, 0, 0, 0, null, 3, false, null]);
  c.close();
});

it('multicast properties are coerced exactly as the seed says, silently', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  const r = (await c.call('coercion')) as Record<string, number[]>;
  const secs = [0, 1.5, 4294967.295, 4294967.295, 4294967.295, 7, 0];
  expect(r.multicastAvailabilityUpdatePeriod).toEqual(secs);
  expect(r.multicastFetchPeriod).toEqual(secs);
  expect(r.multicastRelayMarginDuration).toEqual(secs);
  expect(r.multicastWindowDuration).toEqual(secs);
  expect(r.multicastPushNeighborLimit).toEqual([0, 1.5, 4294967.295, 4294967.296, 4294967295, 7, 0]);
  expect(r.sendToAll).toEqual([true, false]);
  expect(traces.some((t) => /multicast/i.test(t))).toBe(false);
  c.close();
});

it('setIPMulticastPublishAddress validates as the seed says and ignores valid values on a non-RTMFP stream', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  const r = (await c.call('ipMulticast')) as string[];
  expect(r.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  for (const bad of r.slice(5)) expect(bad).toMatch(/^Error: setIPMulticastPublishAddress\(\)/);
  c.close();
});

it('farID returns the groupspec; nearNonce is a string unique to the connection; a groupspec over RTMP fails; NetStream() without new can return null', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  expect(await c.call('identity', `${base}/plain`)).toEqual(['string', null, 'G:0101', null, 'object']);
  await waitStatuses(c, (st) => st.includes('group NetStream.Connect.Failed error'));
  await c.call('nonces', `${base}/plain`);
  const st = await waitStatuses(c, (x) => x.some((s) => s.startsWith('nonces ')));
  expect(st.find((s) => s.startsWith('nonces '))).toMatch(/^nonces true true \d{2,}$/);
  c.close();
});

it('connect: RTMPT, RTMPE, RTMPTE (and RTMPS) raise an Error; unknown forms return false; rtmp returns true', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  const r = (await c.call('protocols')) as unknown[];
  expect(r[0]).toMatch(/^Error: .*RTMPT cannot be used/);
  expect(r[1]).toMatch(/^Error: .*RTMPE cannot be used/);
  expect(r[2]).toMatch(/^Error: .*RTMPTE cannot be used/);
  expect(r[3]).toMatch(/^Error: .*RTMPS/);
  expect(r.slice(4)).toEqual([false, false, true]);
  c.close();
});

it('the status sequence of a publish: Connect.Success (ns only), Play.Failed for play(), Publish.Start, send true, attach results, an Error while publishing, Unpublish.Success', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  await c.call('lifecycle', `${base}/plain`);
  const st = await waitStatuses(c, (x) => x.includes('ns NetStream.Unpublish.Success status'));
  // Nothing more arrives afterwards (no second Connect.Success for the stream).
  await new Promise((r) => setTimeout(r, 300));
  const mine = st.filter((s) => /^(nc |ns |send |whilePublishing|beforePublish|bufferTime)/.test(s));
  expect(mine).toEqual([
    // Held until Publish.Start (the seed's own send() example right after the constructor), then delivered.
    'beforePublish send true',
    'bufferTime 3',
    // play() fails at once ("a server-side NetStream ... cannot play a stream"): its status comes right
    // after the calling event, ahead of the Connect.Success that arrived while that event ran.
    'ns NetStream.Play.Failed error',
    'nc NetConnection.Connect.Success',
    'ns NetStream.Connect.Success status',
    'ns NetStream.Publish.Start status',
    'send true attach true true false false',
    'whilePublishing Error: setIPMulticastPublishAddress(): cannot change the address while the NetStream is publishing.',
    'ns NetStream.Unpublish.Success status',
  ]);
  expect((await statuses(c)).filter((x) => /^(nc |ns )/.test(x))).toHaveLength(5);
  await c.call('badHow', `${base}/plain`);
  await waitStatuses(c, (x) => x.includes('how NetStream.Publish.Failed error'));
  c.close();
});

it('a handler that raises its own Play.Failed forever loops between other events, not inside one', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  expect(await c.call('chain', `${base}/plain`)).toBe(true);
  // Other calls to the same instance are answered meanwhile, and the chain keeps going.
  const first = (await c.call('chainCount')) as number;
  await new Promise((r) => setTimeout(r, 100));
  const second = (await c.call('chainCount')) as number;
  expect(second).toBeGreaterThan(first);
  const stoppedAt = (await c.call('stopChain')) as number;
  await new Promise((r) => setTimeout(r, 100));
  expect((await c.call('chainCount')) as number).toBeLessThanOrEqual(stoppedAt + 1);
  c.close();
});

it('objectEncoding is settable before connect (0 or 3 only) and reaches the remote', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  expect(await c.call('encodingBeforeConnect', `${base}/plain`)).toBe(0);
  await waitStatuses(c, (x) => x.includes('enc 0 0'));
  c.close();
});

it('call() with onResult/onStatus, extra connect arguments, methods on the NetConnection callable by the remote, registerProxy', async () => {
  const c = await RtmpClient.connect(`${base}/seed`);
  await c.call('callRemote', `${base}/remote`);
  await waitStatuses(c, (st) => st.includes('result 42 from arg1/2') && st.includes('status NetConnection.Call.Failed') && st.includes('askBack asked'));
  // A client of the seed app calling proxiedAdd reaches the remote's add().
  expect(await c.call('proxiedAdd', 1, 2)).toBe('3 from arg1/2');
  c.close();
});
