/**
 * The member-to-member group messages (src/rtmfp/group-messages.ts), with messages laid out byte by byte as
 * librtmfp writes them (NetGroup::sendGroupReport, GroupMedia, RTMFPWriter), so a decoder that only reads
 * its own encoder's output cannot pass.
 */
import { Writer } from '../../src/rtmfp/wire';
import { writeAddress, type RtmfpAddress } from '../../src/rtmfp/handshake';
import {
  decodeFragment, decodeGroupInit, decodeMap, decodeMediaInfos, decodeReport, decodeSmall, encodeGroupInit, encodeMap,
  encodeMediaInfos, encodePull, encodePush, encodeReport, fragmentMessage, FRAGMENT_PAYLOAD, FRAG_FIRST, FRAG_LAST, FRAG_MIDDLE, FRAG_WHOLE,
} from '../../src/rtmfp/group-messages';
import { DEFAULT_MULTICAST, GroupPublisher } from '../../src/rtmfp/group-publisher';

const A = (address: string, port: number, origin: number): RtmfpAddress => ({ address, port, family: address.includes(':') ? 6 : 4, origin });
const id = (b: number): Buffer => Buffer.alloc(32, b);

function addrBytes(list: RtmfpAddress[]): Buffer {
  const w = new Writer(64);
  for (const a of list) writeAddress(w, a);
  return w.finish();
}

/** A report exactly as librtmfp's NetGroup::sendGroupReport builds it. */
function librtmfpReport(seenAs: RtmfpAddress, mine: RtmfpAddress[], peers: { id: Buffer; seconds: number; addrs: RtmfpAddress[] }[]): Buffer {
  const w = new Writer(512).u8(0x0a);
  const seen = addrBytes([seenAs]);
  w.u8(seen.length + 1).u8(0x0d).bytes(seen);
  const own = addrBytes(mine);
  w.vlu(own.length + 1).u8(0x0a).bytes(own).u8(0);
  for (const p of peers) {
    w.u8(0x22).u8(0x21).u8(0x0f).bytes(p.id);
    w.vlu(p.seconds);
    const a = addrBytes(p.addrs);
    w.vlu(a.length + 1).u8(0x0a).bytes(a).u8(0);
  }
  return w.finish();
}

describe('group report (0a)', () => {
  const seenAs = A('127.0.0.1', 40786, 2);
  const mine = [A('127.0.0.1', 19350, 3), A('127.0.0.1', 45172, 2), A('::1', 57934, 1)];
  const peers = [
    { id: id(0x5e), seconds: 0, addrs: [A('127.0.0.1', 19350, 3), A('127.0.0.1', 45838, 2)] },
    { id: id(0x91), seconds: 200, addrs: [A('::1', 1000, 1)] },
    { id: id(0x07), seconds: 3, addrs: [] },
  ];

  test('a librtmfp report with three peers decodes: the address we are seen at, the sender\'s addresses, every peer', () => {
    const r = decodeReport(librtmfpReport(seenAs, mine, peers));
    expect(r.seenAs).toEqual(seenAs);
    expect(r.addresses).toEqual(mine);
    expect(r.peers.map((p) => [p.peerId.toString('hex'), p.secondsSinceHeard, p.addresses])).toEqual(peers.map((p) => [p.id.toString('hex'), p.seconds, p.addrs]));
  });

  test('our encoder writes the same bytes librtmfp writes', () => {
    const ours = encodeReport({ seenAs, addresses: mine, peers: peers.map((p) => ({ peerId: p.id, secondsSinceHeard: p.seconds, addresses: p.addrs })) });
    expect(ours.toString('hex')).toBe(librtmfpReport(seenAs, mine, peers).toString('hex'));
  });

  test('a report with no peers (two-member group)', () => {
    const r = decodeReport(librtmfpReport(seenAs, mine, []));
    expect(r.peers).toEqual([]);
    expect(r.addresses).toHaveLength(3);
  });

  test('an entry whose first field is not a peer id is skipped, as librtmfp skips it', () => {
    const good = librtmfpReport(seenAs, mine, [peers[0]!]);
    const head = librtmfpReport(seenAs, mine, []);
    const odd = Buffer.concat([head, Buffer.from([0x09, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 0x05, 0x00]), good.subarray(head.length)]);
    const r = decodeReport(odd);
    expect(r.peers.map((p) => p.peerId.toString('hex'))).toEqual([id(0x5e).toString('hex')]);
  });

  test('truncated and malformed reports give coded errors', () => {
    const full = librtmfpReport(seenAs, mine, peers);
    for (const cut of [2, 10, full.length - 40, full.length - 3]) {
      expect(() => decodeReport(full.subarray(0, cut))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_RTMFP_/) }));
    }
    expect(() => decodeReport(Buffer.from([0x21, 0x00]))).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
    expect(() => encodeReport({ seenAs, addresses: mine, peers: [{ peerId: Buffer.alloc(5), secondsSinceHeard: 0, addresses: [] }] })).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
  });
});

