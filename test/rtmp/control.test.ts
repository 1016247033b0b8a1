/**
 * Protocol control and user control message builders/parsers (RTMP spec 5.4, 6.2, 7.1.7).
 */
import * as control from '../../src/rtmp/control';
import { MessageType, UserControlEvent, type RtmpMessage } from '../../src/rtmp/types';

const BAD = expect.objectContaining({ code: 'ERR_RTMP_BAD_CONTROL_MESSAGE' });

function raw(type: number, hex: string): RtmpMessage {
  return { type, streamId: 0, timestamp: 0, csid: 2, payload: Buffer.from(hex, 'hex') };
}

describe('protocol control messages', () => {
  test('builders use chunk stream 2, message stream 0, and the spec layouts', () => {
    const cases: [RtmpMessage, number, string][] = [
      [control.setChunkSize(4096), MessageType.SetChunkSize, '00001000'],
      [control.abort(7), MessageType.Abort, '00000007'],
      [control.acknowledgement(0xfffffffe), MessageType.Acknowledgement, 'fffffffe'],
      [control.windowAckSize(2_500_000), MessageType.WindowAckSize, '002625a0'],
      [control.setPeerBandwidth(2_500_000, 2), MessageType.SetPeerBandwidth, '002625a002'],
      [control.setPeerBandwidth(1000), MessageType.SetPeerBandwidth, '000003e802'],
    ];
    for (const [msg, type, payload] of cases) {
      expect(msg).toEqual({ type, streamId: 0, timestamp: 0, csid: 2, payload: Buffer.from(payload, 'hex') });
    }
  });

  test('parsers read back what builders wrote', () => {
    expect(control.parseSetChunkSize(control.setChunkSize(0x7fffffff))).toBe(0x7fffffff);
    expect(control.parseAbort(control.abort(65599))).toBe(65599);
    expect(control.parseAcknowledgement(control.acknowledgement(2 ** 32 + 5))).toBe(5);
    expect(control.parseWindowAckSize(control.windowAckSize(5_000_000))).toBe(5_000_000);
    expect(control.parseSetPeerBandwidth(control.setPeerBandwidth(123, 0))).toEqual({ size: 123, limitType: 0 });
    expect(control.parseSetPeerBandwidth(raw(6, '0000007b'))).toEqual({ size: 123, limitType: 2 });
    expect(control.parseWindowAckSize(raw(5, '0000007b00'))).toBe(123);
  });

  test('bad values and payloads', () => {
    expect(() => control.setChunkSize(0)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
    expect(() => control.setChunkSize(0x80000000)).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
    expect(() => control.parseSetChunkSize(raw(1, '80000000'))).toThrow(expect.objectContaining({ code: 'ERR_RTMP_BAD_CHUNK_SIZE' }));
    expect(() => control.parseSetChunkSize(raw(1, '000080'))).toThrow(BAD);
    expect(() => control.parseAbort(raw(2, ''))).toThrow(BAD);
    expect(() => control.parseAcknowledgement(raw(3, '01'))).toThrow(BAD);
    expect(() => control.parseWindowAckSize(raw(5, '010203'))).toThrow(BAD);
    expect(() => control.parseSetPeerBandwidth(raw(6, '010203'))).toThrow(BAD);
    expect(() => control.parseSetPeerBandwidth(raw(6, '0000000103'))).toThrow(BAD);
    expect(() => control.setPeerBandwidth(1, 3)).toThrow(BAD);
    // Wrong message type.
    expect(() => control.parseWindowAckSize(control.acknowledgement(1))).toThrow(BAD);
  });
});

describe('user control messages', () => {
  test('every event round-trips', () => {
    const cases: [RtmpMessage, number, number, number | undefined, string][] = [
      [control.streamBegin(1), UserControlEvent.StreamBegin, 1, undefined, '000000000001'],
      [control.streamEOF(2), UserControlEvent.StreamEOF, 2, undefined, '000100000002'],
      [control.streamDry(3), UserControlEvent.StreamDry, 3, undefined, '000200000003'],
      [control.setBufferLength(1, 3000), UserControlEvent.SetBufferLength, 1, 3000, '00030000000100000bb8'],
      [control.streamIsRecorded(4), UserControlEvent.StreamIsRecorded, 4, undefined, '000400000004'],
      [control.pingRequest(0xdeadbeef), UserControlEvent.PingRequest, 0xdeadbeef, undefined, '0006deadbeef'],
      [control.pingResponse(77), UserControlEvent.PingResponse, 77, undefined, '00070000004d'],
    ];
    for (const [msg, event, value, extra, payload] of cases) {
      expect(msg.type).toBe(MessageType.UserControl);
      expect(msg.csid).toBe(2);
      expect(msg.streamId).toBe(0);
      expect(msg.payload.toString('hex')).toBe(payload);
      const parsed = control.parseUserControl(msg);
      expect(parsed.event).toBe(event);
      expect(parsed.value).toBe(value);
      expect(parsed.extra).toBe(extra);
    }
    expect(control.userControl(UserControlEvent.PingRequest, 5)).toEqual(control.pingRequest(5));
  });

  test('unknown events pass through with their raw data', () => {
    // 0x1A: SWF verification request (no data); 31: buffer empty (stream id).
    expect(control.parseUserControl(raw(4, '001a'))).toEqual({ event: 0x1a, value: 0, data: Buffer.alloc(0) });
    const empty = control.parseUserControl(raw(4, '001f00000001'));
    expect(empty.event).toBe(31);
    expect(empty.value).toBe(1);
  });

  test('truncated events', () => {
    expect(() => control.parseUserControl(raw(4, '00'))).toThrow(BAD);
    expect(() => control.parseUserControl(raw(4, '0000000001'))).toThrow(BAD);
    expect(() => control.parseUserControl(raw(4, '00030000000100000b'))).toThrow(BAD);
    expect(() => control.parseUserControl(raw(4, '0006'))).toThrow(BAD);
    expect(() => control.userControl(UserControlEvent.SetBufferLength, 1)).toThrow(BAD);
    expect(() => control.userControl(0x10000, 1)).toThrow(BAD);
  });
});
