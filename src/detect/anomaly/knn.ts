/**
 * k-nearest-neighbour novelty score: the mean Euclidean distance from a vector to its k nearest
 * training vectors. Brute force over a row-major Float64Array (training sets here are thousands of
 * rows); the k best distances are kept in a small sorted typed array, nothing is allocated per query.
 */
export class KnnDetector {
  readonly k: number;
  private train: Float64Array = new Float64Array(0);
  private dim = 0;
  private rows = 0;
  private readonly best: Float64Array;

  constructor(k = 5) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
    this.k = k;
    this.best = new Float64Array(k);
  }

  fit(data: Float64Array, dim: number): this {
    this.rows = data.length / dim;
    if (!Number.isInteger(this.rows) || this.rows < 1)
      throw new Error(`kNN: ${data.length} values is not a whole number of rows of ${dim}`);
    this.train = data;
    this.dim = dim;
    return this;
  }

  /** Mean distance to the k nearest training rows (fewer when training has fewer rows). */
  scoreOne(x: ArrayLike<number>, off = 0): number {
    const k = Math.min(this.k, this.rows);
    const best = this.best;
    best.fill(Infinity);
    const d = this.dim;
    const tr = this.train;
    for (let r = 0; r < this.rows; r++) {
      let s = 0;
      const base = r * d;
      for (let j = 0; j < d; j++) {
        const diff = tr[base + j] - x[off + j];
        s += diff * diff;
        if (s >= best[k - 1]) break;
      }
      if (s < best[k - 1]) {
        let i = k - 1;
        while (i > 0 && best[i - 1] > s) {
          best[i] = best[i - 1];
          i--;
        }
        best[i] = s;
      }
    }
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Math.sqrt(best[i]);
    return sum / k;
  }

  score(data: Float64Array, dim: number): Float64Array {
    if (dim !== this.dim) throw new Error(`kNN: fitted on ${this.dim} features, got ${dim}`);
    const rows = data.length / dim;
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) out[r] = this.scoreOne(data, r * dim);
    return out;
  }
}
