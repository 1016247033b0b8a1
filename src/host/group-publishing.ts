/**
 * The group half of a server-side NetStream (seed: "To publish a stream to a group ... new
 * NetStream(nc, groupspec) ... ns.publish("mystream"). Stream data is routed to the RTMFP group, it is
 * not copied at the server"). The NetStream's NetConnection is an RTMFP client of the group's server;
 * this object joins the group through it (src/net/rtmfp-group.ts) and publishes the attached stream
 * into it as a member, with the NetStream's multicast properties driving the publication.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AmfValue } from '../amf';
import { getLogger } from '../logger';
import { encodeValues } from '../rtmp/command';
import { isAudioSequenceHeader, isVideoSequenceHeader, TAG_SCRIPT } from '../media/tag-info';
import { GroupNode } from '../net/rtmfp-group';
import type { RtmfpConnection } from '../net/rtmfp-connection';
import { DEFAULT_MULTICAST, GroupPublisher, type MulticastSettings } from '../rtmfp/group-publisher';
import type { LiveMessage } from '../server/live-stream';

const log = getLogger('group-publishing');

/** Where setIPMulticastPublishAddress sends the stream. */
export interface IpMulticastTarget {
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * Native IP multicast of a group stream. No public source documents the datagrams Flash Player sent to
 * an IP multicast address ("fusion"; notes/netgroup-facts.md 6), so ssas uses the closest documented
 * framing: each datagram is one RTMFP group message as members exchange them (group-messages.ts): the
 * media infos (21) once a second and when the stream starts, every media fragment (20/30/10/00) as it is
 * made, and the end of the publication (21 + next id). TTL 1 (the local network), loopback on.
 */
class IpMulticastSender {
  readonly target: IpMulticastTarget;
  readonly #socket: Socket;
  #ready = false;
  /** What was sent before the socket was bound (the stream's start: metadata, sequence headers, key frame). */
  #early: Array<[Buffer, boolean]> = [];
  #lastInfosAt = 0;
  bytes = 0;
  fragments = 0;
  errors = 0;

