/**
 * Findings → the line and column of the field each one names (`spec.template.spec.containers[0]
 * .securityContext.privileged`) in the text its object was read from.
 *
 * The loader keeps no syntax tree: per object only where its document is (ObjectOrigin). Here
 * each document that has findings is read again, one at a time: a YAML document is parsed once
 * more (the same chunk with the same options as the loader), a JSON input is walked in place
 * without building values (a 100,000-pod `kubectl get -o json` dump would cost the YAML parser
 * about 40 bytes of heap per byte). A field that is absent (a missing `resources.limits.memory`)
 * is located at its deepest ancestor that is present: `resources:`, else the container, else the
 * object itself.
 */
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit, type Document, type Pair } from 'yaml';
import { FindingBase, LocationTable } from './finding.js';
import { YAML_PARSE_OPTIONS } from './load.js';
import type { DocumentOrigin, Finding, LoadedObject, ObjectOrigin, SourceRef, SourceText } from './types.js';

/** A place reached in a document: a node, and where its field starts (its key, in a map). */
interface Step<N> {
  node: N;
  start: number;
}

/** What the walk needs of a document: YAML nodes or JSON offsets, absolute offsets in the input. */
interface Tree<N> {
  root(): Step<N> | undefined;
  /** The entry under `key` (a map key, or an index of a sequence); `keep` caches it for the document. */
  child(node: N, key: string, keep: boolean): Step<N> | undefined;
  /** Offset just after the node's content. */
  end(node: N): number;
  /** Drops what was cached for the previous object. */
  nextObject(): void;
}

function seqIndex(key: string, length: number): number | undefined {
  if (!/^\d{1,9}$/.test(key)) return undefined;
  const i = Number(key);
  return i < length ? i : undefined;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

type YamlDoc = Document.Parsed;
type YamlNode = unknown;

/** Maps with more keys than this are indexed when the walk enters them (a ConfigMap's data). */
const INDEX_MAP_KEYS = 16;

/**
 * Alias → the node it names: the last node with its anchor before it, in document order, as the
 * yaml package resolves it (whose own resolve() walks the whole document on every call).
 */
function aliasTargets(doc: YamlDoc): Map<unknown, unknown> {
  const out = new Map<unknown, unknown>();
  const current = new Map<string, unknown>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const target = current.get(node.source);
        if (target !== undefined) out.set(node, target);
      } else if (node.anchor) current.set(node.anchor, node);
    },
  });
  return out;
}

/** One parsed YAML document; offsets of its nodes are shifted by where its chunk starts. */
class YamlTree implements Tree<YamlNode> {
  private aliases: Map<unknown, unknown> | undefined;
  private readonly maps = new Map<unknown, Map<string, Pair>>();

  constructor(
    private readonly doc: YamlDoc,
    private readonly base: number,
  ) {}

  root(): Step<YamlNode> | undefined {
    const c = this.doc.contents;
    return c?.range ? { node: c, start: this.base + c.range[0] } : undefined;
  }

  /** An alias stands for the node it names when the walk goes into it. */
  private deref(node: YamlNode): YamlNode {
    if (!isAlias(node)) return node;
    this.aliases ??= aliasTargets(this.doc);
    return this.aliases.get(node);
  }

  private pairStep(p: Pair): Step<YamlNode> | undefined {
    const k = p.key as { range?: [number, number, number] };
    if (!k?.range) return undefined;
    const v = p.value as { range?: unknown } | null;
    return { node: v?.range ? v : k, start: this.base + k.range[0] };
  }

  child(node: YamlNode, key: string): Step<YamlNode> | undefined {
    const n = this.deref(node);
    if (isMap(n)) {
      const items = n.items as Pair[];
      if (items.length > INDEX_MAP_KEYS) {
        let ix = this.maps.get(n);
        if (!ix) {
          ix = new Map();
          // The last of duplicate keys is the one the loader kept.
          for (const p of items) if (isScalar(p.key) && p.key.value != null) ix.set(String(p.key.value), p);
          this.maps.set(n, ix);
        }
        const p = ix.get(key);
        return p && this.pairStep(p);
      }
      for (let i = items.length - 1; i >= 0; i--) {
        const k = items[i].key;
        if (isScalar(k) && k.value != null && String(k.value) === key) return this.pairStep(items[i]);
      }
      return undefined;
    }
    if (isSeq(n)) {
      const i = seqIndex(key, n.items.length);
      const it = i === undefined ? undefined : n.items[i];
      const range = (it as { range?: [number, number, number] } | null | undefined)?.range;
      return range ? { node: it, start: this.base + range[0] } : undefined;
    }
    return undefined;
  }

