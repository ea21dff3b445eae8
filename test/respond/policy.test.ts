import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeAlert } from '../../src/model/alert.js';
import {
  PolicyError,
  globMatch,
  loadPolicy,
  parseDuration,
  parsePolicy,
  parseSize,
  selectRule,
} from '../../src/respond/policy.js';

const alert = (over: Partial<Parameters<typeof makeAlert>[0]> = {}) =>
  makeAlert(
    {
      rule: 'Terminal shell in container',
      priority: 'Critical',
      output: 'x',
      category: 'attack',
      detector: 'runtime',
      explanation: 'x',
      tags: ['shell', 'mitre_execution'],
      entities: { container: { id: 'abc', name: 'web-1', image: 'shop/web:1' } },
      ...over,
    },
    'h',
  );

function errorOf(text: string): PolicyError {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('policy loading', () => {
  it('normalizes durations, sizes, modes and inserts evidence before destructive steps', () => {
    const p = parsePolicy(
      `mode: enforce
guards:
  requireApproval: [kill]
  correlationWindow: 5m
rules:
  - name: r1
    match: { category: [attack], minPriority: error }
    actions:
      - observe
      - { action: throttle, params: { cpus: 0.5, memory: 128Mi }, ttl: 90s }
      - kill
`,
      'p.yaml',
    );
    expect(p.mode).toBe('enforce');
    expect(p.guards.correlationWindowMs).toBe(300_000);
    expect(p.guards.protectLabels).toEqual({ 'vigie.protect': 'true' });
    const steps = p.rules[0].actions;
    expect(steps.map((s) => s.action)).toEqual(['observe', 'throttle', 'capture_evidence', 'kill']);
    expect(steps[1].params).toEqual({ cpus: 0.5, memory: 128 * 1024 * 1024 });
    expect(steps[1].ttlMs).toBe(90_000);
    expect(steps[2].implicit).toBe(true);
    expect(steps[3].approval).toBe(true);
    expect(p.rules[0].match.minPriority).toBe('Error');
  });

  it('reports YAML syntax errors with file:line:column', () => {
    const e = errorOf('rules:\n  - name: a\n    actions: [pause\n');
    expect(e.file).toBe('p.yaml');
    expect(e.line).toBeGreaterThanOrEqual(3);
    expect(e.message).toMatch(/^p\.yaml:\d+:\d+: /);
  });

  it('reports schema errors at the offending node', () => {
    const e = errorOf('rules:\n  - name: a\n    actions:\n      - pause\n      - { action: explode }\n');
    expect([e.line, e.column]).toEqual([5, 19]);
    expect(e.message).toMatch(/rules\.0\.actions\.1/);
    const u = errorOf('rules:\n  - name: a\n    mach: { category: attack }\n    actions: [pause]\n');
    expect([u.line, u.column]).toEqual([3, 5]);
    expect(u.message).toMatch(/unknown key "mach"/);
    const m = errorOf(
      "rules:\n  - name: a\n    actions:\n      - { action: throttle, params: { memory: '1k' } }\n",
    );
    expect(m.line).toBe(4);
    expect(m.message).toMatch(/at least 6m/);
    const p = errorOf('rules:\n  - name: a\n    match:\n      minPriority: severe\n    actions: [pause]\n');
    expect([p.line, p.column]).toEqual([4, 20]);
  });

  it('loads the shipped default policy', () => {
    const p = loadPolicy(new URL('../../policies/default.yaml', import.meta.url).pathname);
    expect(p.mode).toBe('monitor');
    expect(p.rules.length).toBeGreaterThan(0);
    expect(readFileSync(new URL('../../policies/default.yaml', import.meta.url), 'utf8')).toMatch(
      /vigie.protect/,
    );
  });
});

describe('policy matching', () => {
  const p = parsePolicy(
    `exclusions:
  - container: ['build-*']
rules:
  - name: miners
    match: { rule: '*miner*', minPriority: Warning }
    actions: [throttle]
  - name: shells
    match: { category: attack, rule: ['Terminal shell*'], tags: [mitre_*], minPriority: Error }
    actions: [pause]
  - name: anything-critical
    match: { minPriority: Critical }
    actions: [observe]
`.replace('actions: [throttle]', 'actions: [{ action: throttle, params: { cpus: 0.1 } }]'),
    'p.yaml',
  );
  it('the first matching rule wins; fields AND, values OR', () => {
    expect(selectRule(p, alert()).rule?.name).toBe('shells');
    expect(selectRule(p, alert({ rule: 'Possible crypto miner', priority: 'Warning' })).rule?.name).toBe(
      'miners',
    );
    expect(selectRule(p, alert({ tags: ['other'] })).rule?.name).toBe('anything-critical');
    expect(selectRule(p, alert({ priority: 'Notice' })).rule).toBeUndefined();
  });
  it('exclusions come first', () => {
    expect(selectRule(p, alert({ entities: { container: { id: 'x', name: 'build-7' } } })).excludedBy).toBe(
      0,
    );
  });
  it('globs, durations and sizes', () => {
    expect(globMatch('web-*', 'web-1')).toBe(true);
    expect(globMatch('web-?', 'web-12')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration(2)).toBe(2000);
    expect(parseSize('64m')).toBe(67_108_864);
    expect(parseSize('1g')).toBe(1_073_741_824);
    expect(parseSize(4096)).toBe(4096);
  });
});

describe('built-in policy', () => {
  it('is the shipped default policy, in monitor mode', async () => {
    const { builtinPolicy, DEFAULT_POLICY_FILE } = await import('../../src/respond/policy.js');
    const p = builtinPolicy();
    expect(p.source).toBe(DEFAULT_POLICY_FILE);
    expect(p.mode).toBe('monitor');
    expect(p.guards.requireApproval).toEqual(['stop', 'kill', 'evict', 'delete_pod', 'scale_zero']);
    expect(p.guards.protectNamespaces).toEqual(['kube-system', 'vigie']);
  });
});
