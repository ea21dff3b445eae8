/**
 * Fixed-size uniform sample of a stream of numbers (Vitter's algorithm R) for the resource envelope:
 * quantiles of cpu, memory and pids without keeping every sample. A deterministic generator keeps
 * runs reproducible.
 */
export class Reservoir {
  readonly samples: Float64Array;
  /** Values offered so far (may exceed the capacity). */
  seen = 0;
  private rng = 0x9e3779b9;

  constructor(capacity = 256) {
    this.samples = new Float64Array(capacity);
  }

  get filled(): number {
    return Math.min(this.seen, this.samples.length);
  }

  add(v: number): void {
    const cap = this.samples.length;
    if (this.seen < cap) this.samples[this.seen] = v;
    else {
      // xorshift32
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x >>> 0;
      const j = this.rng % (this.seen + 1);
      if (j < cap) this.samples[j] = v;
    }
    this.seen++;
  }

  /** Nearest-rank quantile (q in [0, 1]) of the sample; NaN when empty. */
  quantile(q: number): number {
    const n = this.filled;
    if (n === 0) return NaN;
    const sorted = this.samples.slice(0, n).sort();
    const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
    return sorted[rank];
  }

  max(): number {
    const n = this.filled;
    if (n === 0) return NaN;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (this.samples[i] > m) m = this.samples[i];
    return m;
  }

  toJSON(): { seen: number; samples: number[] } {
    return { seen: this.seen, samples: Array.from(this.samples.subarray(0, this.filled)) };
  }

  static fromJSON(j: { seen: number; samples: number[] }, capacity = 256): Reservoir {
    // A reservoir that saw more than it holds was full: keep its size so no empty slot is read.
    const cap =
      j.seen > j.samples.length ? Math.max(1, j.samples.length) : Math.max(capacity, j.samples.length);
    const r = new Reservoir(cap);
    r.samples.set(j.samples);
    r.seen = Math.max(j.seen, j.samples.length);
    return r;
  }
}
