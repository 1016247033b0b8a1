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
  return completeCommand(decodeCommandHead(msg));
}

/**
 * A command with its arguments not decoded yet: the name, transaction id and command object, and a reader
 * positioned at the first argument. `rawArgs` is the arguments' bytes when they can be decoded on their own
 * (the command object holds nothing later values could reference), else null.
 */
export interface CommandHead {
  name: string;
  transactionId: number;
  commandObject: AmfValue;
  rawArgs: Buffer | null;
  reader: Amf0Reader;
}

export function decodeCommandHead(msg: RtmpMessage): CommandHead {
  const skip = msg.type === MessageType.CommandAmf3 ? 1 : 0;
  if (msg.payload.length < skip) throw new RtmpError('ERR_RTMP_BAD_COMMAND', 'empty AMF3 command/data message');
  const reader = new Amf0Reader(msg.payload, skip);
  const name = reader.atEnd() ? undefined : reader.readValue();
  if (typeof name !== 'string') throw new RtmpError('ERR_RTMP_BAD_COMMAND', 'command name is not a string');
  const t = reader.atEnd() ? 0 : reader.readValue();
  const txn = typeof t === 'number' && Number.isFinite(t) ? t : 0;
  const commandObject = reader.atEnd() ? null : reader.readValue();
  const plain = (t === null || typeof t !== 'object') && (commandObject === null || commandObject === undefined);
  return { name, transactionId: txn, commandObject, rawArgs: plain ? msg.payload.subarray(reader.position) : null, reader };
}

/** Decodes the arguments of a command head (once). */
export function completeCommand(head: CommandHead): Command {
  const args: AmfValue[] = [];
  while (!head.reader.atEnd()) args.push(head.reader.readValue());
  return { name: head.name, transactionId: head.transactionId, commandObject: head.commandObject, args };
}

/**
 * A `_result` whose value is already AMF0 bytes (the sandbox's fast path): the same message commandMessage
 * builds for ("_result", txn, null, value).
 */
export function encodedResultMessage(transactionId: number, value: Uint8Array): RtmpMessage {
  const payload = Buffer.allocUnsafe(20 + value.length);
  payload[0] = 0x02;
  payload.writeUInt16BE(7, 1);
  payload.write('_result', 3, 'latin1');
  payload[10] = 0x00;
  payload.writeDoubleBE(transactionId, 11);
  payload[19] = 0x05;
  payload.set(value, 20);
  return { type: MessageType.CommandAmf0, streamId: 0, timestamp: 0, csid: ChunkStreamId.Command, payload };
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
