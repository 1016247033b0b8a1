/**
 * ssas as a member of an RTMFP group (the seed's "publish a stream to an RTMFP group"): the server-side
 * NetConnection is a client of the group's server (another ssas, FMS, MonaServer); through it the member
 * joins the group, is told of other members, and keeps peer-to-peer sessions with its neighbours on the
 * connection's own UDP socket. Streams published into the group go to the neighbours, never through the
 * server. Wire facts: notes/netgroup-facts.md (sections cited below); codecs in src/rtmfp/group*.ts.
 *
 * - Join (2.1): a "GC" flow answering the server's NetConnection flow, carrying 01 + group id. The
 *   server's flows answering it carry 0b <peer id> for each newcomer, whom we then reach through the
 *   server's introduction (an IHello for its peer id to the server).
 * - Each neighbour session (3.2, 3.3): a "GR 1c" main flow each way; the initiator sends 01 (group id as
 *   text, key = HMAC(group description, far nonce), the recipient's id), 02 and 0e; the responder checks
 *   it and answers the same. Reports (0a, 3.4) on 0e, in answer to an unsolicited one, then one every
 *   10 s to a random neighbour.
 * - Streams (4): after a neighbour's first report, our "GR 11" flow (answering its 1c) carries media
 *   infos (21) and maps (22); its 11 flow (answering our 1c) brings its 21 echo, push masks (23) and pulls
 *   (2b); fragments go on our "GR 12" flow answering its 11.
 *
 * Limits: at most MAX_NEIGHBORS neighbour sessions per group; a session whose group handshake does not
 * arrive (or does not check out) within HANDSHAKE_MS is closed.
 */
import { RtmfpError } from '../errors';
import { getLogger } from '../logger';
import { epdForPeer } from '../rtmfp/crypto';
import { ORIGIN_REMOTE, ORIGIN_RELAY, type RtmfpAddress } from '../rtmfp/handshake';
import { GC_METADATA, decodeGroupMember, encodeGroupJoin } from '../rtmfp/groups';
import {
  GR_MAIN,
  GR_MEDIA,
  GR_MEDIA_REPORT,
  MSG_BEGIN,
  MSG_BEGIN_NEAREST,
  MSG_DATA,
  MSG_DISCONNECT,
  MSG_INIT,
  MSG_MAP,
  MSG_MEDIA_INFOS,
  MSG_PULL,
  MSG_PUSH,
  MSG_REPORT,
  decodeGroupInit,
  decodeMediaInfos,
  decodeReport,
  decodeSmall,
  encodeGroupInit,
  encodeReport,
  groupKey,
} from '../rtmfp/group-messages';
import { GroupPublisher, type NeighborLink } from '../rtmfp/group-publisher';
import { memberIdOf, parseGroupspec } from '../rtmfp/groupspec';
import { createHash } from 'node:crypto';
import type { RecvFlow } from '../rtmfp/recv-flow';
import type { SendFlow } from '../rtmfp/send-flow';
import { addressKey, type Session } from '../rtmfp/session';
import type { RtmfpConnection } from './rtmfp-connection';
import type { RtmfpSocket } from './rtmfp-socket';

const log = getLogger('rtmfp-group');

const MAX_NEIGHBORS = 32;
const HANDSHAKE_MS = 15_000;
const REPORT_EVERY_MS = 10_000;
const TICK_MS = 50;
const PRIORITY = 5;

function isGr(md: Buffer, kind: Buffer): boolean {
  return md.length === 3 && md.equals(kind);
}

interface StreamLink extends NeighborLink {
  publisher: GroupPublisher;
  reportOut: SendFlow | null;
  mediaOut: SendFlow | null;
}

/** A neighbour: one peer-to-peer session of the group. */
interface Neighbor {
  peerId: string;
  session: Session;
  role: 'initiator' | 'responder';
  mainOut: SendFlow | null;
  mainIn: RecvFlow | null;
  verified: boolean;
  beganSent: boolean;
  reportSent: boolean;
  reportsHeard: number;
  links: Map<GroupPublisher, StreamLink>;
  connectedAt: number;
  bytesIn: number;
  /** Its media report flows to us (where other members' publications are offered). */
  reportFlows: Set<RecvFlow>;
  /** Its place on the ring (SHA-256 of 21 0f + peer id). */
  address: Buffer;
  messagesOut: SendFlow | null;
}

