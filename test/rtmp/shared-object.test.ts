/**
 * Shared object message codec (src/rtmp/shared-object.ts): golden bytes for every event type in both framings
 * (type 19 AMF0, type 16 with its 0x00 format byte), several events per message, lenient readings taken from
 * Red5, malformed input with coded errors, seeded round-trip properties and a fuzz run.
 */
import { performance } from 'node:perf_hooks';
import { type AmfValue } from '../../src/amf';
import { isSsasError } from '../../src/errors';
import {
  decodeSharedObjectBody,
  decodeSharedObjectMessage,
  encodeSharedObjectEvent,
  encodeSharedObjectHeader,
  encodeSharedObjectMessage,
  joinSharedObjectBody,
  sharedObjectRtmpMessage,
  type SoEvent,
  type SoMessage,
} from '../../src/rtmp/shared-object';
import { MessageType } from '../../src/rtmp/types';
import { AmfGenerator, Rng, amfDiff } from '../amf/amf-test-utils';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Runs fn; returns the coded error's code, failing if anything but an ERR_SO_/ERR_AMF_ error escaped. */
function soErrorCode(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!isSsasError(e) || !/^ERR_(SO|AMF)_[A-Z0-9_]+$/.test(e.code) || !['RtmpError', 'AmfError'].includes(e.name)) {
      throw new Error(`uncoded error escaped: ${String((e as Error)?.stack ?? e)}`);
    }
    return e.code;
  }
}

// name "so", version 5, persistent
const HEADER_P = '0002 736f 00000005 00000002 00000000';
// name "so", version 5, not persistent
const HEADER_T = '0002 736f 00000005 00000000 00000000';

const GOLDEN: { what: string; event: SoEvent; bytes: string }[] = [
  { what: 'Use', event: { kind: 'use' }, bytes: '01 00000000' },
  { what: 'Release', event: { kind: 'release' }, bytes: '02 00000000' },
  {
    what: 'RequestChange (string)',
    event: { kind: 'requestChange', key: 'k', value: 'v' },
    bytes: '03 00000007 0001 6b 02 0001 76',
  },
  {
    what: 'Change (number)',
    event: { kind: 'change', key: 'k', value: 1 },
    bytes: '04 0000000c 0001 6b 00 3ff0000000000000',
  },
  {
    what: 'Change (object)',
    event: { kind: 'change', key: 'o', value: { a: true } },
    bytes: '04 0000000c 0001 6f 03 0001 61 01 01 000009',
  },
  { what: 'Success', event: { kind: 'success', key: 'k' }, bytes: '05 00000003 0001 6b' },
  {
    what: 'SendMessage',
    event: { kind: 'sendMessage', handler: 'hi', args: [1, 'x'] },
    bytes: '06 00000012 02 0002 6869 00 3ff0000000000000 02 0001 78',
  },
  {
    what: 'Status',
    event: { kind: 'status', code: 'SharedObject.NoReadAccess', level: 'error' },
    bytes: `07 00000022 0019 ${Buffer.from('SharedObject.NoReadAccess').toString('hex')} 0005 ${Buffer.from('error').toString('hex')}`,
  },
  { what: 'Clear', event: { kind: 'clear' }, bytes: '08 00000000' },
  { what: 'Remove', event: { kind: 'remove', key: 'k' }, bytes: '09 00000003 0001 6b' },
  { what: 'RequestRemove', event: { kind: 'requestRemove', key: 'k' }, bytes: '0a 00000003 0001 6b' },
  { what: 'UseSuccess', event: { kind: 'useSuccess' }, bytes: '0b 00000000' },
];

