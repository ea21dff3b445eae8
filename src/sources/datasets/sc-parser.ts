/**
 * Line parsing for LID-DS system-call text (2021 `.sc`, 2019 `.txt`) straight from Buffers:
 * fields are found with byte scans, numbers parsed digit by digit, and only the system-call names
 * become strings (interned). `ScStream` parses whole `.sc` chunks in one pass and falls back to
 * the line-by-line `parseScLine` for any line outside the usual shape.
 */
import { DatasetError, type SyscallBatch, type SyscallEventView } from './types.js';

const SP = 32;
const NL = 10;
const CR = 13;

/** A consumer of a byte stream in chunks (a line splitter, a parser). */
export abstract class ChunkSink {
  abstract push(chunk: Buffer): void;
  abstract end(): void;

  /**
   * Feeds a whole byte stream through `push`/`end`. A throw from them (a malformed line) stops the
   * stream and rejects with it; a stream error is turned into the caller's error by `onError`.
   */
  drain(
    stream: NodeJS.ReadableStream & { destroy?: () => void },
    onError: (err: Error) => Error,
  ): Promise<void> {
    return new Promise<void>((res, rej) => {
      // Paused mode: the producer (an inflater on libuv's thread pool) buffers its output and goes
      // on with the next piece while this thread parses the last one; a 'data' listener would run
      // the parser inside the producer's callback and leave one of the two always waiting.
      let failed = false;
      stream.on('readable', () => {
        let c: Buffer | null;
        while (!failed && (c = stream.read() as Buffer | null) !== null) {
          try {
            this.push(c);
          } catch (e) {
            failed = true;
            stream.destroy?.();
            rej(e);
          }
        }
      });
      stream.on('end', () => {
        try {
          this.end();
          res();
        } catch (e) {
          rej(e);
        }
      });
      stream.on('error', (err: Error) => rej(onError(err)));
    });
  }
}

/** Splits a byte stream into lines across chunk boundaries; calls `onLine(buf, start, end)`. */
export class LineSplitter extends ChunkSink {
  private rest: Buffer | null = null;
  constructor(private readonly onLine: (buf: Buffer, start: number, end: number) => void) {
    super();
  }
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let start = 0;
    while (true) {
      const nl = buf.indexOf(NL, start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && buf[end - 1] === CR) end--;
      this.onLine(buf, start, end);
      start = nl + 1;
    }
    if (start < buf.length) this.rest = Buffer.from(buf.subarray(start));
  }

  end(): void {
    if (this.rest && this.rest.length > 0) {
      let end = this.rest.length;
      if (this.rest[end - 1] === CR) end--;
      this.onLine(this.rest, 0, end);
    }
    this.rest = null;
  }
}

/** Next space at or after `from` (or `end`). A plain loop: fields are short, a native call costs more. */
function nextSpace(buf: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end && buf[i] !== SP) i++;
  return i;
}

/** Up to four bytes `buf[s..s+n)` packed little-endian (first byte lowest). */
function pack(buf: Uint8Array, s: number, n: number): number {
  let w = 0;
  for (let k = n - 1; k >= 0; k--) w = (w << 8) | buf[s + k];
  return w;
}

/** Distinct names a table interns; past them, new names are decoded per line. */
const MAX_NAMES = 16384;
const NAME_SLOTS = MAX_NAMES * 2;

/**
 * System-call names repeat millions of times: they are interned by their bytes instead of decoding
 * a new string per line. A name is keyed by its length, its first four and its last four bytes
 * (packed little-endian; fewer when shorter): for names of up to 8 bytes the key is the name, longer
 * ones are also checked byte by byte. An open-addressing table over typed arrays; past MAX_NAMES
 * distinct names, new ones are decoded per line (still correct, only slower).
 *
 * Ids are stable and the table only grows, so parsers that share one (every read of a reader) hand
 * out batches whose `names` is this same array.
 */
