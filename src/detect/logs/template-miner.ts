/**
 * Online log template miner: turns each log message (the content, its header already split off)
 * into a template id and the values of its variable parts, learning templates as they appear.
 *
 * The algorithm is Drain's fixed-depth tree (He et al., ICWS 2017) with two changes that make one
 * configuration fit many systems:
 *  - masking by token shape, before anything is compared: inside a token, every run of letters and
 *    digits that holds a digit is a variable (`blk_-4873` → `blk_<*>`, `10.0.0.1:50010` → `<*>`,
 *    `uid=0` → `uid=<*>`); no regular expression runs per line (a scan of character codes);
 *  - a line is routed by its token count and its first token (a masked first token goes to the
 *    wildcard branch), then compared with every template of that leaf by the share of positions
 *    that agree, where a position the template has already generalised agrees with anything.
 *
 * Memory is bounded: templates (`maxTemplates`; a line that would need another one gets template id
 * 0), tokens per line (`maxTokens`; the rest joins the last token) and line length (`maxLineLength`;
 * the rest is cut). Each bound counts when it is hit (`stats()`).
 *
 * State: `toJSON()` / `TemplateMiner.fromJSON()` (versioned, validated: a hostile state is refused
 * with a `TemplateStateError` naming the place). Template ids are assigned once and kept across
 * restarts.
 */

export const WILDCARD = '<*>';

export interface MinerConfig {
  /** Share of agreeing positions (0..1) for a line to join a template. */
  similarity: number;
  /** Templates per leaf of the tree before new first tokens go to the wildcard branch. */
  maxChildren: number;
  maxTemplates: number;
  maxTokens: number;
  maxLineLength: number;
  /** Distinct values kept per parameter position (then only the count and numeric range grow). */
  maxValuesPerParam: number;
  /** Characters kept of a template's example line and of each remembered parameter value. */
  maxExampleLength: number;
}

export const DEFAULT_MINER_CONFIG: Readonly<MinerConfig> = Object.freeze({
  similarity: 0.75,
  maxChildren: 100,
  maxTemplates: 10_000,
  maxTokens: 256,
  maxLineLength: 16_384,
  maxValuesPerParam: 16,
  maxExampleLength: 512,
});

/**
 * What was learned of one parameter position: how often it was seen, the numeric range of the
 * values that are plain numbers, and up to `maxValuesPerParam` distinct values (`overflow` once a
 * value beyond them was seen). A detector flags a value outside what was learned: a number outside
 * [min, max] when every value was numeric, or a value not in `values` while `overflow` is false.
 */
export interface ParamSummary {
  count: number;
  /** How many of the values were plain decimal numbers. */
  numeric: number;
  /** Numeric range (meaningful when numeric > 0). */
  min: number;
  max: number;
  values: string[];
  overflow: boolean;
}

export interface LogTemplate {
  readonly id: number;
  /** The template's tokens; `<*>` marks a variable, also inside a token (`blk_<*>`). */
  readonly tokens: string[];
  count: number;
  example: string;
  /** Per parameter, in the order `params` of a match lists them. */
  params: ParamSummary[];
}

export interface MatchResult {
  /** 0 when the template limit was reached and the line fits none of the templates. */
  templateId: number;
  /** The template as it stands after this line (tokens joined by single spaces). */
  template: string;
  /** The values of the variables, in order. */
  params: string[];
  /** Whether this line created the template. */
  created: boolean;
}

export interface MinerStats {
  lines: number;
  templates: number;
  /** Lines that needed a new template beyond maxTemplates (given template 0). */
  templateLimitHits: number;
  /** Lines with more than maxTokens tokens. */
  tokenLimitHits: number;
  /** Lines longer than maxLineLength. */
  lengthLimitHits: number;
}

interface Cluster extends LogTemplate {
  /** The key of the leaf it lives in (kept in the state: a template's first token may have generalised since). */
  route: string;
  /** The tokens joined by single spaces (kept in step with them). */
  text: string;
  /** For each wildcard position, the literal pieces around its wildcards (`blk_<*>` → ['blk_', '']). */
  wildParts: string[][];
  /** tokenKind of each template token. */
  kinds: Uint8Array;
  /** Positions whose template token holds a wildcard, in order. */
  wildPositions: number[];
}

