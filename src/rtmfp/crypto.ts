/**
 * The RFC 7425 crypto profile (the "Flash profile" of RTMFP) section 4:
 *
 * - 4.1 packet encryption: AES-128-CBC, zero IV, 0xFF padding to a 16-byte multiple; the startup
 *   (handshake) packets use the default key "Adobe Systems 02".
 * - 4.2 packet integrity: a 16-bit Internet checksum in front of the packet, or, when negotiated
 *   (4.6.5), HMAC-SHA256 over the ciphertext appended to it (truncated to the negotiated length), and
 *   optionally a session sequence number (VLU) in front of the packet that receivers use to drop
 *   replays. rtmfp-cpp by default requires both; Flash Player and librtmfp use neither.
 * - 4.3 certificates, endpoint discriminators and keying components are option lists (wire.ts); the
 *   codes are in the tables below.
 * - 4.6 key derivation: DH shared secret (groups 2, 5, 14: RFC 2409 / RFC 3526 MODP groups), then
 *     nearNonce = HMAC(secret, nearComponent), farNonce = HMAC(secret, farComponent)
 *     encryptKey = HMAC(secret, HMAC(farComponent, nearComponent))[0..16]
 *     decryptKey = HMAC(secret, HMAC(nearComponent, farComponent))[0..16]
 *     tx HMAC key = HMAC(secret, encryptKey (32 bytes)), rx HMAC key = HMAC(secret, decryptKey)
 *   where HMAC(k, m) is HMAC-SHA256 with key k over m, and the components are the whole initiator and
 *   responder session key components as sent. (Facts checked against rtmfp-cpp FlashCryptoAdapter.cpp.)
 *   The shared secret is the minimal big-endian form of g^xy mod p (no leading zero bytes), as
 *   rtmfp-cpp's BN_bn2bin and OpenSSL's DH_compute_key give it.
 */
import { createCipheriv, createDecipheriv, createDiffieHellman, createHmac, createHash, getDiffieHellman, randomBytes, type DiffieHellman } from 'node:crypto';
import { RtmfpError } from '../errors';
import { Cursor, Writer, readOptions, vluLength, writeOption, writeVlu, type RtmfpOption } from './wire';
import { scrambleSessionId } from './packet';

export const DEFAULT_KEY = Buffer.from('Adobe Systems 02', 'latin1');
const ZERO_IV = Buffer.alloc(16);

// Endpoint discriminator options (RFC 7425 4.4.2).
export const EPD_REQUIRED_HOSTNAME = 0x00;
export const EPD_ANCILLARY_DATA = 0x0a;
export const EPD_FINGERPRINT = 0x0f;
// Certificate options (4.3.2).
export const CERT_HOSTNAME = 0x00;
export const CERT_ACCEPTS_ANCILLARY_DATA = 0x0a;
export const CERT_EXTRA_RANDOMNESS = 0x0e;
export const CERT_SUPPORTED_DH_GROUP = 0x15;
export const CERT_STATIC_DH_PUBLIC_KEY = 0x1d;
// Session key component options (4.3.3).
export const KEYING_DH_PUBLIC_KEY = 0x0d;
export const KEYING_EXTRA_RANDOMNESS = 0x0e;
export const KEYING_DH_GROUP_SELECT = 0x1d;
export const KEYING_HMAC_NEGOTIATION = 0x1a;
export const KEYING_SSEQ_NEGOTIATION = 0x1e;
// Negotiation flags (4.6.5).
export const NEGOTIATE_SEND_ALWAYS = 0x04;
export const NEGOTIATE_SEND_ON_REQUEST = 0x02;
export const NEGOTIATE_REQUEST = 0x01;

export const MIN_HMAC_LENGTH = 4;
export const MAX_HMAC_LENGTH = 32;
/** The HMAC length a responder announces when it uses HMAC (rtmfp-cpp's). */
export const DEFAULT_HMAC_LENGTH = 16;

// ---------------------------------------------------------------------------------------------------------
// Checksum

