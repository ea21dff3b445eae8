/**
 * A small neural language model over system calls (Bengio et al. 2003 style, with tfjs on the wasm
 * backend): the previous k calls, each projected by a shared linear embedding, feed a hidden tanh
 * layer and a softmax over the vocabulary. The anomaly value of a call is its negative
 * log-likelihood, like the n-gram model's, so the two are directly comparable.
 *
 * The model is a tfjs layers model whose input is the k calls one-hot (`predict()` on it is the
 * reference), but training and scoring never build a one-hot tensor: a batch of context windows is
 * a tensor of integer ids, the embedding is a gather of rows of the first layer's kernel, and the
 * hidden and output layers are matrix products with the layers' own weights. tfjs's wasm backend has
 * no gradient kernel for gather (its gradient needs UnsortedSegmentSum, not registered on wasm), so
 * training gives the gather a custom gradient: a scatter-add (ScatterNd, which wasm has) of the
 * incoming gradient into the rows that were read.
 *
 * The vocabulary is compacted on the training traces: the calls seen in training get their own
 * class, every other call shares one "unseen" class (never a training target, so improbable), and a
 * padding id fills contexts shorter than k. On ADFA-LD this shrinks the softmax from 512 possible
 * numbers to 151 classes, which is most of the cost of a step.
 *
 * Why not an LSTM: a recurrent layer runs step by step on the wasm backend; on two cores an LSTM
 * epoch over ADFA-LD's 308k training calls takes minutes per batch group.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { logger } from '../../util/log.js';

const backendLog = logger('neural-lm');

export interface NeuralLmOptions {
  /** Context length (previous calls). */
  k?: number;
  /** Call ids are 0..V-1 (any other id is treated as unseen). */
  V: number;
  embed?: number;
  hidden?: number;
  epochs?: number;
  batch?: number;
  learningRate?: number;
  seed?: number;
}

/** NLL ceiling: probability floor 1e-12, as the one-hot reference path clamps it. */
const NLL_CAP = -Math.log(1e-12);

/**
 * Selects tfjs's wasm backend, or its cpu backend when wasm cannot start. The choice is tfjs's own
 * (process-wide) state: once a backend is selected this only waits for it to be ready.
 */
export async function ensureBackend(): Promise<void> {
  const engine = tf.engine();
  if (engine.backendName !== 'wasm' && engine.backendName !== 'cpu' && !(await tf.setBackend('wasm'))) {
    backendLog.warn(
      'the tfjs wasm backend could not start: the neural language model runs on the slower cpu backend',
    );
    if (!(await tf.setBackend('cpu')))
      throw new Error('tfjs: neither the wasm nor the cpu backend could start');
  }
  await tf.ready();
}

/** Rows `ids` of `table`, differentiable on the wasm backend (gradient: scatter-add into the rows). */
function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((t) => {
    const tt = t as tf.Tensor2D;
    return {
      value: tf.gather(tt, ids),
      gradFunc: (dy: tf.Tensor) => tf.scatterND(tf.expandDims(ids, 1), dy, tt.shape),
    };
  });
  return f(table) as tf.Tensor2D;
}

interface Layers {
  emb: tf.layers.Layer;
  hid: tf.layers.Layer;
  out: tf.layers.Layer;
}

export class NeuralLm {
  readonly k: number;
  readonly V: number;
  readonly opts: Required<Omit<NeuralLmOptions, 'V'>>;
  private model: tf.LayersModel | undefined;
  private layers: Layers | undefined;
  /** Call id → class (0..U-1 seen in training, U unseen); padding is U + 1. */
  private index = new Int32Array(0);
  private U = 0;

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

  /** Classes of the softmax: the calls seen in training and one for every unseen call. */
  get classes(): number {
    return this.U + 1;
  }

