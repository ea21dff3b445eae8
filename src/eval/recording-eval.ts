/**
 * The LID-DS protocol over recordings of system calls (LID-DS 2021, LID-DS 2019, Vigie JSONL):
 * per scenario, learn on the training recordings, take the threshold as the highest windowed score
 * seen on the validation recordings (`--param threshold=max`, the protocol; or qP), then raise an
 * alarm on every test call whose windowed score is above it. Reported: DR, CFA, per-call
 * precision/recall/F1/FPR, per-recording ROC-AUC (a recording's score is its highest windowed
 * score), and the latency from the exploit start to the first alarm after it.
 *
 * Calls are windowed per stream: the stream is the thread (`threadAware=true`, default) or the
 * whole recording. The windowed score is the mean of the last L per-call values of the stream
 * (STIDE: the share of unseen n-grams, exactly the LID-DS STIDE score).
 */
import { createSequenceModel, SEQUENCE_MODELS, type SequenceModel } from '../detect/anomaly/sequence.js';
import {
  DatasetError,
  Progress,
  type SyscallBatch,
  type SyscallRecording,
} from '../sources/datasets/types.js';
import { LidDsAccumulator, rocAuc, rocCurve, thresholdFrom, tprAtFpr } from './metrics.js';
import { boolOf, intOf, paramsFor, TRIVIAL, type ParamMap } from './params.js';
import {
  meanOf,
  thinRoc,
  type AlgorithmResult,
  type EvalRun,
  type ScenarioResult,
  type SkippedInput,
  type Timeline,
} from './types.js';

/** Vocabulary size: system-call names get ids in order of appearance; the last id catches overflow. */
const VOCAB = 1024;

class Vocabulary {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  id(name: string): number {
    let v = this.ids.get(name);
    if (v === undefined) {
      v = this.names.length < VOCAB - 1 ? this.names.length : VOCAB - 1;
      if (v < VOCAB - 1) this.names.push(name);
      this.ids.set(name, v);
    }
    return v;
  }
  name(id: number): string {
    return this.names[id] ?? '?';
  }
}

interface Window {
  ring: Float64Array;
  pos: number;
  sum: number;
}

/** Slots of the cache of recent streams (2^WINDOW_CACHE_BITS), before the map. */
const WINDOW_CACHE_BITS = 3;

/** Sliding mean of the last L values per stream. */
class Windows {
  private readonly state = new Map<number, Window>();
  private lastKey = -1;
  private last: Window | undefined;
  /** A few interleaved threads take turns call after call: the recent ones, direct-mapped (NaN: empty). */
  private readonly cacheKeys = new Float64Array(1 << WINDOW_CACHE_BITS).fill(NaN);
  private readonly cacheWindows: (Window | undefined)[] = new Array(1 << WINDOW_CACHE_BITS).fill(undefined);
  constructor(private readonly L: number) {}
  /** Appends v[i] to stream streams[i]'s window, for calls 0..n-1; out[i] = that window's mean (`out` may be `v`). */
  pushBatch(streams: Float64Array, v: Float64Array, n: number, out: Float64Array): void {
    const L = this.L;
    const ck = this.cacheKeys;
    const cw = this.cacheWindows;
    let key = this.lastKey;
    let s = this.last;
    for (let i = 0; i < n; i++) {
      const k = streams[i];
      if (k !== key || s === undefined) {
        const slot = Math.imul(k | 0, 0x9e3779b1) >>> (32 - WINDOW_CACHE_BITS);
        s = ck[slot] === k ? cw[slot] : undefined;
        if (s === undefined) {
          s = this.state.get(k);
          if (!s) {
            s = { ring: new Float64Array(L), pos: 0, sum: 0 };
            this.state.set(k, s);
          }
          ck[slot] = k;
          cw[slot] = s;
        }
        key = k;
      }
      const x = v[i];
      s.sum += x - s.ring[s.pos];
      s.ring[s.pos] = x;
      s.pos = s.pos + 1 === L ? 0 : s.pos + 1;
      out[i] = s.sum / L;
    }
    this.lastKey = key;
    this.last = s;
  }
  reset(): void {
    this.state.clear();
    this.lastKey = -1;
    this.last = undefined;
    this.cacheKeys.fill(NaN);
    this.cacheWindows.fill(undefined);
  }
}

interface Scorer {
  name: string;
  params: Record<string, string | number | boolean>;
  model?: SequenceModel;
  windows: Windows;
  /** Constant score for the trivial detectors. */
  constant?: number;
  threshold: number;
  policy: string;
  validation: number[];
  validationMax: number;
  /** Validation calls seen (the quantile sample keeps the first 200,000, then one in 100). */
  seen: number;
}

