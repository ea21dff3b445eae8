/**
 * ADFA-LD protocols. A trace's score aggregates its per-call values (`agg`: mean, median, or max of a
 * sliding window of L calls); vector models see the trace's system-call frequencies.
 *
 * - `split=vigie` (default): learn on Training_Data_Master (833 normal traces); Validation_Data_Master
 *   (4,372 normal traces), sorted by file name, is split in two: even positions tune (threshold and
 *   ensemble standardisation), odd positions are the normal half of the test set; the 746 attack
 *   traces are the other half.
 * - `split=lidds`: the LID-DS framework's ADFA-LD loader as its ADFA-LD example configures it
 *   (`val_train_add` 2,000, `val_count` 20). Validation_Data_Master sorted by file name: the first
 *   2,000 traces join the 833 training traces (2,833 learned), the next 20 tune, the remaining 2,352
 *   are the normal side of the test set, with every one of the 746 attack traces. No randomness: the
 *   order is the file names' (the framework sorts the full paths, the same order).
 */
import { ScoreEnsemble, type EnsembleMode } from '../detect/anomaly/ensemble.js';
import { IsolationForest } from '../detect/anomaly/iforest.js';
import { KnnDetector } from '../detect/anomaly/knn.js';
import { createSequenceModel, SEQUENCE_MODELS } from '../detect/anomaly/sequence.js';
import { listAdfa, readAdfaTrace, type AdfaTrace } from '../sources/datasets/adfa.js';
import { DatasetError, Progress } from '../sources/datasets/types.js';
import { maxOverUnits, planAttackUnits, type NormalUnits } from './adfa-units.js';
import { evaluateItems, type ItemScores } from './item-eval.js';
import { intOf, paramsFor, TRIVIAL, type ParamMap } from './params.js';
import type { EvalRun, SkippedInput } from './types.js';

/** x86 32-bit system-call numbers stay below this. */
const ADFA_V = 512;

interface Loaded {
  train: Int32Array[];
  tune: Int32Array[];
  test: Int32Array[];
  labels: Uint8Array;
  groups: string[];
  /** Attack instance (folder) of each test trace; '' for normal traces. */
  instances: string[];
  skipped: SkippedInput[];
}

/** Validation traces the LID-DS framework's ADFA-LD example adds to training, then keeps for tuning. */
export const LIDDS_VAL_TRAIN_ADD = 2000;
export const LIDDS_VAL_COUNT = 20;

export type AdfaSplit = 'vigie' | 'lidds';

export interface AdfaLoadOptions {
  /** Keep every k-th trace of each group (by position in the full sorted group). */
  limit?: number;
  /** split=vigie only: half of the tuning traces join the training set. */
  learnFromTuning?: boolean;
  split?: AdfaSplit;
  /** split=lidds: validation traces (first in file-name order) added to training. */
  valTrainAdd?: number;
  /** split=lidds: validation traces after those that tune. */
  valCount?: number;
}