/** RFC 1071 Internet checksum over buf[start, end) (big-endian words; an odd last byte adds as is, as rtmfp-cpp). */
export function internetChecksum(buf: Buffer, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]!;
  sum = (sum >>> 16) + (sum & 0xffff);
  sum += sum >>> 16;
  return ~sum & 0xffff;
}

// ---------------------------------------------------------------------------------------------------------
// Packet ciphers

export interface PacketCipher {
  /** Encrypts a plaintext packet into a datagram: scrambled session id (for `txId`), ciphertext, HMAC. */
  seal(plain: Buffer, txId: number): Buffer;
  /** Decrypts a datagram (the scrambled id included); the plaintext packet, or null when it does not verify. */
  open(datagram: Buffer): Buffer | null;
}

export interface IntegrityMode {
  /** HMAC we append to what we send (0 = checksum instead). */
  txHmacLength: number;
  /** HMAC we require on what we receive (0 = checksum instead). */
  rxHmacLength: number;
  /** We send session sequence numbers. */
  txSequence: boolean;
  /** We require session sequence numbers (and drop replays). */
  rxSequence: boolean;
}

const CHECKSUM_ONLY: IntegrityMode = { txHmacLength: 0, rxHmacLength: 0, txSequence: false, rxSequence: false };

/** How far behind the highest session sequence number a packet may be and still be accepted (replay window). */
const SSEQ_WINDOW = 4096;

/**
 * AES-128-CBC with a zero IV per packet, on one long-lived OpenSSL context per direction instead of a new
 * one per packet (creating a cipher was a fifth of the main thread's time in the fan-out benchmark). A
 * CBC context continues from the last ciphertext block it handled, C_prev; packet by packet:
 * - encrypting: the first plaintext block is XORed with C_prev before it goes in, so the context computes
 *   E(P1 xor C_prev xor C_prev) = E(P1), exactly what a fresh context with a zero IV gives;
 * - decrypting: the context gives D(C1) xor C_prev for the first block; XORing C_prev back out gives D(C1).
 * C_prev is tracked here (the last 16 bytes of every ciphertext fed), so a packet that fails its checks
 * later changes nothing: the state is always that of the last ciphertext fed in.
 */
class ChainedCbc {
  readonly #ctx: ReturnType<typeof createCipheriv> | ReturnType<typeof createDecipheriv>;
  readonly #encrypt: boolean;
  readonly #last = Buffer.alloc(16);

  constructor(key: Buffer, encrypt: boolean) {
    this.#encrypt = encrypt;
    this.#ctx = (encrypt ? createCipheriv('aes-128-cbc', key, ZERO_IV) : createDecipheriv('aes-128-cbc', key, ZERO_IV)).setAutoPadding(false);
  }

  /** `data` (a multiple of 16 bytes; when encrypting it is modified in place) through the cipher with a zero IV. */
  run(data: Buffer): Buffer {
    const last = this.#last;
    if (this.#encrypt) {
      for (let i = 0; i < 16; i++) data[i]! ^= last[i]!;
      const out = this.#ctx.update(data);
      out.copy(last, 0, out.length - 16);
      return out;
    }
    const out = this.#ctx.update(data);
    for (let i = 0; i < 16; i++) out[i]! ^= last[i]!;
    data.copy(last, 0, data.length - 16);
    return out;
  }
}

export class AesPacketCipher implements PacketCipher {
  readonly #tx: ChainedCbc;
  readonly #rx: ChainedCbc;
  readonly #mode: IntegrityMode;
  readonly #txHmacKey: Buffer | null;
  readonly #rxHmacKey: Buffer | null;
  #txSeq = 0;
  #rxHighest = -1;
  /** Bit i set: sequence number (#rxHighest - i) was seen. */
  #rxSeen = new Uint8Array(SSEQ_WINDOW / 8);

  constructor(txKey: Buffer, rxKey: Buffer, mode: IntegrityMode = CHECKSUM_ONLY, txHmacKey: Buffer | null = null, rxHmacKey: Buffer | null = null) {
    this.#tx = new ChainedCbc(txKey, true);
    this.#rx = new ChainedCbc(rxKey, false);
    this.#mode = mode;
    this.#txHmacKey = txHmacKey;
    this.#rxHmacKey = rxHmacKey;
  }

