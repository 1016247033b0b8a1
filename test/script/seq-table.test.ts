import { SeqTable } from '../../src/script/seq-table';

describe('SeqTable (bridge waiters by sequence number)', () => {
  it('sets, gets and takes values by sequence', () => {
    const t = new SeqTable<string>(16);
    t.set(1, 'a');
    t.set(2, 'b');
    expect(t.size).toBe(2);
    expect(t.get(1)).toBe('a');
    expect(t.take(1)).toBe('a');
    expect(t.take(1)).toBeUndefined();
    expect(t.get(3)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  it('does not confuse sequences that share a slot: it grows instead', () => {
    const t = new SeqTable<number>(16);
    for (let s = 0; s < 1000; s++) t.set(s, s * 10);
    expect(t.size).toBe(1000);
    for (let s = 0; s < 1000; s++) expect(t.get(s)).toBe(s * 10);
    // a sequence 16 apart from a live one, after growth
    t.set(5000, 1);
    expect(t.get(5000)).toBe(1);
    expect(t.get(5000 - 16)).toBeUndefined();
  });

  it('keeps a long-outstanding entry while later sequences come and go', () => {
    const t = new SeqTable<string>(16);
    t.set(7, 'slow');
    for (let s = 8; s < 100_000; s++) {
      t.set(s, 'x');
      expect(t.take(s)).toBe('x');
    }
    expect(t.take(7)).toBe('slow');
    expect(t.size).toBe(0);
  });

  it('drains in sequence order and empties', () => {
    const t = new SeqTable<number>(16);
    for (const s of [40, 3, 17, 1, 90]) t.set(s, s);
    expect(t.drain()).toEqual([1, 3, 17, 40, 90]);
    expect(t.size).toBe(0);
    expect(t.get(40)).toBeUndefined();
  });

  it('handles sequence numbers past 2^32', () => {
    const t = new SeqTable<string>(16);
    const big = 2 ** 32 + 5;
    t.set(big, 'big');
    t.set(big + 1, 'next');
    expect(t.take(big)).toBe('big');
    expect(t.get(5)).toBeUndefined();
    expect(t.take(big + 1)).toBe('next');
  });
});
