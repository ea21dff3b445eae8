import { describe, expect, it } from 'vitest';
import { IsolationForest, averagePathLength } from '../../../src/detect/anomaly/iforest.js';
import { KnnDetector } from '../../../src/detect/anomaly/knn.js';

describe('isolation forest', () => {
  it('average path length c(n) as in Liu et al. / scikit-learn', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    // c(256) = 2(ln 255 + γ) − 2·255/256 = 10.2447...
    expect(averagePathLength(256)).toBeCloseTo(2 * (Math.log(255) + 0.5772156649015329) - 510 / 256, 12);
    expect(averagePathLength(256)).toBeCloseTo(10.2448, 3);
  });

  it('two training points: every tree isolates in one split, so every score is 2^-1', () => {
    // psi = 2, height limit 1: a point ends at depth 1 in a leaf of size ≤ 1, c(2) = 1 → s = 2^(-1/1).
    const f = new IsolationForest({ trees: 10, sampleSize: 2, seed: 3 }).fit(Float64Array.from([0, 10]), 1);
    expect(f.scoreOne([5])).toBeCloseTo(0.5, 12);
    expect(f.scoreOne([100])).toBeCloseTo(0.5, 12);
  });

  it('identical points cannot be split: depth 0, leaf of n, score 2^(-c(n)/c(n)) = 0.5', () => {
    const f = new IsolationForest({ trees: 5, sampleSize: 4 }).fit(
      Float64Array.from([1, 1, 1, 1, 1, 1, 1, 1]),
      2,
    );
    expect(f.scoreOne([1, 1])).toBeCloseTo(0.5, 12);
  });

  it('an outlier scores above inliers, reproducibly for a seed', () => {
    const data = new Float64Array(2 * 300);
    let x = 7;
    for (let i = 0; i < data.length; i++) {
      x = (x * 16807) % 2147483647;
      data[i] = (x / 2147483647) * 2 - 1;
    }
    const f = new IsolationForest({ trees: 100, seed: 42 }).fit(data, 2);
    const inlier = f.scoreOne([0, 0]);
    const outlier = f.scoreOne([8, 8]);
    expect(outlier).toBeGreaterThan(0.6);
    expect(inlier).toBeLessThan(0.5);
    const g = new IsolationForest({ trees: 100, seed: 42 }).fit(data, 2);
    expect(g.scoreOne([8, 8])).toBe(outlier);
    const h = IsolationForest.fromJSON(JSON.parse(JSON.stringify(f.toJSON())));
    expect(h.scoreOne([8, 8])).toBe(outlier);
  });
});

describe('kNN novelty score', () => {
  it('mean distance to the k nearest training rows', () => {
    const k = new KnnDetector(2).fit(Float64Array.from([0, 0, 3, 4, 10, 0]), 2);
    // From (0,0): distances 0, 5, 10 → mean of two nearest = 2.5.
    expect(k.scoreOne([0, 0])).toBeCloseTo(2.5, 12);
    // From (3,0): 3, 4, 7 → 3.5.
    expect(Array.from(k.score(Float64Array.from([3, 0]), 2))).toEqual([3.5]);
  });
});

import { ScoreEnsemble } from '../../../src/detect/anomaly/ensemble.js';

describe('score ensemble', () => {
  it('robust z: (s − median) / (1.4826·MAD), averaged over members', () => {
    // Member a validation 1,2,3,4,5: median 3, |dev| 2,1,0,1,2 → MAD 1 → scale 1.4826.
    // Member b validation 10,20,30: median 20, |dev| 10,0,10 → MAD 10 → scale 14.826.
    const e = new ScoreEnsemble(['a', 'b'], 'z').fit([
      [1, 2, 3, 4, 5],
      [10, 20, 30],
    ]);
    expect(e.standardise(0, 6)).toBeCloseTo(3 / 1.4826, 12);
    expect(e.combine([6, 50])).toBeCloseTo((3 / 1.4826 + 30 / 14.826) / 2, 12);
  });
  it('rank: empirical CDF with ties counting half, ordered past the maximum', () => {
    const e = new ScoreEnsemble(['a'], 'rank').fit([[1, 2, 2, 4]]);
    expect(e.standardise(0, 2)).toBeCloseTo((1 + 1) / 4, 12);
    expect(e.standardise(0, 0)).toBe(0);
    expect(e.standardise(0, 5)).toBeGreaterThan(e.standardise(0, 4.5));
    expect(e.standardise(0, 4.5)).toBeGreaterThan(e.standardise(0, 4));
  });
});
