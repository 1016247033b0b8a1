/**
 * The server side of RTMFP: a UDP socket whose sessions become NetConnections (one per unassociated
 * "TC" stream-0 flow, as tcserver does; normally one per session), handed to the server like RTMP
 * connections. It is also the rendezvous for peer introductions as FMS 4 was (RFC 7016 3.5.1.4): an
 * IHello for the peer id of a connected client is answered with a Redirect to that client's addresses
 * (observed address as "public", setPeerInfo addresses as "local"), and the client is sent a forwarded
 * IHello so it answers the initiator directly.
 */
import { getLogger } from '../logger';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_UNKNOWN, type RtmfpAddress } from '../rtmfp/handshake';
import type { RecvFlow } from '../rtmfp/recv-flow';
import { addressKey, type PeerAddress, type Session } from '../rtmfp/session';
import { parseTcMetadata } from '../rtmfp/tc';
import { epdForPeer, type Negotiation } from '../rtmfp/crypto';
import type { EndpointLimits } from '../rtmfp/endpoint';
import type { SessionLimits } from '../rtmfp/session';
import { RtmfpConnection } from './rtmfp-connection';
import { GC_METADATA, GroupDirectory, decodeGroupJoin, encodeGroupMember, isGroupChannel } from '../rtmfp/groups';
import type { SendFlow } from '../rtmfp/send-flow';
import { RtmfpSocket } from './rtmfp-socket';

const log = getLogger('rtmfp');

export interface RtmfpServerOptions {
  host: string;
  port: number;
  negotiation?: Negotiation;
  limits?: Partial<EndpointLimits>;
  sessionLimits?: Partial<SessionLimits>;
  /** A new NetConnection: the server attaches a client session to it. */
  onConnection(conn: RtmfpConnection): void;
}

/** One member's server channel: the client's GC flow and our flow answering it. */
interface GroupChannel {
  conn: RtmfpConnection;
  flow: RecvFlow;
  reply: SendFlow | null;
  groupId: Buffer | null;
}

/** Unknown peer ids asked for, by IHello tag: the first request is dropped, a repeat gets "gone". */
const UNKNOWN_PEER_MEMORY = 4096;
/** Group channels (so groups) one NetConnection may have open at once; more are refused. */
const MAX_GROUP_CHANNELS = 32;

export class RtmfpServer {
  readonly socket: RtmfpSocket;
  /** Groups and their members (the rendezvous role of FMS 4 for NetGroup). */
  readonly groups = new GroupDirectory<GroupChannel>();
  readonly #unknownAsked = new Map<string, number>();
  /** Open connections by the client's peer id (hex), for introductions. */
  readonly #byPeerId = new Map<string, Set<RtmfpConnection>>();
  readonly #opts: RtmfpServerOptions;
  /** Introductions made (for getStats and tests). */
  introductions = 0;

  private constructor(socket: RtmfpSocket, opts: RtmfpServerOptions) {
    this.socket = socket;
    this.#opts = opts;
  }

  static async listen(opts: RtmfpServerOptions): Promise<RtmfpServer> {
    let server: RtmfpServer | null = null;
    const socket = await RtmfpSocket.listen(opts.host, opts.port, {
      acceptsUrls: true,
      negotiation: opts.negotiation,
      limits: opts.limits,
      sessionLimits: opts.sessionLimits,
      onSession: (s) => server!.#onSession(s),
      onIntroduction: (fp, tag, from) => server!.#introduce(fp, tag, from),
    });
    server = new RtmfpServer(socket, opts);
    return server;
  }

  get port(): number {
    return this.socket.port;
  }

  /** Our fingerprint (NetConnection.farID as a Flash client sees it), hex. */
  get fingerprint(): string {
    return this.socket.endpoint.fingerprint.toString('hex');
  }

