/**
 * Robust per-metric baselines for the perf detector.
 *
 * RollingRobust keeps the last `window` samples in a ring (Float64Array) and re-estimates median and
 * MAD every `refresh` pushes from a sorted copy (typed-array sort: numeric, no allocation). Amortised,
 * a push costs a few operations plus window·log(window)/refresh comparisons, which keeps the detector
 * above 500k samples/s on one core while staying robust to the outliers a mean/stddev would swallow.
 */

/** 1.4826 · MAD estimates the standard deviation of a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;

export class RollingRobust {
  readonly window: number;
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private pos = 0;
  private filled = 0;
  private sinceRefresh = 0;
  private readonly refresh: number;
  median = NaN;
  /** Robust sigma: 1.4826 · MAD. */
  sigma = NaN;

  constructor(window = 60, refresh = 8) {
    if (window < 3) throw new Error(`RollingRobust window must be ≥ 3 (got ${window})`);
    this.window = window;
    this.ring = new Float64Array(window);
    this.scratch = new Float64Array(window);
    this.refresh = Math.max(1, refresh);
  }

  get count(): number {
    return this.filled;
  }

  push(x: number): void {
    this.ring[this.pos] = x;
    this.pos = (this.pos + 1) % this.window;
    if (this.filled < this.window) this.filled++;
    // Early on every sample moves the estimate a lot: refresh each time until the ring is full.
    if (++this.sinceRefresh >= this.refresh || this.filled < this.window) this.recompute();
  }

  /** Recompute median and MAD from the ring now (quickselect: linear time, no allocation). */
  recompute(): void {
    this.sinceRefresh = 0;
    const n = this.filled;
    if (n === 0) {
      this.median = NaN;
      this.sigma = NaN;
      return;
    }
    const s = this.scratch;
    for (let i = 0; i < n; i++) s[i] = this.ring[i];
    const med = medianInPlace(s, n);
    for (let i = 0; i < n; i++) s[i] = Math.abs(this.ring[i] - med);
    this.median = med;
    this.sigma = MAD_TO_SIGMA * medianInPlace(s, n);
  }

  /** Samples in chronological order (oldest first), copied into `out` (length ≥ count). */
  copyOrdered(out: Float64Array): number {
    const n = this.filled;
    const start = n < this.window ? 0 : this.pos;
    for (let i = 0; i < n; i++) out[i] = this.ring[(start + i) % this.window];
    return n;
  }

  reset(): void {
    this.pos = 0;
    this.filled = 0;
    this.sinceRefresh = 0;
    this.median = NaN;
    this.sigma = NaN;
  }

  /** Bytes held by this baseline (for the memory-per-entity figure). */
  get bytes(): number {
    return this.ring.byteLength + this.scratch.byteLength + 64;
  }
}

/** k-th smallest of a[0..n) (Hoare's quickselect; reorders a). */
export function selectKth(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Median of a[0..n) (reorders a). */
export function medianInPlace(a: Float64Array, n: number): number {
  const hiMid = selectKth(a, n, n >> 1);
  if (n & 1) return hiMid;
  // Even n: the lower middle is the largest value left of the upper middle after selection.
  let loMid = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i] > loMid) loMid = a[i];
  return 0.5 * (loMid + hiMid);
}

/** Exponentially weighted mean and variance (West's update). `alpha` = weight of the newest sample. */
export class Ewma {
  mean = NaN;
  variance = 0;
  constructor(readonly alpha = 0.1) {
    if (!(alpha > 0 && alpha <= 1)) throw new Error(`EWMA alpha must be in (0, 1] (got ${alpha})`);
  }
  push(x: number): void {
    if (Number.isNaN(this.mean)) {
      this.mean = x;
      this.variance = 0;
      return;
    }
    const d = x - this.mean;
    const incr = this.alpha * d;
    this.mean += incr;
    this.variance = (1 - this.alpha) * (this.variance + d * incr);
  }
  get sd(): number {
    return Math.sqrt(this.variance);
  }
  reset(): void {
    this.mean = NaN;
    this.variance = 0;
  }
}

/**
 * One-sided CUSUM on a standardised score: S ← max(0, S + min(z, clip) − k); alarm when S > h.
 * `k` (slack) ignores shifts smaller than k sigmas; `clip` bounds what one sample can add, so a single
 * spike never alarms alone when clip − k < h; `h` sets how much accumulated evidence an alarm needs.
 */
export class Cusum {
  s = 0;
  constructor(
    readonly k = 3,
    readonly h = 10,
    readonly clip = 10,
  ) {}
  update(z: number): number {
    const v = z > this.clip ? this.clip : z;
    const s = this.s + v - this.k;
    this.s = s > 0 ? s : 0;
    return this.s;
  }
  get alarm(): boolean {
    return this.s > this.h;
  }
  reset(): void {
    this.s = 0;
  }
}

/**
 * Least-squares slope of y against sample index and its R², on the ordered samples of a baseline.
 * Used for leak trends: a steady climb has a high R² and a positive slope.
 */
export function linearTrend(y: Float64Array, n: number): { slope: number; r2: number } {
  if (n < 3) return { slope: 0, r2: 0 };
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i];
    sx += i;
    sy += v;
    sxx += i * i;
    sxy += i * v;
    syy += v * v;
  }
  const cov = sxy - (sx * sy) / n;
  const vx = sxx - (sx * sx) / n;
  const vy = syy - (sy * sy) / n;
  if (vx <= 0) return { slope: 0, r2: 0 };
  const slope = cov / vx;
  const r2 = vy > 0 ? (cov * cov) / (vx * vy) : 0;
  return { slope, r2 };
}

/** Pearson correlation of two equally long series (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    sa += a[i];
    sb += b[i];
  }
  const ma = sa / n;
  const mb = sb / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  if (va === 0 || vb === 0) return NaN;
  return cov / Math.sqrt(va * vb);
}
