import { describe, expect, it } from 'vitest';
import { NeuralLm } from '../../../src/detect/anomaly/neural-lm.js';

describe('neural LM (feed-forward, tfjs wasm)', () => {
  it('learns a deterministic cycle: the next call becomes near certain, a break in the cycle improbable', async () => {
    // Cycle 0 1 2 3 repeated: with a context of 2 calls the next call is fully determined.
    const trace = Int32Array.from({ length: 4096 }, (_, i) => i % 4);
    const m = new NeuralLm({
      V: 4,
      k: 2,
      embed: 4,
      hidden: 16,
      epochs: 40,
      batch: 256,
      learningRate: 0.02,
      seed: 3,
    });
    await m.train([trace]);
    const [nll] = await m.nll([Int32Array.from([0, 1, 2, 3, 0, 1, 3])]);
    expect(nll.length).toBe(7);
    // In-cycle calls after a full context: probability > 0.9, i.e. NLL < ln(1/0.9) ≈ 0.105.
    for (const i of [2, 3, 4, 5]) expect(nll[i]).toBeLessThan(Math.log(1 / 0.9));
    // 3 after (0, 1) breaks the cycle: probability < 0.1, i.e. NLL > ln 10.
    expect(nll[6]).toBeGreaterThan(Math.log(10));
    m.dispose();
  }, 120_000);

  it('batched id scoring gives the same NLL as predict() on one-hot contexts, unseen calls included', async () => {
    // Pseudo-random traces over calls 0..29 (call 7 never appears in training).
    let s = 12345;
    const rnd = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s >>> 16;
    };
    const gen = (len: number, skip7: boolean): Int32Array =>
      Int32Array.from({ length: len }, () => {
        const v = rnd() % 30;
        return skip7 && v === 7 ? 8 : v;
      });
    const train = [gen(900, true), gen(700, true), gen(500, true)];
    const m = new NeuralLm({ V: 40, k: 5, embed: 6, hidden: 12, epochs: 2, batch: 128, seed: 2 });
    await m.train(train);
    expect(m.classes).toBe(29 + 1); // 29 calls seen + the unseen class
    // Short traces (contexts padded), a call never seen (7) and an id outside 0..V-1 (45).
    const test = [
      Int32Array.from([3, 7, 7, 1, 45, 2, 2, 9, 0]),
      gen(37, false),
      Int32Array.from([5]),
      gen(300, false),
    ];
    const fast = await m.nll(test);
    const ref = await m.nllOneHot(test);
    let compared = 0;
    test.forEach((t, i) => {
      expect(fast[i].length).toBe(t.length);
      for (let j = 0; j < t.length; j++) {
        expect(Math.abs(fast[i][j] - ref[i][j])).toBeLessThan(1e-4);
        compared++;
      }
    });
    expect(compared).toBe(9 + 37 + 1 + 300);
    // An unseen call is less likely than the seen calls on average.
    expect(fast[0][1]).toBeGreaterThan(fast[1].reduce((a, b) => a + b, 0) / fast[1].length);
    m.dispose();
  }, 120_000);

  it('is deterministic for a seed', async () => {
    const trace = Int32Array.from({ length: 3000 }, (_, i) => (i * 7 + (i >> 3)) % 11);
    const run = async (seed: number): Promise<Float64Array> => {
      const m = new NeuralLm({ V: 11, k: 4, embed: 4, hidden: 8, epochs: 1, batch: 200, seed });
      await m.train([trace]);
      const [v] = await m.nll([trace.subarray(0, 200)]);
      m.dispose();
      return v;
    };
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
  }, 120_000);
});
