/**
 * A common face for the system-call sequence models, so that the evaluation harness (and a live
 * detector) drives them the same way: learn normal calls per stream, then give each scored call an
 * instant anomaly value (STIDE: 1 when the n-gram ending here is unseen, else 0; n-gram LM: the
 * call's negative log-likelihood). Windowing and thresholds are done by the caller.
 */
import { NgramLm } from './ngram-lm.js';
import { Stide, type StreamKey } from './stide.js';

export interface SequenceModel {
  readonly name: string;
  readonly params: Record<string, number | string | boolean>;
  learn(stream: StreamKey, sys: number): void;
  /** Instant anomaly value of this call of `stream`. */
  instant(stream: StreamKey, sys: number): number;
  /** `learn` over calls 0..n-1 of parallel arrays (stream keys, call ids), in order. */
  learnBatch(streams: Float64Array, sys: Int32Array, n: number): void;
  /** `instant` over calls 0..n-1 of parallel arrays, in order; the values go to `out[0..n)`. */
  instantBatch(streams: Float64Array, sys: Int32Array, n: number, out: Float64Array): void;
  /** Human-readable reason for the last value of `stream`, mapping ids back to names. */
  explain(stream: StreamKey, names: (id: number) => string): string;
  resetStreams(): void;
  size(): number;
  memoryBytes(): number;
}

export type ParamMap = Record<string, string>;

function intParam(p: ParamMap, key: string, def: number): number {
  const v = p[key];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`parameter ${key} must be a positive integer, got ${v}`);
  return n;
}

function numParam(p: ParamMap, key: string, def: number): number {
  const v = p[key];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`parameter ${key} must be a positive number, got ${v}`);
  return n;
}

class StideModel implements SequenceModel {
  readonly name = 'stide';
  readonly model: Stide;
  constructor(readonly params: { n: number; L: number }) {
    this.model = new Stide({ n: params.n, L: params.L });
  }
  learn(stream: StreamKey, sys: number): void {
    this.model.learn(stream, sys);
  }
  instant(stream: StreamKey, sys: number): number {
    return this.model.score(stream, sys).unseen ? 1 : 0;
  }
  learnBatch(streams: Float64Array, sys: Int32Array, n: number): void {
    this.model.learnBatch(streams, sys, n);
  }
  instantBatch(streams: Float64Array, sys: Int32Array, n: number, out: Float64Array): void {
    this.model.scoreBatch(streams, sys, n, out);
  }
  explain(stream: StreamKey, names: (id: number) => string): string {
    const e = this.model.explain(stream);
    if (!e) return '';
    return `${e.unseen ? 'unseen' : 'known'} ${this.params.n}-gram [${e.ngram.map(names).join(' ')}], ${(e.ratio * 100).toFixed(1)}% of the last ${this.params.L} n-grams unseen`;
  }
  resetStreams(): void {
    this.model.resetStreams();
  }
  size(): number {
    return this.model.size;
  }
  memoryBytes(): number {
    return this.model.memoryBytes();
  }
}

class LmModel implements SequenceModel {
  readonly name = 'ngram-lm';
  readonly model: NgramLm;
  private last = new Map<StreamKey, number>();
  constructor(readonly params: { n: number; V: number; alpha: number }) {
    this.model = new NgramLm(params);
  }
  learn(stream: StreamKey, sys: number): void {
    this.model.learn(stream, sys);
  }
  instant(stream: StreamKey, sys: number): number {
    return this.model.score(stream, sys);
  }
  learnBatch(streams: Float64Array, sys: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.model.learn(streams[i], sys[i]);
  }
  instantBatch(streams: Float64Array, sys: Int32Array, n: number, out: Float64Array): void {
    for (let i = 0; i < n; i++) out[i] = this.model.score(streams[i], sys[i]);
  }
  explain(stream: StreamKey, names: (id: number) => string): string {
    const h = this.model.explain(stream);
    if (!h || h.length === 0) return '';
    this.last.clear();
    const w = h[h.length - 1];
    return `call ${names(w)} after [${h.slice(0, -1).map(names).join(' ')}] is improbable under the ${this.params.n}-gram model`;
  }
  resetStreams(): void {
    this.model.resetStreams();
  }
  size(): number {
    return this.model.size;
  }
  memoryBytes(): number {
    return this.model.memoryBytes();
  }
}

export const SEQUENCE_MODELS = ['stide', 'ngram-lm'] as const;

/** Builds a sequence model by name; parameters are strings from the command line (k=v). */
export function createSequenceModel(name: string, p: ParamMap, vocabularySize: number): SequenceModel {
  switch (name) {
    case 'stide':
      return new StideModel({ n: intParam(p, 'n', 7), L: intParam(p, 'L', 1000) });
    case 'ngram-lm':
      return new LmModel({ n: intParam(p, 'n', 6), V: vocabularySize, alpha: numParam(p, 'alpha', 0.01) });
    default:
      throw new Error(`unknown sequence model ${name} (known: ${SEQUENCE_MODELS.join(', ')})`);
  }
}
