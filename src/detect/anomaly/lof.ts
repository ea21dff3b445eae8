/**
 * Local outlier factor (Breunig et al. 2000) in novelty mode, with scikit-learn's conventions
 * (`LocalOutlierFactor(novelty=True)`): training rows get their k-distance and local reachability
 * density (lrd) at fit, each training row's neighbours being the k nearest *other* training rows; a
 * new row's score is the mean lrd of its k nearest training rows divided by its own lrd, where
 *   reach-dist(x, o) = max(dist(x, o), k-distance(o)),  lrd(x) = 1 / (mean reach-dist + 1e-10).
 * Higher = more anomalous, about 1 inside a cluster of training rows (scikit-learn's
 * `score_samples` is the negation). Unlike the plain kNN distance, the score is relative to the
 * local density, so a sparse normal mode and a dense one are both scored near 1.
 * Brute force over a row-major Float64Array; the k best neighbours are kept in small sorted typed
 * arrays, nothing is allocated per query. Repeated training rows give a k-distance of 0 and an
 * unbounded lrd: train on distinct rows.
 */
export class LofDetector {
  readonly k: number;
  private train: Float64Array = new Float64Array(0);
  private dim = 0;
  private rows = 0;
  private kEff = 0;
  /** k-distance of each training row. */
  private kDist: Float64Array = new Float64Array(0);
  /** Local reachability density of each training row. */
  private lrd: Float64Array = new Float64Array(0);
  private readonly bestD: Float64Array;
  private readonly bestI: Int32Array;

  constructor(k = 20) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`LOF: k must be a positive integer, got ${k}`);
    this.k = k;
    this.bestD = new Float64Array(k);
    this.bestI = new Int32Array(k);
  }

  fit(data: Float64Array, dim: number): this {
    const rows = data.length / dim;
    if (!Number.isInteger(rows) || rows < 2)
      throw new Error(`LOF: ${data.length} values is not a whole number (≥ 2) of rows of ${dim}`);
    this.train = data;
    this.dim = dim;
    this.rows = rows;
    // As scikit-learn: k is capped at the number of other training rows.
    this.kEff = Math.min(this.k, rows - 1);
    const k = this.kEff;
    const neighbours = new Int32Array(rows * k);
    const neighbourDist = new Float64Array(rows * k);
    this.kDist = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      this.nearest(data, r * dim, r);
      for (let i = 0; i < k; i++) {
        neighbours[r * k + i] = this.bestI[i];
        neighbourDist[r * k + i] = Math.sqrt(this.bestD[i]);
      }
      this.kDist[r] = neighbourDist[r * k + k - 1];
    }
    this.lrd = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let i = 0; i < k; i++) {
        const o = neighbours[r * k + i];
        const d = neighbourDist[r * k + i];
        sum += d > this.kDist[o] ? d : this.kDist[o];
      }
      this.lrd[r] = 1 / (sum / k + 1e-10);
    }
    return this;
  }

  /**
   * Fills bestD (squared distances, ascending) and bestI with the kEff nearest training rows of
   * x[off .. off+dim), skipping training row `skip` (-1: none).
   */
  private nearest(x: ArrayLike<number>, off: number, skip: number): void {
    const k = this.kEff;
    const bestD = this.bestD;
    const bestI = this.bestI;
    bestD.fill(Infinity);
    bestI.fill(-1);
    const d = this.dim;
    const tr = this.train;
    for (let r = 0; r < this.rows; r++) {
      if (r === skip) continue;
      let s = 0;
      const base = r * d;
      for (let j = 0; j < d; j++) {
        const diff = tr[base + j] - x[off + j];
        s += diff * diff;
        if (s >= bestD[k - 1]) break;
      }
      if (s < bestD[k - 1]) {
        let i = k - 1;
        while (i > 0 && bestD[i - 1] > s) {
          bestD[i] = bestD[i - 1];
          bestI[i] = bestI[i - 1];
          i--;
        }
        bestD[i] = s;
        bestI[i] = r;
      }
    }
  }

  /** Local outlier factor of one row (data[off .. off+dim)) against the training rows. */
  scoreOne(x: ArrayLike<number>, off = 0): number {
    if (this.rows === 0) throw new Error('LOF: score before fit');
    this.nearest(x, off, -1);
    const k = this.kEff;
    let reach = 0;
    let lrdSum = 0;
    for (let i = 0; i < k; i++) {
      const o = this.bestI[i];
      const dist = Math.sqrt(this.bestD[i]);
      reach += dist > this.kDist[o] ? dist : this.kDist[o];
      lrdSum += this.lrd[o];
    }
    const lrdX = 1 / (reach / k + 1e-10);
    return lrdSum / k / lrdX;
  }

  score(data: Float64Array, dim: number): Float64Array {
    if (dim !== this.dim) throw new Error(`LOF: fitted on ${this.dim} features, got ${dim}`);
    const rows = data.length / dim;
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) out[r] = this.scoreOne(data, r * dim);
    return out;
  }
}
