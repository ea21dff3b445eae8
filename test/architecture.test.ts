/**
 * The layering and the no-module-state rules of eslint.config.js (docs/architecture.md) catch what
 * they are meant to, and src/ passes them: a stage importing a later stage, a top-level `let`, a
 * top-level mutable Map, and an import() of a computed path are errors.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function messages(code: string, filePath: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return r.messages.filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('architecture rules', () => {
  it('refuse an import from a later stage and allow one from an earlier stage', async () => {
    const up = await messages(
      "import { createResponder } from '../../respond/engine.js';\nexport const f = createResponder;\n",
      'src/detect/runtime/x.ts',
    );
    expect(up.join('\n')).toMatch(/no-restricted-imports: .*src\/detect may import only/);
    const down = await messages(
      "import { makeAlert } from '../../model/alert.js';\nexport const f = makeAlert;\n",
      'src/detect/runtime/x.ts',
    );
    expect(down).toEqual([]);
  });

  it('refuse module-level mutable state and computed dynamic imports, allow constant tables', async () => {
    const bad = await messages(
      [
        'export let counter = 0;',
        'const cache = new Map<string, number>();',
        'export const seen = new WeakMap<object, number>();',
        "export async function load(p: string) { return import('./' + p); }",
        'export const get = (k: string) => cache.get(k);',
      ].join('\n'),
      'src/sources/x.ts',
    );
    expect(bad.filter((m) => m.startsWith('no-restricted-syntax'))).toHaveLength(4);
    const ok = await messages(
      [
        "const KINDS: ReadonlySet<string> = new Set(['a']);",
        "export async function lazy() { return import('node:os'); }",
        'export const has = (k: string) => KINDS.has(k);',
      ].join('\n'),
      'src/sources/x.ts',
    );
    expect(ok).toEqual([]);
  });
});
