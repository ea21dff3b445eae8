import { describe, expect, it } from 'vitest';
import { requireDataset } from '../../../src/util/datasets.js';
import { runFalcoAuditEval } from '../../../src/eval/falco-audit.js';

const root = requireDataset('falco-k8s-audit');
const rules = requireDataset('falco-rules');

describe.skipIf(!root || !rules)('Falco k8s_audit regression tests (data set)', () => {
  it('every test of _labels.tsv passes: same rules, same counts, nothing on False tests', () => {
    const { results } = runFalcoAuditEval('first');
    expect(results.length).toBe(66);
    const failures = results.filter((r) => !r.pass).map((r) => `${r.test.name}: ${r.why}`);
    expect(failures).toEqual([]);
    // The malformed trace is rejected as not an audit event, as Falco does.
    const bad = results.find((r) => r.test.name === 'fal_01_003')!;
    expect(bad.events).toBe(0);
    expect(bad.parseErrors[0]).toMatch(/not recognized as a k8s audit event/);
  });

  it('also passes with rule_matching=all', () => {
    const { results } = runFalcoAuditEval('all');
    expect(results.filter((r) => !r.pass).map((r) => r.test.name)).toEqual([]);
  });
});
