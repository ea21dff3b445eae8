/**
 * LID-DS 2021 reader: `<scenario>/{training,validation,test/normal,test/normal_and_attack}/<name>.zip`,
 * each zip holding `<name>.sc` (system calls), `<name>.json` (metadata), `<name>.res` (resources) and
 * `<name>.pcap`. The .sc is inflated and parsed as a stream; nothing holds a whole recording.
 */
import { closeSync, createReadStream, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { constants as zlibConstants, createInflateRaw, type InflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import { ScNameTable, ScStream } from './sc-parser.js';
import { ScWorkerHost } from './sc-worker-client.js';
import {
  DatasetError,
  type Split,
  type SyscallBatch,
  type SyscallEventView,
  type SyscallRecording,
} from './types.js';

export interface LidDs2021Meta {
  exploit: boolean;
  exploitTimeNs?: number;
  recordingTime?: number;
  containers: { name?: string; role?: string; ip?: string }[];
}

const SPLIT_DIRS: [string, Split][] = [
  ['training', 'training'],
  ['validation', 'validation'],
  [join('test', 'normal'), 'test'],
  [join('test', 'normal_and_attack'), 'test'],
];

/** Scenario folders under `dir` (or `dir` itself when it is one). */
export function findScenarios(dir: string, marker = 'training'): string[] {
  if (existsSync(join(dir, marker))) return [dir];
  const out: string[] = [];
  for (const d of readdirSync(dir).sort()) {
    const full = join(dir, d);
    if (statSync(full).isDirectory() && existsSync(join(full, marker))) out.push(full);
  }
  if (out.length === 0)
    throw new Error(`${dir}: no LID-DS scenario here (a scenario folder holds ${marker}/)`);
  return out;
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((res, rej) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zf) => {
      if (err || !zf)
        rej(new DatasetError(path, undefined, `cannot open zip: ${err?.message ?? 'unknown error'}`));
      else res(zf);
    }),
  );
}

async function listEntries(zf: yauzl.ZipFile, path: string): Promise<yauzl.Entry[]> {
  return new Promise((res, rej) => {
    const entries: yauzl.Entry[] = [];
    zf.on('entry', (e: yauzl.Entry) => {
      entries.push(e);
      zf.readEntry();
    });
    zf.on('end', () => res(entries));
    zf.on('error', (err: Error) => rej(new DatasetError(path, undefined, `corrupt zip: ${err.message}`)));
    zf.readEntry();
  });
}

function entryStream(zf: yauzl.ZipFile, e: yauzl.Entry, path: string): Promise<Readable> {
  return new Promise((res, rej) =>
    zf.openReadStream(e, (err, s) => {
      if (err || !s)
        rej(
          new DatasetError(
            `${path}:${e.fileName}`,
            undefined,
            `cannot read entry: ${err?.message ?? 'unknown error'}`,
          ),
        );
      else res(s);
    }),
  );
}