export interface GroupNodeEvents {
  neighborConnect?(peerId: string): void;
  neighborDisconnect?(peerId: string): void;
  /** A post (NetGroup.post) reached this member: the AMF0 bytes and their message id. */
  post?(messageId: string, message: Buffer, fromPeer: string): void;
  /** A routed message (sendToNearest / sendToNeighbor / sendToAllNeighbors) for this member. */
  sendTo?(message: Buffer, fromAddress: string, fromPeer: string): void;
  /** A neighbour offered a publication that is not ours (its media infos, 21): first time heard. */
  publication?(streamName: string, publicationKeyHex: string, fromPeer: string): void;
}

/** A publication of another member, as neighbours' media infos tell us (for Publish.BadName / Reset). */
interface ForeignPublication {
  name: string;
  /** The neighbours whose media report flows carry it (it is over when none does any more). */
  via: Set<RecvFlow>;
}

/**
 * Posts and routed messages between ssas members. No public program implements Flash's formats for
 * these (notes/netgroup-facts.md 5: librtmfp only accepts the flows), so ssas uses its own, on the flow
 * librtmfp calls the "NetGroup message stream" (GR 1d), which Flash-era peers accept and ignore:
 *   70 <message id 32> <AMF0 message>                      post, flooded to every neighbour once
 *   73 <hops 1> <destination group address 32> <origin peer id 32> <AMF0>   routed to the nearest member
 *   6e <origin peer id 32> <AMF0>                           to this neighbour only
 */
export const GR_MESSAGES = Buffer.from([0x47, 0x52, 0x1d]);
const MSG_POST = 0x70;
const MSG_ROUTE = 0x73;
const MSG_NEIGHBOR = 0x6e;
const MAX_HOPS = 16;
/** Other members' publications remembered per group (each costs a name and a set of flows). */
const MAX_FOREIGN = 256;
const POST_MEMORY = 4096;

const RING = 1n << 256n;
function ringDistance(a: Buffer, b: Buffer): bigint {
  const x = BigInt(`0x${a.toString('hex')}`);
  const y = BigInt(`0x${b.toString('hex')}`);
  const d = x > y ? x - y : y - x;
  return d < RING - d ? d : RING - d;
}

/** Groups joined through each socket: incoming peer sessions are routed by the group id of their 01. */
const bySocket = new WeakMap<RtmfpSocket, Map<string, GroupNode>>();

function dispatcher(socket: RtmfpSocket): Map<string, GroupNode> {
  let nodes = bySocket.get(socket);
  if (nodes) return nodes;
  const table = new Map<string, GroupNode>();
  nodes = table;
  bySocket.set(socket, table);
  const previous = socket.endpoint.onSession;
  socket.endpoint.onSession = (session) => {
    if (session.role !== 'responder') {
      previous(session);
      return;
    }
    // Until its 01 arrives we do not know the group: the first GR 1c flow and message decide.
    const timer = setTimeout(() => session.isOpen && session.close(socket.now()), HANDSHAKE_MS);
    timer.unref?.();
    session.onRecvFlow = (flow) => {
      if (!isGr(flow.metadata, GR_MAIN) || flow.associatedFlowId >= 0) {
        flow.reject(0);
        return;
      }
      flow.onMessage = (m) => {
        clearTimeout(timer);
        let groupIdHex: string;
        try {
          groupIdHex = decodeGroupInit(m).groupIdHex;
        } catch {
          flow.reject(0);
          session.close(socket.now());
          return;
        }
        const node = table.get(groupIdHex);
        if (!node) {
          flow.reject(0);
          session.close(socket.now());
          return;
        }
        node.adopt(session, flow, m);
      };
    };
  };
  return table;
}