interface EvalOptions {
  dataset: string;
  algos: string[];
  params: ParamMap;
  /** Exploit recordings of each scenario whose score timeline goes to the report. */
  timelines?: number;
  /** Read every recording per event, even when its reader hands batches (same results; for tests). */
  perEvent?: boolean;
}

/** Calls per batch when a per-event reader is batched here. */
const BATCH = 8192;

/**
 * Hands the calls of a per-event reader over in batches (`names`: the name table, shared by every
 * recording so that name ids stay stable). The calls before a failure are handed over before it.
 */
async function readInBatches(
  rec: SyscallRecording,
  names: string[],
  idOf: Map<string, number>,
  onBatch: (b: SyscallBatch) => void,
): Promise<void> {
  const b: SyscallBatch = {
    n: 0,
    nameIds: new Int32Array(BATCH),
    tids: new Float64Array(BATCH),
    tsNs: new Float64Array(BATCH),
    dirs: new Uint8Array(BATCH),
    names,
    extra: [],
  };
  const flush = (): void => {
    if (b.n === 0) return;
    try {
      onBatch(b);
    } finally {
      b.n = 0;
    }
  };
  try {
    await rec.read((ev) => {
      let id = idOf.get(ev.name);
      if (id === undefined) {
        id = names.length;
        names.push(ev.name);
        idOf.set(ev.name, id);
      }
      const j = b.n;
      b.nameIds[j] = id;
      b.tids[j] = ev.tid;
      b.tsNs[j] = ev.tsNs;
      b.dirs[j] = ev.dir === '>' ? 62 : 60;
      b.n = j + 1;
      if (j + 1 === BATCH) flush();
    });
  } finally {
    flush();
  }
}