  end(node: YamlNode): number {
    // A block collection's range runs over the blank lines and comments after its last entry:
    // its content ends where its last entry's does.
    let n = node;
    for (let k = 0; k < 256; k++) {
      if ((isMap(n) || isSeq(n)) && !n.flow && n.items.length > 0) {
        const last = n.items[n.items.length - 1];
        const next: unknown = isMap(n) ? ((last as any).value ?? (last as any).key) : last;
        if (!(next as { range?: unknown } | null)?.range) break;
        n = next;
      } else break;
    }
    const range = (n as { range?: [number, number, number] }).range;
    return this.base + (range ? range[1] : 0);
  }

  nextObject(): void {
    /* nothing cached per object */
  }
}

/**
 * A JSON value in place: nodes are the offsets where values start. The members of the objects and
 * arrays the walk enters are indexed once (the route's for the whole document: the `items` of a
 * 100,000-pod List is indexed once, not once per pod).
 */
class JsonTree implements Tree<number> {
  private readonly kept = new Map<number, Map<string, number> | number[]>();
  private temp = new Map<number, Map<string, number> | number[]>();

  constructor(
    private readonly text: string,
    private readonly from: number,
    private readonly to: number,
  ) {}

  root(): Step<number> | undefined {
    const s = this.skipBlank(this.from);
    return s < this.to ? { node: s, start: s } : undefined;
  }

  child(node: number, key: string, keep: boolean): Step<number> | undefined {
    const c = this.text.charCodeAt(node);
    if (c !== 0x7b && c !== 0x5b) return undefined;
    let ix = this.kept.get(node) ?? this.temp.get(node);
    if (!ix) {
      ix = c === 0x7b ? this.members(node) : this.elements(node);
      (keep ? this.kept : this.temp).set(node, ix);
    }
    if (Array.isArray(ix)) {
      const i = seqIndex(key, ix.length);
      return i === undefined ? undefined : { node: ix[i], start: ix[i] };
    }
    const k = ix.get(key);
    return k === undefined ? undefined : { node: this.valueAfterKey(k), start: k };
  }

  end(node: number): number {
    return this.skipValue(node);
  }

  nextObject(): void {
    if (this.temp.size > 0) this.temp = new Map();
  }

  private skipBlank(i: number): number {
    let j = i;
    while (j < this.to && isBlank(this.text.charCodeAt(j))) j++;
    return j;
  }

  /** `i` at a quote: the offset after the closing one. */
  private skipString(i: number): number {
    const t = this.text;
    for (let j = i + 1; ;) {
      const q = t.indexOf('"', j);
      if (q < 0 || q >= this.to) return this.to;
      let b = q - 1;
      while (t.charCodeAt(b) === 0x5c) b--;
      if ((q - 1 - b) % 2 === 0) return q + 1;
      j = q + 1;
    }
  }

