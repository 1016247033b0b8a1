/**
 * A UDP impairment proxy on 127.0.0.1 for RTMFP tests: clients send to `port`, the proxy forwards to the
 * target through one upstream socket per client address (so the server sees distinct peers), and both
 * directions lose, duplicate and reorder datagrams at the rates given, from a seeded random source.
 */
import { createSocket, type Socket } from 'dgram';
import { LOOPBACK } from './ports';

export interface Impairment {
  /** Probability a datagram is dropped (0..1). */
  loss: number;
  /** Probability a datagram is sent twice. */
  duplicate: number;
  /** Probability a datagram is held back behind later ones (by up to `reorderMs`). */
  reorder: number;
  reorderMs: number;
}

export interface ImpairStats {
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

export class UdpImpairProxy {
  readonly #front: Socket;
  readonly #target: { host: string; port: number };
  readonly #upstreams = new Map<string, Socket>();
  impairment: Impairment;
  readonly stats: ImpairStats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  #seed: number;
  #closed = false;

  private constructor(front: Socket, target: { host: string; port: number }, impairment: Impairment, seed: number) {
    this.#front = front;
    this.#target = target;
    this.impairment = impairment;
    this.#seed = seed >>> 0 || 1;
    front.on('message', (msg, rinfo) => this.#fromClient(msg, rinfo.address, rinfo.port));
  }

  static start(targetPort: number, impairment: Partial<Impairment> = {}, seed = 12345): Promise<UdpImpairProxy> {
    const full: Impairment = { loss: 0, duplicate: 0, reorder: 0, reorderMs: 20, ...impairment };
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, LOOPBACK, () => resolve(new UdpImpairProxy(s, { host: LOOPBACK, port: targetPort }, full, seed)));
    });
  }

  get port(): number {
    return this.#front.address().port;
  }

  #random(): number {
    let s = this.#seed;
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    this.#seed = s;
    return s / 0x100000000;
  }

  #impaired(send: () => void): void {
    if (this.#closed) return;
    const imp = this.impairment;
    if (this.#random() < imp.loss) {
      this.stats.dropped++;
      return;
    }
    const copies = this.#random() < imp.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (this.#random() < imp.reorder) {
        this.stats.reordered++;
        setTimeout(() => !this.#closed && send(), 1 + Math.floor(this.#random() * imp.reorderMs)).unref?.();
      } else {
        send();
      }
    }
    this.stats.forwarded++;
  }

  #fromClient(msg: Buffer, address: string, port: number): void {
    const key = `${address}:${port}`;
    let up = this.#upstreams.get(key);
    if (!up) {
      up = createSocket('udp4');
      up.bind(0, LOOPBACK);
      up.on('message', (back) => this.#impaired(() => this.#front.send(back, port, address)));
      up.on('error', () => {});
      this.#upstreams.set(key, up);
    }
    const u = up;
    this.#impaired(() => u.send(msg, this.#target.port, this.#target.host));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#upstreams.values()) s.close();
    this.#upstreams.clear();
    await new Promise<void>((r) => this.#front.close(() => r()));
  }
}
