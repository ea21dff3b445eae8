/**
 * Output templates: `%field` and `%field[arg]` rendered from the event, Falco-style. Values are joined
 * as `(a,b)` for list fields and shown as `<NA>` when the event does not carry them (or when Vigie
 * cannot provide the field at all).
 */
import type { VigieEvent } from '../../model/event.js';
import type { Compiler, CompiledCondition } from './compile.js';
import type { FieldValue, Getter } from './fields/types.js';

export type OutputValue = string | number | boolean | null;

export interface OutputTemplate {
  render(ev: VigieEvent): { text: string; fields: Record<string, OutputValue> };
  /** Field tokens as written (proc.name, jevt.value[/stage]). */
  fields: string[];
}

const TOKEN = /%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\[[^\]\s]*\])?/g;

export function formatValue(v: FieldValue): string {
  if (v === undefined) return '<NA>';
  if (typeof v === 'object') return `(${v.join(',')})`;
  return String(v);
}

function outputValue(v: FieldValue): OutputValue {
  if (v === undefined) return null;
  if (typeof v === 'object') return `(${v.join(',')})`;
  return v;
}

export function compileOutput(
  template: string,
  compiler: Compiler,
): { template: OutputTemplate; unknown: string[]; unprovided: string[] } {
  const text = template.replace(/\s*\n\s*/g, ' ').trim();
  const pieces: string[] = [];
  const getters: { key: string; get?: Getter }[] = [];
  const acc: CompiledCondition = {
    pred: () => false,
    unknown: new Set(),
    unprovided: new Set(),
    fields: new Set(),
  };
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    pieces.push(text.slice(last, m.index));
    const name = m[1];
    const arg = m[2] ? m[2].slice(1, -1) : undefined;
    const key = arg !== undefined ? `${name}[${arg}]` : name;
    let get: Getter | undefined;
    try {
      get = compiler.field({ name, arg, transformers: [], pos: 0 }, acc).get;
    } catch {
      acc.unknown.add(key);
    }
    getters.push({ key, get });
    last = m.index! + m[0].length;
  }
  pieces.push(text.slice(last));
  const n = getters.length;
  return {
    template: {
      fields: getters.map((g) => g.key),
      render(ev) {
        let out = pieces[0];
        const fields: Record<string, OutputValue> = {};
        for (let i = 0; i < n; i++) {
          const g = getters[i];
          const v = g.get ? g.get(ev) : undefined;
          fields[g.key] = outputValue(v);
          out += formatValue(v) + pieces[i + 1];
        }
        return { text: out, fields };
      },
    },
    unknown: [...acc.unknown],
    unprovided: [...acc.unprovided],
  };
}