describe('group init (01)', () => {
  test('librtmfp layout: 41 00 <64 hex> 21 01 <key> 23 03 21 0f <peer id>', () => {
    const groupIdHex = 'ab'.repeat(32);
    const msg = encodeGroupInit({ groupIdHex, key: id(1), recipient: id(2) });
    expect(msg.subarray(0, 3).toString('hex')).toBe('014100');
    expect(msg.subarray(3, 67).toString('latin1')).toBe(groupIdHex);
    expect(msg.subarray(67, 69).toString('hex')).toBe('2101');
    expect(msg.subarray(101, 105).toString('hex')).toBe('2303210f');
    expect(msg.length).toBe(137);
    expect(decodeGroupInit(msg)).toEqual({ groupIdHex, key: id(1), recipient: id(2) });
    expect(() => decodeGroupInit(msg.subarray(0, 100))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_RTMFP_/) }));
  });
});

describe('media infos (21), map (22), push (23), pull (2b)', () => {
  const infos = { streamName: 'grouped', publicationKey: id(9), sendToAll: false, windowMs: 8000, updatePeriodMs: 100, fetchPeriodMs: 2500 };

  test('media infos round trip and carry librtmfp\'s constant option 04 (300000)', () => {
    const msg = encodeMediaInfos(infos);
    expect(msg.includes(Buffer.from([0x04, 0x04, 0x92, 0xa7, 0x60]))).toBe(true);
    expect(decodeMediaInfos(msg)).toEqual(infos);
    expect(decodeMediaInfos(encodeMediaInfos({ ...infos, sendToAll: true, windowMs: 5000 }))).toEqual({ ...infos, sendToAll: true, windowMs: 5000 });
  });

  test('a short 21 is the end of a publication', () => {
    expect(decodeMediaInfos(Buffer.from([0x21, 0x81, 0x00]))).toEqual({ end: 128 });
  });

  test('media infos without a 32-byte key are refused', () => {
    const msg = encodeMediaInfos({ ...infos, publicationKey: Buffer.alloc(31, 1), streamName: 'a-longer-stream-name' });
    expect(() => decodeMediaInfos(msg)).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
  });

  test('a map says which fragments before the last are held, bit b of byte k = last - 1 - 8k - b', () => {
    const held = new Set([100, 99, 97, 90, 85]);
    const msg = encodeMap(100, (i) => held.has(i), 84);
    expect(msg[0]).toBe(0x22);
    const m = decodeMap(msg);
    expect(m.last).toBe(100);
    for (let i = 80; i <= 100; i++) expect([i, m.held(i)]).toEqual([i, held.has(i) || i === 100]);
    expect(msg[2]).toBe(0b00000101); // 99 and 97
  });

  test('push and pull', () => {
    expect(encodePush(0x1ff)).toEqual(Buffer.from([0x23, 0xff]));
    expect(decodeSmall(encodePush(0x81))).toEqual({ type: 0x23, value: 0x81 });
    expect(decodeSmall(encodePull(300))).toEqual({ type: 0x2b, value: 300 });
    expect(() => decodeSmall(Buffer.from([0x22, 1]))).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
    expect(() => decodeSmall(Buffer.from([0x2b]))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_RTMFP_/) }));
  });
});