describe('shared object codec: golden bytes', () => {
  for (const g of GOLDEN) {
    test(`${g.what}: type 19 and type 16`, () => {
      const m: SoMessage = { name: 'so', version: 5, persistent: true, events: [g.event] };
      const amf0 = hex(HEADER_P + g.bytes);
      const amf3 = Buffer.concat([Buffer.alloc(1), amf0]);
      expect(encodeSharedObjectMessage(m, false).toString('hex')).toBe(amf0.toString('hex'));
      expect(encodeSharedObjectMessage(m, true).toString('hex')).toBe(amf3.toString('hex'));
      for (const [buf, type] of [
        [amf0, MessageType.SharedObjectAmf0],
        [amf3, MessageType.SharedObjectAmf3],
      ] as const) {
        const d = decodeSharedObjectMessage({ type, payload: buf });
        expect(d.name).toBe('so');
        expect(d.version).toBe(5);
        expect(d.persistent).toBe(true);
        expect(d.flags).toBe(2);
        expect(amfDiff(g.event, d.events[0])).toBeNull();
        expect(d.events).toHaveLength(1);
      }
      // Piecewise encoding gives the same bytes.
      const joined = joinSharedObjectBody(encodeSharedObjectHeader('so', 5, true, false), [encodeSharedObjectEvent(g.event, false)]);
      expect(joined.equals(amf0)).toBe(true);
    });
  }

  test('non-persistent flags word is 0; several events in one message', () => {
    const m: SoMessage = {
      name: 'so',
      version: 5,
      persistent: false,
      events: [{ kind: 'useSuccess' }, { kind: 'clear' }, { kind: 'change', key: 'k', value: 1 }],
    };
    const bytes = hex(`${HEADER_T} 0b00000000 0800000000 04 0000000c 0001 6b 00 3ff0000000000000`);
    expect(encodeSharedObjectMessage(m, false).equals(bytes)).toBe(true);
    const d = decodeSharedObjectBody(bytes, false);
    expect(d.persistent).toBe(false);
    expect(d.events.map((e) => e.kind)).toEqual(['useSuccess', 'clear', 'change']);
  });

  test('a message without events (version 0 header only) and an empty name', () => {
    const bytes = hex('0000 00000000 00000000 00000000');
    expect(decodeSharedObjectBody(bytes, false)).toEqual({ name: '', version: 0, persistent: false, flags: 0, events: [] });
    expect(encodeSharedObjectMessage({ name: '', version: 0, persistent: false, events: [] }, false).equals(bytes)).toBe(true);
  });

  test('AMF3-only values: type 16 switches with 0x11, type 19 refuses with ERR_AMF_AMF3_ONLY', () => {
    const m: SoMessage = { name: 'so', version: 5, persistent: true, events: [{ kind: 'change', key: 'b', value: Buffer.from([1, 2, 3]) }] };
    const amf3 = hex(`00 ${HEADER_P} 04 00000009 0001 62 11 0c 07 010203`);
    expect(encodeSharedObjectMessage(m, true).toString('hex')).toBe(amf3.toString('hex'));
    expect(soErrorCode(() => encodeSharedObjectMessage(m, false))).toBe('ERR_AMF_AMF3_ONLY');
    const d = decodeSharedObjectBody(amf3, true);
    expect(d.events[0]).toEqual({ kind: 'change', key: 'b', value: Buffer.from([1, 2, 3]) });
    // A type 19 body may also carry 0x11 values (Flash sends what it likes; we read both).
    const d19 = decodeSharedObjectBody(amf3.subarray(1), false);
    expect(d19.events[0]).toEqual({ kind: 'change', key: 'b', value: Buffer.from([1, 2, 3]) });
  });

  test('csimi capture: the NoReadAccess status event decodes as code then level', () => {
    const ev = hex(
      '07 00000022 0019 536861726564 4f626a656374 2e 4e6f52656164416363657373 0005 6572726f72'.replace(/ /g, ''),
    );
    const d = decodeSharedObjectBody(Buffer.concat([hex(HEADER_T), ev]), false);
    expect(d.events[0]).toEqual({ kind: 'status', code: 'SharedObject.NoReadAccess', level: 'error' });
  });

  test('a flags word with other bits: persistence is bit 1, the raw word is kept', () => {
    const d = decodeSharedObjectBody(hex('0002 736f 00000001 00000030 00000000 0b00000000'), false);
    expect(d.persistent).toBe(false);
    expect(d.flags).toBe(0x30);
    const d2 = decodeSharedObjectBody(hex('0002 736f 00000001 00000012 00000000'), false);
    expect(d2.persistent).toBe(true);
  });

  test('version is unsigned 32-bit both ways', () => {
    const m: SoMessage = { name: 'x', version: 0xfffffffe, persistent: false, events: [] };
    expect(decodeSharedObjectBody(encodeSharedObjectMessage(m, false), false).version).toBe(0xfffffffe);
    expect(decodeSharedObjectBody(encodeSharedObjectMessage({ ...m, version: -1 }, false), false).version).toBe(0xffffffff);
  });

  test('sharedObjectRtmpMessage picks type 16/19 on stream 0', () => {
    const body = Buffer.from('00', 'hex');
    expect(sharedObjectRtmpMessage(body, true)).toMatchObject({ type: 16, streamId: 0, payload: body });
    expect(sharedObjectRtmpMessage(body, false)).toMatchObject({ type: 19, streamId: 0 });
  });
});

