/**
 * Two RTMFP endpoints wired to each other in memory with a virtual clock: what one transmits the other
 * receives on the next `step`, optionally lost, duplicated or reordered by a seeded random source. Tests
 * of the protocol core run on it without sockets or waiting.
 */
import { Endpoint, type EndpointOptions } from '../../src/rtmfp/endpoint';
import type { PeerAddress } from '../../src/rtmfp/session';

export interface Impairment {
  loss?: number;
  duplicate?: number;
  reorder?: number;
  /** ms of one-way delay. */
  delay?: number;
}

interface InFlight {
  at: number;
  to: 'a' | 'b';
  data: Buffer;
  from: PeerAddress;
}

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export class Loopback {
  now = 1_000_000;
  readonly a: Endpoint;
  readonly b: Endpoint;
  readonly addrA: PeerAddress = { address: '10.0.0.1', port: 1000, family: 4 };
  readonly addrB: PeerAddress = { address: '10.0.0.2', port: 1935, family: 4 };
  #queue: InFlight[] = [];
  impair: Impairment = {};
  readonly random: () => number;
  delivered = 0;
  dropped = 0;

  constructor(opts: { a?: Partial<EndpointOptions>; b?: Partial<EndpointOptions>; seed?: number } = {}) {
    this.random = rng(opts.seed ?? 1);
    const mk = (self: 'a' | 'b', extra: Partial<EndpointOptions>): Endpoint =>
      new Endpoint({
        acceptsUrls: self === 'b',
        onWork: () => {},
        ...extra,
        now: this.now,
        transmit: (d, _to) => this.#send(self === 'a' ? 'b' : 'a', d, self === 'a' ? this.addrA : this.addrB),
      });
    this.a = mk('a', opts.a ?? {});
    this.b = mk('b', opts.b ?? {});
  }

  #send(to: 'a' | 'b', data: Buffer, from: PeerAddress): void {
    const imp = this.impair;
    if (imp.loss && this.random() < imp.loss) {
      this.dropped++;
      return;
    }
    let at = this.now + (imp.delay ?? 1);
    if (imp.reorder && this.random() < imp.reorder) at += 1 + Math.floor(this.random() * 20);
    this.#queue.push({ at, to, data: Buffer.from(data), from });
    if (imp.duplicate && this.random() < imp.duplicate) this.#queue.push({ at: at + 1, to, data: Buffer.from(data), from });
  }

  /** Advances the clock by `ms` in 1 ms steps, delivering datagrams and running timers. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now++;
      this.#deliverDue();
      this.a.runTimers(this.now);
      this.b.runTimers(this.now);
      this.a.flush(this.now);
      this.b.flush(this.now);
    }
  }

  /** Runs until `done()` or `limitMs` passed; returns whether done. */
  until(done: () => boolean, limitMs = 30_000): boolean {
    const end = this.now + limitMs;
    while (this.now < end) {
      if (done()) return true;
      this.run(1);
    }
    return done();
  }

  #deliverDue(): void {
    if (this.#queue.length === 0) return;
    const due = this.#queue.filter((q) => q.at <= this.now);
    if (due.length === 0) return;
    this.#queue = this.#queue.filter((q) => q.at > this.now);
    for (const q of due) {
      this.delivered++;
      (q.to === 'a' ? this.a : this.b).receive(q.data, q.from, this.now);
    }
    this.a.flush(this.now);
    this.b.flush(this.now);
  }
}
