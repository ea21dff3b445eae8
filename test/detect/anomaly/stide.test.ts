import { describe, expect, it } from 'vitest';
import { NgramSet, Stide } from '../../../src/detect/anomaly/stide.js';

function trained(): Stide {
  const s = new Stide({ n: 3, L: 4 });
  for (const c of [1, 2, 3, 1, 2, 3]) s.learn('a', c);
  return s;
}

describe('STIDE', () => {
  it('learns the distinct n-grams of a stream (1 2 3 1 2 3 → 123, 231, 312)', () => {
    const s = trained();
    expect(s.size).toBe(3);
    expect(s.has([1, 2, 3])).toBe(true);
    expect(s.has([2, 3, 1])).toBe(true);
    expect(s.has([3, 1, 2])).toBe(true);
    expect(s.has([3, 2, 1])).toBe(false);
  });

  it('scores mismatches over a locality frame of L n-grams (worked by hand)', () => {
    const s = trained();
    // Test stream 1 2 3 4 1 2 3 1: n-grams 123 (seen) 234 341 412 (unseen) 123 231 (seen).
    // Mismatch flags 0 1 1 1 0 0; ratio = (flags among the last 4) / 4.
    const calls = [1, 2, 3, 4, 1, 2, 3, 1];
    const expected = [
      { complete: false, unseen: false, ratio: 0 },
      { complete: false, unseen: false, ratio: 0 },
      { complete: true, unseen: false, ratio: 0 },
      { complete: true, unseen: true, ratio: 0.25 },
      { complete: true, unseen: true, ratio: 0.5 },
      { complete: true, unseen: true, ratio: 0.75 },
      { complete: true, unseen: false, ratio: 0.75 }, // window 0 1 1 1
      { complete: true, unseen: false, ratio: 0.5 }, // window 1 1 0 0
    ];
    calls.forEach((c, i) => {
      const r = s.score('b', c);
      expect({ complete: r.complete, unseen: r.unseen, ratio: r.ratio }, `call ${i}`).toEqual(expected[i]);
    });
    expect(s.explain('b')).toEqual({ ngram: [2, 3, 1], unseen: false, ratio: 0.5 });
  });

  it('keeps one sliding state per stream: interleaved threads do not mix', () => {
    const s = new Stide({ n: 2, L: 2 });
    // Thread 1 does 1 2 1 2, thread 2 does 7 8 7 8, interleaved call by call.
    const t1 = [1, 2, 1, 2];
    const t2 = [7, 8, 7, 8];
    for (let i = 0; i < 4; i++) {
      s.learn(1, t1[i]);
      s.learn(2, t2[i]);
    }
    // Per thread: 12, 21 and 78, 87. A single stream would have learned 17, 72, 28, 81 ... too.
    expect(s.size).toBe(4);
    expect(s.has([1, 7])).toBe(false);
    // Scoring interleaved the same way finds nothing unseen.
    for (let i = 0; i < 4; i++) {
      expect(s.score(1, t1[i]).unseen).toBe(false);
      expect(s.score(2, t2[i]).unseen).toBe(false);
    }
    // A single stream key would see 1 7 as an unseen pair.
    s.score('mixed', 1);
    expect(s.score('mixed', 7).unseen).toBe(true);
  });

  it('explains a short stream with what it has', () => {
    const s = trained();
    s.score(9, 5);
    expect(s.explain(9)).toEqual({ ngram: [5], unseen: false, ratio: 0 });
    expect(s.explain(10)).toBeUndefined();
  });

  it('round-trips through JSON', () => {
    const s = trained();
    const j = JSON.parse(JSON.stringify(s.toJSON()));
    const t = Stide.fromJSON(j);
    expect(t.size).toBe(3);
    expect(t.n).toBe(3);
    expect(t.L).toBe(4);
    expect(t.has([3, 1, 2])).toBe(true);
    expect(t.has([1, 2, 4])).toBe(false);
    expect(() => Stide.fromJSON({ ...j, count: 5 })).toThrow(/corrupt/);
  });

  it('grows the hash set past its initial capacity without losing n-grams', () => {
    const set = new NgramSet(2, 16);
    const ring = new Int32Array(2);
    for (let a = 0; a < 100; a++) {
      for (let b = 0; b < 10; b++) {
        ring[0] = a;
        ring[1] = b;
        expect(set.addRing(ring, 0)).toBe(true);
      }
    }
    expect(set.size).toBe(1000);
    ring[0] = 42;
    ring[1] = 7;
    expect(set.addRing(ring, 0)).toBe(false);
    // Circular read: start at 1 reads (7, 42), which was never added (b < 10, a = 7 → (7, 42) no).
    expect(set.hasRing(ring, 1)).toBe(false);
    ring[0] = 3;
    ring[1] = 9;
    expect(set.hasRing(ring, 0)).toBe(true);
    expect(set.memoryBytes()).toBeGreaterThan(1000 * 2 * 4);
    const s = new Stide({ n: 2, L: 3 });
    s.learn(0, 1);
    s.learn(0, 2);
    expect(s.memoryBytes()).toBeGreaterThan(0);
  });

  it('agrees with a plain set of n-grams on long interleaved streams, across growth and JSON', () => {
    let x = 7;
    const rnd = (k: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % k;
    };
    const n = 5;
    const s = new Stide({ n, L: 50, initialCapacity: 16 });
    const ref = new Set<string>();
    const hist = new Map<number, number[]>();
    // Calls drawn from a small alphabet with large ids too (the hash must not depend on small values).
    const call = (): number => (rnd(10) === 0 ? 100000 + rnd(5) : rnd(6));
    // The last n calls of thread t once c is appended (the reference n-gram).
    const slide = (t: number, c: number): number[] => {
      const h = hist.get(t) ?? [];
      h.push(c);
      if (h.length > n) h.shift();
      hist.set(t, h);
      return h;
    };
    for (let i = 0; i < 20000; i++) {
      const t = rnd(4);
      const c = call();
      const h = slide(t, c);
      const isNew = h.length === n && !ref.has(h.join(','));
      if (h.length === n) ref.add(h.join(','));
      expect(s.learn(t, c)).toBe(isNew);
    }
    expect(s.size).toBe(ref.size);
    const back = Stide.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    hist.clear();
    let unseen = 0;
    for (let i = 0; i < 20000; i++) {
      const t = rnd(4);
      const c = call();
      const h = slide(t, c);
      const want = h.length === n && !ref.has(h.join(','));
      if (want) unseen++;
      expect(s.score(t, c).unseen).toBe(want);
      expect(back.score(t, c).unseen).toBe(want);
      if (h.length === n) expect(s.has(h)).toBe(!want);
    }
    expect(unseen).toBeGreaterThan(100);
  });

  it('rejects bad parameters', () => {
    expect(() => new Stide({ n: 0, L: 3 })).toThrow(/n-gram length/);
    expect(() => new Stide({ n: 3, L: 0 })).toThrow(/locality frame/);
  });
});
