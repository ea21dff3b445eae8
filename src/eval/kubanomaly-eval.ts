/**
 * KubAnomaly protocol: no attack label is used to learn. In every CSV under the data folder, rows
 * labelled Normal are split in time order (first 60% training, next 20% tuning, last 20% test);
 * rows labelled Attack are test items. `--param split=random` shuffles the Normal rows first (seeded):
 * neighbouring windows then fall on both sides of the split, which flatters every model. Features are the 36 per-window counts, log1p-scaled (counts
 * span five orders of magnitude). `SqlandCommand/AttackV1.1.csv` is labelled Normal in every row
 * despite its name: `--param attackv11=normal|exclude|attack` chooses how to treat it (default:
 * follow the labels, as the files say).
 */
import { ScoreEnsemble, type EnsembleMode } from '../detect/anomaly/ensemble.js';
import { IsolationForest, mulberry32 } from '../detect/anomaly/iforest.js';
import { KnnDetector } from '../detect/anomaly/knn.js';
import { listKubAnomaly, readKubAnomaly } from '../sources/datasets/kubanomaly.js';
import { evaluateItems, type ItemScores } from './item-eval.js';
import { intOf, paramsFor, TRIVIAL, type ParamMap } from './params.js';
import type { EvalRun, SkippedInput, Timeline } from './types.js';

interface KubData {
  dim: number;
  train: Float64Array;
  tune: Float64Array;
  test: Float64Array;
  labels: Uint8Array;
  groups: string[];
  skipped: SkippedInput[];
  files: string[];
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
    normalRows.forEach((r, i) => {
      const dest = i < nTrain ? train : i < nTrain + nTune ? tune : test;
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
  };
}

function scoreKub(
  name: string,
  p: ParamMap,
  d: KubData,
): { scores: ItemScores; params: Record<string, string | number | boolean> } {
  if (name === 'iforest') {
    const trees = intOf(p, 'trees', 200);
    const psi = intOf(p, 'psi', 256);
    const seed = intOf(p, 'seed', 1);
    const f = new IsolationForest({ trees, sampleSize: psi, seed }).fit(d.train, d.dim);
    return {
      scores: { tune: f.score(d.tune, d.dim), test: f.score(d.test, d.dim) },
      params: { trees, psi, seed, features: 'log1p-counts' },
    };
  }
  if (name === 'knn') {
    const k = intOf(p, 'k', 5);
    const m = new KnnDetector(k).fit(d.train, d.dim);
    return {
      scores: { tune: m.score(d.tune, d.dim), test: m.score(d.test, d.dim) },
      params: { k, features: 'log1p-counts' },
    };
  }
  throw new Error(
    `algorithm ${name} does not apply to KubAnomaly count windows (use iforest, knn, ensemble)`,
  );
}

export function evalKubAnomaly(
  dir: string,
  algos: string[],
  params: ParamMap,
): Omit<EvalRun, 'command' | 'seconds'> {
  const attackv11 = params.attackv11 ?? 'normal';
  if (!['normal', 'exclude', 'attack'].includes(attackv11))
    throw new Error(`attackv11 must be normal, exclude or attack, got ${attackv11}`);
  const split = params.split ?? 'time';
  if (split !== 'time' && split !== 'random') throw new Error(`split must be time or random, got ${split}`);
  const d = loadKubAnomaly(dir, attackv11, split, intOf(params, 'seed', 1));
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
  const cache = new Map<string, { scores: ItemScores; params: Record<string, string | number | boolean> }>();
  const get = (name: string): { scores: ItemScores; params: Record<string, string | number | boolean> } => {
    let r = cache.get(name);
    if (!r) {
      r = scoreKub(name, paramsFor(params, name), d);
      cache.set(name, r);
    }
    return r;
  };
  for (const name of algos) {
    let r: { scores: ItemScores; params: Record<string, string | number | boolean> };
    if (name === 'ensemble') {
      const p = paramsFor(params, 'ensemble');
      const members = (p.members ?? 'iforest,knn').split(',').map((s) => s.trim());
      const mode = (p.mode ?? 'z') as EnsembleMode;
      const parts = members.map(get);
      const ens = new ScoreEnsemble(members, mode).fit(parts.map((x) => x.scores.tune));
      const comb = (which: 'tune' | 'test'): Float64Array =>
        Float64Array.from(parts[0].scores[which], (_, j) =>
          ens.combine(parts.map((x) => x.scores[which][j])),
        );
      r = {
        scores: { tune: comb('tune'), test: comb('test') },
        params: { members: members.join(','), mode },
      };
    } else if ((TRIVIAL as readonly string[]).includes(name)) {
      const v = name === 'flag-everything' ? 1 : 0;
      r = {
        scores: {
          tune: new Float64Array(d.tune.length / d.dim).fill(v),
          test: new Float64Array(d.labels.length).fill(v),
        },
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