interface Leaf {
  /** The first token (or `<*>`) this leaf is reached by. */
  key: string;
  clusters: Cluster[];
}

/** A state that cannot be restored: the message names the place. */
export class TemplateStateError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`template state at ${path}: ${reason}`);
    this.name = 'TemplateStateError';
  }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** Separators inside one value (`10.0.0.1`, `2024-01-02`, `job_1_2`); `:` and `/` stay (`<*>:<*>` is host and port). */
const isJoiner = (c: number): boolean => c === 46 /* . */ || c === 45 /* - */ || c === 95; /* _ */

/** A name with a short number (`eth0`, `IPv4`, `t761`, `fpr29`) is kept; from this many digits it is a value. */
const LONG_DIGITS = 4;
/** Letters and digits that are all hexadecimal, this long or longer, are an identifier (`de9231d`). */
const HEX_ID_LENGTH = 6;

/**
 * A number, an address or a date on its own (`123`, `-5`, `10.0.0.1`, `2024-01-02`, `3.5`): digits and
 * joiners only, so the whole token masks to one wildcard.
 */
function isPlainValue(tok: string): boolean {
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    if (!isDigit(c) && !(i > 0 && isJoiner(c) && isDigit(tok.charCodeAt(i - 1)))) return false;
  }
  return isDigit(tok.charCodeAt(tok.length - 1));
}

/**
 * The token with every letter-and-digit run that holds a digit replaced by `<*>`, a sign before a
 * number included, and `<*>` pieces joined by separators merged into one. Returns the token itself
 * (no allocation) when it holds no digit.
 */
export function maskToken(tok: string): string {
  const n = tok.length;
  let i = 0;
  while (i < n && !isDigit(tok.charCodeAt(i))) i++;
  if (i === n) return tok;
  if (i === 0 && isPlainValue(tok)) return WILDCARD;
  let out = '';
  let lastWasWild = false;
  // Pending separators after a wildcard: dropped when another wildcard follows.
  let pendingSep = '';
  i = 0;
  while (i < n) {
    const c = tok.charCodeAt(i);
    if (isAlnum(c)) {
      let j = i;
      let digits = 0;
      let hex = true;
      while (j < n && isAlnum(tok.charCodeAt(j))) {
        const d = tok.charCodeAt(j);
        if (isDigit(d)) digits++;
        else if (!((d >= 97 && d <= 102) || (d >= 65 && d <= 70))) hex = false;
        j++;
      }
      if (digits > 0 && (isDigit(c) || digits >= LONG_DIGITS || (hex && j - i >= HEX_ID_LENGTH))) {
        if (!lastWasWild) {
          out += pendingSep + WILDCARD;
        }
        pendingSep = '';
        lastWasWild = true;
      } else {
        out += pendingSep + tok.slice(i, j);
        pendingSep = '';
        lastWasWild = false;
      }
      i = j;
    } else if (
      c === 45 /* - */ &&
      i + 1 < n &&
      isDigit(tok.charCodeAt(i + 1)) &&
      (i === 0 || !isAlnum(tok.charCodeAt(i - 1)))
    ) {
      // A sign: part of the number that follows.
      i++;
    } else if (lastWasWild && isJoiner(c) && pendingSep.length === 0) {
      pendingSep = tok[i];
      i++;
    } else {
      out += pendingSep + tok[i];
      pendingSep = '';
      lastWasWild = false;
      i++;
    }
  }
  return out + pendingSep;
}

