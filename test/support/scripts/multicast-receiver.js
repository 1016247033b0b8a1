'use strict';
/**
 * Test peer: an IP multicast receiver of a group stream sent by ssas (setIPMulticastPublishAddress).
 * Joins ADDRESS:PORT on INTERFACE for SECONDS, reads the datagrams as RTMFP group messages (media
 * infos, fragments, end), reassembles the fragments in id order into RTMP messages and writes them as
 * an FLV file; prints one JSON line of what it saw. Uses the compiled codec (dist/rtmfp/group-messages.js).
 *
 *   node multicast-receiver.js ADDRESS PORT INTERFACE SECONDS OUT.flv
 */
const dgram = require('dgram');
const fs = require('fs');
const path = require('path');
const gm = require(path.join(__dirname, '..', '..', '..', 'dist', 'rtmfp', 'group-messages.js'));

const [address, portText, iface, secondsText, out] = process.argv.slice(2);
const v6 = address.includes(':');
const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
const frags = new Map();
const seen = { datagrams: 0, infos: 0, fragments: 0, end: false, stream: null, errors: 0 };
sock.on('message', (m) => {
  seen.datagrams++;
  try {
    if (m[0] === gm.MSG_MEDIA_INFOS) {
      const i = gm.decodeMediaInfos(m);
      if ('end' in i) seen.end = true;
      else {
        seen.infos++;
        seen.stream = i.streamName;
      }
      return;
    }
    const f = gm.decodeFragment(m);
    seen.fragments++;
    frags.set(f.id, f);
  } catch {
    seen.errors++;
  }
});
sock.bind(Number(portText), () => {
  sock.addMembership(address, v6 ? `::%${iface}` : iface);
});
setTimeout(() => {
  sock.close();
  // Reassemble from the first whole or first-part fragment, in id order.
  const ids = Array.from(frags.keys()).sort((a, b) => a - b);
  const messages = [];
  let cur = null;
  for (const id of ids) {
    const f = frags.get(id);
    if (f.kind === gm.FRAG_WHOLE) {
      messages.push({ type: f.type, time: f.time, payload: f.payload });
      cur = null;
    } else if (f.kind === gm.FRAG_FIRST) {
      cur = { type: f.type, time: f.time, parts: [f.payload], next: id + 1, left: f.rest };
    } else if (cur && id === cur.next) {
      cur.parts.push(f.payload);
      cur.next++;
      if (f.kind === gm.FRAG_LAST) {
        messages.push({ type: cur.type, time: cur.time, payload: Buffer.concat(cur.parts) });
        cur = null;
      }
    } else {
      cur = null;
    }
  }
  // Like a player joining mid-stream: video from the first AVC sequence header, audio from the first AAC
  // sequence header (the sender repeats them before key frames).
  let videoOn = false;
  let audioOn = false;
  const playable = messages.filter((m) => {
    if (m.type === 9) {
      if (m.payload[1] === 0) videoOn = true;
      return videoOn;
    }
    if (m.type === 8) {
      if ((m.payload[0] >> 4) === 10 && m.payload[1] === 0) audioOn = true;
      return audioOn;
    }
    return videoOn;
  });
  const chunks = [Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9]), Buffer.alloc(4)];
  const t0 = playable.length ? playable[0].time : 0;
  for (const msg of playable) {
    const h = Buffer.alloc(11);
    h[0] = msg.type;
    h.writeUIntBE(msg.payload.length, 1, 3);
    const t = Math.max(0, msg.time - t0);
    h.writeUIntBE(t & 0xffffff, 4, 3);
    h[7] = (t >>> 24) & 0xff;
    chunks.push(h, msg.payload);
    const p = Buffer.alloc(4);
    p.writeUInt32BE(11 + msg.payload.length);
    chunks.push(p);
  }
  fs.writeFileSync(out, Buffer.concat(chunks));
  process.stdout.write(JSON.stringify({ ...seen, messages: messages.length, playable: playable.length, bytes: fs.statSync(out).size }) + '\n');
}, Number(secondsText) * 1000);
