/**
 * Protocol control messages (Adobe RTMP specification 1.0, section 5.4: Set Chunk Size, Abort,
 * Acknowledgement, Window Acknowledgement Size, Set Peer Bandwidth) and User Control messages (sections 6.2
 * and 7.1.7: Stream Begin, Stream EOF, Stream Dry, Set Buffer Length, Stream Is Recorded, Ping Request,
 * Ping Response). Builders return messages for chunk stream 2, message stream 0, timestamp 0 as the spec
 * requires; parsers check the type and length and throw ERR_RTMP_BAD_CONTROL_MESSAGE otherwise.
 * Longer payloads than needed are accepted (extra bytes ignored), as peers are not consistent about them.
 */
import { RtmpError } from '../errors';
import { ChunkStreamId, MessageType, PeerBandwidthLimit, UserControlEvent, type RtmpMessage } from './types';

function controlMessage(type: number, payload: Buffer): RtmpMessage {
  return { type, streamId: 0, timestamp: 0, csid: ChunkStreamId.Control, payload };
}

function u32Message(type: number, value: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(value >>> 0, 0);
  return controlMessage(type, payload);
}

function expect(msg: RtmpMessage, type: number, minLength: number, name: string): void {
  if (msg.type !== type) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `expected a ${name} message (type ${type}), got type ${msg.type}`, {
      type: msg.type,
    });
  }
  if (msg.payload.length < minLength) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `${name} payload of ${msg.payload.length} bytes (needs ${minLength})`, {
      type,
      length: msg.payload.length,
    });
  }
}

// ---- Protocol control (5.4) ----

/** Set Chunk Size (5.4.1). Bit 31 must be zero: sizes 1..0x7FFFFFFF. */
export function setChunkSize(size: number): RtmpMessage {
  if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) {
    throw new RtmpError('ERR_RTMP_BAD_CHUNK_SIZE', `chunk size ${size} is outside 1..2^31-1`, { size });
  }
  return u32Message(MessageType.SetChunkSize, size);
}

export function parseSetChunkSize(msg: RtmpMessage): number {
  expect(msg, MessageType.SetChunkSize, 4, 'Set Chunk Size');
  const size = msg.payload.readUInt32BE(0);
  if (size === 0 || size > 0x7fffffff) {
    throw new RtmpError('ERR_RTMP_BAD_CHUNK_SIZE', `Set Chunk Size ${size} is outside 1..2^31-1`, { size });
  }
  return size;
}

/** Abort (5.4.2): drop the partly received message on chunk stream `csid`. */
export function abort(csid: number): RtmpMessage {
  return u32Message(MessageType.Abort, csid);
}

export function parseAbort(msg: RtmpMessage): number {
  expect(msg, MessageType.Abort, 4, 'Abort');
  return msg.payload.readUInt32BE(0);
}

/** Acknowledgement (5.4.3): bytes received so far, modulo 2^32. */
export function acknowledgement(sequenceNumber: number): RtmpMessage {
  return u32Message(MessageType.Acknowledgement, sequenceNumber);
}

export function parseAcknowledgement(msg: RtmpMessage): number {
  expect(msg, MessageType.Acknowledgement, 4, 'Acknowledgement');
  return msg.payload.readUInt32BE(0);
}

/** Window Acknowledgement Size (5.4.4). */
export function windowAckSize(size: number): RtmpMessage {
  return u32Message(MessageType.WindowAckSize, size);
}

export function parseWindowAckSize(msg: RtmpMessage): number {
  expect(msg, MessageType.WindowAckSize, 4, 'Window Acknowledgement Size');
  return msg.payload.readUInt32BE(0);
}

export type PeerBandwidthLimitType = (typeof PeerBandwidthLimit)[keyof typeof PeerBandwidthLimit];

export interface PeerBandwidth {
  /** Window size in bytes. */
  size: number;
  /** 0 hard, 1 soft, 2 dynamic. */
  limitType: number;
}

/** Set Peer Bandwidth (5.4.5). FMS sends limit type 2 (dynamic). */
export function setPeerBandwidth(size: number, limitType: number = PeerBandwidthLimit.Dynamic): RtmpMessage {
  if (limitType !== 0 && limitType !== 1 && limitType !== 2) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `Set Peer Bandwidth limit type ${limitType} is not 0, 1 or 2`, { limitType });
  }
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(size >>> 0, 0);
  payload[4] = limitType;
  return controlMessage(MessageType.SetPeerBandwidth, payload);
}