/** Token kinds: a plain word, a `key=word` or boolean (part of the event: never merged with another), a variable. */
export const WORD = 0;
export const ENUM = 1;
export const VARIABLE = 2;
const KIND_MASK = 3;
const HAS_DIGIT = 4;

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const BOOLEANS: ReadonlySet<string> = new Set(['true', 'false', 'yes', 'no', 'on', 'off']);
/** First letters of BOOLEANS, lower case: most tokens are ruled out without a copy. */
const BOOLEAN_INITIALS: ReadonlySet<number> = new Set([...'tfyno'].map((c) => c.charCodeAt(0)));
/** Punctuation that wraps a token (`(x)`, `"x",`, `[x]:`) and is ignored when classifying it. */
const isWrap = (c: number): boolean =>
  c === 40 ||
  c === 41 ||
  c === 91 ||
  c === 93 ||
  c === 123 ||
  c === 125 ||
  c === 34 ||
  c === 39 ||
  c === 44 ||
  c === 59 ||
  c === 58 ||
  c === 46 ||
  c === 60 ||
  c === 62;

/**
 * The kind of a masked token. VARIABLE: it holds a wildcard, or has the shape of a value without
 * digits: a qualified name or host name (three or more dot-separated parts, `com.apple.Safari`), or a
 * path (`/var/log/x`). ENUM: `key=word` / `key:word` (`user=root`, `overlap:false`) or a boolean
 * literal: these name the event, two lines that differ there are different events. WORD otherwise.
 */
export function tokenKind(tok: string): number {
  if (tok === WILDCARD) return VARIABLE;
  const w = tok.indexOf(WILDCARD);
  if (w >= 0) return tok.indexOf(WILDCARD, w + WILDCARD.length) >= 0 ? VARIABLE : WORD;
  return plainKind(tok);
}

/** tokenKind of a token without wildcards. */
function plainKind(tok: string): number {
  return plainKindAndDigits(tok) & KIND_MASK;
}

/** HAS_DIGIT when the token holds a digit, or-ed with its tokenKind as a token without wildcards. */
function plainKindAndDigits(tok: string): number {
  let s = 0;
  let e = tok.length;
  while (s < e && isWrap(tok.charCodeAt(s))) s++;
  while (e > s && isWrap(tok.charCodeAt(e - 1))) e--;
  if (s === e) return WORD; // wrap characters only: no digit
  let dots = 0;
  let slashes = 0;
  let sep = -1;
  let lettersAfterSep = 0;
  let otherAfterSep = false;
  let digits = 0;
  for (let i = s; i < e; i++) {
    const c = tok.charCodeAt(i);
    if (isDigit(c)) digits++;
    else if (c === 46 && i > s && i < e - 1) dots++;
    else if (c === 47) slashes++;
    if (sep >= 0) {
      if (isLetter(c)) lettersAfterSep++;
      else otherAfterSep = true;
    } else if ((c === 61 || c === 58) && i > s) sep = i;
  }
  const d = digits > 0 ? HAS_DIGIT : 0;
  if (dots >= 2 || (slashes >= 2 && tok.charCodeAt(s) === 47)) return VARIABLE | d;
  if (sep >= 0 && lettersAfterSep > 0 && !otherAfterSep) return ENUM | d;
  if (digits > 0 && sep < 0 && isLetter(tok.charCodeAt(s))) return ENUM | d;
  if (
    e - s <= 5 &&
    e - s >= 2 &&
    BOOLEAN_INITIALS.has(tok.charCodeAt(s) | 32) &&
    BOOLEANS.has(tok.slice(s, e).toLowerCase())
  )
    return ENUM | d;
  return WORD | d;
}

/** maskToken and tokenKind in one: the masked token, its kind written to kinds[at]. */
function maskAndKind(tok: string, kinds: Uint8Array, at: number): string {
  const k = plainKindAndDigits(tok);
  if ((k & HAS_DIGIT) === 0) {
    kinds[at] = k;
    return tok;
  }
  const m = maskToken(tok);
  kinds[at] = m === tok ? k & KIND_MASK : tokenKind(m);
  return m;
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12;

/**
 * Splits on runs of white space into `out` (reused: its length is not changed, the count is returned);
 * at most `max` tokens, the rest of the line joining the last one (the count is then -(max)).
 */
export function tokenizeInto(line: string, max: number, out: string[]): number {
  const n = line.length;
  let count = 0;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    while (c === 32 || (c <= 13 && c >= 9)) {
      if (++i === n) return count;
      c = line.charCodeAt(i);
    }
    const start = i;
    if (count === max - 1) {
      let end = n;
      while (end > i && isSpace(line.charCodeAt(end - 1))) end--;
      let j = i;
      while (j < end && !isSpace(line.charCodeAt(j))) j++;
      out[count++] = line.slice(start, end);
      return j < end ? -count : count;
    }
    i++;
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === 32 || (c <= 13 && c >= 9)) break;
      i++;
    }
    out[count++] = line.slice(start, i);
  }
  return count;
}

