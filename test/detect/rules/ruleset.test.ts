import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { requireDataset } from '../../../src/util/datasets.js';
import { loadRuleFiles } from '../../../src/detect/rules/loader.js';
import { createSyscallCatalog, SyscallFieldState } from '../../../src/detect/rules/fields/syscall.js';

const dir = requireDataset('falco-rules');
const FILES = [
  'falco_rules.yaml',
  'falco-incubating_rules.yaml',
  'falco-sandbox_rules.yaml',
  'k8s_audit_rules.yaml',
];

describe.skipIf(!dir)('the four Falco rule files (data set)', () => {
  it('load, and every enabled rule that needs no unprovided field is active', () => {
    const r = loadRuleFiles(FILES.map((f) => join(dir!, f)));
    expect(r.skipped).toEqual([]);
    const unprovided = new Set(
      createSyscallCatalog(new SyscallFieldState())
        .all()
        .filter((f) => !f.provided)
        .map((f) => f.name),
    );
    for (const rule of r.rules) {
      if (!rule.enabled) continue;
      const needs = rule.unprovided;
      for (const f of needs) expect(unprovided.has(f)).toBe(true);
      expect(rule.active).toBe(needs.length === 0);
    }
    const k8s = r.rules.filter((x) => x.source === 'k8s_audit');
    expect(k8s.length).toBeGreaterThan(40);
    expect(k8s.filter((x) => x.enabled).every((x) => x.active)).toBe(true);
    expect(r.rules.filter((x) => x.active && x.source === 'syscall').length).toBeGreaterThan(50);
  });
});
