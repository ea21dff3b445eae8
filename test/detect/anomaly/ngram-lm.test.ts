import { describe, expect, it } from 'vitest';
import { NgramLm } from '../../../src/detect/anomaly/ngram-lm.js';

describe('n-gram language model (Witten-Bell over add-alpha unigram)', () => {
  // Training stream 0 1 0 1, order 2, V = 3, alpha = 1:
  // unigram c(0)=2 c(1)=2 N=4 → P0(w) = (c+1)/7; contexts: h=0: c=2 T=1 (→1 twice); h=1: c=1 T=1 (→0).
  function model(): NgramLm {
    const m = new NgramLm({ n: 2, V: 3, alpha: 1 });
    for (const c of [0, 1, 0, 1]) m.learn('t', c);
    return m;
  }

  it('scores negative log-likelihoods worked by hand', () => {
    const m = model();
    // First call, no history: P0(0) = 3/7.
    expect(m.score('s', 0)).toBeCloseTo(Math.log(7 / 3), 12);
    // 1 after 0: (c(0,1) + T(0)·P0(1)) / (c(0) + T(0)) = (2 + 3/7) / 3 = 17/21.
    expect(m.score('s', 1)).toBeCloseTo(Math.log(21 / 17), 12);
    // 2 after 1: (0 + 1·(1/7)) / (1 + 1) = 1/14.
    expect(m.score('s', 2)).toBeCloseTo(Math.log(14), 12);
    // 0 after 2: context 2 never seen → back to P0(0) = 3/7.
    expect(m.score('s', 0)).toBeCloseTo(Math.log(7 / 3), 12);
    expect(m.explain('s')).toEqual([2, 0]);
  });

  it('probabilities over the vocabulary sum to one for a seen context', () => {
    const m = model();
    let sum = 0;
    for (let w = 0; w < 3; w++) {
      m.resetStreams();
      m.score('x', 0);
      sum += Math.exp(-m.score('x', w));
    }
    expect(sum).toBeCloseTo(1, 12);
  });

  it('keeps histories per stream and scores ids outside the vocabulary as unseen', () => {
    const m = model();
    m.score('a', 0);
    m.score('b', 1);
    // For stream a the history is 0, so 1 is likely; stream b's history (1) does not leak in.
    expect(m.score('a', 1)).toBeCloseTo(Math.log(21 / 17), 12);
    // id 9 ≥ V: P0 = alpha / (N + alpha V) = 1/7, context 1: (0 + 1/7) / 2 = 1/14.
    expect(m.score('b', 9)).toBeCloseTo(Math.log(14), 12);
    expect(() => m.learn('t', 9)).toThrow(/outside/);
  });

  it('round-trips through JSON', () => {
    const m = model();
    const r = NgramLm.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    r.score('s', 0);
    expect(r.score('s', 1)).toBeCloseTo(Math.log(21 / 17), 12);
    expect(r.size).toBe(2);
    expect(r.memoryBytes()).toBeGreaterThan(0);
  });
});