/** Splits on runs of white space (see tokenizeInto). */
export function tokenize(line: string, max: number): { tokens: string[]; truncated: boolean } {
  const out: string[] = [];
  const n = tokenizeInto(line, max, out);
  return { tokens: out.slice(0, Math.abs(n)), truncated: n < 0 };
}

/**
 * Appends the values of the wildcards of one template token to `out`, given the token's literal
 * pieces (`blk_<*>` → ['blk_', '']). A token that does not have the template's shape gives itself
 * for each wildcard (returns false).
 */
export function extractParams(parts: readonly string[], token: string, out: string[]): boolean {
  if (parts.length === 2 && parts[0].length === 0 && parts[1].length === 0) {
    out.push(token);
    return true;
  }
  const first = parts[0];
  if (!token.startsWith(first)) return fallback();
  let pos = first.length;
  const start = out.length;
  for (let k = 1; k < parts.length; k++) {
    const lit = parts[k];
    let next: number;
    if (k === parts.length - 1) {
      if (!token.endsWith(lit) || token.length - lit.length < pos) {
        out.length = start;
        return fallback();
      }
      next = token.length - lit.length;
    } else {
      next = lit.length === 0 ? pos : token.indexOf(lit, pos);
      if (next < 0) {
        out.length = start;
        return fallback();
      }
    }
    out.push(token.slice(pos, next));
    pos = next + lit.length;
  }
  return true;
  function fallback(): boolean {
    for (let k = 1; k < parts.length; k++) out.push(token);
    return false;
  }
}

const newSummary = (): ParamSummary => ({
  count: 0,
  numeric: 0,
  min: Infinity,
  max: -Infinity,
  values: [],
  overflow: false,
});

/** A plain decimal number (optional sign, digits, optional fraction); NaN otherwise. */
function plainNumber(s: string): number {
  const n = s.length;
  if (n === 0 || n > 24) return NaN;
  let i = s.charCodeAt(0) === 45 ? 1 : 0;
  if (i === n) return NaN;
  let dot = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && !dot) dot = true;
    else if (!isDigit(c)) return NaN;
  }
  return Number(s);
}

export class TemplateMiner {
  readonly config: Readonly<MinerConfig>;
  /** Token count → first token (or `<*>`) → leaf. */
  private readonly tree = new Map<number, Map<string, Leaf>>();
  private readonly byId = new Map<number, Cluster>();
  private nextId = 1;
  /** Per-line work arrays, reused (no allocation per line beyond the tokens themselves). */
  private readonly tokenBuf: string[] = [];
  private readonly maskedBuf: string[] = [];
  private readonly kindBuf: Uint8Array;
  private readonly counters: MinerStats = {
    lines: 0,
    templates: 0,
    templateLimitHits: 0,
    tokenLimitHits: 0,
    lengthLimitHits: 0,
  };

  constructor(config: Partial<MinerConfig> = {}) {
    this.config = validateConfig({ ...DEFAULT_MINER_CONFIG, ...config }, 'config');
    this.kindBuf = new Uint8Array(this.config.maxTokens);
  }

  /** Learns from one message and returns its template id and parameters. */
  add(line: string): MatchResult {
    return this.process(line, true);
  }

  /** Matches one message against what was learned, learning nothing (template id 0 when none fits). */
  match(line: string): MatchResult {
    return this.process(line, false);
  }

  stats(): MinerStats {
    return { ...this.counters, templates: this.byId.size };
  }

  templates(): readonly LogTemplate[] {
    return [...this.byId.values()];
  }

  template(id: number): LogTemplate | undefined {
    return this.byId.get(id);
  }

