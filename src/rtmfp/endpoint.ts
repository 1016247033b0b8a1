/**
 * An RTMFP endpoint (RFC 7016 section 3.5.1): one UDP port's worth of sessions, without the socket.
 * Datagrams and the time go in (`receive`, `runTimers`, `flush`), datagrams come out through
 * `transmit`. It runs both handshake roles:
 *
 * - Responder (3.5.1.2): an IHello whose endpoint discriminator selects us is answered with an RHello
 *   carrying a stateless cookie (handshake.ts) and our certificate; nothing is kept per address until an
 *   IIKeying echoes a valid cookie. Then the keys are derived (crypto.ts), a session is created and the
 *   RIKeying is sent (kept, to answer retransmitted IIKeyings identically).
 * - Initiator (3.5.1.1): IHello with backoff, RHello (64 bytes or any cookie length), IIKeying with
 *   backoff, cookie change, Redirect to other addresses, RIKeying.
 * - Introductions (3.5.1.4/3.5.1.5): an IHello for a fingerprint that is not ours is offered to
 *   `onIntroduction`, which may answer with addresses for a Redirect and forward the IHello to the peer.
 *
 * What goes back to an address that has not proven it receives our packets (the RHello) is rate-limited
 * server-wide; its size is the smallest the Flash profile allows (see README "RTMFP").
 */
import { randomBytes } from 'node:crypto';
import { RtmfpError, isSsasError } from '../errors';
import { getLogger } from '../logger';
import {
  Chunk,
  MAX_DATAGRAM,
  MAX_STARTUP_PACKET,
  MODE_STARTUP,
  PacketBuilder,
  parsePacket,
  timestampAt,
  unscrambleSessionId,
  type ChunkView,
} from './packet';
import {
  CookieJar,
  COOKIE_LENGTH,
  NO_SIGNATURE,
  decodeCookieChange,
  decodeForwardedIHello,
  decodeIHello,
  decodeIIKeying,
  decodeRHello,
  decodeRIKeying,
  decodeRedirect,
  encodeCookieChange,
  encodeForwardedIHello,
  encodeIHello,
  encodeIIKeying,
  encodeRHello,
  encodeRIKeying,
  encodeRedirect,
  ORIGIN_REMOTE,
  type RtmfpAddress,
} from './handshake';
import {
  CERT_STATIC_DH_PUBLIC_KEY,
  DhKey,
  FLASH_NEGOTIATION,
  KEYING_DH_GROUP_SELECT,
  KEYING_DH_PUBLIC_KEY,
  KEYING_EXTRA_RANDOMNESS,
  SUPPORTED_DH_GROUPS,
  cipherFor,
  clientCertificate,
  deriveKeys,
  groupOptions,
  isSupportedGroup,
  initiatorMode,
  responderNegotiation,
  parseCertificate,
  parseEpd,
  parseOptions,
  serverCertificate,
  startupCipher,
  writeInitiatorNegotiation,
  type DhGroupId,
  type Negotiation,
  type ParsedCert,
  type ParsedEpd,
} from './crypto';
import { Session, addressKey, defaultSessionLimits, type PeerAddress, type SessionHost, type SessionLimits } from './session';
import { Writer, writeOption } from './wire';

const log = getLogger('rtmfp');

export interface EndpointLimits {
  /** Open sessions at once (new IIKeyings beyond are ignored). */
  maxSessions: number;
  /** Sessions created by an IIKeying whose peer has not yet sent a packet under the new keys. */
  maxHalfOpen: number;
  /** ms a half-open session may wait for its first packet. */
  halfOpenMs: number;
  /** RHellos (and redirects) per second to addresses not yet verified, server-wide. */
  rhelloPerSecond: number;
  /** Initiator: ms before an opening session gives up. */
  connectTimeoutMs: number;
}

export const defaultEndpointLimits: EndpointLimits = {
  maxSessions: 10_000,
  maxHalfOpen: 1000,
  halfOpenMs: 15_000,
  rhelloPerSecond: 5000,
  connectTimeoutMs: 10_000,
};

