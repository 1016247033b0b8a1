/**
 * The group script API (issue 13) through a real sandbox: GroupSpecifier strings byte for byte as Flash
 * Player makes them (the vectors MonaServer confirmed), a bad groupspec gives NetStream.Connect.Failed,
 * farID / nearNonce of a group stream, and NetGroup between two members the script makes itself (two
 * server-side NetConnections to this very server, peer to peer over loopback): Connect.Success,
 * Neighbor.Connect, neighborCount, post() reaching the other (Posting.Notify), sendToAllNeighbors and
 * sendToNearest (SendTo.Notify), convertPeerIDToGroupAddress.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient } from '../../src/net/rtmp-client';
import { makeTempDir, removeDir, until } from '../support';

jest.setTimeout(60_000);

const APP = String.raw`
var log = [];
function attempt(f) { try { return f(); } catch (e) { return "Error: " + e.message; } }

Client.prototype.specs = function () {
  var a = new GroupSpecifier("test");
  a.multicastEnabled = true; a.postingEnabled = true; a.serverChannelEnabled = true; a.ipMulticastMemberUpdatesEnabled = true;
  var v1 = new GroupSpecifier("test"); v1.minGroupspecVersion = 1; v1.multicastEnabled = true; v1.serverChannelEnabled = true;
  var pw = new GroupSpecifier("g"); pw.multicastEnabled = true; pw.serverChannelEnabled = true;
  pw.setPublishPassword("secret"); pw.setPostingPassword("pw", "salt");
  var ip = new GroupSpecifier("g"); ip.multicastEnabled = true; ip.serverChannelEnabled = true;
  ip.addIPMulticastAddress("224.0.0.254:30000"); ip.addIPMulticastAddress("[ff03::ffff]:30000");
  ip.addBootstrapPeer("763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620");
  var u = new GroupSpecifier("test"); var before = u.toString(); u.makeUnique();
  return [a.toString(), v1.toString(), pw.toString(), pw.groupspecWithoutAuthorizations(), pw.authorizations(), ip.toString(),
    GroupSpecifier.encodePublishAuthorization("secret"), GroupSpecifier.encodePostingAuthorization("pw"),
    GroupSpecifier.encodeIPMulticastAddressSpec("224.0.0.254", 30000), GroupSpecifier.encodeBootstrapPeerIDSpec("763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620"),
    before != u.toString(), GroupSpecifier.maxSupportedGroupspecVersion,
    attempt(function () { return new GroupSpecifier(""); }), attempt(function () { a.addBootstrapPeer("xyz"); return "ok"; }),
    attempt(function () { a.addIPMulticastAddress("224.0.0.1"); return "ok"; })];
};

Client.prototype.badStream = function (uri) {
  var nc = new NetConnection();
  nc.onStatus = function (info) {
    if (info.code != "NetConnection.Connect.Success") return;
    var ns = new NetStream(nc, "G:nonsense");
    ns.onStatus = function (i) { log.push("bad " + i.code); };
    var gs = new GroupSpecifier("x"); gs.multicastEnabled = true; gs.serverChannelEnabled = true;
    var good = new NetStream(nc, gs);
    good.onStatus = function (i) { log.push("good " + i.code + " farID=" + (good.farID == gs.toString()) + " nearNonce='" + good.nearNonce + "'"); };
  };
  nc.connect(uri);
  return true;
};

var groups = [], peers = [];
Client.prototype.twoMembers = function (uri) {
  var gs = new GroupSpecifier("chatroom");
  gs.postingEnabled = true; gs.routingEnabled = true; gs.serverChannelEnabled = true; gs.multicastEnabled = true;
  var spec = gs.toString();
  [0, 1].forEach(function (i) {
    var nc = new NetConnection();
    nc.onStatus = function (info) {
      if (info.code != "NetConnection.Connect.Success") return;
      var g = new NetGroup(nc, spec);
      groups[i] = g;
      g.onStatus = function (e) {
        var s = "g" + i + " " + e.code;
        if (e.code == "NetGroup.Posting.Notify") s += " " + JSON.stringify(e.message) + " " + (e.messageID.length == 64);
        if (e.code == "NetGroup.SendTo.Notify") s += " " + JSON.stringify(e.message) + " " + e.fromLocal;
        if (e.code == "NetGroup.Neighbor.Connect") { s += " " + (e.peerID.length == 64) + " " + (e.neighbor == g.convertPeerIDToGroupAddress(e.peerID)); peers[i] = e.peerID; }
        log.push(s);
      };
    };
    // The second member arrives a moment later, so the group's server tells the first about it.
    if (i == 0) nc.connect(uri);
    else { var iv = setInterval(function () { clearInterval(iv); nc.connect(uri); }, 300); }
  });
  return spec;
};
Client.prototype.counts = function () { return [groups[0].neighborCount, groups[1].neighborCount, groups[0].estimatedMemberCount, groups[0].localCoverageFrom.length, groups[0].localCoverageTo.length]; };
Client.prototype.postIt = function (m) { return groups[0].post(m); };
Client.prototype.tellAll = function (m) { return groups[1].sendToAllNeighbors(m); };
Client.prototype.nearest = function (m) { return groups[0].sendToNearest(m, groups[0].convertPeerIDToGroupAddress(peers[0])); };

// Two members that publish the same name: each hears the other's media infos (MulticastStream.Reset); later
// publishers of a name the group has get Publish.BadName.
var stage = [], stageSpec = null;
Client.prototype.sameName = function (uri) {
  var gs = new GroupSpecifier("stage"); gs.multicastEnabled = true; gs.serverChannelEnabled = true;
  stageSpec = gs.toString();
  [0, 1].forEach(function (i) {
    var nc = new NetConnection();
    nc.onStatus = function (info) {
      if (info.code != "NetConnection.Connect.Success") return;
      var ns = new NetStream(nc, stageSpec);
      stage[i] = nc;
      ns.onStatus = function (e) {
        log.push("s" + i + " " + e.code + (e.details ? " " + e.details : ""));
        if (e.code != "NetStream.Connect.Success") return;
        ns.publish("race");
        if (i == 0) publishOn(0, "solo");
      };
    };
    nc.connect(uri);
  });
};
function publishOn(i, name) {
  var ns = new NetStream(stage[i], stageSpec);
  ns.onStatus = function (e) {
    log.push("p" + i + " " + name + " " + e.code);
    if (e.code == "NetStream.Connect.Success") ns.publish(name);
  };
  return true;
}
Client.prototype.publishOn = publishOn;

// peerToPeerDisabled: the members join the group (the server tells each about the other) but never open
// a session to each other.
var lonely = [];
Client.prototype.noP2P = function (uri) {
  var gs = new GroupSpecifier("nop2p"); gs.postingEnabled = true; gs.serverChannelEnabled = true; gs.peerToPeerDisabled = true;
  var spec = gs.toString();
  [0, 1].forEach(function (i) {
    var nc = new NetConnection();
    nc.onStatus = function (info) {
      if (info.code != "NetConnection.Connect.Success") return;
      var g = new NetGroup(nc, spec);
      lonely[i] = g;
      g.onStatus = function (e) { log.push("n" + i + " " + e.code); };
    };
    if (i == 0) nc.connect(uri);
    else { var iv = setInterval(function () { clearInterval(iv); nc.connect(uri); }, 300); }
  });
  return spec;
};
Client.prototype.noP2PState = function () {
  return [lonely[0].neighborCount, lonely[1].neighborCount, Math.max(lonely[0].estimatedMemberCount, lonely[1].estimatedMemberCount), lonely[0].addNeighbor("763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620")];
};
Client.prototype.log = function () { return log; };
`;

let server: Server;
let rtmfp: string;
let rtmp: string;
const apps = makeTempDir('groups-api');

beforeAll(async () => {
  fs.mkdirSync(path.join(apps, 'g'));
  fs.writeFileSync(path.join(apps, 'g', 'main.asc'), APP);
  server = createServer({ appsDir: apps, port: 0 });
  const l = await server.listen();
  rtmp = l.url;
  rtmfp = l.rtmfpUrl!;
});

afterAll(async () => {
  await server.close();
  removeDir(apps);
});

async function logOf(c: RtmpClient): Promise<string[]> {
  return (await c.call('log')) as string[];
}

test('GroupSpecifier: the strings Flash Player makes, encode* helpers, errors', async () => {
  const c = await RtmpClient.connect(`${rtmp}/g`);
  const r = (await c.call('specs')) as unknown[];
  expect(r[0]).toBe('G:027f0201010103010c050e74657374011b00');
  expect(r[1]).toBe('G:0101010c050e7465737400');
  expect(r[2]).toBe(
    'G:027f02010121052bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b250773616c7421baed949b716c49cbf7d8fe79412f1dc104745650a32081ae0be0b967aeb7f3010c020e6700071573656372657403177077',
  );
  expect(r[3]).toBe(
    'G:027f02010121052bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b250773616c7421baed949b716c49cbf7d8fe79412f1dc104745650a32081ae0be0b967aeb7f3010c020e6700',
  );
  expect(r[4]).toBe('071573656372657403177077');
  expect(r[5]).toBe(
    'G:027f020101010c020e6700070ae00000fe7530130aff03000000000000000000000000ffff7530210b763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620',
  );
  expect(r[6]).toBe('0715736563726574');
  expect(r[7]).toBe('03177077');
  expect(r[8]).toBe('070ae00000fe7530');
  expect(r[9]).toBe('210b763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620');
  expect(r[10]).toBe(true);
  expect(r[11]).toBe(2);
  expect(r[12]).toMatch(/^Error: ArgumentError/);
  expect(r[13]).toMatch(/^Error: ArgumentError/);
  expect(r[14]).toMatch(/^Error: addIPMulticastAddress\(\)/);
  c.close();
});

test('a group NetStream: Connect.Failed for a bad groupspec; farID is the groupspec, nearNonce the empty string', async () => {
  const c = await RtmpClient.connect(`${rtmp}/g`);
  await c.call('badStream', `${rtmfp}/g`);
  await until(async () => (await logOf(c)).some((l) => l.startsWith('good ')) && (await logOf(c)).some((l) => l.startsWith('bad ')), 10_000);
  const log = await logOf(c);
  expect(log).toContain('bad NetStream.Connect.Failed');
  expect(log).toContain("good NetStream.Connect.Success farID=true nearNonce=''");
  c.close();
});

test('NetGroup between two members: Connect.Success, Neighbor.Connect, counts, post, sendToAllNeighbors', async () => {
  const c = await RtmpClient.connect(`${rtmp}/g`);
  await c.call('twoMembers', `${rtmfp}/g`);
  await until(async () => (await logOf(c)).filter((l) => / NetGroup\.Neighbor\.Connect /.test(l)).length >= 2, 20_000);
  let log = await logOf(c);
  expect(log).toEqual(expect.arrayContaining(['g0 NetGroup.Connect.Success', 'g1 NetGroup.Connect.Success', 'g0 NetGroup.Neighbor.Connect true true', 'g1 NetGroup.Neighbor.Connect true true']));
  const counts = (await c.call('counts')) as number[];
  expect(counts.slice(0, 2)).toEqual([1, 1]);
  expect(counts[2]).toBeGreaterThanOrEqual(2);
  expect(counts.slice(3)).toEqual([64, 64]);
  const id = (await c.call('postIt', { text: 'hello group', n: 1 })) as string;
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  expect(await c.call('tellAll', 'to my neighbours')).toBe('sent');
  await until(async () => (await logOf(c)).some((l) => l.startsWith('g1 NetGroup.Posting.Notify')) && (await logOf(c)).some((l) => l.startsWith('g0 NetGroup.SendTo.Notify')), 10_000);
  log = await logOf(c);
  expect(log).toContain('g1 NetGroup.Posting.Notify {"text":"hello group","n":1} true');
  expect(log).toContain('g0 NetGroup.SendTo.Notify "to my neighbours" false');
  // The poster does not hear its own post.
  expect(log.some((l) => l.startsWith('g0 NetGroup.Posting.Notify'))).toBe(false);
  // Routed to the member nearest the other's group address: that member.
  expect(await c.call('nearest', 'routed')).toBe('sent');
  await until(async () => (await logOf(c)).includes('g1 NetGroup.SendTo.Notify "routed" false'), 10_000);
  c.close();
});

test('the same name twice in a group: both publishers hear MulticastStream.Reset; a later publisher of a published name gets Publish.BadName', async () => {
  const c = await RtmpClient.connect(`${rtmp}/g`);
  await c.call('sameName', `${rtmfp}/g`);
  // Both publish "race" before they are neighbours; once each has the other's media infos, its focus moved.
  await until(async () => {
    const l = await logOf(c);
    return l.includes('s0 NetStream.MulticastStream.Reset race') && l.includes('s1 NetStream.MulticastStream.Reset race');
  }, 20_000);
  let log = await logOf(c);
  expect(log).toEqual(expect.arrayContaining(['s0 NetStream.Publish.Start race', 's1 NetStream.Publish.Start race', 'p0 solo NetStream.Publish.Start']));
  // "solo" is member 0's: member 1 knows it only from member 0's media infos.
  await c.call('publishOn', 1, 'solo');
  await c.call('publishOn', 1, 'fresh');
  await c.call('publishOn', 0, 'race');
  await until(async () => (await logOf(c)).filter((l) => /^p[01] (solo|fresh|race) NetStream\.Publish\./.test(l)).length >= 4, 10_000);
  log = await logOf(c);
  expect(log).toContain('p1 solo NetStream.Publish.BadName');
  expect(log).toContain('p1 fresh NetStream.Publish.Start');
  expect(log).toContain('p0 race NetStream.Publish.BadName');
  expect(log.filter((l) => /Reset solo/.test(l))).toEqual([]);
  c.close();
});

test('peerToPeerDisabled: both members join and hear of each other, and no member-to-member session opens (addNeighbor false)', async () => {
  const c = await RtmpClient.connect(`${rtmp}/g`);
  const spec = (await c.call('noP2P', `${rtmfp}/g`)) as string;
  expect(spec).toMatch(/^G:/);
  await until(async () => (await logOf(c)).filter((l) => /^n\d NetGroup\.Connect\.Success$/.test(l)).length === 2, 20_000);
  // The members of the test above met within a second or two; give these as long and more.
  await new Promise((r) => setTimeout(r, 4000));
  const [n0, n1, estimated, added] = (await c.call('noP2PState')) as [number, number, number, boolean];
  expect([n0, n1, added]).toEqual([0, 0, false]);
  expect(estimated).toBe(2);
  expect((await logOf(c)).filter((l) => /^n\d NetGroup\.Neighbor/.test(l))).toEqual([]);
  c.close();
});
