/**
 * `vigie eval metrics --dataset nezha`: replay a Nezha TrainTicket day through the perf engine and
 * score it by these definitions:
 *  - a fault's window runs from its inject_time to 10 minutes later or to the next fault, whichever
 *    comes first;
 *  - alarmed minutes merge into episodes; a fault is detected when an episode starts in its window
 *    (delay = episode start − inject time); an episode that starts outside every window is a false
 *    alarm; precision = episodes starting inside a window ÷ all episodes;
 *  - top-1/top-3: the fault's service is first / among the first three culprits ranked at the first
 *    episode start in its window.
 * Trivial detectors are scored beside: flag every minute, flag nothing, random ranking.
 *
 * The evaluation's other parts: nezha-iforest-trace.ts (multivariate check), nezha-shift.ts
 * (relative-shift screen), nezha-markdown.ts (the report); nezha-windows.ts holds the fault windows
 * they all score against.
 */
import { PerfEngine, entityRefOf, type PerfParams } from '../detect/perf/engine.js';
import { RollingRobust } from '../detect/perf/baseline.js';
import { roundTo } from './metrics.js';
import { MINUTE, faultWindows } from './nezha-windows.js';
import { iforestTrace, type IforestTraceRow } from './nezha-iforest-trace.js';
import { shiftScreen, type ShiftScreen } from './nezha-shift.js';
import {
  nezhaEvents,
  readNezhaDay,
  serviceOfPod,
  type NezhaDay,
  type NezhaFault,
} from '../sources/metrics/nezha.js';

/**
 * Columns the detector does not alarm on (traffic-driven, noisy), traced only to show whether a fault
 * left any mark in them: two-sided robust z against the pod's own rolling median/MAD.
 */
export const TRACE_ONLY = ['requestsPerSec', 'netRx', 'netTx', 'clientLatencyMs', 'syscallRead'] as const;

/**
 * Engine parameters for one-minute data (the live defaults are for one-second samples). persist = 2:
 * an alarm needs two consecutive minutes above k. A per-minute latency percentile of a pod serving a
 * few requests a minute is its slowest request; one slow request makes a one-minute spike, and the
 * CUSUM alone adds up spikes two minutes apart into an alarm. A fault that holds shows in consecutive
 * minutes.
 */
export const NEZHA_PARAMS: Readonly<Partial<PerfParams>> = { persist: 2 };

export interface TypeScore {
  faults: number;
  detected: number;
  recall: number;
  top1: number;
  top3: number;
  meanDelaySeconds: number | null;
}

export interface FaultOutcome {
  injectTime: string;
  pod: string;
  service: string;
  type: string;
  detected: boolean;
  delaySeconds?: number;
  ranked?: string[];
  /** Largest robust z of the injected pod per metric inside its window, and the same pod's 95th
   * percentile of 10-minute maxima in fault-free time: where the first is not above the second,
   * the fault left no trace in that metric. */
  trace: Record<string, { inWindow: number; faultFreeP95: number }>;
}

export interface MetricsEvalResult {
  dataset: string;
  faults: number;
  detected: number;
  recall: number;
  precision: number;
  falseAlarmsPerHour: number;
  top1: number;
  top3: number;
  meanDelaySeconds: number | null;
  byType: Record<string, TypeScore>;
  episodes: number;
  falseAlarms: number;
  faultFreeHours: number;
  falseAlarmList: {
    start: string;
    /** Alarmed minutes in the episode. */
    minutes: number;
    culprit?: string;
    why?: string;
    /** Every pod and metric in alarm during the episode, with its largest z. */
    alarmed: { pod: string; metric: string; maxZ: number; minutes: number }[];
  }[];
  perFault: FaultOutcome[];
  trivial: Record<
    string,
    { recall: number; precision: number; falseAlarmsPerHour: number; top1: number; top3: number }
  >;
  params: Partial<PerfParams>;
  malformed: number;
  /** Relative-shift screen: does the injected pod's level move against its own recent median? */
  shift?: ShiftScreen;
  /** Multivariate check: isolation forest over each pod's vector of robust z-scores (all columns). */
  multivariate?: IforestTraceRow[];
}

interface Minute {
  ts: bigint;
  alarmed: boolean;
  ranked?: string[];
  why?: string;
  /** Pod and metric of every track in alarm at this minute, with its z. */
  tracks?: { pod: string; metric: string; z: number }[];
}