export interface EndpointOptions {
  transmit(datagram: Buffer, to: PeerAddress): void;
  /** There is something to send: call flush() soon (after the current input). */
  onWork(): void;
  /** Answer IHellos that carry a URL (ancillary data): a server. */
  acceptsUrls: boolean;
  /**
   * Answer IHellos (and forwarded IHellos) for our own peer id, as a Flash peer does: peer-to-peer
   * sessions (NetGroup members), keyed with our static DH key as librtmfp expects.
   */
  acceptsPeers?: boolean;
  /** A responder session opened: attach the application before its first packet is read. */
  onSession?(session: Session): void;
  /**
   * An IHello for another peer's fingerprint: the addresses to redirect the initiator to (after
   * forwarding the IHello to that peer), or null when we do not know it.
   */
  onIntroduction?(fingerprint: Buffer, tag: Buffer, from: PeerAddress): RtmfpAddress[] | null;
  /** A forwarded IHello arrived through one of our sessions (we are the target of an introduction). */
  onForwardedIHello?(epd: Buffer, tag: Buffer, reply: PeerAddress, via: Session): void;
  negotiation?: Negotiation;
  /** DH groups our responder certificate offers (default 2, 5, 14). */
  dhGroups?: number[];
  limits?: Partial<EndpointLimits>;
  sessionLimits?: Partial<SessionLimits>;
  now: number;
}

/** Counters for tests, logs and the hostile-traffic checks. */
export interface EndpointStats {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes sent to addresses that had not verified themselves (RHellos, redirects, cookie changes). */
  unverifiedBytesOut: number;
  /** Bytes received from addresses that had not verified themselves. */
  unverifiedBytesIn: number;
  dropped: Record<string, number>;
  handshakes: number;
}

interface Opening {
  tag: Buffer;
  tagKey: string;
  epd: Buffer;
  isid: number;
  targets: PeerAddress[];
  state: 'ihello' | 'keying';
  nextAt: number;
  interval: number;
  deadline: number;
  cookie: Buffer | null;
  responder: PeerAddress | null;
  iikeying: Buffer | null;
  skic: Buffer | null;
  key: DhKey | null;
  cert: ParsedCert | null;
  resolve: (s: Session) => void;
  reject: (e: RtmfpError) => void;
}

interface Keyed {
  session: Session;
  rikeying: Buffer;
  cookie: Buffer;
}

const TAG_LENGTH = 16;
const IHELLO_RTX_MS = 1000;
const RTX_BACKOFF = 1.5;