describe('media fragments (20 / 30 / 10 / 00)', () => {
  test('a small message is one whole fragment', () => {
    const [f, ...more] = fragmentMessage({ type: 9, time: 1234, payload: Buffer.alloc(500, 7) }, 41);
    expect(more).toEqual([]);
    expect(f!.subarray(0, 7).toString('hex')).toBe('2029' + '09' + '000004d2');
    expect(decodeFragment(f!)).toEqual({ kind: FRAG_WHOLE, id: 41, rest: 0, type: 9, time: 1234, payload: Buffer.alloc(500, 7) });
  });

  test('a large message is first, middles and last with consecutive ids, and reassembles', () => {
    const payload = Buffer.from(Array.from({ length: FRAGMENT_PAYLOAD * 3 + 10 }, (_, i) => i & 0xff));
    const frags = fragmentMessage({ type: 8, time: 99, payload }, 200).map(decodeFragment);
    expect(frags.map((f) => [f.kind, f.id, f.rest])).toEqual([[FRAG_FIRST, 200, 3], [FRAG_MIDDLE, 201, 2], [FRAG_MIDDLE, 202, 1], [FRAG_LAST, 203, 0]]);
    expect(frags[0]).toMatchObject({ type: 8, time: 99 });
    expect(Buffer.concat(frags.map((f) => f.payload))).toEqual(payload);
  });

  test('a message needing more than 256 fragments, an unknown kind and an oversized payload are refused', () => {
    expect(() => fragmentMessage({ type: 9, time: 0, payload: Buffer.alloc(FRAGMENT_PAYLOAD * 257) }, 1)).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_TOO_LARGE' }));
    expect(() => decodeFragment(Buffer.from([0x40, 1, 2]))).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
    expect(() => decodeFragment(Buffer.concat([Buffer.from([0x00, 1]), Buffer.alloc(FRAGMENT_PAYLOAD + 1)]))).toThrow(expect.objectContaining({ code: 'ERR_RTMFP_BAD_GROUP_MESSAGE' }));
    expect(() => decodeFragment(Buffer.from([0x20, 1, 9, 0]))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_RTMFP_/) }));
  });
});

// Found by the group-publisher fuzz target (scripts/fuzz/rtmfp-lib.js): the publishing client sends the
// sequence headers, and one too large for 256 fragments was kept and sent again before every key frame
// (audio: every second), so each of those pushes failed with ERR_RTMFP_TOO_LARGE too.
describe('group publisher', () => {
  const TOO_LARGE = expect.objectContaining({ code: 'ERR_RTMFP_TOO_LARGE' });
  const big = Buffer.alloc(FRAGMENT_PAYLOAD * 256 + 1, 1);
  const msg = (type: number, time: number, payload: Buffer, keyframe: boolean, sequenceHeader: boolean) => ({ type, time, payload, keyframe, sequenceHeader });

  test('a sequence header too large for a group is refused once, not sent again before each key frame', () => {
    const p = new GroupPublisher('s', DEFAULT_MULTICAST);
    expect(() => p.push(msg(9, 0, big, true, true), 1000)).toThrow(TOO_LARGE);
    expect(() => p.push(msg(8, 0, big, false, true), 1000)).toThrow(TOO_LARGE);
    const video = p.push(msg(9, 40, Buffer.alloc(100, 2), true, false), 3000);
    expect(video.map((f) => decodeFragment(f).payload.length)).toEqual([100]);
    const audio = p.push(msg(8, 60, Buffer.alloc(10, 3), false, false), 3000);
    expect(audio.map((f) => decodeFragment(f).payload.length)).toEqual([10]);
    // A header that fits is still repeated before a later key frame.
    p.push(msg(9, 80, Buffer.alloc(20, 4), false, true), 4000);
    expect(p.push(msg(9, 120, Buffer.alloc(30, 5), true, false), 5000).map((f) => decodeFragment(f).payload.length)).toEqual([20, 30]);
  });
});
