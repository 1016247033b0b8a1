/**
 * Shared object messages: Adobe "Real-Time Messaging Protocol (RTMP) specification" 1.0 (2012), section 7.1.3
 * ("Shared Object Message", types 19 AMF0 / 16 AMF3). The spec names the header fields and the event types but
 * not their encodings; those come from implementations that talk to Flash Player and FMS and agree with each
 * other: Red5 (RTMPProtocolDecoder.decodeSharedObject / decodeFlexSharedObject, RTMPProtocolEncoder
 * doEncodeSharedObject), FluorineFx (RtmpProtocolEncoder.EncodeSharedObject / EncodeFlexSharedObject), the
 * osflash.org "RTMP OS" capture notes of FCS traffic, and csimi/rtmp-client SharedObject.md.
 *
 * Body of a type 19 message:
 *
 *   name      u16 length + UTF-8
 *   version   u32   the sender's version of the object
 *   flags     u32   2 = persistent, 0 = not (Red5 and FluorineFx write exactly this; Red5 reads `== 2`;
 *                   osflash saw "usually 2" from Flash Player on persistent objects). csimi saw other bits
 *                   (0x10, 0x30) from some server; we decode persistence as bit 1 and keep the raw word.
 *   reserved  u32   always 0
 *   events    repeated to the end of the body: type u8, data length u32, data
 *
 * Type 16 is the same body after one leading format byte, 0x00 (Red5 and FluorineFx write 0x00; Red5 reads
 * 0 and 3, and uses an AMF3 reader for 3). We write 0x00 and accept only 0x00: values stay AMF0 and switch to
 * AMF3 per value with the 0x11 avmplus marker, as in type 17/15 command and data messages. That is FMS 3's
 * "blended mode" (AMF0 whenever AMF0 can carry the value), the rule the rest of this server follows.
 *
 * Event data (the length always covers exactly the data):
 *   1 Use, 2 Release, 8 Clear, 11 UseSuccess   empty
 *   3 RequestChange, 4 Change                  key (u16 string) + one AMF value; Red5 also reads several
 *                                              key/value pairs in one event, so extra pairs decode as more
 *                                              events of the same type
 *   5 Success, 9 Remove, 10 RequestRemove      key (u16 string)
 *   6 SendMessage                              handler name as an AMF string value (with its marker), then the
 *                                              arguments as AMF values up to the end of the event
 *   7 Status                                   code, level (two u16 strings; csimi's capture shows this order.
 *                                              Red5's encoder writes level first, its decoder reads code first)
 *   other types                                kept as raw bytes (csimi saw 12, 13 and 14 from some servers)
 *
 * Each event is encoded and decoded with its own AMF reference tables, so no reference crosses an event.
 * Malformed framing is RtmpError ERR_SO_MALFORMED; malformed values inside an event keep their AmfError codes
 * (ERR_AMF_*). Every read is bounded by the event it belongs to.
 */
import { Amf0Reader, Amf0Writer, type AmfValue } from '../amf';
import { RtmpError, isSsasError } from '../errors';
import { ChunkStreamId, MessageType, type RtmpMessage } from './types';

/** Event type bytes (RTMP spec 7.1.3). */
export const SoEventCode = {
  Use: 1,
  Release: 2,
  RequestChange: 3,
  Change: 4,
  Success: 5,
  SendMessage: 6,
  Status: 7,
  Clear: 8,
  Remove: 9,
  RequestRemove: 10,
  UseSuccess: 11,
} as const;

export type SoEvent =
  | { kind: 'use' }
  | { kind: 'release' }
  | { kind: 'clear' }
  | { kind: 'useSuccess' }
  | { kind: 'requestChange'; key: string; value: AmfValue }
  | { kind: 'change'; key: string; value: AmfValue }
  | { kind: 'success'; key: string }
  | { kind: 'remove'; key: string }
  | { kind: 'requestRemove'; key: string }
  | { kind: 'sendMessage'; handler: string; args: AmfValue[] }
  | { kind: 'status'; code: string; level: string }
  /** An event type this codec does not know, kept byte for byte. */
  | { kind: 'unknown'; code: number; data: Buffer };

export type SoEventKind = SoEvent['kind'];

export interface SoMessage {
  name: string;
  /** Unsigned 32-bit; the sender's current version of the object. */
  version: number;
  persistent: boolean;
  /** The raw flags word as received (decode only; the encoder writes 2 or 0 from `persistent`). */
  flags?: number;
  events: SoEvent[];
}

