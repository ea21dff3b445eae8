/**
 * Smoothed n-gram language model over system calls; the anomaly score of a call is its negative
 * log-likelihood (natural log) given the previous n-1 calls of the same stream.
 *
 * Smoothing is Witten-Bell interpolation, recursively down to an add-alpha unigram:
 *   P0(w)   = (c(w) + alpha) / (N + alpha * V)
 *   P(w|h)  = (c(h,w) + T(h) * P(w|h')) / (c(h) + T(h))
 * where h' is h without its oldest call, c(h) the number of times h was followed by a call and T(h)
 * the number of distinct calls that followed it. A context never seen stops the recursion (its
 * longer contexts cannot have been seen either). Every probability is > 0, so the NLL is finite.
 */
import { IntKeyTable, base64ToFloat64, base64ToInt32, typedToBase64 } from './int-table.js';
import type { StreamKey } from './stide.js';

export interface NgramLmOptions {
  /** Order: the model conditions on the previous n-1 calls. */
  n: number;
  /** Vocabulary size (system-call ids are 0..V-1) for the unigram's add-alpha smoothing. */
  V: number;
  /** Add-alpha constant of the unigram. */
  alpha?: number;
}

export interface NgramLmJSON {
  type: 'ngram-lm';
  version: 1;
  n: number;
  V: number;
  alpha: number;
  total: number;
  unigram: string;
  /** Context tables for orders 1..n-1 then gram tables for lengths 2..n: {k, keys, a, b} base64. */
  tables: { k: number; keys: string; a: string; b: string }[];
}

class LmStream {
  readonly ring: Int32Array;
  filled = 0;
  pos = 0;
  constructor(n: number) {
    this.ring = new Int32Array(n);
  }
}

export class NgramLm {
  readonly n: number;
  readonly V: number;
  readonly alpha: number;
  private unigram: Float64Array;
  private total = 0;
  /** ctx[o] for o = 1..n-1: key = o calls; a = c(h), b = T(h). Index 0 unused. */
  private readonly ctx: IntKeyTable[] = [];
  /** gram[o] for o = 1..n-1: key = o+1 calls (h, w); a = c(h, w). Index 0 unused. */
  private readonly gram: IntKeyTable[] = [];
  private readonly learnStreams = new Map<StreamKey, LmStream>();
  private readonly scoreStreams = new Map<StreamKey, LmStream>();

  constructor(opts: NgramLmOptions) {
    if (!Number.isInteger(opts.n) || opts.n < 1)
      throw new Error(`order n must be a positive integer, got ${opts.n}`);
    if (!Number.isInteger(opts.V) || opts.V < 1)
      throw new Error(`vocabulary size V must be a positive integer, got ${opts.V}`);
    this.n = opts.n;
    this.V = opts.V;
    this.alpha = opts.alpha ?? 0.01;
    this.unigram = new Float64Array(opts.V);
    for (let o = 1; o < this.n; o++) {
      this.ctx[o] = new IntKeyTable(o);
      this.gram[o] = new IntKeyTable(o + 1);
    }
  }

  private stream(map: Map<StreamKey, LmStream>, key: StreamKey): LmStream {
    let st = map.get(key);
    if (st === undefined) {
      st = new LmStream(this.n);
      map.set(key, st);
    }
    return st;
  }

  private check(sys: number): void {
    if (!(sys >= 0 && sys < this.V && Number.isInteger(sys)))
      throw new Error(`system-call id ${sys} outside 0..${this.V - 1}`);
  }

  /** Feeds one normal call of `stream`. */
  learn(stream: StreamKey, sys: number): void {
    this.check(sys);
    const st = this.stream(this.learnStreams, stream);
    const R = this.n;
    st.ring[st.pos] = sys;
    st.pos = st.pos + 1 === R ? 0 : st.pos + 1;
    if (st.filled < R) st.filled++;
    this.unigram[sys]++;
    this.total++;
    // The current call sits at pos-1; a context of length o starts at pos-1-o.
    const hist = st.filled - 1;
    for (let o = 1; o <= hist && o < this.n; o++) {
      const start = (st.pos - 1 - o + 2 * R) % R;
      const g = this.gram[o].upsert(st.ring, start);
      this.gram[o].a[g]++;
      const isNew = this.gram[o].inserted;
      const c = this.ctx[o].upsert(st.ring, start);
      this.ctx[o].a[c]++;
      if (isNew) this.ctx[o].b[c]++;
    }
  }

