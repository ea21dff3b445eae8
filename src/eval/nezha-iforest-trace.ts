/**
 * Multivariate check of a Nezha day, beside the perf engine's per-metric alarms: does an isolation
 * forest over every pod's robust z-scores single out the injected pod in its fault window?
 */
import { RollingRobust } from '../detect/perf/baseline.js';
import { IsolationForest } from '../detect/anomaly/iforest.js';
import { roundTo } from './metrics.js';
import { faultWindows } from './nezha-windows.js';
import type { NezhaDay } from '../sources/metrics/nezha.js';

/** One fault: the injected pod's score in its window, its fault-free level and its rank among the pods. */
export interface IforestTraceRow {
  injectTime: string;
  type: string;
  service: string;
  inWindow: number;
  faultFreeP95: number;
  rank: number;
  pods: number;
}

/**
 * Multivariate check: an isolation forest (detect/anomaly/iforest.ts, 100 trees, ψ = 256, seed 1)
 * fitted on every pod-minute's vector of robust z-scores (|x − rolling median| / sigma, capped at 10,
 * over all columns), then, per fault, the injected pod's highest score in its window, the same pod's
 * 95th percentile of 10-minute maxima in fault-free time, and its rank among all pods in the window.
 */
export function iforestTrace(day: NezhaDay, window = 60): IforestTraceRow[] {
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
  const win = faultWindows(day.faults);
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
      inWindow: roundTo(mine, 3),
      faultFreeP95: roundTo(blocks[Math.floor(0.95 * blocks.length)] ?? NaN, 3),
      rank: 1 + maxes.filter((m) => m > mine).length,
      pods: day.pods.length,
    };
  });
}