describe('shared object codec: lenient readings', () => {
  test('several key/value pairs in one change event decode as several events (Red5 reads them so)', () => {
    const ev = '04 00000010 0001 61 00 3ff0000000000000 0001 62 05';
    const d = decodeSharedObjectBody(hex(HEADER_T + ev), false);
    expect(d.events).toEqual([
      { kind: 'change', key: 'a', value: 1 },
      { kind: 'change', key: 'b', value: null },
    ]);
  });

  test('a change with a key and no value reads as undefined', () => {
    const d = decodeSharedObjectBody(hex(`${HEADER_T} 03 00000003 0001 61`), false);
    expect(d.events).toEqual([{ kind: 'requestChange', key: 'a', value: undefined }]);
  });

  test('unknown event types are kept byte for byte and encode back unchanged', () => {
    const bytes = hex(`${HEADER_T} 0c 00000009 0003 666f6f 00000001 0e 00000000`);
    const d = decodeSharedObjectBody(bytes, false);
    expect(d.events).toEqual([
      { kind: 'unknown', code: 12, data: hex('0003 666f6f 00000001') },
      { kind: 'unknown', code: 14, data: Buffer.alloc(0) },
    ]);
    expect(encodeSharedObjectMessage(d, false).equals(bytes)).toBe(true);
  });

  test('data after the key of a key-only event and after the status level is ignored', () => {
    const d = decodeSharedObjectBody(hex(`${HEADER_T} 05 00000005 0001 6b 0505 07 00000004 0002 6f6b`), false);
    expect(d.events).toEqual([
      { kind: 'success', key: 'k' },
      { kind: 'status', code: 'ok', level: '' },
    ]);
  });

  test('SendMessage with an AMF3-switched handler name', () => {
    const d = decodeSharedObjectBody(hex(`${HEADER_T} 06 00000004 11 06 03 61`), false);
    expect(d.events).toEqual([{ kind: 'sendMessage', handler: 'a', args: [] }]);
  });
});

