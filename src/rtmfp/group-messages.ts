/**
 * The messages group members exchange peer to peer (Flash Player's NetGroup multicast). No RFC covers
 * them; every layout below is from notes/netgroup-facts.md 3 and 4, learned from librtmfp (P2PSession,
 * NetGroup, GroupMedia, RTMFPWriter writePeerGroup / writeGroupMedia / writeGroupFragment) and checked
 * on the wire between librtmfp peers (TestClient --dump prints P2P packets decrypted). Messages are raw on
 * their flows: the first byte is the message type, no RTMP type and timestamp in front.
 *
 * Flows on a member-to-member session (metadata values, facts 3.2):
 *   47 52 1c  main flow (no association): 01 init, 02, 0e begin, 0a report, 0c please-disconnect
 *   47 52 11  media report flow per stream (answers the peer's 1c): 21 media infos, 22 map, 23 push, 2b pull
 *   47 52 12  media flow per stream (answers the peer's 11 of that stream): fragments 20 / 30 / 10 / 00
 *
 * 01 init     41 00 <group id, 64 lowercase hex characters> | 21 01 <key 32> | 23 03 21 0f <recipient peer id>
 *             key = HMAC-SHA256(key = group description text, msg = HMAC-SHA256(key = DH secret, msg = the
 *             other end's keying component)), i.e. HMAC(groupTxt, far nonce) (checked on captured keys).
 * 0a report   L 0d <recipient's address as seen> | L 0a <sender's addresses>* | 00 |
 *             { 22 21 0f <peer id> VLU(seconds since heard) L 0a <addresses>* 00 }*
 * 21 infos    L 00 <stream name> | 21 01 <publication key 32> | 01 02 | [01 06 send-to-all] |
 *             L 03 VLU(window ms) | 04 04 92 a7 60 (300000) | L 05 VLU(update period ms) | L 07 VLU(fetch ms)
 * 21 end      VLU(next fragment id): the publication ended (a message shorter than a media infos)
 * 22 map      VLU(last id) bitmap: bit b of byte k set = fragment last - 1 - 8k - b is held
 * 23 push     mask: bit i = push every fragment whose id mod 8 is i
 * 2b pull     VLU(id): send that fragment now
 * 20 whole    VLU(id) type time(u32 ms) payload (at most 959 bytes)
 * 30 first    VLU(id) parts-after(1) type time(u32) payload(959)
 * 10 middle   VLU(id) parts-after(1) payload(959)
 * 00 last     VLU(id) payload(<= 959)
 */
import { createHmac } from 'node:crypto';
import { RtmfpError } from '../errors';
import { readAddress, writeAddress, type RtmfpAddress } from './handshake';
import { Cursor, Writer, option, readOptions, writeOption } from './wire';

export const GR_MAIN = Buffer.from([0x47, 0x52, 0x1c]);
export const GR_MEDIA_REPORT = Buffer.from([0x47, 0x52, 0x11]);
export const GR_MEDIA = Buffer.from([0x47, 0x52, 0x12]);

export const MSG_INIT = 0x01;
export const MSG_DATA = 0x02;
export const MSG_REPORT = 0x0a;
export const MSG_DISCONNECT = 0x0c;
export const MSG_BEGIN = 0x0e;
export const MSG_BEGIN_NEAREST = 0x0f;
export const MSG_MEDIA_INFOS = 0x21;
export const MSG_MAP = 0x22;
export const MSG_PUSH = 0x23;
export const MSG_PULL = 0x2b;
export const FRAG_WHOLE = 0x20;
export const FRAG_FIRST = 0x30;
export const FRAG_MIDDLE = 0x10;
export const FRAG_LAST = 0x00;

/** Largest fragment payload (librtmfp NETGROUP_MAX_PACKET_SIZE). */
export const FRAGMENT_PAYLOAD = 959;
/** The constant librtmfp expects as option 04 of media infos. */
const INFOS_CONSTANT = 300_000;

export function groupKey(groupDescription: string, nonce: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(groupDescription, 'latin1')).update(nonce).digest();
}

export interface GroupInit {
  groupIdHex: string;
  key: Buffer;
  /** The peer id the init is addressed to. */
  recipient: Buffer;
}

export function encodeGroupInit(i: GroupInit): Buffer {
  const w = new Writer(140).u8(MSG_INIT);
  writeOption(w, 0x00, Buffer.from(i.groupIdHex.toLowerCase(), 'latin1'));
  writeOption(w, 0x01, i.key);
  writeOption(w, 0x03, Buffer.concat([Buffer.from([0x21, 0x0f]), i.recipient]));
  return w.finish();
}

export function decodeGroupInit(msg: Buffer): GroupInit {
  const c = new Cursor(msg);
  if (c.u8('group message') !== MSG_INIT) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not a group init (01)');
  let groupIdHex = '';
  let key: Buffer | null = null;
  let recipient: Buffer | null = null;
  for (const o of readOptions(c, 'group init', false)) {
    if (o.type === 0x00) groupIdHex = o.value.toString('latin1').toLowerCase();
    else if (o.type === 0x01) key = Buffer.from(o.value);
    else if (o.type === 0x03 && o.value.length === 34 && o.value[0] === 0x21 && o.value[1] === 0x0f) recipient = Buffer.from(o.value.subarray(2));
  }
  if (!/^[0-9a-f]{64}$/.test(groupIdHex) || !key || key.length !== 32 || !recipient) {
    throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'group init without group id, key or recipient');
  }
  return { groupIdHex, key, recipient };
}

