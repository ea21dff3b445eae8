import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../../src/detect/traces/sketch.js';

/** Exact lower nearest-rank quantile, the definition the sketch approximates. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

describe('QuantileSketch', () => {
  it('answers 1..1000 within 1 % at every quantile, with exact min, max and sum', () => {
    const s = new QuantileSketch({ alpha: 0.01 });
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (const x of [...xs].reverse()) s.add(x);
    expect(s.count).toBe(1000);
    expect(s.min).toBe(1);
    expect(s.max).toBe(1000);
    expect(s.sum).toBe(500_500);
    for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) {
      const want = exact(xs, q);
      expect(Math.abs(s.quantile(q) - want) / want, `q=${q}`).toBeLessThanOrEqual(0.01 + 1e-12);
    }
    // Known values: the median of 1..1000 is 500 (rank 499), p99 is 990 (rank 989).
    expect(s.quantile(0.5)).toBeCloseTo(500, -1);
    expect(Math.abs(s.quantile(0.99) - 990)).toBeLessThanOrEqual(9.9);
  });

  it('keeps its accuracy on latencies spread over nine decades (ns to s), with few buckets', () => {
    const s = new QuantileSketch({ alpha: 0.02 });
    const xs: number[] = [];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const x = Math.round(10 ** (1 + 8 * (seed / 2 ** 31))); // 10 ns .. 1 s, log-uniform
      xs.push(x);
      s.add(x);
    }
    xs.sort((a, b) => a - b);
    for (const q of [0.001, 0.1, 0.5, 0.9, 0.999])
      expect(Math.abs(s.quantile(q) - exact(xs, q)) / exact(xs, q)).toBeLessThanOrEqual(0.02 + 1e-12);
    // log_γ(10^8) with γ = 1.02/0.98: about 460 buckets (plus a little headroom), far under the bound.
    expect(s.buckets).toBeLessThanOrEqual(520);
  });

  it('merges exactly: the merge of two halves answers as the whole', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const whole = new QuantileSketch();
    for (let i = 1; i <= 500; i++) {
      a.add(i * 3);
      b.add(i * 1000);
      whole.add(i * 3);
      whole.add(i * 1000);
    }
    a.merge(b);
    for (const q of [0, 0.3, 0.5, 0.77, 1]) expect(a.quantile(q)).toBe(whole.quantile(q));
    expect(a.count).toBe(1000);
    expect(() => a.merge(new QuantileSketch({ alpha: 0.05 }))).toThrow(/different accuracy/);
  });

  it('stays within its bucket bound, folding the lowest values and keeping the high quantiles', () => {
    const s = new QuantileSketch({ alpha: 0.01, maxBuckets: 64 });
    for (let i = 0; i < 10_000; i++) s.add(1 + i * 100);
    expect(s.buckets).toBeLessThanOrEqual(64);
    expect(
      Math.abs(
        s.quantile(0.99) -
          exact(
            Array.from({ length: 10_000 }, (_, i) => 1 + i * 100),
            0.99,
          ),
      ) / 989_901,
    ).toBeLessThanOrEqual(0.01);
  });

  it('counts zeros and sub-minimum values apart, ignores NaN and negatives', () => {
    const s = new QuantileSketch({ minValue: 1 });
    for (const x of [0, 0, 0, 5, NaN, -3, Infinity]) s.add(x);
    expect(s.count).toBe(4);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(1)).toBe(5);
    expect(new QuantileSketch().quantile(0.5)).toBeNaN();
  });
});