export class ScNameTable {
  /** The interned names, by id. */
  readonly names: string[] = [];
  /** Ids by name (for lines parsed by parseScLine in batch mode). */
  readonly idOf = new Map<string, number>();
  private readonly slots = new Int32Array(NAME_SLOTS); // id + 1, 0 = empty
  private readonly head = new Int32Array(MAX_NAMES);
  private readonly tail = new Int32Array(MAX_NAMES);
  private readonly start = new Int32Array(MAX_NAMES);
  private readonly len = new Int32Array(MAX_NAMES);
  /** The names' bytes, back to back (`start`, `len`). */
  private pool = new Uint8Array(1 << 16);
  private poolUsed = 0;

  /** The interned latin1 string of `buf[s..e)`. */
  internLatin1(buf: Buffer, s: number, e: number): string {
    const n = Math.min(4, e - s);
    return this.internKeyed(buf, s, e, pack(buf, s, n), pack(buf, e - n, n));
  }

  /** The interned string of `buf[s..e)`, whose first and last (up to) four bytes are `head`, `tail`. */
  private internKeyed(buf: Uint8Array, s: number, e: number, head: number, tail: number): string {
    const id = this.internKeyedId(buf, s, e, head, tail);
    return id >= 0
      ? this.names[id]
      : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1', s, e);
  }

  /** The id (index in `names`) of `buf[s..e)`, interning it; -1 once the table is full and it is new. */
  internKeyedId(buf: Uint8Array, s: number, e: number, head: number, tail: number): number {
    const len = e - s;
    const slots = this.slots;
    let h = Math.imul(head ^ Math.imul(tail, 0x9e3779b1) ^ len, 0x85ebca6b);
    h ^= h >>> 15;
    let slot = h & (NAME_SLOTS - 1);
    while (true) {
      const id1 = slots[slot];
      if (id1 === 0) break;
      const id = id1 - 1;
      if (this.head[id] === head && this.tail[id] === tail && this.len[id] === len) {
        if (len <= 8) return id;
        const pool = this.pool;
        const o = this.start[id] - s;
        let i = s + 4;
        while (i < e && pool[o + i] === buf[i]) i++;
        if (i === e) return id;
      }
      slot = (slot + 1) & (NAME_SLOTS - 1);
    }
    return this.insert(buf, s, e, head, tail, slot);
  }

  /** Interns `buf[s..e)` at the free `slot` (kept apart: rare, and the lookup above stays small). */
  private insert(buf: Uint8Array, s: number, e: number, head: number, tail: number, slot: number): number {
    const len = e - s;
    const id = this.names.length;
    if (id >= MAX_NAMES) return -1;
    const str = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1', s, e);
    if (this.poolUsed + len > this.pool.length) {
      const bigger = new Uint8Array(Math.max(this.pool.length * 2, this.poolUsed + len));
      bigger.set(this.pool);
      this.pool = bigger;
    }
    this.pool.set(buf.subarray(s, e), this.poolUsed);
    this.start[id] = this.poolUsed;
    this.len[id] = len;
    this.head[id] = head;
    this.tail[id] = tail;
    this.poolUsed += len;
    this.names.push(str);
    this.idOf.set(str, id);
    this.slots[slot] = id + 1;
    return id;
  }
}

