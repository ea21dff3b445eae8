/**
 * Local outlier factor against scikit-learn's (Debian python3-sklearn), same rows, same run:
 * KubAnomaly windows as in the leave-one-attack-out protocol (log1p counts standardised on the
 * normal training windows, fitted on the distinct ones, `AttackV1.1.csv` left out), k = 20, novelty
 * mode. Prints both AUCs on all test windows (target: equal to 1e-6, same algorithm) and the time
 * ratio against scikit-learn measured in this run. Without the data set it falls back to generated
 * clusters (and says so).
 */
import { existsSync } from 'node:fs';
import { LofDetector } from '../src/detect/anomaly/lof.js';
import { distinctRows, Standardizer } from '../src/detect/anomaly/standardize.js';
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

  const py = sklearnPython();
  if (!py) {
    row('scikit-learn', 'not available (apt-get install python3-sklearn)');
    return;
  }
  const { auc, ms } = sklearnNovelty(
    py,
    'from sklearn.neighbors import LocalOutlierFactor',
    'LocalOutlierFactor(n_neighbors=20, novelty=True)',
    { train, test, labels, dim },
  );
  row(
    'scikit-learn LocalOutlierFactor (fit + score, in-process time)',
    `AUC ${auc.toFixed(6)}, ${fmt(ms)} ms`,
  );
  row('AUC difference (target ≤ 1e-6)', `${Math.abs(auc - tsAuc).toExponential(2)}`);
  row('time ratio scikit-learn / Vigie', `${(ms / tsMs).toFixed(2)}×`);
}
