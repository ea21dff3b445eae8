/**
 * STIDE (Forrest et al. 1996; Hofmeyr et al. 1998): the set of every length-n system-call sequence
 * seen in normal behaviour. A sequence never seen is a mismatch; the anomaly score is the share of
 * mismatches among the last L n-grams of a stream (the "locality frame"), as the LID-DS framework does.
 *
 * Built for the hot path of a live sensor as much as for offline evaluation:
 * - system calls are non-negative integers (the live baselines use kernel numbers, the evaluation its
 *   data set's ids);
 * - one sliding state per stream key (a thread id, a process id, a recording): interleaved threads
 *   do not produce n-grams that no thread ever executed;
 * - n-grams live in an open-addressing hash set over typed arrays; learn/score allocate nothing once
 *   a stream's state exists (the score result object is reused: copy its fields if you keep them).
 */

export type StreamKey = number | string;

export interface StideOptions {
  /** n-gram (window) length. */
  n: number;
  /** Locality frame: how many of the last n-grams the mismatch ratio is taken over. */
  L: number;
  /** Initial hash-set capacity in n-grams (rounded up to a power of two). */
  initialCapacity?: number;
}

export interface StideScore {
  /** The n-gram ending at this call was never learned (false until the stream holds n calls). */
  unseen: boolean;
  /** Mismatches among the last L n-grams of this stream, divided by L. */
  ratio: number;
  /** Whether an n-gram ends here (the stream has seen at least n calls). */
  complete: boolean;
}

export interface StideJSON {
  type: 'stide';
  version: 1;
  n: number;
  L: number;
  /** Number of n-grams. */
  count: number;
  /** Little-endian Int32 n-grams, n values each, base64. */
  ngrams: string;
}

/** Multiplier of the polynomial n-gram hash (odd, so the hash is exact arithmetic mod 2^32). */
const B = 0x9e3779b1 | 0;

/** B^k mod 2^32. */
function powB(k: number): number {
  let r = 1;
  for (let i = 0; i < k; i++) r = Math.imul(r, B);
  return r;
}

/** Murmur3's finaliser over the polynomial hash, forced odd (non-zero): the stored hash. */
function finish(poly: number): number {
  let h = poly;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h | 1) >>> 0;
}

/**
 * Sliding state of one stream: the last n calls and the last L mismatch flags. The calls are kept
 * twice (at i and i + n) so that the current n-gram is always contiguous, and its polynomial hash
 * (sum of call_i·B^(n-1-i) mod 2^32) is rolled along in O(1) per call instead of rehashing n calls.
 */
class StreamState {
  readonly ring: Int32Array;
  filled = 0;
  pos = 0;
  poly = 0;
  readonly miss: Uint8Array;
  missPos = 0;
  missCount = 0;
  constructor(
    readonly n: number,
    L: number,
    private readonly bn: number,
  ) {
    this.ring = new Int32Array(2 * n);
    this.miss = new Uint8Array(L);
  }
  /** Appends a call; afterwards the current n-gram is ring[pos .. pos + n), oldest first. */
  push(sys: number): void {
    const n = this.n;
    const pos = this.pos;
    const out = this.ring[pos];
    this.ring[pos] = sys;
    this.ring[pos + n] = sys;
    this.pos = pos + 1 === n ? 0 : pos + 1;
    this.poly = (Math.imul(this.poly, B) - Math.imul(out, this.bn) + sys) | 0;
    if (this.filled < n) this.filled++;
  }
  /** Moves the mismatch frame (the last L n-grams) on by one n-gram: `bit` 1 when it was unseen. */
  frame(bit: number): void {
    const p = this.missPos;
    this.missCount += bit - this.miss[p];
    this.miss[p] = bit;
    this.missPos = p + 1 === this.miss.length ? 0 : p + 1;
  }
}

const EMPTY = 0;

/** Open-addressing (linear probing) set of fixed-length int sequences. */
export class NgramSet {
  readonly n: number;
  private cap: number;
  private mask: number;
  private keys: Int32Array;
  /** Stored hash, forced non-zero; 0 marks an empty slot. */
  private hashes: Uint32Array;
  private count = 0;

