/**
 * KubAnomaly protocol: no attack label is used to learn. In every CSV under the data folder, rows
 * labelled Normal are split in time order (first 60% training, next 20% tuning, last 20% test);
 * rows labelled Attack are test items. `--param split=random` shuffles the Normal rows first (seeded):
 * neighbouring windows then fall on both sides of the split, which flatters every model. Features are the 36 per-window counts, log1p-scaled (counts
 * span five orders of magnitude), then optionally standardised with the training rows' mean and
 * spread (`scale=standard`, the default for LOF). `SqlandCommand/AttackV1.1.csv` is labelled Normal
 * in every row despite its name: `--param attackv11=normal|exclude|attack` chooses how to treat it
 * (default: follow the labels, as the files say; `exclude` under the leave-one-attack-out protocol).
 *
 * `--param protocol=leave-one-attack-out`: each attack file is one attack type, held out alone and
 * scored against the normal test windows (AUC, recall at FPR ≤ 2%), as a new attack type would be.
 * Every learned part (scaling, models, ensemble members, thresholds) is fitted once on Normal rows
 * only, so the model of each fold is the same one; `KubData.learnedFrom` records where every
 * training and tuning row came from, so that this is checked rather than assumed.
 */
import { ScoreEnsemble, type EnsembleMode } from '../detect/anomaly/ensemble.js';
import { IsolationForest, mulberry32 } from '../detect/anomaly/iforest.js';
import { KnnDetector } from '../detect/anomaly/knn.js';
import { LofDetector } from '../detect/anomaly/lof.js';
import { distinctRows, Standardizer } from '../detect/anomaly/standardize.js';
import { listKubAnomaly, readKubAnomaly } from '../sources/datasets/kubanomaly.js';
import { evaluateItems, type ItemScores } from './item-eval.js';
import { thresholdFrom } from './metrics.js';
import { boolOf, intOf, paramsFor, TRIVIAL, type ParamMap } from './params.js';
import type { AlgorithmResult, EvalRun, SkippedInput, Timeline } from './types.js';

export const LEAVE_ONE_ATTACK_OUT = 'leave-one-attack-out';

interface KubData {
  dim: number;
  train: Float64Array;
  tune: Float64Array;
  test: Float64Array;
  labels: Uint8Array;
  groups: string[];
  skipped: SkippedInput[];
  files: string[];
  /** Synthetic novel windows made from the tuning windows (`syntheticNovelty`). */
  synthetic: Float64Array;
  /** Index into `files` of each tuning row (its file's tuning rows are in time order). */
  tuneFile: Int32Array;
  /** Source of every training then tuning row: file index into `files`, row index in that file. */
  learnedFrom: { file: Int32Array; row: Int32Array };
}

export function loadKubAnomaly(
  dir: string,
  attackv11: string,
  split: 'time' | 'random' = 'time',
  seed = 1,
): KubData {
  const files = listKubAnomaly(dir);
  const train: number[] = [];
  const tune: number[] = [];
  const test: number[] = [];
  const labels: number[] = [];
  const groups: string[] = [];
  const skipped: SkippedInput[] = [];
  let dim = -1;
  const used: string[] = [];
  const tuneFile: number[] = [];
  const fromFile: number[] = [];
  const fromRow: number[] = [];
  const trainFrom: [number, number][] = [];
  for (const path of files) {
    let f;
    try {
      f = readKubAnomaly(path, dir);
    } catch (e) {
      skipped.push({ file: path, line: null, error: (e as Error).message });
      continue;
    }
    for (const s of f.skipped) skipped.push({ file: path, line: s.line, error: s.error });
    if (dim < 0) dim = f.features.length;
    if (f.features.length !== dim) {
      skipped.push({ file: path, line: 1, error: `${f.features.length} features, expected ${dim}` });
      continue;
    }
    const isV11 = /AttackV1\.1\.csv$/i.test(path);
    if (isV11 && attackv11 === 'exclude') continue;
    used.push(f.name);
    const normalRows: number[] = [];
    for (let r = 0; r < f.rows; r++) {
      const attack = isV11 && attackv11 === 'attack' ? 1 : f.labels[r];
      if (attack) {
        for (let j = 0; j < dim; j++) test.push(Math.log1p(f.data[r * dim + j]));
        labels.push(1);
        groups.push(f.name);
      } else normalRows.push(r);
    }
    if (split === 'random') {
      // Seeded shuffle: windows next to each other in time land in different sets (optimistic).
      const rnd = mulberry32(seed);
      for (let i = normalRows.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [normalRows[i], normalRows[j]] = [normalRows[j], normalRows[i]];
      }
    }
    const nTrain = Math.floor(normalRows.length * 0.6);
    const nTune = Math.floor(normalRows.length * 0.2);
    const fileIndex = used.length - 1;
    normalRows.forEach((r, i) => {
      const dest = i < nTrain ? train : i < nTrain + nTune ? tune : test;
      if (dest === train) trainFrom.push([fileIndex, r]);
      if (dest === tune) {
        tuneFile.push(fileIndex);
        fromFile.push(fileIndex);
        fromRow.push(r);
      }
      for (let j = 0; j < dim; j++) dest.push(Math.log1p(f.data[r * dim + j]));
      if (dest === test) {
        labels.push(0);
        groups.push('');
      }
    });
  }
  if (dim < 0 || train.length === 0) throw new Error(`${dir}: no readable KubAnomaly row labelled Normal`);
  return {
    dim,
    train: Float64Array.from(train),
    tune: Float64Array.from(tune),
    test: Float64Array.from(test),
    labels: Uint8Array.from(labels),
    groups,
    skipped,
    files: used,
    synthetic: new Float64Array(0),
    tuneFile: Int32Array.from(tuneFile),
    learnedFrom: {
      file: Int32Array.from([...trainFrom.map((x) => x[0]), ...fromFile]),
      row: Int32Array.from([...trainFrom.map((x) => x[1]), ...fromRow]),
    },
  };
}