export async function evalRecordings(
  scenarios: Map<string, SyscallRecording[]>,
  opts: EvalOptions,
): Promise<Omit<EvalRun, 'command' | 'seconds'>> {
  const { params } = opts;
  const threadAware = boolOf(params, 'threadAware', true);
  const dirFilter = params.dir ?? 'enter';
  if (!['enter', 'exit', 'both'].includes(dirFilter))
    throw new Error(`dir must be enter, exit or both, got ${dirFilter}`);
  const policy = params.threshold ?? 'max';
  const skipped: SkippedInput[] = [];
  const perAlgo = new Map<string, AlgorithmResult>();
  const run: Omit<EvalRun, 'command' | 'seconds'> = {
    output: { dataset: opts.dataset, algorithms: [], skipped },
    details: [],
    timelines: [],
    notes: [
      `streams: ${threadAware ? 'one per thread (tid)' : 'one per recording'}; calls kept: ${dirFilter === 'both' ? 'enter and exit' : dirFilter === 'enter' ? 'enter (>) events' : 'exit (<) events'}; threshold: ${policy} of the validation windowed scores`,
    ],
  };
  for (const a of opts.algos) {
    const r: AlgorithmResult = { name: a, params: {}, scenarios: [], mean: meanOf([]) };
    perAlgo.set(a, r);
    run.output.algorithms.push(r);
  }
  // Direction byte kept (62 '>', 60 '<'), or 0 for both.
  const keepDir = dirFilter === 'both' ? 0 : dirFilter === 'enter' ? 62 : 60;
  const eventNames: string[] = [];
  const eventIdOf = new Map<string, number>();
  // The kept calls of the current batch: vocabulary ids, stream keys, timestamps; model values.
  let ids = new Int32Array(BATCH);
  let streams = new Float64Array(BATCH);
  let times = new Float64Array(BATCH);
  let values: Float64Array[] = [];

  for (const [scenario, recs] of scenarios) {
    const vocab = new Vocabulary();
    const scorers: Scorer[] = opts.algos.map((name) => {
      const p = paramsFor(params, name);
      const L = intOf(p, 'L', 1000);
      if ((TRIVIAL as readonly string[]).includes(name)) {
        return {
          name,
          params: {},
          windows: new Windows(1),
          constant: name === 'flag-everything' ? 1 : 0,
          threshold: 0.5,
          policy: 'trivial',
          validation: [],
          validationMax: -Infinity,
          seen: 0,
        };
      }
      if (!(SEQUENCE_MODELS as readonly string[]).includes(name)) {
        throw new Error(
          `algorithm ${name} does not apply to system-call recordings (use ${SEQUENCE_MODELS.join(', ')})`,
        );
      }
      const model = createSequenceModel(name, p, VOCAB);
      const own = p.threshold ?? policy;
      return {
        name,
        params: { ...model.params, L, threadAware },
        model,
        windows: new Windows(L),
        threshold: 0,
        policy: own,
        validation: [],
        validationMax: -Infinity,
        seen: 0,
      };
    });
    const models = scorers.filter((s) => s.model);
    values = scorers.map(() => new Float64Array(ids.length));
    // Reader name id → vocabulary id (-1: not yet seen), per name table.
    const vocabOf = new Map<readonly string[], Int32Array>();
    let lastNames: readonly string[] | null = null;
    let lastMap: Int32Array = new Int32Array(0);
    /** Keeps the calls of `b` in the chosen direction, mapped to vocabulary ids; returns how many. */
    const select = (b: SyscallBatch): number => {
      if (b.n > ids.length) {
        ids = new Int32Array(b.n);
        streams = new Float64Array(b.n);
        times = new Float64Array(b.n);
        values = scorers.map(() => new Float64Array(b.n));
      }
      let map = lastMap;
      if (b.names !== lastNames) {
        map = vocabOf.get(b.names) ?? new Int32Array(0);
        lastNames = b.names;
      }
      if (map.length < b.names.length) {
        const bigger = new Int32Array(Math.max(256, b.names.length * 2)).fill(-1);
        bigger.set(map);
        map = bigger;
        vocabOf.set(b.names, map);
      }
      lastMap = map;
      const { nameIds, tids, tsNs, dirs } = b;
      let m = 0;
      for (let i = 0; i < b.n; i++) {
        if (keepDir !== 0 && dirs[i] !== keepDir) continue;
        const nid = nameIds[i];
        let id: number;
        if (nid < 0) id = vocab.id(b.extra[~nid]);
        else {
          id = map[nid];
          if (id < 0) id = map[nid] = vocab.id(b.names[nid]);
        }
        ids[m] = id;
        streams[m] = threadAware ? tids[i] : 0;
        times[m] = tsNs[i];
        m++;
      }
      return m;
    };
    const byPhase = (split: string): SyscallRecording[] => recs.filter((r) => r.split === split);
    const train = byPhase('training');
    const val = byPhase('validation');
    const test = byPhase('test');
    if (train.length === 0 || val.length === 0 || test.length === 0) {
      throw new Error(
        `scenario ${scenario}: needs training, validation and test recordings (found ${train.length}, ${val.length}, ${test.length})`,
      );
    }
    const total = train.length + val.length + test.length;
    const progress = new Progress(`${scenario}`, total);
    let done = 0;
    // Recordings are read in this order (the reader may start on the next one early).
    const order = [...train, ...val, ...test];
    const nextOf = new Map(order.map((r, i) => [r, order[i + 1]]));
    const readSafely = async (rec: SyscallRecording, onCalls: (m: number) => void): Promise<boolean> => {
      const onBatch = (b: SyscallBatch): void => {
        const m = select(b);
        if (m > 0) onCalls(m);
      };
      try {
        if (rec.readBatches && !opts.perEvent) await rec.readBatches(onBatch, nextOf.get(rec));
        else await readInBatches(rec, eventNames, eventIdOf, onBatch);
        return true;
      } catch (e) {
        const err = e as Error;
        skipped.push({
          file: err instanceof DatasetError ? err.file : rec.path,
          line: err instanceof DatasetError ? (err.line ?? null) : null,
          error: err.message,
        });
        return false;
      } finally {
        progress.tick(++done, rec.name);
      }
    };

    // 1. Training.
    for (const rec of train) {
      await readSafely(rec, (m) => {
        for (const s of models) s.model!.learnBatch(streams, ids, m);
      });
      for (const s of models) s.model!.resetStreams();
    }

    // 2. Validation: threshold.
    for (const rec of val) {
      await readSafely(rec, (m) => {
        const v = values[0];
        for (const s of models) {
          s.model!.instantBatch(streams, ids, m, v);
          s.windows.pushBatch(streams, v, m, v);
          const sample = s.policy !== 'max';
          let max = s.validationMax;
          for (let i = 0; i < m; i++) {
            const w = v[i];
            if (w > max) max = w;
            // A bounded sample is enough for quantile thresholds.
            if (sample && (++s.seen <= 200_000 || s.seen % 100 === 0)) s.validation.push(w);
          }
          s.validationMax = max;
        }
      });
      for (const s of models) {
        s.model!.resetStreams();
        s.windows.reset();
      }
    }
    for (const s of models) {
      s.threshold =
        s.policy === 'max'
          ? s.validationMax
          : thresholdFrom(s.validation.length ? s.validation : [0], s.policy);
    }

    // 3. Test.
    const acc = scorers.map(() => new LidDsAccumulator());
    const recScores: number[][] = scorers.map(() => []);
    const recLabels: number[] = [];
    let exploitSeen = 0;
    for (const rec of test) {
      const maxW = new Float64Array(scorers.length).fill(-Infinity);
      const wantTimeline = rec.exploit && exploitSeen < (opts.timelines ?? 1);
      const tl: Timeline[] = wantTimeline
        ? scorers
            .filter((s) => s.model)
            .map((s) => ({
              algorithm: s.name,
              scenario,
              recording: rec.name,
              t: [],
              score: [],
              threshold: s.threshold,
            }))
        : [];
      // Timeline points are maxima over pools of `poolSize` calls; the pool doubles (and the points
      // merge pairwise) whenever 2,000 points are reached, so any recording length fits the plot.
      const pool = new Float64Array(scorers.length).fill(-Infinity);
      let poolN = 0;
      let poolSize = 1;
      let t0 = -1;
      let started = false;
      const begin = (): void => {
        started = true;
        for (const a of acc) a.beginRecording(rec.exploit ? rec.exploitTimeNs : undefined);
      };
      const ok = await readSafely(rec, (m) => {
        if (!started) begin();
        if (t0 < 0) t0 = times[0];
        // Windowed values of every call, per scorer.
        for (let i = 0; i < scorers.length; i++) {
          const s = scorers[i];
          const v = values[i];
          if (s.model) {
            s.model.instantBatch(streams, ids, m, v);
            s.windows.pushBatch(streams, v, m, v);
          } else v.fill(s.constant!, 0, m);
        }
        if (!wantTimeline) {
          for (let i = 0; i < scorers.length; i++) {
            const max = acc[i].callBatch(times, values[i], scorers[i].threshold, m);
            if (max > maxW[i]) maxW[i] = max;
          }
          return;
        }
        for (let c = 0; c < m; c++) {
          const ts = times[c];
          for (let i = 0; i < scorers.length; i++) {
            const s = scorers[i];
            const w = values[i][c];
            if (w > maxW[i]) maxW[i] = w;
            if (w > pool[i]) pool[i] = w;
            acc[i].call(ts, w > s.threshold);
          }
          if (wantTimeline && ++poolN === poolSize) {
            let k = 0;
            for (let i = 0; i < scorers.length; i++) {
              if (!scorers[i].model) continue;
              tl[k].t.push((ts - t0) / 1e9);
              tl[k].score.push(pool[i]);
              k++;
            }
            pool.fill(-Infinity);
            poolN = 0;
            if (tl.length && tl[0].t.length >= 2000) {
              for (const x of tl) {
                const t: number[] = [];
                const sc: number[] = [];
                for (let j = 0; j + 1 < x.t.length; j += 2) {
                  t.push(x.t[j + 1]);
                  sc.push(Math.max(x.score[j], x.score[j + 1]));
                }
                x.t = t;
                x.score = sc;
              }
              poolSize *= 2;
            }
          }
        }
      });
      if (!started && ok) begin();
      for (const s of models) {
        s.model!.resetStreams();
        s.windows.reset();
      }
      if (!ok) {
        for (const a of acc) a.abortRecording();
        continue;
      }
      for (const a of acc) a.endRecording();
      recLabels.push(rec.exploit ? 1 : 0);
      scorers.forEach((_, i) => recScores[i].push(Number.isFinite(maxW[i]) ? maxW[i] : 0));
      if (wantTimeline) {
        exploitSeen++;
        for (const x of tl)
          if (rec.exploitTimeNs !== undefined && t0 >= 0) x.exploitAt = (rec.exploitTimeNs - t0) / 1e9;
        run.timelines.push(...tl);
      }
    }

    scorers.forEach((s, i) => {
      const r = acc[i].result();
      const auc = rocAuc(recScores[i], recLabels);
      const sr: ScenarioResult = {
        name: scenario,
        dr: r.dr,
        cfa: r.cfa,
        precision: r.precision,
        recall: r.recall,
        f1: r.f1,
        fpr: r.fpr,
        auc: Number.isFinite(auc) ? auc : null,
        latencyMs: r.latencyMs,
      };
      const ar = perAlgo.get(s.name)!;
      ar.params = s.params;
      ar.scenarios.push(sr);
      run.details.push({
        algorithm: s.name,
        scenario,
        threshold: s.threshold,
        thresholdPolicy: s.policy,
        drAtFpr5: tprAtFpr(recScores[i], recLabels, 0.05),
        drAtFpr2: tprAtFpr(recScores[i], recLabels, 0.02),
        roc: thinRoc(rocCurve(recScores[i], recLabels)),
        counts: {
          negatives: recLabels.filter((y) => y === 0).length,
          positives: recLabels.filter((y) => y === 1).length,
        },
      });
    });
  }
  for (const r of run.output.algorithms) r.mean = meanOf(r.scenarios);
  if (skipped.length) run.notes.push(`${skipped.length} input(s) skipped (see "Skipped inputs")`);
  return run;
}