export class Endpoint implements SessionHost {
  readonly #opts: EndpointOptions;
  readonly limits: EndpointLimits;
  readonly sessionLimits: SessionLimits;
  readonly #negotiation: Negotiation;
  readonly #cookies: CookieJar;
  readonly #certificate: Buffer;
  readonly fingerprint: Buffer;
  /** The static DH keys of our client certificate, by group (Flash Player's: group 2). */
  readonly #staticKeys = new Map<DhGroupId, DhKey>();
  readonly sessions = new Map<number, Session>();
  readonly #openings = new Map<string, Opening>();
  readonly #openingBySid = new Map<number, Opening>();
  /** Responder sessions by (address, initiator id): retransmitted IIKeyings get the same RIKeying. */
  readonly #keyed = new Map<string, Keyed>();
  #halfOpen = new Map<Session, number>();
  readonly #dirty = new Set<Session>();
  readonly #timers = new TimerHeap();
  #rhelloTokens: number;
  #rhelloRefill: number;
  readonly #startup = new PacketBuilder(MAX_STARTUP_PACKET);
  readonly stats: EndpointStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    unverifiedBytesOut: 0,
    unverifiedBytesIn: 0,
    dropped: {},
    handshakes: 0,
  };
  #closed = false;
  /** The time of the input being handled (every entry point sets it). */
  #now: number;

  constructor(opts: EndpointOptions) {
    this.#now = opts.now;
    this.#opts = opts;
    this.limits = { ...defaultEndpointLimits, ...(opts.limits ?? {}) };
    this.sessionLimits = { ...defaultSessionLimits, ...(opts.sessionLimits ?? {}) };
    this.#negotiation = opts.negotiation ?? FLASH_NEGOTIATION;
    this.#certificate = serverCertificate(opts.dhGroups ?? SUPPORTED_DH_GROUPS);
    this.#cookies = new CookieJar(opts.now);
    this.fingerprint = parseCertificate(this.#certificate).fingerprint;
    this.#rhelloTokens = this.limits.rhelloPerSecond;
    this.#rhelloRefill = opts.now;
  }

  get certificate(): Buffer {
    return this.#certificate;
  }

  #drop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Input

  receive(datagram: Buffer, from: PeerAddress, now: number): void {
    if (this.#closed) return;
    this.#now = now;
    this.stats.datagramsIn++;
    this.stats.bytesIn += datagram.length;
    if (datagram.length < 20 || datagram.length > MAX_DATAGRAM) {
      this.#drop('size');
      return;
    }
    const sid = unscrambleSessionId(datagram);
    if (sid === 0) {
      this.stats.unverifiedBytesIn += datagram.length;
      this.#onStartup(datagram, from, now, null);
      return;
    }
    const session = this.sessions.get(sid);
    if (session) {
      const parsed = this.#open(session.cipherOpen(datagram));
      if (!parsed) return;
      if (this.#halfOpen.delete(session)) log.debug(`session ${sid} from ${addressKey(from)} confirmed`);
      session.receive(parsed.header, parsed.chunks, from, datagram.length, now);
      return;
    }
    const opening = this.#openingBySid.get(sid);
    if (opening) {
      this.#onStartup(datagram, from, now, opening);
      return;
    }
    this.#drop('unknown-session');
  }

  /** The packet inside decrypted bytes (null counted as a drop when they did not decrypt or parse). */
  #open(plain: Buffer | null): ReturnType<typeof parsePacket> | null {
    if (!plain) {
      this.#drop('decrypt');
      return null;
    }
    try {
      return parsePacket(plain);
    } catch {
      this.#drop('packet');
      return null;
    }
  }

  #onStartup(datagram: Buffer, from: PeerAddress, now: number, opening: Opening | null): void {
    const parsed = this.#open(startupCipher.open(datagram));
    if (!parsed) return;
    if (parsed.header.mode !== MODE_STARTUP) {
      this.#drop('mode');
      return;
    }
    for (const ch of parsed.chunks) {
      try {
        this.#onStartupChunk(ch, from, now, opening, datagram.length);
      } catch (err) {
        if (!isSsasError(err)) throw err;
        this.#drop(err.code);
        log.debug(`startup chunk 0x${ch.type.toString(16)} from ${addressKey(from)}: ${err.code}: ${err.message}`);
      }
    }
  }

  #onStartupChunk(ch: ChunkView, from: PeerAddress, now: number, opening: Opening | null, size: number): void {
    switch (ch.type) {
      case Chunk.IHello:
        if (opening) return;
        this.#onIHello(ch.body, from, now, size);
        return;
      case Chunk.IIKeying:
        if (opening) return;
        this.#onIIKeying(ch.body, from, now);
        return;
      case Chunk.RHello:
        this.#onRHello(ch.body, from, now);
        return;
      case Chunk.Redirect:
        this.#onRedirect(ch.body, now);
        return;
      case Chunk.RHelloCookieChange:
        if (opening) this.#onCookieChange(opening, ch.body, now);
        return;
      case Chunk.RIKeying:
        if (opening) this.#onRIKeying(opening, ch.body, from, now);
        return;
      default:
        this.#drop('startup-chunk');
    }
  }

  // ----- responder ----------------------------------------------------------------------------------------

  #takeRhelloToken(now: number): boolean {
    const elapsed = now - this.#rhelloRefill;
    if (elapsed > 0) {
      this.#rhelloTokens = Math.min(this.limits.rhelloPerSecond, this.#rhelloTokens + (elapsed * this.limits.rhelloPerSecond) / 1000);
      this.#rhelloRefill = now;
    }
    if (this.#rhelloTokens < 1) return false;
    this.#rhelloTokens--;
    return true;
  }

  #onIHello(body: Buffer, from: PeerAddress, now: number, size: number): void {
    const ih = decodeIHello(body);
    if (ih.tag.length === 0 || ih.tag.length > 64) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', `IHello tag of ${ih.tag.length} bytes`);
    const epd = parseEpd(ih.epd);
    if (!this.#selects(epd)) {
      if (epd.fingerprint && this.#opts.onIntroduction) {
        const addrs = this.#opts.onIntroduction(epd.fingerprint, ih.tag, from);
        if (addrs && addrs.length > 0 && this.#takeRhelloToken(now)) {
          this.#sendStartup(0, [[Chunk.Redirect, encodeRedirect({ tag: ih.tag, addresses: addrs })]], from, true);
        }
        return;
      }
      this.#drop('not-selected');
      return;
    }
    if (!this.#takeRhelloToken(now)) {
      this.#drop('rhello-rate');
      return;
    }
    void size;
    this.#sendRHello(ih.tag, from, now, this.#selectsAsPeer(epd));
  }

  /**
   * The RHello: as a server our certificate of supported groups; as a peer (someone asked for our peer
   * id) our client certificate with its static key, the only form librtmfp's peers accept. The cookie
   * says which, so the IIKeying is answered the same way without keeping anything.
   */
  #sendRHello(tag: Buffer, to: PeerAddress, now: number, asPeer: boolean): void {
    const cookie = this.#cookies.make(cookieSubject(to, asPeer), now);
    const certificate = asPeer ? clientCertificate(this.#staticKey(2)) : this.#certificate;
    this.#sendStartup(0, [[Chunk.RHello, encodeRHello({ tag, cookie, certificate })]], to, true);
  }

  #selects(epd: ParsedEpd): boolean {
    if (epd.fingerprint) return epd.fingerprint.equals(this.fingerprint) || this.#selectsAsPeer(epd);
    if (epd.ancillary) return this.#opts.acceptsUrls;
    return false;
  }

  #selectsAsPeer(epd: ParsedEpd): boolean {
    return this.#opts.acceptsPeers === true && epd.fingerprint !== null && epd.fingerprint.equals(this.peerId);
  }

  #onIIKeying(body: Buffer, from: PeerAddress, now: number): void {
    const ik = decodeIIKeying(body);
    const key = `${addressKey(from)}/${ik.initiatorSessionId}`;
    const known = this.#keyed.get(key);
    if (known && known.cookie.equals(ik.cookie) && known.session.state === 'open') {
      // A retransmission: the same answer again (RFC 7016 3.5.1.2.3).
      this.#transmit(known.rikeying, from, false);
      return;
    }
    let asPeer = false;
    let check = this.#cookies.check(ik.cookie, cookieSubject(from, false), now);
    if (check === 'bad' && this.#opts.acceptsPeers) {
      check = this.#cookies.check(ik.cookie, cookieSubject(from, true), now);
      asPeer = check !== 'bad';
    }
    if (check === 'bad') {
      this.#drop('cookie');
      return;
    }
    if (check === 'expired') {
      const fresh = this.#cookies.make(cookieSubject(from, asPeer), now);
      this.#sendStartup(ik.initiatorSessionId, [[Chunk.RHelloCookieChange, encodeCookieChange({ oldCookie: ik.cookie, newCookie: fresh })]], from, true);
      return;
    }
    if (this.sessions.size >= this.limits.maxSessions) {
      this.#drop('max-sessions');
      return;
    }
    if (this.#halfOpen.size >= this.limits.maxHalfOpen) {
      this.#drop('max-half-open');
      return;
    }
    const cert = parseCertificate(ik.certificate);
    const skicOptions = parseOptions(ik.skic, 'session key initiator component');
    const { options: negotiation, mode } = responderNegotiation(skicOptions, this.#negotiation);
    // The initiator either selects a group of its static key (Flash Player) or sends an ephemeral key.
    let group = -1;
    let peerKey: Buffer | null = null;
    const ephemeral = groupOptions(skicOptions, KEYING_DH_PUBLIC_KEY)[0];
    if (ephemeral) {
      group = ephemeral.group;
      peerKey = ephemeral.key;
    } else {
      const select = groupOptions(skicOptions, KEYING_DH_GROUP_SELECT)[0];
      if (select) {
        group = select.group;
        peerKey = cert.staticKeys.get(group) ?? null;
      }
    }
    if (!isSupportedGroup(group) || !peerKey) {
      throw new RtmfpError('ERR_RTMFP_BAD_KEYING', `no usable Diffie-Hellman key (group ${group})`);
    }
    let secret: Buffer;
    let skrc: Buffer;
    if (asPeer) {
      // A peer answers with its static key (in its certificate) and 64 random bytes: librtmfp wants
      // exactly these 73 bytes (negotiation 03 1a 00 00 02 1e 00, then 41 0e + 64).
      if (group !== 2) throw new RtmfpError('ERR_RTMFP_BAD_KEYING', `a peer-to-peer initiator selected group ${group}; peers key with group 2`);
      secret = this.#staticKey(2).secret(peerKey);
      const w = new Writer(80);
      w.bytes(negotiation);
      writeOption(w, KEYING_EXTRA_RANDOMNESS, randomBytes(64));
      skrc = w.finish();
    } else {
      const dh = new DhKey(group);
      secret = dh.secret(peerKey);
      // Our responder component in the layout MonaServer and FMS use: negotiation options, then the key.
      const w = new Writer(dh.publicKey.length + 32);
      w.bytes(negotiation);
      writeOption(w, KEYING_DH_PUBLIC_KEY, new Writer(dh.publicKey.length + 4).vlu(group).bytes(dh.publicKey).finish());
      skrc = w.finish();
    }
    const keys = deriveKeys(secret, skrc, ik.skic);
    const rxId = this.#newSessionId();
    // A new session from the same peer at the same address replaces the old one (RFC 7425 4.3.7).
    const farId = cert.fingerprint.toString('hex');
    for (const s of this.sessions.values()) {
      if (s.farId === farId && addressKey(s.address) === addressKey(from) && s.role === 'responder') s.abort(new RtmfpError('ERR_RTMFP_REPLACED', 'replaced by a new session from the same peer'));
    }
    const session = new Session(this, {
      role: 'responder',
      rxId,
      txId: ik.initiatorSessionId,
      address: from,
      cipher: cipherFor(keys, mode),
      limits: this.sessionLimits,
      now,
      farId,
      nearNonce: keys.nearNonce,
      farNonce: keys.farNonce,
      epd: Buffer.alloc(0),
    });
    this.sessions.set(rxId, session);
    this.#halfOpen.set(session, now);
    this.#timers.push(now + this.limits.halfOpenMs, () => this.#expireHalfOpen(session));
    const rikeying = this.#startupDatagram(ik.initiatorSessionId, [[Chunk.RIKeying, encodeRIKeying({ responderSessionId: rxId, skrc, signature: NO_SIGNATURE })]]);
    this.#keyed.set(key, { session, rikeying, cookie: Buffer.from(ik.cookie) });
    this.stats.handshakes++;
    this.#transmit(rikeying, from, false);
    this.onSession(session);
  }

  /** A responder session opened: attach the application before its first packet is read. */
  onSession: (session: Session) => void = (s) => this.#opts.onSession?.(s);

  #expireHalfOpen(session: Session): void {
    if (!this.#halfOpen.has(session)) return;
    this.#halfOpen.delete(session);
    session.abort(new RtmfpError('ERR_RTMFP_HALF_OPEN', 'the initiator never used the session'));
  }

  #newSessionId(): number {
    for (;;) {
      const id = randomBytes(4).readUInt32BE(0);
      if (id !== 0 && !this.sessions.has(id) && !this.#openingBySid.has(id)) return id;
    }
  }

  // ----- initiator ----------------------------------------------------------------------------------------

  /**
   * Opens a session to whoever `epd` selects at `targets` (for a server: the URL as ancillary data).
   * Rejects with ERR_RTMFP_CONNECT_TIMEOUT when nobody answers in time.
   */
  connect(epd: Buffer, targets: PeerAddress[], now: number): Promise<Session> {
    this.#now = now;
    return new Promise((resolve, reject) => {
      const tag = randomBytes(TAG_LENGTH);
      const o: Opening = {
        tag,
        tagKey: tag.toString('hex'),
        epd,
        isid: this.#newSessionId(),
        targets: targets.slice(),
        state: 'ihello',
        nextAt: now,
        interval: IHELLO_RTX_MS,
        deadline: now + this.limits.connectTimeoutMs,
        cookie: null,
        responder: null,
        iikeying: null,
        skic: null,
        key: null,
        cert: null,
        resolve,
        reject,
      };
      this.#openings.set(o.tagKey, o);
      this.#openingBySid.set(o.isid, o);
      this.#openingTick(o, now);
    });
  }

  #openingTick(o: Opening, now: number): void {
    if (!this.#openings.has(o.tagKey)) return;
    if (now >= o.deadline) {
      this.#endOpening(o);
      o.reject(new RtmfpError('ERR_RTMFP_CONNECT_TIMEOUT', `no answer from ${o.targets.map(addressKey).join(', ')} within ${this.limits.connectTimeoutMs} ms`));
      return;
    }
    if (now >= o.nextAt) {
      if (o.state === 'ihello') {
        const ih = encodeIHello({ epd: o.epd, tag: o.tag });
        for (const t of o.targets.slice(0, 8)) this.#sendStartup(0, [[Chunk.IHello, ih]], t, false);
      } else if (o.iikeying && o.responder) {
        this.#sendStartup(0, [[Chunk.IIKeying, o.iikeying]], o.responder, false);
      }
      o.nextAt = now + o.interval;
      o.interval = Math.min(o.interval * RTX_BACKOFF, 5000);
    }
    this.#timers.push(Math.min(o.nextAt, o.deadline), (t) => this.#openingTick(o, t));
  }

  #endOpening(o: Opening): void {
    this.#openings.delete(o.tagKey);
    this.#openingBySid.delete(o.isid);
  }

  #onRHello(body: Buffer, from: PeerAddress, now: number): void {
    const rh = decodeRHello(body);
    const o = this.#openings.get(rh.tag.toString('hex'));
    if (!o || o.state !== 'ihello') {
      this.#drop('rhello-unmatched');
      return;
    }
    if (rh.cookie.length === 0 || rh.cookie.length > 256) throw new RtmfpError('ERR_RTMFP_BAD_CHUNK', `cookie of ${rh.cookie.length} bytes`);
    const cert = parseCertificate(rh.certificate);
    const wanted = this.#wantedFingerprint(o);
    if (wanted && !wanted.equals(cert.fingerprint)) {
      // Someone answered for a peer id that is not theirs (librtmfp does not check; we do).
      throw new RtmfpError('ERR_RTMFP_WRONG_PEER', 'the certificate in the RHello is not the peer asked for');
    }
    // Flash Player's group first (every Flash-era responder reads it at fixed offsets), then the stronger.
    const group = ([2, 14, 5] as const).find((g) => cert.groups.includes(g));
    if (group === undefined) throw new RtmfpError('ERR_RTMFP_NEGOTIATION', `the responder offers no group we have (${cert.groups.join(', ')})`);
    const key = this.#staticKey(group);
    const w = new Writer(96);
    writeOption(w, KEYING_DH_GROUP_SELECT, new Writer(2).vlu(group).finish());
    writeOption(w, KEYING_EXTRA_RANDOMNESS, randomBytes(64));
    writeInitiatorNegotiation(w, this.#negotiation);
    const skic = w.finish();
    o.state = 'keying';
    o.cookie = Buffer.from(rh.cookie);
    o.responder = from;
    o.cert = cert;
    o.key = key;
    o.skic = skic;
    o.iikeying = encodeIIKeying({ initiatorSessionId: o.isid, cookie: o.cookie, certificate: clientCertificate(key), skic, signature: NO_SIGNATURE });
    o.nextAt = now;
    o.interval = IHELLO_RTX_MS;
    this.#openingTick(o, now);
  }

  /** The peer id an opening asked for (its EPD's fingerprint), or null for a URL. */
  #wantedFingerprint(o: Opening): Buffer | null {
    try {
      return parseEpd(o.epd).fingerprint;
    } catch {
      return null;
    }
  }

  #staticKey(group: DhGroupId): DhKey {
    let k = this.#staticKeys.get(group);
    if (!k) {
      k = new DhKey(group);
      this.#staticKeys.set(group, k);
    }
    return k;
  }

  /** Our peer id (fingerprint of our client certificate with the group-2 key, as Flash Player's). */
  get peerId(): Buffer {
    return parseCertificate(clientCertificate(this.#staticKey(2))).fingerprint;
  }

  #onRedirect(body: Buffer, now: number): void {
    const r = decodeRedirect(body);
    const o = this.#openings.get(r.tag.toString('hex'));
    if (!o || o.state !== 'ihello') return;
    let added = false;
    for (const a of r.addresses) {
      if (o.targets.length >= 24) break;
      const pa: PeerAddress = { address: a.address, port: a.port, family: a.family };
      if (!o.targets.some((t) => addressKey(t) === addressKey(pa))) {
        o.targets.push(pa);
        added = true;
      }
    }
    if (added) {
      o.nextAt = now;
      this.#openingTick(o, now);
    }
  }

  #onCookieChange(o: Opening, body: Buffer, now: number): void {
    const cc = decodeCookieChange(body);
    if (o.state !== 'keying' || !o.cookie || !cc.oldCookie.equals(o.cookie)) return;
    o.cookie = Buffer.from(cc.newCookie);
    o.iikeying = encodeIIKeying({ initiatorSessionId: o.isid, cookie: o.cookie, certificate: clientCertificate(o.key!), skic: o.skic!, signature: NO_SIGNATURE });
    o.nextAt = now;
    this.#openingTick(o, now);
  }

  #onRIKeying(o: Opening, body: Buffer, from: PeerAddress, now: number): void {
    if (o.state !== 'keying' || !o.key || !o.skic || !o.cert) return;
    const rk = decodeRIKeying(body);
    if (rk.responderSessionId === 0) throw new RtmfpError('ERR_RTMFP_BAD_KEYING', 'responder session id 0');
    const skrcOptions = parseOptions(rk.skrc, 'session key responder component');
    const mode = initiatorMode(skrcOptions, this.#negotiation);
    let peerKey = groupOptions(skrcOptions, KEYING_DH_PUBLIC_KEY).find((k) => k.group === o.key!.group)?.key;
    // A responder with a static key in its certificate sends none in its component.
    peerKey ??= o.cert.staticKeys.get(o.key.group);
    if (!peerKey) throw new RtmfpError('ERR_RTMFP_BAD_KEYING', 'RIKeying without the responder public key');
    const secret = o.key.secret(peerKey);
    const keys = deriveKeys(secret, o.skic, rk.skrc);
    this.#endOpening(o);
    const session = new Session(this, {
      role: 'initiator',
      rxId: o.isid,
      txId: rk.responderSessionId,
      address: from,
      cipher: cipherFor(keys, mode),
      limits: this.sessionLimits,
      now,
      farId: o.cert.fingerprint.toString('hex'),
      nearNonce: keys.nearNonce,
      farNonce: keys.farNonce,
      epd: o.epd,
    });
    this.sessions.set(o.isid, session);
    this.stats.handshakes++;
    o.resolve(session);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Introductions

  /** Asks `via` (the target's session with us) to answer an initiator at `reply` (forwarded IHello). */
  forwardIHello(via: Session, epd: Buffer, tag: Buffer, reply: RtmfpAddress): void {
    via.sendRawChunk(Chunk.ForwardedIHello, encodeForwardedIHello({ epd, tag, replyAddress: reply }));
  }

  /** A forwarded IHello arrived in one of our sessions. */
  otherChunk(session: Session, ch: ChunkView): void {
    if (ch.type !== Chunk.ForwardedIHello) return;
    const f = decodeForwardedIHello(ch.body);
    const reply: PeerAddress = { address: f.replyAddress.address, port: f.replyAddress.port, family: f.replyAddress.family };
    if (this.#opts.onForwardedIHello) {
      this.#opts.onForwardedIHello(f.epd, f.tag, reply, session);
      return;
    }
    // By default answer as if the IHello had come directly (RFC 7016 3.5.1.5), within the same limit on
    // RHellos to unverified addresses (a peer could otherwise bounce RHellos at a third party).
    const epd = parseEpd(f.epd);
    if (!this.#selects(epd)) return;
    if (!this.#takeRhelloToken(this.#now)) {
      this.#drop('rhello-rate');
      return;
    }
    this.#sendRHello(f.tag, reply, this.#now, this.#selectsAsPeer(epd));
  }

  // ---------------------------------------------------------------------------------------------------------
  // Output

  #startupDatagram(sessionId: number, chunks: Array<[number, Buffer]>): Buffer {
    const b = this.#startup;
    b.reset();
    b.start(MODE_STARTUP, timestampAt(this.#now), -1);
    for (const [type, body] of chunks) {
      if (!b.chunk(type, body)) throw new RtmfpError('ERR_RTMFP_TOO_LARGE', `startup chunk 0x${type.toString(16)} does not fit a packet`);
    }
    return startupCipher.seal(b.bytes(), sessionId);
  }

  #sendStartup(sessionId: number, chunks: Array<[number, Buffer]>, to: PeerAddress, unverified: boolean): void {
    this.#transmit(this.#startupDatagram(sessionId, chunks), to, unverified);
  }

  #transmit(d: Buffer, to: PeerAddress, unverified: boolean): void {
    this.stats.datagramsOut++;
    this.stats.bytesOut += d.length;
    if (unverified) this.stats.unverifiedBytesOut += d.length;
    this.#opts.transmit(d, to);
  }

  // SessionHost
  transmit(datagram: Buffer, to: PeerAddress): void {
    this.#transmit(datagram, to, false);
  }

  /**
   * Only an earlier wake-up is pushed: a session whose deadline moved later is woken at the old time and
   * reschedules itself (as rtmfp-cpp does), so the heap holds about one entry per session.
   */
  schedule(session: Session, at: number): void {
    if (at === Infinity || at >= session.timerAt) return;
    session.timerAt = at;
    this.#timers.push(at, (now) => {
      if (session.timerAt !== at) return;
      session.timerAt = Infinity;
      session.timer(now);
    });
  }

  wantFlush(session: Session): void {
    if (this.#dirty.size === 0) this.#opts.onWork();
    this.#dirty.add(session);
  }

  released(session: Session): void {
    if (this.sessions.get(session.rxId) === session) this.sessions.delete(session.rxId);
    this.#halfOpen.delete(session);
    this.#dirty.delete(session);
    for (const [k, v] of this.#keyed) if (v.session === session) this.#keyed.delete(k);
  }

  /** Sends what sessions have queued. */
  flush(now: number): void {
    this.#now = now;
    if (this.#dirty.size === 0) return;
    const list = Array.from(this.#dirty);
    this.#dirty.clear();
    for (const s of list) s.flush(now);
  }

  /** The earliest time runTimers() has work, or Infinity. */
  nextTimer(): number {
    return this.#timers.peek();
  }

  runTimers(now: number): void {
    this.#now = now;
    this.#timers.run(now);
    this.flush(now);
  }

  /** Closes every session (orderly unless `hard`) and stops answering. */
  close(now: number, hard = false): void {
    for (const s of Array.from(this.sessions.values())) {
      if (hard) s.abort();
      else s.close(now);
    }
    this.flush(now);
    for (const o of Array.from(this.#openings.values())) {
      this.#endOpening(o);
      o.reject(new RtmfpError('ERR_RTMFP_CLOSED', 'endpoint closed'));
    }
    if (hard) this.#closed = true;
  }

  get halfOpenCount(): number {
    return this.#halfOpen.size;
  }

  get openingCount(): number {
    return this.#openings.size;
  }
}

export { COOKIE_LENGTH, ORIGIN_REMOTE, CERT_STATIC_DH_PUBLIC_KEY, SUPPORTED_DH_GROUPS };

/** What a cookie is bound to: the address, and whether we answered as a peer (the RIKeying differs). */
function cookieSubject(a: PeerAddress, asPeer: boolean): string {
  return asPeer ? `${addressKey(a)}|peer` : addressKey(a);
}

/** A binary min-heap of callbacks by time; stale entries are skipped by their owners. */
class TimerHeap {
  #at: number[] = [];
  #fn: Array<(now: number) => void> = [];
  /** Timers added while running wait for the next run: a callback that reschedules itself cannot spin. */
  #running = false;
  #later: Array<[number, (now: number) => void]> = [];

  push(at: number, fn: (now: number) => void): void {
    if (at === Infinity) return;
    if (this.#running) {
      this.#later.push([at, fn]);
      return;
    }
    const a = this.#at;
    const f = this.#fn;
    let i = a.length;
    a.push(at);
    f.push(fn);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      f[i] = f[p]!;
      i = p;
    }
    a[i] = at;
    f[i] = fn;
  }

  peek(): number {
    return this.#at.length > 0 ? this.#at[0]! : Infinity;
  }

  #pop(): (now: number) => void {
    const a = this.#at;
    const f = this.#fn;
    const top = f[0]!;
    const lastA = a.pop()!;
    const lastF = f.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]! < a[l]! ? r : l;
        if (a[c]! >= lastA) break;
        a[i] = a[c]!;
        f[i] = f[c]!;
        i = c;
      }
      a[i] = lastA;
      f[i] = lastF;
    }
    return top;
  }

  run(now: number): void {
    this.#running = true;
    try {
      while (this.#at.length > 0 && this.#at[0]! <= now) this.#pop()(now);
    } finally {
      this.#running = false;
      const later = this.#later;
      this.#later = [];
      for (const [at, fn] of later) this.push(at, fn);
    }
  }

  get size(): number {
    return this.#at.length;
  }
}
