/**
 * Real data sets (skipped with a message when absent, required under CI=true). The full evaluation
 * runs are commands (docs/evaluation.md); these tests check the protocols and the figures that the
 * documentation reports, on the full ADFA-LD and KubAnomaly sets (each well under a minute).
 */
import { describe, expect, it } from 'vitest';
import { evalAdfa } from '../../src/eval/adfa-eval.js';
import { evalKubAnomaly } from '../../src/eval/kubanomaly-eval.js';
import { listAdfa } from '../../src/sources/datasets/adfa.js';
import { requireDataset } from '../../src/util/datasets.js';

const adfa = requireDataset('adfa-ld');
const kub = requireDataset('kubanomaly', 'Data');

describe.skipIf(!adfa)('ADFA-LD', () => {
  it('lists 833 training, 4,372 validation and 746 attack traces of 6 types', () => {
    const t = listAdfa(adfa!);
    expect(t.filter((x) => x.group === 'training').length).toBe(833);
    expect(t.filter((x) => x.group === 'validation').length).toBe(4372);
    const attacks = t.filter((x) => x.group === 'attack');
    expect(attacks.length).toBe(746);
    expect(new Set(attacks.map((a) => a.attackType)).size).toBe(6);
  });

  it('n-gram LM beats the trivial detectors by a wide margin on the documented split', async () => {
    const run = await evalAdfa(adfa!, ['ngram-lm', 'flag-everything', 'flag-nothing'], {});
    const lm = run.output.algorithms[0].scenarios[0];
    expect(lm.name).toBe('all');
    // Measured 0.836 (docs/evaluation.md); the test guards against regressions.
    expect(lm.auc!).toBeGreaterThan(0.82);
    expect(lm.fpr!).toBeLessThan(0.08);
    const detail = run.details.find((d) => d.algorithm === 'ngram-lm' && d.scenario === 'all')!;
    expect(detail.counts).toEqual({ negatives: 2186, positives: 746 });
    expect(run.output.algorithms[1].scenarios[0].auc).toBe(0.5);
    expect(run.output.algorithms[2].scenarios[0].dr).toBe(0);
  }, 180_000);

  it('attack-instance units: 60 attack runs; AUC ≥ 0.95 against single normal traces, and the stricter size-matched normal runs reported', async () => {
    const single = await evalAdfa(adfa!, ['ngram-lm'], { unit: 'attack', normals: 'single' });
    const s = single.output.algorithms[0].scenarios[0];
    expect(single.details[0].counts).toEqual({ negatives: 2186, positives: 60 });
    // Measured 0.995 (docs/evaluation.md).
    expect(s.auc!).toBeGreaterThanOrEqual(0.95);
    expect(single.details[0].drAtFpr5!).toBeGreaterThanOrEqual(0.9);
    const matched = await evalAdfa(adfa!, ['ngram-lm'], { unit: 'attack' });
    // 2,186 normal test traces in runs of the 60 folders' sizes (5 to 28 traces, 746 in all).
    expect(matched.details[0].counts.positives).toBe(60);
    expect(matched.details[0].counts.negatives).toBe(176);
    // Measured 0.937: below the single-trace figure, above the trace-level one (0.836).
    expect(matched.output.algorithms[0].scenarios[0].auc!).toBeGreaterThan(0.9);
  }, 240_000);
});

describe.skipIf(!kub)('KubAnomaly', () => {
  it('kNN on log counts: ROC-AUC ≥ 0.95 and recall ≥ 0.9 at FPR ≤ 2% (time-ordered split, labels as given)', () => {
    const run = evalKubAnomaly(kub!, ['knn'], {});
    const all = run.output.algorithms[0].scenarios[0];
    expect(all.auc!).toBeGreaterThanOrEqual(0.95);
    const d = run.details.find((x) => x.algorithm === 'knn' && x.scenario === 'all')!;
    expect(d.drAtFpr2!).toBeGreaterThanOrEqual(0.9);
    // About 88% of the test windows are attacks: flag-everything would score F1 0.93.
    expect(d.counts.positives / (d.counts.positives + d.counts.negatives)).toBeGreaterThan(0.85);
  }, 180_000);
});