describe('shared object codec: malformed input', () => {
  const cases: { what: string; bytes: string; amf3?: boolean; code: string }[] = [
    { what: 'empty body', bytes: '', code: 'ERR_SO_MALFORMED' },
    { what: 'empty type 16 body', bytes: '', amf3: true, code: 'ERR_SO_MALFORMED' },
    { what: 'type 16 format byte 3', bytes: `03 ${HEADER_T}`, amf3: true, code: 'ERR_SO_MALFORMED' },
    { what: 'header cut in the name', bytes: '0005 6162', code: 'ERR_SO_MALFORMED' },
    { what: 'header cut in the version', bytes: '0001 61 0000', code: 'ERR_SO_MALFORMED' },
    { what: 'name longer than the body', bytes: 'ffff 61 00000000 00000000 00000000', code: 'ERR_SO_MALFORMED' },
    { what: 'event header cut', bytes: `${HEADER_T} 04 0000`, code: 'ERR_SO_MALFORMED' },
    { what: 'event length past the end', bytes: `${HEADER_T} 04 00000010 0001 61`, code: 'ERR_SO_MALFORMED' },
    { what: 'huge event length', bytes: `${HEADER_T} 06 ffffffff 02`, code: 'ERR_SO_MALFORMED' },
    { what: 'change without a key', bytes: `${HEADER_T} 04 00000000`, code: 'ERR_SO_MALFORMED' },
    { what: 'key length past its event', bytes: `${HEADER_T} 04 00000003 0009 61 0b00000000`, code: 'ERR_AMF_TRUNCATED' },
    {
      what: 'value running into the next event',
      bytes: `${HEADER_T} 04 00000006 0001 61 02 0005 0b00000000`,
      code: 'ERR_AMF_TRUNCATED',
    },
    { what: 'bad AMF marker', bytes: `${HEADER_T} 04 00000004 0001 61 04`, code: 'ERR_AMF_UNSUPPORTED_MARKER' },
    { what: 'remove without a key', bytes: `${HEADER_T} 09 00000000`, code: 'ERR_AMF_TRUNCATED' },
    { what: 'status without a code', bytes: `${HEADER_T} 07 00000001 00`, code: 'ERR_AMF_TRUNCATED' },
    { what: 'send without a handler', bytes: `${HEADER_T} 06 00000000`, code: 'ERR_AMF_TRUNCATED' },
    { what: 'send with a numeric handler', bytes: `${HEADER_T} 06 00000009 00 3ff0000000000000`, code: 'ERR_SO_MALFORMED' },
  ];
  for (const c of cases) {
    test(c.what, () => {
      expect(soErrorCode(() => decodeSharedObjectBody(hex(c.bytes), c.amf3 === true))).toBe(c.code);
    });
  }

  test('a non-SO message type is refused', () => {
    expect(soErrorCode(() => decodeSharedObjectMessage({ type: 20, payload: hex(HEADER_T) }))).toBe('ERR_SO_MALFORMED');
  });
});

// ------------------------------------------------------------------------------------------------ properties

function randomMessage(rng: Rng, gen: AmfGenerator): SoMessage {
  const events: SoEvent[] = [];
  const n = rng.int(0, 6);
  const key = (): string => (rng.chance(0.2) ? gen.string().slice(0, 200) : rng.pick(['k', 'users', 'é', '', 'a/b']));
  const value = (): AmfValue => gen.values('amf0')[0];
  for (let i = 0; i < n; i++) {
    switch (rng.int(0, 11)) {
      case 0:
        events.push({ kind: 'use' });
        break;
      case 1:
        events.push({ kind: 'release' });
        break;
      case 2:
        events.push({ kind: 'requestChange', key: key(), value: value() });
        break;
      case 3:
        events.push({ kind: 'change', key: key(), value: value() });
        break;
      case 4:
        events.push({ kind: 'success', key: key() });
        break;
      case 5:
        events.push({ kind: 'sendMessage', handler: key(), args: gen.values('amf0') });
        break;
      case 6:
        events.push({ kind: 'status', code: key(), level: rng.pick(['error', 'status', 'warning']) });
        break;
      case 7:
        events.push({ kind: 'clear' });
        break;
      case 8:
        events.push({ kind: 'remove', key: key() });
        break;
      case 9:
        events.push({ kind: 'requestRemove', key: key() });
        break;
      case 10:
        events.push({ kind: 'useSuccess' });
        break;
      default:
        events.push({ kind: 'unknown', code: rng.int(12, 255), data: rng.bytes(rng.int(0, 20)) });
    }
  }
  return { name: rng.chance(0.1) ? '' : `so/${rng.int(0, 99)}`, version: rng.int(0, 2 ** 32 - 1), persistent: rng.chance(0.5), events };
}