type Scored = {
  scores: ItemScores;
  /** Scores of the synthetic novel windows (see `syntheticNovelty`). */
  synthetic: Float64Array;
  params: Record<string, string | number | boolean>;
};

/**
 * Novel windows made from normal ones, to judge a model on what it has not seen without any attack
 * row: each tuning window with one count (chosen at random, seeded) raised to ten times itself plus
 * ten. A model that cannot rank these above the normal tuning windows would miss an attack that
 * changes a single count.
 */
export function syntheticNovelty(tune: Float64Array, dim: number, seed: number): Float64Array {
  const out = Float64Array.from(tune);
  const rnd = mulberry32(seed);
  for (let r = 0; r < out.length / dim; r++) {
    const j = r * dim + Math.floor(rnd() * dim);
    out[j] = Math.log1p(10 * Math.expm1(out[j]) + 10);
  }
  return out;
}

/** Candidate members of `ensemble.members=auto`. */
const ENSEMBLE_CANDIDATES = ['lof', 'knn', 'iforest'];

/** Model features: log counts, standardised on the training rows when `scale=standard`. */
function featuresFor(
  d: KubData,
  scale: string,
  distinct: boolean,
): { train: Float64Array; tune: Float64Array; test: Float64Array; synthetic: Float64Array; label: string } {
  if (scale !== 'standard' && scale !== 'none')
    throw new Error(`scale must be standard or none, got ${scale}`);
  let { train, tune, test, synthetic } = d;
  if (scale === 'standard') {
    const z = new Standardizer().fit(d.train, d.dim);
    train = z.transform(train, d.dim);
    tune = z.transform(tune, d.dim);
    test = z.transform(test, d.dim);
    synthetic = z.transform(synthetic, d.dim);
  }
  if (distinct) train = distinctRows(train, d.dim);
  return {
    train,
    tune,
    test,
    synthetic,
    label: `log1p-counts${scale === 'standard' ? ', standardised on training rows' : ''}${distinct ? ', distinct training rows' : ''}`,
  };
}

function scoreKub(name: string, p: ParamMap, d: KubData): Scored {
  if (name === 'iforest') {
    const trees = intOf(p, 'trees', 200);
    const psi = intOf(p, 'psi', 256);
    const seed = intOf(p, 'seed', 1);
    const x = featuresFor(d, p.scale ?? 'none', boolOf(p, 'distinct', false));
    const f = new IsolationForest({ trees, sampleSize: psi, seed }).fit(x.train, d.dim);
    return {
      scores: { tune: f.score(x.tune, d.dim), test: f.score(x.test, d.dim) },
      synthetic: f.score(x.synthetic, d.dim),
      params: { trees, psi, seed, features: x.label },
    };
  }
  if (name === 'knn') {
    const k = intOf(p, 'k', 5);
    const x = featuresFor(d, p.scale ?? 'none', boolOf(p, 'distinct', false));
    const m = new KnnDetector(k).fit(x.train, d.dim);
    return {
      scores: { tune: m.score(x.tune, d.dim), test: m.score(x.test, d.dim) },
      synthetic: m.score(x.synthetic, d.dim),
      params: { k, features: x.label },
    };
  }
  if (name === 'lof') {
    const k = intOf(p, 'k', 20);
    // Repeated rows (idle windows) would give a zero k-distance and an unbounded density.
    const x = featuresFor(d, p.scale ?? 'standard', boolOf(p, 'distinct', true));
    const m = new LofDetector(k).fit(x.train, d.dim);
    return {
      scores: { tune: m.score(x.tune, d.dim), test: m.score(x.test, d.dim) },
      synthetic: m.score(x.synthetic, d.dim),
      params: { k, features: x.label },
    };
  }
  throw new Error(
    `algorithm ${name} does not apply to KubAnomaly count windows (use iforest, knn, lof, ensemble)`,
  );
}

