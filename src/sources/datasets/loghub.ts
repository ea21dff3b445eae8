/**
 * Loghub's labelled log samples (logpai/loghub, "loghub-2k"): one folder per system, named after it,
 * holding `<System>_2k.log` (raw lines), `<System>_2k.log_structured.csv` (`LineId`, the system's
 * header fields, `Content`, `EventId`, `EventTemplate`) and `<System>_2k.log_templates.csv`.
 *
 * The messages are read from the structured file's `Content` column: the header split the way the
 * Loghub benchmark splits it for that system, so no per-system header format is needed here. The
 * raw log must have as many lines (a mismatch is reported, the structured file is still used).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from './types.js';

export interface LoghubSystem {
  name: string;
  dir: string;
  /** Messages (header removed), in file order. */
  contents: string[];
  /** Ground-truth event id and template per message. */
  eventIds: string[];
  templates: string[];
  /** Lines of the structured file that could not be read (named with file and line), skipped. */
  skipped: DatasetError[];
}

/** The system folders of a Loghub folder (those holding `<name>_2k.log_structured.csv`), sorted. */
export function listLoghub(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DatasetError(dir, undefined, 'not a folder of Loghub systems');
  return readdirSync(dir)
    .filter((name) => existsSync(structuredFile(dir, name)))
    .sort();
}

export const structuredFile = (dir: string, name: string): string =>
  join(dir, name, `${name}_2k.log_structured.csv`);

/**
 * One CSV record per call from `text`, starting at `pos`: RFC 4180 quoting (`"` around a field, `""`
 * inside it). Returns the fields and the position after the record's line end.
 */
export function readCsvRecord(text: string, pos: number): { fields: string[]; next: number; ok: boolean } {
  const fields: string[] = [];
  const n = text.length;
  let i = pos;
  let ok = true;
  for (;;) {
    let field = '';
    if (i < n && text.charCodeAt(i) === 34) {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          field += text.slice(i);
          i = n;
          ok = false;
          break;
        }
        field += text.slice(i, q);
        if (text.charCodeAt(q + 1) === 34) {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Anything between the closing quote and the separator is malformed but kept.
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        field += text[i++];
        ok = false;
      }
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      field = text.slice(i, j);
      i = j;
    }
    fields.push(field);
    if (i < n && text[i] === ',') {
      i++;
      continue;
    }
    if (i < n && text[i] === '\r') i++;
    if (i < n && text[i] === '\n') i++;
    return { fields, next: i, ok };
  }
}

/** Reads one system; throws a DatasetError when the folder or the header is unusable. */
export function readLoghubSystem(dir: string, name: string): LoghubSystem {
  const file = structuredFile(dir, name);
  if (!existsSync(file)) throw new DatasetError(file, undefined, 'missing');
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const head = readCsvRecord(text, 0);
  const col = (h: string): number => head.fields.indexOf(h);
  const [cContent, cId, cTemplate] = [col('Content'), col('EventId'), col('EventTemplate')];
  if (cContent < 0 || cId < 0 || cTemplate < 0)
    throw new DatasetError(file, 1, 'header lacks Content, EventId or EventTemplate');
  const out: LoghubSystem = {
    name,
    dir: join(dir, name),
    contents: [],
    eventIds: [],
    templates: [],
    skipped: [],
  };
  let pos = head.next;
  let line = 2;
  while (pos < text.length) {
    const r = readCsvRecord(text, pos);
    const at = line;
    // A quoted field may span lines: count them to name the next record's line right.
    for (let k = pos; k < r.next - 1; k++) if (text.charCodeAt(k) === 10) line++;
    line++;
    pos = r.next;
    if (r.fields.length === 1 && r.fields[0] === '') continue;
    if (!r.ok || r.fields.length !== head.fields.length) {
      out.skipped.push(
        new DatasetError(
          file,
          at,
          `expected ${head.fields.length} CSV fields, got ${r.fields.length}${r.ok ? '' : ' (bad quoting)'}`,
        ),
      );
      continue;
    }
    out.contents.push(r.fields[cContent]);
    out.eventIds.push(r.fields[cId]);
    out.templates.push(r.fields[cTemplate]);
  }
  const raw = join(dir, name, `${name}_2k.log`);
  if (existsSync(raw)) {
    const rawText = readFileSync(raw, 'utf8');
    let lines = 0;
    for (let k = 0; k < rawText.length; k++) if (rawText.charCodeAt(k) === 10) lines++;
    if (rawText.length > 0 && !rawText.endsWith('\n')) lines++;
    const rows = out.contents.length + out.skipped.length;
    if (lines !== rows)
      out.skipped.push(new DatasetError(raw, undefined, `${lines} lines but ${rows} structured records`));
  }
  return out;
}
