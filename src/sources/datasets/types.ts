/** Shared shapes of the offline data-set readers. */

export type Split = 'training' | 'validation' | 'test';

/**
 * One system call as the sequence models need it. Passed to a callback and reused by the reader
 * (copy what you keep): reading stays allocation-light at millions of lines per second.
 */
export interface SyscallEventView {
  /** Nanoseconds since the epoch, as a double (sub-microsecond precision is lost; order is kept). */
  tsNs: number;
  tid: number;
  pid: number;
  name: string;
  /** '>' enter or '<' exit. */
  dir: '>' | '<';
  /** 1-based line number in the source file (for error messages). */
  line: number;
}

/**
 * A run of consecutive system calls as parallel typed arrays (`n` of them, in file order). Handed
 * to a callback and reused by the reader once it returns (copy what you keep). A consumer may also
 * take the four arrays and put new ones of the same length in their place (the reader writes the
 * next calls into whatever arrays the batch holds).
 */
export interface SyscallBatch {
  n: number;
  /** Name of call i: `names[nameIds[i]]` when ≥ 0, else `extra[~nameIds[i]]`. */
  nameIds: Int32Array;
  tids: Float64Array;
  /** Nanoseconds since the epoch, as in SyscallEventView. */
  tsNs: Float64Array;
  /** 62 ('>') enter or 60 ('<') exit. */
  dirs: Uint8Array;
  /** The reader's name table: stable ids, shared by every batch of the same reader (it only grows). */
  names: readonly string[];
  /** Names outside the table, for this batch only. */
  extra: string[];
}

export interface SyscallRecording {
  scenario: string;
  name: string;
  /** The file it came from (zip, txt, jsonl). */
  path: string;
  split: Split;
  /** Whether an exploit runs during the recording. */
  exploit: boolean;
  /** Exploit start in ns since the epoch (LID-DS 2021: `time.exploit[0].absolute`). */
  exploitTimeNs?: number;
  /** Streams every event to `onEvent`; rejects with an error naming file and line on bad input. */
  read(onEvent: (ev: SyscallEventView) => void): Promise<{ lines: number }>;
  /**
   * The same calls as `read`, in batches (optional: readers without it are read per event). On bad
   * input, every call before the bad line has been handed over before the rejection, as with `read`.
   * `next`: the recording the caller reads after this one, which a reader may start on early.
   */
  readBatches?(onBatch: (b: SyscallBatch) => void, next?: SyscallRecording): Promise<{ lines: number }>;
}

/** A reader error that names the input and the place. */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    /** What is wrong, without the place. */
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
    this.name = 'DatasetError';
  }
}

/** Progress to stderr on long runs (only when stderr is a terminal or VIGIE_PROGRESS=1). */
export class Progress {
  private last = 0;
  private readonly enabled: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {
    this.enabled = process.stderr.isTTY === true || process.env.VIGIE_PROGRESS === '1';
  }
  tick(done: number, extra = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 500 && done < this.total) return;
    this.last = now;
    const pct = this.total > 0 ? Math.floor((100 * done) / this.total) : 0;
    const width = 30;
    const bar = '#'.repeat(Math.floor((pct / 100) * width)).padEnd(width, '.');
    process.stderr.write(`\r${this.label} [${bar}] ${done}/${this.total} ${extra}`.slice(0, 120));
    if (done >= this.total) process.stderr.write('\n');
  }
}
