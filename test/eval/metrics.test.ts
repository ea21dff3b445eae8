import { describe, expect, it } from 'vitest';
import {
  LidDsAccumulator,
  confusionAt,
  quantileSorted,
  rocAuc,
  thresholdFrom,
  tprAtFpr,
} from '../../src/eval/metrics.js';

describe('metrics', () => {
  it('ROC-AUC equals the share of (positive, negative) pairs ranked right, ties counting half', () => {
    // Positives 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5)(0.9>0.1)(0.4<0.5)(0.4>0.1) → 3/4.
    expect(rocAuc([0.9, 0.4, 0.5, 0.1], [1, 1, 0, 0])).toBeCloseTo(0.75, 12);
    // One tie between a positive and a negative: (0.5=0.5 → 1/2) + (0.5>0.1) = 1.5 / 2.
    expect(rocAuc([0.5, 0.5, 0.1], [1, 0, 0])).toBeCloseTo(0.75, 12);
    expect(rocAuc([1, 1, 1], [1, 0, 0])).toBe(0.5);
    expect(rocAuc([1, 2], [0, 0])).toBeNaN();
  });

  it('TPR at a bounded FPR', () => {
    // Sorted: 0.9(+) 0.8(-) 0.7(+) 0.6(+) 0.1(-). With FPR ≤ 0 only 0.9 → 1/3; FPR ≤ 0.5 → 3/3.
    const s = [0.9, 0.8, 0.7, 0.6, 0.1];
    const y = [1, 0, 1, 1, 0];
    expect(tprAtFpr(s, y, 0)).toBeCloseTo(1 / 3, 12);
    expect(tprAtFpr(s, y, 0.5)).toBe(1);
  });

  it('confusion counts use score > threshold', () => {
    const m = confusionAt([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], 0.5);
    expect([m.tp, m.fn, m.fp, m.tn]).toEqual([1, 1, 0, 2]);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
    expect(m.fpr).toBe(0);
  });

  it('thresholds: max and linear quantile', () => {
    expect(thresholdFrom([3, 1, 2], 'max')).toBe(3);
    // numpy.quantile([1,2,3,4], 0.5) = 2.5; 0.9 → 1 + 0.9*3 = 3.7.
    expect(thresholdFrom([4, 1, 3, 2], 'q0.5')).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 12);
    expect(() => thresholdFrom([1], 'p99')).toThrow(/unknown threshold/);
  });

  it('LID-DS protocol: DR, consecutive false alarms, latency', () => {
    const acc = new LidDsAccumulator();
    // Normal recording: alarms at calls 2,3 (one run) and 5 (second run) → CFA 2.
    acc.beginRecording(undefined);
    [false, true, true, false, true].forEach((a, i) => acc.call(i * 1e6, a));
    acc.endRecording();
    // Exploit at 10 ms: a false alarm at 5 ms (run 3), hit at 12 ms → latency 2 ms.
    acc.beginRecording(10e6);
    acc.call(5e6, true);
    acc.call(8e6, false);
    acc.call(10e6, false);
    acc.call(12e6, true);
    acc.endRecording();
    // Exploit never detected.
    acc.beginRecording(1e6);
    acc.call(2e6, false);
    acc.endRecording();
    const r = acc.result();
    expect(r.dr).toBe(0.5);
    expect(r.cfa).toBe(3);
    expect(r.latencyMs).toBe(2);
    expect([r.tp, r.fn, r.fp, r.tn]).toEqual([1, 2, 4, 3]);
  });
});
