/**
 * The group half of a server-side NetStream (seed: "To publish a stream to a group ... new
 * NetStream(nc, groupspec) ... ns.publish("mystream"). Stream data is routed to the RTMFP group, it is
 * not copied at the server"). The NetStream's NetConnection is an RTMFP client of the group's server;
 * this object joins the group through it (src/net/rtmfp-group.ts) and publishes the attached stream
 * into it as a member, with the NetStream's multicast properties driving the publication.
 */
import type { AmfValue } from '../amf';
import { encodeValues } from '../rtmp/command';
import { isAudioSequenceHeader, isVideoSequenceHeader, TAG_SCRIPT } from '../media/tag-info';
import { GroupNode } from '../net/rtmfp-group';
import type { RtmfpConnection } from '../net/rtmfp-connection';
import { DEFAULT_MULTICAST, GroupPublisher, type MulticastSettings } from '../rtmfp/group-publisher';
import type { LiveMessage } from '../server/live-stream';

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
  readonly #rates = { data: new Rate(), control: new Rate(), controlIn: new Rate() };

  constructor(conn: RtmfpConnection, groupspec: string) {
    this.node = GroupNode.join(conn, groupspec);
  }

  get publishing(): boolean {
    return this.#publisher !== null;
  }

  get publisher(): GroupPublisher | null {
    return this.#publisher;
  }

  publish(name: string): void {
    this.unpublish();
    this.#publisher = new GroupPublisher(name, this.settings);
    this.#startedAt = Date.now();
    this.#firstTs = null;
    this.node.addPublisher(this.#publisher);
  }

  unpublish(): void {
    if (!this.#publisher) return;
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
    p.push({ type: m.type, time: m.timestamp, payload: m.payload, keyframe: m.keyframe, sequenceHeader }, this.node.now());
  }

  /** NetStream.send into the group: a data message (AMF0) every member receives with the stream. */
  send(handler: string, args: AmfValue[], timestamp: number): boolean {
    const p = this.#publisher;
    if (!p) return false;
    const payload = encodeValues([handler, ...args], { objectEncoding: 0 });
    p.push({ type: TAG_SCRIPT, time: timestamp, payload, keyframe: false, sequenceHeader: false }, this.node.now());
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
      sendDataBytesPerSecond: data,
      sendDataBytesPerSecondToIPMulticast: 0,
      sendDataBytesPerSecondToPeers: data,
      sendDataBytesPerSecondToServer: 0,
    };
  }

  close(): void {
    this.unpublish();
    this.node.release();
  }
}