  private build(): tf.LayersModel {
    const W = this.U + 2;
    const init = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
      tf.initializers.glorotUniform({ seed: this.opts.seed + s });
    const input = tf.input({ shape: [this.k, W] });
    const emb = tf.layers.dense({ units: this.opts.embed, useBias: false, kernelInitializer: init(1) });
    const hid = tf.layers.dense({ units: this.opts.hidden, activation: 'tanh', kernelInitializer: init(2) });
    const out = tf.layers.dense({ units: this.classes, activation: 'softmax', kernelInitializer: init(3) });
    const e = emb.apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(e) as tf.SymbolicTensor;
    const h = hid.apply(flat) as tf.SymbolicTensor;
    const o = out.apply(h) as tf.SymbolicTensor;
    this.layers = { emb, hid, out };
    return tf.model({ inputs: input, outputs: o });
  }

  /** The layers' variables: embedding [U+2, embed], hidden kernel and bias, output kernel and bias. */
  private weights(): tf.Variable[] {
    const l = this.layers!;
    return [...l.emb.trainableWeights, ...l.hid.trainableWeights, ...l.out.trainableWeights].map(
      (w) => w.read() as tf.Variable,
    );
  }

  /** Output-layer logits of m contexts given as m·k class ids (row-major). */
  private logits(ids: tf.Tensor1D, m: number, differentiable: boolean): tf.Tensor2D {
    const [E, W1, b1, W2, b2] = this.weights();
    const rows = differentiable ? gatherRows(E as tf.Tensor2D, ids) : tf.gather(E, ids);
    const x = tf.reshape(rows, [m, this.k * this.opts.embed]);
    const h = tf.tanh(tf.add(tf.matMul(x, W1 as tf.Tensor2D), b1));
    return tf.add(tf.matMul(h, W2 as tf.Tensor2D), b2);
  }

  private encode(t: Int32Array): Int32Array {
    const U = this.U;
    return Int32Array.from(t, (v) => (v >= 0 && v < this.V ? this.index[v] : U));
  }

  /** Context class ids of every position of every trace (padding before the start), and targets. */
  private examples(traces: Int32Array[]): { ctx: Int32Array; target: Int32Array } {
    let n = 0;
    for (const t of traces) n += t.length;
    const ctx = new Int32Array(n * this.k);
    const target = new Int32Array(n);
    let e = 0;
    for (const raw of traces) {
      const t = this.encode(raw);
      this.fill(t, 0, t.length, ctx, target, e);
      e += t.length;
    }
    return { ctx, target };
  }

  /** Writes the contexts and targets of positions [i0, i1) of encoded trace t at example e. */
  private fill(t: Int32Array, i0: number, i1: number, ctx: Int32Array, target: Int32Array, e: number): void {
    const k = this.k;
    const pad = this.U + 1;
    for (let i = i0; i < i1; i++, e++) {
      target[e] = t[i];
      for (let j = 0; j < k; j++) {
        const p = i - k + j;
        ctx[e * k + j] = p >= 0 ? t[p] : pad;
      }
    }
  }