const KIND_CODE: Record<Exclude<SoEventKind, 'unknown'>, number> = {
  use: SoEventCode.Use,
  release: SoEventCode.Release,
  requestChange: SoEventCode.RequestChange,
  change: SoEventCode.Change,
  success: SoEventCode.Success,
  sendMessage: SoEventCode.SendMessage,
  status: SoEventCode.Status,
  clear: SoEventCode.Clear,
  remove: SoEventCode.Remove,
  requestRemove: SoEventCode.RequestRemove,
  useSuccess: SoEventCode.UseSuccess,
};

/** The flags word value for persistent objects. */
export const SO_FLAG_PERSISTENT = 2;
/** name length (2) + version (4) + flags (4) + reserved (4), with an empty name. */
const MIN_HEADER = 14;
const EVENT_HEADER = 5;

function malformed(reason: string, details: Record<string, unknown> = {}): RtmpError {
  return new RtmpError('ERR_SO_MALFORMED', `malformed shared object message: ${reason}`, { reason, ...details });
}

export function isSharedObjectMessageType(type: number): boolean {
  return type === MessageType.SharedObjectAmf0 || type === MessageType.SharedObjectAmf3;
}

// ------------------------------------------------------------------------------------------------- decoding

/** Decodes a type 19 or type 16 message. */
export function decodeSharedObjectMessage(msg: Pick<RtmpMessage, 'type' | 'payload'>): SoMessage {
  if (!isSharedObjectMessageType(msg.type)) {
    throw malformed(`message type ${msg.type} is not a shared object message`, { type: msg.type });
  }
  return decodeSharedObjectBody(msg.payload, msg.type === MessageType.SharedObjectAmf3);
}

/** Decodes a message body; `amf3` when it came as type 16 (leading format byte). */
export function decodeSharedObjectBody(body: Buffer, amf3: boolean): SoMessage {
  try {
    return decodeBody(body, amf3);
  } catch (e) {
    if (isSsasError(e)) throw e;
    throw malformed(`decoder failure: ${(e as Error)?.message ?? String(e)}`);
  }
}

function decodeBody(body: Buffer, amf3: boolean): SoMessage {
  let off = 0;
  if (amf3) {
    if (body.length < 1) throw malformed('empty type 16 message');
    if (body[0] !== 0) throw malformed(`unsupported type 16 format byte ${body[0]}`, { formatByte: body[0] });
    off = 1;
  }
  if (body.length - off < MIN_HEADER) throw malformed('header truncated', { length: body.length });
  const nameLen = body.readUInt16BE(off);
  off += 2;
  if (body.length - off < nameLen + 12) throw malformed('header truncated', { length: body.length, nameLength: nameLen });
  const name = body.toString('utf8', off, off + nameLen);
  off += nameLen;
  const version = body.readUInt32BE(off);
  const flags = body.readUInt32BE(off + 4);
  off += 12; // version, flags, reserved
  const events: SoEvent[] = [];
  while (off < body.length) {
    if (body.length - off < EVENT_HEADER) {
      throw malformed('event header truncated', { offset: off, left: body.length - off });
    }
    const code = body[off];
    const len = body.readUInt32BE(off + 1);
    off += EVENT_HEADER;
    if (len > body.length - off) {
      throw malformed(`event of ${len} bytes but ${body.length - off} left`, { offset: off, eventType: code, eventLength: len });
    }
    decodeEvent(code, body.subarray(off, off + len), events);
    off += len;
  }
  return { name, version, persistent: (flags & SO_FLAG_PERSISTENT) !== 0, flags, events };
}

function decodeEvent(code: number, data: Buffer, out: SoEvent[]): void {
  switch (code) {
    case SoEventCode.Use:
      out.push({ kind: 'use' });
      return;
    case SoEventCode.Release:
      out.push({ kind: 'release' });
      return;
    case SoEventCode.Clear:
      out.push({ kind: 'clear' });
      return;
    case SoEventCode.UseSuccess:
      out.push({ kind: 'useSuccess' });
      return;
    case SoEventCode.RequestChange:
    case SoEventCode.Change: {
      if (data.length === 0) throw malformed('change event without a key', { eventType: code });
      const kind = code === SoEventCode.Change ? 'change' : 'requestChange';
      const r = new Amf0Reader(data);
      while (!r.atEnd()) {
        const key = r.readString();
        // A pair cut short after its key is what Red5 reads as "no value": keep it as undefined.
        const value = r.atEnd() ? undefined : r.readValue();
        out.push({ kind, key, value });
      }
      return;
    }
    case SoEventCode.Success:
    case SoEventCode.Remove:
    case SoEventCode.RequestRemove: {
      const key = new Amf0Reader(data).readString();
      const kind = code === SoEventCode.Success ? 'success' : code === SoEventCode.Remove ? 'remove' : 'requestRemove';
      out.push({ kind, key });
      return;
    }
    case SoEventCode.SendMessage: {
      const r = new Amf0Reader(data);
      const handler = r.readValue();
      if (typeof handler !== 'string') throw malformed('send message handler name is not a string');
      const args: AmfValue[] = [];
      while (!r.atEnd()) args.push(r.readValue());
      out.push({ kind: 'sendMessage', handler, args });
      return;
    }
    case SoEventCode.Status: {
      const r = new Amf0Reader(data);
      const statusCode = r.readString();
      const level = r.atEnd() ? '' : r.readString();
      out.push({ kind: 'status', code: statusCode, level });
      return;
    }
    default:
      out.push({ kind: 'unknown', code, data: Buffer.from(data) });
  }
}

