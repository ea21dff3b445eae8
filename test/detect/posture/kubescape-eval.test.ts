import { describe, expect, it } from 'vitest';
import { runKubescapeEval } from '../../../src/eval/kubescape.js';
import { requireDataset } from '../../../src/util/datasets.js';

// Absent data set: skipped (and says so); under CI=true its absence fails the run.
const root = requireDataset('kubescape-regolibrary');

describe.skipIf(!root)("agreement with Kubescape's rule test cases (data set)", () => {
  it('meets the targets: >= 95% agreement over >= 150 cases covering >= 60 rules, every difference kept on purpose', () => {
    const rep = runKubescapeEval(root!);
    const t = rep.totals;
    expect(t.cases).toBeGreaterThanOrEqual(150);
    expect(t.rules).toBeGreaterThanOrEqual(60);
    expect(t.agreement).toBeGreaterThanOrEqual(0.95);
    // every disagreement is one kept on purpose, with its reason; none listed agrees again
    expect(t.unexplained).toEqual([]);
    expect(t.stale).toEqual([]);
    // and beats the trivial detectors on the same cases
    expect(t.agree).toBeGreaterThan(t.flagAll);
    expect(t.agree).toBeGreaterThan(t.flagNone);
  });
});
