/**
 * Isolation forest (Liu, Ting & Zhou 2008) over fixed-length feature vectors, with the same scoring
 * convention as scikit-learn: s(x) = 2^(-E[h(x)] / c(psi)), higher = more anomalous, 0.5 = unremarkable.
 * Trees are flat typed arrays (feature, threshold, children, leaf size); the random source is seeded
 * so that a run is reproducible.
 */

const EULER_GAMMA = 0.5772156649015329;

/** Average path length of an unsuccessful BST search among n points (scikit-learn's definition). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** mulberry32: small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface IsolationForestOptions {
  trees?: number;
  /** Subsample size per tree (psi). */
  sampleSize?: number;
  seed?: number;
}

export interface IsolationForestJSON {
  type: 'iforest';
  version: 1;
  dim: number;
  psi: number;
  trees: { feature: number[]; threshold: number[]; left: number[]; right: number[]; size: number[] }[];
}

interface Tree {
  /** -1 marks a leaf. */
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Points that reached a leaf (0 for inner nodes). */
  size: Int32Array;
}

export class IsolationForest {
  readonly trees: number;
  readonly sampleSize: number;
  private readonly seed: number;
  private forest: Tree[] = [];
  private dim = 0;
  private psi = 0;

  constructor(opts: IsolationForestOptions = {}) {
    this.trees = opts.trees ?? 100;
    this.sampleSize = opts.sampleSize ?? 256;
    this.seed = opts.seed ?? 1;
  }

  /** Fits on `rows` vectors of `dim` values, row-major in `data`. */
  fit(data: Float64Array, dim: number): this {
    const rows = data.length / dim;
    if (!Number.isInteger(rows) || rows < 1)
      throw new Error(`isolation forest: ${data.length} values is not a whole number of rows of ${dim}`);
    this.dim = dim;
    this.psi = Math.min(this.sampleSize, rows);
    const maxDepth = Math.ceil(Math.log2(Math.max(2, this.psi)));
    const rnd = mulberry32(this.seed);
    const idx = new Int32Array(rows);
    const maxNodes = 2 * this.psi;
    this.forest = [];
    for (let t = 0; t < this.trees; t++) {
      // Subsample without replacement (partial Fisher-Yates).
      for (let i = 0; i < rows; i++) idx[i] = i;
      for (let i = 0; i < this.psi; i++) {
        const j = i + Math.floor(rnd() * (rows - i));
        const tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
      }
      const sample = idx.slice(0, this.psi);
      const tree: Tree = {
        feature: new Int32Array(maxNodes).fill(-1),
        threshold: new Float64Array(maxNodes),
        left: new Int32Array(maxNodes),
        right: new Int32Array(maxNodes),
        size: new Int32Array(maxNodes),
      };
      let next = 0;
      const build = (lo: number, hi: number, depth: number): number => {
        const node = next++;
        const n = hi - lo;
        if (depth >= maxDepth || n <= 1) {
          tree.size[node] = n;
          return node;
        }
        // Pick among the features that vary within this node; a node of identical points is a leaf.
        let f = -1;
        let min = 0;
        let max = 0;
        for (let attempt = 0; attempt < dim * 2 && f < 0; attempt++) {
          const cand = Math.floor(rnd() * dim);
          let mn = Infinity;
          let mx = -Infinity;
          for (let i = lo; i < hi; i++) {
            const v = data[sample[i] * dim + cand];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
          }
          if (mx > mn) {
            f = cand;
            min = mn;
            max = mx;
          }
        }
        if (f < 0) {
          for (let cand = 0; cand < dim && f < 0; cand++) {
            let mn = Infinity;
            let mx = -Infinity;
            for (let i = lo; i < hi; i++) {
              const v = data[sample[i] * dim + cand];
              if (v < mn) mn = v;
              if (v > mx) mx = v;
            }
            if (mx > mn) {
              f = cand;
              min = mn;
              max = mx;
            }
          }
        }
        if (f < 0) {
          tree.size[node] = n;
          return node;
        }
        const thr = min + rnd() * (max - min);
        // Partition sample[lo..hi) around thr.
        let i = lo;
        let j = hi - 1;
        while (i <= j) {
          if (data[sample[i] * dim + f] < thr) i++;
          else {
            const tmp = sample[i];
            sample[i] = sample[j];
            sample[j] = tmp;
            j--;
          }
        }
        tree.feature[node] = f;
        tree.threshold[node] = thr;
        tree.left[node] = build(lo, i, depth + 1);
        tree.right[node] = build(i, hi, depth + 1);
        return node;
      };
      build(0, this.psi, 0);
      this.forest.push(tree);
    }
    return this;
  }

  /** Mean path length of one vector (data[off .. off+dim)) over the forest. */
  pathLength(data: ArrayLike<number>, off = 0): number {
    let total = 0;
    for (const tree of this.forest) {
      let node = 0;
      let depth = 0;
      while (tree.feature[node] >= 0) {
        node = data[off + tree.feature[node]] < tree.threshold[node] ? tree.left[node] : tree.right[node];
        depth++;
      }
      total += depth + averagePathLength(tree.size[node]);
    }
    return total / this.forest.length;
  }

  /** Anomaly score in (0, 1] of one vector. */
  scoreOne(data: ArrayLike<number>, off = 0): number {
    if (this.forest.length === 0) throw new Error('isolation forest: score before fit');
    return Math.pow(2, -this.pathLength(data, off) / averagePathLength(this.psi));
  }

  /** Scores every row of a row-major matrix. */
  score(data: Float64Array, dim: number): Float64Array {
    if (dim !== this.dim) throw new Error(`isolation forest: fitted on ${this.dim} features, got ${dim}`);
    const rows = data.length / dim;
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) out[r] = this.scoreOne(data, r * dim);
    return out;
  }

  toJSON(): IsolationForestJSON {
    return {
      type: 'iforest',
      version: 1,
      dim: this.dim,
      psi: this.psi,
      trees: this.forest.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold),
        left: Array.from(t.left),
        right: Array.from(t.right),
        size: Array.from(t.size),
      })),
    };
  }

  static fromJSON(j: IsolationForestJSON): IsolationForest {
    if (j.type !== 'iforest') throw new Error(`not an isolation forest model (type ${String(j.type)})`);
    const f = new IsolationForest({ trees: j.trees.length, sampleSize: j.psi });
    f.dim = j.dim;
    f.psi = j.psi;
    f.forest = j.trees.map((t) => ({
      feature: Int32Array.from(t.feature),
      threshold: Float64Array.from(t.threshold),
      left: Int32Array.from(t.left),
      right: Int32Array.from(t.right),
      size: Int32Array.from(t.size),
    }));
    return f;
  }
}
