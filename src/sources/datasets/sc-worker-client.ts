/**
 * Reads LID-DS 2021 .sc streams on a worker thread (`sc-worker.ts`): inflating and parsing take
 * about as long as the sequence models' work, so splitting them over two threads nearly halves an
 * evaluation's wall-clock time on a machine with two cores or more.
 *
 * Protocol: the client sends `{read, id, path}`; the worker answers with `batch` messages (the
 * batch's typed arrays transferred, plus the names its parser's table gained since the last batch,
 * so the client keeps a mirror of that table and batch name ids stay valid), then one `done` or
 * `error`. A shared counter bounds the batches in flight: the worker blocks while the consumer holds
 * `MAX_IN_FLIGHT` of them, so a slow consumer never makes memory grow. One worker per process,
 * started on first use and not keeping the process alive when idle. When no worker can be started
 * (no worker support, the module cannot be loaded), reading falls back to this thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DatasetError, type SyscallBatch } from './types.js';

/** Batches (of up to 16,384 calls) the worker may have posted ahead of the consumer. */
export const MAX_IN_FLIGHT = 8;

interface Pending {
  path: string;
  onBatch: (b: SyscallBatch) => void;
  resolve: (r: { lines: number }) => void;
  reject: (e: Error) => void;
  /** The consumer threw: later batches are dropped, the worker was told to stop. */
  failed: boolean;
}

type WorkerMessage =
  | {
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
  | { type: 'done'; id: number; lines: number }
  | {
      type: 'error';
      id: number;
      message: string;
      dataset?: { file: string; line: number | undefined; reason: string };
    }
  | { type: 'ready' };

class ScWorkerClient {
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
          p.reject(new DatasetError(p.path, undefined, `reader thread stopped: ${e.message}`));
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

  read(path: string, onBatch: (b: SyscallBatch) => void): Promise<{ lines: number }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { path, onBatch, resolve, reject, failed: false });
      // Kept alive while a read is pending, so that awaiting it does not let the process exit.
      this.worker.ref();
      this.worker.postMessage({ type: 'read', id, path, maxInFlight: MAX_IN_FLIGHT });
    });
  }

  private finish(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'batch') {
      this.stats.batches++;
      const inFlight = Atomics.load(this.flow, 0);
      if (inFlight > this.stats.maxInFlight) this.stats.maxInFlight = inFlight;
      if (m.newNames) for (const s of m.newNames) this.names.push(s);
      const p = this.pending.get(m.id);
      try {
        if (p && !p.failed) {
          p.onBatch({
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
        p!.failed = true;
        this.worker.postMessage({ type: 'cancel', id: m.id });
        p!.reject(e as Error);
      } finally {
        Atomics.sub(this.flow, 0, 1);
        Atomics.notify(this.flow, 0);
      }
    } else if (m.type === 'done') {
      const p = this.finish(m.id);
      if (p && !p.failed) p.resolve({ lines: m.lines });
    } else if (m.type === 'error') {
      const p = this.finish(m.id);
      if (!p || p.failed) return;
      const d = m.dataset;
      p.reject(d ? new DatasetError(d.file, d.line, d.reason) : new Error(m.message));
    }
  }
}

let client: ScWorkerClient | null = null;
/** A worker failed to start once: this process reads on its own thread from then on. */
let unavailable = false;

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
 * The process's reader worker, or null when reading should stay on this thread: disabled with
 * VIGIE_READ_WORKER=0, or a worker could not start.
 */
export async function scWorker(): Promise<ScWorkerClient | null> {
  if (process.env.VIGIE_READ_WORKER === '0' || unavailable) return null;
  if (client === null || !client.usable) {
    try {
      client = new ScWorkerClient(workerEntry());
    } catch {
      unavailable = true;
      return null;
    }
  }
  if (await client.ready) return client;
  unavailable = true;
  return null;
}
