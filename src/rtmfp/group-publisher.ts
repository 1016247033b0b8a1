/**
 * One stream published into an RTMFP group by a member (Flash Player's NetStream on a group; for ssas,
 * the server-side NetStream(nc, groupspec) of the seed): the publication's fragments, their window, and
 * what goes to which neighbour. Behaviour follows librtmfp GroupMedia / PeerMedia (notes/netgroup-facts.md
 * 4), with the NetStream multicast properties in charge:
 *
 * - Every RTMP message becomes fragments with consecutive ids from 1 (group-messages.ts); they are kept
 *   multicastWindowDuration + multicastRelayMarginDuration for neighbours that ask.
 * - A neighbour asks to be pushed the fragments whose id mod 8 is in its mask (23); each new fragment is
 *   pushed to at most multicastPushNeighborLimit neighbours whose mask has it (librtmfp pushes to one more;
 *   the property's documentation says at most that many, and ssas does that).
 * - Every multicastAvailabilityUpdatePeriod a fragments map (22) goes to one neighbour in turn, to all of
 *   them with multicastAvailabilitySendToAll, and only when it says something new to that neighbour.
 * - A pull (2b) is answered with the fragment if it is still held.
 * - Late joiners start mid-stream: the AVC / AAC sequence headers go out again before key frames (at most
 *   once a second), and video starts at a key frame (librtmfp GroupListener).
 *
 * Pure: time is passed in; what to send comes out through the `Outbox` the caller gives.
 */
import { randomBytes } from 'node:crypto';
import { encodeMap, encodeMediaInfos, fragmentMessage, type MediaInfos, type MediaMessage } from './group-messages';
import { Writer } from './wire';

export interface MulticastSettings {
  /** Seconds; NetStream.multicastAvailabilityUpdatePeriod and the rest, as the script set them. */
  availabilityUpdatePeriod: number;
  availabilitySendToAll: boolean;
  fetchPeriod: number;
  pushNeighborLimit: number;
  relayMarginDuration: number;
  windowDuration: number;
}

export const DEFAULT_MULTICAST: MulticastSettings = {
  availabilityUpdatePeriod: 0.1,
  availabilitySendToAll: false,
  fetchPeriod: 2.5,
  pushNeighborLimit: 4,
  relayMarginDuration: 2,
  windowDuration: 8,
};

/** Where a publisher's messages go: one neighbour's media report flow (11) and media flow (12). */
export interface NeighborLink {
  readonly key: string;
  /** The neighbour's push mask (23), 0 until it asked. */
  pushMask: number;
  /** The last map id this neighbour was told about. */
  lastMapped: number;
  /** Sends on our media report flow to it (21, 22); false when it is not open yet. */
  sendReport(msg: Buffer): boolean;
  /** Sends a fragment on our media flow to it; false when there is none yet (it has not answered our 21). */
  sendFragment(msg: Buffer): boolean;
}

/** Counters behind NetStream.multicastInfo (MulticastStreamInfo), bytes and fragments of this stream. */
export interface PublisherCounters {
  fragmentsPushedToPeers: number;
  bytesPushedToPeers: number;
  fragmentsRequestedByPeers: number;
  bytesRequestedByPeers: number;
  controlBytesSent: number;
  mapsSent: number;
}

interface Held {
  data: Buffer;
  at: number;
}

export class GroupPublisher {
  readonly name: string;
  readonly publicationKey = randomBytes(32);
  settings: MulticastSettings;
  readonly counters: PublisherCounters = {
    fragmentsPushedToPeers: 0,
    bytesPushedToPeers: 0,
    fragmentsRequestedByPeers: 0,
    bytesRequestedByPeers: 0,
    controlBytesSent: 0,
    mapsSent: 0,
  };
  readonly #held = new Map<number, Held>();
  #first = 1;
  #next = 1;
  #timeBase: number | null = null;
  #sawKeyframe = false;
  #lastVideoHeaderAt = -Infinity;
  #lastAudioHeaderAt = -Infinity;
  #videoHeader: MediaMessage | null = null;
  #audioHeader: MediaMessage | null = null;
  #mapTurn = 0;
  #lastMapAt = -Infinity;
  #ended = false;
  readonly #links = new Map<string, NeighborLink>();

  constructor(name: string, settings: MulticastSettings) {
    this.name = name;
    this.settings = { ...settings };
  }

  get nextId(): number {
    return this.#next;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  infos(): Buffer {
    const s = this.settings;
    const m: MediaInfos = {
      streamName: this.name,
      publicationKey: this.publicationKey,
      sendToAll: s.availabilitySendToAll,
      windowMs: s.windowDuration * 1000,
      updatePeriodMs: s.availabilityUpdatePeriod * 1000,
      fetchPeriodMs: s.fetchPeriod * 1000,
    };
    return encodeMediaInfos(m);
  }