export function loadAdfa(dir: string, opts: AdfaLoadOptions = {}): Loaded {
  const split = opts.split ?? 'vigie';
  if (split !== 'vigie' && split !== 'lidds')
    throw new Error(`ADFA-LD split must be vigie or lidds, got ${split}`);
  if (split === 'lidds' && opts.learnFromTuning)
    throw new Error(
      'learnFromTuning applies to split=vigie only (split=lidds already learns validation traces)',
    );
  const all = listAdfa(dir);
  const skipped: SkippedInput[] = [];
  const read = (t: AdfaTrace): Int32Array | undefined => {
    try {
      const a = readAdfaTrace(t.path);
      for (const v of a)
        if (v >= ADFA_V) throw new DatasetError(t.path, undefined, `system-call number ${v} ≥ ${ADFA_V}`);
      return a;
    } catch (e) {
      skipped.push({ file: t.path, line: null, error: (e as Error).message });
      return undefined;
    }
  };
  // `limit` keeps every k-th trace of each group: a documented subset for quick tests.
  const step = opts.limit ?? 1;
  const pick = <T>(xs: T[]): T[] => xs.filter((_, i) => i % step === 0);
  const train: Int32Array[] = [];
  const tune: Int32Array[] = [];
  const test: Int32Array[] = [];
  const labels: number[] = [];
  const groups: string[] = [];
  const instances: string[] = [];
  for (const t of pick(all.filter((x) => x.group === 'training'))) {
    const a = read(t);
    if (a) train.push(a);
  }
  const toTest = (a: Int32Array): void => {
    test.push(a);
    labels.push(0);
    groups.push('');
    instances.push('');
  };
  const validation = all.filter((x) => x.group === 'validation');
  if (split === 'lidds') {
    const add = opts.valTrainAdd ?? LIDDS_VAL_TRAIN_ADD;
    const count = opts.valCount ?? LIDDS_VAL_COUNT;
    if (add + count >= validation.length)
      throw new Error(
        `split=lidds: valTrainAdd (${add}) + valCount (${count}) leave no normal test trace of ${validation.length}`,
      );
    // Parts by position in the full sorted list, so that `limit` thins each part without moving its bounds.
    validation.forEach((t, i) => {
      if (i % step !== 0) return;
      const a = read(t);
      if (!a) return;
      if (i < add) train.push(a);
      else if (i < add + count) tune.push(a);
      else toTest(a);
    });
  } else {
    pick(validation).forEach((t, i) => {
      const a = read(t);
      if (!a) return;
      // With learnFromTuning, every other tuning trace (positions ≡ 0 mod 4) joins the training set;
      // the threshold then comes from the remaining tuning traces (≡ 2 mod 4). The test half is unchanged.
      if (i % 2 === 0) (opts.learnFromTuning && i % 4 === 0 ? train : tune).push(a);
      else toTest(a);
    });
  }
  for (const t of pick(all.filter((x) => x.group === 'attack'))) {
    const a = read(t);
    if (!a) continue;
    test.push(a);
    labels.push(1);
    groups.push(t.attackType ?? 'attack');
    instances.push(t.instance ?? t.path);
  }
  return { train, tune, test, labels: Uint8Array.from(labels), groups, instances, skipped };
}

