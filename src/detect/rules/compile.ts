/**
 * Compiles a condition AST, once, into a JavaScript closure over a VigieEvent. Nothing is parsed or
 * looked up per event: macros are compiled once per source and shared, list names are expanded into
 * Sets, literal values are converted to the field's type, extractors are shared per field.
 *
 * A macro is compiled once and every use calls its compiled form, so the work is linear in the size of
 * the rule files even when macros use other macros several times each; what is derived from a macro's
 * AST (its depth, the index keys it allows) is likewise computed once per macro. A condition may nest
 * at most MAX_CONDITION_DEPTH levels of and/or/not and macro references, counted through its macros.
 *
 * Semantics follow Falco's engine: a comparison on a field the event does not carry is false (for every
 * operator, `!=` included); on a list field, `in` means every value is in the set, `intersects` means
 * one is, and the other operators match when one value matches.
 */
import {
  LIST_OPERATORS,
  MAX_CONDITION_DEPTH,
  type Expr,
  type FieldRef,
  type Operator,
  type ValueItem,
} from './ast.js';
import type { FieldCatalog, FieldDef, FieldType, FieldValue, Getter } from './fields/types.js';
import type { VigieEvent } from '../../model/event.js';

export type Pred = (ev: VigieEvent) => boolean;

export class CompileError extends Error {
  constructor(
    message: string,
    readonly pos: number,
    /** Set when the error is inside a macro's condition. */
    readonly macro?: string,
  ) {
    super(message);
  }
}

export interface CompiledCondition {
  pred: Pred;
  /** Field names that no catalog knows (typos, other plugins' fields). */
  unknown: Set<string>;
  /** Falco fields Vigie cannot provide. */
  unprovided: Set<string>;
  /** Every field the condition reads. */
  fields: Set<string>;
}

export interface MacroSource {
  ast: Expr;
}

const FALSE: Pred = () => false;

/** A macro's compiled condition and how deep it nests (its root is level 1). */
interface CompiledMacro extends CompiledCondition {
  depth: number;
}

/** Offset of the leftmost field or macro of `e`, for messages about nodes that carry none. */
function firstPos(e: Expr): number {
  let x = e;
  for (;;) {
    if (x.t === 'and' || x.t === 'or') {
      if (x.items.length === 0) return 0;
      x = x.items[0];
    } else if (x.t === 'not') x = x.e;
    else return x.pos;
  }
}

function tooDeep(e: Expr): CompileError {
  return new CompileError(
    `condition nests deeper than ${MAX_CONDITION_DEPTH} levels (counting the macros it uses)`,
    firstPos(e),
  );
}

// ---------------------------------------------------------------------------------------------
// Value helpers

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

type IpTest = (x: string) => boolean;
function ipMatcher(v: string): IpTest {
  const slash = v.indexOf('/');
  if (slash > 0) {
    const base = ipv4ToInt(v.slice(0, slash));
    const bits = Number(v.slice(slash + 1));
    if (base !== undefined && Number.isInteger(bits) && bits >= 0 && bits <= 32) {
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      const net = (base & mask) >>> 0;
      return (x) => {
        const n = ipv4ToInt(x);
        return n !== undefined && (n & mask) >>> 0 === net;
      };
    }
    // IPv6 networks: compare the textual prefix of the address groups.
    const prefix = v.slice(0, slash).replace(/::$/, ':');
    return (x) => x.startsWith(prefix);
  }
  return (x) => x === v;
}

function globToRegExp(glob: string, flags = ''): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, flags + 's');
}

function hexToBinaryString(hex: string, pos: number): string {
  const h = hex.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(h)) throw new CompileError(`"${hex}" is not a hex byte string`, pos);
  let out = '';
  for (let i = 0; i < h.length; i += 2) out += String.fromCharCode(parseInt(h.slice(i, i + 2), 16));
  return out;
}