function parseUint(buf: Buffer, s: number, e: number): number {
  if (e <= s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * LID-DS 2021 `.sc`: (timestamps have 19 digits: seconds and nanoseconds are parsed apart so that
 * seconds·1e9 is exact and the one rounding of the sum gives the nearest double, as Number() would) `timestamp_ns uid pid process_name tid syscall direction args...`.
 * Returns false for an empty line; throws DatasetError on a malformed one. Names are interned in `names`.
 */
export function parseScLine(
  buf: Buffer,
  start: number,
  end: number,
  file: string,
  line: number,
  out: SyscallEventView,
  names: ScNameTable,
): boolean {
  if (end <= start) return false;
  const f0 = nextSpace(buf, start, end);
  const f1 = nextSpace(buf, f0 + 1, end);
  const f2 = nextSpace(buf, f1 + 1, end);
  const f3 = nextSpace(buf, f2 + 1, end);
  const f4 = nextSpace(buf, f3 + 1, end);
  const f5 = nextSpace(buf, f4 + 1, end);
  const f6 = f5 + 2 <= end && (f5 + 2 === end || buf[f5 + 2] === SP) ? f5 + 2 : nextSpace(buf, f5 + 1, end);
  if (f5 >= end)
    throw new DatasetError(
      file,
      line,
      `malformed .sc line (expected "timestamp uid pid process tid syscall direction ..."): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  let ts: number;
  if (f0 - start > 15) {
    const sec = parseUint(buf, start, f0 - 9);
    const ns = parseUint(buf, f0 - 9, f0);
    ts = sec < 0 || ns < 0 ? -1 : sec * 1e9 + ns;
  } else ts = parseUint(buf, start, f0);
  const pid = parseUint(buf, f1 + 1, f2);
  const tid = parseUint(buf, f3 + 1, f4);
  const d = buf[f5 + 1];
  if (ts < 0 || pid < 0 || tid < 0 || f6 !== f5 + 2 || (d !== 62 && d !== 60)) {
    throw new DatasetError(
      file,
      line,
      `malformed .sc line (bad timestamp, pid, tid or direction): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  }
  out.tsNs = ts;
  out.pid = pid;
  out.tid = tid;
  out.name = names.internLatin1(buf, f4 + 1, f5);
  out.dir = d === 62 ? '>' : '<';
  out.line = line;
  return true;
}

/**
 * LID-DS 2019 `.txt`: `event_no HH:MM:SS.nnnnnnnnn cpu uid process_name tid direction syscall args...`.
 * The timestamp is a time of day (the caller carries midnight roll-overs). Names are interned in `names`.
 */
export function parse2019Line(
  buf: Buffer,
  start: number,
  end: number,
  file: string,
  line: number,
  out: SyscallEventView,
  names: ScNameTable,
): boolean {
  if (end <= start) return false;
  const f0 = nextSpace(buf, start, end);
  const f1 = nextSpace(buf, f0 + 1, end);
  const f2 = nextSpace(buf, f1 + 1, end);
  const f3 = nextSpace(buf, f2 + 1, end);
  const f4 = nextSpace(buf, f3 + 1, end);
  const f5 = nextSpace(buf, f4 + 1, end);
  const f6 = nextSpace(buf, f5 + 1, end);
  const f7 = nextSpace(buf, f6 + 1, end);
  const bad = (why: string): never => {
    throw new DatasetError(
      file,
      line,
      `malformed LID-DS 2019 line (${why}): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  };
  if (f6 >= end) bad('expected "event_no time cpu uid process tid direction syscall ..."');
  // HH:MM:SS.nnnnnnnnn
  const t = f0 + 1;
  if (f1 - t < 10 || buf[t + 2] !== 58 || buf[t + 5] !== 58 || buf[t + 8] !== 46)
    bad('time is not HH:MM:SS.nnnnnnnnn');
  const hh = parseUint(buf, t, t + 2);
  const mm = parseUint(buf, t + 3, t + 5);
  const ss = parseUint(buf, t + 6, t + 8);
  let frac = parseUint(buf, t + 9, f1);
  if (hh < 0 || mm < 0 || ss < 0 || frac < 0) bad('time is not HH:MM:SS.nnnnnnnnn');
  for (let k = f1 - (t + 9); k < 9; k++) frac *= 10;
  const tid = parseUint(buf, f4 + 1, f5);
  const d = buf[f5 + 1];
  if (tid < 0 || f6 !== f5 + 2 || (d !== 62 && d !== 60)) bad('bad tid or direction');
  out.tsNs = ((hh * 60 + mm) * 60 + ss) * 1e9 + frac;
  out.tid = tid;
  out.pid = tid;
  out.name = names.internLatin1(buf, f6 + 1, f7);
  out.dir = d === 62 ? '>' : '<';
  out.line = line;
  return true;
}

/** Recent "uid pid process tid " runs a .sc parser remembers (a power of two), and their longest words. */
const REGIONS = 8;
const REGION_WORDS = 16;

/** Whether the four bytes of little-endian word `w` are all ASCII digits. */
function digits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && ((w + 0x06060606) & 0xf0f0f0f0) === 0x30303030;
}

/** The number written by four ASCII digits packed in a little-endian word (first digit lowest). */
function value4(w: number): number {
  const v = w & 0x0f0f0f0f;
  const t = (v * 10 + (v >>> 8)) & 0x00ff00ff;
  return (t & 0xff) * 100 + (t >>> 16);
}

/**
 * LID-DS 2021 `.sc` stream parser: splits and parses whole chunks in one pass. A line in the usual
 * shape (19-digit timestamp, numeric pid and tid, a non-empty name, a direction followed by a space
 * or the end of the line) is parsed in place while its bytes are scanned, once; any other line,
 * and a line split across two chunks, goes through `parseScLine` (same result, same errors).
 * `lines` counts every line, blank ones included, as LineSplitter does.
 */
export class ScStream extends ChunkSink {
  lines = 0;
  private rest: Buffer | null = null;
  private readonly ev = newEventView();
  /** Recent "uid pid process tid " runs: length (0 = none), words, parsed pid and tid. */
  private readonly regLen = new Int32Array(REGIONS);
  private readonly regWords = new Int32Array(REGIONS * REGION_WORDS);
  private readonly regPid = new Float64Array(REGIONS);
  private readonly regTid = new Float64Array(REGIONS);
  private regLast = 0;
  private regNext = 0;
  /** Direct-mapped cache of names of 4 to 8 bytes: first four bytes, last four, length, string. */
  private readonly cacheHead = new Int32Array(256);
  private readonly cacheTail = new Int32Array(256);
  private readonly cacheLen = new Int32Array(256);
  private readonly cacheName: string[] = new Array<string>(256).fill('');
  private readonly cacheId = new Int32Array(256);
  /** Batch mode: the batch being filled (null in event mode). */
  private readonly batch: SyscallBatch | null;
  /**
   * Event mode: `onEvent` gets every call. Batch mode (`onBatch` given): `onBatch` gets the calls in
   * batches of up to `batchSize`, handed over when full, at the end of every chunk, before a
   * malformed line's error and at the end; `onEvent` is not called. `names`: the table names are
   * interned in (a batch's `names` is its array); a stream has one of its own unless given one to share.
   */
  constructor(
    private readonly file: string,
    private readonly onEvent: (ev: SyscallEventView) => void,
    private readonly onBatch?: (b: SyscallBatch) => void,
    private readonly batchSize = 8192,
    private readonly names: ScNameTable = new ScNameTable(),
  ) {
    super();
    this.batch = onBatch
      ? {
          n: 0,
          nameIds: new Int32Array(batchSize),
          tids: new Float64Array(batchSize),
          tsNs: new Float64Array(batchSize),
          dirs: new Uint8Array(batchSize),
          names: names.names,
          extra: [],
        }
      : null;
  }

  /** Hands the pending batch over (batch mode), then starts a new one. */
  private flush(): void {
    const b = this.batch;
    if (b === null || b.n === 0) return;
    try {
      this.onBatch!(b);
    } finally {
      b.n = 0;
      b.extra.length = 0;
    }
  }

  /** Appends one call to the batch (batch mode); `id` as in SyscallBatch.nameIds, or -1 for `name`. */
  private add(id: number, name: string, tid: number, ts: number, dir: number): void {
    const b = this.batch!;
    const j = b.n;
    if (id < 0) {
      const known = this.names.idOf.get(name);
      if (known !== undefined) id = known;
      else {
        b.extra.push(name);
        id = ~(b.extra.length - 1);
      }
    }
    b.nameIds[j] = id;
    b.tids[j] = tid;
    b.tsNs[j] = ts;
    b.dirs[j] = dir;
    b.n = j + 1;
    if (j + 1 === this.batchSize) this.flush();
  }

  push(chunk: Buffer): void {
    let p = 0;
    if (this.rest) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.rest = Buffer.concat([this.rest, chunk]);
        return;
      }
      const joined = Buffer.concat([this.rest, chunk.subarray(0, nl)]);
      this.rest = null;
      this.slowLine(joined, 0, joined.length);
      p = nl + 1;
    }
    // The hot loop stops at any line it does not parse itself (and at the chunk's incomplete last
    // line): that line goes through parseScLine here, then the loop resumes after it.
    const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
    while (true) {
      p = this.scan(chunk, dv, p);
      if (p >= chunk.length) break;
      const nl = chunk.indexOf(NL, p);
      if (nl < 0) break;
      this.slowLine(chunk, p, nl);
      p = nl + 1;
    }
    if (p < chunk.length) this.rest = Buffer.from(chunk.subarray(p));
    this.flush();
  }

  end(): void {
    const r = this.rest;
    this.rest = null;
    if (r && r.length > 0) this.slowLine(r, 0, r.length);
    this.flush();
  }

  /** One line `buf[start..nl)` (nl: its newline, or the end of the data) through parseScLine. */
  private slowLine(buf: Buffer, start: number, nl: number): void {
    let end = nl;
    if (end > start && buf[end - 1] === CR) end--;
    const line = ++this.lines;
    const ev = this.ev;
    if (this.batch === null) {
      if (parseScLine(buf, start, end, this.file, line, ev, this.names)) this.onEvent(ev);
      return;
    }
    let ok: boolean;
    try {
      ok = parseScLine(buf, start, end, this.file, line, ev, this.names);
    } catch (e) {
      // The calls before the bad line are handed over first, as in event mode.
      this.flush();
      throw e;
    }
    if (ok) this.add(-1, ev.name, ev.tid, ev.tsNs, ev.dir === '>' ? 62 : 60);
  }

  /** pid and tid parsed by the last `region` call. */
  private pid = 0;
  private tid = 0;

  /**
   * Parses "uid pid process tid " from `r0` (kept apart from `scan`, which rarely needs it) and
   * remembers it among the recent runs. Returns the index after it, or -1 when the line is not in
   * the usual shape or runs past the chunk.
   */
  private region(buf: Buffer, dv: DataView, r0: number): number {
    const len = buf.length;
    // uid: skipped.
    let i = r0;
    let c = 0;
    while (i < len && (c = buf[i]) !== SP) {
      if (c === NL) return -1;
      i++;
    }
    if (i >= len) return -1;
    // pid.
    let pid = 0;
    const ps = ++i;
    while (i < len && (c = buf[i] - 48) >= 0 && c <= 9) {
      pid = pid * 10 + c;
      i++;
    }
    if (i === ps || i >= len || buf[i] !== SP) return -1;
    // Process name: skipped.
    i++;
    while (i < len && (c = buf[i]) !== SP) {
      if (c === NL) return -1;
      i++;
    }
    if (i >= len) return -1;
    // tid.
    let tid = 0;
    const ts = ++i;
    while (i < len && (c = buf[i] - 48) >= 0 && c <= 9) {
      tid = tid * 10 + c;
      i++;
    }
    if (i === ts || i >= len || buf[i] !== SP) return -1;
    i++;
    this.pid = pid;
    this.tid = tid;
    const L = i - r0;
    if (L <= REGION_WORDS * 4 && i + 4 <= len) {
      const k = this.regNext;
      this.regNext = (k + 1) & (REGIONS - 1);
      const base = k * REGION_WORDS;
      const nw = (L + 3) >>> 2;
      const rw = this.regWords;
      for (let j = 0; j < nw - 1; j++) rw[base + j] = dv.getInt32(r0 + 4 * j, true);
      rw[base + nw - 1] = dv.getInt32(r0 + L - 4, true);
      this.regLen[k] = L;
      this.regPid[k] = pid;
      this.regTid[k] = tid;
      this.regLast = k;
    }
    return i;
  }

  /**
   * Parses the lines of `buf` from `from` while they are in the usual shape; returns where the
   * first other line (or the incomplete last one) starts, or the end of `buf`. Nothing rare is
   * handled here, so that the optimised code of this loop does not meet untried paths.
   */
  private scan(buf: Buffer, dv: DataView, from: number): number {
    const len = buf.length;
    const ev = this.ev;
    const onEvent = this.onEvent;
    const bt = this.batch;
    const table = this.names;
    let p = from;
    while (p < len) {
      // Timestamp: 10 digits of seconds, 9 of nanoseconds, a space.
      const t = p + 19;
      if (t >= len || buf[t] !== SP) return p;
      // Four digits at a time: a little-endian word holds them first digit lowest.
      const w0 = dv.getUint32(p, true);
      const w1 = dv.getUint32(p + 4, true);
      const w2 = dv.getUint32(p + 8, true);
      const w3 = dv.getUint32(p + 12, true);
      const w4 = dv.getUint32(p + 15, true);
      if (!digits4(w0) || !digits4(w1) || !digits4(w2) || !digits4(w3) || !digits4(w4)) return p;
      const mid = value4(w2);
      const sec = value4(w0) * 1e6 + value4(w1) * 100 + ((mid / 100) | 0);
      const ns = (mid % 100) * 1e7 + value4(w3) * 1000 + (value4(w4) % 1000);
      // uid pid process tid: the same few runs of bytes repeat line after line (one per thread),
      // so a run seen on a recent line is recognised by comparing words and not parsed again.
      const r0 = t + 1;
      let i = -1;
      let pid = 0;
      let tid = 0;
      const rl = this.regLen;
      const rw = this.regWords;
      for (let q = 0; q < REGIONS; q++) {
        const k = (this.regLast + q) & (REGIONS - 1);
        const L = rl[k];
        if (L === 0 || r0 + L + 4 > len) continue;
        const base = k * REGION_WORDS;
        const nw = (L + 3) >>> 2;
        if (dv.getInt32(r0 + L - 4, true) !== rw[base + nw - 1]) continue;
        let j = 0;
        while (j < nw - 1 && dv.getInt32(r0 + 4 * j, true) === rw[base + j]) j++;
        if (j < nw - 1) continue;
        i = r0 + L;
        pid = this.regPid[k];
        tid = this.regTid[k];
        this.regLast = k;
        break;
      }
      if (i < 0) {
        i = this.region(buf, dv, r0);
        if (i < 0) return p;
        pid = this.pid;
        tid = this.tid;
      }
      // System-call name: found four bytes at a time (a space or a newline byte ends it).
      const ns0 = i;
      while (true) {
        if (i + 4 > len) return p;
        const w = dv.getUint32(i, true);
        const xs = w ^ 0x20202020;
        const xn = w ^ 0x0a0a0a0a;
        const m = ((xs - 0x01010101) & ~xs) | ((xn - 0x01010101) & ~xn);
        const hit = m & 0x80808080;
        if (hit !== 0) {
          // The lowest flagged byte is exact (a borrow only flags bytes above a true match).
          i += (31 - Math.clz32(hit & -hit)) >>> 3;
          break;
        }
        i += 4;
      }
      if (buf[i] !== SP) return p;
      const ne = i;
      // Direction, then a space or the end of the line.
      if (ne === ns0 || ne + 2 >= len) return p;
      const d = buf[ne + 1];
      if (d !== 62 && d !== 60) return p;
      let nl = ne + 2;
      const after = buf[nl];
      if (after === SP) {
        // The arguments: skipped four bytes at a time to the newline (arguments are a few dozen
        // bytes; a native indexOf costs more to call than this loop takes).
        // Eight bytes per turn: half the loop's branches and bounds checks.
        let j = nl + 1;
        while (true) {
          if (j + 8 > len) {
            nl = buf.indexOf(NL, j);
            break;
          }
          const x = dv.getUint32(j, true) ^ 0x0a0a0a0a;
          const y = dv.getUint32(j + 4, true) ^ 0x0a0a0a0a;
          const hx = (x - 0x01010101) & ~x & 0x80808080;
          const hy = (y - 0x01010101) & ~y & 0x80808080;
          if ((hx | hy) !== 0) {
            nl =
              hx !== 0
                ? j + ((31 - Math.clz32(hx & -hx)) >>> 3)
                : j + 4 + ((31 - Math.clz32(hy & -hy)) >>> 3);
            break;
          }
          j += 8;
        }
        if (nl < 0) return p;
      } else if (after !== NL) return p;
      const nlen = ne - ns0;
      if (bt !== null) {
        let id: number;
        if (nlen >= 4 && nlen <= 8) {
          const head = dv.getInt32(ns0, true);
          const tail = dv.getInt32(ne - 4, true);
          const k = Math.imul(head ^ tail ^ nlen, 0x9e3779b1) >>> 24;
          if (this.cacheHead[k] === head && this.cacheTail[k] === tail && this.cacheLen[k] === nlen) {
            id = this.cacheId[k];
          } else {
            id = table.internKeyedId(buf, ns0, ne, head, tail);
            if (id >= 0) {
              this.cacheHead[k] = head;
              this.cacheTail[k] = tail;
              this.cacheLen[k] = nlen;
              this.cacheName[k] = table.names[id];
              this.cacheId[k] = id;
            }
          }
        } else {
          const n4 = nlen < 4 ? nlen : 4;
          id = table.internKeyedId(buf, ns0, ne, pack(buf, ns0, n4), pack(buf, ne - n4, n4));
        }
        ++this.lines;
        if (id >= 0) {
          const j = bt.n;
          bt.nameIds[j] = id;
          bt.tids[j] = tid;
          bt.tsNs[j] = sec * 1e9 + ns;
          bt.dirs[j] = d;
          bt.n = j + 1;
          if (j + 1 === this.batchSize) this.flush();
        } else this.add(-1, buf.toString('latin1', ns0, ne), tid, sec * 1e9 + ns, d);
        p = nl + 1;
        continue;
      }
      ev.tsNs = sec * 1e9 + ns;
      ev.pid = pid;
      ev.tid = tid;
      if (nlen >= 4 && nlen <= 8) {
        // A name of 4 to 8 bytes is its first and last four: a direct-mapped cache of them
        // answers most lines before the interning table.
        const head = dv.getInt32(ns0, true);
        const tail = dv.getInt32(ne - 4, true);
        const k = Math.imul(head ^ tail ^ nlen, 0x9e3779b1) >>> 24;
        if (this.cacheHead[k] === head && this.cacheTail[k] === tail && this.cacheLen[k] === nlen) {
          ev.name = this.cacheName[k];
        } else {
          const id = table.internKeyedId(buf, ns0, ne, head, tail);
          if (id >= 0) {
            const name = table.names[id];
            this.cacheHead[k] = head;
            this.cacheTail[k] = tail;
            this.cacheLen[k] = nlen;
            this.cacheName[k] = name;
            this.cacheId[k] = id;
            ev.name = name;
          } else ev.name = buf.toString('latin1', ns0, ne);
        }
      } else ev.name = table.internLatin1(buf, ns0, ne);
      ev.dir = d === 62 ? '>' : '<';
      ev.line = ++this.lines;
      onEvent(ev);
      p = nl + 1;
    }
    return p;
  }
}

export function newEventView(): SyscallEventView {
  return { tsNs: 0, tid: 0, pid: 0, name: '', dir: '>', line: 0 };
}
