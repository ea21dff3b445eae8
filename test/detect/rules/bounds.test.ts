import { describe, expect, it } from 'vitest';
import { loadRuleSources, RuleLoadError } from '../../../src/detect/rules/loader.js';
import { RuleEngine } from '../../../src/detect/rules/engine.js';
import { MAX_CONDITION_DEPTH } from '../../../src/detect/rules/ast.js';
import type { VigieEvent } from '../../../src/model/event.js';

// Rule files built to exhaust the loader: deep nesting, long macro chains, macros used twice by the
// next one. Each must be refused with its place (file, line, column, rule or macro) or load quickly.

const CREATE: VigieEvent = {
  id: 'x',
  kind: 'k8s_audit',
  ts: 1_700_000_000_000_000_000n,
  source: 't',
  audit: { kind: 'Event', auditID: 'a1', stage: 'ResponseComplete', verb: 'create' },
};

function rule(condition: string, name = 'r'): string {
  return `- rule: ${name}\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: WARNING\n  source: k8s_audit\n`;
}

/** m0 is a comparison; m(i) uses m(i-1) through `body`. */
function macros(n: number, body: (prev: string) => string): string {
  let s = '- macro: m0\n  condition: ka.verb = create\n';
  for (let i = 1; i < n; i++) s += `- macro: m${i}\n  condition: ${body(`m${i - 1}`)}\n`;
  return s;
}

function loadError(content: string): RuleLoadError {
  try {
    loadRuleSources([{ name: 'deep.yaml', content }]);
  } catch (e) {
    expect(e).toBeInstanceOf(RuleLoadError);
    return e as RuleLoadError;
  }
  throw new Error('loaded');
}

function skippedOne(content: string): { where: { file: string; line: number; col: number }; reason: string } {
  const r = loadRuleSources([{ name: 'deep.yaml', content }], { skipUnknown: true });
  expect(r.skipped).toHaveLength(1);
  return r.skipped[0];
}

describe('nesting bounds', () => {
  it('refuses 4,000 nested parentheses with the file, line, column and rule', () => {
    const src = rule(`${'('.repeat(4000)}ka.verb = create${')'.repeat(4000)}`);
    const e = loadError(src);
    // "  condition: " is 14 columns; the 257th parenthesis is the one too many.
    expect(e.message).toBe(
      `deep.yaml:3:${14 + MAX_CONDITION_DEPTH}: rule "r": condition: nests deeper than ${MAX_CONDITION_DEPTH} levels at offset ${MAX_CONDITION_DEPTH}`,
    );
    const s = skippedOne(src);
    expect(s.where).toEqual({ file: 'deep.yaml', line: 3, col: 14 + MAX_CONDITION_DEPTH });
    expect(s.reason).toMatch(/nests deeper than 256 levels/);
  });

  it('refuses 4,000 nested nots and transformer calls with their place', () => {
    expect(loadError(rule(`${'not '.repeat(4000)}ka.verb = create`)).message).toMatch(
      /^deep\.yaml:3:\d+: rule "r": condition: nests deeper than 256 levels/,
    );
    const t = rule(`${'tolower('.repeat(4000)}ka.verb${')'.repeat(4000)} = create`);
    expect(loadError(t).message).toMatch(/^deep\.yaml:3:\d+: rule "r": condition: nests deeper than 256/);
  });

  it('accepts a condition at the limit, and evaluates it', () => {
    const d = MAX_CONDITION_DEPTH - 1;
    const src = rule(`${'('.repeat(d)}ka.verb = create${')'.repeat(d)}`);
    const r = loadRuleSources([{ name: 'ok.yaml', content: src }]);
    expect(r.rules[0].active).toBe(true);
    expect(new RuleEngine(r).evaluate(CREATE)).toBe(1);
    const nots = rule(`${'not not '.repeat(100)}ka.verb = create`);
    expect(new RuleEngine(loadRuleSources([{ name: 'ok.yaml', content: nots }])).evaluate(CREATE)).toBe(1);
  });

  it('refuses 10,000 chained macros with the file, line, column, rule and macro', () => {
    const src = macros(10_000, (m) => m) + rule('m9999');
    const e = loadError(src);
    expect(e.message).toMatch(
      /^deep\.yaml:\d+:14: rule "r": in macro "m\d+": condition nests deeper than 256 levels \(counting the macros it uses\)$/,
    );
    // The line is the one of the named macro's condition.
    const macro = /in macro "(m\d+)"/.exec(e.message)![1];
    const lines = src.split('\n');
    expect(lines[e.where.line - 2]).toBe(`- macro: ${macro}`);
    const s = skippedOne(src);
    expect(s.where).toEqual(e.where);
    expect(s.reason).toMatch(/nests deeper than 256 levels/);
  });

  it('counts the levels a macro brings wherever it is used, whichever rule compiles it first', () => {
    const chain = macros(200, (m) => m);
    const deepUse = rule(`${'not not '.repeat(50)}m199`, 'deep');
    // The macro chain fits on its own; 100 `not`s more do not.
    for (const order of [rule('m199', 'shallow') + deepUse, deepUse + rule('m199', 'shallow')]) {
      const r = loadRuleSources([{ name: 'o.yaml', content: chain + order }], { skipUnknown: true });
      expect(r.skipped.map((s) => s.name)).toEqual(['deep']);
      expect(r.rules.find((x) => x.name === 'shallow')!.active).toBe(true);
    }
  });
});

