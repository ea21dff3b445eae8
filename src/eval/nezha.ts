/**
 * `vigie eval metrics --dataset nezha`: replay a Nezha TrainTicket day through the perf engine and
 * score it with the issue's definitions:
 *  - a fault's window runs from its inject_time to 10 minutes later or to the next fault, whichever
 *    comes first;
 *  - alarmed minutes merge into episodes; a fault is detected when an episode starts in its window
 *    (delay = episode start − inject time); an episode that starts outside every window is a false
 *    alarm; precision = episodes starting inside a window ÷ all episodes;
 *  - top-1/top-3: the fault's service is first / among the first three culprits ranked at the first
 *    episode start in its window.
 * Trivial detectors are scored beside: flag every minute, flag nothing, random ranking.
 */
import { PerfEngine, entityRefOf, type PerfParams } from '../detect/perf/engine.js';
import { RollingRobust, medianInPlace } from '../detect/perf/baseline.js';
import { IsolationForest } from '../detect/anomaly/iforest.js';
import { quantileSorted } from './metrics.js';
import {
  nezhaEvents,
  readNezhaDay,
  serviceOfPod,
  type NezhaDay,
  type NezhaFault,
  type NezhaRow,
} from '../sources/metrics/nezha.js';

const MINUTE = 60_000_000_000n;

/**
 * Columns the detector does not alarm on (traffic-driven, noisy), traced only to show whether a fault
 * left any mark in them: two-sided robust z against the pod's own rolling median/MAD.
 */
const TRACE_ONLY = ['requestsPerSec', 'netRx', 'netTx', 'clientLatencyMs', 'syscallRead'] as const;
const WINDOW = 10n * MINUTE;

/**
 * Engine parameters for one-minute data (the live defaults are for one-second samples). persist = 2:
 * an alarm needs two consecutive minutes above k. A per-minute latency percentile of a pod serving a
 * few requests a minute is its slowest request; one slow request makes a one-minute spike, and the
 * CUSUM alone adds up spikes two minutes apart into an alarm. A fault that holds shows in consecutive
 * minutes.
 */
export const NEZHA_PARAMS: Partial<PerfParams> = { persist: 2 };

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
  multivariate?: {
    injectTime: string;
    type: string;
    service: string;
    inWindow: number;
    faultFreeP95: number;
    rank: number;
    pods: number;
  }[];
}

interface Minute {
  ts: bigint;
  alarmed: boolean;
  ranked?: string[];
  why?: string;
  /** Pod and metric of every track in alarm at this minute, with its z. */
  tracks?: { pod: string; metric: string; z: number }[];
}

function windows(faults: NezhaFault[]): { start: bigint; end: bigint }[] {
  return faults.map((f, i) => {
    const next = faults[i + 1]?.injectNs;
    const end = f.injectNs + WINDOW;
    return { start: f.injectNs, end: next !== undefined && next < end ? next : end };
  });
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
  const win = windows(faults);
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
  const win = windows(day.faults);

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
        trace[traceNames[s]] = { inWindow: round(inWin, 1), faultFreeP95: round(p95, 1) };
      }
    }
    const o = sc.outcomes[k];
    return {
      injectTime: f.injectTime,
      pod: f.pod,
      service: f.service,
      type: f.type,
      detected: o.detected,
      delaySeconds: o.delaySeconds === undefined ? undefined : round(o.delaySeconds, 1),
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
      meanDelaySeconds: delays.length ? round(delays.reduce((a, b) => a + b, 0) / delays.length, 1) : null,
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
      top1: round(1 / nServices, 3),
      top3: round(3 / nServices, 3),
    },
  };

  return {
    dataset: `nezha:${day.dir}`,
    faults: day.faults.length,
    detected: sc.detected,
    recall: round(sc.recall, 3),
    precision: round(sc.precision, 3),
    falseAlarmsPerHour: round(sc.falseAlarmsPerHour, 3),
    top1: round(sc.top1, 3),
    top3: round(sc.top3, 3),
    meanDelaySeconds: sc.meanDelaySeconds === null ? null : round(sc.meanDelaySeconds, 1),
    byType,
    episodes: sc.episodes,
    falseAlarms: sc.falseAlarms,
    faultFreeHours: round(sc.faultFreeHours, 2),
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
      a.maxZ = Math.max(a.maxZ, round(tr.z, 1));
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
    recall: round(s.recall, 3),
    precision: round(s.precision, 3),
    falseAlarmsPerHour: round(s.falseAlarmsPerHour, 3),
    top1: round(s.top1, 3),
    top3: round(s.top3, 3),
  };
}

