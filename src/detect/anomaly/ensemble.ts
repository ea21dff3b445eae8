/**
 * Score combination across models whose scores live on different scales (a mismatch ratio, a
 * log-likelihood, an isolation depth). Each model's score is standardised against that model's own
 * scores on normal validation data, then the standardised scores are averaged.
 *   - 'z':    robust z-score, (s − median) / (1.4826 · MAD), MAD floored to stay finite;
 *   - 'rank': the empirical CDF on validation (share of validation scores below s, ties half),
 *             extended past the validation maximum by the distance in validation spreads so that
 *             scores above every validation score still order.
 */
export type EnsembleMode = 'z' | 'rank';

export class ScoreEnsemble {
  private med: Float64Array;
  private scale: Float64Array;
  private sorted: Float64Array[] = [];

  constructor(
    readonly members: string[],
    readonly mode: EnsembleMode = 'z',
  ) {
    this.med = new Float64Array(members.length);
    this.scale = new Float64Array(members.length);
  }

  /** validation[m] = scores of member m on normal validation data. */
  fit(validation: ArrayLike<number>[]): this {
    if (validation.length !== this.members.length)
      throw new Error(`ensemble: ${validation.length} score sets for ${this.members.length} members`);
    validation.forEach((v, m) => {
      const s = Float64Array.from(v).sort();
      if (s.length === 0) throw new Error(`ensemble: no validation score for ${this.members[m]}`);
      this.sorted[m] = s;
      const med = median(s);
      const dev = Float64Array.from(s, (x) => Math.abs(x - med)).sort();
      let mad = 1.4826 * median(dev);
      if (!(mad > 0)) mad = (s[s.length - 1] - s[0]) / 2 || 1;
      this.med[m] = med;
      this.scale[m] = mad;
    });
    return this;
  }

  /** Standardised score of member m. */
  standardise(m: number, s: number): number {
    if (this.mode === 'z') return (s - this.med[m]) / this.scale[m];
    const v = this.sorted[m];
    const n = v.length;
    if (s > v[n - 1]) return 1 + (s - v[n - 1]) / this.scale[m];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    let eq = lo;
    while (eq < n && v[eq] === s) eq++;
    return (lo + (eq - lo) / 2) / n;
  }

  /** Combined score of one item given each member's score (same order as members). */
  combine(scores: ArrayLike<number>): number {
    let sum = 0;
    for (let m = 0; m < this.members.length; m++) sum += this.standardise(m, scores[m]);
    return sum / this.members.length;
  }
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}