async function readEntryText(zf: yauzl.ZipFile, e: yauzl.Entry, path: string): Promise<string> {
  const s = await entryStream(zf, e, path);
  const chunks: Buffer[] = [];
  await new Promise<void>((res, rej) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => res());
    s.on('error', (err: Error) =>
      rej(new DatasetError(`${path}:${e.fileName}`, undefined, `truncated or corrupt entry: ${err.message}`)),
    );
  });
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses the recording's .json metadata. */
export function parseLidDs2021Meta(text: string, file: string): LidDs2021Meta {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, undefined, `metadata is not JSON: ${(e as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || typeof j.exploit !== 'boolean') {
    throw new DatasetError(file, undefined, 'metadata lacks the boolean "exploit" field');
  }
  let exploitTimeNs: number | undefined;
  if (j.exploit) {
    const abs = j.time?.exploit?.[0]?.absolute;
    if (typeof abs !== 'number')
      throw new DatasetError(file, undefined, 'exploit recording without time.exploit[0].absolute');
    exploitTimeNs = abs * 1e9;
  }
  return {
    exploit: j.exploit,
    exploitTimeNs,
    recordingTime: typeof j.recording_time === 'number' ? j.recording_time : undefined,
    containers: Array.isArray(j.container) ? j.container : [],
  };
}

/**
 * Reads the .sc of LID-DS 2021 recordings in batches for one evaluation: on its reader worker
 * thread while one runs (see sc-worker-client.ts), else on this thread, where every read interns
 * its names in the reader's one table (so every batch shares one `names`). `workers`: null to read
 * on this thread only. `close` stops the worker.
 */
export class LidDs2021Reader {
  private readonly names = new ScNameTable();
  constructor(private readonly workers: ScWorkerHost | null = new ScWorkerHost()) {}

  /** The calls of the recording zip at `path`, in batches; `next`: the zip to be read after it, read ahead. */
  async readBatches(
    path: string,
    onBatch: (b: SyscallBatch) => void,
    next?: string,
  ): Promise<{ lines: number }> {
    const worker = this.workers === null ? null : await this.workers.worker();
    return worker ? worker.read(path, onBatch, next) : readScBatchesInThread(path, onBatch, this.names);
  }

  async close(): Promise<void> {
    await this.workers?.close();
  }
}

/**
 * Opens one recording zip: reads its metadata now (so a missing or bad .json fails early),
 * and returns a recording whose `read` streams the .sc. `reader`: reads its batches (the
 * evaluation's one reader); without it, they are read on this thread, with a name table per read.
 */
export async function openLidDs2021Recording(
  path: string,
  scenario: string,
  split: Split,
  reader?: LidDs2021Reader,
): Promise<SyscallRecording & { meta: LidDs2021Meta }> {
  const name = basename(path).replace(/\.zip$/, '');
  const zf = await openZip(path);
  let meta: LidDs2021Meta;
  try {
    const entries = await listEntries(zf, path);
    const json = entries.find((e) => e.fileName.endsWith('.json'));
    const sc = entries.find((e) => e.fileName.endsWith('.sc'));
    if (!json)
      throw new DatasetError(
        path,
        undefined,
        `no .json metadata in the zip (entries: ${entries.map((e) => e.fileName).join(', ') || 'none'})`,
      );
    if (!sc) throw new DatasetError(path, undefined, `no .sc system-call file in the zip`);
    meta = parseLidDs2021Meta(await readEntryText(zf, json, path), `${path}:${json.fileName}`);
  } finally {
    zf.close();
  }
  return {
    scenario,
    name,
    path,
    split,
    exploit: meta.exploit,
    exploitTimeNs: meta.exploitTimeNs,
    meta,
    read: (onEvent) => readScFromZip(path, onEvent),
    readBatches: (onBatch, next) =>
      reader
        ? reader.readBatches(path, onBatch, next?.path.endsWith('.zip') ? next.path : undefined)
        : readScBatchesInThread(path, onBatch),
  };
}

/** Whether the entry's data is deflated (and not encrypted): what this reader inflates itself. */
function isDeflated(e: yauzl.Entry): boolean {
  return e.compressionMethod === 8 && !e.isEncrypted();
}

/** Where the entry's data starts in the zip file (yauzl has checked that it lies within the file). */
function entryDataStart(zf: yauzl.ZipFile, e: yauzl.Entry, path: string): Promise<number> {
  return new Promise<number>((res, rej) =>
    zf.readLocalFileHeader(e, { minimal: true }, (err, h) => {
      if (err || !h)
        rej(
          new DatasetError(
            `${path}:${e.fileName}`,
            undefined,
            `cannot read entry: ${err?.message ?? 'unknown error'}`,
          ),
        );
      else res(h.fileDataStart);
    }),
  );
}

/** Inflated output chunk size: 1 MiB chunks cost a third of zlib's default 16 KiB ones. */
const INFLATE_CHUNK = 1 << 20;

/**
 * The inflated data of a deflated (or stored) entry, in large chunks, with the entry's declared
 * size checked (a short or long entry is an error, worded as yauzl words it). `ready`: reading the
 * data waits for it (the zip is opened and the entry's header read before).
 */
async function inflatedEntry(
  zf: yauzl.ZipFile,
  e: yauzl.Entry,
  path: string,
  ready?: Promise<unknown>,
): Promise<Readable> {
  if (!isDeflated(e)) {
    await ready;
    return entryStream(zf, e, path);
  }
  // The compressed bytes are read straight from the file in 1 MiB pieces (yauzl's own stream
  // reads 16 KiB at a time).
  const start = await entryDataStart(zf, e, path);
  await ready;
  const raw =
    e.compressedSize === 0
      ? Readable.from([])
      : createReadStream(path, { start, end: start + e.compressedSize - 1, highWaterMark: INFLATE_CHUNK });
  const expected = e.uncompressedSize;
  let got = 0;
  const counted = new Transform({
    // Room for a few inflated pieces, so that inflating runs ahead of the parser (see drain);
    // object mode hands them over one by one (a byte stream's read() would concatenate them).
    readableObjectMode: true,
    readableHighWaterMark: 4,
    transform(chunk: Buffer, _enc, cb) {
      got += chunk.length;
      if (got > expected)
        cb(new Error(`too many bytes in the stream. expected ${expected}. got at least ${got}`));
      else cb(null, chunk);
    },
    flush(cb) {
      if (got < expected)
        cb(new Error(`not enough bytes in the stream. expected ${expected}. got only ${got}`));
      else cb();
    },
  });
  // Errors reach `counted` (destroyed with them); the caller listens there.
  pipeline(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK }), counted, () => {});
  return counted;
}

/** Compressed bytes read per piece, and inflated bytes handed to the parser per piece (which stay in the core's cache while they are parsed). */
const SYNC_IN = 1 << 16;
const SYNC_OUT = 1 << 18;
/** Inflated pieces between two turns of the event loop (a long recording does not hold it for seconds). */
const PIECES_PER_TURN = 16;

/** The engine of a Node zlib stream, driven synchronously (what `zlib.inflateRawSync` does inside). */
interface ZlibEngine {
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    out: Buffer,
    outOff: number,
    outLen: number,
  ): void;
}

/**
 * A raw inflater whose engine this thread drives itself: its output goes into one buffer that is
 * reused, piece after piece, and nothing runs on zlib's thread pool. The streaming API allocates a
 * new output buffer per piece (fresh pages, which the kernel faults in and zeroes: about as costly
 * as inflating them) and hands every piece across threads. The engine and its state array are
 * the stream's own (`_handle`, `_writeState`, on which `zlib.inflateRawSync` runs); null when this
 * Node does not have them, and the streaming path is taken.
 */
function syncInflater(): { z: InflateRaw; engine: ZlibEngine; state: Uint32Array } | null {
  const z = createInflateRaw();
  const inner = z as unknown as { _handle?: Partial<ZlibEngine>; _writeState?: unknown };
  const engine = inner._handle;
  const state = inner._writeState;
  if (typeof engine?.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2) {
    z.close();
    return null;
  }
  // A zlib error is reported by destroying the stream with it (read back from `errored` below);
  // the 'error' event that follows has nothing left to tell.
  z.on('error', () => {});
  return { z, engine: engine as ZlibEngine, state };
}

/**
 * Inflates the deflated entry `e` (data at `start` in the file) on this thread, handing the
 * inflated data to `onPiece` in pieces of up to SYNC_OUT bytes; the piece's buffer is reused once
 * `onPiece` returns. Checks the declared size as `inflatedEntry` does (same errors). Returns false,
 * having read nothing, when the engine cannot be driven here.
 */
async function inflateEntryInThread(
  path: string,
  start: number,
  e: yauzl.Entry,
  onPiece: (piece: Buffer) => void,
): Promise<boolean> {
  const inflater = syncInflater();
  if (inflater === null) return false;
  const { z, engine, state } = inflater;
  const expected = e.uncompressedSize;
  const fd = openSync(path, 'r');
  try {
    const input = Buffer.allocUnsafe(Math.min(SYNC_IN, Math.max(1, e.compressedSize)));
    const out = Buffer.allocUnsafe(SYNC_OUT);
    let got = 0;
    let read = 0;
    let pieces = 0;
    let ended = false;
    while (!ended) {
      const want = Math.min(input.length, e.compressedSize - read);
      const n = want > 0 ? readSync(fd, input, 0, want, start + read) : 0;
      if (want > 0 && n === 0) throw new Error('unexpected end of file');
      read += n;
      const flush = read >= e.compressedSize ? zlibConstants.Z_FINISH : zlibConstants.Z_NO_FLUSH;
      let inOff = 0;
      let inLen = n;
      while (true) {
        engine.writeSync(flush, input, inOff, inLen, out, 0, SYNC_OUT);
        if (z.errored) throw z.errored;
        const availOut = state[0];
        const availIn = state[1];
        const have = SYNC_OUT - availOut;
        if (have > 0) {
          got += have;
          if (got > expected)
            throw new Error(`too many bytes in the stream. expected ${expected}. got at least ${got}`);
          onPiece(out.subarray(0, have));
          if (++pieces % PIECES_PER_TURN === 0) await new Promise<void>((res) => setImmediate(res));
        }
        const used = inLen - availIn;
        inOff += used;
        inLen = availIn;
        // The output buffer had room left: this input is used up (or the data ended early).
        if (availOut !== 0) break;
        if (have === 0 && used === 0) break;
      }
      if (flush === zlibConstants.Z_FINISH) ended = true;
    }
    if (got < expected)
      throw new Error(`not enough bytes in the stream. expected ${expected}. got only ${got}`);
    return true;
  } finally {
    closeSync(fd);
    z.close();
  }
}

/**
 * Streams the .sc of a recording zip through the parser. `inflate`: 'stream' takes the streaming
 * path (zlib's thread pool) that reads fall back to when zlib's engine cannot be driven here.
 */
export function readScFromZip(
  path: string,
  onEvent: (ev: SyscallEventView) => void,
  inflate: 'in-thread' | 'stream' = 'in-thread',
): Promise<{ lines: number }> {
  return readSc(path, onEvent, undefined, undefined, undefined, undefined, inflate);
}

/**
 * Streams the .sc of a recording zip through the parser on this thread, in batches (see ScStream),
 * interning names in `names` (the batches' `names` is its array). `ready`: the zip is opened and its
 * .sc entry found at once, its data read once `ready` settles (the reader worker opens the next
 * recording while it still parses the current one).
 */
export function readScBatchesInThread(
  path: string,
  onBatch: (b: SyscallBatch) => void,
  names: ScNameTable = new ScNameTable(),
  batchSize?: number,
  ready?: Promise<unknown>,
): Promise<{ lines: number }> {
  return readSc(path, () => {}, onBatch, names, batchSize, ready);
}

async function readSc(
  path: string,
  onEvent: (ev: SyscallEventView) => void,
  onBatch?: (b: SyscallBatch) => void,
  names?: ScNameTable,
  batchSize?: number,
  ready?: Promise<unknown>,
  inflate: 'in-thread' | 'stream' = 'in-thread',
): Promise<{ lines: number }> {
  return withScEntry(path, async (zf, sc) => {
    const file = `${path}:${sc.fileName}`;
    const parser = new ScStream(file, onEvent, onBatch, batchSize, names);
    const corrupt = (err: Error): Error =>
      new DatasetError(file, parser.lines + 1, `truncated or corrupt data: ${err.message}`);
    if (inflate === 'in-thread' && isDeflated(sc)) {
      const start = await entryDataStart(zf, sc, path);
      await ready;
      // A throw from the parser (a malformed line) is passed on as it is; any other is the data's.
      let parserThrew = false;
      const push = (piece: Buffer): void => {
        try {
          parser.push(piece);
        } catch (e) {
          parserThrew = true;
          throw e;
        }
      };
      let inThread: boolean;
      try {
        inThread = await inflateEntryInThread(path, start, sc, push);
      } catch (e) {
        throw parserThrew ? e : corrupt(e as Error);
      }
      if (inThread) {
        parser.end();
        return { lines: parser.lines };
      }
    }
    await parser.drain(await inflatedEntry(zf, sc, path, ready), corrupt);
    return { lines: parser.lines };
  });
}

/** Opens a recording zip, finds its .sc entry (an error naming the zip when there is none), and closes it after `use`. */
async function withScEntry<T>(
  path: string,
  use: (zf: yauzl.ZipFile, sc: yauzl.Entry) => Promise<T>,
): Promise<T> {
  const zf = await openZip(path);
  try {
    const sc = (await listEntries(zf, path)).find((e) => e.fileName.endsWith('.sc'));
    if (!sc) throw new DatasetError(path, undefined, 'no .sc system-call file in the zip');
    return await use(zf, sc);
  } finally {
    zf.close();
  }
}

/**
 * Inflates the .sc of a recording zip through the reader's own path (or its streaming fallback)
 * and discards it, parsing nothing: the cost of decompression alone, which every reader of LID-DS
 * pays (benchmarks).
 */
export function inflateScOnly(
  path: string,
  inflate: 'in-thread' | 'stream' = 'in-thread',
): Promise<{ bytes: number }> {
  return withScEntry(path, async (zf, sc) => {
    let bytes = 0;
    if (inflate === 'in-thread' && isDeflated(sc)) {
      const start = await entryDataStart(zf, sc, path);
      if (await inflateEntryInThread(path, start, sc, (piece) => (bytes += piece.length))) return { bytes };
    }
    for await (const chunk of await inflatedEntry(zf, sc, path)) bytes += (chunk as Buffer).length;
    return { bytes };
  });
}

/** Every recording zip of a scenario, split by folder, sorted by name. */
export function listLidDs2021(scenarioDir: string): { path: string; split: Split; folder: string }[] {
  const out: { path: string; split: Split; folder: string }[] = [];
  for (const [rel, split] of SPLIT_DIRS) {
    const d = join(scenarioDir, rel);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort())
      if (f.endsWith('.zip')) out.push({ path: join(d, f), split, folder: rel });
  }
  return out;
}