  get mode(): IntegrityMode {
    return this.#mode;
  }

  seal(plain: Buffer, txId: number): Buffer {
    const m = this.#mode;
    const seqLen = m.txSequence ? vluLength(this.#txSeq) : 0;
    const ckLen = m.txHmacLength > 0 ? 0 : 2;
    const front = seqLen + ckLen;
    const bodyLen = front + plain.length;
    const padded = (bodyLen + 15) & ~15;
    const body = Buffer.allocUnsafe(padded);
    let p = 0;
    if (m.txSequence) p = writeVlu(body, 0, this.#txSeq++);
    plain.copy(body, front);
    body.fill(0xff, bodyLen, padded);
    if (ckLen) body.writeUInt16BE(internetChecksum(body, front, padded), p);
    const enc = this.#tx.run(body);
    const out = Buffer.allocUnsafe(4 + enc.length + m.txHmacLength);
    enc.copy(out, 4);
    if (m.txHmacLength > 0) {
      const mac = createHmac('sha256', this.#txHmacKey!).update(enc).digest();
      mac.copy(out, 4 + enc.length, 0, m.txHmacLength);
    }
    scrambleSessionId(out, txId);
    return out;
  }

  open(datagram: Buffer): Buffer | null {
    const m = this.#mode;
    const encLen = datagram.length - 4 - m.rxHmacLength;
    if (encLen < 16 || (encLen & 15) !== 0) return null;
    const enc = datagram.subarray(4, 4 + encLen);
    if (m.rxHmacLength > 0) {
      const mac = createHmac('sha256', this.#rxHmacKey!).update(enc).digest();
      if (!mac.subarray(0, m.rxHmacLength).equals(datagram.subarray(4 + encLen))) return null;
    }
    const plain = this.#rx.run(enc);
    let p = 0;
    let seq = -1;
    if (m.rxSequence) {
      try {
        const c = new Cursor(plain);
        seq = c.vlu('session sequence number');
        p = c.pos;
      } catch {
        return null;
      }
      if (!this.#freshSequence(seq)) return null;
    }
    if (m.rxHmacLength === 0) {
      if (plain.length - p < 3) return null;
      const ck = plain.readUInt16BE(p);
      p += 2;
      if (internetChecksum(plain, p, plain.length) !== ck) return null;
    }
    if (seq >= 0) this.#markSequence(seq);
    return plain.subarray(p);
  }

  #freshSequence(seq: number): boolean {
    if (seq > this.#rxHighest) return true;
    const age = this.#rxHighest - seq;
    if (age >= SSEQ_WINDOW) return false;
    return (this.#rxSeen[age >> 3]! & (1 << (age & 7))) === 0;
  }

  #markSequence(seq: number): void {
    if (seq > this.#rxHighest) {
      const shift = this.#rxHighest < 0 ? SSEQ_WINDOW : seq - this.#rxHighest;
      if (shift >= SSEQ_WINDOW) this.#rxSeen.fill(0);
      else shiftBitsUp(this.#rxSeen, shift);
      this.#rxHighest = seq;
    }
    const age = this.#rxHighest - seq;
    this.#rxSeen[age >> 3]! |= 1 << (age & 7);
  }
}

/** Moves every bit of the window `n` places up (bit i -> bit i + n), dropping what falls off the end. */
function shiftBitsUp(bits: Uint8Array, n: number): void {
  const total = bits.length * 8;
  for (let i = total - 1; i >= 0; i--) {
    const src = i - n;
    const v = src >= 0 ? (bits[src >> 3]! >> (src & 7)) & 1 : 0;
    if (v) bits[i >> 3]! |= 1 << (i & 7);
    else bits[i >> 3]! &= ~(1 << (i & 7));
  }
}

/** The handshake cipher: default key, checksum, no sequence numbers (RFC 7425 4.1). */
export const startupCipher = new AesPacketCipher(DEFAULT_KEY, DEFAULT_KEY);

// ---------------------------------------------------------------------------------------------------------
// Diffie-Hellman

export const SUPPORTED_DH_GROUPS = [2, 5, 14] as const;
export type DhGroupId = (typeof SUPPORTED_DH_GROUPS)[number];

const groupName: Record<DhGroupId, string> = { 2: 'modp2', 5: 'modp5', 14: 'modp14' };
/** Private exponent sizes (bits), as rtmfp-cpp and RFC 3526 section 8 suggest: twice the group's strength. */
const exponentBits: Record<DhGroupId, number> = { 2: 224, 5: 256, 14: 320 };
const primeBytes: Record<DhGroupId, number> = { 2: 128, 5: 192, 14: 256 };

export function isSupportedGroup(g: number): g is DhGroupId {
  return g === 2 || g === 5 || g === 14;
}

/**
 * One DiffieHellman object per group, its private key set before each use: creating one per handshake
 * costs 40 ms for group 2 on OpenSSL 3 (it checks the prime, which it does not know by name), setting a
 * key costs 0.1 ms. Every use is synchronous, so sharing is safe.
 */
const engines = new Map<DhGroupId, DiffieHellman>();
function engine(group: DhGroupId): DiffieHellman {
  let e = engines.get(group);
  if (!e) {
    e = createDiffieHellman(getDiffieHellman(groupName[group]).getPrime(), 2);
    engines.set(group, e);
  }
  return e;
}

export class DhKey {
  readonly group: DhGroupId;
  readonly #priv: Buffer;
  /** Our public key, minimal big-endian (no leading zeros). */
  readonly publicKey: Buffer;

  constructor(group: DhGroupId) {
    this.group = group;
    // A short private exponent (twice the group's strength) makes each handshake several times cheaper.
    this.#priv = randomBytes(exponentBits[group] / 8);
    this.#priv[0]! |= 0x80;
    const e = engine(group);
    e.setPrivateKey(this.#priv);
    this.publicKey = Buffer.from(stripZeros(e.generateKeys()));
  }

  /** The shared secret with the peer's public key (checked as RFC 7425 4.6.2 asks), minimal big-endian. */
  secret(peerPublic: Buffer): Buffer {
    checkPublicKey(peerPublic, this.group);
    const e = engine(this.group);
    e.setPrivateKey(this.#priv);
    try {
      return Buffer.from(stripZeros(e.computeSecret(peerPublic)));
    } catch (err) {
      throw new RtmfpError('ERR_RTMFP_BAD_KEY', `Diffie-Hellman failed: ${(err as Error).message}`);
    }
  }
}

/** RFC 7425 4.6.2: a public key at least 2^24, at most p - 2^24, with at least 16 zero and 16 one bits. */
function checkPublicKey(k: Buffer, group: DhGroupId): void {
  const key = stripZeros(k);
  if (key.length > primeBytes[group] || key.length < 4) throw new RtmfpError('ERR_RTMFP_BAD_KEY', `DH public key of ${key.length} bytes for group ${group}`);
  let ones = 0;
  let zeros = 0;
  for (const b of key) {
    const o = popcount(b);
    ones += o;
    zeros += 8 - o;
  }
  // Leading zero bits of the first byte are not counted as zeros (as rtmfp-cpp).
  zeros -= Math.clz32(key[0]!) - 24;
  if (ones < 16 || zeros < 16) throw new RtmfpError('ERR_RTMFP_BAD_KEY', 'DH public key has too few zero or one bits');
  if (key.length === primeBytes[group] && key.subarray(0, 12).every((b) => b === 0xff)) {
    // Within 2^24 of p: every prime here starts with 64 one bits, so such a key starts with 0xff... too.
    throw new RtmfpError('ERR_RTMFP_BAD_KEY', 'DH public key too close to the prime');
  }
}

function popcount(b: number): number {
  b = b - ((b >> 1) & 0x55);
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}

export function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return i === 0 ? b : b.subarray(i);
}

// ---------------------------------------------------------------------------------------------------------
// HMAC / hashes

export function hmac(key: Buffer, msg: Buffer): Buffer {
  return createHmac('sha256', key).update(msg).digest();
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export interface SessionKeys {
  encryptKey: Buffer;
  decryptKey: Buffer;
  txHmacKey: Buffer;
  rxHmacKey: Buffer;
  nearNonce: Buffer;
  farNonce: Buffer;
}

/** RFC 7425 4.6.4 (see the file header). `near`/`far` are our and the peer's keying components. */
export function deriveKeys(secret: Buffer, near: Buffer, far: Buffer): SessionKeys {
  const enc = hmac(secret, hmac(far, near));
  const dec = hmac(secret, hmac(near, far));
  return {
    encryptKey: enc.subarray(0, 16),
    decryptKey: dec.subarray(0, 16),
    txHmacKey: hmac(secret, enc),
    rxHmacKey: hmac(secret, dec),
    nearNonce: hmac(secret, near),
    farNonce: hmac(secret, far),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Certificates, endpoint discriminators, keying components

export function parseOptions(b: Buffer, what: string): RtmfpOption[] {
  return readOptions(new Cursor(b), what, false);
}

export function findOption(opts: RtmfpOption[], type: number): Buffer | null {
  for (const o of opts) if (o.type === type) return o.value;
  return null;
}

/** An option whose value is a group id VLU and then bytes (DH public keys, group select). */
export function groupOptions(opts: RtmfpOption[], type: number): Array<{ group: number; key: Buffer }> {
  const out: Array<{ group: number; key: Buffer }> = [];
  for (const o of opts) {
    if (o.type !== type) continue;
    const c = new Cursor(o.value);
    const group = c.vlu('DH group');
    out.push({ group, key: c.rest() });
  }
  return out;
}

export interface ParsedEpd {
  fingerprint: Buffer | null;
  ancillary: Buffer | null;
  hostname: Buffer | null;
}

export function parseEpd(epd: Buffer): ParsedEpd {
  const opts = parseOptions(epd, 'endpoint discriminator');
  const out = {
    fingerprint: findOption(opts, EPD_FINGERPRINT),
    ancillary: findOption(opts, EPD_ANCILLARY_DATA),
    hostname: findOption(opts, EPD_REQUIRED_HOSTNAME),
  };
  if (!out.fingerprint && !out.ancillary && !out.hostname) {
    throw new RtmfpError('ERR_RTMFP_BAD_EPD', 'endpoint discriminator with neither fingerprint, ancillary data nor hostname');
  }
  return out;
}

/** EPD for a server URL (Flash Player: ancillary data = the rtmfp:// URL) or for a peer's id. */
export function epdForUrl(url: string): Buffer {
  return option(EPD_ANCILLARY_DATA, Buffer.from(url, 'utf8'));
}

export function epdForPeer(fingerprint: Buffer): Buffer {
  return option(EPD_FINGERPRINT, fingerprint);
}

function option(type: number, value: Buffer): Buffer {
  return writeOption(new Writer(value.length + 8), type, value).finish();
}

export interface ParsedCert {
  raw: Buffer;
  /** SHA-256 of the canonical part (the options before the first marker): the peer id (4.3.1). */
  fingerprint: Buffer;
  acceptsAncillary: boolean;
  /** Static DH public keys by group (a Flash client's certificate), or supported groups (ephemeral). */
  staticKeys: Map<number, Buffer>;
  groups: number[];
}

export function parseCertificate(raw: Buffer): ParsedCert {
  const c = new Cursor(raw);
  let canonicalEnd = raw.length;
  const canonical: RtmfpOption[] = [];
  while (!c.atEnd()) {
    const start = c.pos;
    const len = c.vlu('certificate option length');
    if (len === 0) {
      canonicalEnd = start;
      break;
    }
    c.need(len, 'certificate option');
    const inner = new Cursor(raw, c.pos, c.pos + len);
    c.pos += len;
    canonical.push({ type: inner.vlu('certificate option type'), value: inner.rest() });
  }
  const staticKeys = new Map<number, Buffer>();
  for (const g of groupOptions(canonical, CERT_STATIC_DH_PUBLIC_KEY)) staticKeys.set(g.group, g.key);
  const groups: number[] = [];
  for (const o of canonical) {
    if (o.type === CERT_SUPPORTED_DH_GROUP) groups.push(new Cursor(o.value).vlu('DH group'));
  }
  for (const g of staticKeys.keys()) if (!groups.includes(g)) groups.push(g);
  if (groups.length === 0) throw new RtmfpError('ERR_RTMFP_BAD_CERT', 'certificate offers no Diffie-Hellman group');
  return {
    raw,
    fingerprint: sha256(raw.subarray(0, canonicalEnd)),
    acceptsAncillary: canonical.some((o) => o.type === CERT_ACCEPTS_ANCILLARY_DATA),
    staticKeys,
    groups,
  };
}

/**
 * A responder's certificate in the layout Flash-era servers (FMS, MonaServer) send and librtmfp reads:
 * accepts ancillary data, 64 bytes of extra randomness, then the supported groups (RFC 7425 4.3.2).
 */
export function serverCertificate(groups: readonly number[] = SUPPORTED_DH_GROUPS): Buffer {
  const w = new Writer(96);
  writeOption(w, CERT_ACCEPTS_ANCILLARY_DATA, Buffer.alloc(0));
  writeOption(w, CERT_EXTRA_RANDOMNESS, randomBytes(64));
  for (const g of groups) writeOption(w, CERT_SUPPORTED_DH_GROUP, new Writer(2).vlu(g).finish());
  return w.finish();
}

/** A client's certificate as Flash Player's: one static DH public key (group VLU + key). */
export function clientCertificate(key: DhKey): Buffer {
  const v = new Writer(key.publicKey.length + 4).vlu(key.group).bytes(key.publicKey).finish();
  return option(CERT_STATIC_DH_PUBLIC_KEY, v);
}

export interface Negotiation {
  /** We insist the peer sends HMACs / sequence numbers (Flash-era peers cannot: off by default). */
  requireHmac: boolean;
  requireSequence: boolean;
  /** The HMAC length we announce and send (4..32). */
  hmacLength: number;
}

/** What librtmfp offers as an initiator and what ssas offers: send on request, require nothing, HMAC length 10. */
export const FLASH_NEGOTIATION: Negotiation = { requireHmac: false, requireSequence: false, hmacLength: 10 };

function negotiationValue(flags: number, hmacLength?: number): Buffer {
  const w = new Writer(4).u8(flags);
  if (hmacLength !== undefined) w.vlu(hmacLength);
  return w.finish();
}

function negotiationFlags(far: RtmfpOption[], type: number): { flags: number; hmacLength: number } {
  const v = findOption(far, type);
  if (!v || v.length === 0) return { flags: 0, hmacLength: 0 };
  return { flags: v[0]!, hmacLength: type === KEYING_HMAC_NEGOTIATION && v.length > 1 ? new Cursor(v, 1).vlu('HMAC length') : 0 };
}

/**
 * The initiator's negotiation options (RFC 7425 4.6.5), in librtmfp's bytes when nothing is required:
 * HMAC `03 1a 02 0a` (send on request, length 10), sequence numbers `02 1e 02`.
 */
export function writeInitiatorNegotiation(w: Writer, neg: Negotiation): void {
  writeOption(w, KEYING_HMAC_NEGOTIATION, negotiationValue(NEGOTIATE_SEND_ON_REQUEST | (neg.requireHmac ? NEGOTIATE_REQUEST : 0), neg.hmacLength));
  writeOption(w, KEYING_SSEQ_NEGOTIATION, negotiationValue(NEGOTIATE_SEND_ON_REQUEST | (neg.requireSequence ? NEGOTIATE_REQUEST : 0)));
}

/**
 * The initiator's side of the negotiation once the responder answered: we send always what it requests,
 * we verify what it says it always sends, and what we require it must offer (else ERR_RTMFP_NEGOTIATION).
 */
export function initiatorMode(far: RtmfpOption[], neg: Negotiation): IntegrityMode {
  const h = negotiationFlags(far, KEYING_HMAC_NEGOTIATION);
  const s = negotiationFlags(far, KEYING_SSEQ_NEGOTIATION);
  const offers = (f: number): boolean => (f & (NEGOTIATE_SEND_ALWAYS | NEGOTIATE_SEND_ON_REQUEST)) !== 0;
  if (neg.requireHmac && !offers(h.flags)) throw new RtmfpError('ERR_RTMFP_NEGOTIATION', 'the responder does not offer the HMAC we require');
  if (neg.requireSequence && !offers(s.flags)) throw new RtmfpError('ERR_RTMFP_NEGOTIATION', 'the responder does not offer the sequence numbers we require');
  const rxHmac = neg.requireHmac || (h.flags & NEGOTIATE_SEND_ALWAYS) !== 0;
  if (rxHmac && (h.hmacLength < MIN_HMAC_LENGTH || h.hmacLength > MAX_HMAC_LENGTH)) {
    throw new RtmfpError('ERR_RTMFP_NEGOTIATION', `HMAC length ${h.hmacLength} out of range`);
  }
  return {
    txHmacLength: (h.flags & NEGOTIATE_REQUEST) !== 0 ? neg.hmacLength : 0,
    rxHmacLength: rxHmac ? h.hmacLength : 0,
    txSequence: (s.flags & NEGOTIATE_REQUEST) !== 0,
    rxSequence: neg.requireSequence || (s.flags & NEGOTIATE_SEND_ALWAYS) !== 0,
  };
}

/**
 * The responder's answer (notes 4.6): an initiator that always sends or requests HMAC (or sequence
 * numbers), as rtmfp-cpp's tools do by default, gets `07` (send always, on request, require) and the
 * feature both ways; any other (Flash Player, librtmfp `02`, no option) gets `00`, the checksum mode and
 * exactly the component bytes librtmfp reads at fixed offsets: `03 1a 00 00 02 1e 00`.
 */
export function responderNegotiation(far: RtmfpOption[], neg: Negotiation): { options: Buffer; mode: IntegrityMode } {
  const h = negotiationFlags(far, KEYING_HMAC_NEGOTIATION);
  const s = negotiationFlags(far, KEYING_SSEQ_NEGOTIATION);
  const wants = (f: number): boolean => (f & (NEGOTIATE_SEND_ALWAYS | NEGOTIATE_REQUEST)) !== 0;
  const offers = (f: number): boolean => (f & (NEGOTIATE_SEND_ALWAYS | NEGOTIATE_SEND_ON_REQUEST)) !== 0;
  const useHmac = wants(h.flags) || neg.requireHmac;
  const useSeq = wants(s.flags) || neg.requireSequence;
  if (useHmac && !offers(h.flags) && !wants(h.flags)) throw new RtmfpError('ERR_RTMFP_NEGOTIATION', 'the initiator does not offer the HMAC we require');
  if (useSeq && !offers(s.flags) && !wants(s.flags)) throw new RtmfpError('ERR_RTMFP_NEGOTIATION', 'the initiator does not offer the sequence numbers we require');
  if (useHmac && (h.hmacLength < MIN_HMAC_LENGTH || h.hmacLength > MAX_HMAC_LENGTH)) {
    throw new RtmfpError('ERR_RTMFP_NEGOTIATION', `HMAC length ${h.hmacLength} out of range`);
  }
  const all = NEGOTIATE_SEND_ALWAYS | NEGOTIATE_SEND_ON_REQUEST | NEGOTIATE_REQUEST;
  const w = new Writer(8);
  writeOption(w, KEYING_HMAC_NEGOTIATION, negotiationValue(useHmac ? all : 0, useHmac ? DEFAULT_HMAC_LENGTH : 0));
  writeOption(w, KEYING_SSEQ_NEGOTIATION, negotiationValue(useSeq ? all : 0));
  return {
    options: w.finish(),
    mode: {
      txHmacLength: useHmac ? DEFAULT_HMAC_LENGTH : 0,
      rxHmacLength: useHmac ? h.hmacLength : 0,
      txSequence: useSeq,
      rxSequence: useSeq,
    },
  };
}

export function cipherFor(keys: SessionKeys, mode: IntegrityMode): AesPacketCipher {
  return new AesPacketCipher(keys.encryptKey, keys.decryptKey, mode, mode.txHmacLength ? keys.txHmacKey : null, mode.rxHmacLength ? keys.rxHmacKey : null);
}
