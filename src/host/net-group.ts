/**
 * Server-side NetGroup (FMS 4.5): a script's handle on the group membership of its RTMFP NetConnection,
 * to coordinate the group it publishes into. Status events (AS3 NetGroup codes) go to NetGroup.onStatus:
 * NetGroup.Connect.Success / Failed / Rejected, NetGroup.Neighbor.Connect / Disconnect (neighbor, peerID),
 * NetGroup.Posting.Notify (message, messageID), NetGroup.SendTo.Notify (message, from, fromLocal).
 * Posting and routing travel in ssas's own format (src/net/rtmfp-group.ts GR_MESSAGES): they reach other
 * ssas members; Flash-era peers accept and ignore them.
 */
import type { AmfValue } from '../amf';
import { decodeAmf0All, encodeAmf0 } from '../amf';
import { getLogger } from '../logger';
import { RtmfpConnection } from '../net/rtmfp-connection';
import { GroupNode } from '../net/rtmfp-group';
import { memberIdOf, parseGroupspec, type GroupSpec } from '../rtmfp/groupspec';
import type { ServerNetConnection } from './net-connection';

const log = getLogger('netgroup');
const RING = 1n << 256n;

function hex64(n: bigint): string {
  return ((n % RING) + RING).toString(16).padStart(64, '0').slice(-64);
}

export class ServerNetGroup {
  readonly groupspec: string;
  #spec: GroupSpec | null = null;
  #node: GroupNode | null = null;
  #unlisten: (() => void) | null = null;
  #post: (info: Record<string, AmfValue>) => void;
  #closed = false;
  #receiveMode: 'exact' | 'nearest' = 'exact';
  #nc: ServerNetConnection | null;
  #stateListener: ((s: string) => void) | null = null;

  constructor(nc: ServerNetConnection | null, groupspec: string, post: (info: Record<string, AmfValue>) => void) {
    this.groupspec = groupspec;
    this.#post = post;
    this.#nc = nc;
    if (!nc) {
      this.#later('error', 'NetGroup.Connect.Failed', 'NetGroup needs a NetConnection.');
      return;
    }
    try {
      this.#spec = parseGroupspec(groupspec).spec;
    } catch (err) {
      this.#later('error', 'NetGroup.Connect.Failed', `The groupspec is not valid: ${(err as Error).message}`);
      return;
    }
    if (nc.protocol !== 'rtmfp') {
      this.#later('error', 'NetGroup.Connect.Failed', 'A NetGroup needs an RTMFP NetConnection.');
      return;
    }
    if (nc.isConnected) this.#join();
    else {
      this.#stateListener = (s) => {
        if (s === 'connected') this.#join();
        else if (s === 'closed') this.#lost();
      };
      nc.stateListeners.add(this.#stateListener);
    }
  }

  #later(level: 'status' | 'error', code: string, description: string, extra: Record<string, AmfValue> = {}): void {
    setImmediate(() => {
      if (!this.#closed || code === 'NetGroup.Connect.Failed') this.#post({ level, code, description, group: this.groupspec, ...extra });
    });
  }

