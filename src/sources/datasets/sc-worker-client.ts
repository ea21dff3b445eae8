/**
 * Reads LID-DS 2021 .sc streams on a worker thread (`sc-worker.ts`): inflating and parsing take
 * about as long as the sequence models' work, so splitting them over two threads nearly halves an
 * evaluation's wall-clock time on a machine with two cores or more.
 *
 * Protocol: the client sends `{read, id, path}`; the worker answers with `batch` messages (the
 * batch's typed arrays transferred, plus the names its parser's table gained since the last batch,
 * so the client keeps a mirror of that table and batch name ids stay valid), then one `done` or
 * `error`. A shared counter bounds the batches in flight: the worker blocks while the consumer holds
 * `MAX_IN_FLIGHT` of them, so a slow consumer never makes memory grow. A read may name the recording
 * to be read after it: the worker starts on that one as soon as it is done with the current one
 * (reads run one after the other), and its batches wait here until it is read, within the same
 * bound, so the worker does not sit idle while the consumer finishes a recording and the consumer
 * does not wait for the next one to be opened. A recording read ahead and then not read is dropped
 * at the next read. One worker per ScWorkerHost (a reader owns one), started on first use and not
 * keeping the process alive when idle. When no worker can be started (no worker support, the module
 * cannot be loaded), reading falls back to this thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DatasetError, type SyscallBatch } from './types.js';

/** Batches (of up to 16,384 calls) the worker may have posted ahead of the consumer. */
export const MAX_IN_FLIGHT = 8;

interface BatchMessage {
  type: 'batch';
  id: number;
  n: number;
  nameIds: Int32Array;
  tids: Float64Array;
  tsNs: Float64Array;
  dirs: Uint8Array;
  newNames?: string[];
  extra?: string[];
}

interface Consumer {
  onBatch: (b: SyscallBatch) => void;
  resolve: (r: { lines: number }) => void;
  reject: (e: Error) => void;
}

interface Pending {
  path: string;
  /** Who reads it; null while it is only read ahead (its batches are then queued). */
  consumer: Consumer | null;
  queued: BatchMessage[];
  /** How a read ahead ended before anyone read it. */
  outcome: { lines: number } | Error | null;
  /** The consumer threw: later batches are dropped, the worker was told to stop. */
  failed: boolean;
}

type WorkerMessage =
  | BatchMessage
  | { type: 'done'; id: number; lines: number }
  | {
      type: 'error';
      id: number;
      message: string;
      dataset?: { file: string; line: number | undefined; reason: string };
    }
  | { type: 'ready' };

