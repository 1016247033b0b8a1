/**
 * The startup chunks of RFC 7016 section 2.3.2-2.3.8 and what builds and checks them:
 *
 *   IHello 0x30            epd (VLU length + bytes), tag (rest)
 *   Forwarded IHello 0x0f  epd (VLU + bytes), reply address (2.3.5 address), tag (rest)
 *   RHello 0x70            tag echo (VLU + bytes), cookie (VLU + bytes), responder certificate (rest)
 *   Redirect 0x71          tag echo (VLU + bytes), addresses (rest)
 *   Cookie Change 0x79     old cookie (VLU + bytes), new cookie (rest)
 *   IIKeying 0x38          initiator session id (32 bits), cookie echo, certificate, session key
 *                          initiator component (each VLU + bytes), signature (rest)
 *   RIKeying 0x78          responder session id (32 bits), session key responder component (VLU +
 *                          bytes), signature (rest)
 *
 * Addresses (2.3.5): a flags byte (0x80 IPv6; low two bits the origin: 0 unknown, 1 local, 2 remote,
 * 3 relay), 4 or 16 address bytes, a 16-bit port.
 *
 * Cookies (3.5.1.1.2) are stateless: the time they were made and an HMAC over that time and the
 * address they were sent to, 64 bytes in all because Flash Player and librtmfp accept no other length
 * (librtmfp RTMFPHandshaker COOKIE_SIZE; peers/README.md fact 2).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { RtmfpError } from '../errors';
import { Cursor, Writer } from './wire';

export interface IHello {
  epd: Buffer;
  tag: Buffer;
}

export function decodeIHello(body: Buffer): IHello {
  const c = new Cursor(body);
  const epd = c.vluBytes('IHello endpoint discriminator');
  return { epd, tag: c.rest() };
}

export function encodeIHello(h: IHello): Buffer {
  return new Writer(h.epd.length + h.tag.length + 4).vluBytes(h.epd).bytes(h.tag).finish();
}

export interface ForwardedIHello extends IHello {
  replyAddress: RtmfpAddress;
}

export function decodeForwardedIHello(body: Buffer): ForwardedIHello {
  const c = new Cursor(body);
  const epd = c.vluBytes('forwarded IHello endpoint discriminator');
  const replyAddress = readAddress(c);
  return { epd, replyAddress, tag: c.rest() };
}

export function encodeForwardedIHello(h: ForwardedIHello): Buffer {
  const w = new Writer(h.epd.length + h.tag.length + 24).vluBytes(h.epd);
  writeAddress(w, h.replyAddress);
  return w.bytes(h.tag).finish();
}

export interface RHello {
  tag: Buffer;
  cookie: Buffer;
  certificate: Buffer;
}

export function decodeRHello(body: Buffer): RHello {
  const c = new Cursor(body);
  const tag = c.vluBytes('RHello tag');
  const cookie = c.vluBytes('RHello cookie');
  return { tag, cookie, certificate: c.rest() };
}

export function encodeRHello(h: RHello): Buffer {
  return new Writer(h.tag.length + h.cookie.length + h.certificate.length + 8).vluBytes(h.tag).vluBytes(h.cookie).bytes(h.certificate).finish();
}

export interface Redirect {
  tag: Buffer;
  addresses: RtmfpAddress[];
}

export function decodeRedirect(body: Buffer): Redirect {
  const c = new Cursor(body);
  const tag = c.vluBytes('redirect tag');
  const addresses: RtmfpAddress[] = [];
  while (!c.atEnd()) {
    addresses.push(readAddress(c));
    if (addresses.length > 64) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', 'redirect with more than 64 addresses');
  }
  return { tag, addresses };
}

export function encodeRedirect(r: Redirect): Buffer {
  const w = new Writer(r.tag.length + r.addresses.length * 19 + 4).vluBytes(r.tag);
  for (const a of r.addresses) writeAddress(w, a);
  return w.finish();
}

export interface CookieChange {
  oldCookie: Buffer;
  newCookie: Buffer;
}

export function decodeCookieChange(body: Buffer): CookieChange {
  const c = new Cursor(body);
  const oldCookie = c.vluBytes('old cookie');
  return { oldCookie, newCookie: c.rest() };
}

export function encodeCookieChange(cc: CookieChange): Buffer {
  return new Writer(cc.oldCookie.length + cc.newCookie.length + 4).vluBytes(cc.oldCookie).bytes(cc.newCookie).finish();
}

export interface IIKeying {
  initiatorSessionId: number;
  cookie: Buffer;
  certificate: Buffer;
  skic: Buffer;
  signature: Buffer;
}

export function decodeIIKeying(body: Buffer): IIKeying {
  const c = new Cursor(body);
  const initiatorSessionId = c.u32('initiator session id');
  const cookie = c.vluBytes('IIKeying cookie');
  const certificate = c.vluBytes('IIKeying certificate');
  const skic = c.vluBytes('session key initiator component');
  return { initiatorSessionId, cookie, certificate, skic, signature: c.rest() };
}

export function encodeIIKeying(k: IIKeying): Buffer {
  return new Writer(k.cookie.length + k.certificate.length + k.skic.length + 32)
    .u32(k.initiatorSessionId)
    .vluBytes(k.cookie)
    .vluBytes(k.certificate)
    .vluBytes(k.skic)
    .bytes(k.signature)
    .finish();
}

export interface RIKeying {
  responderSessionId: number;
  skrc: Buffer;
  signature: Buffer;
}

export function decodeRIKeying(body: Buffer): RIKeying {
  const c = new Cursor(body);
  const responderSessionId = c.u32('responder session id');
  const skrc = c.vluBytes('session key responder component');
  return { responderSessionId, skrc, signature: c.rest() };
}

export function encodeRIKeying(k: RIKeying): Buffer {
  return new Writer(k.skrc.length + 16).u32(k.responderSessionId).vluBytes(k.skrc).bytes(k.signature).finish();
}

/** The signature field Flash Player and the peers send when no signature scheme is in use. */
export const NO_SIGNATURE = Buffer.from('X', 'latin1');