describe('macro expansion is linear', () => {
  it('loads 28 macros, each (m(i-1) or m(i-1)), in well under a second, with the same meaning', () => {
    const src = macros(28, (m) => `(${m} or ${m})`) + rule('m27');
    const t0 = performance.now();
    const r = loadRuleSources([{ name: 'dup.yaml', content: src }]);
    const ms = performance.now() - t0;
    // Expanding the macros into each use would build 2^27 comparisons (over a minute).
    expect(ms).toBeLessThan(1000);
    expect(r.rules[0].active).toBe(true);
    expect([...r.rules[0].keys!]).toEqual(['create']);
    const engine = new RuleEngine(r);
    expect(engine.evaluate(CREATE)).toBe(1);
    expect(engine.evaluate({ ...CREATE, audit: { ...CREATE.audit!, verb: 'delete' } })).toBe(0);
  });

  it('keeps each rule its own index keys when macros share theirs', () => {
    const src =
      '- macro: verbs\n  condition: ka.verb in (create, delete)\n' +
      rule('verbs', 'a') +
      rule('verbs and ka.verb = create', 'b');
    const r = loadRuleSources([{ name: 'k.yaml', content: src }]);
    expect([...r.rules[0].keys!].sort()).toEqual(['create', 'delete']);
    expect([...r.rules[1].keys!]).toEqual(['create']);
    r.rules[0].keys!.add('patch');
    expect([...r.rules[1].keys!]).toEqual(['create']);
  });
});

describe('list expansion is bounded', () => {
  /** l0 holds `a`; l(i) names l(i-1) through `items`. */
  function lists(n: number, items: (prev: string) => string, reverse = false): string {
    const defs = ['- list: l0\n  items: [a]\n'];
    for (let i = 1; i < n; i++) defs.push(`- list: l${i}\n  items: [${items(`l${i - 1}`)}]\n`);
    if (reverse) defs.reverse();
    return defs.join('') + rule(`ka.verb in (l${n - 1})`);
  }

  it('refuses lists that double 28 times with the list named, instead of overflowing', () => {
    const e = loadError(lists(28, (l) => `${l}, ${l}`));
    expect(e.message).toMatch(/^deep\.yaml:\d+:3: list "l\d+": lists expand to more than 1000000 items/);
  });

  it('refuses 10,000 chained lists, in either order, with the list named', () => {
    for (const reverse of [false, true]) {
      const e = loadError(lists(10_000, (l) => l, reverse));
      expect(e.message).toMatch(
        /^deep\.yaml:\d+:3: list "l\d+": lists name each other deeper than 256 levels$/,
      );
    }
  });

  it('still expands lists that name lists', () => {
    const r = loadRuleSources([{ name: 'l.yaml', content: lists(10, (l) => `${l}, create`) }]);
    expect(r.lists.get('l9')).toEqual(['a', ...Array<string>(9).fill('create')]);
    expect(new RuleEngine(r).evaluate(CREATE)).toBe(1);
  });
});