/** Aggregates per-call values of one trace. */
function aggregate(values: Float64Array, agg: string, L: number): number {
  const n = values.length;
  if (n === 0) return 0;
  if (agg === 'mean') {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[i];
    return s / n;
  }
  if (agg === 'median') {
    const s = Float64Array.from(values).sort();
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  if (agg === 'max') {
    // LID-DS style: highest mean over a sliding window of L calls (the whole trace when shorter).
    const w = Math.min(L, n);
    let s = 0;
    for (let i = 0; i < w; i++) s += values[i];
    let best = s;
    for (let i = w; i < n; i++) {
      s += values[i] - values[i - w];
      if (s > best) best = s;
    }
    return best / w;
  }
  throw new Error(`unknown aggregation ${agg} (use mean, median or max)`);
}

function sqrtHistogram(trace: Int32Array, out: Float64Array, off: number): void {
  for (let i = 0; i < trace.length; i++) out[off + trace[i]]++;
  const n = trace.length || 1;
  for (let j = 0; j < ADFA_V; j++) out[off + j] = Math.sqrt(out[off + j] / n);
}

function histograms(traces: Int32Array[]): Float64Array {
  const m = new Float64Array(traces.length * ADFA_V);
  traces.forEach((t, i) => sqrtHistogram(t, m, i * ADFA_V));
  return m;
}

/** Scores of one non-ensemble algorithm on the tuning and test traces. */
type Scored = { scores: ItemScores; params: Record<string, string | number | boolean> };

export async function scoreAdfa(name: string, p: ParamMap, data: Loaded): Promise<Scored> {
  if (name === 'neural-lm') {
    // Loaded on demand: tfjs and its wasm backend cost a second to load and are needed only here.
    const { NeuralLm } = await import('../detect/anomaly/neural-lm.js');
    const lr = p.lr === undefined ? undefined : Number(p.lr);
    if (lr !== undefined && !(lr > 0)) throw new Error(`parameter lr must be a positive number, got ${p.lr}`);
    const m = new NeuralLm({
      V: ADFA_V,
      k: intOf(p, 'k', 10),
      hidden: intOf(p, 'hidden', 96),
      embed: intOf(p, 'embed', 16),
      epochs: intOf(p, 'epochs', 2),
      batch: intOf(p, 'batch', 1024),
      learningRate: lr,
      seed: intOf(p, 'seed', 1),
    });
    const agg = p.agg ?? 'mean';
    const L = intOf(p, 'L', 20);
    const t0 = performance.now();
    await m.train(data.train, (msg) => process.stderr.write(`${msg}\n`));
    const t1 = performance.now();
    const score = async (traces: Int32Array[]): Promise<Float64Array> =>
      Float64Array.from(await m.nll(traces), (v) => aggregate(v, agg, L));
    const out = {
      scores: { tune: await score(data.tune), test: await score(data.test) },
      params: { ...m.opts, agg, ...(agg === 'max' ? { L } : {}) },
    };
    process.stderr.write(
      `neural-lm: training ${((t1 - t0) / 1000).toFixed(1)} s, scoring ${((performance.now() - t1) / 1000).toFixed(1)} s\n`,
    );
    m.dispose();
    return out;
  }
  if ((SEQUENCE_MODELS as readonly string[]).includes(name)) {
    const model = createSequenceModel(name, p, ADFA_V);
    const agg = p.agg ?? 'mean';
    const L = intOf(p, 'L', 20);
    data.train.forEach((t) => {
      for (let i = 0; i < t.length; i++) model.learn(0, t[i]);
      model.resetStreams();
    });
    const score = (traces: Int32Array[]): Float64Array =>
      Float64Array.from(traces, (t) => {
        const v = new Float64Array(t.length);
        for (let i = 0; i < t.length; i++) v[i] = model.instant(0, t[i]);
        model.resetStreams();
        return aggregate(v, agg, L);
      });
    return {
      scores: { tune: score(data.tune), test: score(data.test) },
      params: { ...model.params, agg, ...(agg === 'max' ? { L } : {}) },
    };
  }
  if (name === 'iforest' || name === 'knn') {
    const train = histograms(data.train);
    if (name === 'iforest') {
      const trees = intOf(p, 'trees', 200);
      const psi = intOf(p, 'psi', 256);
      const seed = intOf(p, 'seed', 1);
      const f = new IsolationForest({ trees, sampleSize: psi, seed }).fit(train, ADFA_V);
      return {
        scores: {
          tune: f.score(histograms(data.tune), ADFA_V),
          test: f.score(histograms(data.test), ADFA_V),
        },
        params: { trees, psi, seed, features: 'sqrt-frequency' },
      };
    }
    const k = intOf(p, 'k', 5);
    const m = new KnnDetector(k).fit(train, ADFA_V);
    return {
      scores: { tune: m.score(histograms(data.tune), ADFA_V), test: m.score(histograms(data.test), ADFA_V) },
      params: { k, features: 'sqrt-frequency' },
    };
  }
  throw new Error(
    `algorithm ${name} does not apply to ADFA-LD (use stide, ngram-lm, neural-lm, iforest, knn, ensemble)`,
  );
}

export async function evalAdfa(
  dir: string,
  algos: string[],
  params: ParamMap,
  opts: { limit?: number } = {},
): Promise<Omit<EvalRun, 'command' | 'seconds'>> {
  const learnFromTuning = /^(1|true|yes)$/i.test(params.learnFromTuning ?? '');
  const split = (params.split ?? 'vigie') as AdfaSplit;
  if (split !== 'lidds' && (params.valTrainAdd !== undefined || params.valCount !== undefined))
    throw new Error('parameters valTrainAdd and valCount apply only with split=lidds');
  const valTrainAdd = intOf(params, 'valTrainAdd', LIDDS_VAL_TRAIN_ADD);
  const valCount = intOf(params, 'valCount', LIDDS_VAL_COUNT);
  const data = loadAdfa(dir, { ...opts, learnFromTuning, split, valTrainAdd, valCount });
  if (data.train.length === 0 || data.tune.length === 0)
    throw new Error(`${dir}: no readable training or validation trace`);
  const policy = params.threshold ?? 'q0.95';
  const unit = params.unit ?? 'trace';
  if (unit !== 'trace' && unit !== 'attack')
    throw new Error(`parameter unit must be trace or attack, got ${unit}`);
  if (unit === 'trace' && params.normals !== undefined)
    throw new Error('parameter normals applies only with unit=attack');
  const normals = (params.normals ?? 'matched') as NormalUnits;
  const plan = unit === 'attack' ? planAttackUnits(data.tune.length, data, normals) : undefined;
  const attackUnits = plan ? plan.labels.reduce((a, b) => a + b, 0) : 0;
  const run: Omit<EvalRun, 'command' | 'seconds'> = {
    output: { dataset: 'adfa', algorithms: [], skipped: data.skipped },
    details: [],
    timelines: [],
    notes: [
      split === 'lidds'
        ? `split=lidds (the LID-DS framework's ADFA-LD example): training: ${data.train.length} traces (Training_Data_Master + the first ${valTrainAdd} validation traces by file name); tuning: ${data.tune.length} validation traces (the next ${valCount}); test: ${data.labels.length - data.labels.reduce((a, b) => a + b, 0)} validation traces (the rest) + ${data.labels.reduce((a, b) => a + b, 0)} attack traces${opts.limit ? ` (subset: every ${opts.limit}th trace)` : ''}`
        : `training: ${data.train.length} traces (Training_Data_Master${learnFromTuning ? ' + validation traces at positions ≡ 0 mod 4' : ''}); tuning: ${data.tune.length} validation traces (${learnFromTuning ? 'positions ≡ 2 mod 4' : 'even positions by file name'}); test: ${data.labels.length - data.labels.reduce((a, b) => a + b, 0)} validation traces (odd positions) + ${data.labels.reduce((a, b) => a + b, 0)} attack traces${opts.limit ? ` (subset: every ${opts.limit}th trace)` : ''}`,
      `threshold policy: ${policy} of the tuning scores; the 'all' row pools every attack type, the mean is over attack types`,
      ...(plan
        ? [
            `unit: attack instance (an Attack_Data_Master folder, ${attackUnits} of them; score = the highest score of its traces); normal units: ${
              normals === 'single'
                ? "one validation trace each (as the LID-DS framework's later ADFA-LD loader does)"
                : 'runs of consecutive validation traces whose sizes repeat the attack instance sizes, scored the same way'
            } (${plan.test.length - attackUnits} in the test set, ${plan.tune.length} for tuning)`,
          ]
        : []),
    ],
  };
  const progress = new Progress('adfa', algos.length);
  const cache = new Map<string, Scored>();
  const get = async (name: string): Promise<Scored> => {
    let r = cache.get(name);
    if (!r) {
      r = await scoreAdfa(name, paramsFor(params, name), data);
      cache.set(name, r);
    }
    return r;
  };
  const set = plan
    ? { labels: plan.labels, groups: plan.groups, names: plan.names }
    : { labels: data.labels, groups: data.groups };
  const inUnits = (sc: ItemScores): ItemScores =>
    plan ? { tune: maxOverUnits(sc.tune, plan.tune), test: maxOverUnits(sc.test, plan.test) } : sc;
  for (const [i, name] of algos.entries()) {
    progress.tick(i, name);
    let r: Scored;
    if (name === 'ensemble') {
      const p = paramsFor(params, 'ensemble');
      const members = (p.members ?? 'stide,ngram-lm').split(',').map((s) => s.trim());
      const mode = (p.mode ?? 'z') as EnsembleMode;
      const parts: Scored[] = [];
      for (const m of members) parts.push(await get(m));
      const ens = new ScoreEnsemble(members, mode).fit(parts.map((x) => x.scores.tune));
      const comb = (which: 'tune' | 'test'): Float64Array => {
        const n = parts[0].scores[which].length;
        const out = new Float64Array(n);
        const row = new Float64Array(members.length);
        for (let j = 0; j < n; j++) {
          for (let m = 0; m < members.length; m++) row[m] = parts[m].scores[which][j];
          out[j] = ens.combine(row);
        }
        return out;
      };
      r = {
        scores: { tune: comb('tune'), test: comb('test') },
        params: { members: members.join(','), mode },
      };
    } else if ((TRIVIAL as readonly string[]).includes(name)) {
      const v = name === 'flag-everything' ? 1 : 0;
      r = {
        scores: {
          tune: new Float64Array(data.tune.length).fill(v),
          test: new Float64Array(data.test.length).fill(v),
        },
        params: {},
      };
    } else r = await get(name);
    const ev = evaluateItems(
      name,
      plan ? { ...r.params, unit, normals } : r.params,
      inUnits(r.scores),
      set,
      (TRIVIAL as readonly string[]).includes(name)
        ? 'trivial'
        : (paramsFor(params, name).threshold ?? policy),
      'all',
    );
    run.output.algorithms.push(ev.result);
    run.details.push(...ev.details);
  }
  progress.tick(algos.length);
  return run;
}