  async train(traces: Int32Array[], log?: (msg: string) => void): Promise<void> {
    await ensureBackend();
    this.dispose();
    // Compact vocabulary: calls seen in training, in id order (deterministic).
    const seen = new Uint8Array(this.V);
    for (const t of traces) for (const v of t) if (v >= 0 && v < this.V) seen[v] = 1;
    let U = 0;
    for (let v = 0; v < this.V; v++) if (seen[v]) U++;
    this.U = U;
    this.index = new Int32Array(this.V);
    for (let v = 0, c = 0; v < this.V; v++) this.index[v] = seen[v] ? c++ : U;
    this.model = this.build();
    const vars = this.weights();
    const optimizer = tf.train.adam(this.opts.learningRate);
    const { ctx, target } = this.examples(traces);
    const n = target.length;
    const B = this.opts.batch;
    const k = this.k;
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
    const bc = new Int32Array(B * k);
    const bt = new Int32Array(B);
    for (let ep = 0; ep < this.opts.epochs; ep++) {
      let lossSum = 0;
      let batches = 0;
      for (let b0 = 0; b0 + B <= n; b0 += B) {
        for (let i = 0; i < B; i++) {
          const e = order[b0 + i];
          bc.set(ctx.subarray(e * k, e * k + k), i * k);
          bt[i] = target[e];
        }
        const ids = tf.tensor1d(bc, 'int32');
        const ys = tf.tensor1d(bt, 'int32');
        const cost = optimizer.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              tf.oneHot(ys, this.classes),
              this.logits(ids, B, true),
            ) as tf.Scalar,
          true,
          vars,
        );
        lossSum += (await cost!.data())[0];
        tf.dispose([ids, ys, cost!]);
        batches++;
      }
      log?.(
        `neural-lm epoch ${ep + 1}/${this.opts.epochs}: mean loss ${(lossSum / Math.max(1, batches)).toFixed(4)}`,
      );
    }
    optimizer.dispose();
  }

  /**
   * Negative log-likelihood of every call of each trace given its previous k calls: context windows
   * batched as class ids through the gathered embedding (log-softmax, capped at −ln 1e-12).
   */
  async nll(traces: Int32Array[]): Promise<Float64Array[]> {
    if (!this.model) throw new Error('neural-lm: score before train');
    const B = 8192;
    const k = this.k;
    const C = this.classes;
    const ctx = new Int32Array(B * k);
    const tgt = new Int32Array(B);
    const flatIdx = new Int32Array(B);
    const out = traces.map((t) => new Float64Array(t.length));
    const enc = traces.map((t) => this.encode(t));
    // Cursor over (trace, position); a batch may span several traces.
    let ti = 0;
    let pos = 0;
    while (ti < enc.length) {
      const parts: [number, number, number][] = [];
      let m = 0;
      while (m < B && ti < enc.length) {
        const t = enc[ti];
        const take = Math.min(B - m, t.length - pos);
        this.fill(t, pos, pos + take, ctx, tgt, m);
        parts.push([ti, pos, take]);
        m += take;
        pos += take;
        if (pos >= t.length) {
          ti++;
          pos = 0;
        }
      }
      if (m === 0) break;
      for (let i = 0; i < m; i++) flatIdx[i] = i * C + tgt[i];
      const nllT = tf.tidy(() => {
        const lg = this.logits(tf.tensor1d(ctx.subarray(0, m * k), 'int32'), m, false);
        const picked = tf.gather(tf.reshape(lg, [-1]), tf.tensor1d(flatIdx.subarray(0, m), 'int32'));
        return tf.sub(tf.logSumExp(lg, 1), picked);
      });
      const v = await nllT.data();
      nllT.dispose();
      let o = 0;
      for (const [tIdx, p0, len] of parts) {
        const dst = out[tIdx];
        for (let i = 0; i < len; i++) dst[p0 + i] = Math.min(Math.max(v[o + i], 0), NLL_CAP);
        o += len;
      }
    }
    return out;
  }

  /**
   * Reference NLL through the layers model's predict() on one-hot contexts (slow: kept to check the
   * batched path against).
   */
  async nllOneHot(traces: Int32Array[]): Promise<Float64Array[]> {
    if (!this.model) throw new Error('neural-lm: score before train');
    const { ctx, target } = this.examples(traces);
    const n = target.length;
    const all = new Float64Array(n);
    const B = 1024;
    for (let b0 = 0; b0 < n; b0 += B) {
      const m = Math.min(B, n - b0);
      const probs = tf.tidy(() => {
        const x = tf
          .oneHot(tf.tensor2d(ctx.subarray(b0 * this.k, (b0 + m) * this.k), [m, this.k], 'int32'), this.U + 2)
          .toFloat();
        const p = this.model!.predict(x) as tf.Tensor2D;
        return tf.sum(
          tf.mul(p, tf.oneHot(tf.tensor1d(target.subarray(b0, b0 + m), 'int32'), this.classes).toFloat()),
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
    this.model = undefined;
    this.layers = undefined;
  }
}
