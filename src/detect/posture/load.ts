/**
 * Reading Kubernetes objects from text: multi-document YAML, JSON, `List` objects (kubectl get -o
 * yaml), arrays. Errors carry file:line:column; YAML alias bombs are refused by the yaml package's
 * alias budget; nothing here throws on bad input.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import type { K8sObject, LoadedObject, ScanError } from './types.js';

/** Aliases resolved per document before the document is refused (billion-laughs guard). */
export const MAX_ALIAS_COUNT = 100;
/** Larger inputs are refused rather than parsed (a rendered chart is well under this). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export interface LoadResult {
  objects: LoadedObject[];
  errors: ScanError[];
}

function isObj(v: unknown): v is K8sObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Flattens `List`/`*List` objects and arrays into their items. */
export function flattenObjects(value: unknown, out: K8sObject[], depth = 0): void {
  if (depth > 4 || value == null) return;
  if (Array.isArray(value)) {
    for (const v of value) flattenObjects(v, out, depth + 1);
    return;
  }
  if (!isObj(value)) return;
  if (
    Array.isArray(value.items) &&
    (value.kind === 'List' || (typeof value.kind === 'string' && value.kind.endsWith('List')))
  ) {
    for (const it of value.items) {
      if (isObj(it) && !it.kind && typeof value.kind === 'string' && value.kind !== 'List') {
        // `kubectl get deploy -o json` gives DeploymentList with items that lack kind.
        it.kind = value.kind.slice(0, -4);
        if (!it.apiVersion && value.apiVersion) it.apiVersion = value.apiVersion;
      }
      flattenObjects(it, out, depth + 1);
    }
    return;
  }
  if (typeof value.kind === 'string') out.push(value);
}

export function loadText(text: string, file: string): LoadResult {
  const objects: LoadedObject[] = [];
  const errors: ScanError[] = [];
  if (text.length > MAX_INPUT_BYTES) {
    errors.push({ file, message: `input larger than ${MAX_INPUT_BYTES} bytes, refused` });
    return { objects, errors };
  }
  const trimmed = text.trimStart();
  // Fast path for JSON (cluster dumps are large); on a syntax error fall through to the YAML
  // parser, which reports line and column.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      const flat: K8sObject[] = [];
      flattenObjects(parsed, flat);
      const source = { file };
      for (const o of flat) objects.push({ obj: o, source });
      return { objects, errors };
    } catch {
      /* YAML below gives the position */
    }
  }
  const lc = new LineCounter();
  let docs;
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  } catch (e) {
    errors.push({ file, message: `cannot parse: ${(e as Error).message}` });
    return { objects, errors };
  }
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, docIndex) => {
    const start = lc.linePos(doc.range?.[0] ?? 0);
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const pos = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
        errors.push({ file, line: pos.line, column: pos.col, message: err.message.split('\n')[0] });
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      errors.push({
        file,
        line: start.line,
        column: start.col,
        message: `document refused: ${(e as Error).message}`,
      });
      return;
    }
    if (value == null) return;
    const flat: K8sObject[] = [];
    flattenObjects(value, flat);
    if (flat.length === 0 && isObj(value)) {
      errors.push({ file, line: start.line, column: start.col, message: 'document has no "kind", skipped' });
    }
    for (const o of flat) objects.push({ obj: o, source: { file, line: start.line, docIndex } });
  });
  return { objects, errors };
}

export function formatError(e: ScanError): string {
  const at = e.line ? `${e.file}:${e.line}:${e.column ?? 1}` : e.file;
  return `${at}: ${e.message}`;
}
