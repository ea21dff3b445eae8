import { describe, expect, it } from 'vitest';
import { quantileSorted } from '../../src/eval/metrics.js';
import { exceedance, finiteMedian, logMedianRatio, shiftScreen } from '../../src/eval/nezha-shift.js';
import type { NezhaDay } from '../../src/sources/metrics/nezha.js';

const scratch = new Float64Array(256);

describe('relative-shift statistic', () => {
  it('medians ignore NaN and clamp the range', () => {
    expect(finiteMedian(Float64Array.from([1, NaN, 3, 2]), 0, 4, scratch)).toBe(2);
    expect(finiteMedian(Float64Array.from([4, 1, 3, 2]), 0, 4, scratch)).toBe(2.5);
    expect(finiteMedian(Float64Array.from([1, NaN, 3]), -5, 2, scratch)).toBe(1);
    expect(finiteMedian(Float64Array.from([NaN, NaN]), 0, 2, scratch)).toBeNaN();
  });

  it('log ratio of the window median (after the skip) to the baseline median', () => {
    // Minutes 0-9 at 10; from minute 10: two minutes at 100 (skipped), then 5.
    const xs = Float64Array.from([...Array(10).fill(10), 100, 100, ...Array(8).fill(5)]);
    expect(logMedianRatio(xs, 10, 20, 60, 2, scratch, 10)).toBeCloseTo(Math.log(0.5), 12); // −0.6931
    // Without the skip the window [10, 20) has median 5 too (8 of 10 values), but [10, 13) has 100.
    expect(logMedianRatio(xs, 10, 13, 60, 0, scratch, 10)).toBeCloseTo(Math.log(10), 12);
    // Under minBaseline minutes of history: undefined.
    expect(logMedianRatio(xs, 9, 19, 60, 2, scratch, 10)).toBeNaN();
    // A baseline whose median is 0 (an idle pod): undefined, not infinite.
    const idle = Float64Array.from([...Array(10).fill(0), 1, 1, 1]);
    expect(logMedianRatio(idle, 10, 13, 60, 0, scratch, 10)).toBeNaN();
  });

  it('quantiles interpolate between order statistics', () => {
    const s = [1, 2, 3, 4, 5];
    expect(quantileSorted(s, 0.025)).toBeCloseTo(1.1, 12); // h = 0.1
    expect(quantileSorted(s, 0.975)).toBeCloseTo(4.9, 12); // h = 3.9
    expect(quantileSorted(s, 0.5)).toBe(3);
    expect(quantileSorted([7], 0.9)).toBe(7);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});

describe('shiftScreen', () => {
  it('flags a halving of a pod’s traffic against its own spread, and little else', () => {
    const base = 1_700_000_000_000_000_000n;
    const minute = 60_000_000_000n;
    const T = 200;
    const rows = Array.from({ length: T }, (_, t) => ({
      ts: base + BigInt(t) * minute,
      // ±5 % wobble; from minute 152 (two minutes after injection) to 159, half the bytes.
      metric: { netTx: t >= 152 && t < 160 ? 500 : 1000 * (1 + 0.05 * Math.sin(t)) },
    }));
    const day: NezhaDay = {
      dir: 'synthetic',
      pods: [{ pod: 'ts-x-service-5dc8d4f9fd-46997', service: 'ts-x-service', rows }],
      faults: [
        {
          injectNs: base + 150n * minute,
          injectTime: 't150',
          pod: 'ts-x-service-5dc8d4f9fd-46997',
          service: 'ts-x-service',
          type: 'return',
        },
      ],
      malformed: 0,
      errors: [],
    };
    const r = shiftScreen(day);
    expect(r.perFault[0].s.netTx).toBeCloseTo(Math.log(0.5), 2);
    expect(r.perFault[0].flagged).toEqual(['netTx']);
    expect(r.byType.return).toMatchObject({ faults: 1, anyColumn: 1 });
    expect(r.perFault[0].rank).toBe(1); // the only pod, and it exceeds its spread
    expect(r.byType.return.below).toEqual({ netTx: 1 });
    expect(r.byType.return.defined.requestsPerSec ?? 0).toBe(0); // no such column: never defined
    // Two 2.5 % tails: about 5 % of fault-free windows fall outside by construction (with ~180
    // windows, about five order statistics on each side, ties included).
    expect(r.faultFreeRate.netTx).toBeGreaterThan(0.02);
    expect(r.faultFreeRate.netTx).toBeLessThanOrEqual(0.08);
    expect(r.allPods.flaggedBlocks).toBeLessThanOrEqual(r.allPods.blocks);
  });
});

describe('exceedance', () => {
  it('is the distance outside the spread in spread widths, 0 inside', () => {
    // Spread [−0.2, 0.2] (width 0.4): s = −0.6931 lies 0.4931 below, 1.2328 widths.
    expect(exceedance(Math.log(0.5), -0.2, 0.2)).toBeCloseTo(0.49315 / 0.4, 4);
    expect(exceedance(0.6, -0.2, 0.2)).toBeCloseTo(1, 12);
    expect(exceedance(0.1, -0.2, 0.2)).toBe(0);
    expect(exceedance(NaN, -0.2, 0.2)).toBe(0);
  });
});
