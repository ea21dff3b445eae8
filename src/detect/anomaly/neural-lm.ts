/**
 * A small neural language model over system calls (Bengio et al. 2003 style, with tfjs on the wasm
 * backend): the previous k calls, each one-hot and projected by a shared linear embedding, feed a
 * hidden tanh layer and a softmax over the vocabulary. The anomaly value of a call is its negative
 * log-likelihood, like the n-gram model's, so the two are directly comparable.
 *
 * Why not an LSTM: tfjs's wasm backend lacks the gradient kernel of its Embedding layer and runs a
 * recurrent layer step by step; on two cores an LSTM epoch over ADFA-LD's 308k training calls takes
 * minutes per batch group. The windowed feed-forward model trains in a few minutes.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export interface NeuralLmOptions {
  /** Context length (previous calls). */
  k?: number;
  /** Vocabulary size: ids 0..V-1 (a padding id V is added for contexts shorter than k). */
  V: number;
  embed?: number;
  hidden?: number;
  epochs?: number;
  batch?: number;
  learningRate?: number;
  seed?: number;
}

let backendReady: Promise<void> | undefined;

/** Selects the wasm backend once (falls back to tfjs's cpu backend when wasm cannot load). */
export function ensureBackend(): Promise<void> {
  backendReady ??= (async () => {
    try {
      await tf.setBackend('wasm');
    } catch {
      await tf.setBackend('cpu');
    }
    await tf.ready();
  })();
  return backendReady;
}

export class NeuralLm {
  readonly k: number;
  readonly V: number;
  readonly opts: Required<Omit<NeuralLmOptions, 'V'>>;
  private model: tf.LayersModel | undefined;

  constructor(o: NeuralLmOptions) {
    this.V = o.V;
    this.k = o.k ?? 10;
    this.opts = {
      k: this.k,
      embed: o.embed ?? 16,
      hidden: o.hidden ?? 96,
      epochs: o.epochs ?? 3,
      batch: o.batch ?? 1024,
      learningRate: o.learningRate ?? 0.003,
      seed: o.seed ?? 1,
    };
  }

  private build(): tf.LayersModel {
    const W = this.V + 1;
    const init = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
      tf.initializers.glorotUniform({ seed: this.opts.seed + s });
    const input = tf.input({ shape: [this.k, W] });
    const emb = tf.layers
      .dense({ units: this.opts.embed, useBias: false, kernelInitializer: init(1) })
      .apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(emb) as tf.SymbolicTensor;
    const hid = tf.layers
      .dense({ units: this.opts.hidden, activation: 'tanh', kernelInitializer: init(2) })
      .apply(flat) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: this.V, activation: 'softmax', kernelInitializer: init(3) })
      .apply(hid) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    m.compile({ optimizer: tf.train.adam(this.opts.learningRate), loss: 'sparseCategoricalCrossentropy' });
    return m;
  }

  /** Context ids of every position of every trace (padding V before the start), and targets. */
  private examples(traces: Int32Array[]): { ctx: Int32Array; target: Int32Array } {
    let n = 0;
    for (const t of traces) n += t.length;
    const ctx = new Int32Array(n * this.k);
    const target = new Int32Array(n);
    let e = 0;
    for (const t of traces) {
      for (let i = 0; i < t.length; i++, e++) {
        target[e] = t[i];
        for (let j = 0; j < this.k; j++) {
          const p = i - this.k + j;
          ctx[e * this.k + j] = p >= 0 ? t[p] : this.V;
        }
      }
    }
    return { ctx, target };
  }

  async train(traces: Int32Array[], log?: (msg: string) => void): Promise<void> {
    await ensureBackend();
    this.model = this.build();
    const { ctx, target } = this.examples(traces);
    const n = target.length;
    const B = this.opts.batch;
    // Shuffled order, seeded.
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    let s = this.opts.seed >>> 0;
    for (let i = n - 1; i > 0; i--) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const j = s % (i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    const bc = new Int32Array(B * this.k);
    const bt = new Float32Array(B);
    for (let ep = 0; ep < this.opts.epochs; ep++) {
      let lossSum = 0;
      let batches = 0;
      for (let b0 = 0; b0 + B <= n; b0 += B) {
        for (let i = 0; i < B; i++) {
          const e = order[b0 + i];
          bc.set(ctx.subarray(e * this.k, e * this.k + this.k), i * this.k);
          bt[i] = target[e];
        }
        const xs = tf.tidy(() => tf.oneHot(tf.tensor2d(bc, [B, this.k], 'int32'), this.V + 1).toFloat());
        const ys = tf.tensor2d(bt, [B, 1]);
        const h = await this.model.trainOnBatch(xs, ys);
        tf.dispose([xs, ys]);
        lossSum += Array.isArray(h) ? h[0] : h;
        batches++;
      }
      log?.(
        `neural-lm epoch ${ep + 1}/${this.opts.epochs}: mean loss ${(lossSum / Math.max(1, batches)).toFixed(4)}`,
      );
    }
  }

  /** Negative log-likelihood of every call of each trace given its previous k calls. */
  async nll(traces: Int32Array[]): Promise<Float64Array[]> {
    if (!this.model) throw new Error('neural-lm: score before train');
    const { ctx, target } = this.examples(traces);
    const n = target.length;
    const all = new Float64Array(n);
    const B = 4096;
    for (let b0 = 0; b0 < n; b0 += B) {
      const m = Math.min(B, n - b0);
      const probs = tf.tidy(() => {
        const x = tf
          .oneHot(tf.tensor2d(ctx.subarray(b0 * this.k, (b0 + m) * this.k), [m, this.k], 'int32'), this.V + 1)
          .toFloat();
        const p = this.model!.predict(x) as tf.Tensor2D;
        // Probability of the call that came: p[i, target[i]].
        return tf.sum(
          tf.mul(p, tf.oneHot(tf.tensor1d(target.subarray(b0, b0 + m), 'int32'), this.V).toFloat()),
          1,
        );
      });
      const pv = await probs.data();
      probs.dispose();
      for (let i = 0; i < m; i++) all[b0 + i] = -Math.log(Math.max(pv[i], 1e-12));
    }
    const out: Float64Array[] = [];
    let o = 0;
    for (const t of traces) {
      out.push(all.slice(o, o + t.length));
      o += t.length;
    }
    return out;
  }

  dispose(): void {
    this.model?.dispose();
  }
}