function round(x: number, d: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export function evalNezha(dir: string, opts: EvalOptions = {}): MetricsEvalResult {
  const day = readNezhaDay(dir);
  const r = evalNezhaDay(day, opts);
  if (opts.multivariate !== false) r.multivariate = iforestTrace(day, opts.params?.window ?? 60);
  if (opts.shift !== false) r.shift = shiftScreen(day);
  return r;
}

/**
 * Multivariate check: an isolation forest (detect/anomaly/iforest.ts, 100 trees, ψ = 256, seed 1)
 * fitted on every pod-minute's vector of robust z-scores (|x − rolling median| / sigma, capped at 10,
 * over all columns), then, per fault, the injected pod's highest score in its window, the same pod's
 * 95th percentile of 10-minute maxima in fault-free time, and its rank among all pods in the window.
 */
export function iforestTrace(day: NezhaDay, window = 60): NonNullable<MetricsEvalResult['multivariate']> {
  const cols = [
    'cpu',
    'memory',
    'latencyMs',
    'requestsPerSec',
    'netRx',
    'netTx',
    'clientLatencyMs',
    'syscallRead',
  ];
  const D = cols.length;
  const T = Math.min(...day.pods.map((p) => p.rows.length));
  const Z = day.pods.map((p) => {
    const z = new Float64Array(T * D);
    const bases = cols.map(() => new RollingRobust(window));
    for (let t = 0; t < T; t++)
      for (let j = 0; j < D; j++) {
        const x = p.rows[t].metric[cols[j]];
        const b = bases[j];
        if (x === undefined || !Number.isFinite(x)) continue;
        if (b.count >= 10)
          z[t * D + j] = Math.min(
            10,
            Math.abs(x - b.median) / Math.max(b.sigma, 0.1 * Math.abs(b.median), 1e-6),
          );
        b.push(x);
      }
    return z;
  });
  const all = new Float64Array(day.pods.length * T * D);
  Z.forEach((z, i) => all.set(z, i * T * D));
  const forest = new IsolationForest({ trees: 100, sampleSize: 256, seed: 1 }).fit(all, D);
  const S = Z.map((z) => forest.score(z, D));
  const ts = day.pods[0].rows.map((r) => r.ts);
  const win = windows(day.faults);
  const inAny = (t: bigint) => win.some((w) => t >= w.start && t < w.end);
  return day.faults.map((f, k) => {
    const pi = day.pods.findIndex((p) => p.pod === f.pod);
    const maxIn = (s: Float64Array) => {
      let m = 0;
      for (let t = 0; t < T; t++) if (ts[t] >= win[k].start && ts[t] < win[k].end && s[t] > m) m = s[t];
      return m;
    };
    const blocks: number[] = [];
    let bm = 0;
    let bl = 0;
    const s = pi >= 0 ? S[pi] : new Float64Array(T);
    for (let t = 0; t < T; t++) {
      if (inAny(ts[t])) {
        bm = 0;
        bl = 0;
        continue;
      }
      bm = Math.max(bm, s[t]);
      if (++bl === 10) {
        blocks.push(bm);
        bm = 0;
        bl = 0;
      }
    }
    blocks.sort((a, b) => a - b);
    const maxes = S.map(maxIn);
    const mine = pi >= 0 ? maxes[pi] : 0;
    return {
      injectTime: f.injectTime,
      type: f.type,
      service: f.service,
      inWindow: round(mine, 3),
      faultFreeP95: round(blocks[Math.floor(0.95 * blocks.length)] ?? NaN, 3),
      rank: 1 + maxes.filter((m) => m > mine).length,
      pods: day.pods.length,
    };
  });
}

/** Markdown report: headline, trivial detectors, by type, per fault with its trace evidence. */
export function nezhaMarkdown(r: MetricsEvalResult): string {
  const L: string[] = [];
  const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  L.push(`# Perf detector on ${r.dataset}`, '');
  L.push(`Engine parameters beyond the defaults: \`${JSON.stringify(r.params)}\`.`, '');
  L.push('| detector | recall | precision | false alarms / fault-free h | top-1 | top-3 | mean delay (s) |');
  L.push('|---|---|---|---|---|---|---|');
  L.push(
    `| vigie perf | ${pct(r.recall)} (${r.detected}/${r.faults}) | ${pct(r.precision)} | ${pct(r.falseAlarmsPerHour)} (${r.falseAlarms} in ${r.faultFreeHours} h) | ${pct(r.top1)} | ${pct(r.top3)} | ${r.meanDelaySeconds ?? '—'} |`,
  );
  for (const [name, t] of Object.entries(r.trivial))
    L.push(
      `| ${name} | ${pct(t.recall)} | ${pct(t.precision)} | ${pct(t.falseAlarmsPerHour)} | ${pct(t.top1)} | ${pct(t.top3)} | — |`,
    );
  L.push(
    '',
    '## By fault type',
    '',
    '| type | faults | detected | recall | top-1 | top-3 | mean delay (s) |',
    '|---|---|---|---|---|---|---|',
  );
  for (const [type, t] of Object.entries(r.byType))
    L.push(
      `| ${type} | ${t.faults} | ${t.detected} | ${pct(t.recall)} | ${pct(t.top1)} | ${pct(t.top3)} | ${t.meanDelaySeconds ?? '—'} |`,
    );
  L.push(
    '',
    '## Per fault',
    '',
    'trace: largest robust z of the injected pod in its window / its fault-free 95th percentile of 10-minute maxima.',
    '',
  );
  L.push(
    '| inject time | service | type | detected | delay (s) | ranked | trace: cpu, memory, latencyMs | trace: requests/s, netRx, netTx, client latency, syscalls |',
    '|---|---|---|---|---|---|---|---|',
  );
  const tr = (f: FaultOutcome, ms: readonly string[]) =>
    ms.map((m) => (f.trace[m] ? `${f.trace[m].inWindow}/${f.trace[m].faultFreeP95}` : '—')).join(', ');
  for (const f of r.perFault)
    L.push(
      `| ${f.injectTime} | ${f.service} | ${f.type} | ${f.detected ? 'yes' : 'no'} | ${f.delaySeconds ?? '—'} | ${(f.ranked ?? []).join(', ')} | ${tr(f, ['cpu', 'memory', 'latencyMs'])} | ${tr(f, TRACE_ONLY)} |`,
    );
  if (r.multivariate?.length) {
    L.push(
      '',
      '## Multivariate check (isolation forest over robust z-vectors)',
      '',
      "Injected pod's highest score in its window / its fault-free 95th percentile of 10-minute maxima; rank of the pod among all pods in the window.",
      '',
      '| inject time | service | type | score in window / fault-free p95 | rank |',
      '|---|---|---|---|---|',
    );
    for (const m of r.multivariate)
      L.push(
        `| ${m.injectTime} | ${m.service} | ${m.type} | ${m.inWindow} / ${m.faultFreeP95} | ${m.rank} of ${m.pods} |`,
      );
  }
  if (r.shift) L.push(...shiftMarkdown(r.shift));
  if (r.falseAlarmList.length) {
    L.push(
      '',
      '## Alarms outside every fault window',
      '',
      '| start (UTC) | minutes | top culprit | why | in alarm (pod metric, largest z, minutes) |',
      '|---|---|---|---|---|',
    );
    for (const f of r.falseAlarmList)
      L.push(
        `| ${f.start} | ${f.minutes} | ${f.culprit ?? '—'} | ${f.why ?? ''} | ${f.alarmed.map((a) => `${a.pod} ${a.metric} ${a.maxZ} (${a.minutes})`).join('; ')} |`,
      );
  }
  return L.join('\n') + '\n';
}

/**
 * Relative-shift screen. A service made to return early or throw does less work (fewer requests
 * served downstream, fewer bytes sent, less CPU) or answers at another speed; that would show as the
 * pod's level moving against its own recent past, whatever its absolute range. The statistic, for
 * one column of one pod and a window starting at minute t0:
 *
 *   s = ln( median(x[t0 + skip .. end)) / median(x[t0 − baseline .. t0)) )
 *
 * (the baseline is shorter, down to `minBaseline` = 10 minutes, near the start of the data, where
 * the day's first faults sit; NaN values ignored; s is undefined when a median is missing or not positive, e.g. a pod idle in
 * most minutes). `skip` = 2 because the faults show about two minutes after inject_time. The same
 * statistic over every fault-free 10-minute window of the same pod gives its normal spread; a fault
 * is flagged in a column when its s falls outside the central `1 − 2·tail` of that spread. With
 * tail = 2.5 % a column flags 5 % of fault-free windows by construction, so a useful column must flag
 * far more than 5 % of the faults; "any column" is compared with its own fault-free rate. Four
 * parameters (baseline, minBaseline, skip, tail), none chosen per fault or per type.
 */
export const SHIFT_COLUMNS = [
  'requestsPerSec',
  'netTx',
  'netRx',
  'latencyMs',
  'cpu',
  'syscallRead',
  'clientLatencyMs',
] as const;
export const SHIFT_PARAMS = { baseline: 60, minBaseline: 10, skip: 2, span: 10, tail: 0.025 } as const;

export interface ShiftScreen {
  params: typeof SHIFT_PARAMS;
  columns: readonly string[];
  /** Per fault type: faults, faults with a defined statistic per column, flagged per column, flagged in any column. */
  byType: Record<
    string,
    {
      faults: number;
      defined: Record<string, number>;
      flagged: Record<string, number>;
      anyColumn: number;
      /** Faults whose s is below the pod's fault-free median of s: the direction of the shift, however small
       * (a fault that makes the pod do less work would put most faults below; chance is half). */
      below: Record<string, number>;
    }
  >;
  /** Share of the injected pods' fault-free windows flagged, per column and in any column (the chance rate). */
  faultFreeRate: Record<string, number>;
  /** If this were an alarm over all pods: share of non-overlapping fault-free 10-minute blocks in which
   * some pod is flagged in some column, and the false alarms per fault-free hour that gives. */
  allPods: { blocks: number; flaggedBlocks: number; falseAlarmsPerHour: number };
  /** Front service (P50, P95 latency): faults flagged per type, against its own fault-free spread. */
  front: Record<string, { faults: number; flaggedP50: number; flaggedP95: number }>;
  perFault: {
    injectTime: string;
    service: string;
    type: string;
    s: Record<string, number>;
    flagged: string[];
    rank: number;
    pods: number;
  }[];
  /** Per fault type: mean rank of the injected pod among all pods by exceedance (a random order averages (pods + 1) / 2), and how often it is first. */
  rankByType: Record<string, { meanRank: number; first: number; faults: number }>;
}

/**
 * How far s lies outside its fault-free spread [lo, hi], in widths of the spread (0 inside): the
 * score that ranks pods against each other when each pod has its own scale.
 */
export function exceedance(s: number, lo: number, hi: number): number {
  if (!Number.isFinite(s) || !Number.isFinite(lo) || !Number.isFinite(hi)) return 0;
  const width = Math.max(hi - lo, 1e-9);
  if (s > hi) return (s - hi) / width;
  if (s < lo) return (lo - s) / width;
  return 0;
}

/** Median of the finite values of xs[from, to) (clamped to the array); NaN when there is none. */
export function finiteMedian(xs: Float64Array, from: number, to: number, scratch: Float64Array): number {
  let n = 0;
  for (let i = Math.max(0, from); i < Math.min(xs.length, to); i++)
    if (Number.isFinite(xs[i])) scratch[n++] = xs[i];
  return n ? medianInPlace(scratch, n) : NaN;
}

/** s = ln(median of the window [t0 + skip, end) / median of the baseline [t0 − baseline, t0)); NaN when undefined. */
export function logMedianRatio(
  xs: Float64Array,
  t0: number,
  end: number,
  baseline: number,
  skip: number,
  scratch: Float64Array,
  minBaseline = baseline,
): number {
  // The baseline is the last `baseline` minutes, or fewer near the start of the data, but never under `minBaseline`.
  if (t0 < minBaseline) return NaN;
  const b = finiteMedian(xs, t0 - baseline, t0, scratch);
  const w = finiteMedian(xs, t0 + skip, end, scratch);
  if (!(b > 0) || !(w > 0)) return NaN;
  return Math.log(w / b);
}

/** Fault-free spread of s for one series: [tail, 1 − tail] quantiles over every fault-free window start. */
function spreadOf(
  xs: Float64Array,
  freeStart: Uint8Array,
  scratch: Float64Array,
): { lo: number; mid: number; hi: number; all: Float64Array } {
  const P = SHIFT_PARAMS;
  const vals: number[] = [];
  const all = new Float64Array(xs.length).fill(NaN);
  for (let t = P.minBaseline; t + P.span <= xs.length; t++) {
    if (!freeStart[t]) continue;
    const s = logMedianRatio(xs, t, t + P.span, P.baseline, P.skip, scratch, P.minBaseline);
    all[t] = s;
    if (Number.isFinite(s)) vals.push(s);
  }
  vals.sort((a, b) => a - b);
  return {
    lo: quantileSorted(vals, P.tail),
    mid: quantileSorted(vals, 0.5),
    hi: quantileSorted(vals, 1 - P.tail),
    all,
  };
}

export function shiftScreen(day: NezhaDay): ShiftScreen {
  const P = SHIFT_PARAMS;
  const ts = day.pods[0]?.rows.map((r) => r.ts) ?? [];
  const T = ts.length;
  const win = windows(day.faults);
  const minuteOf = (ns: bigint): number => {
    const i = ts.findIndex((t) => t >= ns);
    return i < 0 ? T : i;
  };
  const wi = win.map((w) => ({ start: minuteOf(w.start), end: minuteOf(w.end) }));
  const inFault = new Uint8Array(T);
  for (const w of wi) inFault.fill(1, w.start, w.end);
  // A fault-free window start: the whole [t, t + span) outside every fault window.
  const freeStart = new Uint8Array(T);
  for (let t = 0; t + P.span <= T; t++) {
    let ok = 1;
    for (let u = t; u < t + P.span; u++) if (inFault[u]) ok = 0;
    freeStart[t] = ok;
  }
  const scratch = new Float64Array(Math.max(T, P.baseline));
  const seriesOf = (rows: NezhaRow[], col: string): Float64Array => {
    const xs = new Float64Array(T).fill(NaN);
    for (let t = 0; t < Math.min(T, rows.length); t++) {
      const v = rows[t].metric[col];
      if (v !== undefined) xs[t] = v;
    }
    return xs;
  };
  const cols = SHIFT_COLUMNS;
  // Per pod and column: series and fault-free spread.
  const spreads = day.pods.map((p) => cols.map((c) => spreadOf(seriesOf(p.rows, c), freeStart, scratch)));
  const series = day.pods.map((p) => cols.map((c) => seriesOf(p.rows, c)));
  const out = (s: number, sp: { lo: number; hi: number }): boolean =>
    Number.isFinite(s) && Number.isFinite(sp.lo) && (s < sp.lo || s > sp.hi);

  const byType: ShiftScreen['byType'] = {};
  const perFault: ShiftScreen['perFault'] = [];
  day.faults.forEach((f, k) => {
    const pi = day.pods.findIndex((p) => p.pod === f.pod);
    const bt = (byType[f.type] ??= { faults: 0, defined: {}, flagged: {}, anyColumn: 0, below: {} });
    bt.faults++;
    const s: Record<string, number> = {};
    const flagged: string[] = [];
    if (pi >= 0)
      cols.forEach((c, j) => {
        const v = logMedianRatio(
          series[pi][j],
          wi[k].start,
          wi[k].end,
          P.baseline,
          P.skip,
          scratch,
          P.minBaseline,
        );
        s[c] = round(v, 3);
        if (Number.isFinite(v)) bt.defined[c] = (bt.defined[c] ?? 0) + 1;
        if (Number.isFinite(v) && v < spreads[pi][j].mid) bt.below[c] = (bt.below[c] ?? 0) + 1;
        if (out(v, spreads[pi][j])) {
          flagged.push(c);
          bt.flagged[c] = (bt.flagged[c] ?? 0) + 1;
        }
      });
    if (flagged.length) bt.anyColumn++;
    // Localization: the injected pod's largest exceedance against every pod's, in this window.
    const score = day.pods.map((_, qi) => {
      let m = 0;
      cols.forEach((_, j) => {
        const sp = spreads[qi][j];
        m = Math.max(
          m,
          exceedance(
            logMedianRatio(series[qi][j], wi[k].start, wi[k].end, P.baseline, P.skip, scratch, P.minBaseline),
            sp.lo,
            sp.hi,
          ),
        );
      });
      return m;
    });
    const mine = pi >= 0 ? score[pi] : 0;
    // Mid-rank for ties (many pods sit at 0, inside their spread): a random order averages (pods + 1) / 2.
    const higher = score.filter((x) => x > mine).length;
    const tied = score.filter((x) => x === mine).length - 1;
    const rank = 1 + higher + tied / 2;
    perFault.push({
      injectTime: f.injectTime,
      service: f.service,
      type: f.type,
      s,
      flagged,
      rank,
      pods: day.pods.length,
    });
  });

  // Chance rate over the injected pods' fault-free windows.
  const injected = [
    ...new Set(day.faults.map((f) => day.pods.findIndex((p) => p.pod === f.pod)).filter((i) => i >= 0)),
  ];
  const faultFreeRate: Record<string, number> = {};
  let nAny = 0;
  let hitAny = 0;
  const colHits = new Float64Array(cols.length);
  const colN = new Float64Array(cols.length);
  for (const pi of injected)
    for (let t = 0; t < T; t++) {
      if (!freeStart[t] || t < P.minBaseline) continue;
      let any = false;
      let anyDefined = false;
      cols.forEach((_, j) => {
        const v = spreads[pi][j].all[t];
        if (!Number.isFinite(v)) return;
        anyDefined = true;
        colN[j]++;
        if (out(v, spreads[pi][j])) {
          colHits[j]++;
          any = true;
        }
      });
      if (anyDefined) nAny++;
      if (any) hitAny++;
    }
  cols.forEach((c, j) => (faultFreeRate[c] = round(colN[j] ? colHits[j] / colN[j] : NaN, 3)));
  faultFreeRate.anyColumn = round(nAny ? hitAny / nAny : NaN, 3);

  // As an alarm over every pod: non-overlapping fault-free 10-minute blocks.
  let blocks = 0;
  let flaggedBlocks = 0;
  for (let t = P.minBaseline; t + P.span <= T;) {
    if (!freeStart[t]) {
      t++;
      continue;
    }
    blocks++;
    if (day.pods.some((_, pi) => cols.some((_, j) => out(spreads[pi][j].all[t], spreads[pi][j]))))
      flaggedBlocks++;
    t += P.span;
  }
  const front: ShiftScreen['front'] = {};
  if (day.front) {
    const p50 = seriesOf(day.front.rows, 'latencyP50Ms');
    const p95 = seriesOf(day.front.rows, 'latencyMs');
    const sp50 = spreadOf(p50, freeStart, scratch);
    const sp95 = spreadOf(p95, freeStart, scratch);
    day.faults.forEach((f, k) => {
      const e = (front[f.type] ??= { faults: 0, flaggedP50: 0, flaggedP95: 0 });
      e.faults++;
      if (out(logMedianRatio(p50, wi[k].start, wi[k].end, P.baseline, P.skip, scratch, P.minBaseline), sp50))
        e.flaggedP50++;
      if (out(logMedianRatio(p95, wi[k].start, wi[k].end, P.baseline, P.skip, scratch, P.minBaseline), sp95))
        e.flaggedP95++;
    });
  }
  const rankByType: ShiftScreen['rankByType'] = {};
  for (const f of perFault) {
    const e = (rankByType[f.type] ??= { meanRank: 0, first: 0, faults: 0 });
    e.faults++;
    e.meanRank += f.rank;
    if (f.rank === 1) e.first++; // alone at the top
  }
  for (const e of Object.values(rankByType)) e.meanRank = round(e.meanRank / e.faults, 1);
  return {
    params: P,
    columns: cols,
    byType,
    rankByType,
    faultFreeRate,
    allPods: {
      blocks,
      flaggedBlocks,
      falseAlarmsPerHour: round(blocks ? flaggedBlocks / ((blocks * P.span) / 60) : NaN, 3),
    },
    front,
    perFault,
  };
}

function shiftMarkdown(sh: ShiftScreen): string[] {
  const P = sh.params;
  const L: string[] = [
    '',
    '## Relative-shift screen (injected pod against its own recent median)',
    '',
    `s = ln(median of minutes [inject + ${P.skip}, window end) / median of the ${P.baseline} minutes before, at least ${P.minBaseline}); flagged when outside the pod's own fault-free [${P.tail}, ${1 - P.tail}] quantiles of s. Cells: faults flagged / faults where s is defined.`,
    '',
    `| type | faults | ${sh.columns.join(' | ')} | any column |`,
    `|---|---|${sh.columns.map(() => '---|').join('')}---|`,
  ];
  for (const [type, t] of Object.entries(sh.byType))
    L.push(
      `| ${type} | ${t.faults} | ${sh.columns.map((c) => `${t.flagged[c] ?? 0}/${t.defined[c] ?? 0}`).join(' | ')} | ${t.anyColumn}/${t.faults} |`,
    );
  for (const [type, t] of Object.entries(sh.byType))
    L.push(
      `| ${type}: s below the pod's fault-free median | ${t.faults} | ${sh.columns.map((c) => `${t.below[c] ?? 0}/${t.defined[c] ?? 0}`).join(' | ')} | — |`,
    );
  L.push(
    `| fault-free rate (injected pods) | — | ${sh.columns.map((c) => sh.faultFreeRate[c].toFixed(3)).join(' | ')} | ${sh.faultFreeRate.anyColumn.toFixed(3)} |`,
  );
  L.push(
    '',
    `As an alarm over every pod: ${sh.allPods.flaggedBlocks} of ${sh.allPods.blocks} fault-free 10-minute blocks have some pod flagged in some column (${sh.allPods.falseAlarmsPerHour} false alarms per fault-free hour).`,
  );
  L.push(
    '',
    `Localization by the same statistic (largest exceedance of the pod's fault-free spread, in spread widths; mid-rank for ties, a random order averages ${((sh.perFault[0]?.pods ?? 0) + 1) / 2}): ${Object.entries(
      sh.rankByType,
    )
      .map(
        ([t, e]) =>
          `${t} mean rank ${e.meanRank} of ${sh.perFault[0]?.pods ?? 0}, first ${e.first}/${e.faults}`,
      )
      .join('; ')}.`,
  );
  const fr = Object.entries(sh.front);
  if (fr.length)
    L.push(
      '',
      `Front service latency, faults flagged: ${fr.map(([t, e]) => `${t} P50 ${e.flaggedP50}/${e.faults}, P95 ${e.flaggedP95}/${e.faults}`).join('; ')}.`,
    );
  return L;
}