  #onSession(session: Session): void {
    const conns: RtmfpConnection[] = [];
    session.onRecvFlow = (flow: RecvFlow) => {
      for (const c of conns) if (c.acceptFlow(flow)) return;
      const md = parseTcMetadata(flow.metadata);
      if (md && md.streamId === 0 && flow.associatedFlowId < 0) {
        const conn = new RtmfpConnection({ role: 'server', session, socket: this.socket, ncRecv: flow, nearId: this.fingerprint });
        conns.push(conn);
        const key = session.farId;
        let set = this.#byPeerId.get(key);
        if (!set) this.#byPeerId.set(key, (set = new Set()));
        set.add(conn);
        const prevClose = (): void => {
          set!.delete(conn);
          if (set!.size === 0 && this.#byPeerId.get(key) === set) this.#byPeerId.delete(key);
          const i = conns.indexOf(conn);
          if (i >= 0) conns.splice(i, 1);
        };
        const channels: GroupChannel[] = [];
        conn.closedHook = () => {
          prevClose();
          for (const ch of channels) this.groups.leaveAll(ch);
          channels.length = 0;
        };
        conn.onOtherFlow = (f) => {
          if (!isGroupChannel(f.metadata)) return false;
          if (channels.length >= MAX_GROUP_CHANNELS) {
            log.debug(`${addressKey(session.address)}: more than ${MAX_GROUP_CHANNELS} group channels: refused`);
            f.reject(0);
            return true;
          }
          const ch: GroupChannel = { conn, flow: f, reply: null, groupId: null };
          channels.push(ch);
          f.onMessage = (m) => this.#onGroupMessage(ch, m);
          f.onComplete = () => {
            if (ch.groupId) this.groups.leave(ch.groupId, ch);
            ch.groupId = null;
            ch.reply?.close();
            const i = channels.indexOf(ch);
            if (i >= 0) channels.splice(i, 1);
          };
          return true;
        };
        conn.sharesSessionWith = () => conns.some((c) => c !== conn && !c.closed);
        try {
          this.#opts.onConnection(conn);
        } catch (err) {
          log.error(`new RTMFP connection from ${addressKey(session.address)}: ${(err as Error).message}`);
          conn.destroy();
        }
        return;
      }
      // NetGroup and other flows are not ours to take (yet): reject them.
      flow.reject(0);
    };
    session.onClose = (err) => {
      for (const c of conns.slice()) c.sessionClosed(err);
    };
  }

  /** A group member's server channel message: the join (01) is the only one clients send. */
  #onGroupMessage(ch: GroupChannel, m: Buffer): void {
    let groupId: Buffer;
    try {
      groupId = decodeGroupJoin(m);
    } catch (err) {
      log.debug(`${addressKey(ch.conn.session.address)}: group channel: ${(err as Error).message}`);
      ch.flow.reject(0);
      return;
    }
    if (ch.groupId) {
      if (ch.groupId.equals(groupId)) return;
      this.groups.leave(ch.groupId, ch);
    }
    ch.groupId = groupId;
    const peerId = Buffer.from(ch.conn.session.farId, 'hex');
    let tell;
    try {
      tell = this.groups.join(groupId, peerId, ch);
    } catch (err) {
      log.warn(`${addressKey(ch.conn.session.address)}: cannot join group ${groupId.toString('hex').slice(0, 16)}...: ${(err as Error).message}`);
      ch.flow.reject(0);
      return;
    }
    log.debug(`peer ${ch.conn.session.farId.slice(0, 16)}... joined group ${groupId.toString('hex').slice(0, 16)}... (${this.groups.members(groupId).length} members, ${tell.length} told)`);
    for (const member of tell) {
      const other = member.handle;
      other.reply ??= other.conn.openRawFlow(GC_METADATA, other.flow);
      other.reply?.write(encodeGroupMember(peerId), this.socket.now());
    }
    this.socket.kick();
  }

  #introduce(fingerprint: Buffer, tag: Buffer, from: PeerAddress): RtmfpAddress[] | null {
    const set = this.#byPeerId.get(fingerprint.toString('hex'));
    const conn = set ? Array.from(set).find((c) => !c.closed) : undefined;
    if (!conn) {
      // As MonaServer: the first request for an unknown peer is dropped (it may be connecting), a repeat of
      // the same request is told the peer is gone (one unspecified address, which librtmfp reads so).
      const key = tag.toString('hex');
      if (this.#unknownAsked.has(key)) {
        this.#unknownAsked.delete(key);
        return [{ address: '0.0.0.0', port: 0, family: 4, origin: ORIGIN_UNKNOWN }];
      }
      this.#unknownAsked.set(key, Date.now());
      if (this.#unknownAsked.size > UNKNOWN_PEER_MEMORY) this.#unknownAsked.delete(this.#unknownAsked.keys().next().value as string);
      return null;
    }
    const target = conn.session;
    const addrs: RtmfpAddress[] = [{ ...target.address, origin: ORIGIN_REMOTE }];
    for (const r of conn.reportedAddresses) {
      const a = parseHostPort(r);
      if (a && addressKey(a) !== addressKey(target.address)) addrs.push({ ...a, origin: ORIGIN_LOCAL });
    }
    // The target answers the initiator itself (forwarded IHello), the initiator tries the addresses.
    this.socket.endpoint.forwardIHello(target, epdForPeer(fingerprint), tag, { ...from, origin: ORIGIN_REMOTE });
    this.socket.kick();
    this.introductions++;
    log.debug(`introduced peer ${fingerprint.toString('hex').slice(0, 16)}... at ${addressKey(target.address)} to ${addressKey(from)}`);
    return addrs.slice(0, 8);
  }

  close(hard = false): Promise<void> {
    return this.socket.close(hard);
  }
}

/** "1.2.3.4:5", "[::1]:5" (setPeerInfo's form) into an address; null when it is not one. */
export function parseHostPort(s: string): PeerAddress | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) return null;
  return { address: m[1]!, port, family: m[1]!.includes(':') ? 6 : 4 };
}
