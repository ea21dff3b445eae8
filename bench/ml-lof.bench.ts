/**
 * Local outlier factor against scikit-learn's (Debian python3-sklearn), same rows, same run:
 * KubAnomaly windows as in the leave-one-attack-out protocol (log1p counts standardised on the
 * normal training windows, fitted on the distinct ones, `AttackV1.1.csv` left out), k = 20, novelty
 * mode. Prints both AUCs on all test windows (target: equal to 1e-6, same algorithm) and the time
 * ratio against scikit-learn measured in this run. Without the data set it falls back to generated
 * clusters (and says so).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LofDetector } from '../src/detect/anomaly/lof.js';
import { distinctRows, Standardizer } from '../src/detect/anomaly/standardize.js';
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
    const d = loadKubAnomaly(kub, 'exclude');
    const z = new Standardizer().fit(d.train, d.dim);
    train = distinctRows(z.transform(d.train, d.dim), d.dim);
    test = z.transform(d.test, d.dim);
    ({ labels, dim } = d);
    row(
      'data',
      `KubAnomaly: ${fmt(train.length / dim)} distinct training windows, ${fmt(labels.length)} test windows, ${dim} features`,
    );
  } else {
    dim = 8;
    const rnd = (): number => Math.random() * 2 - 1;
    train = Float64Array.from({ length: 3000 * dim }, rnd);
    labels = Uint8Array.from({ length: 4000 }, (_, i) => (i < 2000 ? 0 : 1));
    test = Float64Array.from(
      { length: 4000 * dim },
      (_, i) => rnd() + (labels[Math.floor(i / dim)] ? 1.5 : 0),
    );
    row('data', 'KubAnomaly not found: generated clusters (set VIGIE_DATA)');
  }
  const t0 = hrms();
  const m = new LofDetector(20).fit(train, dim);
  const s = m.score(test, dim);
  const tsMs = hrms() - t0;
  const tsAuc = rocAuc(s, labels);
  row('Vigie LOF k=20 (fit + score)', `AUC ${tsAuc.toFixed(6)}, ${fmt(tsMs)} ms`);

  const py = python();
  if (!py) {
    row('scikit-learn', 'not available (apt-get install python3-sklearn)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigie-lof-'));
  try {
    writeFileSync(join(dir, 'train.csv'), toCsv(train, dim));
    writeFileSync(join(dir, 'test.csv'), toCsv(test, dim));
    writeFileSync(join(dir, 'labels.csv'), Array.from(labels).join('\n') + '\n');
    const script = `
import numpy as np, time, sys
from sklearn.neighbors import LocalOutlierFactor
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
tr = np.loadtxt(d + '/train.csv', delimiter=',', ndmin=2)
te = np.loadtxt(d + '/test.csv', delimiter=',', ndmin=2)
y = np.loadtxt(d + '/labels.csv')
t0 = time.perf_counter()
f = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(tr)
s = -f.score_samples(te)
ms = (time.perf_counter() - t0) * 1000
print(roc_auc_score(y, s), ms)
`;
    const r = spawnSync(py, ['-c', script, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scikit-learn run failed: ${r.stderr}`);
    const [auc, ms] = r.stdout.trim().split(/\s+/).map(Number);
    row(
      'scikit-learn LocalOutlierFactor (fit + score, in-process time)',
      `AUC ${auc.toFixed(6)}, ${fmt(ms)} ms`,
    );
    row('AUC difference (target ≤ 1e-6)', `${Math.abs(auc - tsAuc).toExponential(2)}`);
    row('time ratio scikit-learn / Vigie', `${(ms / tsMs).toFixed(2)}×`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
