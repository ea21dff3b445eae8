/**
 * Feature scaling learned from normal rows only: each feature is centred on its training mean and
 * divided by its training standard deviation (population, as scikit-learn's StandardScaler); a
 * feature constant on the training rows keeps a unit scale, so a new value there still moves the
 * row by its raw difference instead of dividing by zero.
 */
export class Standardizer {
  private mean: Float64Array = new Float64Array(0);
  private scale: Float64Array = new Float64Array(0);
  private dim = 0;

  fit(data: Float64Array, dim: number): this {
    const rows = data.length / dim;
    if (!Number.isInteger(rows) || rows < 1)
      throw new Error(`standardize: ${data.length} values is not a whole number of rows of ${dim}`);
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.scale = new Float64Array(dim);
    for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) this.mean[j] += data[r * dim + j];
    for (let j = 0; j < dim; j++) this.mean[j] /= rows;
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < dim; j++) {
        const d = data[r * dim + j] - this.mean[j];
        this.scale[j] += d * d;
      }
    for (let j = 0; j < dim; j++) {
      const sd = Math.sqrt(this.scale[j] / rows);
      this.scale[j] = sd > 0 ? sd : 1;
    }
    return this;
  }

  /** A scaled copy of row-major `data`. */
  transform(data: Float64Array, dim: number): Float64Array {
    if (dim !== this.dim) throw new Error(`standardize: fitted on ${this.dim} features, got ${dim}`);
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const j = i % dim;
      out[i] = (data[i] - this.mean[j]) / this.scale[j];
    }
    return out;
  }
}

/** The distinct rows of a row-major matrix, in order of first appearance. */
export function distinctRows(data: Float64Array, dim: number): Float64Array {
  const rows = data.length / dim;
  const seen = new Set<string>();
  const keep: number[] = [];
  for (let r = 0; r < rows; r++) {
    const key = data.subarray(r * dim, (r + 1) * dim).join(',');
    if (!seen.has(key)) {
      seen.add(key);
      keep.push(r);
    }
  }
  const out = new Float64Array(keep.length * dim);
  keep.forEach((r, i) => out.set(data.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}
