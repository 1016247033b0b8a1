/**
 * The AMF packet of Flash Remoting (AMF 3 Specification, section 4.1 "NetConnection and AMF 0 and AMF 3";
 * AMF 0 Specification 2.x for the values): what a Flash Remoting client POSTs to a gateway as
 * `application/x-amf` and what the gateway answers.
 *
 *   u16 version (0 = AMF0 client, 3 = Flash Player 9+; values may switch to AMF3 behind 0x11 then)
 *   u16 header-count, then per header: u16-prefixed UTF-8 name, u8 must-understand, u32 byte length
 *       (0xFFFFFFFF or 0 when unknown), one AMF0 value
 *   u16 message-count, then per message: u16-prefixed target URI, u16-prefixed response URI, u32 byte length
 *       (same rule), one AMF0 value (for a request: the strict array of the call's arguments)
 *
 * A request's response URI is "/N"; the gateway answers message N with target "/N/onResult" or
 * "/N/onStatus" and response URI "null". Pure: bytes in, values out; malformed input throws AmfError with a
 * stable code and the offset.
 */
import { AmfError } from '../errors';
import { decodeAmf0, encodeAmf0With } from './amf0';
import type { AmfValue } from './types';

export interface RemotingHeader {
  name: string;
  mustUnderstand: boolean;
  value: AmfValue;
}

export interface RemotingMessage {
  target: string;
  response: string;
  value: AmfValue;
}

export interface RemotingPacket {
  version: number;
  headers: RemotingHeader[];
  messages: RemotingMessage[];
}

/** Most headers or messages in one packet (a count past it is refused before anything is read). */
const MAX_ENTRIES = 65535;

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Encodes a packet; values are AMF0, with AMF3-only values behind the 0x11 switch (version 3). */
export function encodeRemotingPacket(p: RemotingPacket): Buffer {
  const parts: Buffer[] = [];
  const u16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
  };
  const str = (s: string): Buffer[] => {
    const b = utf8(s);
    if (b.length > 0xffff) throw new AmfError('ERR_AMF_STRING_TOO_LONG', `remoting name of ${b.length} bytes (limit 65535)`);
    return [u16(b.length), b];
  };
  const value = (v: AmfValue): Buffer => encodeAmf0With({ avmplus: p.version === 3 }, [v]);
  parts.push(u16(p.version), u16(p.headers.length));
  for (const h of p.headers) {
    const v = value(h.value);
    parts.push(...str(h.name), Buffer.from([h.mustUnderstand ? 1 : 0]), u32(v.length), v);
  }
  parts.push(u16(p.messages.length));
  for (const m of p.messages) {
    const v = value(m.value);
    parts.push(...str(m.target), ...str(m.response), u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Decodes a packet; throws AmfError ERR_AMF_REMOTING_* (or the value codec's codes) for malformed bytes. */
export function decodeRemotingPacket(buf: Buffer | Uint8Array): RemotingPacket {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const need = (n: number, what: string): void => {
    if (p + n > b.length) throw new AmfError('ERR_AMF_REMOTING_TRUNCATED', `remoting packet truncated in ${what} at offset ${p}`, { offset: p });
  };
  const u16 = (what: string): number => {
    need(2, what);
    const v = b.readUInt16BE(p);
    p += 2;
    return v;
  };
  const str = (what: string): string => {
    const n = u16(what);
    need(n, what);
    const s = b.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  const value = (what: string): AmfValue => {
    need(4, what);
    const declared = b.readUInt32BE(p);
    p += 4;
    const start = p;
    const r = decodeAmf0(b, p);
    // The length is a hint (0 and 0xFFFFFFFF mean unknown); a known one must match what was read.
    if (declared !== 0 && declared !== 0xffffffff && r.position - start !== declared) {
      throw new AmfError('ERR_AMF_REMOTING_LENGTH', `${what} says ${declared} bytes, its value has ${r.position - start} (offset ${start})`, { offset: start });
    }
    p = r.position;
    return r.value;
  };
  const version = u16('the version');
  if (version !== 0 && version !== 1 && version !== 3) {
    throw new AmfError('ERR_AMF_REMOTING_VERSION', `remoting packet version ${version} (0 or 3 expected)`, { offset: 0 });
  }
  const headerCount = u16('the header count');
  if (headerCount > MAX_ENTRIES) throw new AmfError('ERR_AMF_REMOTING_COUNT', `${headerCount} headers`);
  const headers: RemotingHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const name = str('a header name');
    need(1, 'a header');
    const mustUnderstand = b[p++] !== 0;
    headers.push({ name, mustUnderstand, value: value(`header ${name}`) });
  }
  const messageCount = u16('the message count');
  const messages: RemotingMessage[] = [];
  for (let i = 0; i < messageCount; i++) {
    const target = str('a message target');
    const response = str('a message response URI');
    messages.push({ target, response, value: value(`message ${target}`) });
  }
  return { version, headers, messages };
}