  private skipValue(i: number): number {
    const t = this.text;
    const c = t.charCodeAt(i);
    if (c === 0x22) return this.skipString(i);
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      for (let j = i; j < this.to; j++) {
        const d = t.charCodeAt(j);
        if (d === 0x22) j = this.skipString(j) - 1;
        else if (d === 0x7b || d === 0x5b) depth++;
        else if ((d === 0x7d || d === 0x5d) && --depth === 0) return j + 1;
      }
      return this.to;
    }
    let j = i;
    for (; j < this.to; j++) {
      const d = t.charCodeAt(j);
      if (d === 0x2c || d === 0x7d || d === 0x5d || isBlank(d)) break;
    }
    return j;
  }

  private valueAfterKey(keyStart: number): number {
    const colon = this.skipBlank(this.skipString(keyStart));
    return this.skipBlank(colon + 1);
  }

  /** Key → offset of its quote; the last of duplicate keys wins, as in JSON.parse. */
  private members(node: number): Map<string, number> {
    const t = this.text;
    const out = new Map<string, number>();
    let i = node + 1;
    while (i < this.to) {
      i = this.skipBlank(i);
      const c = t.charCodeAt(i);
      if (c === 0x7d) break;
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c !== 0x22) break; // not JSON: the loader would not have parsed it
      const end = this.skipString(i);
      const raw = t.slice(i + 1, end - 1);
      let key = raw;
      if (raw.includes('\\')) {
        try {
          key = JSON.parse(t.slice(i, end)) as string;
        } catch {
          /* kept raw */
        }
      }
      out.set(key, i);
      i = this.skipValue(this.valueAfterKey(i));
    }
    return out;
  }

  private elements(node: number): number[] {
    const t = this.text;
    const out: number[] = [];
    let i = node + 1;
    while (i < this.to) {
      i = this.skipBlank(i);
      const c = t.charCodeAt(i);
      if (c === 0x5d) break;
      if (c === 0x2c) {
        i++;
        continue;
      }
      out.push(i);
      const next = this.skipValue(i);
      i = next > i ? next : i + 1;
    }
    return out;
  }
}

/** Offsets where the lines of `text` start. */
function lineStarts(text: string): Int32Array {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  const out = new Int32Array(n);
  let k = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out[k++] = i + 1;
  return out;
}

/** 1-based line and column of an offset. */
function position(starts: Int32Array, offset: number): [line: number, column: number] {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return [lo + 1, offset - starts[lo] + 1];
}

/**
 * Follows findings' paths from one object's node, as far as the document has them: the deepest
 * field found. Consecutive paths of an object share most of their walk
 * (`spec.containers[0].securityContext.` then `...runAsNonRoot`, `...capabilities.drop`): the steps
 * of the previous path are kept and the walk resumes after the prefix the two paths share.
 */
export class PathWalker<N> {
  private prev = '';
  /** ends[k]: offset in `prev` just after the key of the (k+1)th step; the first `depth` count. */
  private readonly ends: number[] = [];
  /** steps[0] is the object; steps[k] the field reached through k keys of `prev`. */
  private readonly steps: Step<N>[];
  private depth = 0;

  constructor(
    private readonly tree: Tree<N>,
    base: Step<N>,
  ) {
    this.steps = [base];
  }

  resolve(path: string): Step<N> {
    const steps = this.steps;
    const ends = this.ends;
    if (path === this.prev) return steps[this.depth];
    const prev = this.prev;
    const n = Math.min(prev.length, path.length);
    let common = 0;
    while (common < n && prev.charCodeAt(common) === path.charCodeAt(common)) common++;
    // Keys that end before the first difference (the separator after them included) are shared.
    let k = 0;
    while (k < this.depth && ends[k] < common) k++;
    this.prev = path;
    let at = steps[k];
    let i = k === 0 ? 0 : ends[k - 1];
    const len = path.length;
    while (i < len) {
      if (path.charCodeAt(i) === 0x2e) i++;
      if (i >= len) break;
      let key: string;
      let j: number;
      let dotted = false;
      if (path.charCodeAt(i) === 0x5b) {
        // `[0]`, `[pod-security.kubernetes.io/enforce]`: a key or index with anything but `]`.
        const close = path.indexOf(']', i + 1);
        key = path.slice(i + 1, close < 0 ? len : close);
        j = close < 0 ? len : close + 1;
      } else {
        j = i;
        while (j < len && path.charCodeAt(j) !== 0x2e && path.charCodeAt(j) !== 0x5b) j++;
        key = path.slice(i, j);
        dotted = true;
      }
      let next = this.tree.child(at.node, key, false);
      // `data.config.yaml`: a key with dots, written after a dot, is tried whole.
      while (!next && dotted && j < len && path.charCodeAt(j) === 0x2e) {
        let m = j + 1;
        while (m < len && path.charCodeAt(m) !== 0x2e && path.charCodeAt(m) !== 0x5b) m++;
        if (m === j + 1) break;
        j = m;
        key = path.slice(i, j);
        next = this.tree.child(at.node, key, false);
      }
      if (!next) break;
      at = next;
      steps[k + 1] = at;
      ends[k] = j;
      k++;
      i = j;
    }
    this.depth = k;
    return at;
  }
}

