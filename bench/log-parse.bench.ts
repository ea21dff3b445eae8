/**
 * Log template parsing on one core: messages (already split into lines, header removed) through the
 * template miner, and through the naive baseline in the same run (mask IPs, hex and decimal numbers
 * with regular expressions, group by the exact masked string). Figures are lines per CPU-second of
 * this process (the machine is shared), best of ten trials, with the wall-clock rate beside.
 *
 * Lines: every message of loghub-2k (8 systems, 16,000 lines), with the numbers renewed in each copy so
 * that no line repeats; without the data set, generated lines of the same kinds.
 *  - steady: the miner has learned the templates (the common case of a long-running parser);
 *  - learning: a fresh miner per pass over the 16,000 lines (templates created as they appear).
 */
import { existsSync } from 'node:fs';
import { datasetPath } from '../src/util/datasets.js';
import { listLoghub, readLoghubSystem } from '../src/sources/datasets/loghub.js';
import { TemplateMiner } from '../src/detect/logs/template-miner.js';
import { NaiveMaskingParser } from '../src/detect/logs/naive-masking.js';
import { fmt, hrms, row } from './util.js';

function baseLines(): { lines: string[]; from: string } {
  const dir = datasetPath('loghub-2k');
  if (existsSync(dir)) {
    const lines: string[] = [];
    for (const n of listLoghub(dir)) lines.push(...readLoghubSystem(dir, n).contents);
    return { lines, from: `loghub-2k (${dir})` };
  }
  const lines: string[] = [];
  for (let i = 0; i < 16_000; i++) {
    const k = i % 5;
    lines.push(
      k === 0
        ? `Received block blk_${i * 7919} of size ${i * 13} from /10.0.${i % 256}.${i % 7}`
        : k === 1
          ? `session opened for user u${i % 9} by (uid=${i % 500})`
          : k === 2
            ? `PacketResponder ${i % 3} for block blk_-${i * 104729} terminating`
            : k === 3
              ? `Starting task ${i % 40}.0 in stage ${i % 11}.0 (TID ${i}, host-${i % 17}, partition ${i % 5},PROCESS_LOCAL, 2109 bytes)`
              : `acquire lock=${i * 31}, flags=0x1, tag="View Lock", name=com.android.systemui, ws=null, uid=10037, pid=${i % 3000}`,
    );
  }
  return { lines, from: 'generated lines (loghub-2k not found)' };
}

/** Copies of the lines with every digit shifted by the copy's number: same shapes, new values. */
function renewed(lines: string[], copies: number): string[] {
  const out: string[] = [];
  for (let c = 0; c < copies; c++)
    for (const l of lines) out.push(c === 0 ? l : l.replace(/\d/g, (d) => String((Number(d) + c) % 10)));
  return out;
}

function measure(
  lines: string[],
  trials: number,
  f: () => number,
): { cpuMs: number; ms: number; check: number } {
  let best = { cpuMs: Infinity, ms: Infinity };
  let check = 0;
  for (let t = 0; t < trials; t++) {
    const c0 = process.cpuUsage();
    const t0 = hrms();
    check += f();
    const ms = hrms() - t0;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000;
    if (cpuMs < best.cpuMs) best = { cpuMs, ms };
  }
  return { ...best, check };
}

const rate = (n: number, r: { cpuMs: number; ms: number }): string =>
  `${fmt(n / (r.cpuMs / 1000))} lines/CPU-s (wall ${fmt(n / (r.ms / 1000))} lines/s)`;

export async function run(): Promise<void> {
  const { lines: base, from } = baseLines();
  const lines = renewed(base, 8);
  console.log(
    `lines: ${fmt(lines.length)} from ${from}, average ${fmt(lines.reduce((a, l) => a + l.length, 0) / lines.length)} characters`,
  );

  const steadyMiner = new TemplateMiner();
  for (const l of lines) steadyMiner.add(l);
  const naiveSteady = new NaiveMaskingParser();
  for (const l of lines) naiveSteady.add(l);
  // Warm-up of both paths.
  for (let r = 0; r < 2; r++)
    for (const l of lines) {
      steadyMiner.add(l);
      naiveSteady.add(l);
    }

  const miner = measure(lines, 10, () => {
    let k = 0;
    for (let i = 0; i < lines.length; i++) k += steadyMiner.add(lines[i]).templateId;
    return k;
  });
  const naive = measure(lines, 10, () => {
    let k = 0;
    for (let i = 0; i < lines.length; i++) k += naiveSteady.add(lines[i]).templateId;
    return k;
  });
  const learning = measure(base, 10, () => {
    const m = new TemplateMiner();
    let k = 0;
    for (let i = 0; i < base.length; i++) k += m.add(base[i]).templateId;
    return k;
  });
  const naiveLearning = measure(base, 10, () => {
    const m = new NaiveMaskingParser();
    let k = 0;
    for (let i = 0; i < base.length; i++) k += m.add(base[i]).templateId;
    return k;
  });
  row('template miner, steady (templates learned)', rate(lines.length, miner));
  row('naive regex masking, steady (same lines)', rate(lines.length, naive));
  row('  ratio miner / naive (CPU)', `${(naive.cpuMs / miner.cpuMs).toFixed(2)}x`);
  row('template miner, learning (fresh miner per pass)', rate(base.length, learning));
  row('naive regex masking, learning (fresh per pass)', rate(base.length, naiveLearning));
  row('  ratio miner / naive (CPU)', `${(naiveLearning.cpuMs / learning.cpuMs).toFixed(2)}x`);
  row(
    'templates: miner / naive',
    `${steadyMiner.stats().templates} / ${naiveSteady.templates} (on ${fmt(lines.length)} lines)`,
  );
}