  constructor(target: IpMulticastTarget) {
    this.target = target;
    this.#socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
    this.#socket.on('error', (err) => {
      this.errors++;
      log.warn(`IP multicast to ${target.host}:${target.port}: ${err.message}`);
    });
    this.#socket.bind(0, () => {
      try {
        this.#socket.setMulticastTTL(1);
        this.#socket.setMulticastLoopback(true);
      } catch (err) {
        log.warn(`IP multicast socket: ${(err as Error).message}`);
      }
      this.#ready = true;
      const early = this.#early;
      this.#early = [];
      for (const [m, f] of early) this.send(m, f);
    });
  }

  send(msg: Buffer, isFragment: boolean): void {
    if (!this.#ready) {
      if (this.#early.length < 1000) this.#early.push([msg, isFragment]);
      return;
    }
    this.#socket.send(msg, this.target.port, this.target.host, (err) => {
      if (err) this.errors++;
    });
    this.bytes += msg.length;
    if (isFragment) this.fragments++;
  }

  infosDue(now: number): boolean {
    if (now - this.#lastInfosAt < 1000) return false;
    this.#lastInfosAt = now;
    return true;
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}

/** NetStream multicast property names (seed) and the settings they drive. */
export const MULTICAST_PROPERTIES: Record<string, keyof MulticastSettings> = {
  multicastAvailabilityUpdatePeriod: 'availabilityUpdatePeriod',
  multicastAvailabilitySendToAll: 'availabilitySendToAll',
  multicastFetchPeriod: 'fetchPeriod',
  multicastPushNeighborLimit: 'pushNeighborLimit',
  multicastRelayMarginDuration: 'relayMarginDuration',
  multicastWindowDuration: 'windowDuration',
};

/** A rate over the last second from a growing counter (for MulticastStreamInfo's per-second fields). */
class Rate {
  #at = Date.now();
  #base = 0;
  #value = 0;
  read(total: number): number {
    const now = Date.now();
    const dt = (now - this.#at) / 1000;
    if (dt >= 1) {
      this.#value = (total - this.#base) / dt;
      this.#base = total;
      this.#at = now;
    }
    return this.#value;
  }
}

export class GroupPublishing {
  readonly node: GroupNode;
  #publisher: GroupPublisher | null = null;
  readonly settings: MulticastSettings = { ...DEFAULT_MULTICAST };
  #startedAt = 0;
  #firstTs: number | null = null;
  #lastTs = 0;
  readonly #rates = { data: new Rate(), control: new Rate(), controlIn: new Rate(), ip: new Rate() };
  #ip: IpMulticastSender | null = null;

  /** Sends the stream to an IP multicast group too (null stops). */
  setIpMulticast(target: IpMulticastTarget | null): void {
    this.#ip?.close();
    this.#ip = target ? new IpMulticastSender(target) : null;
  }

  readonly #off: () => void;

  /**
   * `onReset`: another member began publishing the name we publish (NetStream.MulticastStream.Reset:
   * "A multicast subscription has changed focus to a different stream published with the same name").
   */
  constructor(conn: RtmfpConnection, groupspec: string, onReset: (name: string) => void = () => {}) {
    this.node = GroupNode.join(conn, groupspec);
    this.#off = this.node.on({
      publication: (name) => {
        if (this.#publisher && this.#publisher.name === name) onReset(name);
      },
    });
  }

  get publishing(): boolean {
    return this.#publisher !== null;
  }

  get publisher(): GroupPublisher | null {
    return this.#publisher;
  }

  /** Publishes `name` into the group; false when a member (another or another of ours) already does. */
  publish(name: string): boolean {
    this.unpublish();
    if (this.node.isPublished(name)) return false;
    this.#publisher = new GroupPublisher(name, this.settings);
    this.#startedAt = Date.now();
    this.#firstTs = null;
    this.node.addPublisher(this.#publisher);
    return true;
  }

  unpublish(): void {
    if (!this.#publisher) return;
    this.#ip?.send(this.#publisher.endMessage(), false);
    this.node.removePublisher(this.#publisher);
    this.#publisher = null;
  }

  /** A multicast property the script set (already coerced by the sandbox, as the seed says). */
  set(name: string, value: number | boolean): void {
    const key = MULTICAST_PROPERTIES[name];
    if (!key) return;
    (this.settings as unknown as Record<string, number | boolean>)[key] = value;
    if (this.#publisher) {
      (this.#publisher.settings as unknown as Record<string, number | boolean>)[key] = value;
      this.#publisher.refresh();
    }
  }

  onLiveMessage(m: LiveMessage): void {
    const p = this.#publisher;
    if (!p) return;
    if (this.#firstTs === null) this.#firstTs = m.timestamp;
    this.#lastTs = Math.max(this.#lastTs, m.timestamp - this.#firstTs);
    const sequenceHeader = (m.type === 9 && isVideoSequenceHeader(m.payload)) || (m.type === 8 && isAudioSequenceHeader(m.payload));
    const now = this.node.now();
    const frags = p.push({ type: m.type, time: m.timestamp, payload: m.payload, keyframe: m.keyframe, sequenceHeader }, now);
    this.#toIp(p, frags, now);
  }

  #toIp(p: GroupPublisher, frags: Buffer[], now: number): void {
    const ip = this.#ip;
    if (!ip || frags.length === 0) return;
    if (ip.infosDue(now)) ip.send(p.infos(), false);
    for (const f of frags) ip.send(f, true);
  }

  /** NetStream.send into the group: a data message (AMF0) every member receives with the stream. */
  send(handler: string, args: AmfValue[], timestamp: number): boolean {
    const p = this.#publisher;
    if (!p) return false;
    const payload = encodeValues([handler, ...args], { objectEncoding: 0 });
    const now = this.node.now();
    this.#toIp(p, p.push({ type: TAG_SCRIPT, time: timestamp, payload, keyframe: false, sequenceHeader: false }, now), now);
    return true;
  }

  /** Seconds of media published into the group. */
  get time(): number {
    return this.#firstTs === null ? 0 : this.#lastTs / 1000;
  }

  /** MulticastStreamInfo of this stream: counters of what really went to peers (ssas receives nothing). */
  info(): Record<string, number> {
    const c = this.#publisher?.counters;
    const toPeers = (c?.bytesPushedToPeers ?? 0) + (c?.bytesRequestedByPeers ?? 0);
    const data = this.#rates.data.read(toPeers);
    const control = this.#rates.control.read(this.node.controlBytesOut);
    const controlIn = this.#rates.controlIn.read(this.node.controlBytesIn);
    const ip = this.#rates.ip.read(this.#ip?.bytes ?? 0);
    return {
      bytesPushedFromPeers: 0,
      bytesPushedToPeers: c?.bytesPushedToPeers ?? 0,
      bytesReceivedFromIPMulticast: 0,
      bytesReceivedFromServer: 0,
      bytesRequestedByPeers: c?.bytesRequestedByPeers ?? 0,
      bytesRequestedFromPeers: 0,
      fragmentsPushedFromPeers: 0,
      fragmentsPushedToPeers: c?.fragmentsPushedToPeers ?? 0,
      fragmentsReceivedFromIPMulticast: 0,
      fragmentsReceivedFromServer: 0,
      fragmentsRequestedByPeers: c?.fragmentsRequestedByPeers ?? 0,
      fragmentsRequestedFromPeers: 0,
      receiveControlBytesPerSecond: controlIn,
      receiveDataBytesPerSecond: 0,
      receiveDataBytesPerSecondFromIPMulticast: 0,
      receiveDataBytesPerSecondFromPeers: 0,
      receiveDataBytesPerSecondFromServer: 0,
      sendControlBytesPerSecond: control,
      sendControlBytesPerSecondToServer: 0,
      sendDataBytesPerSecond: data + ip,
      sendDataBytesPerSecondToIPMulticast: ip,
      sendDataBytesPerSecondToPeers: data,
      sendDataBytesPerSecondToServer: 0,
    };
  }

  close(): void {
    this.unpublish();
    this.#ip?.close();
    this.#ip = null;
    this.#off();
    this.node.release();
  }
}