export interface ReportPeer {
  peerId: Buffer;
  secondsSinceHeard: number;
  addresses: RtmfpAddress[];
}

export interface GroupReport {
  /** The recipient's address as the sender sees it. */
  seenAs: RtmfpAddress | null;
  /** The sender's own addresses (its rendezvous server first, origin 3). */
  addresses: RtmfpAddress[];
  peers: ReportPeer[];
}

function addressOption(w: Writer, type: number, addrs: RtmfpAddress[]): void {
  const a = new Writer(64);
  for (const x of addrs) writeAddress(a, x);
  writeOption(w, type, a.finish());
}

function addressesOf(v: Buffer): RtmfpAddress[] {
  const c = new Cursor(v);
  const out: RtmfpAddress[] = [];
  while (!c.atEnd() && out.length < 32) out.push(readAddress(c));
  return out;
}

export function encodeReport(r: GroupReport): Buffer {
  const w = new Writer(256).u8(MSG_REPORT);
  if (r.seenAs) addressOption(w, 0x0d, [r.seenAs]);
  addressOption(w, 0x0a, r.addresses);
  w.u8(0);
  for (const p of r.peers) {
    if (p.peerId.length !== 32) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'a report entry needs a 32-byte peer id');
    w.vlu(0x22).bytes(option(0x0f, p.peerId)); // 22 21 0f <32>, as librtmfp writes and reads it
    w.vlu(Math.max(0, Math.floor(p.secondsSinceHeard)));
    addressOption(w, 0x0a, p.addresses);
    w.u8(0);
  }
  return w.finish();
}

export function decodeReport(msg: Buffer): GroupReport {
  const c = new Cursor(msg);
  if (c.u8('group message') !== MSG_REPORT) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not a group report (0a)');
  let seenAs: RtmfpAddress | null = null;
  let addresses: RtmfpAddress[] = [];
  for (const o of readOptions(c, 'group report', true)) {
    if (o.type === 0x0d) seenAs = addressesOf(o.value)[0] ?? null;
    else if (o.type === 0x0a) addresses = addressesOf(o.value);
  }
  // Entries (librtmfp NetGroup::sendGroupReport / readGroupReport): 22 | 21 0f <32-byte peer id>, VLU seconds
  // since heard, then the peer's address options until 00. An entry whose first field is not a peer id
  // (librtmfp skips such a field) is skipped the same way.
  const peers: ReportPeer[] = [];
  while (c.remaining > 4 && peers.length < 256) {
    const len = c.vlu('report peer field length');
    if (len === 0) continue;
    c.need(len, 'report peer field');
    const field = msg.subarray(c.pos, c.pos + len);
    c.pos += len;
    const isId = len === 34 && field[0] === 0x21 && field[1] === 0x0f;
    const seconds = c.vlu('report peer time');
    let addrs: RtmfpAddress[] = [];
    for (const o of readOptions(c, 'report peer', true)) if (o.type === 0x0a) addrs = addressesOf(o.value);
    if (isId) peers.push({ peerId: Buffer.from(field.subarray(2)), secondsSinceHeard: seconds, addresses: addrs });
  }
  return { seenAs, addresses, peers };
}

export interface MediaInfos {
  streamName: string;
  /** 32 bytes naming the publication (a new key with the same name is a new publication). */
  publicationKey: Buffer;
  sendToAll: boolean;
  windowMs: number;
  updatePeriodMs: number;
  fetchPeriodMs: number;
}

export function encodeMediaInfos(m: MediaInfos): Buffer {
  const w = new Writer(96).u8(MSG_MEDIA_INFOS);
  writeOption(w, 0x00, Buffer.from(m.streamName, 'utf8'));
  writeOption(w, 0x01, m.publicationKey);
  writeOption(w, 0x02, Buffer.alloc(0));
  if (m.sendToAll) writeOption(w, 0x06, Buffer.alloc(0));
  writeOption(w, 0x03, new Writer(8).vlu(Math.round(m.windowMs)).finish());
  writeOption(w, 0x04, new Writer(8).vlu(INFOS_CONSTANT).finish());
  writeOption(w, 0x05, new Writer(8).vlu(Math.round(m.updatePeriodMs)).finish());
  writeOption(w, 0x07, new Writer(8).vlu(Math.round(m.fetchPeriodMs)).finish());
  return w.finish();
}