/**
 * Stability of a model on normal data only: threshold at `policy` of the first half of each file's
 * tuning windows, share of the second halves (later in time) above it. A model whose normal scores
 * drift within the tuning windows will drift further on new data.
 */
export function laterNormalFpr(tune: Float64Array, tuneFile: Int32Array, policy: string): number {
  const first: number[] = [];
  const second: number[] = [];
  const files = [...new Set(tuneFile)];
  for (const f of files) {
    const idx: number[] = [];
    for (let i = 0; i < tuneFile.length; i++) if (tuneFile[i] === f) idx.push(i);
    const half = Math.floor(idx.length / 2);
    idx.forEach((i, j) => (j < half ? first : second).push(tune[i]));
  }
  if (first.length === 0 || second.length === 0) return NaN;
  const thr = thresholdFrom(first, policy);
  return second.filter((v) => v > thr).length / second.length;
}

export function evalKubAnomaly(
  dir: string,
  algos: string[],
  params: ParamMap,
): Omit<EvalRun, 'command' | 'seconds'> {
  const protocol = params.protocol ?? 'split';
  if (protocol !== 'split' && protocol !== LEAVE_ONE_ATTACK_OUT)
    throw new Error(`protocol must be split or ${LEAVE_ONE_ATTACK_OUT}, got ${protocol}`);
  const loo = protocol === LEAVE_ONE_ATTACK_OUT;
  // The file labelled Normal under an attack's name is neither learned from nor scored when each
  // attack type is held out (its rows would teach an attack as normal).
  const attackv11 = params.attackv11 ?? (loo ? 'exclude' : 'normal');
  if (!['normal', 'exclude', 'attack'].includes(attackv11))
    throw new Error(`attackv11 must be normal, exclude or attack, got ${attackv11}`);
  const split = params.split ?? 'time';
  if (split !== 'time' && split !== 'random') throw new Error(`split must be time or random, got ${split}`);
  const d = loadKubAnomaly(dir, attackv11, split, intOf(params, 'seed', 1));
  d.synthetic = syntheticNovelty(d.tune, d.dim, intOf(params, 'seed', 1));
  const policy = params.threshold ?? 'q0.98';
  const nNeg = d.labels.length - d.labels.reduce((a, b) => a + b, 0);
  const run: Omit<EvalRun, 'command' | 'seconds'> = {
    output: { dataset: 'kubanomaly', algorithms: [], skipped: d.skipped },
    details: [],
    timelines: [],
    notes: [
      `files: ${d.files.join(', ')}; AttackV1.1.csv treated as: ${attackv11}`,
      `training ${d.train.length / d.dim} normal windows, tuning ${d.tune.length / d.dim}, test ${nNeg} normal + ${d.labels.length - nNeg} attack windows (${split === 'time' ? 'time-ordered' : 'seeded random'} 60/20/20 split of each file's Normal rows)`,
      `threshold policy: ${policy} of the tuning scores; the 'all' row pools every attack file, the mean is over attack files`,
    ],
  };
  if (loo)
    run.notes.push(
      `protocol ${LEAVE_ONE_ATTACK_OUT}: each attack file held out alone against the ${nNeg} normal test windows; scaling, models, ensemble members and thresholds learned from Normal rows only`,
    );
  const cache = new Map<string, Scored>();
  const get = (name: string): Scored => {
    let r = cache.get(name);
    if (!r) {
      r = scoreKub(name, paramsFor(params, name), d);
      cache.set(name, r);
    }
    return r;
  };
  for (const name of algos) {
    let r: Scored;
    if (name === 'ensemble') {
      const p = paramsFor(params, 'ensemble');
      const asked = p.members ?? 'auto';
      let members: string[];
      let chosenBy = '';
      if (asked === 'auto') {
        // Members chosen on normal data only: a member must catch the synthetic novel windows
        // (recall ≥ ensemble.novelty at its tuning threshold) and keep its threshold on later normal
        // windows (FPR ≤ ensemble.stability, by default the rate the threshold policy promises:
        // 1 − q for a qP policy, so a member whose later normal windows drift past it is left out).
        const q = /^q(.+)$/.exec(p.threshold ?? policy);
        const maxFpr = Number(
          p.stability ?? (q ? Math.max(1e-6, Number((1 - Number(q[1])).toFixed(6))) : 0.02),
        );
        const minRecall = Number(p.novelty ?? 0.9);
        if (!(maxFpr > 0 && maxFpr < 1))
          throw new Error(`ensemble.stability must be in (0, 1), got ${p.stability}`);
        if (!(minRecall > 0 && minRecall <= 1))
          throw new Error(`ensemble.novelty must be in (0, 1], got ${p.novelty}`);
        const judged = ENSEMBLE_CANDIDATES.map((m) => {
          const x = get(m);
          const thr = thresholdFrom(x.scores.tune, policy);
          return {
            m,
            fpr: laterNormalFpr(x.scores.tune, d.tuneFile, policy),
            recall: x.synthetic.filter((v) => v > thr).length / x.synthetic.length,
          };
        });
        members = judged.filter((j) => j.fpr <= maxFpr && j.recall >= minRecall).map((j) => j.m);
        if (members.length === 0) members = [[...judged].sort((a, b) => b.recall - a.recall)[0].m];
        chosenBy = judged
          .map((j) => `${j.m} novel recall ${j.recall.toFixed(3)} later FPR ${j.fpr.toFixed(3)}`)
          .join('; ');
        run.notes.push(
          `ensemble members chosen on normal tuning windows (synthetic novel windows caught ≥ ${minRecall}, later normal windows' FPR ≤ ${maxFpr}): ${chosenBy} → ${members.join(', ')}`,
        );
      } else members = asked.split(',').map((x) => x.trim());
      const mode = (p.mode ?? 'z') as EnsembleMode;
      const parts = members.map(get);
      const ens = new ScoreEnsemble(members, mode).fit(parts.map((x) => x.scores.tune));
      const comb = (which: 'tune' | 'test'): Float64Array =>
        Float64Array.from(parts[0].scores[which], (_, j) =>
          ens.combine(parts.map((x) => x.scores[which][j])),
        );
      r = {
        scores: { tune: comb('tune'), test: comb('test') },
        synthetic: new Float64Array(0),
        params: { members: members.join(','), mode, ...(chosenBy ? { chosenBy: `auto: ${chosenBy}` } : {}) },
      };
    } else if ((TRIVIAL as readonly string[]).includes(name)) {
      const v = name === 'flag-everything' ? 1 : 0;
      r = {
        scores: {
          tune: new Float64Array(d.tune.length / d.dim).fill(v),
          test: new Float64Array(d.labels.length).fill(v),
        },
        synthetic: new Float64Array(0),
        params: {},
      };
    } else r = get(name);
    const ev = evaluateItems(
      name,
      r.params,
      r.scores,
      { labels: d.labels, groups: d.groups },
      (TRIVIAL as readonly string[]).includes(name)
        ? 'trivial'
        : (paramsFor(params, name).threshold ?? policy),
      'all',
    );
    if (loo) addLeaveOneOut(ev.result, ev.details);
    run.output.algorithms.push(ev.result);
    run.details.push(...ev.details);
    if (!(TRIVIAL as readonly string[]).includes(name)) {
      // Score along the test windows (normal test windows first, then each attack file in order).
      const tl: Timeline = {
        algorithm: name,
        scenario: 'all',
        recording: 'test windows in file order',
        t: [],
        score: [],
        threshold: ev.details[0].threshold,
        xLabel: 'test window',
      };
      const step = Math.max(1, Math.ceil(d.labels.length / 1500));
      const order = [...d.labels.keys()].sort((a, b) => d.labels[a] - d.labels[b] || a - b);
      for (let i = 0; i < order.length; i += step) {
        tl.t.push(i);
        tl.score.push(r.scores.test[order[i]]);
      }
      tl.exploitAt = nNeg;
      run.timelines.push(tl);
    }
  }
  return run;
}

/**
 * Leave-one-attack-out rows: every attack file's scenario is that file's windows against the normal
 * test windows alone, so it is the held-out fold of that attack type.
 */
function addLeaveOneOut(result: AlgorithmResult, details: EvalRun['details']): void {
  const rows = result.scenarios
    .filter((s) => s.name !== 'all')
    .map((s) => ({
      attack: s.name,
      auc: s.auc,
      recallAtFpr2: details.find((x) => x.scenario === s.name)?.drAtFpr2 ?? null,
    }));
  const mean = (key: 'auc' | 'recallAtFpr2'): number | null => {
    const v = rows.map((x) => x[key]).filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  result.leaveOneOut = rows;
  result.leaveOneOutMean = { auc: mean('auc'), recallAtFpr2: mean('recallAtFpr2') };
}
