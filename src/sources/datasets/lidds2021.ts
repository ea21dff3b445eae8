/**
 * LID-DS 2021 reader: `<scenario>/{training,validation,test/normal,test/normal_and_attack}/<name>.zip`,
 * each zip holding `<name>.sc` (system calls), `<name>.json` (metadata), `<name>.res` (resources) and
 * `<name>.pcap`. The .sc is inflated and parsed as a stream; nothing holds a whole recording.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
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
 * its names in the reader's one table (so every batch shares one `names`). `close` stops the worker.
 */
export class LidDs2021Reader {
  private readonly names = new ScNameTable();
  constructor(private readonly workers: ScWorkerHost = new ScWorkerHost()) {}

  /** The calls of the recording zip at `path`, in batches; `next`: the zip to be read after it, read ahead. */
  async readBatches(
    path: string,
    onBatch: (b: SyscallBatch) => void,
    next?: string,
  ): Promise<{ lines: number }> {
    const worker = await this.workers.worker();
    return worker ? worker.read(path, onBatch, next) : readScBatchesInThread(path, onBatch, this.names);
  }

  close(): Promise<void> {
    return this.workers.close();
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
  if (e.compressionMethod !== 8 || e.isEncrypted()) {
    await ready;
    return entryStream(zf, e, path);
  }
  // The compressed bytes are read straight from the file in 1 MiB pieces (yauzl's own stream
  // reads 16 KiB at a time); yauzl has checked that they lie within the file.
  const start = await new Promise<number>((res, rej) =>
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

/** Streams the .sc of a recording zip through the parser. */
export function readScFromZip(
  path: string,
  onEvent: (ev: SyscallEventView) => void,
): Promise<{ lines: number }> {
  return readSc(path, onEvent);
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
): Promise<{ lines: number }> {
  return withScEntry(path, async (zf, sc) => {
    const file = `${path}:${sc.fileName}`;
    const s = await inflatedEntry(zf, sc, path, ready);
    const parser = new ScStream(file, onEvent, onBatch, batchSize, names);
    await parser.drain(
      s,
      (err) => new DatasetError(file, parser.lines + 1, `truncated or corrupt data: ${err.message}`),
    );
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
 * Inflates the .sc of a recording zip through the reader's own path and discards it, parsing
 * nothing: the cost of decompression alone, which every reader of LID-DS pays (benchmarks).
 */
export function inflateScOnly(path: string): Promise<{ bytes: number }> {
  return withScEntry(path, async (zf, sc) => {
    let bytes = 0;
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
