import { describe, expect, it } from 'vitest';
import { runKubescapeEval } from '../../src/eval/kubescape.js';
import { requireDataset } from '../../src/util/datasets.js';

describe("agreement with Kubescape's rule test cases", () => {
  it('meets the targets: >= 95% agreement over >= 150 cases covering >= 60 rules', () => {
    const root = requireDataset('kubescape-regolibrary');
    if (!root) return;
    const rep = runKubescapeEval(root);
    const t = rep.totals;
    expect(t.cases).toBeGreaterThanOrEqual(150);
    expect(t.rules).toBeGreaterThanOrEqual(60);
    expect(t.agreement).toBeGreaterThanOrEqual(0.95);
    // and beats the trivial detectors on the same cases
    expect(t.agree).toBeGreaterThan(t.flagAll);
    expect(t.agree).toBeGreaterThan(t.flagNone);
  });
});
