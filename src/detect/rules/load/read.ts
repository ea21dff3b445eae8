/**
 * Stage 1 of loading, read: YAML → items (rule, macro, list, required_engine_version,
 * required_plugin_versions) with their file:line:column. Items are not changed after reading (the
 * collect stage copies what it keeps), so a reader may hand the same items to several loads.
 */
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
import { lineColAt, tooDeepMessage, yamlTooDeep } from '../../../util/yaml-depth.js';
import { RuleLoadError, type Position, type RuleSource } from './types.js';

export interface Part {
  text: string;
  where: Position;
  /** Offset of the text in the file when the scalar maps 1:1 onto the source (single-line). */
  offset?: number;
  lc?: LineCounter;
  /** The file text and the scalar's source range, to map offsets inside block scalars. */
  src?: string;
  range?: [number, number];
}

/** One item of a rules file. Shared by every load that reads the same source: never changed. */
export interface ReadItem {
  readonly kind: 'rule' | 'macro' | 'list' | 'required_engine_version' | 'required_plugin_versions';
  readonly name: string;
  readonly where: Position;
  readonly map: YAMLMap;
  readonly file: string;
  readonly lc: LineCounter;
  readonly src: string;
  get(key: string): unknown;
  node(key: string): Node | undefined;
  has(key: string): boolean;
}

export function posOf(file: string, lc: LineCounter, node: Node | undefined | null, fallback = 0): Position {
  const off = node?.range?.[0] ?? fallback;
  const { line, col } = lc.linePos(off);
  return { file, line, col };
}

/** Parses one rules file into its items (rule, macro, list, required_*), with their positions. */
export function readSource(src: RuleSource): ReadItem[] {
  const deep = yamlTooDeep(src.content);
  if (deep) {
    const at = lineColAt(src.content, deep.offset);
    throw new RuleLoadError({ file: src.name, line: at.line, col: at.col }, tooDeepMessage());
  }
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(src.content, {
      lineCounter: lc,
      prettyErrors: false,
      uniqueKeys: false,
      logLevel: 'error',
    });
  } catch (e) {
    // The yaml package's parser recurses per nesting level: thousands of `- - -` exhaust the stack
    // before it can report a position.
    throw new RuleLoadError(
      { file: src.name, line: 1, col: 1 },
      `cannot parse YAML: ${(e as Error).message}`,
    );
  }
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

/** A scalar of an item as a condition part: its text and where it sits in the file. */
export function partOf(item: ReadItem, key: string): Part {
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
export function sourceOffset(p: Part, offset: number): number | undefined {
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

/** How many distinct sources a reader keeps. */
const READER_CAPACITY = 16;

/**
 * Reads rule sources, keeping the items of the last few it read: parsing the YAML dominates load time,
 * and a run often loads the same file again (replays, evaluations, reloads).
 */
export class RuleReader {
  private readonly items = new Map<string, ReadItem[]>();

  read(src: RuleSource): readonly ReadItem[] {
    const key = `${src.name}\u0000${src.content}`;
    let items = this.items.get(key);
    if (!items) {
      items = readSource(src);
      if (this.items.size >= READER_CAPACITY) this.items.delete(this.items.keys().next().value!);
      this.items.set(key, items);
    }
    return items;
  }
}