/** A 4-byte payload (no limit type, seen from some encoders) reads as dynamic. Unknown limit types are errors. */
export function parseSetPeerBandwidth(msg: RtmpMessage): PeerBandwidth {
  expect(msg, MessageType.SetPeerBandwidth, 4, 'Set Peer Bandwidth');
  const limitType = msg.payload.length >= 5 ? msg.payload[4]! : PeerBandwidthLimit.Dynamic;
  if (limitType > 2) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `Set Peer Bandwidth limit type ${limitType} is not 0, 1 or 2`, { limitType });
  }
  return { size: msg.payload.readUInt32BE(0), limitType };
}

// ---- User control (6.2, 7.1.7) ----

export interface UserControlMessage {
  /** Event type (UserControlEvent; others, e.g. 0x1A SWF verification or 31/32 buffer empty/ready, pass through). */
  event: number;
  /** Stream id (events 0-4) or timestamp (6, 7); for other events the first 4 data bytes if present, else 0. */
  value: number;
  /** Set Buffer Length: the buffer length in ms. */
  extra?: number;
  /** Event data after the 2-byte event type. */
  data: Buffer;
}

/** Data bytes each known event needs. */
function eventDataLength(event: number): number {
  switch (event) {
    case UserControlEvent.StreamBegin:
    case UserControlEvent.StreamEOF:
    case UserControlEvent.StreamDry:
    case UserControlEvent.StreamIsRecorded:
    case UserControlEvent.PingRequest:
    case UserControlEvent.PingResponse:
      return 4;
    case UserControlEvent.SetBufferLength:
      return 8;
    default:
      return -1;
  }
}

/** Any user control event: `value` is the stream id or timestamp, `extra` the Set Buffer Length milliseconds. */
export function userControl(event: number, value: number, extra?: number): RtmpMessage {
  if (!Number.isInteger(event) || event < 0 || event > 0xffff) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `user control event ${event} is not a 16-bit integer`, { event });
  }
  if (event === UserControlEvent.SetBufferLength && extra === undefined) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', 'Set Buffer Length needs a buffer length');
  }
  const payload = Buffer.allocUnsafe(extra === undefined ? 6 : 10);
  payload.writeUInt16BE(event, 0);
  payload.writeUInt32BE(value >>> 0, 2);
  if (extra !== undefined) payload.writeUInt32BE(extra >>> 0, 6);
  return controlMessage(MessageType.UserControl, payload);
}

export const streamBegin = (streamId: number): RtmpMessage => userControl(UserControlEvent.StreamBegin, streamId);
export const streamEOF = (streamId: number): RtmpMessage => userControl(UserControlEvent.StreamEOF, streamId);
export const streamDry = (streamId: number): RtmpMessage => userControl(UserControlEvent.StreamDry, streamId);
export const setBufferLength = (streamId: number, ms: number): RtmpMessage =>
  userControl(UserControlEvent.SetBufferLength, streamId, ms);
export const streamIsRecorded = (streamId: number): RtmpMessage => userControl(UserControlEvent.StreamIsRecorded, streamId);
export const pingRequest = (timestamp: number): RtmpMessage => userControl(UserControlEvent.PingRequest, timestamp);
export const pingResponse = (timestamp: number): RtmpMessage => userControl(UserControlEvent.PingResponse, timestamp);

export function parseUserControl(msg: RtmpMessage): UserControlMessage {
  expect(msg, MessageType.UserControl, 2, 'User Control');
  const p = msg.payload;
  const event = p.readUInt16BE(0);
  const data = p.subarray(2);
  const need = eventDataLength(event);
  if (data.length < need) {
    throw new RtmpError('ERR_RTMP_BAD_CONTROL_MESSAGE', `user control event ${event} with ${data.length} data bytes (needs ${need})`, {
      event,
      length: data.length,
    });
  }
  const value = data.length >= 4 ? data.readUInt32BE(0) : 0;
  if (event === UserControlEvent.SetBufferLength) return { event, value, extra: data.readUInt32BE(4), data };
  return { event, value, data };
}