  #join(): void {
    const client = this.#nc?.client;
    if (this.#node || this.#closed || !client) return;
    if (!(client.conn instanceof RtmfpConnection)) {
      this.#later('error', 'NetGroup.Connect.Failed', 'A NetGroup needs an RTMFP NetConnection.');
      return;
    }
    try {
      this.#node = GroupNode.join(client.conn, this.groupspec);
    } catch (err) {
      this.#later('error', 'NetGroup.Connect.Failed', (err as Error).message);
      return;
    }
    const node = this.#node;
    this.#unlisten = node.on({
      neighborConnect: (peerID) => this.#post({ level: 'status', code: 'NetGroup.Neighbor.Connect', neighbor: memberIdOf(Buffer.from(peerID, 'hex')).toString('hex'), peerID }),
      neighborDisconnect: (peerID) =>
        this.#post({ level: 'status', code: 'NetGroup.Neighbor.Disconnect', neighbor: memberIdOf(Buffer.from(peerID, 'hex')).toString('hex'), peerID }),
      post: (messageID, bytes) => {
        const message = decode(bytes);
        if (message !== undefined && this.#spec?.postingEnabled !== false) this.#post({ level: 'status', code: 'NetGroup.Posting.Notify', message, messageID });
      },
      sendTo: (bytes, from) => {
        const message = decode(bytes);
        if (message !== undefined) this.#post({ level: 'status', code: 'NetGroup.SendTo.Notify', message, from, fromLocal: false });
      },
    });
    this.#later('status', 'NetGroup.Connect.Success', 'The NetGroup is connected.');
  }

  #lost(): void {
    this.#unlisten?.();
    this.#unlisten = null;
    this.#node?.release();
    this.#node = null;
  }

  setReceiveMode(mode: 'exact' | 'nearest'): void {
    this.#receiveMode = mode;
  }

  state(): Record<string, AmfValue> {
    const n = this.#node;
    if (!n) return { neighborCount: 0, estimatedMemberCount: 0, localCoverageFrom: '', localCoverageTo: '', info: {} };
    const { from, to } = this.#coverage(n);
    return {
      neighborCount: n.neighborCount,
      estimatedMemberCount: n.estimatedMemberCount,
      localCoverageFrom: from,
      localCoverageTo: to,
      info: {
        postingReceiveControlBytesPerSecond: 0,
        postingReceiveDataBytesPerSecond: n.postingBytesIn,
        postingSendControlBytesPerSecond: 0,
        postingSendDataBytesPerSecond: n.postingBytesOut,
        routingReceiveBytesPerSecond: n.routingBytesIn,
        routingSendBytesPerSecond: n.routingBytesOut,
        objectReplicationReceiveBytesPerSecond: 0,
        objectReplicationSendBytesPerSecond: 0,
      },
    };
  }

  /** The part of the ring this member answers for: halfway to each neighbour on either side. */
  #coverage(n: GroupNode): { from: string; to: string } {
    const me = BigInt(`0x${n.groupAddress.toString('hex')}`);
    const others = n.neighborAddresses().map((a) => BigInt(`0x${a.toString('hex')}`));
    if (others.length === 0) return { from: hex64(me + 1n), to: hex64(me) };
    let below = RING;
    let above = RING;
    for (const o of others) {
      const up = (o - me + RING) % RING;
      const down = (me - o + RING) % RING;
      if (up > 0n && up < above) above = up;
      if (down > 0n && down < below) below = down;
    }
    return { from: hex64(me - below / 2n), to: hex64(me + above / 2n) };
  }

  post(message: AmfValue): string | null {
    const n = this.#node;
    if (!n || this.#spec?.postingEnabled !== true) return null;
    return n.post(encodeAmf0(message));
  }

  sendTo(how: string, target: string | null, message: AmfValue): string {
    const n = this.#node;
    if (!n || this.#spec?.routingEnabled !== true) return 'error';
    const bytes = encodeAmf0(message);
    if (how === 'nearest') {
      if (!target || !/^[0-9a-fA-F]{64}$/.test(target)) return 'error';
      const r = n.sendToNearest(Buffer.from(target, 'hex'), bytes);
      if (r === 'no route' && this.#receiveMode === 'nearest') {
        // We are the nearest ourselves: delivered here (fromLocal).
        const m = decode(bytes);
        setImmediate(() => this.#post({ level: 'status', code: 'NetGroup.SendTo.Notify', message: m ?? null, from: n.groupAddress.toString('hex'), fromLocal: true }));
        return 'sent';
      }
      return r;
    }
    if (how === 'all') return n.sendToNeighbors('all', bytes);
    if (how === 'neighbor') {
      if (target === 'nextIncreasing') return n.sendToNeighbors('increasing', bytes);
      if (target === 'nextDecreasing') return n.sendToNeighbors('decreasing', bytes);
      return 'error';
    }
    return 'error';
  }

  addNeighbor(peerId: string): boolean {
    return this.#node?.addNeighbor(peerId.toLowerCase()) ?? false;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stateListener) this.#nc?.stateListeners.delete(this.#stateListener);
    this.#lost();
  }
}

function decode(bytes: Buffer): AmfValue | undefined {
  try {
    return decodeAmf0All(bytes)[0];
  } catch (err) {
    log.debug(`group message that is not AMF0: ${(err as Error).message}`);
    return undefined;
  }
}
