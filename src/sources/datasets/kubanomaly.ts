/**
 * KubAnomaly (Tien et al. 2019) CSV windows: header `Row,<36 count features>,Normal,Attack`, one row
 * per time window of one monitored container, label one-hot in the last two columns.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DatasetError } from './types.js';

export interface KubAnomalyFile {
  path: string;
  /** Path relative to the data folder, e.g. `SqlandCommand/InsiderSql.csv`. */
  name: string;
  features: string[];
  /** Row-major, features.length values per row. */
  data: Float64Array;
  /** 1 = labelled Attack, 0 = labelled Normal. */
  labels: Uint8Array;
  rows: number;
  /** Rows that could not be parsed (counted and skipped). */
  skipped: { line: number; error: string }[];
}

export function listKubAnomaly(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const full = join(d, f);
      if (statSync(full).isDirectory()) walk(full);
      else if (f.toLowerCase().endsWith('.csv')) out.push(full);
    }
  };
  walk(dir);
  if (out.length === 0) throw new Error(`${dir}: no KubAnomaly CSV file found`);
  return out;
}

export function readKubAnomaly(path: string, root: string): KubAnomalyFile {
  const text = readFileSync(path, 'utf8');
  const lines = text.split(/\r?\n/);
  const header = lines[0].split(',').map((s) => s.trim());
  const iN = header.indexOf('Normal');
  const iA = header.indexOf('Attack');
  if (iN < 0 || iA < 0 || header[0] !== 'Row') {
    throw new DatasetError(
      path,
      1,
      `not a KubAnomaly CSV (expected header Row,...,Normal,Attack; got ${lines[0].slice(0, 80)})`,
    );
  }
  const features = header.slice(1, iN);
  const d = features.length;
  const data: number[] = [];
  const labels: number[] = [];
  const skipped: KubAnomalyFile['skipped'] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() === '') continue;
    const f = l.split(',');
    if (f.length !== header.length) {
      skipped.push({ line: i + 1, error: `expected ${header.length} fields, got ${f.length}` });
      continue;
    }
    const row: number[] = [];
    let ok = true;
    for (let j = 1; j <= d; j++) {
      const v = Number(f[j]);
      if (!Number.isFinite(v) || f[j].trim() === '') {
        ok = false;
        break;
      }
      row.push(v);
    }
    const n = Number(f[iN]);
    const a = Number(f[iA]);
    if (!ok || !((n === 1 && a === 0) || (n === 0 && a === 1))) {
      skipped.push({
        line: i + 1,
        error: ok
          ? `label columns must be one-hot, got Normal=${f[iN].trim()} Attack=${f[iA].trim()}`
          : 'non-numeric feature',
      });
      continue;
    }
    data.push(...row);
    labels.push(a);
  }
  return {
    path,
    name: relative(root, path),
    features,
    data: Float64Array.from(data),
    labels: Uint8Array.from(labels),
    rows: labels.length,
    skipped,
  };
}
