/**
 * Isolation forest against scikit-learn's (Debian python3-sklearn), same features, same run:
 * KubAnomaly windows (log1p counts, time-ordered split of the Normal rows as in `vigie eval`),
 * 200 trees of 256 samples each. Prints both AUCs (target: within 0.01) and the time ratio.
 * Without the data set it falls back to a generated two-cluster set (and says so).
 */
import { existsSync } from 'node:fs';
import { IsolationForest } from '../src/detect/anomaly/iforest.js';
import { rocAuc } from '../src/eval/metrics.js';
import { loadKubAnomaly } from '../src/eval/kubanomaly-eval.js';
import { datasetPath } from '../src/util/datasets.js';
import { fmt, hrms, row, sklearnNovelty, sklearnPython } from './util.js';

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
  const t0 = hrms();
  const f = new IsolationForest({ trees: 200, sampleSize: 256, seed: 1 }).fit(train, dim);
  const s = f.score(test, dim);
  const tsMs = hrms() - t0;
  const tsAuc = rocAuc(s, labels);
  row('Vigie isolation forest (fit + score)', `AUC ${tsAuc.toFixed(4)}, ${fmt(tsMs)} ms`);

  const py = sklearnPython();
  if (!py) {
    row('scikit-learn', 'not available (apt-get install python3-sklearn)');
    return;
  }
  const { auc, ms } = sklearnNovelty(
    py,
    'from sklearn.ensemble import IsolationForest',
    'IsolationForest(n_estimators=200, max_samples=256, random_state=0)',
    { train, test, labels, dim },
  );
  row('scikit-learn IsolationForest (fit + score, in-process time)', `AUC ${auc.toFixed(4)}, ${fmt(ms)} ms`);
  row('AUC difference (target ≤ 0.01)', `${Math.abs(auc - tsAuc).toFixed(4)}`);
  row('time ratio scikit-learn / Vigie', `${(ms / tsMs).toFixed(2)}×`);
}
