/**
 * Parser for Falco's filter (condition) language.
 *
 *   expr    := or
 *   or      := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | check
 *   check   := '(' expr ')' | IDENT (macro) | fieldExpr op value | fieldExpr 'exists'
 *   value   := '(' item (',' item)* ')' | item
 *   item    := quoted string | bare string | 'val(' field ')' | transformer '(' ... ')'
 *
 * Field names have at least one dot (proc.name, ka.req.pod.containers.image) and may carry an
 * argument in brackets; identifiers without a dot are macros. Values after an operator are bare
 * strings up to whitespace, a comma, a parenthesis or a quote, exactly as Falco reads them, so that
 * `runc:[0:PARENT]` and `/healthz?` need no quoting.
 *
 * Parentheses, `not`s and transformer calls may nest at most MAX_CONDITION_DEPTH (256) levels: the
 * parser descends one level per nesting, and a deeper condition is refused with its offset.
 */
import {
  LIST_OPERATORS,
  MAX_CONDITION_DEPTH,
  OPERATORS,
  TRANSFORMERS,
  type Expr,
  type FieldRef,
  type Operator,
  type Transformer,
  type ValueItem,
} from './ast.js';

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    /** Offset in the condition text. */
    readonly pos: number,
  ) {
    super(message);
  }
}

const WORD_OPS: ReadonlySet<string> = new Set<string>(OPERATORS.filter((o) => /^[a-z]/.test(o)));
const TRANSFORMER_SET: ReadonlySet<string> = new Set<string>(TRANSFORMERS);

