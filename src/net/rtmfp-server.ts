/**
 * The server side of RTMFP: a UDP socket whose sessions become NetConnections (one per unassociated
 * "TC" stream-0 flow, as tcserver does; normally one per session), handed to the server like RTMP
 * connections. It is also the rendezvous for peer introductions as FMS 4 was (RFC 7016 3.5.1.4): an
 * IHello for the peer id of a connected client is answered with a Redirect to that client's addresses
 * (observed address as "public", setPeerInfo addresses as "local"), and the client is sent a forwarded
 * IHello so it answers the initiator directly.
 */
import { getLogger } from '../logger';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, type RtmfpAddress } from '../rtmfp/handshake';
import type { RecvFlow } from '../rtmfp/recv-flow';
import { addressKey, type PeerAddress, type Session } from '../rtmfp/session';
import { parseTcMetadata } from '../rtmfp/tc';
import { epdForPeer, type Negotiation } from '../rtmfp/crypto';
import type { EndpointLimits } from '../rtmfp/endpoint';
import type { SessionLimits } from '../rtmfp/session';
import { RtmfpConnection } from './rtmfp-connection';
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

export class RtmfpServer {
  readonly socket: RtmfpSocket;
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
        conn.closedHook = prevClose;
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

  #introduce(fingerprint: Buffer, tag: Buffer, from: PeerAddress): RtmfpAddress[] | null {
    const set = this.#byPeerId.get(fingerprint.toString('hex'));
    const conn = set ? Array.from(set).find((c) => !c.closed) : undefined;
    if (!conn) return null;
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
