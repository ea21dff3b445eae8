/** Small helpers for benchmarks: timing, percentiles, and the scikit-learn reference run. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hrms(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function row(label: string, value: string): void {
  console.log(`${label.padEnd(58)} ${value}`);
}

/** Debian's python3 with scikit-learn (python3-sklearn), or undefined when it is not installed. */
export function sklearnPython(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(p, ['-c', 'import sklearn'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return undefined;
}

function toCsv(data: Float64Array, dim: number): string {
  const rows: string[] = [];
  for (let r = 0; r < data.length / dim; r++)
    rows.push(Array.from(data.subarray(r * dim, r * dim + dim)).join(','));
  return rows.join('\n') + '\n';
}

/**
 * Fits a scikit-learn novelty model on `train` and scores `test` (higher = more anomalous, as
 * `-score_samples`), in a Python process given the same rows as CSV files. `model` is the Python
 * expression that builds the estimator, `imports` the line that imports it. Returns the AUC on
 * `labels` and the fit + score time measured inside Python.
 */
export function sklearnNovelty(
  py: string,
  imports: string,
  model: string,
  rows: { train: Float64Array; test: Float64Array; labels: Uint8Array; dim: number },
): { auc: number; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-sklearn-'));
  try {
    writeFileSync(join(dir, 'train.csv'), toCsv(rows.train, rows.dim));
    writeFileSync(join(dir, 'test.csv'), toCsv(rows.test, rows.dim));
    writeFileSync(join(dir, 'labels.csv'), Array.from(rows.labels).join('\n') + '\n');
    const script = `
import numpy as np, time, sys
${imports}
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
tr = np.loadtxt(d + '/train.csv', delimiter=',', ndmin=2)
te = np.loadtxt(d + '/test.csv', delimiter=',', ndmin=2)
y = np.loadtxt(d + '/labels.csv')
t0 = time.perf_counter()
f = ${model}.fit(tr)
s = -f.score_samples(te)
ms = (time.perf_counter() - t0) * 1000
print(roc_auc_score(y, s), ms)
`;
    const r = spawnSync(py, ['-c', script, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scikit-learn run failed: ${r.stderr}`);
    const [auc, ms] = r.stdout.trim().split(/\s+/).map(Number);
    return { auc, ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
