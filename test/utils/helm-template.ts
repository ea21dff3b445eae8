/**
 * Renders a Helm chart's templates for tests, where the `helm` program is not installed: the subset
 * of Go templates that deploy/helm/vigie uses, and nothing else (anything outside it is an error, so
 * a template cannot silently render differently from Helm):
 *   text; `{{ pipeline }}`; trimming markers `{{-` and `-}}`; `{{/* comment *\/}}`;
 *   `{{ if p }} … {{ else if p }} … {{ else }} … {{ end }}`; `{{ range p }} … {{ end }}` (dot is
 *   the element inside); operands `.`, `.A.b`, `$`, `$.A.b`, "strings", numbers, true/false,
 *   `( pipeline )`; functions eq, ne, not, and, or, default, required, fail, quote, join, toYaml, toJson,
 *   indent, nindent; a missing value renders as the empty string (Helm's behaviour).
 * Values: the chart's values.yaml deep-merged with the overrides (maps merged, the rest replaced),
 * as `helm template --set`/`-f` do. The top-level object is { Values, Chart, Release }.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

type Value = unknown;
type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; p: Pipeline }
  | { t: 'if'; branches: { cond: Pipeline; body: Node[] }[]; otherwise: Node[] }
  | { t: 'range'; p: Pipeline; body: Node[] };
type Term =
  | { k: 'dot'; path: string[] }
  | { k: 'root'; path: string[] }
  | { k: 'lit'; v: Value }
  | { k: 'fn'; name: string }
  | { k: 'sub'; p: Pipeline };
type Pipeline = Term[][];

interface Action {
  body: string;
  trimLeft: boolean;
  trimRight: boolean;
}

function lex(src: string, file: string): (string | Action)[] {
  const out: (string | Action)[] = [];
  const re = /{{(-\s)?([\s\S]*?)(\s-)?}}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    out.push(src.slice(last, m.index));
    out.push({ body: m[2].trim(), trimLeft: !!m[1], trimRight: !!m[3] });
    last = re.lastIndex;
  }
  out.push(src.slice(last));
  // Trimming markers remove the whitespace (newlines included) next to the action.
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (typeof a === 'string') continue;
    if (a.trimLeft) out[i - 1] = (out[i - 1] as string).replace(/\s+$/, '');
    if (a.trimRight) out[i + 1] = (out[i + 1] as string).replace(/^\s+/, '');
  }
  if (out.some((x) => typeof x === 'string' && x.includes('{{'))) throw new Error(`${file}: unclosed action`);
  return out;
}

const FUNCS = new Set([
  'eq',
  'ne',
  'not',
  'and',
  'or',
  'default',
  'required',
  'fail',
  'quote',
  'join',
  'toYaml',
  'toJson',
  'indent',
  'nindent',
]);

function parsePipeline(text: string, file: string): Pipeline {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\(|\)|\||[^\s()|]+/g) ?? [];
  let i = 0;
  const pipeline = (): Pipeline => {
    const cmds: Term[][] = [[]];
    while (i < tokens.length && tokens[i] !== ')') {
      const tok = tokens[i++];
      if (tok === '|') cmds.push([]);
      else if (tok === '(') {
        const p = pipeline();
        if (tokens[i++] !== ')') throw new Error(`${file}: missing ) in "${text}"`);
        cmds[cmds.length - 1].push({ k: 'sub', p });
      } else cmds[cmds.length - 1].push(term(tok));
    }
    if (cmds.some((c) => c.length === 0)) throw new Error(`${file}: empty command in "${text}"`);
    return cmds;
  };
  const term = (tok: string): Term => {
    if (tok.startsWith('"')) return { k: 'lit', v: JSON.parse(tok) as string };
    if (/^-?\d+$/.test(tok)) return { k: 'lit', v: Number(tok) };
    if (tok === 'true' || tok === 'false') return { k: 'lit', v: tok === 'true' };
    if (tok === '.') return { k: 'dot', path: [] };
    if (tok.startsWith('.')) return { k: 'dot', path: tok.slice(1).split('.') };
    if (tok === '$') return { k: 'root', path: [] };
    if (tok.startsWith('$.')) return { k: 'root', path: tok.slice(2).split('.') };
    if (FUNCS.has(tok)) return { k: 'fn', name: tok };
    throw new Error(`${file}: "${tok}" is outside the template subset this renderer supports`);
  };
  const p = pipeline();
  if (i !== tokens.length) throw new Error(`${file}: unexpected ) in "${text}"`);
  return p;
}

function parseTemplate(src: string, file: string): Node[] {
  const items = lex(src, file);
  let i = 0;
  const block = (ends: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < items.length) {
      const it = items[i++];
      if (typeof it === 'string') {
        if (it) nodes.push({ t: 'text', s: it });
        continue;
      }
      const b = it.body;
      if (b.startsWith('/*')) {
        if (!b.endsWith('*/')) throw new Error(`${file}: unclosed comment`);
        continue;
      }
      const word = b.split(/\s+/, 1)[0];
      if (ends.includes(word)) {
        i--;
        return { nodes, end: word };
      }
      if (word === 'if') {
        const branches = [{ cond: parsePipeline(b.slice(2), file), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const r = block(['else', 'end']);
          branches[branches.length - 1].body = r.nodes;
          const closing = items[i++] as Action;
          if (r.end === 'end') break;
          const rest = closing.body.slice(4).trim();
          if (rest.startsWith('if ')) {
            branches.push({ cond: parsePipeline(rest.slice(3), file), body: [] });
            continue;
          }
          const e = block(['end']);
          otherwise = e.nodes;
          i++;
          break;
        }
        nodes.push({ t: 'if', branches, otherwise });
      } else if (word === 'range') {
        const p = parsePipeline(b.slice(5), file);
        const r = block(['end']);
        i++;
        nodes.push({ t: 'range', p, body: r.nodes });
      } else if (['else', 'end', 'with', 'define', 'template', 'include', 'block'].includes(word)) {
        throw new Error(`${file}: "${word}" is misplaced or outside the template subset`);
      } else nodes.push({ t: 'out', p: parsePipeline(b, file) });
    }
    if (ends.length) throw new Error(`${file}: missing {{ end }}`);
    return { nodes, end: '' };
  };
  return block([]).nodes;
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function lookup(v: Value, path: string[]): Value {
  let cur = v;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, Value>)[k];
  }
  return cur;
}