describe('shared object codec: properties', () => {
  test('encode then decode gives the message back (600 seeded messages, both framings)', () => {
    const rng = new Rng(0x50c0de);
    const gen = new AmfGenerator(rng, 3);
    let amf0Only = 0;
    for (let i = 0; i < 600; i++) {
      const m = randomMessage(rng, gen);
      for (const amf3 of [false, true]) {
        let body: Buffer;
        try {
          body = encodeSharedObjectMessage(m, amf3);
        } catch (e) {
          // Only AMF3-only values may stop an AMF0 encoding.
          expect(amf3).toBe(false);
          expect(isSsasError(e) && e.code).toBe('ERR_AMF_AMF3_ONLY');
          amf0Only++;
          continue;
        }
        const d = decodeSharedObjectBody(body, amf3);
        const expected = { ...m, flags: m.persistent ? 2 : 0 };
        const diff = amfDiff(expected, d);
        if (diff !== null) throw new Error(`round trip ${i} (amf3=${amf3}): ${diff}`);
        // Re-encoding the decoded message gives the same bytes.
        expect(encodeSharedObjectMessage(d, amf3).equals(body)).toBe(true);
      }
    }
    expect(amf0Only).toBeGreaterThan(0);
  });
});

describe('shared object codec: fuzz', () => {
  test('mutated and random bodies: only coded errors, bounded time', () => {
    const rng = new Rng(0xf022);
    const gen = new AmfGenerator(rng, 3);
    const seeds: Buffer[] = GOLDEN.map((g) => hex(HEADER_P + g.bytes));
    for (let i = 0; i < 40; i++) seeds.push(encodeSharedObjectMessage(randomMessage(rng, gen), true).subarray(1));
    let cases = 0;
    let decoded = 0;
    let maxMs = 0;
    const codes = new Map<string, number>();
    const run = (buf: Buffer, amf3: boolean): void => {
      cases++;
      const t0 = performance.now();
      let m: SoMessage | undefined;
      const code = soErrorCode(() => (m = decodeSharedObjectBody(buf, amf3)));
      maxMs = Math.max(maxMs, performance.now() - t0);
      if (code) codes.set(code, (codes.get(code) ?? 0) + 1);
      if (m) {
        decoded++;
        // Whatever decodes encodes again (type 16 can carry anything that was read).
        expect(soErrorCode(() => encodeSharedObjectMessage(m!, true))).toBeNull();
      }
    };
    for (let i = 0; i < 6000; i++) {
      const seed = rng.pick(seeds);
      const b = Buffer.from(seed);
      switch (rng.int(0, 5)) {
        case 0:
          for (let j = rng.int(1, 4); j > 0; j--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
          run(b, false);
          break;
        case 1:
          run(b.subarray(0, rng.int(0, b.length)), false);
          break;
        case 2: {
          // Max out a 32-bit field somewhere after the name.
          const at = rng.int(0, Math.max(0, b.length - 4));
          b.writeUInt32BE(rng.pick([0xffffffff, 0x7fffffff, b.length, 0]), at);
          run(b, false);
          break;
        }
        case 3:
          run(Buffer.concat([Buffer.from([rng.pick([0, 0, 3, 0x11])]), b]), true);
          break;
        case 4:
          run(rng.bytes(rng.int(0, 64)), rng.chance(0.5));
          break;
        default: {
          const at = rng.int(0, b.length);
          run(Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 8)), b.subarray(at)]), false);
        }
      }
    }
    expect(cases).toBe(6000);
    expect(decoded).toBeGreaterThan(100);
    expect(codes.get('ERR_SO_MALFORMED')).toBeGreaterThan(100);
    expect(maxMs).toBeLessThan(200);
  });
});
