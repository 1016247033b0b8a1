'use strict';
/**
 * Test peer: a hostile member of an RTMFP group (built from ssas's own compiled RTMFP code, dist/). It
 * connects to the group's server, joins the group, and when a member opens a session to it:
 *   wrongkey  answers the group handshake with a wrong key
 *   flood     answers it correctly, then floods: pulls for random fragments, bogus maps and media
 *             infos, bogus fragments, oversized reports, thousands of messages a second
 *   silent    answers it correctly, then its socket goes quiet (never another packet)
 *   joinspam  opens 40 group channels to the server and joins thousands of random groups through them
 * Prints its peer id ("peer <hex>") once connected, and at the end one JSON line of what it did.
 *
 *   node hostile-member.js URL GROUPSPEC MODE SECONDS
 */
const path = require('path');
const crypto = require('crypto');
const dist = path.join(__dirname, '..', '..', '..', 'dist');
const { RtmpClient } = require(path.join(dist, 'net', 'rtmp-client.js'));
const { parseGroupspec } = require(path.join(dist, 'rtmfp', 'groupspec.js'));
const groups = require(path.join(dist, 'rtmfp', 'groups.js'));
const gm = require(path.join(dist, 'rtmfp', 'group-messages.js'));

const [url, spec, mode, secondsText] = process.argv.slice(2);
const stats = { mode, sessions: 0, sent: 0, closedByPeer: 0, joins: 0, refusedChannels: 0 };

(async () => {
  const c = await RtmpClient.connect(url);
  const conn = c.conn;
  const parsed = parseGroupspec(spec);
  const socket = conn.socket;
  process.stdout.write(`peer ${socket.endpoint.peerId.toString('hex')}\n`);
  socket.endpoint.onSession = (session) => {
    stats.sessions++;
    session.onClose = () => stats.closedByPeer++;
    let out = null;
    session.onRecvFlow = (flow) => {
      flow.onMessage = (m) => {
        if (m[0] !== gm.MSG_INIT || out) return;
        out = session.openFlow(gm.GR_MAIN, -1, 5);
        const key = mode === 'wrongkey' ? crypto.randomBytes(32) : gm.groupKey(parsed.description, session.farNonce);
        out.write(gm.encodeGroupInit({ groupIdHex: parsed.groupId.toString('hex'), key, recipient: Buffer.from(session.farId, 'hex') }), socket.now());
        out.write(Buffer.from([gm.MSG_DATA]), socket.now());
        out.write(Buffer.from([gm.MSG_BEGIN]), socket.now());
        socket.kick();
        if (mode === 'silent') {
          setTimeout(() => socket.close(true), 500);
          return;
        }
        if (mode !== 'flood') return;
        // Once it reported, its media report flow answers ours: flood on a flow of our own answering its main flow.
        const report = gm.encodeReport({ seenAs: null, addresses: [], peers: Array.from({ length: 40 }, () => ({ peerId: crypto.randomBytes(32), secondsSinceHeard: 1, addresses: [] })) });
        out.write(report, socket.now());
        const media = session.openFlow(gm.GR_MEDIA_REPORT, flow.id, 5);
        const frags = session.openFlow(gm.GR_MEDIA, flow.id, 5);
        const iv = setInterval(() => {
          for (let i = 0; i < 200; i++) {
            media.write(gm.encodePull(1 + Math.floor(Math.random() * 1e6)), socket.now(), 500);
            media.write(Buffer.concat([Buffer.from([gm.MSG_MAP]), crypto.randomBytes(1 + (i % 60))]), socket.now(), 500);
            frags.write(Buffer.concat([Buffer.from([gm.FRAG_WHOLE]), crypto.randomBytes(20 + (i % 900))]), socket.now(), 500);
            stats.sent += 3;
          }
          if (stats.sent % 3000 === 0) out.write(report, socket.now(), 500);
          socket.kick();
        }, 50);
        setTimeout(() => clearInterval(iv), Number(secondsText) * 1000 - 500);
      };
    };
  };
  const server = conn.serverControlFlow;
  const gc = conn.openRawFlow(groups.GC_METADATA, server, () => {});
  gc.write(groups.encodeGroupJoin(parsed.groupId), socket.now());
  socket.kick();
  if (mode === 'joinspam') {
    const channels = Array.from({ length: 40 }, () => conn.openRawFlow(groups.GC_METADATA, server, () => {}));
    for (const ch of channels) ch.onException = () => stats.refusedChannels++;
    const iv = setInterval(() => {
      for (const ch of channels) {
        if (!ch.isOpen) continue;
        for (let i = 0; i < 10; i++) {
          ch.write(groups.encodeGroupJoin(crypto.randomBytes(32)), socket.now(), 1000);
          stats.joins++;
        }
      }
      socket.kick();
    }, 50);
    setTimeout(() => clearInterval(iv), Number(secondsText) * 1000 - 500);
  }
  setTimeout(() => {
    process.stdout.write(JSON.stringify(stats) + '\n');
    process.exit(0);
  }, Number(secondsText) * 1000);
})().catch((e) => {
  process.stdout.write(JSON.stringify({ ...stats, error: String(e && e.message) }) + '\n');
  process.exit(1);
});
