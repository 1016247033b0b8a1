/**
 * RTMP messages over RTMFP flows, RFC 7425 section 5 ("TC" for the Flash NetConnection protocol):
 *
 * - 5.1.1 flow metadata: `54 43` ("TC"), a flags byte (0x04: a stream id follows, required; 0x01 RXI:
 *   the receiver may deliver in network order), then the NetStream id as a VLU (0 for the NetConnection).
 *   Flash-era peers accept only flags 0x04 (notes 7.2), so we send exactly that.
 * - 5.1.2 each RTMP message is one user message: type (1 byte), timestamp (32 bits, ms), payload. The
 *   payloads are those of RTMP (an AMF3 command still starts with its 0x00 format byte); the RTMP
 *   protocol control messages (types 1, 2, 3, 5, 6) and aggregates are not used.
 * - 5.2 flow topology: the client's NetConnection flow is unassociated; everything else is associated
 *   in return: the server's NetConnection flow and its NetStream flows answer the client's NetConnection
 *   flow, the client's NetStream flows answer the server's NetConnection flow.
 */
import { RtmfpError } from '../errors';
import type { RtmpMessage } from '../rtmp/types';
import { Cursor, vluLength, writeVlu } from './wire';

export const TC_SIGNATURE = 0x5443; // "TC"
export const TC_FLAG_SID = 0x04;
export const TC_FLAG_RXI = 0x01;

export interface TcMetadata {
  streamId: number;
  /** The sender allows delivery in network order (RXI). */
  networkOrder: boolean;
}

/** Parses flow metadata; null when it is not a TC flow (NetGroup flows "GC", "GR" and the like). */
export function parseTcMetadata(md: Buffer): TcMetadata | null {
  if (md.length < 3 || md.readUInt16BE(0) !== TC_SIGNATURE) return null;
  const flags = md[2]!;
  if ((flags & TC_FLAG_SID) === 0) return { streamId: 0, networkOrder: (flags & TC_FLAG_RXI) !== 0 };
  try {
    const c = new Cursor(md, 3);
    return { streamId: c.vlu('TC stream id'), networkOrder: (flags & TC_FLAG_RXI) !== 0 };
  } catch {
    return null;
  }
}

export function tcMetadata(streamId: number): Buffer {
  const b = Buffer.allocUnsafe(3 + vluLength(streamId));
  b.writeUInt16BE(TC_SIGNATURE, 0);
  b[2] = TC_FLAG_SID;
  writeVlu(b, 3, streamId);
  return b;
}

/** Frames an RTMP message as a TC user message. */
export function encodeTcMessage(type: number, timestamp: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b[0] = type;
  b.writeUInt32BE(timestamp >>> 0, 1);
  payload.copy(b, 5);
  return b;
}

/** Reads a TC user message into an RTMP message of `streamId`. */
export function decodeTcMessage(data: Buffer, streamId: number): RtmpMessage {
  if (data.length < 5) throw new RtmfpError('ERR_RTMFP_BAD_MESSAGE', `TC message of ${data.length} bytes`);
  return { type: data[0]!, streamId, timestamp: data.readUInt32BE(1), csid: 0, payload: data.subarray(5) };
}

/** RFC 7425 5.3.4 user control Set Keepalive (0x29): the server's and the peer's keepalive periods (ms). */
export const USER_CONTROL_SET_KEEPALIVE = 0x29;