  /** The end of the publication (21 with the next id). */
  endMessage(): Buffer {
    return new Writer(12).u8(0x21).vlu(this.#next).finish();
  }

  addLink(link: NeighborLink, now: number): void {
    this.#links.set(link.key, link);
    // A new neighbour learns of the publication at once, then what we hold.
    if (link.sendReport(this.infos())) this.counters.controlBytesSent += 40;
    this.#sendMap(link, now);
  }

  removeLink(key: string): void {
    this.#links.delete(key);
  }

  get linkCount(): number {
    return this.#links.size;
  }

  /** A pull (2b) from a neighbour. */
  onPull(link: NeighborLink, id: number): void {
    const h = this.#held.get(id);
    if (!h) return;
    if (link.sendFragment(h.data)) {
      this.counters.fragmentsRequestedByPeers++;
      this.counters.bytesRequestedByPeers += h.data.length;
    }
  }

  /**
   * One message of the published stream (audio 8, video 9, data 18); `keyframe` and `sequenceHeader` as
   * FLV says. Returns the fragments made (for IP multicast).
   */
  push(m: MediaMessage & { keyframe: boolean; sequenceHeader: boolean }, now: number): Buffer[] {
    if (this.#ended) return [];
    if (this.#timeBase === null) this.#timeBase = m.time;
    const time = Math.max(0, m.time - this.#timeBase) >>> 0;
    const out: Buffer[] = [];
    if (m.sequenceHeader) {
      // Fragmented before it is kept: a header too large for a group (ERR_RTMFP_TOO_LARGE) used to be kept
      // anyway, and sent again before every key frame (every second for audio), each time failing that push.
      out.push(...this.#emit({ type: m.type, time, payload: m.payload }, now));
      if (m.type === 9) {
        this.#videoHeader = { type: m.type, time, payload: m.payload };
        this.#lastVideoHeaderAt = now;
      } else if (m.type === 8) {
        this.#audioHeader = { type: m.type, time, payload: m.payload };
        this.#lastAudioHeaderAt = now;
      }
      return out;
    }
    if (m.type === 9) {
      if (!this.#sawKeyframe && !m.keyframe) return out; // video starts at a key frame
      if (m.keyframe) {
        this.#sawKeyframe = true;
        if (this.#videoHeader && now - this.#lastVideoHeaderAt >= 900) {
          this.#lastVideoHeaderAt = now;
          out.push(...this.#emit({ ...this.#videoHeader, time }, now));
        }
      }
    } else if (m.type === 8 && this.#audioHeader && now - this.#lastAudioHeaderAt >= 1000) {
      this.#lastAudioHeaderAt = now;
      out.push(...this.#emit({ ...this.#audioHeader, time }, now));
    }
    out.push(...this.#emit({ type: m.type, time, payload: m.payload }, now));
    return out;
  }

  #emit(m: MediaMessage, now: number): Buffer[] {
    const frags = fragmentMessage(m, this.#next);
    for (const f of frags) {
      const id = this.#next++;
      this.#held.set(id, { data: f, at: now });
      this.#pushOut(id, f);
    }
    return frags;
  }

  #pushOut(id: number, data: Buffer): void {
    const bit = 1 << (id % 8);
    let sent = 0;
    const limit = Math.floor(this.settings.pushNeighborLimit);
    if (limit <= 0) return;
    for (const link of this.#links.values()) {
      if ((link.pushMask & bit) === 0) continue;
      if (!link.sendFragment(data)) continue;
      this.counters.fragmentsPushedToPeers++;
      this.counters.bytesPushedToPeers += data.length;
      if (++sent >= limit) break;
    }
  }

  /** Timers: forget fragments past the window and margin; send the fragments map when it is due. */
  tick(now: number): void {
    const keepMs = (this.settings.windowDuration + this.settings.relayMarginDuration) * 1000;
    while (this.#first < this.#next) {
      const h = this.#held.get(this.#first);
      if (h && now - h.at <= keepMs) break;
      this.#held.delete(this.#first);
      this.#first++;
    }
    const period = Math.max(0.01, this.settings.availabilityUpdatePeriod) * 1000;
    if (now - this.#lastMapAt < period || this.#links.size === 0) return;
    this.#lastMapAt = now;
    const links = Array.from(this.#links.values());
    if (this.settings.availabilitySendToAll) {
      for (const l of links) this.#sendMap(l, now);
    } else {
      // One neighbour per period, in turn, skipping those that would learn nothing new.
      for (let i = 0; i < links.length; i++) {
        const l = links[(this.#mapTurn + i) % links.length]!;
        if (l.lastMapped === this.#next - 1) continue;
        this.#mapTurn = (this.#mapTurn + i + 1) % links.length;
        this.#sendMap(l, now);
        break;
      }
    }
  }

  #sendMap(link: NeighborLink, _now: number): void {
    const last = this.#next - 1;
    if (last < 1) return;
    const map = encodeMap(last, (id) => this.#held.has(id), this.#first);
    if (link.sendReport(map)) {
      link.lastMapped = last;
      this.counters.mapsSent++;
      this.counters.controlBytesSent += map.length;
    }
  }

  /** The settings changed (the script set a multicast property): neighbours get the new media infos. */
  refresh(): void {
    if (this.#ended) return;
    const infos = this.infos();
    for (const l of this.#links.values()) l.sendReport(infos);
  }

  /** Ends the publication: every neighbour is told (21 with the next id). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const msg = this.endMessage();
    for (const l of this.#links.values()) l.sendReport(msg);
  }

  get ended(): boolean {
    return this.#ended;
  }
}
