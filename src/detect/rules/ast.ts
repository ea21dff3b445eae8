/**
 * The abstract syntax of Falco's filter language, as produced by parser.ts and consumed by compile.ts.
 * Macros and lists are still names here; compile.ts resolves them against the collected rule set.
 */

/**
 * How deep a condition may nest. The parser counts parentheses, `not`s and transformer calls in one
 * condition's text; the compiler counts and/or/not nodes and macro references through every macro a
 * condition uses. Deeper conditions are refused with their place, instead of exhausting the stack
 * while loading (or while evaluating, since each macro level is one call). Falco's own rule files nest
 * about a dozen levels, macros included.
 */
export const MAX_CONDITION_DEPTH = 256;

export const OPERATORS = [
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'glob',
  'iglob',
  'pmatch',
  'in',
  'intersects',
  'regex',
  'exists',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** Operators whose right-hand side is a parenthesised list. */
export const LIST_OPERATORS: ReadonlySet<string> = new Set(['in', 'intersects', 'pmatch']);

export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len'] as const;
export type Transformer = (typeof TRANSFORMERS)[number];

export interface FieldRef {
  name: string;
  /** Text inside `[...]`, when given (proc.aname[2], jevt.value[/stage], ka.uri.param[command]). */
  arg?: string;
  /** Applied innermost first: tolower(b64(x)) → ['b64', 'tolower']. */
  transformers: Transformer[];
  /** Offset of the field in the condition text, for error messages. */
  pos: number;
}

/** A right-hand-side item: a literal, a list name (expanded at compile time), or a field (val(...)). */
export type ValueItem =
  { t: 'lit'; v: string; quoted: boolean; pos: number } | { t: 'field'; f: FieldRef; pos: number };

export type Expr =
  | { t: 'and'; items: Expr[] }
  | { t: 'or'; items: Expr[] }
  | { t: 'not'; e: Expr }
  /** A bare identifier: a macro reference. */
  | { t: 'macro'; name: string; pos: number }
  | { t: 'cmp'; field: FieldRef; op: Operator; values: ValueItem[]; list: boolean; pos: number };