function call(name: string, args: Value[]): Value {
  const need = (n: number) => {
    if (args.length !== n) throw new Error(`${name} takes ${n} arguments, got ${args.length}`);
  };
  switch (name) {
    case 'eq':
      need(2);
      return args[0] === args[1];
    case 'ne':
      need(2);
      return args[0] !== args[1];
    case 'not':
      need(1);
      return !truthy(args[0]);
    case 'and':
      return args.reduce((a, b) => (truthy(a) ? b : a));
    case 'or':
      return args.reduce((a, b) => (truthy(a) ? a : b));
    case 'default':
      need(2);
      return truthy(args[1]) ? args[1] : args[0];
    case 'required':
      need(2);
      if (args[1] === undefined || args[1] === null || args[1] === '') throw new Error(String(args[0]));
      return args[1];
    case 'fail':
      need(1);
      throw new Error(String(args[0]));
    case 'join':
      need(2);
      if (!Array.isArray(args[1])) throw new Error('join of something that is not a list');
      return args[1].map(String).join(String(args[0]));
    case 'quote':
      need(1);
      return JSON.stringify(args[0] === undefined || args[0] === null ? '' : String(args[0]));
    case 'toYaml':
      need(1);
      return stringify(args[0]).replace(/\n$/, '');
    case 'toJson':
      need(1);
      return JSON.stringify(args[0]);
    case 'indent':
    case 'nindent': {
      need(2);
      const pad = ' '.repeat(Number(args[0]));
      const s = String(args[1])
        .split('\n')
        .map((l) => pad + l)
        .join('\n');
      return name === 'nindent' ? '\n' + s : s;
    }
  }
  throw new Error(`unknown function ${name}`);
}

function evalPipeline(p: Pipeline, dot: Value, root: Value): Value {
  let piped: Value = undefined;
  p.forEach((cmd, n) => {
    const val = (t: Term): Value =>
      t.k === 'dot'
        ? lookup(dot, t.path)
        : t.k === 'root'
          ? lookup(root, t.path)
          : t.k === 'lit'
            ? t.v
            : t.k === 'sub'
              ? evalPipeline(t.p, dot, root)
              : (() => {
                  throw new Error(`function ${t.name} used as a value`);
                })();
    const [head, ...rest] = cmd;
    if (head.k === 'fn') {
      const args = rest.map(val);
      if (n > 0) args.push(piped);
      piped = call(head.name, args);
    } else {
      if (rest.length || n > 0) throw new Error('only a function takes arguments');
      piped = val(head);
    }
  });
  return piped;
}

function show(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object')
    throw new Error(`a map or list printed without toYaml/toJson: ${JSON.stringify(v)}`);
  return String(v);
}

function exec(nodes: Node[], dot: Value, root: Value): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'out') out += show(evalPipeline(n.p, dot, root));
    else if (n.t === 'if') {
      const b = n.branches.find((x) => truthy(evalPipeline(x.cond, dot, root)));
      out += exec(b ? b.body : n.otherwise, dot, root);
    } else {
      const items = evalPipeline(n.p, dot, root);
      if (items === undefined || items === null) continue;
      if (!Array.isArray(items)) throw new Error('range over something that is not a list');
      for (const it of items) out += exec(n.body, it, root);
    }
  }
  return out;
}

function merge(base: Value, over: Value): Value {
  if (
    base &&
    over &&
    typeof base === 'object' &&
    typeof over === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(over)
  ) {
    const out: Record<string, Value> = { ...(base as Record<string, Value>) };
    for (const [k, v] of Object.entries(over as Record<string, Value>)) out[k] = merge(out[k], v);
    return out;
  }
  return over === undefined ? base : over;
}

export interface RenderedTemplate {
  /** templates/<file> */
  file: string;
  text: string;
}

/** Renders every templates/*.yaml of the chart, in file name order (files starting with _ skipped). */
export function renderChart(chartDir: string, overrides: Record<string, unknown> = {}): RenderedTemplate[] {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, Value>;
  const values = merge(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) ?? {}, overrides);
  const root = {
    Values: values,
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Release: { Name: 'vigie', Namespace: 'default', Service: 'Helm' },
  };
  const dir = join(chartDir, 'templates');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('_'))
    .sort()
    .map((f) => {
      const file = `templates/${f}`;
      try {
        return { file, text: exec(parseTemplate(readFileSync(join(dir, f), 'utf8'), file), root, root) };
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`);
      }
    });
}
