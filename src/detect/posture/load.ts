/**
 * Reading Kubernetes objects from text: multi-document YAML, JSON, `List` objects (kubectl get -o
 * yaml), arrays. Errors carry file:line:column; YAML alias bombs are refused by the yaml package's
 * alias budget; nothing here throws on bad input.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import { lineColAt, tooDeepMessage, yamlTooDeep } from '../../util/yaml-depth.js';
import type { DocumentOrigin, K8sObject, LoadedObject, ScanError, SourceText } from './types.js';

/** Aliases resolved per document before the document is refused (billion-laughs guard). */
export const MAX_ALIAS_COUNT = 100;
/** Larger inputs are refused rather than parsed (a rendered chart is well under this). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;
/**
 * One YAML document larger than this is refused: the yaml package builds a syntax tree and a
 * document model before the plain value, about 40 bytes of heap per byte of YAML, so 8 MiB costs
 * some 300 MB while it is parsed. JSON goes through JSON.parse and is bounded by the input limit
 * only (a 100,000-pod `kubectl get -o json` dump is about 19 MB).
 */
export const MAX_YAML_DOCUMENT_BYTES = 8 * 1024 * 1024;
/** Error messages kept per input: a file that is not YAML at all would otherwise give thousands. */
export const MAX_ERRORS_PER_INPUT = 20;

/**
 * How documents are parsed, here and again when findings are located (locate.ts). logLevel error:
 * the parser's warnings would go to stderr with the input's raw bytes in them.
 */
export const YAML_PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: false, logLevel: 'error' } as const;

export interface LoadLimits {
  /** Bytes of one input (file or stdin). */
  maxInputBytes: number;
  /** Bytes of one YAML document within an input. */
  maxDocumentBytes: number;
}

export const DEFAULT_LOAD_LIMITS: Readonly<LoadLimits> = {
  maxInputBytes: MAX_INPUT_BYTES,
  maxDocumentBytes: MAX_YAML_DOCUMENT_BYTES,
};

export interface LoadResult {
  objects: LoadedObject[];
  errors: ScanError[];
}

/**
 * Why these bytes are not a text manifest, or undefined when they are: a NUL byte in the first KiB,
 * or bytes that are not UTF-8 anywhere. Checked before parsing, so that a binary file gives one
 * error naming it instead of one parse error per line.
 */
export function notText(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, 1024);
  const nul = head.indexOf(0);
  if (nul >= 0) return `not a text file (NUL byte at offset ${nul}), skipped`;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The decoder's exception says only that decoding failed; the message above names the file.
    return 'not UTF-8 text, skipped';
  }
  return undefined;
}

/** Byte offsets where the YAML documents of `text` start: `---`/`...` at column 0 always ends one. */
function documentStarts(text: string): number[] {
  const starts = [0];
  const marker = /^(?:---|\.\.\.)(?=[ \t\r\n]|$)/gm;
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    if (m.index === 0) continue;
    // Directives (`%YAML`) before a `---` belong to the document that follows.
    let at = m.index;
    for (;;) {
      const prev = text.lastIndexOf('\n', at - 2);
      const lineStart = prev + 1;
      if (at > 0 && text[lineStart] === '%' && lineStart < at) at = lineStart;
      else break;
    }
    if (m[0] === '...') {
      const eol = text.indexOf('\n', m.index);
      at = eol < 0 ? text.length : eol + 1;
    }
    if (at > starts[starts.length - 1] && at < text.length) starts.push(at);
  }
  return starts;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function isObj(v: unknown): v is K8sObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Route = readonly (string | number)[];
const ROOT: Route = Object.freeze([]);

/** `route` and then `keys`, in an array of just that length (one per item of a large List). */
function extend(route: Route, ...keys: (string | number)[]): Route {
  return route.length === 0 ? keys : route.concat(keys);
}

/**
 * Flattens `List`/`*List` objects and arrays into their items. With `routes`, the keys from
 * `value` to each object are appended beside it (`['items', 3]`), for locating fields later.
 */
export function flattenObjects(
  value: unknown,
  out: K8sObject[],
  depth = 0,
  routes?: Route[],
  route: Route = ROOT,
): void {
  if (depth > 4 || value == null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      flattenObjects(value[i], out, depth + 1, routes, routes ? extend(route, i) : route);
    return;
  }
  if (!isObj(value)) return;
  if (
    Array.isArray(value.items) &&
    (value.kind === 'List' || (typeof value.kind === 'string' && value.kind.endsWith('List')))
  ) {
    const items: unknown[] = value.items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (isObj(it) && !it.kind && typeof value.kind === 'string' && value.kind !== 'List') {
        // `kubectl get deploy -o json` gives DeploymentList with items that lack kind.
        it.kind = value.kind.slice(0, -4);
        if (!it.apiVersion && value.apiVersion) it.apiVersion = value.apiVersion;
      }
      flattenObjects(it, out, depth + 1, routes, routes ? extend(route, 'items', i) : route);
    }
    return;
  }
  if (typeof value.kind === 'string') {
    out.push(value);
    routes?.push(route);
  }
}

