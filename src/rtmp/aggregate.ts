/**
 * Aggregate messages (Adobe RTMP specification 1.0, section 7.1.6, message type 22): a message body that is
 * a run of sub-messages, each an 11-byte header (type 1, length 3, timestamp 3 + 1 high byte, stream id 3:
 * the FLV tag header layout) followed by its body and a 4-byte back pointer (the size of the previous
 * sub-message including its header).
 *
 * Sub-message timestamps are rebased onto the aggregate's: the first sub-message gets the aggregate's
 * timestamp, the others keep their offset from the first (modulo 2^32). Sub-messages carry the aggregate's
 * message stream id and chunk stream id; the stream id inside sub-headers is not used (ffmpeg and librtmp
 * ignore it as well). Back pointer values are not checked because producers disagree on them; their
 * presence is.
 */
import { RtmpError } from '../errors';
import { MessageType, type RtmpMessage } from './types';

const SUB_HEADER = 11;
const BACK_POINTER = 4;

function bad(message: string, details: Record<string, unknown>): RtmpError {
  return new RtmpError('ERR_RTMP_BAD_AGGREGATE', message, details);
}

/** Splits an aggregate into its sub-messages. Payloads are views of the aggregate's payload. */
export function splitAggregate(msg: RtmpMessage): RtmpMessage[] {
  if (msg.type !== MessageType.Aggregate) {
    throw bad(`message type ${msg.type} is not an aggregate (22)`, { type: msg.type });
  }
  const p = msg.payload;
  const out: RtmpMessage[] = [];
  let first = 0;
  let off = 0;
  while (off < p.length) {
    if (p.length - off < SUB_HEADER) {
      throw bad(`truncated sub-message header at offset ${off}`, { offset: off, length: p.length });
    }
    const type = p[off]!;
    const size = (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!;
    const ts = ((p[off + 7]! << 24) | (p[off + 4]! << 16) | (p[off + 5]! << 8) | p[off + 6]!) >>> 0;
    const bodyStart = off + SUB_HEADER;
    const bodyEnd = bodyStart + size;
    if (bodyEnd + BACK_POINTER > p.length) {
      throw bad(`sub-message at offset ${off} claims ${size} bytes, more than the aggregate holds`, {
        offset: off,
        size,
        length: p.length,
      });
    }
    if (out.length === 0) first = ts;
    out.push({
      type,
      streamId: msg.streamId,
      timestamp: (msg.timestamp + ts - first) >>> 0,
      csid: msg.csid,
      payload: p.subarray(bodyStart, bodyEnd),
    });
    off = bodyEnd + BACK_POINTER;
  }
  return out;
}
