/**
 * Input generators for the fuzz targets: near-valid inputs made from real seed inputs (bytes inserted,
 * deleted, duplicated; seeds spliced together; numbers made huge; control characters; deep nesting),
 * structured mutations of JSON seeds (one value replaced by an arbitrary one), and some plain random
 * text, so that a parser is exercised past its first syntax check.
 */
import fc from 'fast-check';

/** An edit applied to a seed's text; positions are fractions of the current length. */
type Edit =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number; to: number; times: number }
  | { op: 'splice'; at: number; other: number; from: number; len: number }
  | { op: 'number'; nth: number; value: string }
  | { op: 'nest'; at: number; pair: number; depth: number };

/** Values that break numeric assumptions (overflow, precision, sign, exponent notation). */
const HUGE_NUMBERS: readonly string[] = [
  '99999999999999999999999999999',
  '18446744073709551616',
  '9007199254740993',
  '-9223372036854775809',
  '1e308',
  '1e400',
  '-0',
  '0x7fffffff',
  '4294967296',
  '-1',
  'NaN',
  'Infinity',
  '1.5',
];

/** Characters that parsers tend to treat specially. */
const SPECIAL_CHARS: readonly string[] = [
  '\u0000',
  '\t',
  '\r',
  '\n',
  '\r\n',
  '\u000b',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ud800',
  '\\',
  '"',
  "'",
  '`',
  '%',
  '&a ',
  '*a',
  '!!binary ',
  '---\n',
  '...\n',
  '{',
  '}',
  '[',
  ']',
  ':',
  ',',
  '#',
  '|',
  '>',
  '<',
  ' ',
  '  ',
];

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const insertedText = fc.oneof(
  fc.constantFrom(...SPECIAL_CHARS),
  fc.string({ maxLength: 8, unit: 'binary' }),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(...HUGE_NUMBERS),
);

function editArb(seedCount: number, pairCount: number): fc.Arbitrary<Edit> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('insert' as const), at: fraction, text: insertedText }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('delete' as const),
        at: fraction,
        len: fc.integer({ min: 1, max: 32 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('duplicate' as const),
        at: fraction,
        len: fc.integer({ min: 1, max: 64 }),
        to: fraction,
        times: fc.integer({ min: 1, max: 50 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('splice' as const),
        at: fraction,
        other: fc.nat({ max: Math.max(0, seedCount - 1) }),
        from: fraction,
        len: fc.integer({ min: 1, max: 200 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('number' as const),
        nth: fc.nat({ max: 40 }),
        value: fc.constantFrom(...HUGE_NUMBERS),
      }),
    },
    {
      weight: pairCount > 0 ? 1 : 0,
      arbitrary: fc.record({
        op: fc.constant('nest' as const),
        at: fraction,
        pair: fc.nat({ max: Math.max(0, pairCount - 1) }),
        depth: fc.integer({ min: 1, max: 3000 }),
      }),
    },
  );
}

const posOf = (f: number, len: number) => Math.min(len, Math.floor(f * (len + 1)));

function applyEdit(
  text: string,
  e: Edit,
  seeds: readonly string[],
  pairs: readonly (readonly [string, string])[],
): string {
  const at = e.op === 'number' ? 0 : posOf(e.at, text.length);
  switch (e.op) {
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + e.len);
    case 'duplicate': {
      const piece = text.slice(at, at + e.len).repeat(e.times);
      const to = posOf(e.to, text.length);
      return text.slice(0, to) + piece + text.slice(to);
    }
    case 'splice': {
      const other = seeds[e.other % seeds.length];
      const from = posOf(e.from, other.length);
      return text.slice(0, at) + other.slice(from, from + e.len) + text.slice(at);
    }
    case 'number': {
      const re = /\d+/g;
      let m: RegExpExecArray | null;
      let i = 0;
      while ((m = re.exec(text)) !== null) {
        if (i++ === e.nth) return text.slice(0, m.index) + e.value + text.slice(m.index + m[0].length);
      }
      return text;
    }
    case 'nest': {
      const [open, close] = pairs[e.pair % pairs.length];
      return text.slice(0, at) + open.repeat(e.depth) + close.repeat(e.depth) + text.slice(at);
    }
  }
}

/** A seed with 0..6 edits applied. */
export function mutatedSeeds(
  seeds: readonly string[],
  nesting: readonly (readonly [string, string])[] = [],
): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(editArb(seeds.length, nesting.length), { maxLength: 6 }),
    )
    .map(([i, edits]) => edits.reduce((t, e) => applyEdit(t, e, seeds, nesting), seeds[i]));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Paths deeper than this are not edited (a value nested by an earlier edit is edited as a whole). */
const MAX_EDIT_DEPTH = 32;

/** Every path (keys and indices) to a value inside `v`, the root included, down to MAX_EDIT_DEPTH. */
function pathsOf(
  v: Json,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (prefix.length >= MAX_EDIT_DEPTH) return out;
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object')
    for (const k of Object.keys(v)) pathsOf(v[k], [...prefix, k], out);
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let cur = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy as Json;
}

/**
 * Deep nesting is spliced into the serialized text (a placeholder string is replaced), so that the
 * generator itself never recurses through thousands of levels.
 */
const DEEP = '\u0000deep:';
const deepMarker = (kind: 'array' | 'object', depth: number): Json => `${DEEP}${kind}:${depth}`;
const DEEP_RE = /"\\u0000deep:(array|object):(\d+)"/g;
const expandDeep = (text: string): string =>
  text.replace(DEEP_RE, (_m, kind: string, d: string) =>
    kind === 'array' ? '['.repeat(+d) + '1' + ']'.repeat(+d) : '{"a":'.repeat(+d) + '"x"' + '}'.repeat(+d),
  );

/** A replacement value: arbitrary JSON, a wrong type, a huge number, a long or odd string, deep nesting. */
const replacement: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json | undefined>(undefined, null, true, 0, -1, '', '<NA>', [], {}),
  fc.constantFrom<Json>(1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -0, 0.5, 4294967296),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.constantFrom(...SPECIAL_CHARS).map((c) => c.repeat(3)),
  fc.integer({ min: 1, max: 5000 }).map((d) => deepMarker('array', d)),
  fc.integer({ min: 1, max: 5000 }).map((d) => deepMarker('object', d)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'a'.repeat(n)),
);

/** A JSON seed with 1..4 values replaced (or removed), serialized; sometimes several on one line. */
export function mutatedJson(seeds: readonly Json[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(fc.tuple(fraction, replacement), { minLength: 1, maxLength: 4 }),
    )
    .map(([i, edits]) => {
      let doc = seeds[i];
      for (const [where, value] of edits) {
        const paths = pathsOf(doc);
        doc = setAt(doc, paths[Math.min(paths.length - 1, Math.floor(where * paths.length))], value);
      }
      return expandDeep(JSON.stringify(doc) ?? 'null');
    });
}

/** Random text and bytes with no structure at all. */
export const randomText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200, unit: 'binary' }),
  fc.string({ maxLength: 200, unit: fc.constantFrom(...SPECIAL_CHARS) }),
);

export type { Json };