/** Media infos, or the end of a publication (`end`: the next fragment id it would have had). */
export function decodeMediaInfos(msg: Buffer): MediaInfos | { end: number } {
  const c = new Cursor(msg);
  if (c.u8('group message') !== MSG_MEDIA_INFOS) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not media infos (21)');
  if (msg.length < 0x24) return { end: c.vlu('publication end') };
  const m: MediaInfos = { streamName: '', publicationKey: Buffer.alloc(0), sendToAll: false, windowMs: 8000, updatePeriodMs: 100, fetchPeriodMs: 2500 };
  for (const o of readOptions(c, 'media infos', false)) {
    const num = (): number => new Cursor(o.value).vlu('media infos value');
    switch (o.type) {
      case 0x00:
        m.streamName = o.value.toString('utf8');
        break;
      case 0x01:
        m.publicationKey = Buffer.from(o.value);
        break;
      case 0x06:
        m.sendToAll = true;
        break;
      case 0x03:
        m.windowMs = num();
        break;
      case 0x05:
        m.updatePeriodMs = num();
        break;
      case 0x07:
        m.fetchPeriodMs = num();
        break;
    }
  }
  if (m.publicationKey.length !== 32) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'media infos without a 32-byte publication key');
  return m;
}

/** A fragments map: `last`, and which of the ids before it are held. */
export function encodeMap(last: number, has: (id: number) => boolean, first: number): Buffer {
  const w = new Writer(64).u8(MSG_MAP).vlu(last);
  const span = Math.max(0, last - first);
  for (let k = 0; k * 8 < span; k++) {
    let byte = 0;
    for (let b = 0; b < 8; b++) {
      const id = last - 1 - 8 * k - b;
      if (id >= first && has(id)) byte |= 1 << b;
    }
    w.u8(byte);
  }
  return w.finish();
}

export function decodeMap(msg: Buffer): { last: number; held: (id: number) => boolean } {
  const c = new Cursor(msg);
  if (c.u8('group message') !== MSG_MAP) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not a fragments map (22)');
  const last = c.vlu('map last id');
  const bits = c.rest();
  return {
    last,
    held: (id) => {
      if (id === last) return true;
      const d = last - 1 - id;
      if (d < 0 || d >= bits.length * 8) return false;
      return ((bits[d >> 3]! >> (d & 7)) & 1) === 1;
    },
  };
}

export function encodePush(mask: number): Buffer {
  return Buffer.from([MSG_PUSH, mask & 0xff]);
}

export function encodePull(id: number): Buffer {
  return new Writer(10).u8(MSG_PULL).vlu(id).finish();
}

export function decodeSmall(msg: Buffer): { type: number; value: number } {
  const c = new Cursor(msg);
  const type = c.u8('group message');
  if (type === MSG_PUSH) return { type, value: c.u8('push mask') };
  if (type === MSG_PULL) return { type, value: c.vlu('pull id') };
  throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', `not a push or pull (0x${type.toString(16)})`);
}

export interface MediaMessage {
  type: number;
  time: number;
  payload: Buffer;
}

/** Cuts one RTMP message into fragments with consecutive ids from `firstId`. */
export function fragmentMessage(m: MediaMessage, firstId: number): Buffer[] {
  const out: Buffer[] = [];
  if (m.payload.length <= FRAGMENT_PAYLOAD) {
    const w = new Writer(m.payload.length + 16).u8(FRAG_WHOLE).vlu(firstId).u8(m.type).u32(m.time);
    out.push(w.bytes(m.payload).finish());
    return out;
  }
  const parts = Math.ceil(m.payload.length / FRAGMENT_PAYLOAD);
  if (parts > 256) throw new RtmfpError('ERR_RTMFP_TOO_LARGE', `a ${m.payload.length}-byte message needs more than 256 group fragments`);
  for (let i = 0; i < parts; i++) {
    const piece = m.payload.subarray(i * FRAGMENT_PAYLOAD, (i + 1) * FRAGMENT_PAYLOAD);
    const w = new Writer(piece.length + 16);
    if (i === 0) w.u8(FRAG_FIRST).vlu(firstId).u8(parts - 1).u8(m.type).u32(m.time);
    else if (i < parts - 1) w.u8(FRAG_MIDDLE).vlu(firstId + i).u8(parts - 1 - i);
    else w.u8(FRAG_LAST).vlu(firstId + i);
    out.push(w.bytes(piece).finish());
  }
  return out;
}

export interface Fragment {
  kind: number;
  id: number;
  /** Parts that follow (first and middle fragments). */
  rest: number;
  type: number;
  time: number;
  payload: Buffer;
}

export function decodeFragment(msg: Buffer): Fragment {
  const c = new Cursor(msg);
  const kind = c.u8('fragment kind');
  const id = c.vlu('fragment id');
  let rest = 0;
  let type = 0;
  let time = 0;
  switch (kind) {
    case FRAG_WHOLE:
      type = c.u8('fragment type');
      time = c.u32('fragment time');
      break;
    case FRAG_FIRST:
      rest = c.u8('fragment parts');
      type = c.u8('fragment type');
      time = c.u32('fragment time');
      break;
    case FRAG_MIDDLE:
      rest = c.u8('fragment parts');
      break;
    case FRAG_LAST:
      break;
    default:
      throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', `fragment kind 0x${kind.toString(16)}`);
  }
  const payload = c.rest();
  if (payload.length > FRAGMENT_PAYLOAD) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', `fragment of ${payload.length} bytes`);
  return { kind, id, rest, type, time, payload };
}