/** Documents are read again one at a time: findings come grouped by object, objects in input order. */
class Locator {
  readonly table = new LocationTable();
  private chunkInput: SourceText | undefined;
  private chunkFrom = -1;
  private chunkDocs: YamlDoc[] | undefined;
  private doc: DocumentOrigin | undefined;
  private tree: Tree<unknown> | undefined;
  private input: SourceText | undefined;
  private lines: Int32Array | undefined;

  private treeFor(d: DocumentOrigin): Tree<unknown> | undefined {
    if (d === this.doc) return this.tree;
    this.doc = d;
    const text = d.input.text;
    if (d.json) {
      this.tree = new JsonTree(text, d.from, d.to) as Tree<unknown>;
      return this.tree;
    }
    if (this.chunkInput !== d.input || this.chunkFrom !== d.from) {
      this.chunkInput = d.input;
      this.chunkFrom = d.from;
      try {
        this.chunkDocs = parseAllDocuments(text.slice(d.from, d.to), YAML_PARSE_OPTIONS) as YamlDoc[];
      } catch {
        this.chunkDocs = undefined;
      }
      if (!Array.isArray(this.chunkDocs)) this.chunkDocs = undefined;
    }
    const doc = this.chunkDocs?.[d.nth];
    this.tree = doc && doc.errors.length === 0 ? new YamlTree(doc, d.from) : undefined;
    return this.tree;
  }

  private linesOf(input: SourceText): Int32Array {
    if (input !== this.input || !this.lines) {
      this.input = input;
      this.lines = lineStarts(input.text);
    }
    return this.lines;
  }

  /** Locates findings[from..to), the findings of one object. */
  locate(origin: ObjectOrigin, findings: readonly Finding[], from: number, to: number): void {
    const tree = this.treeFor(origin.doc);
    if (!tree) return;
    let at = tree.root();
    for (let k = 0; at && k < origin.route.length; k++)
      at = tree.child(at.node, String(origin.route[k]), true);
    if (!at) return;
    tree.nextObject();
    const text = origin.doc.input.text;
    const lines = this.linesOf(origin.doc.input);
    const walker = new PathWalker(tree, at);
    const table = this.table;
    const source = findings[from].source;
    if (source) source.locations = table;
    // Findings of an object often name the same field or ancestor: one location for each node.
    const known = new Map<unknown, number>();
    for (let i = from; i < to; i++) {
      const f = findings[i];
      const step = walker.resolve(f.path);
      let id = known.get(step.node);
      if (id === undefined) {
        const start = step.start;
        let end = tree.end(step.node);
        while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
        const [line, column] = position(lines, start);
        const [endLine, endColumn] = position(lines, end);
        id = table.add(line, column, endLine, endColumn);
        known.set(step.node, id);
      }
      if (f instanceof FindingBase) f.locateAt(id);
      else f.location = table.get(id);
    }
  }
}

/**
 * Sets `location` on the findings whose objects were read from text (files, stdin), from the
 * objects' origins; findings of other objects (a cluster's) are left as they are. Findings of one
 * object are expected together, as the engine makes them.
 */
export function locateFindings(findings: readonly Finding[], loaded: readonly LoadedObject[]): void {
  const origins = new Map<SourceRef, ObjectOrigin>();
  for (const l of loaded) if (l.origin && l.source) origins.set(l.source, l.origin);
  if (origins.size === 0) return;
  const locator = new Locator();
  for (let i = 0; i < findings.length;) {
    const source = findings[i].source;
    let j = i + 1;
    while (j < findings.length && findings[j].source === source) j++;
    const origin = source && origins.get(source);
    if (origin) locator.locate(origin, findings, i, j);
    i = j;
  }
}