  constructor(n: number, initialCapacity = 1024) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`n-gram length must be a positive integer, got ${n}`);
    this.n = n;
    let cap = 16;
    while (cap < initialCapacity) cap <<= 1;
    this.cap = cap;
    this.mask = cap - 1;
    this.keys = new Int32Array(cap * n);
    this.hashes = new Uint32Array(cap);
  }

  get size(): number {
    return this.count;
  }

  memoryBytes(): number {
    return this.keys.byteLength + this.hashes.byteLength;
  }

  /** Hash of the n values of `ring` (length n) read in order starting at `start` (circular). */
  hashRing(ring: Int32Array, start: number): number {
    const n = this.n;
    let poly = 0;
    let p = start;
    for (let i = 0; i < n; i++) {
      poly = (Math.imul(poly, B) + ring[p]) | 0;
      p = p + 1 === n ? 0 : p + 1;
    }
    return finish(poly);
  }

  /** Slot holding `seq[off .. off + n)` (hash `h`), or the empty slot where it would go, as ~slot. */
  private find(seq: Int32Array, off: number, h: number): number {
    const n = this.n;
    const keys = this.keys;
    const hashes = this.hashes;
    const mask = this.mask;
    let slot = h & mask;
    while (true) {
      const sh = hashes[slot];
      if (sh === EMPTY) return ~slot;
      if (sh === h) {
        const base = slot * n;
        let i = 0;
        while (i < n && keys[base + i] === seq[off + i]) i++;
        if (i === n) return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Whether `seq[off .. off + n)`, whose polynomial hash is `poly`, is in the set. */
  hasSeq(seq: Int32Array, off: number, poly: number): boolean {
    return this.find(seq, off, finish(poly)) >= 0;
  }

  /** Adds `seq[off .. off + n)`, whose polynomial hash is `poly`; returns true when it was new. */
  addSeq(seq: Int32Array, off: number, poly: number): boolean {
    const h = finish(poly);
    const f = this.find(seq, off, h);
    if (f >= 0) return false;
    const slot = ~f;
    this.keys.set(seq.subarray(off, off + this.n), slot * this.n);
    this.hashes[slot] = h;
    this.count++;
    // Keep the load factor at or under 1/2 so that probe chains stay short.
    if (this.count * 2 > this.cap) this.grow();
    return true;
  }

  /** The circular sequence (ring of length n, start) laid out flat, and its polynomial hash. */
  private unroll(ring: Int32Array, start: number): { seq: Int32Array; poly: number } {
    const n = this.n;
    const seq = new Int32Array(n);
    let poly = 0;
    for (let i = 0, p = start; i < n; i++, p = p + 1 === n ? 0 : p + 1) {
      seq[i] = ring[p];
      poly = (Math.imul(poly, B) + ring[p]) | 0;
    }
    return { seq, poly };
  }

  /** Whether the circular sequence (ring of length n, start) is in the set. */
  hasRing(ring: Int32Array, start: number): boolean {
    const u = this.unroll(ring, start);
    return this.hasSeq(u.seq, 0, u.poly);
  }

  /** Adds the circular sequence (ring of length n, start); returns true when it was new. */
  addRing(ring: Int32Array, start: number): boolean {
    const u = this.unroll(ring, start);
    return this.addSeq(u.seq, 0, u.poly);
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldHashes = this.hashes;
    const n = this.n;
    this.cap <<= 1;
    this.mask = this.cap - 1;
    this.keys = new Int32Array(this.cap * n);
    this.hashes = new Uint32Array(this.cap);
    for (let s = 0; s < oldHashes.length; s++) {
      const h = oldHashes[s];
      if (h === EMPTY) continue;
      let slot = h & this.mask;
      while (this.hashes[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.hashes[slot] = h;
      this.keys.set(oldKeys.subarray(s * n, s * n + n), slot * n);
    }
  }

  /** Every stored n-gram, flat (n values each), in slot order. */
  flat(): Int32Array {
    const out = new Int32Array(this.count * this.n);
    let o = 0;
    for (let s = 0; s < this.cap; s++) {
      if (this.hashes[s] === EMPTY) continue;
      out.set(this.keys.subarray(s * this.n, s * this.n + this.n), o);
      o += this.n;
    }
    return out;
  }
}

/** Slots of the batch paths' cache of recent streams: 2^STREAM_CACHE_BITS. */
const STREAM_CACHE_BITS = 3;
const STREAM_CACHE = 1 << STREAM_CACHE_BITS;

/** The cache slot of a numeric stream key (a thread id): its integer part, hashed. */
function cacheSlot(k: number): number {
  return Math.imul(k | 0, 0x9e3779b1) >>> (32 - STREAM_CACHE_BITS);
}

export class Stide {
  readonly n: number;
  readonly L: number;
  private readonly set: NgramSet;
  /** B^n, to roll the oldest call out of a stream's n-gram hash. */
  private readonly bn: number;
  private readonly learnStreams = new Map<StreamKey, StreamState>();
  private readonly scoreStreams = new Map<StreamKey, StreamState>();
  private readonly result: StideScore = { unseen: false, ratio: 0, complete: false };

  constructor(opts: StideOptions) {
    if (!Number.isInteger(opts.L) || opts.L < 1)
      throw new Error(`locality frame L must be a positive integer, got ${opts.L}`);
    this.n = opts.n;
    this.L = opts.L;
    this.set = new NgramSet(opts.n, opts.initialCapacity);
    this.bn = powB(opts.n);
  }

  /** Number of distinct n-grams learned. */
  get size(): number {
    return this.set.size;
  }

  // The batch paths switch between a few interleaved threads call after call: the streams met
  // recently are kept in a small direct-mapped cache (NaN: an empty slot) before the maps.
  private readonly learnCacheKeys = new Float64Array(STREAM_CACHE).fill(NaN);
  private readonly learnCacheStates: (StreamState | undefined)[] = new Array(STREAM_CACHE).fill(undefined);
  private readonly scoreCacheKeys = new Float64Array(STREAM_CACHE).fill(NaN);
  private readonly scoreCacheStates: (StreamState | undefined)[] = new Array(STREAM_CACHE).fill(undefined);

  // Consecutive calls mostly come from the same thread: remember the last lookup of each map.
  private lastLearnKey: StreamKey | undefined;
  private lastLearn: StreamState | undefined;
  private lastScoreKey: StreamKey | undefined;
  private lastScore: StreamState | undefined;

  private state(map: Map<StreamKey, StreamState>, stream: StreamKey): StreamState {
    let st = map.get(stream);
    if (st === undefined) {
      st = new StreamState(this.n, this.L, this.bn);
      map.set(stream, st);
    }
    return st;
  }

  private learnState(stream: StreamKey): StreamState {
    if (stream === this.lastLearnKey && this.lastLearn !== undefined) return this.lastLearn;
    this.lastLearnKey = stream;
    return (this.lastLearn = this.state(this.learnStreams, stream));
  }

  private scoreState(stream: StreamKey): StreamState {
    if (stream === this.lastScoreKey && this.lastScore !== undefined) return this.lastScore;
    this.lastScoreKey = stream;
    return (this.lastScore = this.state(this.scoreStreams, stream));
  }

  /** Feeds one normal call of `stream`; returns true when it completed an n-gram never seen before. */
  learn(stream: StreamKey, sys: number): boolean {
    const st = this.learnState(stream);
    st.push(sys);
    if (st.filled < this.n) return false;
    // After a push, the n-gram is ring[pos .. pos + n), its hash rolled along.
    return this.set.addSeq(st.ring, st.pos, st.poly);
  }

  /**
   * Scores one call of `stream`. The returned object is reused by the next call.
   * ratio = (mismatches among the last L complete n-grams of the stream) / L.
   */
  score(stream: StreamKey, sys: number): StideScore {
    const st = this.scoreState(stream);
    st.push(sys);
    const r = this.result;
    if (st.filled < this.n) {
      r.unseen = false;
      r.complete = false;
      r.ratio = st.missCount / this.L;
      return r;
    }
    const unseen = !this.set.hasSeq(st.ring, st.pos, st.poly);
    st.frame(unseen ? 1 : 0);
    r.unseen = unseen;
    r.complete = true;
    r.ratio = st.missCount / this.L;
    return r;
  }

  /**
   * `learn` over `n` calls at once: call i is `sys[i]` of stream `streams[i]`. Same result as n
   * calls of `learn`, without a call and a stream lookup per system call.
   */
  learnBatch(streams: Float64Array, sys: Int32Array, n: number): void {
    const N = this.n;
    const set = this.set;
    const ck = this.learnCacheKeys;
    const cs = this.learnCacheStates;
    let key = NaN;
    let st: StreamState | undefined;
    for (let i = 0; i < n; i++) {
      const k = streams[i];
      if (k !== key || st === undefined) {
        const slot = cacheSlot(k);
        st = ck[slot] === k ? cs[slot] : undefined;
        if (st === undefined) {
          st = this.learnState(k);
          ck[slot] = k;
          cs[slot] = st;
        }
        key = k;
      }
      st.push(sys[i]);
      if (st.filled === N) set.addSeq(st.ring, st.pos, st.poly);
    }
  }

  /**
   * `score` over `n` calls at once: writes to `unseen[i]` 1 when the n-gram ending at call i was
   * never learned, else 0 (0 too while the stream holds fewer than n calls). The streams' mismatch
   * frames move on as with `score`.
   */
  scoreBatch(streams: Float64Array, sys: Int32Array, n: number, unseen: Uint8Array | Float64Array): void {
    const N = this.n;
    const set = this.set;
    const ck = this.scoreCacheKeys;
    const cs = this.scoreCacheStates;
    let key = NaN;
    let st: StreamState | undefined;
    for (let i = 0; i < n; i++) {
      const k = streams[i];
      if (k !== key || st === undefined) {
        const slot = cacheSlot(k);
        st = ck[slot] === k ? cs[slot] : undefined;
        if (st === undefined) {
          st = this.scoreState(k);
          ck[slot] = k;
          cs[slot] = st;
        }
        key = k;
      }
      st.push(sys[i]);
      if (st.filled < N) {
        unseen[i] = 0;
        continue;
      }
      const bit = set.hasSeq(st.ring, st.pos, st.poly) ? 0 : 1;
      st.frame(bit);
      unseen[i] = bit;
    }
  }

  /** Whether a given n-gram (exactly n calls) was learned. */
  has(ngram: ArrayLike<number>): boolean {
    if (ngram.length !== this.n)
      throw new Error(`expected an n-gram of length ${this.n}, got ${ngram.length}`);
    return this.set.hasRing(Int32Array.from(ngram), 0);
  }

  /** The last n calls scored on `stream`, oldest first (fewer when the stream is shorter). */
  explain(stream: StreamKey): { ngram: number[]; unseen: boolean; ratio: number } | undefined {
    const st = this.scoreStreams.get(stream);
    if (st === undefined) return undefined;
    const ngram: number[] = [];
    const start = st.filled < this.n ? 0 : st.pos;
    for (let i = 0; i < st.filled; i++) ngram.push(st.ring[(start + i) % this.n]);
    const unseen = st.filled === this.n && !this.set.hasSeq(st.ring, st.pos, st.poly);
    return { ngram, unseen, ratio: st.missCount / this.L };
  }

  /** Forgets the sliding state of one stream (a thread exited, a recording ended). */
  endStream(stream: StreamKey): void {
    this.learnStreams.delete(stream);
    this.scoreStreams.delete(stream);
    this.forgetLast();
  }

  private forgetLast(): void {
    this.lastLearnKey = this.lastScoreKey = undefined;
    this.lastLearn = this.lastScore = undefined;
    this.learnCacheKeys.fill(NaN);
    this.learnCacheStates.fill(undefined);
    this.scoreCacheKeys.fill(NaN);
    this.scoreCacheStates.fill(undefined);
  }

  /** Forgets every stream's sliding state; the learned n-grams stay. */
  resetStreams(): void {
    this.learnStreams.clear();
    this.scoreStreams.clear();
    this.forgetLast();
  }

  get streamCount(): number {
    return this.learnStreams.size + this.scoreStreams.size;
  }

  memoryBytes(): number {
    // Per stream: the two rings plus a rough Map entry and object overhead.
    const perStream = 2 * this.n * 4 + this.L + 96;
    return this.set.memoryBytes() + this.streamCount * perStream;
  }

  toJSON(): StideJSON {
    const flat = this.set.flat();
    const buf = Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength);
    return {
      type: 'stide',
      version: 1,
      n: this.n,
      L: this.L,
      count: this.set.size,
      ngrams: buf.toString('base64'),
    };
  }

  static fromJSON(j: StideJSON): Stide {
    if (j.type !== 'stide' || j.version !== 1)
      throw new Error(`not a STIDE model (type ${String(j.type)}, version ${String(j.version)})`);
    const buf = Buffer.from(j.ngrams, 'base64');
    if (buf.byteLength !== j.count * j.n * 4) {
      throw new Error(`STIDE model corrupt: ${buf.byteLength} bytes for ${j.count} n-grams of length ${j.n}`);
    }
    const flat = new Int32Array(j.count * j.n);
    for (let i = 0; i < flat.length; i++) flat[i] = buf.readInt32LE(i * 4);
    const s = new Stide({ n: j.n, L: j.L, initialCapacity: j.count * 2 + 16 });
    for (let k = 0; k < j.count; k++) {
      let poly = 0;
      for (let i = 0; i < j.n; i++) poly = (Math.imul(poly, B) + flat[k * j.n + i]) | 0;
      s.set.addSeq(flat, k * j.n, poly);
    }
    return s;
  }
}
