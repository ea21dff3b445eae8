/**
 * LID-DS 2019 reader: `<scenario>/runs.csv` (image_name, scenario_name, is_executing_exploit,
 * warmup_time, recording_time, exploit_start_time) and one `<scenario_name>.txt` per run.
 * The 2019 release has no training/validation/test folders: normal runs, in runs.csv order, are
 * split by fractions (default 50% training, 25% validation, the rest test); exploit runs are test.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LineSplitter, newEventView, parse2019Line, ScNameTable } from './sc-parser.js';
import { DatasetError, type Split, type SyscallEventView, type SyscallRecording } from './types.js';

export interface LidDs2019Run {
  image: string;
  name: string;
  exploit: boolean;
  warmupTime: number;
  recordingTime: number;
  /** Seconds from the recording's first event; undefined for normal runs. */
  exploitStart?: number;
}

export function parseRunsCsv(text: string, file: string): LidDs2019Run[] {
  const lines = text.split(/\r?\n/);
  const header = lines[0].split(',').map((s) => s.trim());
  const col = (n: string): number => {
    const i = header.indexOf(n);
    if (i < 0) throw new DatasetError(file, 1, `runs.csv lacks the column ${n} (header: ${lines[0]})`);
    return i;
  };
  const ci = {
    image: col('image_name'),
    name: col('scenario_name'),
    ex: col('is_executing_exploit'),
    w: col('warmup_time'),
    r: col('recording_time'),
    es: col('exploit_start_time'),
  };
  const out: LidDs2019Run[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const f = lines[i].split(',').map((s) => s.trim());
    if (f.length < header.length)
      throw new DatasetError(file, i + 1, `expected ${header.length} fields, got ${f.length}`);
    const exploit = /^true$/i.test(f[ci.ex]);
    if (!exploit && !/^false$/i.test(f[ci.ex]))
      throw new DatasetError(file, i + 1, `is_executing_exploit must be True or False, got ${f[ci.ex]}`);
    const es = Number(f[ci.es]);
    out.push({
      image: f[ci.image],
      name: f[ci.name],
      exploit,
      warmupTime: Number(f[ci.w]),
      recordingTime: Number(f[ci.r]),
      exploitStart: exploit && Number.isFinite(es) && es >= 0 ? es : undefined,
    });
  }
  return out;
}

export interface LidDs2019SplitOptions {
  trainFraction?: number;
  validationFraction?: number;
}

export function listLidDs2019(scenarioDir: string, opts: LidDs2019SplitOptions = {}): SyscallRecording[] {
  const runsFile = join(scenarioDir, 'runs.csv');
  if (!existsSync(runsFile)) throw new DatasetError(runsFile, undefined, 'missing runs.csv');
  const runs = parseRunsCsv(readFileSync(runsFile, 'utf8'), runsFile);
  const normals = runs.filter((r) => !r.exploit);
  const nTrain = Math.floor(normals.length * (opts.trainFraction ?? 0.5));
  const nVal = Math.floor(normals.length * (opts.validationFraction ?? 0.25));
  const splitOf = new Map<LidDs2019Run, Split>();
  normals.forEach((r, i) =>
    splitOf.set(r, i < nTrain ? 'training' : i < nTrain + nVal ? 'validation' : 'test'),
  );
  const scenario = basename(scenarioDir);
  // The scenario's recordings intern their names in one table.
  const names = new ScNameTable();
  return runs.map((r) => {
    const path = join(scenarioDir, `${r.name}.txt`);
    const rec: SyscallRecording = {
      scenario,
      name: r.name,
      path,
      split: splitOf.get(r) ?? 'test',
      exploit: r.exploit,
      exploitTimeNs: undefined,
      read: async (onEvent) => {
        const res = await read2019(path, rec, r, names, onEvent);
        return res;
      },
    };
    return rec;
  });
}

/**
 * Streams one 2019 recording. Times of day become ns since the first event's midnight (a roll-over
 * past midnight adds a day); the exploit time is set once the first event is seen.
 */
async function read2019(
  path: string,
  rec: SyscallRecording,
  run: LidDs2019Run,
  names: ScNameTable,
  onEvent: (ev: SyscallEventView) => void,
): Promise<{ lines: number }> {
  if (!existsSync(path)) throw new DatasetError(path, undefined, 'recording listed in runs.csv is missing');
  const ev = newEventView();
  let line = 0;
  let day = 0;
  let prev = -1;
  const splitter = new LineSplitter((buf, a, b) => {
    line++;
    if (!parse2019Line(buf, a, b, path, line, ev, names)) return;
    if (prev >= 0 && ev.tsNs + 3600e9 < prev - day) day += 86400e9;
    ev.tsNs += day;
    if (prev < 0 && run.exploitStart !== undefined) rec.exploitTimeNs = ev.tsNs + run.exploitStart * 1e9;
    prev = ev.tsNs;
    onEvent(ev);
  });
  const s = createReadStream(path, { highWaterMark: 1 << 20 });
  await splitter.drain(s, (err) => new DatasetError(path, line + 1, err.message));
  return { lines: line };
}
