/**
 * Detection metrics. Convention everywhere: higher score = more anomalous; an alarm is a score
 * strictly above the threshold (so a threshold equal to the highest validation score raises no
 * alarm on validation, as the LID-DS protocol intends).
 */

/** ROC-AUC by the Mann-Whitney statistic with average ranks for ties. NaN when a class is empty. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]] === 1) {
        pos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface RocPoint {
  fpr: number;
  tpr: number;
  threshold: number;
}

/** ROC curve points, one per distinct score (descending), starting at (0, 0). */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocPoint[] {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let P = 0;
  for (let i = 0; i < n; i++) P += labels[i] === 1 ? 1 : 0;
  const N = n - P;
  const pts: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < n;) {
    const s = scores[idx[i]];
    while (i < n && scores[idx[i]] === s) {
      if (labels[idx[i]] === 1) tp++;
      else fp++;
      i++;
    }
    pts.push({ fpr: N ? fp / N : 0, tpr: P ? tp / P : 0, threshold: s });
  }
  return pts;
}

/** Highest true-positive rate reachable with a false-positive rate ≤ maxFpr (on these very labels). */
export function tprAtFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, maxFpr: number): number {
  let best = 0;
  for (const p of rocCurve(scores, labels)) if (p.fpr <= maxFpr + 1e-12 && p.tpr > best) best = p.tpr;
  return best;
}

export interface BinaryMetrics {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  fpr: number | null;
}

export function binaryMetrics(tp: number, fp: number, tn: number, fn: number): BinaryMetrics {
  const precision = tp + fp > 0 ? tp / (tp + fp) : null;
  const recall = tp + fn > 0 ? tp / (tp + fn) : null;
  const f1 =
    precision !== null && recall !== null && precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : precision === null && recall === null
        ? null
        : 0;
  const fpr = fp + tn > 0 ? fp / (fp + tn) : null;
  return { tp, fp, tn, fn, precision, recall, f1, fpr };
}

/** Confusion counts of `score > threshold` against labels. */
export function confusionAt(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): BinaryMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const alarm = scores[i] > threshold;
    if (labels[i] === 1) {
      if (alarm) tp++;
      else fn++;
    } else if (alarm) fp++;
    else tn++;
  }
  return binaryMetrics(tp, fp, tn, fn);
}

/** Threshold policies over validation (normal) scores. */
export function thresholdFrom(validation: ArrayLike<number>, policy: string): number {
  if (validation.length === 0) throw new Error('no validation score to set a threshold from');
  const sorted = Float64Array.from(validation).sort();
  if (policy === 'max') return sorted[sorted.length - 1];
  const m = /^q(0?\.\d+|1(\.0*)?)$/.exec(policy);
  if (m) return quantileSorted(sorted, Number(m[1]));
  throw new Error(`unknown threshold policy ${policy} (use max or qP, e.g. q0.95)`);
}

/** Linear-interpolated quantile of sorted values (type 7, as numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The LID-DS protocol over per-call alarms, fed one recording at a time:
 * DR = exploit recordings with ≥ 1 alarm at or after the exploit time / exploit recordings;
 * CFA = runs of consecutive false alarms (alarms in normal recordings and before the exploit);
 * per-call precision/recall/F1/FPR with calls at or after the exploit time as positives;
 * latency = mean time from exploit start to the first alarm at or after it (detected recordings).
 */
export class LidDsAccumulator {
  private exploitRecs = 0;
  private detected = 0;
  cfa = 0;
  private tp = 0;
  private fp = 0;
  private tn = 0;
  private fn = 0;
  private latencies: number[] = [];
  // Per-recording state.
  private inFalseRun = false;
  private exploitNs: number | undefined;
  private firstHitNs: number | undefined;

  private snapshot: number[] = [];

  beginRecording(exploitTimeNs: number | undefined): void {
    this.snapshot = [
      this.exploitRecs,
      this.detected,
      this.cfa,
      this.tp,
      this.fp,
      this.tn,
      this.fn,
      this.latencies.length,
    ];
    this.inFalseRun = false;
    this.exploitNs = exploitTimeNs;
    this.firstHitNs = undefined;
    if (exploitTimeNs !== undefined) this.exploitRecs++;
  }

  /** One scored call. */
  call(tsNs: number, alarm: boolean): void {
    const positive = this.exploitNs !== undefined && tsNs >= this.exploitNs;
    if (positive) {
      this.inFalseRun = false;
      if (alarm) {
        this.tp++;
        if (this.firstHitNs === undefined) this.firstHitNs = tsNs;
      } else this.fn++;
      return;
    }
    if (alarm) {
      this.fp++;
      if (!this.inFalseRun) this.cfa++;
      this.inFalseRun = true;
    } else {
      this.tn++;
      this.inFalseRun = false;
    }
  }

  /**
   * `call(tsNs[c], values[c] > threshold)` for c in 0..n-1 (the windowed scores of a batch), with
   * the counters in locals; returns the highest of the values (-Infinity when n is 0).
   */
  callBatch(tsNs: Float64Array, values: Float64Array, threshold: number, n: number): number {
    const exploitNs = this.exploitNs;
    let { tp, fp, tn, fn, cfa, inFalseRun } = this;
    let firstHitNs = this.firstHitNs;
    let max = -Infinity;
    for (let c = 0; c < n; c++) {
      const w = values[c];
      if (w > max) max = w;
      const alarm = w > threshold;
      const ts = tsNs[c];
      if (exploitNs !== undefined && ts >= exploitNs) {
        inFalseRun = false;
        if (alarm) {
          tp++;
          if (firstHitNs === undefined) firstHitNs = ts;
        } else fn++;
      } else if (alarm) {
        fp++;
        if (!inFalseRun) cfa++;
        inFalseRun = true;
      } else {
        tn++;
        inFalseRun = false;
      }
    }
    this.tp = tp;
    this.fp = fp;
    this.tn = tn;
    this.fn = fn;
    this.cfa = cfa;
    this.inFalseRun = inFalseRun;
    this.firstHitNs = firstHitNs;
    return max;
  }

  /** Forgets everything counted since beginRecording (a recording that failed to read). */
  abortRecording(): void {
    if (this.snapshot.length === 0) return;
    [this.exploitRecs, this.detected, this.cfa, this.tp, this.fp, this.tn, this.fn] = this.snapshot;
    this.latencies.length = this.snapshot[7];
    this.snapshot = [];
  }

  endRecording(): void {
    this.snapshot = [];
    if (this.exploitNs !== undefined && this.firstHitNs !== undefined) {
      this.detected++;
      this.latencies.push((this.firstHitNs - this.exploitNs) / 1e6);
    }
  }

  result(): { dr: number | null; cfa: number; latencyMs: number | null } & BinaryMetrics {
    return {
      dr: this.exploitRecs > 0 ? this.detected / this.exploitRecs : null,
      cfa: this.cfa,
      latencyMs: this.latencies.length
        ? this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length
        : null,
      ...binaryMetrics(this.tp, this.fp, this.tn, this.fn),
    };
  }
}

/** x rounded to d decimals (non-finite values unchanged), as the reports print them. */
export function roundTo(x: number, d: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
