/**
 * Relative-shift screen of a Nezha day: does the injected pod's level move against its own recent
 * median, in any column, more often than in fault-free time?
 */
import { medianInPlace } from '../detect/perf/baseline.js';
import { quantileSorted, roundTo } from './metrics.js';
import { faultWindows } from './nezha-windows.js';
import type { NezhaDay, NezhaRow } from '../sources/metrics/nezha.js';

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
  const win = faultWindows(day.faults);
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
        s[c] = roundTo(v, 3);
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
  cols.forEach((c, j) => (faultFreeRate[c] = roundTo(colN[j] ? colHits[j] / colN[j] : NaN, 3)));
  faultFreeRate.anyColumn = roundTo(nAny ? hitAny / nAny : NaN, 3);

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
  for (const e of Object.values(rankByType)) e.meanRank = roundTo(e.meanRank / e.faults, 1);
  return {
    params: P,
    columns: cols,
    byType,
    rankByType,
    faultFreeRate,
    allPods: {
      blocks,
      flaggedBlocks,
      falseAlarmsPerHour: roundTo(blocks ? flaggedBlocks / ((blocks * P.span) / 60) : NaN, 3),
    },
    front,
    perFault,
  };
}
