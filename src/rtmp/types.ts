/**
 * RTMP message model shared by the chunk codec, the transports and the sessions.
 * Spec: Adobe "Real-Time Messaging Protocol (RTMP) specification" 1.0 (2012), sections 5.3 (chunking),
 * 5.4 (protocol control messages), 6.2 (user control messages), 7.1 (message types).
 */

/** Message type ids (RTMP spec 5.4, 7.1). */
export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;
export type MessageTypeId = (typeof MessageType)[keyof typeof MessageType];

/** User control event types (RTMP spec 7.1.7). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEOF: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

/** Set Peer Bandwidth limit types (RTMP spec 5.4.5). */
export const PeerBandwidthLimit = { Hard: 0, Soft: 1, Dynamic: 2 } as const;

/** One complete RTMP message, reassembled from (or to be split into) chunks. */
export interface RtmpMessage {
  /** Message type id (see MessageType). */
  type: number;
  /** Message stream id (0 for the NetConnection, createStream ids for NetStreams). */
  streamId: number;
  /** Absolute timestamp in milliseconds, unsigned 32-bit (wraps). */
  timestamp: number;
  /** Chunk stream id the message arrived on, or should be sent on (2..65599). */
  csid: number;
  /** The message body. */
  payload: Buffer;
}

/** Chunk stream ids we use when sending (receivers accept any; these match FMS/librtmp habits). */
export const ChunkStreamId = {
  Control: 2,
  Command: 3,
  Audio: 6,
  Video: 7,
  Data: 5,
  SharedObject: 4,
} as const;

/** The chunk stream a media or data message of a NetStream travels on. */
export function csidFor(type: number): number {
  return type === MessageType.Audio ? ChunkStreamId.Audio : type === MessageType.Video ? ChunkStreamId.Video : ChunkStreamId.Data;
}

export const RTMP_DEFAULT_CHUNK_SIZE = 128;
/** Largest chunk size allowed by the spec (31 bits on the wire, but 2^24-1 is the largest usable message length). */
export const RTMP_MAX_CHUNK_SIZE = 0xffffff;
