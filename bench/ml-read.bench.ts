/**
 * LID-DS .sc read rate (target ≥ 1,000,000 lines/s): parsing alone from memory, and end to end from
 * a recording zip (inflate + split + parse), on a generated recording in the exact .sc format.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter, newEventView, parseScLine } from '../src/sources/datasets/sc-parser.js';
import { readScFromZip } from '../src/sources/datasets/lidds2021.js';
import { generateRecording, makeZip } from '../test/ml/lidds-fixture.js';
import { fmt, hrms, row } from './util.js';

export async function run(): Promise<void> {
  const rec = generateRecording(7, 120_000, true);
  const text = Buffer.from(rec.lines.join('\n') + '\n');
  const lines = rec.lines.length;
  row('generated .sc', `${fmt(lines)} lines, ${fmt(text.length / 1e6, 1)} MB`);

  // Parse only, 1 MiB chunks as a file stream would deliver them.
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const ev = newEventView();
    let n = 0;
    let ln = 0;
    const t0 = hrms();
    const sp = new LineSplitter((b, s, e) => {
      if (parseScLine(b, s, e, 'bench.sc', ++ln, ev)) n++;
    });
    for (let i = 0; i < text.length; i += 1 << 20) sp.push(text.subarray(i, i + (1 << 20)));
    sp.end();
    best = Math.min(best, hrms() - t0);
    if (n !== lines) throw new Error(`parsed ${n} of ${lines}`);
  }
  row('parse .sc from memory', `${fmt(lines / (best / 1000))} lines/s`);

  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-'));
  try {
    const zip = join(dir, 'rec.zip');
    writeFileSync(zip, makeZip([{ name: 'rec.sc', data: text }]));
    best = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      let n = 0;
      const t0 = hrms();
      await readScFromZip(zip, () => n++);
      best = Math.min(best, hrms() - t0);
      if (n !== lines) throw new Error(`read ${n} of ${lines}`);
    }
    const rate = lines / (best / 1000);
    row(
      'read .sc from a recording zip (inflate + parse)',
      `${fmt(rate)} lines/s (target ≥ 1,000,000: ${rate >= 1e6 ? 'met' : 'NOT met'})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