// ------------------------------------------------------------------------------------------------- encoding

/**
 * Encodes a message body. `amf3` selects type 16 framing (leading 0x00, values may switch to AMF3 with 0x11);
 * without it a value AMF0 cannot carry (ByteArray, E4X XML, Vector, Dictionary) throws ERR_AMF_AMF3_ONLY.
 */
export function encodeSharedObjectMessage(m: SoMessage, amf3: boolean): Buffer {
  const w = new Amf0Writer({ avmplus: amf3, initialSize: 64 + m.name.length * 3 + m.events.length * 32 });
  writeHeader(w, m.name, m.version, m.persistent, amf3);
  for (const ev of m.events) writeEvent(w, ev, amf3);
  return w.toBuffer();
}

/** Encodes only the header (format byte for type 16, name, version, flags, reserved). */
export function encodeSharedObjectHeader(name: string, version: number, persistent: boolean, amf3: boolean): Buffer {
  const w = new Amf0Writer({ initialSize: 16 + name.length * 3 });
  writeHeader(w, name, version, persistent, amf3);
  return w.toBuffer();
}

/** Encodes one event (type, length, data). Bodies are a header followed by any number of these. */
export function encodeSharedObjectEvent(ev: SoEvent, amf3: boolean): Buffer {
  const w = new Amf0Writer({ avmplus: amf3, initialSize: 32 });
  writeEvent(w, ev, amf3);
  return w.toBuffer();
}

function writeHeader(w: Amf0Writer, name: string, version: number, persistent: boolean, amf3: boolean): void {
  if (amf3) w.writeUInt8(0);
  w.writeString(name);
  w.writeUInt32(toU32(version));
  w.writeUInt32(persistent ? SO_FLAG_PERSISTENT : 0);
  w.writeUInt32(0);
}

function toU32(v: number): number {
  return Number.isFinite(v) ? Math.trunc(v) >>> 0 : 0;
}

function writeEvent(base: Amf0Writer, ev: SoEvent, amf3: boolean): void {
  const code = ev.kind === 'unknown' ? ev.code & 0xff : KIND_CODE[ev.kind];
  base.writeUInt8(code);
  const lenAt = base.length;
  base.writeUInt32(0);
  // A fresh writer on the same buffer: its own reference table, so nothing in this event refers to another.
  const w = new Amf0Writer({ avmplus: amf3 });
  w.adopt(base);
  switch (ev.kind) {
    case 'use':
    case 'release':
    case 'clear':
    case 'useSuccess':
      break;
    case 'requestChange':
    case 'change':
      w.writeString(ev.key);
      w.writeValue(ev.value);
      break;
    case 'success':
    case 'remove':
    case 'requestRemove':
      w.writeString(ev.key);
      break;
    case 'sendMessage':
      w.writeValue(ev.handler);
      for (const a of ev.args) w.writeValue(a);
      break;
    case 'status':
      w.writeString(ev.code);
      w.writeString(ev.level);
      break;
    case 'unknown':
      w.writeBytes(ev.data);
      break;
  }
  base.adopt(w);
  base.buf.writeUInt32BE(base.length - lenAt - 4, lenAt);
}

/** Concatenates an encoded header and encoded events into one body. */
export function joinSharedObjectBody(header: Buffer, events: readonly Buffer[]): Buffer {
  return Buffer.concat([header, ...events]);
}

/** Wraps a body in an RTMP message of type 16 (`amf3`) or 19 on the NetConnection (stream 0). */
export function sharedObjectRtmpMessage(body: Buffer, amf3: boolean, timestamp = 0): RtmpMessage {
  return {
    type: amf3 ? MessageType.SharedObjectAmf3 : MessageType.SharedObjectAmf0,
    streamId: 0,
    timestamp,
    csid: ChunkStreamId.SharedObject,
    payload: body,
  };
}
