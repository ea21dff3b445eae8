/**
 * Worker thread that reads LID-DS 2021 recordings (inflate + .sc parse) and posts the calls to the
 * thread that asked, in batches, so that parsing and the models' work run on two cores. Started and
 * driven by `sc-worker-client.ts`; the protocol is described there.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { readScBatchesInThread } from './lidds2021.js';
import { ScNameTable } from './sc-parser.js';
import { DatasetError, type SyscallBatch } from './types.js';

/** Calls per batch: larger than the parser's default, fewer messages. */
const BATCH = 16384;

interface ReadRequest {
  type: 'read';
  id: number;
  path: string;
  maxInFlight: number;
}

/** The thread's reads: its name table, the flow counter it shares with the client, its queue. */
class ScReadWorker {
  /** Batches posted and not yet consumed (shared with the client once it sends `init`). */
  private flow = new Int32Array(new SharedArrayBuffer(4));
  /** Every read interns its names here, so that the client's mirror stays valid across reads. */
  private readonly names = new ScNameTable();
  /** Names of the table already sent (the table only grows). */
  private namesSent = 0;
  private readonly cancelled = new Set<number>();
  /**
   * Reads hand their calls over one after the other, in the order asked; a read ahead opens its zip
   * at once (while the read before it is still parsed) and waits for that read to end before it
   * reads any data. Settles when every read asked so far has ended.
   */
  private reads: Promise<unknown> = Promise.resolve();

  constructor(private readonly port: MessagePort) {}

  start(): void {
    this.port.on('message', (m: { type: string; id?: number; flow?: SharedArrayBuffer }) => {
      if (m.type === 'init') this.flow = new Int32Array(m.flow!);
      else if (m.type === 'cancel') this.cancelled.add(m.id!);
      else if (m.type === 'read') {
        const previous = this.reads;
        this.reads = Promise.allSettled([previous, this.read(m as ReadRequest, previous)]);
      }
    });
    this.port.postMessage({ type: 'ready' });
  }

  private post(id: number, b: SyscallBatch, maxInFlight: number): void {
    if (this.cancelled.has(id)) throw new Error('read cancelled by the consumer');
    const flow = this.flow;
    // Bounded: wait while the consumer holds maxInFlight batches (it wakes this thread per batch).
    for (let f = Atomics.load(flow, 0); f >= maxInFlight; f = Atomics.load(flow, 0))
      Atomics.wait(flow, 0, f, 1000);
    Atomics.add(flow, 0, 1);
    // The batch's arrays are handed over whole (transferred, not copied); the parser gets new ones.
    const { n, nameIds, tids, tsNs, dirs } = b;
    const size = nameIds.length;
    b.nameIds = new Int32Array(size);
    b.tids = new Float64Array(size);
    b.tsNs = new Float64Array(size);
    b.dirs = new Uint8Array(size);
    const newNames = b.names.length > this.namesSent ? b.names.slice(this.namesSent) : undefined;
    this.namesSent = b.names.length;
    this.port.postMessage(
      {
        type: 'batch',
        id,
        n,
        nameIds,
        tids,
        tsNs,
        dirs,
        newNames,
        extra: b.extra.length ? [...b.extra] : undefined,
      },
      [nameIds.buffer, tids.buffer, tsNs.buffer, dirs.buffer] as ArrayBuffer[],
    );
  }

  /** Reads `m.path`; its data only once `previous` (the read asked before it) has ended. */
  private async read(m: ReadRequest, previous: Promise<unknown>): Promise<void> {
    try {
      // A read ahead that the consumer dropped before it began.
      if (this.cancelled.has(m.id)) throw new Error('read cancelled by the consumer');
      const { lines } = await readScBatchesInThread(
        m.path,
        (b) => this.post(m.id, b, m.maxInFlight),
        this.names,
        BATCH,
        previous,
      );
      this.port.postMessage({ type: 'done', id: m.id, lines });
    } catch (e) {
      const err = e as Error;
      this.port.postMessage({
        type: 'error',
        id: m.id,
        message: err.message,
        dataset:
          err instanceof DatasetError ? { file: err.file, line: err.line, reason: err.reason } : undefined,
      });
    } finally {
      this.cancelled.delete(m.id);
    }
  }
}

if (!parentPort) throw new Error('sc-worker.ts runs as a worker thread');
new ScReadWorker(parentPort).start();
