import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LofDetector } from '../../../src/detect/anomaly/lof.js';
import { distinctRows, Standardizer } from '../../../src/detect/anomaly/standardize.js';

describe('local outlier factor (novelty)', () => {
  it('hand-computed example: training 0, 1, 3 on a line, k = 1', () => {
    // Nearest other row: 0→1 (1), 1→0 (1), 3→1 (2); k-distances 1, 1, 2;
    // lrd = 1 / reach-dist: lrd(0) = 1/max(1, 1) = 1, lrd(1) = 1, lrd(3) = 1/max(2, 1) = 0.5.
    const m = new LofDetector(1).fit(Float64Array.from([0, 1, 3]), 1);
    // x = 5: neighbour 3 at 2, reach max(2, 2) = 2, lrd(x) = 0.5 → LOF = 0.5 / 0.5 = 1.
    expect(m.scoreOne([5])).toBeCloseTo(1, 8);
    // x = 7: neighbour 3 at 4, reach 4, lrd(x) = 0.25 → LOF = 0.5 / 0.25 = 2.
    expect(m.scoreOne([7])).toBeCloseTo(2, 8);
    // x = 0.4: neighbour 0 at 0.4, reach max(0.4, 1) = 1, lrd(x) = 1 → LOF = 1 / 1 = 1.
    expect(m.scoreOne([0.4])).toBeCloseTo(1, 8);
    // x = 2.6: neighbour 3 at 0.4, reach max(0.4, 2) = 2, lrd(x) = 0.5 → LOF = 0.5 / 0.5 = 1.
    expect(m.scoreOne([2.6])).toBeCloseTo(1, 8);
  });

  it('k = 2 by hand: a query between two clusters of different density', () => {
    // Training 0, 1, 2 (dense) and 10, 14, 18 (sparse), k = 2.
    // k-distances: 0→{1,2}: 2; 1→{0,2}: 1; 2→{1,0}: 2; 10→{14, 2 or 18}: 8; 14→{10,18}: 4;
    // 18→{14,10}: 8 (10's second neighbour is 2 or 18, both at 8: either gives reach-dist 8).
    // lrd(0) = 1/mean(max(1,1), max(2,2)) = 1/1.5; lrd(1) = 1/mean(max(1,2), max(1,2)) = 1/2;
    // lrd(2) = 1/mean(max(1,1), max(2,2)) = 1/1.5; lrd(10) = 1/mean(max(4,4), max(8,8)) = 1/6;
    // lrd(14) = 1/mean(max(4,8), max(4,8)) = 1/8; lrd(18) = 1/6.
    const m = new LofDetector(2).fit(Float64Array.from([0, 1, 2, 10, 14, 18]), 1);
    // x = 6: neighbours 2 (4) and 10 (4); reach max(4, 2) = 4, max(4, 8) = 8; lrd(x) = 1/6;
    // LOF = mean(1/1.5, 1/6) / (1/6) = (2/3 + 1/6) / 2 · 6 = 2.5.
    expect(m.scoreOne([6])).toBeCloseTo(2.5, 8);
  });

  it('matches scikit-learn LocalOutlierFactor(novelty=True) on a saved example', () => {
    const fx = JSON.parse(readFileSync('test/fixtures/lof-sklearn.json', 'utf8')) as {
      k: number;
      dim: number;
      train: number[];
      queries: number[];
      lof: number[];
    };
    const m = new LofDetector(fx.k).fit(Float64Array.from(fx.train), fx.dim);
    const s = m.score(Float64Array.from(fx.queries), fx.dim);
    expect(s.length).toBe(fx.lof.length);
    fx.lof.forEach((v, i) => expect(s[i]).toBeCloseTo(v, 9));
    // The far point (10, -10, 0) is the clear outlier.
    expect(s[s.length - 1]).toBeGreaterThan(5);
  });

  it('k above the other training rows is capped, bad shapes are refused', () => {
    const m = new LofDetector(10).fit(Float64Array.from([0, 1, 3]), 1);
    expect(Number.isFinite(m.scoreOne([2]))).toBe(true);
    expect(() => new LofDetector(0)).toThrow(/positive integer/);
    expect(() => new LofDetector(2).fit(Float64Array.from([1, 2, 3]), 2)).toThrow(/whole number/);
    expect(() => m.score(Float64Array.from([1, 2]), 2)).toThrow(/fitted on 1 features/);
  });
});

describe('standardize', () => {
  it('centres and scales on the fitted rows; a constant feature keeps unit scale', () => {
    // Feature 0: 1, 3 → mean 2, sd 1; feature 1: 5, 5 → constant.
    const z = new Standardizer().fit(Float64Array.from([1, 5, 3, 5]), 2);
    expect(Array.from(z.transform(Float64Array.from([2, 5, 5, 7]), 2))).toEqual([0, 0, 3, 2]);
  });

  it('distinct rows keep the first of each repeated row, in order', () => {
    const d = distinctRows(Float64Array.from([1, 2, 3, 4, 1, 2, 5, 6, 3, 4]), 2);
    expect(Array.from(d)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
