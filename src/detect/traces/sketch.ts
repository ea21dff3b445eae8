/**
 * A bounded streaming quantile sketch for latencies (log-spaced buckets with a relative accuracy,
 * as in DDSketch, Masson et al., VLDB 2019): a value x > 0 falls in bucket ceil(log_γ x) with
 * γ = (1 + α) / (1 − α), and a bucket answers with 2γ^i / (γ + 1), within α of every value in it.
 * Counts live in one Uint32Array that covers only the buckets seen so far (grown on demand, never
 * beyond `maxBuckets`: the lowest buckets are folded together past that, so memory is bounded and
 * the high quantiles keep their accuracy). Sketches with the same α merge exactly (a baseline of
 * several windows is their merge). Values below `minValue` (and 0) are counted apart, as zero.
 */
export interface SketchOptions {
  /** Relative accuracy α (default 0.01: every quantile within 1 % of a value at that rank). */
  alpha?: number;
  /** Smallest value told apart from zero (default 1). */
  minValue?: number;
  /** Most buckets held (default 2048; 1 % accuracy spans 1 ns to 8·10^8 s in ~1,800). */
  maxBuckets?: number;
}

export class QuantileSketch {
  readonly alpha: number;
  readonly minValue: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  private readonly lnGamma: number;
  /** counts[i] is bucket `offset + i`. */
  private counts = new Uint32Array(0);
  private offset = 0;
  private zeros = 0;
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private total = 0;

  constructor(o: SketchOptions = {}) {
    this.alpha = o.alpha ?? 0.01;
    if (!(this.alpha > 0 && this.alpha < 1))
      throw new Error(`sketch alpha must be in (0, 1), not ${this.alpha}`);
    this.minValue = o.minValue ?? 1;
    this.maxBuckets = Math.max(16, Math.floor(o.maxBuckets ?? 2048));
    this.gamma = (1 + this.alpha) / (1 - this.alpha);
    this.lnGamma = Math.log(this.gamma);
  }

  get count(): number {
    return this.n;
  }
  get min(): number {
    return this.n ? this.lo : NaN;
  }
  get max(): number {
    return this.n ? this.hi : NaN;
  }
  get sum(): number {
    return this.total;
  }
  /** Buckets held now (memory is 4 bytes each). */
  get buckets(): number {
    return this.counts.length;
  }

  private index(x: number): number {
    return Math.ceil(Math.log(x) / this.lnGamma);
  }

  /** Makes room for bucket `i`; returns its slot (folding the lowest buckets when over the bound). */
  private slot(i: number): number {
    const c = this.counts;
    if (c.length === 0) {
      this.counts = new Uint32Array(8);
      this.offset = i - 4;
      return 4;
    }
    if (i >= this.offset && i < this.offset + c.length) return i - this.offset;
    const lo = Math.min(i, this.offset);
    const hi = Math.max(i, this.offset + c.length - 1);
    const want = hi - lo + 1;
    if (want <= this.maxBuckets) {
      // Grow with a little headroom on the side that needed it (latencies drift slowly), bounded.
      const size = Math.min(this.maxBuckets, want + 32);
      const next = new Uint32Array(size);
      const newOffset = i < this.offset ? hi - size + 1 : lo;
      next.set(c, this.offset - newOffset);
      this.counts = next;
      this.offset = newOffset;
      return i - newOffset;
    }
    // Over the bound: keep the top `maxBuckets` buckets, the lower ones folded into the lowest kept.
    const newOffset = hi - this.maxBuckets + 1;
    const next = new Uint32Array(this.maxBuckets);
    let folded = 0;
    for (let k = 0; k < c.length; k++) {
      const b = this.offset + k;
      if (b < newOffset) folded += c[k];
      else next[b - newOffset] += c[k];
    }
    next[0] += folded;
    this.counts = next;
    this.offset = newOffset;
    return Math.max(0, i - newOffset);
  }

  add(x: number, weight = 1): void {
    if (!(x >= 0) || !Number.isFinite(x) || weight <= 0) return;
    this.n += weight;
    this.total += x * weight;
    if (x < this.lo) this.lo = x;
    if (x > this.hi) this.hi = x;
    if (x < this.minValue) {
      this.zeros += weight;
      return;
    }
    const s = this.slot(this.index(x));
    this.counts[s] += weight;
  }

  /** Adds every value of `other` (same α and minValue), exactly as if they had been added here. */
  merge(other: QuantileSketch): void {
    if (other.alpha !== this.alpha || other.minValue !== this.minValue)
      throw new Error('merging sketches of different accuracy');
    if (other.n === 0) return;
    this.n += other.n;
    this.total += other.total;
    this.zeros += other.zeros;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    const c = other.counts;
    for (let k = 0; k < c.length; k++) {
      if (c[k] === 0) continue;
      const s = this.slot(other.offset + k); // may replace this.counts: read it after
      this.counts[s] += c[k];
    }
  }

  /**
   * The value at quantile q (0..1): the (lower) nearest-rank value, floor(q·(n−1)) counting from 0,
   * within α relative error; the first and last ranks are the exact min and max. NaN when empty.
   */
  quantile(q: number): number {
    if (this.n === 0 || !(q >= 0 && q <= 1)) return NaN;
    const rank = Math.floor(q * (this.n - 1));
    if (rank === 0) return this.lo;
    if (rank === this.n - 1) return this.hi;
    if (rank < this.zeros) return this.lo < this.minValue ? this.lo : 0;
    let seen = this.zeros;
    const c = this.counts;
    for (let k = 0; k < c.length; k++) {
      seen += c[k];
      if (seen > rank) {
        const v = (2 * Math.pow(this.gamma, this.offset + k)) / (this.gamma + 1);
        return Math.min(this.hi, Math.max(this.lo, v));
      }
    }
    return this.hi;
  }

  clear(): void {
    this.counts = new Uint32Array(0);
    this.offset = 0;
    this.zeros = 0;
    this.n = 0;
    this.total = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}