export class GroupNode {
  readonly groupId: Buffer;
  readonly groupIdHex: string;
  readonly description: string;
  readonly conn: RtmfpConnection;
  readonly #socket: RtmfpSocket;
  readonly #neighbors = new Map<string, Neighbor>();
  readonly #connecting = new Set<string>();
  /** Members the server named that we could not reach (yet): heard of, not connected. */
  readonly #heard = new Map<string, number>();
  readonly #publishers = new Set<GroupPublisher>();
  readonly #listeners = new Set<GroupNodeEvents>();
  /** Keys of our publications, past ones too (neighbours relay them a while after we stop). */
  readonly #ownKeys = new Set<string>();
  /** Other members' publications by publication key (hex); at most MAX_FOREIGN. */
  readonly #foreign = new Map<string, ForeignPublication>();
  #gcOut: SendFlow | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastReportAt = 0;
  #users = 0;
  #closed = false;
  /** Our addresses as neighbours report seeing them (0d of their reports). */
  #seenAs: RtmfpAddress | null = null;
  /** Bytes of group control traffic sent (maps, reports, infos) and received, for multicastInfo. */
  controlBytesOut = 0;
  controlBytesIn = 0;

  /**
   * `peerToPeerDisabled` in the groupspec: no member-to-member sessions either way (Flash then uses IP
   * multicast and the server channel only). The node still joins the server's group channel.
   */
  readonly peerToPeer: boolean;

  private constructor(conn: RtmfpConnection, groupId: Buffer, description: string, peerToPeer: boolean) {
    this.conn = conn;
    this.peerToPeer = peerToPeer;
    this.#socket = conn.socket;
    this.groupId = groupId;
    this.groupIdHex = groupId.toString('hex');
    this.description = description;
  }

  /** The node of `groupspec` on this connection (joined on first use). */
  static join(conn: RtmfpConnection, groupspec: string): GroupNode {
    const parsed = parseGroupspec(groupspec);
    const nodes = dispatcher(conn.socket);
    const key = parsed.groupId.toString('hex');
    let node = nodes.get(key);
    if (!node || node.#closed) {
      node = new GroupNode(conn, parsed.groupId, parsed.description, !parsed.spec.peerToPeerDisabled);
      nodes.set(key, node);
      node.#start();
    }
    node.#users++;
    return node;
  }

