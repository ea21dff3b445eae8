import { describe, expect, it } from 'vitest';
import { NeuralLm } from '../../src/detect/anomaly/neural-lm.js';

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
});