interface Scored {
  detected: number;
  recall: number;
  precision: number;
  falseAlarmsPerHour: number;
  falseAlarms: number;
  episodes: number;
  top1: number;
  top3: number;
  meanDelaySeconds: number | null;
  faultFreeHours: number;
  outcomes: { detected: boolean; delaySeconds?: number; ranked?: string[] }[];
  falseStarts: number[];
}

/** Score a sequence of minutes (alarmed flag + ranking at that minute) against the faults. */
export function scoreMinutes(minutes: Minute[], faults: NezhaFault[], dataEndNs: bigint): Scored {
  const win = faultWindows(faults);
  const starts: number[] = [];
  for (let i = 0; i < minutes.length; i++)
    if (minutes[i].alarmed && (i === 0 || !minutes[i - 1].alarmed)) starts.push(i);
  const inWindow = (ts: bigint): number => win.findIndex((w) => ts >= w.start && ts < w.end);
  const falseStarts = starts.filter((s) => inWindow(minutes[s].ts) < 0);
  const outcomes = faults.map((_, k) => {
    const s = starts.find((i) => minutes[i].ts >= win[k].start && minutes[i].ts < win[k].end);
    if (s === undefined) return { detected: false };
    return {
      detected: true,
      delaySeconds: Number(minutes[s].ts - faults[k].injectNs) / 1e9,
      ranked: minutes[s].ranked,
    };
  });
  const detected = outcomes.filter((o) => o.detected).length;
  let t1 = 0;
  let t3 = 0;
  outcomes.forEach((o, k) => {
    if (!o.detected || !o.ranked) return;
    const svc = faults[k].service;
    if (o.ranked[0] === svc) t1++;
    if (o.ranked.slice(0, 3).includes(svc)) t3++;
  });
  const delays = outcomes.filter((o) => o.detected).map((o) => o.delaySeconds!);
  // Fault-free time: the data span minus the union of fault windows.
  const first = minutes[0]?.ts ?? 0n;
  let covered = 0n;
  let cursor = first;
  for (const w of win) {
    const s = w.start > cursor ? w.start : cursor;
    const e = w.end < dataEndNs ? w.end : dataEndNs;
    if (e > s) covered += e - s;
    if (e > cursor) cursor = e;
  }
  const faultFreeHours = Number(dataEndNs - first - covered) / 3.6e12;
  return {
    detected,
    recall: faults.length ? detected / faults.length : 0,
    precision: starts.length ? (starts.length - falseStarts.length) / starts.length : 0,
    falseAlarmsPerHour: faultFreeHours > 0 ? falseStarts.length / faultFreeHours : 0,
    falseAlarms: falseStarts.length,
    episodes: starts.length,
    top1: detected ? t1 / detected : 0,
    top3: detected ? t3 / detected : 0,
    meanDelaySeconds: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : null,
    faultFreeHours,
    outcomes,
    falseStarts,
  };
}

export interface EvalOptions {
  params?: Partial<PerfParams>;
  /** Also run the isolation-forest check (default true). */
  multivariate?: boolean;
  /** Also run the relative-shift screen (default true). */
  shift?: boolean;
}