  /** Negative log-likelihood (nats) of `sys` following the previous calls of `stream`. */
  score(stream: StreamKey, sys: number): number {
    const st = this.stream(this.scoreStreams, stream);
    const R = this.n;
    // Unknown ids (beyond V) are scored as if never seen: count 0 at every level.
    const known = sys >= 0 && sys < this.V;
    st.ring[st.pos] = known ? sys : -1;
    st.pos = st.pos + 1 === R ? 0 : st.pos + 1;
    if (st.filled < R) st.filled++;
    let p = ((known ? this.unigram[sys] : 0) + this.alpha) / (this.total + this.alpha * this.V);
    const hist = st.filled - 1;
    for (let o = 1; o <= hist && o < this.n; o++) {
      const start = (st.pos - 1 - o + 2 * R) % R;
      const c = this.ctx[o].find(st.ring, start);
      if (c < 0) break;
      const ch = this.ctx[o].a[c];
      const th = this.ctx[o].b[c];
      const g = this.gram[o].find(st.ring, start);
      const chw = g < 0 ? 0 : this.gram[o].a[g];
      p = (chw + th * p) / (ch + th);
    }
    return -Math.log(p);
  }

  /** The calls that conditioned the last score of `stream`, oldest first, the scored call last. */
  explain(stream: StreamKey): number[] | undefined {
    const st = this.scoreStreams.get(stream);
    if (!st) return undefined;
    const out: number[] = [];
    const start = st.filled < this.n ? 0 : st.pos;
    for (let i = 0; i < st.filled; i++) out.push(st.ring[(start + i) % this.n]);
    return out;
  }

  endStream(stream: StreamKey): void {
    this.learnStreams.delete(stream);
    this.scoreStreams.delete(stream);
  }

  resetStreams(): void {
    this.learnStreams.clear();
    this.scoreStreams.clear();
  }

  /** Distinct n-grams of the full order. */
  get size(): number {
    return this.n > 1 ? this.gram[this.n - 1].size : this.unigram.filter((c) => c > 0).length;
  }

  memoryBytes(): number {
    let b = this.unigram.byteLength;
    for (let o = 1; o < this.n; o++) b += this.ctx[o].memoryBytes() + this.gram[o].memoryBytes();
    return b + (this.learnStreams.size + this.scoreStreams.size) * (this.n * 4 + 80);
  }

  toJSON(): NgramLmJSON {
    const tables: NgramLmJSON['tables'] = [];
    for (const t of [...this.ctx.slice(1), ...this.gram.slice(1)]) {
      const d = t.dump();
      tables.push({ k: t.k, keys: typedToBase64(d.keys), a: typedToBase64(d.a), b: typedToBase64(d.b) });
    }
    return {
      type: 'ngram-lm',
      version: 1,
      n: this.n,
      V: this.V,
      alpha: this.alpha,
      total: this.total,
      unigram: typedToBase64(this.unigram),
      tables,
    };
  }

  static fromJSON(j: NgramLmJSON): NgramLm {
    if (j.type !== 'ngram-lm' || j.version !== 1)
      throw new Error(`not an n-gram LM model (type ${String(j.type)})`);
    if (j.tables.length !== 2 * (j.n - 1))
      throw new Error(`n-gram LM model corrupt: ${j.tables.length} tables for order ${j.n}`);
    const m = new NgramLm({ n: j.n, V: j.V, alpha: j.alpha });
    m.unigram = base64ToFloat64(j.unigram);
    m.total = j.total;
    const all = [...m.ctx.slice(1), ...m.gram.slice(1)];
    j.tables.forEach((tj, i) => {
      const t = all[i];
      const keys = base64ToInt32(tj.keys);
      const a = base64ToFloat64(tj.a);
      const b = base64ToFloat64(tj.b);
      const ring = new Int32Array(t.k);
      for (let e = 0; e < a.length; e++) {
        ring.set(keys.subarray(e * t.k, e * t.k + t.k));
        const s = t.upsert(ring, 0);
        t.a[s] = a[e];
        t.b[s] = b[e];
      }
    });
    return m;
  }
}
