/**
 * Stage 3 of loading, compile: every collected rule's condition (macros and lists resolved, exceptions
 * as `and not (...)` clauses) into a closure, once, with the condition compiler of its source; rules
 * that cannot be evaluated are kept, inactive, with the reason.
 */
import { MAX_CONDITION_DEPTH, type Expr, type FieldRef } from '../ast.js';
import { Compiler, CompileError } from '../compile.js';
import type { FieldCatalog } from '../fields/types.js';
import { compileOutput } from '../output.js';
import { ConditionSyntaxError, parseCondition, unquoteListItem } from '../parser.js';
import type { Collector, ListDef, RuleDef } from './collect.js';
import { sourceOffset, type Part } from './read.js';
import {
  RuleLoadError,
  type CompiledRule,
  type LoadOptions,
  type LoadResult,
  type Position,
} from './types.js';

/** The field an index is built on, per source. */
export const INDEX_FIELD: Readonly<Record<string, string>> = { syscall: 'evt.type', k8s_audit: 'ka.verb' };

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

/**
 * How many items all lists may hold once the lists they name are expanded. Falco's own rule files
 * hold about 1,200; a list naming another twice, itself named twice by the next, doubles at each
 * step, and is refused (with its place) long before it exhausts the memory.
 */
export const MAX_EXPANDED_LIST_ITEMS = 1_000_000;

function expandLists(lists: ReadonlyMap<string, ListDef>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  /** How deep each expanded list nests (a list naming no list: 1), wherever it is expanded from. */
  const depthOf = new Map<string, number>();
  const visiting = new Set<string>();
  let total = 0;
  const expand = (name: string, at: number): string[] => {
    const done = out.get(name);
    if (done) return done;
    const def = lists.get(name)!;
    const label = `list "${name}"`;
    if (visiting.has(name)) throw new RuleLoadError(def.where, 'list refers to itself', label);
    const tooDeep = () =>
      new RuleLoadError(def.where, `lists name each other deeper than ${MAX_CONDITION_DEPTH} levels`, label);
    if (at > MAX_CONDITION_DEPTH) throw tooDeep();
    visiting.add(name);
    const res: string[] = [];
    let depth = 1;
    for (const it of def.items) {
      if (lists.has(it) && it !== name) {
        const sub = expand(it, at + 1);
        depth = Math.max(depth, 1 + depthOf.get(it)!);
        if (depth > MAX_CONDITION_DEPTH) throw tooDeep();
        if (total + sub.length > MAX_EXPANDED_LIST_ITEMS)
          throw new RuleLoadError(
            def.where,
            `lists expand to more than ${MAX_EXPANDED_LIST_ITEMS} items (at "${it}")`,
            label,
          );
        total += sub.length;
        // A loop, not push(...sub): a long list would overflow the argument stack.
        for (const x of sub) res.push(x);
      } else res.push(it);
    }
    visiting.delete(name);
    out.set(name, res);
    depthOf.set(name, depth);
    return res;
  };
  for (const n of lists.keys()) expand(n, 1);
  return out;
}

/**
 * Compiles what `collector` gathered against the field catalogs of one rule set: every rule's condition
 * (macros and lists resolved, exceptions appended) and output, once.
 */
export function compileRules(
  collector: Collector,
  catalogs: ReadonlyMap<string, FieldCatalog>,
  opts: Pick<LoadOptions, 'skipUnknown' | 'sources' | 'disable'>,
): Omit<LoadResult, 'fieldState'> {
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
    const cat = catalogs.get(source);
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
        // Inside a macro, the offset is in the macro's condition: point at it.
        const m = e.macro ? collector.macros.get(e.macro) : undefined;
        const where = m ? joinParts(m.condition).locate(e.pos) : def.where;
        fail(new RuleLoadError(where, `${e.macro ? `in macro "${e.macro}": ` : ''}${e.message}`, label));
        continue;
      }
      throw e;
    }
  }
  const macros = new Map([...collector.macros.values()].map((m) => [m.name, joinParts(m.condition).text]));
  return { rules, warnings, skipped, lists, macros };
}