// ---------------------------------------------------------------------------------------------------------
// Addresses

export const ORIGIN_UNKNOWN = 0;
export const ORIGIN_LOCAL = 1;
export const ORIGIN_REMOTE = 2;
export const ORIGIN_RELAY = 3;

export interface RtmfpAddress {
  address: string;
  port: number;
  family: 4 | 6;
  origin: number;
}

export function readAddress(c: Cursor): RtmfpAddress {
  const flags = c.u8('address flags');
  const v6 = (flags & 0x80) !== 0;
  const raw = c.bytes(v6 ? 16 : 4, 'address');
  const port = c.u16('address port');
  let address: string;
  if (v6) {
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(raw.readUInt16BE(i).toString(16));
    address = compressV6(parts.join(':'));
  } else {
    address = `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  }
  return { address, port, family: v6 ? 6 : 4, origin: flags & 0x03 };
}

export function writeAddress(w: Writer, a: RtmfpAddress): void {
  if (a.family === 6) {
    w.u8(0x80 | (a.origin & 3));
    w.bytes(v6Bytes(a.address));
  } else {
    w.u8(a.origin & 3);
    const parts = a.address.split('.').map((x) => Number(x));
    if (parts.length !== 4 || parts.some((x) => !(x >= 0 && x <= 255))) throw new RtmfpError('ERR_RTMFP_BAD_ADDRESS', `not an IPv4 address: ${a.address}`);
    w.bytes(Buffer.from(parts));
  }
  w.u16(a.port);
}

function v6Bytes(addr: string): Buffer {
  if (isIP(addr) !== 6) throw new RtmfpError('ERR_RTMFP_BAD_ADDRESS', `not an IPv6 address: ${addr}`);
  let a = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':').filter((x) => x !== '') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function compressV6(full: string): string {
  // Longest run of zero groups becomes "::" (RFC 5952).
  const g = full.split(':').map((x) => x.replace(/^0+(?=.)/, ''));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Cookies

export const COOKIE_LENGTH = 64;
/** Seconds a cookie stays good (rtmfp-cpp MAX_COOKIE_LIFETIME). */
export const COOKIE_LIFETIME_S = 95;

/**
 * Makes and checks our cookies: 4 bytes of the second they were made (since `epochMs`), then 60 bytes
 * of HMAC-SHA256 material over that second and the address (two HMACs with different keys, truncated).
 * Nothing is stored per address.
 */
export class CookieJar {
  readonly #k1 = randomBytes(32);
  readonly #k2 = randomBytes(32);
  readonly #epochMs: number;

  constructor(nowMs: number) {
    this.#epochMs = nowMs;
  }

  #mac(seconds: number, addressKey: string): Buffer {
    const t = Buffer.alloc(4);
    t.writeUInt32BE(seconds >>> 0);
    const a = createHmac('sha256', this.#k1).update(t).update(addressKey).digest();
    const b = createHmac('sha256', this.#k2).update(t).update(addressKey).digest();
    return Buffer.concat([t, a, b.subarray(0, COOKIE_LENGTH - 4 - 32)]);
  }

  make(addressKey: string, nowMs: number): Buffer {
    return this.#mac(Math.floor((nowMs - this.#epochMs) / 1000), addressKey);
  }

  /** 'ok', 'expired' (good but old: the peer may be sent a fresh one) or 'bad'. */
  check(cookie: Buffer, addressKey: string, nowMs: number): 'ok' | 'expired' | 'bad' {
    if (cookie.length !== COOKIE_LENGTH) return 'bad';
    const seconds = cookie.readUInt32BE(0);
    const now = Math.floor((nowMs - this.#epochMs) / 1000);
    if (seconds > now) return 'bad';
    if (!this.#mac(seconds, addressKey).equals(cookie)) return 'bad';
    return now - seconds > COOKIE_LIFETIME_S ? 'expired' : 'ok';
  }
}