export class ScWorkerClient {
  private readonly worker: Worker;
  /** Resolves true once the worker runs, false when it could not start. */
  readonly ready: Promise<boolean>;
  private readonly flow = new Int32Array(new SharedArrayBuffer(4));
  /** Mirror of the worker parser's name table (stable identity: callers key maps on it). */
  private readonly names: string[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  /** Batches received, and the most that were posted and not yet consumed at once. */
  readonly stats = { batches: 0, maxInFlight: 0 };

  constructor(w: { entry: URL | string; eval: boolean }) {
    this.worker = new Worker(w.entry, { eval: w.eval });
    this.worker.unref();
    let started = false;
    this.ready = new Promise<boolean>((res) => {
      this.worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          started = true;
          res(true);
        } else this.onMessage(m);
      });
      const fail = (e: Error): void => {
        this.dead = e;
        if (!started) res(false);
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.consumer?.reject(new DatasetError(p.path, undefined, `reader thread stopped: ${e.message}`));
        }
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    });
    this.worker.postMessage({ type: 'init', flow: this.flow.buffer });
  }

  get usable(): boolean {
    return this.dead === null;
  }

  /** Why the worker stopped (or never started); null while it runs. */
  get failure(): Error | null {
    return this.dead;
  }

  /** Stops the worker; pending reads reject. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  /**
   * Reads the recording zip at `path`, handing its calls to `onBatch`. `next`: the recording the
   * caller will read after this one, which the worker starts on as soon as this one is done.
   */
  read(path: string, onBatch: (b: SyscallBatch) => void, next?: string): Promise<{ lines: number }> {
    if (this.dead) return Promise.reject(this.dead);
    // A recording read ahead for another path will not be read: drop it, so that the worker is
    // not left waiting for its queued batches to be consumed.
    let ahead: number | undefined;
    for (const [id, p] of this.pending) {
      if (p.consumer !== null) continue;
      if (p.path === path && ahead === undefined) ahead = id;
      else this.drop(id, p);
    }
    // Kept alive while a read is pending, so that awaiting it does not let the process exit (a
    // read ahead alone does not).
    this.worker.ref();
    const promise = new Promise<{ lines: number }>((resolve, reject) => {
      const consumer = { onBatch, resolve, reject };
      if (ahead === undefined) {
        this.post(path, consumer);
        return;
      }
      // Read ahead already: its queued batches first, then the rest as they come.
      const p = this.pending.get(ahead)!;
      p.consumer = consumer;
      for (const m of p.queued.splice(0)) this.deliver(m, p);
      if (p.outcome !== null) this.settle(ahead, p, p.outcome);
    });
    if (next !== undefined && next !== path) this.post(next, null);
    return promise;
  }

  /** Asks the worker to read `path` for `consumer` (null: a read ahead). */
  private post(path: string, consumer: Consumer | null): void {
    const id = this.nextId++;
    this.pending.set(id, { path, consumer, queued: [], outcome: null, failed: false });
    this.worker.postMessage({ type: 'read', id, path, maxInFlight: MAX_IN_FLIGHT });
  }

  /** Drops a read ahead that will not be read: its batches are released, the worker told to stop. */
  private drop(id: number, p: Pending): void {
    this.pending.delete(id);
    if (p.outcome === null) this.worker.postMessage({ type: 'cancel', id });
    this.release(p.queued.splice(0).length);
  }

  /** `k` batches consumed or dropped: the worker may post as many more. */
  private release(k: number): void {
    if (k === 0) return;
    Atomics.sub(this.flow, 0, k);
    Atomics.notify(this.flow, 0);
  }

  /** A read with a consumer has ended: the consumer learns how (unless it failed itself). */
  private settle(id: number, p: Pending, outcome: { lines: number } | Error): void {
    this.pending.delete(id);
    let reading = false;
    for (const q of this.pending.values()) reading ||= q.consumer !== null;
    if (!reading) this.worker.unref();
    if (p.failed) return;
    if (outcome instanceof Error) p.consumer!.reject(outcome);
    else p.consumer!.resolve(outcome);
  }

  /** Hands one batch to the consumer of `p` (dropped when it failed), then releases it. */
  private deliver(m: BatchMessage, p: Pending): void {
    try {
      if (!p.failed) {
        p.consumer!.onBatch({
          n: m.n,
          nameIds: m.nameIds,
          tids: m.tids,
          tsNs: m.tsNs,
          dirs: m.dirs,
          names: this.names,
          extra: m.extra ?? [],
        });
      }
    } catch (e) {
      p.failed = true;
      this.worker.postMessage({ type: 'cancel', id: m.id });
      p.consumer!.reject(e as Error);
    } finally {
      this.release(1);
    }
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'batch') {
      this.stats.batches++;
      const inFlight = Atomics.load(this.flow, 0);
      if (inFlight > this.stats.maxInFlight) this.stats.maxInFlight = inFlight;
      // Names first, even for a batch that waits or is dropped: later batches' ids build on them.
      if (m.newNames) for (const s of m.newNames) this.names.push(s);
      const p = this.pending.get(m.id);
      if (!p) this.release(1);
      else if (p.consumer === null) p.queued.push(m);
      else this.deliver(m, p);
    } else if (m.type === 'done' || m.type === 'error') {
      const p = this.pending.get(m.id);
      if (!p) return;
      const d = m.type === 'error' ? m.dataset : undefined;
      const outcome =
        m.type === 'done'
          ? { lines: m.lines }
          : d
            ? new DatasetError(d.file, d.line, d.reason)
            : new Error(m.message);
      if (p.consumer === null) p.outcome = outcome;
      else this.settle(m.id, p, outcome);
    }
  }
}

/**
 * The worker's entry. Built JavaScript runs `sc-worker.js` beside this file; from the TypeScript
 * sources (tests, benchmarks) the worker registers the same TypeScript loader first, as a worker
 * does not inherit the loader hooks of the thread that starts it.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { entry: new URL('./sc-worker.js', import.meta.url), eval: false };
  const api = createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const target = new URL('./sc-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
  return { entry: code, eval: true };
}

/**
 * Starts the reader worker on first use (and again if it died) and hands it out; `null` when
 * reading should stay on the caller's thread: disabled with VIGIE_READ_WORKER=0, or a worker could
 * not start, which this host then never tries again.
 */
export class ScWorkerHost {
  private client: ScWorkerClient | null = null;
  /** Why a worker failed to start, once: reads stay on the caller's thread from then on. */
  private unavailable: Error | null = null;

  /** The running worker, or null when reading should stay on this thread. */
  async worker(): Promise<ScWorkerClient | null> {
    if (process.env.VIGIE_READ_WORKER === '0' || this.unavailable !== null) return null;
    if (this.client === null || !this.client.usable) {
      try {
        this.client = new ScWorkerClient(workerEntry());
      } catch (e) {
        // No worker support here: the caller's thread reads (the fallback, not a failure).
        this.unavailable = e as Error;
        return null;
      }
    }
    if (await this.client.ready) return this.client;
    this.unavailable = this.client.failure ?? new Error('the reader worker did not start');
    return null;
  }

  /** Stops the worker, if one runs (a later read starts a new one). */
  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c !== null) await c.terminate();
  }
}