  /** The learned state, as plain JSON (restore with `TemplateMiner.fromJSON`). */
  toJSON(): MinerState {
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      config: { ...this.config },
      nextId: this.nextId,
      counters: { ...this.counters, templates: this.byId.size },
      templates: [...this.byId.values()].map((c) => ({
        id: c.id,
        route: c.route,
        tokens: c.tokens.slice(),
        count: c.count,
        example: c.example,
        params: c.params.map((p) => ({
          count: p.count,
          numeric: p.numeric,
          min: p.numeric > 0 ? p.min : null,
          max: p.numeric > 0 ? p.max : null,
          values: p.values.slice(),
          overflow: p.overflow,
        })),
      })),
    };
  }

  /**
   * A miner with a state made by `toJSON` (possibly by an older version, possibly hostile): every
   * field is checked; a bad one throws a TemplateStateError naming it (`templates[3].tokens[2]`).
   */
  static fromJSON(value: unknown): TemplateMiner {
    const o = obj(value, '$');
    if (o.format !== STATE_FORMAT) throw new TemplateStateError('$.format', `expected "${STATE_FORMAT}"`);
    if (o.version !== STATE_VERSION)
      throw new TemplateStateError(
        '$.version',
        `unsupported version ${describe(o.version)} (this build reads ${STATE_VERSION})`,
      );
    const cfgIn = obj(o.config, '$.config');
    const cfg: Partial<MinerConfig> = {};
    for (const k of Object.keys(DEFAULT_MINER_CONFIG) as (keyof MinerConfig)[])
      if (cfgIn[k] !== undefined) cfg[k] = cfgIn[k] as number;
    const m = new TemplateMiner(validateConfig({ ...DEFAULT_MINER_CONFIG, ...cfg }, '$.config'));
    const c = m.config;
    const nextId = int(o.nextId, '$.nextId', 1, Number.MAX_SAFE_INTEGER);
    const counters = obj(o.counters, '$.counters');
    for (const k of ['lines', 'templateLimitHits', 'tokenLimitHits', 'lengthLimitHits'] as const)
      m.counters[k] = int(counters[k], `$.counters.${k}`, 0, Number.MAX_SAFE_INTEGER);
    if (!Array.isArray(o.templates)) throw new TemplateStateError('$.templates', 'expected an array');
    if (o.templates.length > c.maxTemplates)
      throw new TemplateStateError(
        '$.templates',
        `${o.templates.length} templates, more than maxTemplates ${c.maxTemplates}`,
      );
    let lastId = 0;
    o.templates.forEach((t: unknown, i: number) => {
      const at = `$.templates[${i}]`;
      const to = obj(t, at);
      const id = int(to.id, `${at}.id`, lastId + 1, nextId - 1);
      lastId = id;
      if (!Array.isArray(to.tokens)) throw new TemplateStateError(`${at}.tokens`, 'expected an array');
      if (to.tokens.length > c.maxTokens)
        throw new TemplateStateError(
          `${at}.tokens`,
          `${to.tokens.length} tokens, more than maxTokens ${c.maxTokens}`,
        );
      // Masking makes a token up to three times longer (`1` → `<*>`).
      const maxToken = 3 * c.maxLineLength;
      const tokens = to.tokens.map((x: unknown, k: number) => str(x, `${at}.tokens[${k}]`, maxToken, true));
      const route = str(to.route, `${at}.route`, maxToken, false);
      if (tokens.length > 0 && route !== WILDCARD && route !== maskToken(tokens[0]) && tokens[0] !== WILDCARD)
        throw new TemplateStateError(`${at}.route`, 'neither <*> nor the first token');
      const kinds = new Uint8Array(tokens.length);
      for (let k = 0; k < tokens.length; k++) kinds[k] = tokenKind(tokens[k]);
      const cl = m.create(
        tokens,
        kinds,
        str(to.example, `${at}.example`, c.maxExampleLength, false),
        route,
        id,
      );
      cl.count = int(to.count, `${at}.count`, 0, Number.MAX_SAFE_INTEGER);
      if (!Array.isArray(to.params)) throw new TemplateStateError(`${at}.params`, 'expected an array');
      const slots = cl.wildParts.reduce((a, p) => a + p.length - 1, 0);
      if (to.params.length !== slots)
        throw new TemplateStateError(`${at}.params`, `${to.params.length} summaries for ${slots} parameters`);
      cl.params = to.params.map((p: unknown, k: number) => summary(p, `${at}.params[${k}]`, c));
      let byFirst = m.tree.get(tokens.length);
      if (!byFirst) {
        byFirst = new Map();
        m.tree.set(tokens.length, byFirst);
      }
      let leaf = byFirst.get(route);
      if (!leaf) {
        leaf = { key: route, clusters: [] };
        byFirst.set(route, leaf);
      }
      leaf.clusters.push(cl);
    });
    m.nextId = nextId;
    return m;
  }

  private process(raw: string, learn: boolean): MatchResult {
    const cfg = this.config;
    if (learn) this.counters.lines++;
    let line = raw;
    if (line.length > cfg.maxLineLength) {
      if (learn) this.counters.lengthLimitHits++;
      line = line.slice(0, cfg.maxLineLength);
    }
    const tokens = this.tokenBuf;
    let n = tokenizeInto(line, cfg.maxTokens, tokens);
    if (n < 0) {
      n = -n;
      if (learn) this.counters.tokenLimitHits++;
    }
    const masked = this.maskedBuf;
    const kinds = this.kindBuf;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const m = maskAndKind(tokens[i], kinds, w);
      // A run of values of one shape (`blk_1 blk_2 blk_3`, a list of numbers) is one variable: lists
      // of any length are one event.
      if (w > 0 && m === masked[w - 1] && m.includes(WILDCARD)) {
        tokens[w - 1] += ' ' + tokens[i];
        continue;
      }
      tokens[w] = tokens[i];
      masked[w++] = m;
    }
    n = w;
    const leaf = this.leafFor(masked, kinds, n, learn);
    let best: Cluster | undefined;
    if (leaf) best = this.bestMatch(leaf, masked, kinds, n);
    let created = false;
    if (best) {
      if (learn) this.generalise(best, masked, n);
    } else {
      if (!learn || !leaf || this.byId.size >= cfg.maxTemplates) {
        if (learn && leaf) this.counters.templateLimitHits++;
        return { templateId: 0, template: masked.slice(0, n).join(' '), params: [], created: false };
      }
      best = this.create(masked.slice(0, n), kinds.slice(0, n), line, leaf.key);
      leaf.clusters.push(best);
      created = true;
    }
    const params: string[] = [];
    const wp = best.wildPositions;
    for (let k = 0; k < wp.length; k++) extractParams(best.wildParts[k], tokens[wp[k]], params);
    if (learn) {
      best.count++;
      this.summarise(best, params);
    }
    return { templateId: best.id, template: best.text, params, created };
  }

  private leafFor(masked: string[], kinds: Uint8Array, n: number, create: boolean): Leaf | undefined {
    let byFirst = this.tree.get(n);
    if (!byFirst) {
      if (!create) return undefined;
      byFirst = new Map();
      this.tree.set(n, byFirst);
    }
    const key = n === 0 ? '' : kinds[0] === VARIABLE ? WILDCARD : masked[0];
    let leaf = byFirst.get(key) ?? byFirst.get(WILDCARD);
    if (leaf && (byFirst.has(key) || !create)) return leaf;
    if (!create) return undefined;
    const k = byFirst.size >= this.config.maxChildren ? WILDCARD : key;
    leaf = byFirst.get(k);
    if (!leaf) {
      leaf = { key: k, clusters: [] };
      byFirst.set(k, leaf);
    }
    return leaf;
  }

  private bestMatch(leaf: Leaf, masked: string[], kinds: Uint8Array, n: number): Cluster | undefined {
    let best: Cluster | undefined;
    let bestSim = -1;
    let bestWild = -1;
    // sim = same / words ≥ similarity needs words - same ≤ (1 - similarity) · words ≤ (1 - similarity) · n:
    // a template past that many differences cannot be chosen.
    const maxDiff = (1 - this.config.similarity) * n;
    next: for (const c of leaf.clusters) {
      const t = c.tokens;
      const tk = c.kinds;
      let words = 0;
      let same = 0;
      for (let i = 0; i < n; i++) {
        const ka = tk[i];
        const kb = kinds[i];
        if (t[i] === WILDCARD || (ka === VARIABLE && kb === VARIABLE)) continue;
        words++;
        if (t[i] === masked[i]) same++;
        else if ((ka === ENUM && kb === ENUM) || words - same > maxDiff) continue next;
      }
      let sim: number;
      if (words > 0) sim = same / words;
      else {
        // Nothing but variables on either side: the masked shapes must agree.
        let eq = 0;
        for (let i = 0; i < n; i++) if (t[i] === masked[i] || t[i] === WILDCARD) eq++;
        sim = n === 0 ? 1 : eq / n;
      }
      const wild = c.wildPositions.length;
      if (sim > bestSim || (sim === bestSim && wild > bestWild)) {
        best = c;
        bestSim = sim;
        bestWild = wild;
      }
    }
    return best && bestSim >= this.config.similarity ? best : undefined;
  }

  private generalise(c: Cluster, masked: string[], n: number): void {
    let changed = false;
    for (let i = 0; i < n; i++) if (c.tokens[i] !== masked[i] && c.tokens[i] !== WILDCARD) changed = true;
    if (!changed) return;
    // Keep what was learned of the positions that stay; a word that becomes a variable had its one
    // value in every line so far.
    const old = new Map<number, ParamSummary[]>();
    let k = 0;
    for (let w = 0; w < c.wildPositions.length; w++) {
      const slots = c.wildParts[w].length - 1;
      old.set(c.wildPositions[w], c.params.slice(k, k + slots));
      k += slots;
    }
    const before = c.tokens.slice();
    for (let i = 0; i < n; i++) {
      if (c.tokens[i] !== masked[i] && c.tokens[i] !== WILDCARD) {
        c.tokens[i] = WILDCARD;
        c.kinds[i] = VARIABLE;
      }
    }
    setWildcards(c);
    const params: ParamSummary[] = [];
    for (let w = 0; w < c.wildPositions.length; w++) {
      const p = c.wildPositions[w];
      const kept = before[p] === c.tokens[p] ? old.get(p) : undefined;
      if (kept) params.push(...kept);
      else if (!before[p].includes(WILDCARD)) params.push(this.seeded(before[p], c.count));
      else params.push(newSummary());
    }
    c.params = params;
  }

  /** The summary of a position that held `value` in each of `count` lines. */
  private seeded(value: string, count: number): ParamSummary {
    const s = newSummary();
    if (count === 0) return s;
    s.count = count;
    const num = plainNumber(value);
    if (num === num) {
      s.numeric = count;
      s.min = num;
      s.max = num;
    }
    if (this.config.maxValuesPerParam > 0) s.values.push(value.slice(0, this.config.maxExampleLength));
    else s.overflow = true;
    return s;
  }

  private create(
    tokens: string[],
    kinds: Uint8Array,
    line: string,
    route: string,
    id = this.nextId++,
  ): Cluster {
    const c: Cluster = {
      route,
      kinds,
      id,
      tokens,
      count: 0,
      example: line.slice(0, this.config.maxExampleLength),
      params: [],
      wildPositions: [],
      wildParts: [],
      text: '',
    };
    setWildcards(c);
    for (const parts of c.wildParts) for (let k = 1; k < parts.length; k++) c.params.push(newSummary());
    this.byId.set(c.id, c);
    return c;
  }

  private summarise(c: Cluster, params: string[]): void {
    const cfg = this.config;
    const ps = c.params;
    for (let k = 0; k < params.length && k < ps.length; k++) {
      const s = ps[k];
      const v = params[k];
      s.count++;
      const num = plainNumber(v);
      if (num === num) {
        s.numeric++;
        if (num < s.min) s.min = num;
        if (num > s.max) s.max = num;
      }
      if (!s.overflow) {
        const kept = v.length > cfg.maxExampleLength ? v.slice(0, cfg.maxExampleLength) : v;
        if (!s.values.includes(kept)) {
          if (s.values.length < cfg.maxValuesPerParam) s.values.push(kept);
          else s.overflow = true;
        }
      }
    }
  }
}

