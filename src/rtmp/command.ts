/**
 * Command (RTMP spec 7.1.1: types 20 AMF0 / 17 AMF3) and data (7.1.2: types 18 AMF0 / 15 AMF3) messages.
 * Type 17 and 15 bodies start with one format byte (0) followed by AMF0 values that may switch to AMF3 per
 * value with the 0x11 marker (AMF0 spec 3.1, "avmplus-object"). We always answer with type 20/18 and write
 * AMF0 first, switching to AMF3 only for values AMF0 cannot carry, and only for peers that speak AMF3
 * (objectEncoding 3): FMS's "blended mode".
 */
import { Amf0Reader, Amf0Writer, type AmfValue } from '../amf';
import { RtmpError } from '../errors';
import { ChunkStreamId, MessageType, type RtmpMessage } from './types';

export interface Command {
  name: string;
  transactionId: number;
  commandObject: AmfValue;
  args: AmfValue[];
}

export interface DataMessage {
  name: string;
  args: AmfValue[];
}

function valuesOf(msg: RtmpMessage): AmfValue[] {
  const skip = msg.type === MessageType.CommandAmf3 || msg.type === MessageType.DataAmf3 ? 1 : 0;
  if (msg.payload.length < skip) throw new RtmpError('ERR_RTMP_BAD_COMMAND', 'empty AMF3 command/data message');
  const reader = new Amf0Reader(msg.payload, skip);
  const out: AmfValue[] = [];
  while (!reader.atEnd()) out.push(reader.readValue());
  return out;
}

/** Decodes a command message; AMF errors keep their own codes. */
export function decodeCommand(msg: RtmpMessage): Command {
  const v = valuesOf(msg);
  if (typeof v[0] !== 'string') throw new RtmpError('ERR_RTMP_BAD_COMMAND', 'command name is not a string');
  const txn = typeof v[1] === 'number' && Number.isFinite(v[1]) ? v[1] : 0;
  return { name: v[0], transactionId: txn, commandObject: v.length > 2 ? v[2] : null, args: v.slice(3) };
}

/** Decodes a data message (first value is the handler name). */
export function decodeData(msg: RtmpMessage): DataMessage {
  const v = valuesOf(msg);
  if (typeof v[0] !== 'string') throw new RtmpError('ERR_RTMP_BAD_DATA', 'data message handler name is not a string');
  return { name: v[0], args: v.slice(1) };
}

export interface EncodeOptions {
  /** The peer's objectEncoding: 3 allows AMF3 values through the 0x11 switch; 0 refuses them (ERR_AMF_AMF3_ONLY). */
  objectEncoding: number;
}

export function encodeValues(values: readonly AmfValue[], opts: EncodeOptions): Buffer {
  const w = new Amf0Writer({ avmplus: opts.objectEncoding === 3 });
  for (const v of values) w.writeValue(v);
  return w.toBuffer();
}

export function commandMessage(
  streamId: number,
  name: string,
  transactionId: number,
  commandObject: AmfValue,
  args: readonly AmfValue[],
  opts: EncodeOptions,
): RtmpMessage {
  return {
    type: MessageType.CommandAmf0,
    streamId,
    timestamp: 0,
    csid: streamId === 0 ? ChunkStreamId.Command : ChunkStreamId.Data,
    payload: encodeValues([name, transactionId, commandObject, ...args], opts),
  };
}

export function dataMessage(streamId: number, timestamp: number, values: readonly AmfValue[], opts: EncodeOptions): RtmpMessage {
  return { type: MessageType.DataAmf0, streamId, timestamp, csid: ChunkStreamId.Data, payload: encodeValues(values, opts) };
}

/** An info object as FMS sends it in onStatus/_result/_error. */
export interface InfoObject {
  level: 'status' | 'warning' | 'error';
  code: string;
  description?: string;
  [key: string]: AmfValue;
}

export function info(level: InfoObject['level'], code: string, description?: string, extra?: Record<string, AmfValue>): InfoObject {
  const o: InfoObject = { level, code };
  if (description !== undefined) o.description = description;
  if (extra) Object.assign(o, extra);
  return o;
}