  get neighborCount(): number {
    let n = 0;
    for (const nb of this.#neighbors.values()) if (nb.verified) n++;
    return n;
  }

  get neighbors(): string[] {
    return Array.from(this.#neighbors.values())
      .filter((n) => n.verified)
      .map((n) => n.peerId);
  }

  /** What we know of the group's size: ourselves, neighbours, and members heard of. */
  get estimatedMemberCount(): number {
    const known = new Set<string>([...this.#neighbors.keys(), ...this.#heard.keys()]);
    return known.size + 1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  now(): number {
    return this.#socket.now();
  }

  on(l: GroupNodeEvents): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** True when another member publishes `name` in this group (a neighbour offers it), or one of ours does. */
  isPublished(name: string, except?: GroupPublisher): boolean {
    for (const p of this.#publishers) if (p !== except && p.name === name) return true;
    for (const f of this.#foreign.values()) if (f.name === name) return true;
    return false;
  }

  #heardPublication(nb: Neighbor, flow: RecvFlow, name: string, keyHex: string): void {
    let f = this.#foreign.get(keyHex);
    if (f) {
      f.via.add(flow);
      return;
    }
    if (this.#foreign.size >= MAX_FOREIGN) return;
    f = { name, via: new Set([flow]) };
    this.#foreign.set(keyHex, f);
    log.debug(`group ${this.groupIdHex.slice(0, 16)}...: ${nb.peerId.slice(0, 16)}... offers "${name}" (${keyHex.slice(0, 16)}...)`);
    for (const l of this.#listeners) {
      try {
        l.publication?.(name, keyHex, nb.peerId);
      } catch (err) {
        log.warn(`group listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** A flow that carried other members' media infos ended (or its neighbour left): what only it carried is over. */
  #forgetVia(flow: RecvFlow, keyHex?: string): void {
    for (const [k, f] of this.#foreign) {
      if (keyHex !== undefined && k !== keyHex) continue;
      f.via.delete(flow);
      if (f.via.size === 0) this.#foreign.delete(k);
    }
  }

  #emit(kind: 'neighborConnect' | 'neighborDisconnect', peerId: string): void {
    for (const l of this.#listeners) {
      try {
        l[kind]?.(peerId);
      } catch (err) {
        log.warn(`group listener failed: ${(err as Error).message}`);
      }
    }
  }

  #start(): void {
    const server = this.conn.serverControlFlow;
    if (!server) throw new RtmfpError('ERR_RTMFP_NOT_CONNECTED', 'the NetConnection is not connected');
    this.#gcOut = this.conn.openRawFlow(GC_METADATA, server, (answer) => {
      // The server's group channel to us: 0b <peer id> for each newcomer.
      answer.onMessage = (m) => {
        try {
          this.#connectTo(decodeGroupMember(m).toString('hex'));
        } catch (err) {
          log.debug(`group channel: ${(err as Error).message}`);
        }
      };
    });
    if (!this.#gcOut) throw new RtmfpError('ERR_RTMFP_NOT_CONNECTED', 'the NetConnection cannot open a group channel');
    this.#gcOut.write(encodeGroupJoin(this.groupId), this.#socket.now());
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref?.();
    this.#socket.kick();
    log.debug(`joined group ${this.groupIdHex.slice(0, 16)}... through ${addressKey(this.conn.session.address)}`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Neighbours

  #connectTo(peerId: string): void {
    if (this.#closed || peerId === this.#ourPeerId() || this.#neighbors.has(peerId) || this.#connecting.has(peerId)) return;
    this.#heard.set(peerId, Date.now());
    if (!this.peerToPeer || this.#neighbors.size + this.#connecting.size >= MAX_NEIGHBORS) return;
    this.#connecting.add(peerId);
    const ep = this.#socket.endpoint;
    // Through the server's introduction: an IHello for the peer's id to the server (RFC 7016 3.5.1.4).
    const server = this.conn.session.address;
    ep.connect(epdForPeer(Buffer.from(peerId, 'hex')), [server], this.#socket.now()).then(
      (session) => {
        this.#connecting.delete(peerId);
        if (this.#closed || this.#neighbors.has(peerId)) {
          session.close(this.#socket.now());
          return;
        }
        this.#attach(session, 'initiator');
      },
      (err: unknown) => {
        this.#connecting.delete(peerId);
        log.debug(`group ${this.groupIdHex.slice(0, 16)}...: cannot reach ${peerId.slice(0, 16)}...: ${(err as Error).message}`);
      },
    );
    this.#socket.kick();
  }

  #ourPeerId(): string {
    return this.#socket.endpoint.peerId.toString('hex');
  }

  /** An incoming session whose first message (01) named this group. */
  adopt(session: Session, mainIn: RecvFlow, first: Buffer): void {
    if (this.#closed || !this.peerToPeer || this.#neighbors.size >= MAX_NEIGHBORS) {
      session.close(this.#socket.now());
      return;
    }
    const old = this.#neighbors.get(session.farId);
    if (old) old.session.close(this.#socket.now());
    const nb = this.#attach(session, 'responder');
    nb.mainIn = mainIn;
    mainIn.onMessage = (m) => this.#onMain(nb, m);
    mainIn.onComplete = () => session.close(this.#socket.now());
    this.#onMain(nb, first);
  }

  #attach(session: Session, role: 'initiator' | 'responder'): Neighbor {
    const nb: Neighbor = {
      peerId: session.farId,
      session,
      role,
      mainOut: null,
      mainIn: null,
      verified: false,
      beganSent: false,
      reportSent: false,
      reportsHeard: 0,
      links: new Map(),
      connectedAt: Date.now(),
      bytesIn: 0,
      address: memberIdOf(Buffer.from(session.farId, 'hex')),
      messagesOut: null,
      reportFlows: new Set(),
    };
    this.#neighbors.set(nb.peerId, nb);
    session.onRecvFlow = (flow) => this.#onFlow(nb, flow);
    session.onClose = () => this.#lost(nb);
    const timer = setTimeout(() => {
      if (!nb.verified && session.isOpen) {
        log.debug(`group ${this.groupIdHex.slice(0, 16)}...: ${nb.peerId.slice(0, 16)}... never completed the group handshake`);
        session.close(this.#socket.now());
      }
    }, HANDSHAKE_MS);
    timer.unref?.();
    if (role === 'initiator') this.#sendInit(nb);
    return nb;
  }

  #sendInit(nb: Neighbor): void {
    if (nb.mainOut || !nb.session.isOpen) return;
    const now = this.#socket.now();
    nb.mainOut = nb.session.openFlow(GR_MAIN, -1, PRIORITY);
    const init = encodeGroupInit({ groupIdHex: this.groupIdHex, key: groupKey(this.description, nb.session.farNonce), recipient: Buffer.from(nb.peerId, 'hex') });
    nb.mainOut.write(init, now);
    nb.mainOut.write(Buffer.from([MSG_DATA]), now);
    nb.mainOut.write(Buffer.from([MSG_BEGIN]), now);
    nb.beganSent = true;
    this.controlBytesOut += init.length + 2;
    this.#socket.kick();
  }

  #onFlow(nb: Neighbor, flow: RecvFlow): void {
    const md = flow.metadata;
    if (isGr(md, GR_MAIN) && flow.associatedFlowId < 0 && !nb.mainIn) {
      nb.mainIn = flow;
      flow.onMessage = (m) => this.#onMain(nb, m);
      flow.onComplete = () => nb.session.close(this.#socket.now());
      return;
    }
    if (isGr(md, GR_MEDIA_REPORT) && nb.mainOut && flow.associatedFlowId === nb.mainOut.id) {
      let link: StreamLink | null = null;
      flow.onMessage = (m) => {
        this.controlBytesIn += m.length;
        link = this.#onMediaReport(nb, flow, link, m);
      };
      flow.onComplete = () => this.#forgetVia(flow);
      nb.reportFlows.add(flow);
      return;
    }
    if (isGr(md, GR_MEDIA)) {
      // Fragments relayed to us: this member publishes and never plays; they are not kept.
      flow.onMessage = (m) => {
        nb.bytesIn += m.length;
      };
      return;
    }
    if (isGr(md, GR_MESSAGES)) {
      flow.onMessage = (m) => this.#onMessage(nb, m);
      return;
    }
    if (md.length >= 2 && md[0] === 0x47 && md[1] === 0x52) {
      // Other group flows (Flash posting 18/19): accepted, not acted on.
      flow.onMessage = (m) => {
        this.controlBytesIn += m.length;
      };
      return;
    }
    flow.reject(0);
  }

  #onMain(nb: Neighbor, m: Buffer): void {
    this.controlBytesIn += m.length;
    if (m.length === 0) return;
    try {
      switch (m[0]) {
        case MSG_INIT: {
          const init = decodeGroupInit(m);
          const expected = groupKey(this.description, nb.session.nearNonce);
          if (init.groupIdHex !== this.groupIdHex || !init.recipient.equals(this.#socket.endpoint.peerId) || !init.key.equals(expected)) {
            throw new RtmfpError('ERR_RTMFP_BAD_GROUP_KEY', 'group init with another group, recipient or key');
          }
          const first = !nb.verified;
          nb.verified = true;
          if (nb.role === 'responder') this.#sendInit(nb);
          if (first) {
            this.#heard.delete(nb.peerId);
            log.debug(`group ${this.groupIdHex.slice(0, 16)}...: neighbour ${nb.peerId.slice(0, 16)}... (${nb.role})`);
            this.#emit('neighborConnect', nb.peerId);
          }
          return;
        }
        case MSG_BEGIN:
        case MSG_BEGIN_NEAREST:
          if (nb.verified && !nb.reportSent) this.#sendReport(nb);
          return;
        case MSG_REPORT: {
          if (!nb.verified) return;
          const r = decodeReport(m);
          if (r.seenAs) this.#seenAs = r.seenAs;
          for (const p of r.peers) {
            const id = p.peerId.toString('hex');
            if (id !== this.#ourPeerId() && !this.#neighbors.has(id) && p.secondsSinceHeard < 300) this.#heard.set(id, Date.now());
          }
          nb.reportsHeard++;
          // A report that was not an answer gets one (librtmfp's rule), then the streams are offered.
          if (nb.reportsHeard === 1 || !nb.reportSent) this.#sendReport(nb);
          if (nb.reportsHeard === 1) for (const p of this.#publishers) this.#offer(nb, p);
          return;
        }
        case MSG_DISCONNECT:
          // A neighbour with better neighbours asks us to go.
          nb.session.close(this.#socket.now());
          return;
        default:
          return;
      }
    } catch (err) {
      log.debug(`group ${this.groupIdHex.slice(0, 16)}...: ${nb.peerId.slice(0, 16)}...: ${(err as Error).message}`);
      nb.mainIn?.reject(0);
      nb.session.close(this.#socket.now());
    }
  }

  #sendReport(nb: Neighbor): void {
    if (!nb.mainOut || !nb.session.isOpen) return;
    nb.reportSent = true;
    const server: RtmfpAddress = { ...this.conn.session.address, origin: ORIGIN_RELAY };
    const others = Array.from(this.#neighbors.values()).filter((o) => o !== nb && o.verified);
    const msg = encodeReport({
      seenAs: { ...nb.session.address, origin: ORIGIN_REMOTE },
      addresses: this.#seenAs ? [server, { ...this.#seenAs, origin: ORIGIN_REMOTE }] : [server],
      peers: others.slice(0, 16).map((o) => ({
        peerId: Buffer.from(o.peerId, 'hex'),
        secondsSinceHeard: Math.min(299, Math.floor((Date.now() - o.connectedAt) / 1000)),
        addresses: [server, { ...o.session.address, origin: ORIGIN_REMOTE }],
      })),
    });
    nb.mainOut.write(msg, this.#socket.now());
    this.controlBytesOut += msg.length;
    this.#socket.kick();
  }

  /** Our media report flow for a publication, to a neighbour that reported (21 then a map). */
  #offer(nb: Neighbor, p: GroupPublisher): void {
    if (nb.links.has(p) || !nb.mainIn || !nb.session.isOpen) return;
    const reportOut = nb.session.openFlow(GR_MEDIA_REPORT, nb.mainIn.id, PRIORITY);
    const session = nb.session;
    const node = this;
    const link: StreamLink = {
      key: nb.peerId,
      publisher: p,
      pushMask: 0,
      lastMapped: 0,
      reportOut,
      mediaOut: null,
      sendReport(msg) {
        if (!this.reportOut?.isOpen) return false;
        node.controlBytesOut += msg.length;
        return this.reportOut.write(msg, node.#socket.now()) !== null;
      },
      sendFragment(msg) {
        if (!this.mediaOut?.isOpen || !session.isOpen) return false;
        // Media in a group is partially reliable like the live flows: a fragment past the window is not worth sending.
        return this.mediaOut.write(msg, node.#socket.now(), p.settings.windowDuration * 1000) !== null;
      },
    };
    nb.links.set(p, link);
    p.addLink(link, this.#socket.now());
    this.#socket.kick();
  }

  #onMediaReport(nb: Neighbor, flow: RecvFlow, link: StreamLink | null, m: Buffer): StreamLink | null {
    if (m.length === 0) return link;
    try {
      switch (m[0]) {
        case MSG_MEDIA_INFOS: {
          const infos = decodeMediaInfos(m);
          if ('end' in infos) {
            // The end of the publication this flow carried (ours echoed, or another member's).
            if (!link) this.#forgetVia(flow);
            return link;
          }
          for (const l of nb.links.values()) {
            if (!l.publisher.publicationKey.equals(infos.publicationKey)) continue;
            if (!l.mediaOut) l.mediaOut = nb.session.openFlow(GR_MEDIA, flow.id, PRIORITY - 1);
            return l;
          }
          const keyHex = infos.publicationKey.toString('hex');
          if (!this.#ownKeys.has(keyHex)) this.#heardPublication(nb, flow, infos.streamName, keyHex);
          return link;
        }
        case MSG_PUSH:
          if (link) link.pushMask = decodeSmall(m).value;
          return link;
        case MSG_PULL:
          if (link) link.publisher.onPull(link, decodeSmall(m).value);
          this.#socket.kick();
          return link;
        case MSG_MAP:
          return link; // a publisher holds everything it published; the neighbour's map changes nothing
        default:
          return link;
      }
    } catch (err) {
      log.debug(`group ${this.groupIdHex.slice(0, 16)}...: media report from ${nb.peerId.slice(0, 16)}...: ${(err as Error).message}`);
      return link;
    }
  }

  #lost(nb: Neighbor): void {
    if (this.#neighbors.get(nb.peerId) !== nb) return;
    this.#neighbors.delete(nb.peerId);
    for (const [p] of nb.links) p.removeLink(nb.peerId);
    for (const f of nb.reportFlows) this.#forgetVia(f);
    nb.reportFlows.clear();
    if (nb.verified) this.#emit('neighborDisconnect', nb.peerId);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Posts and routed messages (ssas's own formats, see GR_MESSAGES)

  readonly #postsSeen = new Map<string, number>();
  /** Bytes of posts and routed messages sent and received (NetGroup.info). */
  postingBytesOut = 0;
  postingBytesIn = 0;
  routingBytesOut = 0;
  routingBytesIn = 0;

  /** Our place on the ring. */
  get groupAddress(): Buffer {
    return memberIdOf(this.#socket.endpoint.peerId);
  }

  /** The neighbours' group addresses (for coverage and routing). */
  neighborAddresses(): Buffer[] {
    return Array.from(this.#neighbors.values())
      .filter((n) => n.verified)
      .map((n) => n.address);
  }

  #sendMessage(nb: Neighbor, msg: Buffer): boolean {
    if (!nb.verified || !nb.mainIn || !nb.session.isOpen) return false;
    nb.messagesOut ??= nb.session.openFlow(GR_MESSAGES, nb.mainIn.id, PRIORITY);
    const ok = nb.messagesOut.write(msg, this.#socket.now()) !== null;
    this.#socket.kick();
    return ok;
  }

  #seen(id: string): boolean {
    if (this.#postsSeen.has(id)) return true;
    this.#postsSeen.set(id, Date.now());
    if (this.#postsSeen.size > POST_MEMORY) this.#postsSeen.delete(this.#postsSeen.keys().next().value as string);
    return false;
  }

  /** NetGroup.post: the message id (SHA-256 of the AMF0 bytes, hex); every member gets it once. */
  post(message: Buffer): string {
    const id = createHash('sha256').update(message).digest();
    const hex = id.toString('hex');
    this.#seen(hex);
    const msg = Buffer.concat([Buffer.from([MSG_POST]), id, message]);
    for (const nb of this.#neighbors.values()) if (this.#sendMessage(nb, msg)) this.postingBytesOut += msg.length;
    return hex;
  }

  /** sendToNearest: to the member nearest `dest` (us, or forwarded); false when nobody nearer can be reached. */
  sendToNearest(dest: Buffer, message: Buffer): 'sent' | 'no route' {
    return this.#route(dest, this.#socket.endpoint.peerId, message, MAX_HOPS, true);
  }

  #route(dest: Buffer, origin: Buffer, message: Buffer, hops: number, local: boolean): 'sent' | 'no route' {
    let best: Neighbor | null = null;
    let bestD = ringDistance(this.groupAddress, dest);
    for (const nb of this.#neighbors.values()) {
      if (!nb.verified) continue;
      const d = ringDistance(nb.address, dest);
      if (d < bestD) {
        best = nb;
        bestD = d;
      }
    }
    if (!best) {
      // We are the nearest: delivered here.
      if (!local) for (const l of this.#listeners) l.sendTo?.(message, memberIdOf(origin).toString('hex'), origin.toString('hex'));
      return local ? 'no route' : 'sent';
    }
    if (hops <= 0) return 'no route';
    const msg = Buffer.concat([Buffer.from([MSG_ROUTE, hops - 1]), dest, origin, message]);
    if (!this.#sendMessage(best, msg)) return 'no route';
    this.routingBytesOut += msg.length;
    return 'sent';
  }

  /** sendToNeighbor / sendToAllNeighbors: to neighbours only (not forwarded). */
  sendToNeighbors(which: 'all' | 'increasing' | 'decreasing', message: Buffer): 'sent' | 'no route' {
    const nbs = Array.from(this.#neighbors.values()).filter((n) => n.verified);
    if (nbs.length === 0) return 'no route';
    let targets = nbs;
    if (which !== 'all') {
      const me = BigInt(`0x${this.groupAddress.toString('hex')}`);
      const dist = (n: Neighbor): bigint => {
        const a = BigInt(`0x${n.address.toString('hex')}`);
        return which === 'increasing' ? (a - me + RING) % RING : (me - a + RING) % RING;
      };
      targets = [nbs.reduce((x, y) => (dist(y) < dist(x) ? y : x))];
    }
    const msg = Buffer.concat([Buffer.from([MSG_NEIGHBOR]), this.#socket.endpoint.peerId, message]);
    let sent = false;
    for (const nb of targets) if (this.#sendMessage(nb, msg)) {
      sent = true;
      this.routingBytesOut += msg.length;
    }
    return sent ? 'sent' : 'no route';
  }

  #onMessage(nb: Neighbor, m: Buffer): void {
    if (!nb.verified || m.length < 1) return;
    switch (m[0]) {
      case MSG_POST: {
        if (m.length < 33) return;
        this.postingBytesIn += m.length;
        const id = m.subarray(1, 33).toString('hex');
        if (this.#seen(id)) return;
        const body = Buffer.from(m.subarray(33));
        // Only what hashes to its id is a post (a neighbour cannot put words in another's mouth).
        if (createHash('sha256').update(body).digest('hex') !== id) return;
        for (const l of this.#listeners) l.post?.(id, body, nb.peerId);
        for (const other of this.#neighbors.values()) if (other !== nb) this.#sendMessage(other, m);
        return;
      }
      case MSG_ROUTE: {
        if (m.length < 66) return;
        this.routingBytesIn += m.length;
        this.#route(m.subarray(2, 34), m.subarray(34, 66), Buffer.from(m.subarray(66)), Math.min(m[1]!, MAX_HOPS), false);
        return;
      }
      case MSG_NEIGHBOR: {
        if (m.length < 33) return;
        this.routingBytesIn += m.length;
        const origin = m.subarray(1, 33);
        if (origin.toString('hex') !== nb.peerId) return;
        for (const l of this.#listeners) l.sendTo?.(Buffer.from(m.subarray(33)), nb.address.toString('hex'), nb.peerId);
        return;
      }
    }
  }

  /** NetGroup.addNeighbor: reach this member now (through the server's introduction). */
  addNeighbor(peerId: string): boolean {
    if (!this.peerToPeer || !/^[0-9a-f]{64}$/.test(peerId)) return false;
    this.#connectTo(peerId);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Publications

  addPublisher(p: GroupPublisher): void {
    this.#publishers.add(p);
    this.#ownKeys.add(p.publicationKey.toString('hex'));
    if (this.#ownKeys.size > MAX_FOREIGN) this.#ownKeys.delete(this.#ownKeys.values().next().value as string);
    for (const nb of this.#neighbors.values()) if (nb.reportsHeard > 0) this.#offer(nb, p);
  }

  removePublisher(p: GroupPublisher): void {
    p.end();
    this.#publishers.delete(p);
    for (const nb of this.#neighbors.values()) {
      const l = nb.links.get(p);
      if (!l) continue;
      nb.links.delete(p);
      l.reportOut?.close();
      l.mediaOut?.close();
    }
    this.#socket.kick();
  }

  #tick(): void {
    if (this.#closed) return;
    if (this.conn.closed) {
      this.close();
      return;
    }
    const now = this.#socket.now();
    for (const p of this.#publishers) p.tick(now);
    if (now - this.#lastReportAt >= REPORT_EVERY_MS) {
      this.#lastReportAt = now;
      const verified = Array.from(this.#neighbors.values()).filter((n) => n.verified);
      if (verified.length > 0) this.#sendReport(verified[Math.floor(Math.random() * verified.length)]!);
    }
    // Members heard of but not connected: try again now and then.
    for (const [id, at] of this.#heard) if (Date.now() - at > 30_000) this.#heard.delete(id);
    this.#socket.kick();
  }

  /** One user less (a NetStream or NetGroup of this group closed); the last one leaves the group. */
  release(): void {
    if (--this.#users <= 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const p of Array.from(this.#publishers)) this.removePublisher(p);
    for (const nb of Array.from(this.#neighbors.values())) nb.session.close(this.#socket.now());
    this.#gcOut?.close();
    const nodes = bySocket.get(this.#socket);
    if (nodes?.get(this.groupIdHex) === this) nodes.delete(this.groupIdHex);
    this.#socket.kick();
  }
}
