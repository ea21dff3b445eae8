/**
 * Isolation forest against scikit-learn's (Debian python3-sklearn), same features, same run:
 * KubAnomaly windows (log1p counts, time-ordered split of the Normal rows as in `vigie eval`),
 * 200 trees of 256 samples each. Prints both AUCs (target: within 0.01) and the time ratio.
 * Without the data set it falls back to a generated two-cluster set (and says so).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsolationForest } from '../src/detect/anomaly/iforest.js';
import { rocAuc } from '../src/eval/metrics.js';
import { loadKubAnomaly } from '../src/eval/kubanomaly-eval.js';
import { datasetPath } from '../src/util/datasets.js';
import { fmt, hrms, row } from './util.js';

function python(): string | undefined {
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

export async function run(): Promise<void> {
  let train: Float64Array;
  let test: Float64Array;
  let labels: Uint8Array;
  let dim: number;
  const kub = datasetPath('kubanomaly', 'Data');
  if (existsSync(kub)) {
    const d = loadKubAnomaly(kub, 'normal');
    ({ train, test, labels, dim } = d);
    row(
      'data',
      `KubAnomaly: ${fmt(train.length / dim)} training windows, ${fmt(labels.length)} test windows, ${dim} features`,
    );
  } else {
    dim = 8;
    const rnd = (): number => Math.random() * 2 - 1;
    train = Float64Array.from({ length: 5000 * dim }, rnd);
    labels = Uint8Array.from({ length: 4000 }, (_, i) => (i < 2000 ? 0 : 1));
    test = Float64Array.from(
      { length: 4000 * dim },
      (_, i) => rnd() + (labels[Math.floor(i / dim)] ? 1.5 : 0),
    );
    row('data', 'KubAnomaly not found: generated clusters (set VIGIE_DATA)');
  }
  let t0 = hrms();
  const f = new IsolationForest({ trees: 200, sampleSize: 256, seed: 1 }).fit(train, dim);
  const s = f.score(test, dim);
  const tsMs = hrms() - t0;
  const tsAuc = rocAuc(s, labels);
  row('Vigie isolation forest (fit + score)', `AUC ${tsAuc.toFixed(4)}, ${fmt(tsMs)} ms`);

  const py = python();
  if (!py) {
    row('scikit-learn', 'not available (apt-get install python3-sklearn)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigie-iforest-'));
  try {
    writeFileSync(join(dir, 'train.csv'), toCsv(train, dim));
    writeFileSync(join(dir, 'test.csv'), toCsv(test, dim));
    writeFileSync(join(dir, 'labels.csv'), Array.from(labels).join('\n') + '\n');
    const script = `
import numpy as np, time, sys
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
tr = np.loadtxt(d + '/train.csv', delimiter=',', ndmin=2)
te = np.loadtxt(d + '/test.csv', delimiter=',', ndmin=2)
y = np.loadtxt(d + '/labels.csv')
t0 = time.perf_counter()
f = IsolationForest(n_estimators=200, max_samples=256, random_state=0).fit(tr)
s = -f.score_samples(te)
ms = (time.perf_counter() - t0) * 1000
print(roc_auc_score(y, s), ms)
`;
    t0 = hrms();
    const r = spawnSync(py, ['-c', script, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scikit-learn run failed: ${r.stderr}`);
    const [auc, ms] = r.stdout.trim().split(/\s+/).map(Number);
    row(
      'scikit-learn IsolationForest (fit + score, in-process time)',
      `AUC ${auc.toFixed(4)}, ${fmt(ms)} ms`,
    );
    row('AUC difference (target ≤ 0.01)', `${Math.abs(auc - tsAuc).toFixed(4)}`);
    row('time ratio scikit-learn / Vigie', `${(ms / tsMs).toFixed(2)}×`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