/** Recomputes what depends on the template's tokens. */
function setWildcards(c: Cluster): void {
  c.wildPositions = [];
  c.wildParts = [];
  for (let i = 0; i < c.tokens.length; i++)
    if (c.tokens[i].includes(WILDCARD)) {
      c.wildPositions.push(i);
      c.wildParts.push(c.tokens[i].split(WILDCARD));
    }
  c.text = c.tokens.join(' ');
}

export const STATE_FORMAT = 'vigie-log-templates';
export const STATE_VERSION = 1;

export interface MinerState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  config: MinerConfig;
  nextId: number;
  counters: MinerStats;
  templates: {
    id: number;
    route: string;
    tokens: string[];
    count: number;
    example: string;
    params: (Omit<ParamSummary, 'min' | 'max'> & { min: number | null; max: number | null })[];
  }[];
}

/** A value named in an error without walking into it (a hostile state may nest thousands deep). */
function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  return String(v).slice(0, 40);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TemplateStateError(path, 'expected an object');
  return v as Record<string, unknown>;
}

function int(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw new TemplateStateError(path, `expected an integer in [${lo}, ${hi}], got ${describe(v)}`);
  return v;
}

function str(v: unknown, path: string, max: number, nonEmpty: boolean): string {
  if (typeof v !== 'string') throw new TemplateStateError(path, 'expected a string');
  if (v.length > max) throw new TemplateStateError(path, `longer than ${max} characters`);
  // A token may hold white space: the last one of a line cut at maxTokens holds the rest of the line.
  if (nonEmpty && v.length === 0) throw new TemplateStateError(path, 'expected a token (non-empty)');
  return v;
}

