/**
 * Open-addressing hash table keyed by fixed-length int sequences read out of a circular buffer,
 * with two float64 value columns per key. Shared by the n-gram models: lookups copy nothing and
 * allocate nothing, so scoring a system call is a few hash probes over typed arrays.
 */
const EMPTY = 0;

export class IntKeyTable {
  /** Key length. */
  readonly k: number;
  private cap: number;
  private mask: number;
  private keys: Int32Array;
  private hashes: Uint32Array;
  /** First value column (a count). */
  a: Float64Array;
  /** Second value column (a second count, e.g. distinct continuations). */
  b: Float64Array;
  private count = 0;

  constructor(k: number, initialCapacity = 256) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`key length must be a positive integer, got ${k}`);
    this.k = k;
    let cap = 16;
    while (cap < initialCapacity) cap <<= 1;
    this.cap = cap;
    this.mask = cap - 1;
    this.keys = new Int32Array(cap * k);
    this.hashes = new Uint32Array(cap);
    this.a = new Float64Array(cap);
    this.b = new Float64Array(cap);
  }

  get size(): number {
    return this.count;
  }

  memoryBytes(): number {
    return this.keys.byteLength + this.hashes.byteLength + this.a.byteLength + this.b.byteLength;
  }

  private hash(ring: Int32Array, start: number): number {
    const R = ring.length;
    let h = 0x811c9dc5 | 0;
    let p = start;
    for (let i = 0; i < this.k; i++) {
      h = Math.imul(h ^ ring[p], 0x01000193);
      h ^= h >>> 15;
      p = p + 1 === R ? 0 : p + 1;
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h ^= h >>> 13;
    return (h | 1) >>> 0;
  }

  private equals(slot: number, ring: Int32Array, start: number): boolean {
    const R = ring.length;
    const base = slot * this.k;
    let p = start;
    for (let i = 0; i < this.k; i++) {
      if (this.keys[base + i] !== ring[p]) return false;
      p = p + 1 === R ? 0 : p + 1;
    }
    return true;
  }

  /** Slot of the key made of the k values of `ring` from `start` (circular), or -1. */
  find(ring: Int32Array, start: number): number {
    const h = this.hash(ring, start);
    let slot = h & this.mask;
    while (true) {
      const sh = this.hashes[slot];
      if (sh === EMPTY) return -1;
      if (sh === h && this.equals(slot, ring, start)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Slot of the key, inserted with zero values when absent. `inserted` tells which happened. */
  upsert(ring: Int32Array, start: number): number {
    const h = this.hash(ring, start);
    let slot = h & this.mask;
    while (true) {
      const sh = this.hashes[slot];
      if (sh === EMPTY) break;
      if (sh === h && this.equals(slot, ring, start)) {
        this.inserted = false;
        return slot;
      }
      slot = (slot + 1) & this.mask;
    }
    if ((this.count + 1) * 2 > this.cap) {
      this.grow();
      return this.upsert(ring, start);
    }
    const R = ring.length;
    const base = slot * this.k;
    let p = start;
    for (let i = 0; i < this.k; i++) {
      this.keys[base + i] = ring[p];
      p = p + 1 === R ? 0 : p + 1;
    }
    this.hashes[slot] = h;
    this.count++;
    this.inserted = true;
    return slot;
  }

  /** Set by upsert: whether the last upsert created the key. */
  inserted = false;

  private grow(): void {
    const { keys: ok, hashes: oh, a: oa, b: ob, k } = this;
    this.cap <<= 1;
    this.mask = this.cap - 1;
    this.keys = new Int32Array(this.cap * k);
    this.hashes = new Uint32Array(this.cap);
    this.a = new Float64Array(this.cap);
    this.b = new Float64Array(this.cap);
    for (let s = 0; s < oh.length; s++) {
      const h = oh[s];
      if (h === EMPTY) continue;
      let slot = h & this.mask;
      while (this.hashes[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.hashes[slot] = h;
      this.a[slot] = oa[s];
      this.b[slot] = ob[s];
      this.keys.set(ok.subarray(s * k, s * k + k), slot * k);
    }
  }

  /** Every entry as flat keys and the two value columns, in slot order. */
  dump(): { keys: Int32Array; a: Float64Array; b: Float64Array } {
    const keys = new Int32Array(this.count * this.k);
    const a = new Float64Array(this.count);
    const b = new Float64Array(this.count);
    let o = 0;
    for (let s = 0; s < this.cap; s++) {
      if (this.hashes[s] === EMPTY) continue;
      keys.set(this.keys.subarray(s * this.k, s * this.k + this.k), o * this.k);
      a[o] = this.a[s];
      b[o] = this.b[s];
      o++;
    }
    return { keys, a, b };
  }
}

export function typedToBase64(t: Int32Array | Float64Array): string {
  return Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('base64');
}

export function base64ToInt32(s: string): Int32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Int32Array(buf.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(i * 4);
  return out;
}

export function base64ToFloat64(s: string): Float64Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float64Array(buf.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}
