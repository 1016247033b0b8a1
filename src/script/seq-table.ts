/**
 * Values keyed by an increasing sequence number, for the bridge's waiters (tens of thousands set and
 * removed per second). Not a Map on purpose: measured with `npm run bench -- bridge`, a Map with that churn
 * kept most of the young generation alive through scavenges (V8 links each rehashed-away table to its
 * successor, so an old table promoted once keeps every newer one reachable for the scavenger) and the
 * process spent more CPU in garbage collection than in the calls: 0.47x -> see README Performance.
 *
 * A ring of slots indexed by seq & mask; when the slot of a new seq is still taken by an older one (more
 * than `capacity` outstanding), the ring doubles.
 */
export class SeqTable<T> {
  #seqs: number[];
  #values: (T | undefined)[];
  #mask: number;
  #size = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.#seqs = new Array<number>(cap).fill(-1);
    this.#values = new Array<T | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  set(seq: number, value: T): void {
    let i = seq & this.#mask;
    if (this.#seqs[i] !== -1 && this.#seqs[i] !== seq) {
      this.#grow(seq);
      i = seq & this.#mask;
    }
    if (this.#seqs[i] !== seq) this.#size++;
    this.#seqs[i] = seq;
    this.#values[i] = value;
  }

  get(seq: number): T | undefined {
    const i = seq & this.#mask;
    return this.#seqs[i] === seq ? this.#values[i] : undefined;
  }

  /** Removes and returns the value of seq. */
  take(seq: number): T | undefined {
    const i = seq & this.#mask;
    if (this.#seqs[i] !== seq) return undefined;
    const v = this.#values[i];
    this.#seqs[i] = -1;
    this.#values[i] = undefined;
    this.#size--;
    return v;
  }

  /** Removes everything, returning the values in sequence order. */
  drain(): T[] {
    const entries: [number, T][] = [];
    for (let i = 0; i < this.#seqs.length; i++) {
      if (this.#seqs[i] !== -1) entries.push([this.#seqs[i], this.#values[i] as T]);
      this.#seqs[i] = -1;
      this.#values[i] = undefined;
    }
    this.#size = 0;
    return entries.sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  }

  #grow(incoming: number): void {
    const seqs = this.#seqs;
    const values = this.#values;
    let cap = seqs.length * 2;
    for (;;) {
      const mask = cap - 1;
      const used = new Set<number>();
      let ok = !used.has(incoming & mask);
      used.add(incoming & mask);
      for (let i = 0; ok && i < seqs.length; i++) {
        if (seqs[i] === -1) continue;
        const j = seqs[i] & mask;
        if (used.has(j)) ok = false;
        used.add(j);
      }
      if (ok) break;
      cap *= 2;
    }
    this.#seqs = new Array<number>(cap).fill(-1);
    this.#values = new Array<T | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
    for (let i = 0; i < seqs.length; i++) {
      if (seqs[i] === -1) continue;
      const j = seqs[i] & this.#mask;
      this.#seqs[j] = seqs[i];
      this.#values[j] = values[i];
    }
  }
}
