/**
 * Stage 2 of loading, collect: lists, macros and rules from the items of every source, in order;
 * append / override; exceptions; enabled; later definitions win; required_engine_version and
 * required_plugin_versions checked.
 */
import { isScalar } from 'yaml';
import { parsePriority, type Priority } from '../../../model/alert.js';
import { unquoteListItem } from '../parser.js';
import { partOf, posOf, type Part, type ReadItem } from './read.js';
import { RuleLoadError, type LoadWarning, type Position } from './types.js';

/** The rule-language level this engine implements (Falco's engine version numbering). */
export const ENGINE_VERSION = '0.57.0';

/** Plugins whose fields Vigie provides itself, with the version of the field set it matches. */
export const PROVIDED_PLUGINS: Readonly<Record<string, string>> = {
  k8saudit: '0.18.0',
  'k8saudit-eks': '0.12.0',
  'k8saudit-aks': '0.6.0',
  'k8saudit-gke': '0.9.0',
  'k8saudit-ovh': '0.6.0',
  json: '0.7.3',
  container: '0.4.0',
};

export interface ExceptionDef {
  name: string;
  fields: string | string[];
  comps?: string | string[];
  values: unknown[];
  where: Position;
}

export interface RuleDef {
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

export interface MacroDef {
  name: string;
  condition: Part[];
  where: Position;
}

export interface ListDef {
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

const OVERRIDABLE: ReadonlySet<string> = new Set([
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
const APPENDABLE: ReadonlySet<string> = new Set([
  'condition',
  'exceptions',
  'items',
  'tags',
  'output',
  'desc',
]);

/** Gathers the items of every source in order; one per load. */
export class Collector {
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