function pmatchTest(prefixes: string[]): (x: string) => boolean {
  const plain: string[] = [];
  const globs: RegExp[] = [];
  for (const p of prefixes) {
    if (/[*?[]/.test(p))
      globs.push(new RegExp(globToRegExp(p.replace(/\/+$/, '')).source.replace(/\$$/, '(/.*)?$')));
    else plain.push(p.length > 1 ? p.replace(/\/+$/, '') : p);
  }
  return (x) => {
    for (const p of plain) {
      if (x === p) return true;
      if (x.startsWith(p) && (p === '/' || x.charCodeAt(p.length) === 47)) return true;
    }
    for (const g of globs) if (g.test(x)) return true;
    return false;
  };
}

// ---------------------------------------------------------------------------------------------

/** Applies transformers to an extractor. */
function transform(get: Getter, ts: readonly string[]): Getter {
  let g = get;
  for (const t of ts) {
    const inner = g;
    const f: (s: string) => string | number =
      t === 'tolower'
        ? (s) => s.toLowerCase()
        : t === 'toupper'
          ? (s) => s.toUpperCase()
          : t === 'b64'
            ? (s) => Buffer.from(s, 'base64').toString('latin1')
            : t === 'basename'
              ? (s) => s.slice(s.lastIndexOf('/') + 1)
              : (s) => s.length;
    if (t === 'len') {
      g = (ev) => {
        const v = inner(ev);
        if (v === undefined) return undefined;
        return typeof v === 'object' ? v.length : String(v).length;
      };
      continue;
    }
    g = (ev) => {
      const v = inner(ev);
      if (v === undefined) return undefined;
      if (typeof v === 'object') return v.map((x) => f(String(x))) as (string | number)[];
      return f(String(v));
    };
  }
  return g;
}

export class Compiler {
  private readonly macroCache = new Map<string, CompiledMacro>();
  private readonly macroVisiting = new Set<string>();
  /** possibleValues of each macro, per field: `${field}\0${macro}`. */
  private readonly macroValues = new Map<string, ReadonlySet<string> | null>();
  /** Nesting level, in the whole expansion, of the root of the condition being compiled. */
  private depthBase = 0;
  private readonly getterCache = new Map<string, Getter>();

  constructor(
    readonly catalog: FieldCatalog,
    private readonly macros: ReadonlyMap<string, MacroSource>,
    private readonly lists: ReadonlyMap<string, readonly string[]>,
  ) {}

  compile(ast: Expr): CompiledCondition {
    const c = this.compileAt(ast, 0);
    return { pred: c.pred, unknown: c.unknown, unprovided: c.unprovided, fields: c.fields };
  }

  /** Compiles `ast` whose root sits `base` levels deep in the expansion being compiled. */
  private compileAt(ast: Expr, base: number): CompiledMacro {
    const acc: CompiledMacro = {
      pred: FALSE,
      unknown: new Set(),
      unprovided: new Set(),
      fields: new Set(),
      depth: 0,
    };
    // The condition becomes the body of one generated function: and/or/not are plain JS operators and
    // the common comparisons are inlined, so an evaluation is a few calls to shared extractors.
    const parts: unknown[] = [];
    const saved = this.depthBase;
    this.depthBase = base;
    let code: string;
    try {
      code = this.gen(ast, acc, parts, 1);
    } finally {
      this.depthBase = saved;
    }
    acc.pred = new Function('c', `"use strict"; return function condition(ev) { let v; return ${code}; };`)(
      parts,
    ) as Pred;
    return acc;
  }

  /** Code for `e`, which sits at level `d` of the condition being compiled (its root is level 1). */
  private gen(e: Expr, acc: CompiledMacro, parts: unknown[], d: number): string {
    const ref = (x: unknown): string => {
      parts.push(x);
      return `c[${parts.length - 1}]`;
    };
    // The whole expansion is bounded, so that compiling and evaluating stay far from the stack's end.
    if (this.depthBase + d > MAX_CONDITION_DEPTH) throw tooDeep(e);
    if (d > acc.depth) acc.depth = d;
    switch (e.t) {
      case 'and':
        return `(${e.items.map((x) => this.gen(x, acc, parts, d + 1)).join(' && ')})`;
      case 'or':
        return `(${e.items.map((x) => this.gen(x, acc, parts, d + 1)).join(' || ')})`;
      case 'not':
        return `!${this.gen(e.e, acc, parts, d + 1)}`;
      case 'macro': {
        const m = this.macro(e.name, e.pos, acc, this.depthBase + d);
        // A macro compiled earlier, from a shallower place, may still be too deep here.
        if (this.depthBase + d + m.depth > MAX_CONDITION_DEPTH) throw tooDeep(e);
        if (d + m.depth > acc.depth) acc.depth = d + m.depth;
        return `${ref(m.pred)}(ev)`;
      }
      case 'cmp': {
        const pred = this.cmp(e, acc);
        if (pred === FALSE) return 'false';
        return this.fastCmp(e, acc, ref, ref(pred)) ?? `${ref(pred)}(ev)`;
      }
    }
  }

  /**
   * Inline code for the frequent shapes (a scalar value of the field's own type compared with literals);
   * anything else (lists, other types, absent values) falls back to the full predicate P.
   */
  private fastCmp(
    e: Extract<Expr, { t: 'cmp' }>,
    acc: CompiledCondition,
    ref: (x: unknown) => string,
    P: string,
  ): string | undefined {
    const { get, type } = this.field(e.field, acc);
    if (!get) return undefined;
    const G = ref(get);
    if (e.op === 'exists') return `((v = ${G}(ev)) !== undefined && (typeof v !== 'object' || v.length > 0))`;
    const items = this.expandItems(e.values, e.list);
    if (items.some((i) => i.t !== 'lit')) return undefined;
    const lits = items.map((i) => (i as Extract<ValueItem, { t: 'lit' }>).v);
    const jsType =
      type === 'number' ? 'number' : type === 'bool' ? 'boolean' : type === 'string' ? 'string' : undefined;
    if (!jsType) return undefined;
    const lit = (s: string): string | undefined => {
      if (type === 'string') return JSON.stringify(s);
      if (type === 'bool') return s.toLowerCase() === 'true' ? 'true' : 'false';
      const n = Number(s);
      return Number.isFinite(n) ? String(n) : undefined;
    };
    const guard = (test: string) => `(typeof (v = ${G}(ev)) === '${jsType}' ? ${test} : ${P}(ev))`;
    const op = e.op;
    if (op === 'in') {
      const vals = lits.map((s) =>
        type === 'number' ? Number(s) : type === 'bool' ? s.toLowerCase() === 'true' : s,
      );
      if (lits.length === 1) return guard(`v === ${lit(lits[0])}`);
      return guard(`${ref(new Set(vals))}.has(v)`);
    }
    if (lits.length !== 1 || e.list) return undefined;
    const k = lit(lits[0]);
    if (k === undefined) return undefined;
    switch (op) {
      case '=':
      case '==':
        return guard(`v === ${k}`);
      case '!=':
        return guard(`v !== ${k}`);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return type === 'number' ? guard(`v ${op} ${k}`) : undefined;
      case 'startswith':
        return type === 'string' ? guard(`v.startsWith(${k})`) : undefined;
      case 'endswith':
        return type === 'string' ? guard(`v.endsWith(${k})`) : undefined;
      case 'contains':
        return type === 'string' ? guard(`v.includes(${k})`) : undefined;
      default:
        return undefined;
    }
  }

  /** The set of values `field` can take when the condition is true, or null when unconstrained. */
  possibleValues(ast: Expr, field: string): Set<string> | null {
    const r = this.valuesOf(ast, field);
    // A fresh set: what valuesOf returns may be a macro's, shared with other rules.
    return r === null ? null : new Set(r);
  }

  /** possibleValues without the copy: the result may be shared (never change it). */
  private valuesOf(ast: Expr, field: string): ReadonlySet<string> | null {
    switch (ast.t) {
      case 'cmp':
        if (ast.field.name !== field || ast.field.transformers.length) return null;
        if (ast.op === '=' || ast.op === '==' || ast.op === 'in') {
          const vals = new Set<string>();
          for (const it of this.expandItems(ast.values, ast.list)) {
            if (it.t !== 'lit') return null;
            vals.add(it.v);
          }
          return vals;
        }
        return null;
      case 'and': {
        let acc: ReadonlySet<string> | null = null;
        for (const it of ast.items) {
          const s = this.valuesOf(it, field);
          if (s === null) continue;
          acc = intersect(acc, s);
        }
        return acc;
      }
      case 'or': {
        const acc = new Set<string>();
        for (const it of ast.items) {
          const s = this.valuesOf(it, field);
          if (s === null) return null;
          for (const x of s) acc.add(x);
        }
        return acc;
      }
      case 'not':
        return null;
      case 'macro': {
        // Once per macro and field: a macro used twice by another (m2: m1 or m1) is not walked twice.
        const key = `${field}\u0000${ast.name}`;
        const known = this.macroValues.get(key);
        if (known !== undefined) return known;
        const m = this.macros.get(ast.name);
        if (!m || this.macroVisiting.has(ast.name)) return null;
        this.macroVisiting.add(ast.name);
        let r: ReadonlySet<string> | null;
        try {
          r = this.valuesOf(m.ast, field);
        } finally {
          this.macroVisiting.delete(ast.name);
        }
        this.macroValues.set(key, r);
        return r;
      }
    }
  }

  /** The compiled macro `name`, referenced at level `at` of the whole expansion. */
  private macro(name: string, pos: number, acc: CompiledCondition, at: number): CompiledMacro {
    let c = this.macroCache.get(name);
    if (!c) {
      const m = this.macros.get(name);
      if (!m) throw new CompileError(`undefined macro "${name}"`, pos);
      if (this.macroVisiting.has(name)) throw new CompileError(`macro "${name}" refers to itself`, pos);
      this.macroVisiting.add(name);
      try {
        c = this.compileAt(m.ast, at);
      } catch (e) {
        if (e instanceof CompileError && !e.macro) throw new CompileError(e.message, e.pos, name);
        throw e;
      } finally {
        this.macroVisiting.delete(name);
      }
      // Many rules start with the same macros (kevt, spawned_process, container): evaluate each once
      // per event.
      c = { ...c, pred: memoizePred(c.pred) };
      this.macroCache.set(name, c);
    }
    for (const f of c.unknown) acc.unknown.add(f);
    for (const f of c.unprovided) acc.unprovided.add(f);
    for (const f of c.fields) acc.fields.add(f);
    // Call through the cached closure: one compiled body per macro, shared by every rule using it.
    return c;
  }

  /** Resolve a field reference to its definition and (when provided) its extractor. */
  field(f: FieldRef, acc: CompiledCondition): { def?: FieldDef; get?: Getter; type: FieldType } {
    const def = this.catalog.lookup(f.name);
    acc.fields.add(f.name);
    if (!def) {
      acc.unknown.add(f.name);
      return { type: 'string' };
    }
    if (def.arg === 'required' && (f.arg === undefined || f.arg === ''))
      throw new CompileError(`field ${f.name} needs an argument: ${f.name}[...]`, f.pos);
    if (def.arg === 'none' && f.arg !== undefined)
      throw new CompileError(`field ${f.name} takes no argument`, f.pos);
    const type: FieldType = f.transformers.includes('len') ? 'number' : def.type;
    if (!def.provided || !def.make) {
      acc.unprovided.add(f.name);
      return { def, type };
    }
    const key = `${f.name}[${f.arg ?? ''}]${f.transformers.join(',')}`;
    let get = this.getterCache.get(key);
    if (!get) {
      try {
        get = memoize(transform(def.make(f.arg), f.transformers));
      } catch (err) {
        throw new CompileError(`${f.name}: ${(err as Error).message}`, f.pos);
      }
      this.getterCache.set(key, get);
    }
    return { def, get, type };
  }

  /** Expand list names inside a parenthesised value list. */
  private expandItems(items: ValueItem[], isList: boolean): ValueItem[] {
    if (!isList) return items;
    const out: ValueItem[] = [];
    for (const it of items) {
      if (it.t === 'lit' && !it.quoted && this.lists.has(it.v)) {
        for (const v of this.lists.get(it.v)!) out.push({ t: 'lit', v, quoted: true, pos: it.pos });
      } else out.push(it);
    }
    return out;
  }

  private cmp(e: Extract<Expr, { t: 'cmp' }>, acc: CompiledCondition): Pred {
    const { get, type } = this.field(e.field, acc);
    const op = e.op;
    if (op === 'exists') {
      if (!get) return FALSE;
      return (ev) => {
        const v = get(ev);
        return v !== undefined && !(typeof v === 'object' && v.length === 0);
      };
    }
    const items = this.expandItems(e.values, e.list);
    if (!e.list && items.length !== 1) throw new CompileError(`operator ${op} needs one value`, e.pos);
    if (e.list && !LIST_OPERATORS.has(op)) {
      // Falco accepts `x = (a)`? No: only list operators take lists.
      throw new CompileError(`operator ${op} does not take a list`, e.pos);
    }
    // Right-hand side fields: val(proc.pname) and friends.
    if (items.some((i) => i.t === 'field')) {
      if (e.list) throw new CompileError('fields are not allowed inside a value list', e.pos);
      const rf = (items[0] as Extract<ValueItem, { t: 'field' }>).f;
      const r = this.field(rf, acc).get;
      if (!get || !r) return FALSE;
      const test = dynamicTest(op, e.pos);
      return (ev) => {
        const a = get(ev);
        const b = r(ev);
        if (a === undefined || b === undefined || typeof b === 'object') return false;
        if (typeof a === 'object') {
          for (const x of a) if (test(x, b)) return true;
          return false;
        }
        return test(a, b);
      };
    }
    const lits = items.map((i) => (i as Extract<ValueItem, { t: 'lit' }>).v);
    // Validate values even when the field is not provided, so that errors surface at load.
    const test = this.scalarTest(op, type, lits, e.pos);
    if (!get) return FALSE;
    if (op === 'in') {
      return (ev) => {
        const v = get(ev);
        if (v === undefined) return false;
        if (typeof v === 'object') {
          if (v.length === 0) return false;
          for (let i = 0; i < v.length; i++) if (!test(v[i])) return false;
          return true;
        }
        return test(v);
      };
    }
    if (op === '!=') {
      return (ev) => {
        const v = get(ev);
        if (v === undefined) return false;
        if (typeof v === 'object') {
          for (let i = 0; i < v.length; i++) if (test(v[i])) return false;
          return v.length > 0;
        }
        return !test(v);
      };
    }
    return (ev) => {
      const v = get(ev);
      if (v === undefined) return false;
      if (typeof v === 'object') {
        for (let i = 0; i < v.length; i++) if (test(v[i])) return true;
        return false;
      }
      return test(v);
    };
  }

  /**
   * Builds the per-value test. For `!=` it returns the equality test (the caller negates); for `in`,
   * `intersects` and `pmatch` it tests membership in the whole list.
   */
  private scalarTest(
    op: Operator,
    type: FieldType,
    lits: string[],
    pos: number,
  ): (x: string | number | boolean) => boolean {
    const num = (s: string): number => {
      const n = Number(s);
      if (s.trim() === '' || Number.isNaN(n)) throw new CompileError(`"${s}" is not a number`, pos);
      return n;
    };
    const bool = (s: string): boolean => {
      const t = s.toLowerCase();
      if (t === 'true') return true;
      if (t === 'false') return false;
      throw new CompileError(`"${s}" is not a boolean (true/false)`, pos);
    };
    const v = lits[0];
    switch (op) {
      case '=':
      case '==':
      case '!=':
      case 'in':
      case 'intersects': {
        if (type === 'number') {
          const set = new Set(lits.map(num));
          if (set.size === 1) {
            const n = [...set][0];
            return (x) => (typeof x === 'number' ? x : Number(x)) === n;
          }
          return (x) => set.has(typeof x === 'number' ? x : Number(x));
        }
        if (type === 'bool') {
          const set = new Set(lits.map(bool));
          return (x) => set.has(typeof x === 'boolean' ? x : String(x) === 'true');
        }
        if (type === 'ip') {
          const ms = lits.map(ipMatcher);
          return (x) => {
            const s = String(x);
            for (const m of ms) if (m(s)) return true;
            return false;
          };
        }
        if (lits.length === 1) return (x) => (typeof x === 'string' ? x : String(x)) === v;
        const set = new Set(lits);
        return (x) => set.has(typeof x === 'string' ? x : String(x));
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const n = num(v);
        if (op === '<') return (x) => Number(x) < n;
        if (op === '<=') return (x) => Number(x) <= n;
        if (op === '>') return (x) => Number(x) > n;
        return (x) => Number(x) >= n;
      }
      case 'contains':
        return (x) => String(x).includes(v);
      case 'icontains': {
        const lv = v.toLowerCase();
        return (x) => String(x).toLowerCase().includes(lv);
      }
      case 'bcontains': {
        const b = hexToBinaryString(v, pos);
        return (x) => String(x).includes(b);
      }
      case 'startswith':
        return (x) => String(x).startsWith(v);
      case 'bstartswith': {
        const b = hexToBinaryString(v, pos);
        return (x) => String(x).startsWith(b);
      }
      case 'endswith':
        return (x) => String(x).endsWith(v);
      case 'glob': {
        const re = globToRegExp(v);
        return (x) => re.test(String(x));
      }
      case 'iglob': {
        const re = globToRegExp(v, 'i');
        return (x) => re.test(String(x));
      }
      case 'regex': {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${v})$`, 's');
        } catch (err) {
          throw new CompileError(`invalid regular expression "${v}": ${(err as Error).message}`, pos);
        }
        return (x) => re.test(String(x));
      }
      case 'pmatch': {
        const t = pmatchTest(lits);
        return (x) => t(String(x));
      }
      case 'exists':
        return () => true;
    }
  }
}

/**
 * One-slot cache keyed by event identity: the same field or macro is read by many rules for one event,
 * and events are evaluated one at a time.
 */
function memoize(g: Getter): Getter {
  let last: VigieEvent | undefined;
  let val: FieldValue;
  return (ev) => {
    if (ev === last) return val;
    val = g(ev);
    last = ev;
    return val;
  };
}

function memoizePred(p: Pred): Pred {
  let last: VigieEvent | undefined;
  let val = false;
  return (ev) => {
    if (ev === last) return val;
    val = p(ev);
    last = ev;
    return val;
  };
}

function intersect(a: ReadonlySet<string> | null, b: ReadonlySet<string>): ReadonlySet<string> {
  if (a === null) return b;
  const out = new Set<string>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out;
}

function dynamicTest(
  op: Operator,
  pos: number,
): (a: string | number | boolean, b: string | number | boolean) => boolean {
  switch (op) {
    case '=':
    case '==':
      return (a, b) => String(a) === String(b);
    case '!=':
      return (a, b) => String(a) !== String(b);
    case '<':
      return (a, b) => Number(a) < Number(b);
    case '<=':
      return (a, b) => Number(a) <= Number(b);
    case '>':
      return (a, b) => Number(a) > Number(b);
    case '>=':
      return (a, b) => Number(a) >= Number(b);
    case 'contains':
      return (a, b) => String(a).includes(String(b));
    case 'icontains':
      return (a, b) => String(a).toLowerCase().includes(String(b).toLowerCase());
    case 'startswith':
      return (a, b) => String(a).startsWith(String(b));
    case 'endswith':
      return (a, b) => String(a).endsWith(String(b));
    default:
      throw new CompileError(`operator ${op} cannot compare with a field`, pos);
  }
}

export { FALSE };
export type { FieldValue };