export function loadText(text: string, file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): LoadResult {
  const objects: LoadedObject[] = [];
  const errors: ScanError[] = [];
  if (text.length > limits.maxInputBytes) {
    errors.push({ file, message: `input larger than ${limits.maxInputBytes} bytes, refused` });
    return { objects, errors };
  }
  const trimmed = text.trimStart();
  // Fast path for JSON (cluster dumps are large); on a syntax error fall through to the YAML
  // parser, which reports line and column.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      const flat: K8sObject[] = [];
      const routes: Route[] = [];
      flattenObjects(parsed, flat, 0, routes);
      const doc: DocumentOrigin = { input: { text }, from: 0, to: text.length, nth: 0, json: true };
      // One source per object: locateFindings tells an object's findings by it.
      for (let i = 0; i < flat.length; i++)
        objects.push({ obj: flat[i], source: { file }, origin: { doc, route: routes[i] } });
      return { objects, errors };
    } catch {
      /* YAML below gives the position */
    }
  }
  // One document at a time: the parser's trees of one document are garbage before the next is
  // parsed, and a document over the limit is refused without being parsed.
  const starts = documentStarts(text);
  // Kept with the objects (a reference, not a copy) so that findings can be located afterwards.
  const input: SourceText = { text };
  let docIndex = 0;
  let dropped = 0;
  let line = 1;
  const addError = (e: ScanError): void => {
    if (errors.length < MAX_ERRORS_PER_INPUT) errors.push(e);
    else dropped++;
  };
  for (let k = 0; k < starts.length; k++) {
    const from = starts[k];
    const to = k + 1 < starts.length ? starts[k + 1] : text.length;
    const base = line - 1;
    line += countLines(text, from, to);
    if (to - from > limits.maxDocumentBytes) {
      addError({
        file,
        line: base + 1,
        column: 1,
        message: `YAML document of ${to - from} bytes is over the ${limits.maxDocumentBytes}-byte limit, refused (convert it to JSON or raise --max-document-size)`,
      });
      docIndex++;
      continue;
    }
    docIndex = loadYamlChunk(input, from, to, file, base, docIndex, objects, addError);
  }
  if (dropped > 0) errors.push({ file, message: `${dropped} more errors in this input not shown` });
  return { objects, errors };
}

/**
 * Parses the documents of one chunk (`from`..`to` of the input); lines are shifted by `base`.
 * Returns the next docIndex. locate.ts parses the same chunk the same way to find fields again.
 */
function loadYamlChunk(
  input: SourceText,
  from: number,
  to: number,
  file: string,
  base: number,
  firstDocIndex: number,
  objects: LoadedObject[],
  addError: (e: ScanError) => void,
): number {
  const chunk = input.text.slice(from, to);
  const deep = yamlTooDeep(chunk);
  if (deep) {
    const at = lineColAt(chunk, deep.offset);
    addError({ file, line: base + at.line, column: at.col, message: tooDeepMessage() });
    return firstDocIndex + 1;
  }
  const lc = new LineCounter();
  let docs;
  try {
    docs = parseAllDocuments(chunk, { lineCounter: lc, ...YAML_PARSE_OPTIONS });
  } catch (e) {
    addError({ file, line: base + 1, column: 1, message: `cannot parse: ${(e as Error).message}` });
    return firstDocIndex + 1;
  }
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const docIndex = firstDocIndex + i;
    const start = lc.linePos(doc.range?.[0] ?? 0);
    const startLine = base + start.line;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const pos = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
        addError({ file, line: base + pos.line, column: pos.col, message: err.message.split('\n')[0] });
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      addError({
        file,
        line: startLine,
        column: start.col,
        message: `document refused: ${(e as Error).message}`,
      });
      return;
    }
    if (value == null) return;
    const flat: K8sObject[] = [];
    const routes: Route[] = [];
    flattenObjects(value, flat, 0, routes);
    if (flat.length === 0 && isObj(value)) {
      addError({ file, line: startLine, column: start.col, message: 'document has no "kind", skipped' });
    }
    const origin: DocumentOrigin = { input, from, to, nth: i, json: false };
    for (let j = 0; j < flat.length; j++)
      objects.push({
        obj: flat[j],
        source: { file, line: startLine, docIndex },
        origin: { doc: origin, route: routes[j] },
      });
  });
  return firstDocIndex + list.length;
}

export function formatError(e: ScanError): string {
  const at = e.line ? `${e.file}:${e.line}:${e.column ?? 1}` : e.file;
  return `${at}: ${e.message}`;
}
