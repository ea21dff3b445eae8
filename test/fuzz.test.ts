/**
 * The fuzz targets (test/fuzz/targets.ts) with a fixed seed and a few runs each, and every stored
 * regression case in test/fuzz/corpus/. Long runs with random seeds: `npm run fuzz -- all --minutes N`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { corpusCases } from './fuzz/corpus.js';
import { TARGETS, type FuzzInput } from './fuzz/targets.js';

const SEED = 20_240_501;
const RUNS = 120;

describe('fuzz targets, seeded', () => {
  for (const t of TARGETS) {
    it(`${t.name}: returns or fails with its own error and place, in bounded time`, () => {
      fc.assert(
        fc.property(t.inputs, (input: FuzzInput) => t.run(input)),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }
});

describe('fuzz regression corpus', () => {
  const cases = corpusCases();
  it('names only known targets', () => {
    const names = new Set(TARGETS.map((t) => t.name));
    expect(cases.filter((c) => !names.has(c.target)).map((c) => c.file)).toEqual([]);
  });
  for (const c of cases) {
    const t = TARGETS.find((x) => x.name === c.target);
    if (t) it(`${c.target}: ${c.file.slice(c.file.lastIndexOf('/') + 1)}`, () => t.run(c.input));
  }
});
