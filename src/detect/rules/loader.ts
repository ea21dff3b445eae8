/**
 * Loads Falco rule files in explicit stages, like Falco's engine:
 *
 *   read     YAML → items with their file:line:column
 *   collect  lists, macros, rules; append / override; exceptions; enabled; later definitions win;
 *            required_engine_version and required_plugin_versions checked
 *   compile  every rule's condition (macros and lists resolved) into a closure, once
 *
 * The only I/O is reading the files (loadRuleFiles); loadRuleSources works on strings.
 */
import { readFileSync } from 'node:fs';
import {
  LineCounter,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { parsePriority, type Priority } from '../../model/alert.js';
import type { Expr, FieldRef } from './ast.js';
import { Compiler, CompileError, type Pred } from './compile.js';
import { k8sAuditCatalog } from './fields/k8saudit.js';
import { syscallCatalog } from './fields/syscall.js';
import type { FieldCatalog } from './fields/types.js';
import { compileOutput, type OutputTemplate } from './output.js';
import { ConditionSyntaxError, parseCondition, unquoteListItem } from './parser.js';

/** The rule-language level this engine implements (Falco's engine version numbering). */
export const ENGINE_VERSION = '0.57.0';

/** Plugins whose fields Vigie provides itself, with the version of the field set it matches. */
export const PROVIDED_PLUGINS: Record<string, string> = {
  k8saudit: '0.18.0',
  'k8saudit-eks': '0.12.0',
  'k8saudit-aks': '0.6.0',
  'k8saudit-gke': '0.9.0',
  'k8saudit-ovh': '0.6.0',
  json: '0.7.3',
  container: '0.4.0',
};

export const CATALOGS: Record<string, FieldCatalog> = {
  syscall: syscallCatalog,
  k8s_audit: k8sAuditCatalog,
};

export interface RuleSource {
  /** A file name for messages. */
  name: string;
  content: string;
}

export interface LoadOptions {
  /** Skip rules that use unknown fields or fail to compile (one warning each) instead of stopping. */
  skipUnknown?: boolean;
  /** Only compile rules of these sources (default: all that Vigie provides). */
  sources?: string[];
  /** Disable rules by name (Falco's -D). */
  disable?: string[];
}

export interface Position {
  file: string;
  line: number;
  col: number;
}

export class RuleLoadError extends Error {
  constructor(
    readonly where: Position,
    readonly detail: string,
    readonly item?: string,
  ) {
    super(`${where.file}:${where.line}:${where.col}: ${item ? `${item}: ` : ''}${detail}`);
  }
}

export interface LoadWarning {
  where: Position;
  item?: string;
  message: string;
}

export interface CompiledRule {
  name: string;
  desc: string;
  source: string;
  priority: Priority;
  tags: string[];
  output: OutputTemplate;
  pred: Pred;
  /** Index keys (evt.type for syscall, ka.verb for k8s_audit) the rule can match; null = all. */
  keys: Set<string> | null;
  /** Load order (Falco's rule order). */
  order: number;
  enabled: boolean;
  /** Loaded and evaluated on events. */
  active: boolean;
  /** Why it is not active. */
  reason?: string;
  /** Condition fields that Vigie cannot provide. */
  unprovided: string[];
  /** Output fields rendered as <NA> because Vigie cannot provide them. */
  outputUnprovided: string[];
  where: Position;
}

export interface LoadResult {
  rules: CompiledRule[];
  warnings: LoadWarning[];
  /** Rules skipped because of errors (only with skipUnknown). */
  skipped: { name: string; where: Position; reason: string }[];
  lists: Map<string, string[]>;
  macros: Map<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Stage 1: read

interface Part {
  text: string;
  where: Position;
  /** Offset of the text in the file when the scalar maps 1:1 onto the source (single-line). */
  offset?: number;
  lc?: LineCounter;
  /** The file text and the scalar's source range, to map offsets inside block scalars. */
  src?: string;
  range?: [number, number];
}

interface ReadItem {
  kind: 'rule' | 'macro' | 'list' | 'required_engine_version' | 'required_plugin_versions';
  name: string;
  where: Position;
  map: YAMLMap;
  file: string;
  lc: LineCounter;
  src: string;
  get(key: string): unknown;
  node(key: string): Node | undefined;
  has(key: string): boolean;
}

function posOf(file: string, lc: LineCounter, node: Node | undefined | null, fallback = 0): Position {
  const off = node?.range?.[0] ?? fallback;
  const { line, col } = lc.linePos(off);
  return { file, line, col };
}

function readSource(src: RuleSource): ReadItem[] {
  const lc = new LineCounter();
  const doc = parseDocument(src.content, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const { line, col } = lc.linePos(e.pos[0]);
    throw new RuleLoadError({ file: src.name, line, col }, `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root === null || root === undefined) return [];
  if (!isSeq(root))
    throw new RuleLoadError(posOf(src.name, lc, root as Node), 'a rules file must be a YAML list of items');
  const out: ReadItem[] = [];
  for (const it of root.items) {
    const where = posOf(src.name, lc, it as Node);
    if (!isMap(it)) throw new RuleLoadError(where, 'each item must be a mapping (rule, macro, list, ...)');
    const map = it as YAMLMap;
    const pairs = map.items as Pair<Scalar, Node>[];
    const keyNames = pairs.map((p) => String(isScalar(p.key) ? p.key.value : p.key));
    const kind = (
      ['rule', 'macro', 'list', 'required_engine_version', 'required_plugin_versions'] as const
    ).find((k) => keyNames.includes(k));
    if (!kind)
      throw new RuleLoadError(
        where,
        `unknown item: expected one of rule, macro, list, required_engine_version, required_plugin_versions (keys: ${keyNames.join(', ')})`,
      );
    const get = (key: string) => {
      const v = map.get(key, true) as Node | undefined;
      return v === undefined
        ? undefined
        : (v as { toJSON?: () => unknown }).toJSON
          ? (v as unknown as { toJSON(): unknown }).toJSON()
          : (v as Scalar).value;
    };
    const nameVal = get(kind);
    const name = kind === 'rule' || kind === 'macro' || kind === 'list' ? String(nameVal ?? '') : kind;
    if ((kind === 'rule' || kind === 'macro' || kind === 'list') && !name)
      throw new RuleLoadError(where, `${kind} without a name`);
    out.push({
      kind,
      name,
      where,
      map,
      file: src.name,
      lc,
      src: src.content,
      get,
      node: (key) => map.get(key, true) as Node | undefined,
      has: (key) => map.has(key),
    });
  }
  return out;
}

function partOf(item: ReadItem, key: string): Part {
  const node = item.node(key) as Scalar | undefined;
  const text = String(item.get(key) ?? '');
  const where = posOf(item.file, item.lc, node, item.map.range?.[0]);
  let offset: number | undefined;
  if (node && isScalar(node) && node.range) {
    const raw = node.source ?? '';
    if (node.type === 'PLAIN' && !raw.includes('\n')) offset = node.range[0];
    else if (
      (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') &&
      !text.includes('\n') &&
      !/\\|''/.test(String(raw))
    )
      offset = node.range[0] + 1;
  }
  const range = node?.range ? ([node.range[0], node.range[1]] as [number, number]) : undefined;
  return { text, where, offset, lc: item.lc, src: item.src, range };
}

/**
 * Where the character at `offset` of a scalar's value sits in the source: walk value and source
 * together, matching non-blank characters (folding and indentation only change whitespace).
 */
function sourceOffset(p: Part, offset: number): number | undefined {
  if (!p.src || !p.range) return undefined;
  const text = p.text;
  let j = p.range[0];
  const end = p.range[1];
  // Skip a block scalar's header (">", "|-", ...) up to the end of its line.
  if (p.src[j] === '>' || p.src[j] === '|') while (j < end && p.src[j] !== '\n') j++;
  for (let i = 0; i < text.length && j < end; i++) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (i === offset) return j;
      continue;
    }
    while (j < end && p.src[j] !== c) j++;
    if (j >= end) return undefined;
    if (i === offset) return j;
    j++;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Stage 2: collect

interface ExceptionDef {
  name: string;
  fields: string | string[];
  comps?: string | string[];
  values: unknown[];
  where: Position;
}

interface RuleDef {
  name: string;
  condition: Part[];
  output: string;
  desc: string;
  priority: Priority;
  source: string;
  tags: string[];
  enabled: boolean;
  exceptions: ExceptionDef[];
  skipIfUnknown: boolean;
  where: Position;
  order: number;
}

interface MacroDef {
  name: string;
  condition: Part[];
  where: Position;
}

interface ListDef {
  name: string;
  items: string[];
  where: Position;
}

function semver(v: unknown): [number, number, number] | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? [0, v, 0] : undefined;
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(v).trim());
  if (!m) return undefined;
  if (m[2] === undefined) return [0, Number(m[1]), 0];
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function cmpVer(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function asStringList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return [String(v)];
  return v.map((x) => unquoteListItem(x));
}

const OVERRIDABLE = new Set([
  'condition',
  'output',
  'desc',
  'priority',
  'tags',
  'enabled',
  'exceptions',
  'items',
  'source',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'capture',
  'capture_duration',
]);
const APPENDABLE = new Set(['condition', 'exceptions', 'items', 'tags', 'output', 'desc']);

class Collector {
  readonly rules = new Map<string, RuleDef>();
  readonly macros = new Map<string, MacroDef>();
  readonly lists = new Map<string, ListDef>();
  readonly warnings: LoadWarning[] = [];
  private order = 0;

  add(item: ReadItem): void {
    switch (item.kind) {
      case 'required_engine_version':
        return this.engineVersion(item);
      case 'required_plugin_versions':
        return this.pluginVersions(item);
      case 'list':
        return this.list(item);
      case 'macro':
        return this.macro(item);
      case 'rule':
        return this.rule(item);
    }
  }

  private engineVersion(item: ReadItem): void {
    const want = semver(item.get('required_engine_version'));
    if (!want)
      throw new RuleLoadError(
        item.where,
        `invalid required_engine_version "${String(item.get('required_engine_version'))}"`,
      );
    const have = semver(ENGINE_VERSION)!;
    if (cmpVer(want, have) > 0) {
      throw new RuleLoadError(
        item.where,
        `rules require engine version ${want.join('.')}, Vigie implements ${ENGINE_VERSION}`,
      );
    }
  }

  private pluginVersions(item: ReadItem): void {
    const v = item.get('required_plugin_versions');
    if (!Array.isArray(v))
      throw new RuleLoadError(item.where, 'required_plugin_versions must be a list of {name, version}');
    for (const req of v as {
      name?: string;
      version?: string;
      alternatives?: { name?: string; version?: string }[];
    }[]) {
      if (!req || typeof req.name !== 'string' || req.version === undefined) {
        throw new RuleLoadError(item.where, 'each required plugin needs a name and a version');
      }
      const candidates = [req, ...(req.alternatives ?? [])];
      const known = candidates.filter((c) => c.name !== undefined && PROVIDED_PLUGINS[c.name] !== undefined);
      if (known.length === 0) {
        this.warnings.push({
          where: item.where,
          message: `plugin ${req.name} is not provided by Vigie; rules of its source stay inactive`,
        });
        continue;
      }
      const ok = known.some((c) => {
        const want = semver(c.version);
        const have = semver(PROVIDED_PLUGINS[c.name!]);
        return want && have && want[0] === have[0] && cmpVer(want, have) <= 0;
      });
      if (!ok) {
        const what = known
          .map((c) => `${c.name} ${String(c.version)} (Vigie provides ${PROVIDED_PLUGINS[c.name!]})`)
          .join(' or ');
        throw new RuleLoadError(item.where, `required plugin version not satisfied: ${what}`);
      }
    }
  }

  /** Returns the override modes {key: 'append'|'replace'} or legacy append, validating keys. */
  private overrides(item: ReadItem): Map<string, 'append' | 'replace'> | undefined {
    if (!item.has('override')) return undefined;
    const ov = item.get('override');
    if (!ov || typeof ov !== 'object' || Array.isArray(ov))
      throw new RuleLoadError(
        posOf(item.file, item.lc, item.node('override')),
        'override must be a mapping of key: append|replace',
        item.name,
      );
    const m = new Map<string, 'append' | 'replace'>();
    for (const [k, mode] of Object.entries(ov as Record<string, unknown>)) {
      if (mode !== 'append' && mode !== 'replace')
        throw new RuleLoadError(
          posOf(item.file, item.lc, item.node('override')),
          `override of "${k}" must be append or replace`,
          item.name,
        );
      if (!OVERRIDABLE.has(k))
        throw new RuleLoadError(
          posOf(item.file, item.lc, item.node('override')),
          `"${k}" cannot be overridden`,
          item.name,
        );
      if (mode === 'append' && !APPENDABLE.has(k))
        throw new RuleLoadError(
          posOf(item.file, item.lc, item.node('override')),
          `"${k}" cannot be appended`,
          item.name,
        );
      if (!item.has(k))
        throw new RuleLoadError(
          posOf(item.file, item.lc, item.node('override')),
          `override names "${k}" but the item has no "${k}"`,
          item.name,
        );
      m.set(k, mode);
    }
    return m;
  }

  private list(item: ReadItem): void {
    const items = asStringList(item.get('items'));
    if (!item.has('items')) throw new RuleLoadError(item.where, 'list without items', `list "${item.name}"`);
    const ov = this.overrides(item);
    const append = item.get('append') === true || ov?.get('items') === 'append';
    const prev = this.lists.get(item.name);
    if (append || ov) {
      if (!prev)
        throw new RuleLoadError(
          item.where,
          `${append ? 'append' : 'override'} to a list that is not defined`,
          `list "${item.name}"`,
        );
      if (append) prev.items.push(...items);
      else prev.items = items;
      return;
    }
    this.lists.set(item.name, { name: item.name, items, where: item.where });
  }

  private macro(item: ReadItem): void {
    if (!item.has('condition'))
      throw new RuleLoadError(item.where, 'macro without condition', `macro "${item.name}"`);
    const part = partOf(item, 'condition');
    const ov = this.overrides(item);
    const append = item.get('append') === true || ov?.get('condition') === 'append';
    const prev = this.macros.get(item.name);
    if (append || ov) {
      if (!prev)
        throw new RuleLoadError(
          item.where,
          `${append ? 'append' : 'override'} to a macro that is not defined`,
          `macro "${item.name}"`,
        );
      if (append) prev.condition.push(part);
      else prev.condition = [part];
      return;
    }
    this.macros.set(item.name, { name: item.name, condition: [part], where: item.where });
  }

  private exceptionsOf(item: ReadItem): ExceptionDef[] {
    const v = item.get('exceptions');
    if (v === undefined || v === null) return [];
    const where = posOf(item.file, item.lc, item.node('exceptions'));
    if (!Array.isArray(v)) throw new RuleLoadError(where, 'exceptions must be a list', `rule "${item.name}"`);
    return v.map((e: Record<string, unknown>) => {
      if (!e || typeof e.name !== 'string')
        throw new RuleLoadError(where, 'each exception needs a name', `rule "${item.name}"`);
      return {
        name: e.name,
        fields: (e.fields as string | string[]) ?? [],
        comps: e.comps as string | string[] | undefined,
        values: Array.isArray(e.values) ? (e.values as unknown[]) : [],
        where,
      };
    });
  }

  private mergeExceptions(target: RuleDef, add: ExceptionDef[]): void {
    for (const e of add) {
      const prev = target.exceptions.find((x) => x.name === e.name);
      if (prev) prev.values.push(...e.values);
      else target.exceptions.push(e);
    }
  }

  private rule(item: ReadItem): void {
    const label = `rule "${item.name}"`;
    const ov = this.overrides(item);
    const legacyAppend = item.get('append') === true;
    const prev = this.rules.get(item.name);
    const keys = [...item.map.items].map((p) => String(isScalar(p.key) ? p.key.value : p.key));
    const onlyEnabled = keys.every((k) => k === 'rule' || k === 'enabled') && item.has('enabled');
    if (legacyAppend || ov || onlyEnabled) {
      if (!prev)
        throw new RuleLoadError(
          item.where,
          `${legacyAppend ? 'append' : ov ? 'override' : 'enabled'} for a rule that is not defined`,
          label,
        );
      if (onlyEnabled && !ov) {
        prev.enabled = item.get('enabled') !== false;
        return;
      }
      if (legacyAppend) {
        if (item.has('condition')) prev.condition.push(partOf(item, 'condition'));
        if (item.has('exceptions')) this.mergeExceptions(prev, this.exceptionsOf(item));
        return;
      }
      for (const [k, mode] of ov!) {
        switch (k) {
          case 'condition':
            if (mode === 'append') prev.condition.push(partOf(item, 'condition'));
            else prev.condition = [partOf(item, 'condition')];
            break;
          case 'exceptions':
            if (mode === 'append') this.mergeExceptions(prev, this.exceptionsOf(item));
            else prev.exceptions = this.exceptionsOf(item);
            break;
          case 'output':
            prev.output =
              mode === 'append' ? `${prev.output} ${String(item.get('output'))}` : String(item.get('output'));
            break;
          case 'desc':
            prev.desc =
              mode === 'append' ? `${prev.desc} ${String(item.get('desc'))}` : String(item.get('desc'));
            break;
          case 'priority':
            prev.priority = this.priority(item);
            break;
          case 'tags':
            prev.tags =
              mode === 'append'
                ? [...prev.tags, ...asStringList(item.get('tags'))]
                : asStringList(item.get('tags'));
            break;
          case 'enabled':
            prev.enabled = item.get('enabled') !== false;
            break;
          case 'source':
            prev.source = String(item.get('source'));
            break;
          case 'skip-if-unknown-filter':
            prev.skipIfUnknown = item.get('skip-if-unknown-filter') === true;
            break;
        }
      }
      return;
    }
    for (const k of ['condition', 'output', 'desc', 'priority']) {
      if (!item.has(k)) throw new RuleLoadError(item.where, `missing "${k}"`, label);
    }
    const def: RuleDef = {
      name: item.name,
      condition: [partOf(item, 'condition')],
      output: String(item.get('output')).trim(),
      desc: String(item.get('desc') ?? '').trim(),
      priority: this.priority(item),
      source: String(item.get('source') ?? 'syscall'),
      tags: asStringList(item.get('tags')),
      enabled: item.get('enabled') !== false,
      exceptions: this.exceptionsOf(item),
      skipIfUnknown: item.get('skip-if-unknown-filter') === true,
      where: item.where,
      order: prev ? prev.order : this.order++,
    };
    this.rules.set(item.name, def);
  }

  private priority(item: ReadItem): Priority {
    try {
      return parsePriority(String(item.get('priority')));
    } catch (e) {
      throw new RuleLoadError(
        posOf(item.file, item.lc, item.node('priority')),
        (e as Error).message,
        `rule "${item.name}"`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Stage 3: compile

function joinParts(parts: Part[]): { text: string; locate(offset: number): Position } {
  let text = '';
  const starts: number[] = [];
  for (const p of parts) {
    if (text) text += ' ';
    starts.push(text.length);
    text += p.text;
  }
  return {
    text,
    locate(offset: number): Position {
      let i = starts.length - 1;
      while (i > 0 && starts[i] > offset) i--;
      const p = parts[i];
      if (p.offset !== undefined && p.lc) {
        const { line, col } = p.lc.linePos(p.offset + (offset - starts[i]));
        return { file: p.where.file, line, col };
      }
      const at = p.lc ? sourceOffset(p, offset - starts[i]) : undefined;
      if (at !== undefined) {
        const { line, col } = p.lc!.linePos(at);
        return { file: p.where.file, line, col };
      }
      return p.where;
    },
  };
}

function parseParts(parts: Part[], label: string): Expr {
  const j = joinParts(parts);
  try {
    return parseCondition(j.text);
  } catch (e) {
    if (e instanceof ConditionSyntaxError)
      throw new RuleLoadError(j.locate(e.pos), `condition: ${e.message}`, label);
    throw e;
  }
}

function fieldRefOf(text: string, where: Position, label: string): FieldRef {
  try {
    const e = parseCondition(`${text} exists`);
    if (e.t === 'cmp') return e.field;
  } catch {
    // fall through
  }
  throw new RuleLoadError(where, `exception field "${text}" is not a field`, label);
}

/** Exceptions become `and not (...)` clauses, as Falco builds them. */
function exceptionsExpr(rule: RuleDef): Expr | undefined {
  const label = `rule "${rule.name}"`;
  const alts: Expr[] = [];
  const lit = (v: unknown) => ({ t: 'lit' as const, v: unquoteListItem(v), quoted: false, pos: 0 });
  for (const ex of rule.exceptions) {
    if (Array.isArray(ex.fields)) {
      const fields = ex.fields.map((f) => fieldRefOf(String(f), ex.where, label));
      const comps = Array.isArray(ex.comps) ? ex.comps : fields.map(() => '=');
      if (comps.length !== fields.length)
        throw new RuleLoadError(ex.where, `exception "${ex.name}": fields and comps differ in length`, label);
      for (const tuple of ex.values) {
        if (!Array.isArray(tuple) || tuple.length !== fields.length) {
          throw new RuleLoadError(
            ex.where,
            `exception "${ex.name}": each value must list ${fields.length} item(s)`,
            label,
          );
        }
        const conj: Expr[] = fields.map((f, i) => {
          const op = String(comps[i]) as Extract<Expr, { t: 'cmp' }>['op'];
          const v = tuple[i];
          const isList = op === 'in' || op === 'intersects' || op === 'pmatch';
          const values = Array.isArray(v) ? v.map(lit) : [lit(v)];
          return { t: 'cmp', field: f, op, values, list: isList, pos: 0 };
        });
        alts.push(conj.length === 1 ? conj[0] : { t: 'and', items: conj });
      }
    } else if (ex.fields) {
      const f = fieldRefOf(ex.fields, ex.where, label);
      const op = String(ex.comps ?? 'in') as Extract<Expr, { t: 'cmp' }>['op'];
      const vals = ex.values.flatMap((v) => (Array.isArray(v) ? v : [v]));
      if (vals.length === 0) continue;
      if (op === 'in' || op === 'intersects' || op === 'pmatch')
        alts.push({ t: 'cmp', field: f, op, values: vals.map(lit), list: true, pos: 0 });
      else for (const v of vals) alts.push({ t: 'cmp', field: f, op, values: [lit(v)], list: false, pos: 0 });
    }
  }
  if (alts.length === 0) return undefined;
  return { t: 'not', e: alts.length === 1 ? alts[0] : { t: 'or', items: alts } };
}

function expandLists(lists: Map<string, ListDef>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visiting = new Set<string>();
  const expand = (name: string): string[] => {
    const done = out.get(name);
    if (done) return done;
    if (visiting.has(name))
      throw new RuleLoadError(lists.get(name)!.where, 'list refers to itself', `list "${name}"`);
    visiting.add(name);
    const res: string[] = [];
    for (const it of lists.get(name)!.items) {
      if (lists.has(it) && it !== name) res.push(...expand(it));
      else res.push(it);
    }
    visiting.delete(name);
    out.set(name, res);
    return res;
  };
  for (const n of lists.keys()) expand(n);
  return out;
}

// Reading (YAML parsing) dominates load time; the same file is often loaded again (replays, tests,
// reloads). Items are read-only after reading (collect copies what it keeps), so they can be shared.
const readCache = new Map<string, ReadItem[]>();
function readCached(src: RuleSource): ReadItem[] {
  const key = `${src.name}\u0000${src.content}`;
  let items = readCache.get(key);
  if (!items) {
    items = readSource(src);
    if (readCache.size >= 16) readCache.delete(readCache.keys().next().value!);
    readCache.set(key, items);
  }
  return items;
}

/** The field an index is built on, per source. */
export const INDEX_FIELD: Record<string, string> = { syscall: 'evt.type', k8s_audit: 'ka.verb' };

export function loadRuleSources(sources: RuleSource[], opts: LoadOptions = {}): LoadResult {
  const collector = new Collector();
  for (const src of sources) for (const item of readCached(src)) collector.add(item);

  const lists = expandLists(collector.lists);
  const macroAsts = new Map<string, { ast: Expr }>();
  for (const m of collector.macros.values()) {
    // Parsed lazily: a macro no rule uses may reference fields of a source Vigie lacks.
    let ast: Expr | undefined;
    const label = `macro "${m.name}"`;
    macroAsts.set(m.name, {
      get ast(): Expr {
        ast ??= parseParts(m.condition, label);
        return ast;
      },
    });
  }
  const compilers = new Map<string, Compiler>();
  const compilerFor = (source: string): Compiler | undefined => {
    const cat = CATALOGS[source];
    if (!cat) return undefined;
    let c = compilers.get(source);
    if (!c) {
      c = new Compiler(cat, macroAsts, lists);
      compilers.set(source, c);
    }
    return c;
  };

  const warnings = [...collector.warnings];
  const skipped: LoadResult['skipped'] = [];
  const rules: CompiledRule[] = [];
  const disabled = new Set(opts.disable ?? []);
  const defs = [...collector.rules.values()].sort((a, b) => a.order - b.order);
  for (const def of defs) {
    const label = `rule "${def.name}"`;
    const enabled = def.enabled && !disabled.has(def.name);
    const base: CompiledRule = {
      name: def.name,
      desc: def.desc,
      source: def.source,
      priority: def.priority,
      tags: def.tags,
      output: { render: () => ({ text: def.output, fields: {} }), fields: [] },
      pred: () => false,
      keys: null,
      order: def.order,
      enabled,
      active: false,
      unprovided: [],
      outputUnprovided: [],
      where: def.where,
    };
    const compiler = compilerFor(def.source);
    if (!compiler || (opts.sources && !opts.sources.includes(def.source))) {
      base.reason = compiler
        ? `source ${def.source} not selected`
        : `source ${def.source} is not provided by Vigie`;
      rules.push(base);
      continue;
    }
    const fail = (err: RuleLoadError): void => {
      if (!enabled) {
        base.reason = `disabled (and does not compile: ${err.detail})`;
        rules.push(base);
        return;
      }
      if (opts.skipUnknown || def.skipIfUnknown) {
        warnings.push({ where: err.where, item: label, message: `skipped: ${err.detail}` });
        skipped.push({ name: def.name, where: err.where, reason: err.detail });
        base.reason = `skipped: ${err.detail}`;
        rules.push(base);
        return;
      }
      throw err;
    };
    try {
      let ast = parseParts(def.condition, label);
      const ex = exceptionsExpr(def);
      if (ex) ast = { t: 'and', items: [ast, ex] };
      const cc = compiler.compile(ast);
      const out = compileOutput(def.output, compiler);
      const unknown = [...cc.unknown, ...out.unknown];
      if (unknown.length) {
        fail(
          new RuleLoadError(
            def.where,
            `unknown field(s) for source ${def.source}: ${[...new Set(unknown)].join(', ')}`,
            label,
          ),
        );
        continue;
      }
      base.output = out.template;
      base.outputUnprovided = out.unprovided;
      base.unprovided = [...cc.unprovided];
      base.pred = cc.pred;
      base.keys = INDEX_FIELD[def.source] ? compiler.possibleValues(ast, INDEX_FIELD[def.source]) : null;
      if (!enabled) base.reason = 'disabled';
      else if (base.unprovided.length)
        base.reason = `needs field(s) Vigie cannot provide: ${base.unprovided.join(', ')}`;
      else base.active = true;
      rules.push(base);
    } catch (e) {
      if (e instanceof RuleLoadError) {
        fail(e);
        continue;
      }
      if (e instanceof CompileError) {
        const where = e.macro ? (collector.macros.get(e.macro)?.where ?? def.where) : def.where;
        fail(new RuleLoadError(where, `${e.macro ? `in macro "${e.macro}": ` : ''}${e.message}`, label));
        continue;
      }
      throw e;
    }
  }
  const macros = new Map([...collector.macros.values()].map((m) => [m.name, joinParts(m.condition).text]));
  return { rules, warnings, skipped, lists, macros };
}

/** Reads rule files from disk (the loader's only I/O) and loads them in order. */
export function loadRuleFiles(paths: string[], opts: LoadOptions = {}): LoadResult {
  const sources = paths.map((p) => {
    let content: string;
    try {
      content = readFileSync(p, 'utf8');
    } catch (e) {
      throw new RuleLoadError({ file: p, line: 0, col: 0 }, `cannot read: ${(e as Error).message}`);
    }
    return { name: p, content };
  });
  return loadRuleSources(sources, opts);
}
