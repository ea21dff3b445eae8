/**
 * LID-DS .sc read rate (target ≥ 1,000,000 lines/s): parsing alone from memory, and end to end from
 * a recording zip (inflate + split + parse), on a generated recording in the exact .sc format.
 * Baselines in the same run: the line-by-line parser (LineSplitter + parseScLine, which the stream
 * parser still uses for unusual lines) and yauzl's own inflating stream (16 KiB chunks) feeding it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import {
  LineSplitter,
  newEventView,
  parseScLine,
  ScNameTable,
  ScStream,
} from '../src/sources/datasets/sc-parser.js';
import { readScFromZip } from '../src/sources/datasets/lidds2021.js';
import { generateRecording, makeZip } from '../test/utils/lidds-fixture.js';
import { fmt, hrms, row } from './util.js';

const CHUNK = 1 << 20;

/** Best of three timings (ms) of `f`, which must return the number of events it saw. */
async function best(lines: number, f: () => number | Promise<number>): Promise<number> {
  let ms = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = hrms();
    const n = await f();
    ms = Math.min(ms, hrms() - t0);
    if (n !== lines) throw new Error(`saw ${n} of ${lines} lines`);
  }
  return ms;
}

/** The line-by-line reader the stream parser replaced: yauzl's inflating stream, split, parsed. */
function readLineByLine(path: string): Promise<number> {
  return new Promise((res, rej) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zf) => {
      if (err || !zf) return rej(err);
      zf.once('entry', (e: yauzl.Entry) =>
        zf.openReadStream(e, (err2, s) => {
          if (err2 || !s) return rej(err2);
          const ev = newEventView();
          const names = new ScNameTable();
          let n = 0;
          let ln = 0;
          const sp = new LineSplitter((b, a, z) => {
            if (parseScLine(b, a, z, path, ++ln, ev, names)) n++;
          });
          sp.drain(s, (x) => x).then(() => {
            zf.close();
            res(n);
          }, rej);
        }),
      );
      zf.readEntry();
    }),
  );
}

export async function run(): Promise<void> {
  const rec = generateRecording(7, 120_000, true);
  const text = Buffer.from(rec.lines.join('\n') + '\n');
  const lines = rec.lines.length;
  row('generated .sc', `${fmt(lines)} lines, ${fmt(text.length / 1e6, 1)} MB`);

  // Parse only, 1 MiB chunks as a file stream would deliver them.
  const byLines = await best(lines, () => {
    const ev = newEventView();
    const names = new ScNameTable();
    let n = 0;
    let ln = 0;
    const sp = new LineSplitter((b, s, e) => {
      if (parseScLine(b, s, e, 'bench.sc', ++ln, ev, names)) n++;
    });
    for (let i = 0; i < text.length; i += CHUNK) sp.push(text.subarray(i, i + CHUNK));
    sp.end();
    return n;
  });
  const byStream = await best(lines, () => {
    let n = 0;
    const sp = new ScStream('bench.sc', () => n++);
    for (let i = 0; i < text.length; i += CHUNK) sp.push(text.subarray(i, i + CHUNK));
    sp.end();
    return n;
  });
  row('parse .sc from memory, line by line (baseline)', `${fmt(lines / (byLines / 1000))} lines/s`);
  row(
    'parse .sc from memory, stream parser',
    `${fmt(lines / (byStream / 1000))} lines/s (${(byLines / byStream).toFixed(1)}× the baseline)`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-'));
  try {
    const zip = join(dir, 'rec.zip');
    writeFileSync(zip, makeZip([{ name: 'rec.sc', data: text }]));
    const oldMs = await best(lines, () => readLineByLine(zip));
    const newMs = await best(lines, async () => {
      let n = 0;
      await readScFromZip(zip, () => n++);
      return n;
    });
    const rate = lines / (newMs / 1000);
    row('read .sc from a zip, yauzl + line by line (baseline)', `${fmt(lines / (oldMs / 1000))} lines/s`);
    row(
      'read .sc from a recording zip (inflate + parse)',
      `${fmt(rate)} lines/s, ${(oldMs / newMs).toFixed(1)}× the baseline (target ≥ 1,000,000: ${rate >= 1e6 ? 'met' : 'NOT met'})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
