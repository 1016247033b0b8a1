/**
 * The UDP edge of RTMFP: one datagram socket driving one Endpoint (src/rtmfp/endpoint.ts) with the
 * clock, a single timer for the endpoint's earliest deadline, and a flush at the end of each I/O turn so
 * every session sends what the turn produced in as few packets as it can.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetError } from '../errors';
import { getLogger } from '../logger';
import { Endpoint, type EndpointOptions } from '../rtmfp/endpoint';
import type { PeerAddress } from '../rtmfp/session';

const log = getLogger('rtmfp-socket');

export type RtmfpEndpointSettings = Omit<EndpointOptions, 'transmit' | 'onWork' | 'now'>;

/** Socket buffers large enough for a burst of fan-out to hundreds of players (the kernel may cap them). */
const SOCKET_BUFFER = 4 * 1024 * 1024;

/**
 * dgram resolves every destination through dns.lookup, which answers even an IP literal on a later tick:
 * one tick per datagram. The endpoint only ever sends to IP addresses, answered here at once; a host name
 * still goes to dns.lookup.
 */
function literalLookup(address: string, family: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const fam = isIP(address);
  if (fam !== 0) callback(null, address, fam);
  else dnsLookup(address, { family: family === 6 ? 6 : 4 }, callback);
}

export class RtmfpSocket {
  readonly endpoint: Endpoint;
  readonly #socket: Socket;
  readonly family: 4 | 6;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #flushQueued = false;
  #closed = false;

  private constructor(socket: Socket, family: 4 | 6, settings: RtmfpEndpointSettings) {
    this.#socket = socket;
    this.family = family;
    this.endpoint = new Endpoint({
      ...settings,
      now: now(),
      transmit: (d, to) => this.#transmit(d, to),
      onWork: () => this.#queueFlush(),
    });
    socket.on('message', (msg, rinfo) => {
      if (this.#closed) return;
      const fam = rinfo.family === 'IPv6' ? 6 : 4;
      const address = fam === 6 && rinfo.address.startsWith('::ffff:') ? rinfo.address.slice(7) : rinfo.address;
      try {
        this.endpoint.receive(msg, { address, port: rinfo.port, family: address.includes(':') ? 6 : 4 }, now());
      } catch (err) {
        // The endpoint turns bad input into counters; anything else is our bug: log it, keep serving.
        log.error(`datagram from ${rinfo.address}:${rinfo.port}: ${(err as Error)?.stack ?? err}`);
      }
      this.#queueFlush();
    });
    socket.on('error', (err) => log.warn(`UDP socket: ${err.message}`));
  }

  /** Binds host:port (0 picks a free port). */
  static listen(host: string, port: number, settings: RtmfpEndpointSettings): Promise<RtmfpSocket> {
    const family = isIP(host) === 6 ? 6 : 4;
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER, lookup: literalLookup });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(new NetError(err.code === 'EADDRINUSE' ? 'ERR_NET_ADDRESS_IN_USE' : 'ERR_NET_LISTEN', `UDP ${host}:${port}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        resolve(new RtmfpSocket(socket, family, settings));
      });
    });
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get address(): string {
    return this.#socket.address().address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  now(): number {
    return now();
  }

  #transmit(d: Buffer, to: PeerAddress): void {
    if (this.#closed) return;
    // No callback: Node then sends synchronously without a completion tick per datagram. A datagram the
    // kernel refuses (full buffers) is lost like any other; RTMFP retransmits.
    this.#socket.send(d, to.port, to.address);
  }

  #queueFlush(): void {
    if (this.#flushQueued || this.#closed) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      if (this.#closed) return;
      guard(() => this.endpoint.flush(now()));
      this.#armTimer();
    });
  }

  #armTimer(): void {
    const at = this.endpoint.nextTimer();
    if (at >= this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      if (this.#closed) return;
      guard(() => this.endpoint.runTimers(now()));
      this.#armTimer();
    }, Math.max(0, Math.ceil(at - now())));
    this.#timer.unref?.();
  }

  /** Work was added from outside an I/O callback (a new flow, a connect): make sure it is handled. */
  kick(): void {
    this.#queueFlush();
  }

  /** Closes the sessions (orderly unless `hard`), then the socket after the last packets left. */
  async close(hard = false): Promise<void> {
    if (this.#closed) return;
    this.endpoint.close(now(), hard);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

function now(): number {
  return performance.now();
}

/** A bug of ours below the socket must not take the whole server down: log it and keep serving. */
function guard(work: () => void): void {
  try {
    work();
  } catch (err) {
    log.error(`RTMFP endpoint: ${(err as Error)?.stack ?? err}`);
  }
}

/** A socket for one outgoing connection (our client side): an ephemeral port of the target's family. */
export function openClientSocket(targetAddress: string, settings: RtmfpEndpointSettings): Promise<RtmfpSocket> {
  return RtmfpSocket.listen(isIP(targetAddress) === 6 ? '::' : '0.0.0.0', 0, settings);
}
