/**
 * splitAggregate (RTMP spec 7.1.6): sub-message framing, timestamp rebasing, truncation errors.
 */
import { splitAggregate } from '../../src/rtmp/aggregate';
import type { RtmpMessage } from '../../src/rtmp/types';

interface Sub {
  type: number;
  ts: number;
  body: Buffer;
  streamId?: number;
}

/** FLV-tag-like sub-messages with back pointers (11 + size), as FMS writes them. */
function aggregatePayload(subs: Sub[], backPointer = (size: number): number => 11 + size): Buffer {
  const parts: Buffer[] = [];
  for (const s of subs) {
    const h = Buffer.alloc(11);
    h[0] = s.type;
    h.writeUIntBE(s.body.length, 1, 3);
    h.writeUIntBE(s.ts & 0xffffff, 4, 3);
    h[7] = s.ts >>> 24;
    h.writeUIntBE(s.streamId ?? 0, 8, 3);
    const bp = Buffer.alloc(4);
    bp.writeUInt32BE(backPointer(s.body.length));
    parts.push(h, s.body, bp);
  }
  return Buffer.concat(parts);
}

function aggregate(payload: Buffer, timestamp = 5000): RtmpMessage {
  return { type: 22, streamId: 1, timestamp, csid: 7, payload };
}

const BAD = expect.objectContaining({ code: 'ERR_RTMP_BAD_AGGREGATE' });

test('sub-messages come out with rebased timestamps, the aggregate stream and chunk stream ids', () => {
  const subs: Sub[] = [
    { type: 9, ts: 1000, body: Buffer.from('video-1') },
    { type: 8, ts: 1010, body: Buffer.from('audio') },
    { type: 9, ts: 1040, body: Buffer.alloc(0) },
    { type: 18, ts: 1040, body: Buffer.from('data'), streamId: 99 },
  ];
  const out = splitAggregate(aggregate(aggregatePayload(subs)));
  expect(out.map((m) => [m.type, m.timestamp, m.streamId, m.csid, m.payload.toString()])).toEqual([
    [9, 5000, 1, 7, 'video-1'],
    [8, 5010, 1, 7, 'audio'],
    [9, 5040, 1, 7, ''],
    [18, 5040, 1, 7, 'data'],
  ]);
});

test('timestamps use the extended byte and wrap modulo 2^32', () => {
  const subs: Sub[] = [
    { type: 9, ts: 0x01000000, body: Buffer.from('a') },
    { type: 9, ts: 0x01000010, body: Buffer.from('b') },
  ];
  expect(splitAggregate(aggregate(aggregatePayload(subs), 0xfffffff8)).map((m) => m.timestamp)).toEqual([0xfffffff8, 0x8]);
  // A sub-timestamp before the first one rebases backwards.
  const back: Sub[] = [
    { type: 9, ts: 100, body: Buffer.from('a') },
    { type: 9, ts: 90, body: Buffer.from('b') },
  ];
  expect(splitAggregate(aggregate(aggregatePayload(back), 1000)).map((m) => m.timestamp)).toEqual([1000, 990]);
});

test('payloads are views of the aggregate; back pointer values are not checked', () => {
  const payload = aggregatePayload([{ type: 8, ts: 0, body: Buffer.from('xyz') }], () => 0);
  const [sub] = splitAggregate(aggregate(payload));
  expect(sub!.payload.buffer).toBe(payload.buffer);
  expect(sub!.payload.toString()).toBe('xyz');
});

test('an empty aggregate has no sub-messages', () => {
  expect(splitAggregate(aggregate(Buffer.alloc(0)))).toEqual([]);
});

test('truncated or inconsistent aggregates', () => {
  const good = aggregatePayload([
    { type: 9, ts: 0, body: Buffer.alloc(20) },
    { type: 9, ts: 1, body: Buffer.alloc(5) },
  ]);
  for (let cut = 1; cut < good.length; cut++) {
    if (cut === 35) continue; // exactly after the first back pointer: a valid one-message aggregate
    expect(() => splitAggregate(aggregate(good.subarray(0, cut)))).toThrow(BAD);
  }
  expect(splitAggregate(aggregate(good.subarray(0, 35)))).toHaveLength(1);
  const lying = Buffer.from(good);
  lying.writeUIntBE(0xffffff, 1, 3);
  expect(() => splitAggregate(aggregate(lying))).toThrow(BAD);
  expect(() => splitAggregate({ ...aggregate(good), type: 9 })).toThrow(BAD);
});