/** Replay the day through the engine minute by minute. */
export function evalNezhaDay(day: NezhaDay, opts: EvalOptions = {}): MetricsEvalResult {
  const params = opts.params ?? NEZHA_PARAMS;
  const engine = new PerfEngine(params);
  const events = nezhaEvents(day);
  const specs = engine.p.specs;
  const podNames = day.pods.map((p) => p.pod);
  const podIndex = new Map(podNames.map((p, i) => [p, i]));
  const minutes: Minute[] = [];
  const traceNames = [...specs.map((s) => s.name), ...TRACE_ONLY];
  const nT = traceNames.length;
  const zHist: Float32Array[] = []; // per minute: pods × traced metrics
  const extraBase = podNames.map(() => TRACE_ONLY.map(() => new RollingRobust(engine.p.window)));
  const extraZ = new Float32Array(podNames.length * TRACE_ONLY.length);
  let i = 0;
  while (i < events.length) {
    const bucket = events[i].ts / MINUTE;
    const z = new Float32Array(podNames.length * nT);
    let firstTs = events[i].ts;
    for (; i < events.length && events[i].ts / MINUTE === bucket; i++) {
      const ev = events[i];
      if (ev.ts < firstTs) firstTs = ev.ts;
      engine.observe(entityRefOf(ev), ev.ts, ev.metric!);
      const pi = podIndex.get(ev.k8s?.pod ?? '');
      if (pi === undefined) continue;
      TRACE_ONLY.forEach((name, j) => {
        const x = ev.metric![name];
        const b = extraBase[pi][j];
        if (x === undefined || !Number.isFinite(x)) return;
        if (b.count >= engine.p.warmup) {
          const sigma = Math.max(b.sigma, engine.p.relFloor * Math.abs(b.median), 1e-6);
          extraZ[pi * TRACE_ONLY.length + j] = Math.abs(x - b.median) / sigma;
        }
        b.push(x);
      });
    }
    let alarmed = false;
    const tracks: NonNullable<Minute['tracks']> = [];
    for (const e of engine.allEntities()) {
      if (e.alarmed) alarmed = true;
      e.tracks.forEach((t, s) => {
        if (t?.alarmed) tracks.push({ pod: e.ref.name, metric: specs[s].name, z: t.lastZ });
      });
      const pi = podIndex.get(e.ref.name);
      if (pi === undefined) continue;
      for (let s = 0; s < specs.length; s++) z[pi * nT + s] = e.tracks[s]?.lastZ ?? 0;
      for (let j = 0; j < TRACE_ONLY.length; j++)
        z[pi * nT + specs.length + j] = extraZ[pi * TRACE_ONLY.length + j];
    }
    const m: Minute = { ts: firstTs, alarmed, tracks };
    if (alarmed) {
      const r = engine.rank(undefined, 3, (ref) => ref.name !== 'frontend');
      m.ranked = r.map((x) => serviceOfPod(x.ref.name));
      m.why = r[0]?.why
        .slice(0, 2)
        .map(
          (d) =>
            `${d.metric} ${fmtMetric(d.metric, d.value)} vs baseline ${fmtMetric(d.metric, d.median)} (z=${d.z.toFixed(1)})`,
        )
        .join(', ');
    }
    minutes.push(m);
    zHist.push(z);
  }
  const endNs = (minutes[minutes.length - 1]?.ts ?? 0n) + MINUTE;
  const sc = scoreMinutes(minutes, day.faults, endNs);
  const win = faultWindows(day.faults);

  // Trace evidence per fault: injected pod's max z per metric in its window vs fault-free 10-min maxima.
  const inAnyWindow = (ts: bigint): boolean => win.some((w) => ts >= w.start && ts < w.end);
  const perFault: FaultOutcome[] = day.faults.map((f, k) => {
    const pi = podIndex.get(f.pod);
    const trace: FaultOutcome['trace'] = {};
    if (pi !== undefined) {
      for (let s = 0; s < nT; s++) {
        let inWin = 0;
        const blocks: number[] = [];
        let blockMax = 0;
        let blockLen = 0;
        let touched = false;
        for (let t = 0; t < minutes.length; t++) {
          const v = zHist[t][pi * nT + s];
          if (minutes[t].ts >= win[k].start && minutes[t].ts < win[k].end) inWin = Math.max(inWin, v);
          if (inAnyWindow(minutes[t].ts)) {
            blockMax = 0;
            blockLen = 0;
            continue;
          }
          blockMax = Math.max(blockMax, v);
          if (v !== 0) touched = true;
          if (++blockLen === 10) {
            blocks.push(blockMax);
            blockMax = 0;
            blockLen = 0;
          }
        }
        if (!touched && inWin === 0) continue;
        blocks.sort((a, b) => a - b);
        const p95 = blocks.length
          ? blocks[Math.min(blocks.length - 1, Math.floor(0.95 * blocks.length))]
          : NaN;
        trace[traceNames[s]] = { inWindow: roundTo(inWin, 1), faultFreeP95: roundTo(p95, 1) };
      }
    }
    const o = sc.outcomes[k];
    return {
      injectTime: f.injectTime,
      pod: f.pod,
      service: f.service,
      type: f.type,
      detected: o.detected,
      delaySeconds: o.delaySeconds === undefined ? undefined : roundTo(o.delaySeconds, 1),
      ranked: o.ranked,
      trace,
    };
  });

  const byType: Record<string, TypeScore> = {};
  for (const type of [...new Set(day.faults.map((f) => f.type))].sort()) {
    const idx = day.faults.map((f, k) => (f.type === type ? k : -1)).filter((k) => k >= 0);
    const det = idx.filter((k) => sc.outcomes[k].detected);
    const delays = det.map((k) => sc.outcomes[k].delaySeconds!);
    byType[type] = {
      faults: idx.length,
      detected: det.length,
      recall: det.length / idx.length,
      top1: det.length
        ? det.filter((k) => sc.outcomes[k].ranked?.[0] === day.faults[k].service).length / det.length
        : 0,
      top3: det.length
        ? det.filter((k) => sc.outcomes[k].ranked?.slice(0, 3).includes(day.faults[k].service)).length /
          det.length
        : 0,
      meanDelaySeconds: delays.length ? roundTo(delays.reduce((a, b) => a + b, 0) / delays.length, 1) : null,
    };
  }

  // Trivial detectors, scored by the same function.
  const all = scoreMinutes(
    minutes.map((m) => ({ ts: m.ts, alarmed: true })),
    day.faults,
    endNs,
  );
  const none = scoreMinutes(
    minutes.map((m) => ({ ts: m.ts, alarmed: false })),
    day.faults,
    endNs,
  );
  const nServices = new Set(day.pods.map((p) => p.service)).size;
  const trivial = {
    flagEveryMinute: pick(all),
    flagNothing: pick(none),
    // A random ranking of the services: expected top-k is k / services, whatever the detection.
    randomRanking: {
      recall: NaN,
      precision: NaN,
      falseAlarmsPerHour: NaN,
      top1: roundTo(1 / nServices, 3),
      top3: roundTo(3 / nServices, 3),
    },
  };

  return {
    dataset: `nezha:${day.dir}`,
    faults: day.faults.length,
    detected: sc.detected,
    recall: roundTo(sc.recall, 3),
    precision: roundTo(sc.precision, 3),
    falseAlarmsPerHour: roundTo(sc.falseAlarmsPerHour, 3),
    top1: roundTo(sc.top1, 3),
    top3: roundTo(sc.top3, 3),
    meanDelaySeconds: sc.meanDelaySeconds === null ? null : roundTo(sc.meanDelaySeconds, 1),
    byType,
    episodes: sc.episodes,
    falseAlarms: sc.falseAlarms,
    faultFreeHours: roundTo(sc.faultFreeHours, 2),
    falseAlarmList: sc.falseStarts.map((s) => episodeOf(minutes, s)),
    perFault,
    trivial,
    params,
    malformed: day.malformed,
  };
}