function summary(v: unknown, path: string, c: MinerConfig): ParamSummary {
  const o = obj(v, path);
  const count = int(o.count, `${path}.count`, 0, Number.MAX_SAFE_INTEGER);
  const numeric = int(o.numeric, `${path}.numeric`, 0, count);
  const num = (x: unknown, p: string): number => {
    if (numeric === 0) {
      if (x !== null) throw new TemplateStateError(p, 'expected null (no numeric value seen)');
      return 0;
    }
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw new TemplateStateError(p, 'expected a finite number');
    return x;
  };
  const min = num(o.min, `${path}.min`);
  const max = num(o.max, `${path}.max`);
  if (numeric > 0 && min > max) throw new TemplateStateError(`${path}.min`, 'greater than max');
  if (!Array.isArray(o.values)) throw new TemplateStateError(`${path}.values`, 'expected an array');
  if (o.values.length > c.maxValuesPerParam)
    throw new TemplateStateError(`${path}.values`, `more than maxValuesPerParam ${c.maxValuesPerParam}`);
  const values = o.values.map((x: unknown, k: number) =>
    str(x, `${path}.values[${k}]`, c.maxExampleLength, false),
  );
  if (typeof o.overflow !== 'boolean') throw new TemplateStateError(`${path}.overflow`, 'expected a boolean');
  return {
    count,
    numeric,
    min: numeric > 0 ? min : Infinity,
    max: numeric > 0 ? max : -Infinity,
    values,
    overflow: o.overflow,
  };
}

function validateConfig(c: MinerConfig, path: string): MinerConfig {
  const num = (k: keyof MinerConfig, lo: number, hi: number, integer = true): void => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
      throw new TemplateStateError(
        `${path}.${k}`,
        `expected ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${describe(v)}`,
      );
  };
  num('similarity', 0, 1, false);
  num('maxChildren', 1, 1_000_000);
  num('maxTemplates', 1, 10_000_000);
  num('maxTokens', 1, 100_000);
  num('maxLineLength', 1, 100_000_000);
  num('maxValuesPerParam', 0, 10_000);
  num('maxExampleLength', 1, 1_000_000);
  return c;
}
