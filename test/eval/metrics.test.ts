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
  it('LidDsAccumulator.callBatch counts as call does, call by call, and returns the highest value', () => {
    const one = new LidDsAccumulator();
    const batch = new LidDsAccumulator();
    let x = 99;
    for (let rec = 0; rec < 6; rec++) {
      const exploit = rec % 2 === 1 ? 1000 + rec * 37 : undefined;
      one.beginRecording(exploit);
      batch.beginRecording(exploit);
      const n = 2000;
      const ts = new Float64Array(n);
      const v = new Float64Array(n);
      for (let c = 0; c < n; c++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        ts[c] = c;
        // Runs of alarms and quiet calls, more alarms after the exploit.
        v[c] = ((x >>> 8) % 100) / 100 + (exploit !== undefined && c > exploit ? 0.3 : 0);
      }
      let max = -Infinity;
      for (let c = 0; c < n; c++) {
        one.call(ts[c], v[c] > 0.8);
        max = Math.max(max, v[c]);
      }
      // Uneven batches.
      let got = -Infinity;
      for (let o = 0, k = 1; o < n; o += k, k = (k * 3 + 1) % 211)
        got = Math.max(got, batch.callBatch(ts.subarray(o), v.subarray(o), 0.8, Math.min(k, n - o)));
      expect(got).toBe(max);
      one.endRecording();
      batch.endRecording();
    }
    const r = one.result();
    expect(r.cfa).toBeGreaterThan(0);
    expect(r.dr).toBe(1);
    expect(batch.result()).toEqual(r);
  });

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
