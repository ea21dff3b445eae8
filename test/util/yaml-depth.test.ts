import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadText } from '../../src/detect/posture/load.js';
import { loadRuleSources, RuleLoadError } from '../../src/detect/rules/loader.js';
import { parsePolicy, PolicyError } from '../../src/respond/policy.js';
import { lineColAt, MAX_YAML_DEPTH, yamlTooDeep } from '../../src/util/yaml-depth.js';

const nestedMaps = (n: number) => '{a: '.repeat(n) + '1' + '}'.repeat(n);

describe('YAML nesting bound', () => {
  it('passes every real manifest, policy and rule file of the repository', () => {
    const files = [
      'test/detect/posture/fixtures/helm-app/storefront.yaml',
      'policies/default.yaml',
      ...readdirSync('src/detect/posture/controls')
        .filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))
        .map((f) => join('src/detect/posture/controls', f)),
    ];
    for (const f of files) expect(yamlTooDeep(readFileSync(f, 'utf8')), f).toBeUndefined();
  });

  it('counts flow collections and compact sequences, not quoted text or comments', () => {
    expect(yamlTooDeep(nestedMaps(MAX_YAML_DEPTH))).toBeUndefined();
    expect(yamlTooDeep(nestedMaps(MAX_YAML_DEPTH + 1))?.depth).toBe(MAX_YAML_DEPTH + 1);
    expect(yamlTooDeep('['.repeat(300))).toBeDefined();
    expect(yamlTooDeep('- '.repeat(300) + 'x')).toBeDefined();
    expect(
      yamlTooDeep(`a: "${'{'.repeat(500)}"\nb: '${'['.repeat(500)}'\n# ${'{'.repeat(500)}\n`),
    ).toBeUndefined();
    // an apostrophe inside a plain word does not open a quoted scalar that would hide what follows
    expect(yamlTooDeep(`msg: don't\nv: ${nestedMaps(300)}`)).toBeDefined();
    // closing brackets bring the depth down: many shallow collections are fine
    expect(yamlTooDeep('{a: 1}\n'.repeat(10_000))).toBeUndefined();
  });

  it('gives the place where the limit was passed', () => {
    const text = `apiVersion: v1\nkind: ConfigMap\ndata:\n  x: ${nestedMaps(250)}\n`;
    const d = yamlTooDeep(text)!;
    expect(lineColAt(text, d.offset)).toEqual({ line: 4, col: 6 + 4 * MAX_YAML_DEPTH });
  });

  it('vigie scan refuses the document with file, line and column, and keeps the others', () => {
    const good =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c, image: nginx:1.25}]}\n';
    const bad = `apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: ${nestedMaps(400)}\n`;
    const r = loadText(`${good}---\n${bad}---\n${good}`, 'deep.yaml');
    expect(r.objects.map((o) => o.obj.metadata?.name)).toEqual(['ok', 'ok']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: 'deep.yaml', line: 9 });
    expect(r.errors[0].message).toMatch(/nested deeper than 200 levels/);
  });

  it('rule files and policies fail with their own error and place', () => {
    const rules = `- macro: m\n  condition: ${'['.repeat(300)}\n`;
    expect(() => loadRuleSources([{ name: 'deep.yaml', content: rules }])).toThrow(RuleLoadError);
    expect(() => loadRuleSources([{ name: 'deep.yaml', content: rules }])).toThrow(/deep\.yaml:2:/);
    const policy = `version: 1\nname: p\nrules: ${'['.repeat(300)}\n`;
    try {
      parsePolicy(policy, 'p.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      expect(String((e as Error).message)).toMatch(/p\.yaml:3:/);
    }
  });
});