/** The episode starting at minute s: its length and every pod/metric in alarm during it. */
function episodeOf(minutes: Minute[], s: number): MetricsEvalResult['falseAlarmList'][number] {
  let e = s;
  while (e + 1 < minutes.length && minutes[e + 1].alarmed) e++;
  const by = new Map<string, { pod: string; metric: string; maxZ: number; minutes: number }>();
  for (let t = s; t <= e; t++)
    for (const tr of minutes[t].tracks ?? []) {
      const key = `${tr.pod}\u0000${tr.metric}`;
      const a = by.get(key) ?? { pod: tr.pod, metric: tr.metric, maxZ: -Infinity, minutes: 0 };
      a.maxZ = Math.max(a.maxZ, roundTo(tr.z, 1));
      a.minutes++;
      by.set(key, a);
    }
  return {
    start: new Date(Number(minutes[s].ts / 1_000_000n)).toISOString().slice(0, 16).replace('T', ' '),
    minutes: e - s + 1,
    culprit: minutes[s].ranked?.[0],
    why: minutes[s].why,
    alarmed: [...by.values()].sort((a, b) => b.maxZ - a.maxZ),
  };
}

function fmtMetric(metric: string, v: number): string {
  if (metric === 'cpu') return `${(v * 1000).toFixed(0)}m`;
  if (metric === 'memory') return `${(v / 1048576).toFixed(0)}Mi`;
  if (metric === 'latencyMs') return `${v.toFixed(0)}ms`;
  return v.toFixed(3);
}

function pick(s: Scored) {
  return {
    recall: roundTo(s.recall, 3),
    precision: roundTo(s.precision, 3),
    falseAlarmsPerHour: roundTo(s.falseAlarmsPerHour, 3),
    top1: roundTo(s.top1, 3),
    top3: roundTo(s.top3, 3),
  };
}

export function evalNezha(dir: string, opts: EvalOptions = {}): MetricsEvalResult {
  const day = readNezhaDay(dir);
  const r = evalNezhaDay(day, opts);
  if (opts.multivariate !== false) r.multivariate = iforestTrace(day, opts.params?.window ?? 60);
  if (opts.shift !== false) r.shift = shiftScreen(day);
  return r;
}