class Parser {
  private i = 0;
  /** Current nesting of parentheses, `not`s and transformer calls. */
  private depth = 0;
  // Sticky patterns carry their position (lastIndex): each parser has its own.
  private readonly identRe = /[A-Za-z_][A-Za-z0-9_]*/y;
  private readonly fieldRe = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)+/y;
  private readonly bareRe = /[^\s(),"'=]+/y;
  constructor(private readonly s: string) {}

  parse(): Expr {
    this.ws();
    if (this.i >= this.s.length) throw new ConditionSyntaxError('empty condition', 0);
    const e = this.orExpr();
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected "${this.peekWord()}"`);
    return e;
  }

  private fail(msg: string, at = this.i): never {
    throw new ConditionSyntaxError(`${msg} at offset ${at}`, at);
  }

  /** Enters one level of nesting at `at`; refuses to go deeper than MAX_CONDITION_DEPTH. */
  private enter(at: number): void {
    if (++this.depth > MAX_CONDITION_DEPTH) this.fail(`nests deeper than ${MAX_CONDITION_DEPTH} levels`, at);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private peekWord(): string {
    const m = /\S+/y;
    m.lastIndex = this.i;
    return m.exec(this.s)?.[0].slice(0, 30) ?? '<end>';
  }

  /** Consume a keyword (and/or/not) if it is next and followed by a delimiter. */
  private keyword(k: string): boolean {
    this.ws();
    if (!this.s.startsWith(k, this.i)) return false;
    const after = this.s[this.i + k.length];
    if (after !== undefined && !/[\s(]/.test(after)) return false;
    this.i += k.length;
    return true;
  }

  private orExpr(): Expr {
    const items = [this.andExpr()];
    while (this.keyword('or')) items.push(this.andExpr());
    return items.length === 1 ? items[0] : { t: 'or', items };
  }

  private andExpr(): Expr {
    const items = [this.notExpr()];
    while (this.keyword('and')) items.push(this.notExpr());
    return items.length === 1 ? items[0] : { t: 'and', items };
  }

  private notExpr(): Expr {
    // `not not ... x` is read in a loop, one nesting level per `not`.
    let nots = 0;
    for (;;) {
      this.ws();
      const at = this.i;
      if (!this.keyword('not')) break;
      this.enter(at);
      nots++;
    }
    let e = this.check();
    this.depth -= nots;
    for (; nots > 0; nots--) e = { t: 'not', e };
    return e;
  }

  private check(): Expr {
    this.ws();
    const start = this.i;
    if (this.s[this.i] === '(') {
      this.enter(this.i);
      this.i++;
      const e = this.orExpr();
      this.ws();
      if (this.s[this.i] !== ')') this.fail('missing ")"');
      this.i++;
      this.depth--;
      return e;
    }
    // A transformer call on the left: tolower(proc.name) = bash
    this.identRe.lastIndex = this.i;
    const id = this.identRe.exec(this.s)?.[0];
    if (id && TRANSFORMER_SET.has(id) && this.s[this.i + id.length] === '(') {
      const f = this.fieldExpr();
      return this.condition(f, start);
    }
    this.fieldRe.lastIndex = this.i;
    const fm = this.fieldRe.exec(this.s);
    if (fm) {
      const f = this.fieldExpr();
      return this.condition(f, start);
    }
    if (id) {
      this.i += id.length;
      return { t: 'macro', name: id, pos: start };
    }
    this.fail(`expected a field, a macro or "(" but found "${this.peekWord()}"`);
  }

  /** field | transformer(fieldExpr) */
  private fieldExpr(): FieldRef {
    this.ws();
    const pos = this.i;
    this.identRe.lastIndex = this.i;
    const id = this.identRe.exec(this.s)?.[0];
    if (id && TRANSFORMER_SET.has(id) && this.s[this.i + id.length] === '(') {
      this.enter(pos);
      this.i += id.length + 1;
      const inner = this.fieldExpr();
      this.ws();
      if (this.s[this.i] !== ')') this.fail(`missing ")" after ${id}(`);
      this.i++;
      this.depth--;
      return { ...inner, transformers: [...inner.transformers, id as Transformer], pos };
    }
    this.fieldRe.lastIndex = this.i;
    const m = this.fieldRe.exec(this.s);
    if (!m) this.fail(`expected a field name but found "${this.peekWord()}"`);
    this.i += m[0].length;
    let arg: string | undefined;
    if (this.s[this.i] === '[') {
      const end = this.s.indexOf(']', this.i + 1);
      if (end < 0) this.fail('missing "]" in field argument');
      arg = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      // Falco accepts a quoted argument: jevt.value["/a b"]
      if (/^(["']).*\1$/.test(arg)) arg = arg.slice(1, -1);
    }
    return { name: m[0], arg, transformers: [], pos };
  }

  private operator(): Operator {
    this.ws();
    const s = this.s;
    const two = s.slice(this.i, this.i + 2);
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      this.i += 2;
      return two as Operator;
    }
    const one = s[this.i];
    if (one === '=' || one === '<' || one === '>') {
      this.i += 1;
      return one as Operator;
    }
    this.identRe.lastIndex = this.i;
    const w = this.identRe.exec(s)?.[0];
    if (w && WORD_OPS.has(w)) {
      this.i += w.length;
      return w as Operator;
    }
    this.fail(`expected an operator but found "${this.peekWord()}"`);
  }

  private condition(field: FieldRef, pos: number): Expr {
    const op = this.operator();
    if (op === 'exists') return { t: 'cmp', field, op, values: [], list: false, pos };
    this.ws();
    if (this.s[this.i] === '(') {
      this.i++;
      const values: ValueItem[] = [];
      this.ws();
      if (this.s[this.i] === ')') {
        this.i++;
        return { t: 'cmp', field, op, values, list: true, pos };
      }
      for (;;) {
        values.push(this.item());
        this.ws();
        const c = this.s[this.i];
        if (c === ',') {
          this.i++;
          continue;
        }
        if (c === ')') {
          this.i++;
          break;
        }
        this.fail(`expected "," or ")" in list but found "${this.peekWord()}"`);
      }
      return { t: 'cmp', field, op, values, list: true, pos };
    }
    if (LIST_OPERATORS.has(op)) {
      // `in list_name` without parentheses is not Falco syntax, but a lone value is accepted as a one-item list.
      return { t: 'cmp', field, op, values: [this.item()], list: true, pos };
    }
    return { t: 'cmp', field, op, values: [this.item()], list: false, pos };
  }

  private item(): ValueItem {
    this.ws();
    const pos = this.i;
    const c = this.s[this.i];
    if (c === '"' || c === "'") return { t: 'lit', v: this.quoted(c), quoted: true, pos };
    this.identRe.lastIndex = this.i;
    const id = this.identRe.exec(this.s)?.[0];
    if (id && this.s[this.i + id.length] === '(' && (id === 'val' || TRANSFORMER_SET.has(id))) {
      if (id === 'val') {
        this.i += 4;
        const f = this.fieldExpr();
        this.ws();
        if (this.s[this.i] !== ')') this.fail('missing ")" after val(');
        this.i++;
        return { t: 'field', f, pos };
      }
      return { t: 'field', f: this.fieldExpr(), pos };
    }
    this.bareRe.lastIndex = this.i;
    const m = this.bareRe.exec(this.s);
    if (!m) this.fail(`expected a value but found "${this.peekWord()}"`);
    this.i += m[0].length;
    return { t: 'lit', v: m[0], quoted: false, pos };
  }

  private quoted(q: string): string {
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '\\' && this.i + 1 < this.s.length) {
        const n = this.s[this.i + 1];
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n;
        this.i += 2;
        continue;
      }
      if (c === q) {
        this.i++;
        return out;
      }
      out += c;
      this.i++;
    }
    this.fail('unterminated string');
  }
}

export function parseCondition(text: string): Expr {
  return new Parser(text).parse();
}

/**
 * Parse one list item as written in a `list:` block. Items such as '"sh -c uname -p"' carry their own
 * quotes because Falco pastes them into conditions; strip them.
 */
export function unquoteListItem(item: unknown): string {
  const s = typeof item === 'string' ? item : String(item);
  const t = s.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) {
    return t.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return t;
}
