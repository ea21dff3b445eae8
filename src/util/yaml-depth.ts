/**
 * A bound on YAML nesting, checked before the yaml package parses: its parser and composer take
 * time that grows with the nesting depth at every level (thousands of `{a: `, `[` or `- - -` cost
 * tens of microseconds per byte) and recurse per level. Kubernetes objects, Falco rules and response
 * policies nest a few tens of levels at most, so a document nested deeper than the limit is refused
 * with its place instead of parsed.
 *
 * The scan is linear and conservative: it counts flow collections (`{`, `[`) outside quoted
 * scalars and comments, plus compact block sequences and mappings on one line (`- - - x`, `? ? x`),
 * on top of the line's indentation divided by the smallest indentation step (1 column).
 */

/** Deeper than any object Vigie reads (a Kubernetes pod template nests about 15 levels). */
export const MAX_YAML_DEPTH = 200;

export interface TooDeep {
  /** Offset in the text where the depth passed the limit. */
  readonly offset: number;
  readonly depth: number;
}

/** Where `text` first nests deeper than `limit`, or undefined. Linear time, no allocation per char. */
export function yamlTooDeep(text: string, limit = MAX_YAML_DEPTH): TooDeep | undefined {
  let flow = 0;
  let i = 0;
  const n = text.length;
  let lineStart = true;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (lineStart) {
      lineStart = false;
      // Compact nesting at the start of a line: `- - - x`, `? ? x`, `- ? - x`.
      let j = i;
      while (j < n && text.charCodeAt(j) === 32) j++;
      let block = 0;
      while (
        j + 1 < n &&
        (text.charCodeAt(j) === 45 || text.charCodeAt(j) === 63) &&
        isBlank(text.charCodeAt(j + 1))
      ) {
        block++;
        j += 2;
        while (j < n && text.charCodeAt(j) === 32) j++;
      }
      if (flow + block > limit) return { offset: j, depth: flow + block };
      i = j;
      continue;
    }
    if (c === 10) {
      lineStart = true;
      i++;
    } else if (c === 35 && (i === 0 || isBlank(text.charCodeAt(i - 1)))) {
      // A comment, to the end of the line.
      while (i < n && text.charCodeAt(i) !== 10) i++;
    } else if (c === 34) {
      // A double-quoted scalar: backslash escapes.
      i++;
      while (i < n && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      i++;
    } else if (c === 39 && (i === 0 || isIndicatorBefore(text.charCodeAt(i - 1)))) {
      // A single-quoted scalar ('' is a quote inside it); an apostrophe inside a plain word is not one.
      i++;
      while (i < n) {
        if (text.charCodeAt(i) === 39) {
          if (text.charCodeAt(i + 1) === 39) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else {
      if (c === 123 || c === 91) {
        flow++;
        if (flow > limit) return { offset: i, depth: flow };
      } else if ((c === 125 || c === 93) && flow > 0) flow--;
      i++;
    }
  }
  return undefined;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || Number.isNaN(c);
}

/** A quote opens a scalar only where a scalar can start: after a blank or a flow indicator. */
function isIndicatorBefore(c: number): boolean {
  return isBlank(c) || c === 91 || c === 123 || c === 44 || c === 58;
}

/** 1-based line and column of `offset` in `text`. */
export function lineColAt(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  return { line, col: end - lineStart + 1 };
}

/** The error text for a document nested too deep. */
export function tooDeepMessage(limit = MAX_YAML_DEPTH): string {
  return `nested deeper than ${limit} levels (collections, indicators), refused`;
}
