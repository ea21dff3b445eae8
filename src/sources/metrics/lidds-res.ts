/**
 * LID-DS 2021 `.res` files: per-second CSV `timestamp,cpu_usage,memory_usage,network_received,
 * network_send,storage_read,storage_written` (NULL allowed) → `metric` events of the recording's
 * container.
 *
 * The full data set is not on this machine, so the reader does not assume whether the network and
 * storage columns are cumulative or per interval: a column that never decreases over the file is
 * read as a counter and turned into a per-second rate; otherwise its values are taken as they are.
 * cpu_usage is kept as recorded (`cpuPercent`) and also given as cores assuming percent of one core.
 */
import type { MetricBody, VigieEvent } from '../../model/event.js';

export interface ResParse {
  events: VigieEvent[];
  malformed: number;
  errors: string[];
  /** Which of the network/storage columns were read as cumulative counters. */
  counters: Record<string, boolean>;
}

function cell(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '' || t.toUpperCase() === 'NULL') return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/** Timestamps may be seconds, milliseconds or nanoseconds since the epoch: scale to ns by magnitude. */
export function resTimeToNs(v: number): bigint {
  if (v > 1e17) return BigInt(Math.round(v));
  if (v > 1e14) return BigInt(Math.round(v)) * 1000n;
  if (v > 1e11) return BigInt(Math.round(v)) * 1_000_000n;
  return BigInt(Math.round(v * 1e3)) * 1_000_000n;
}

const COLS = ['netRx', 'netTx', 'blkRead', 'blkWrite'] as const;

export function parseLidRes(text: string, opts: { origin?: string; container?: string } = {}): ResParse {
  const origin = opts.origin ?? 'input.res';
  const out: ResParse = { events: [], malformed: 0, errors: [], counters: {} };
  const rows: { line: number; ts: bigint; cpu?: number; mem?: number; v: (number | undefined)[] }[] = [];
  const lines = text.split(/\r?\n/);
  const start = lines[0] && /[a-z]/i.test(lines[0].replace(/NULL/gi, '')) ? 1 : 0; // header
  for (let i = start; i < lines.length; i++) {
    const l = lines[i].trim();
    if (!l) continue;
    const f = l.split(',');
    const t = cell(f[0]);
    if (f.length < 7 || t === undefined) {
      out.malformed++;
      out.errors.push(`${origin}:${i + 1}: expected 7 fields with a timestamp`);
      continue;
    }
    rows.push({
      line: i + 1,
      ts: resTimeToNs(t),
      cpu: cell(f[1]),
      mem: cell(f[2]),
      v: [cell(f[3]), cell(f[4]), cell(f[5]), cell(f[6])],
    });
  }
  COLS.forEach((name, c) => {
    let prev: number | undefined;
    let mono = true;
    let seen = 0;
    for (const r of rows) {
      const v = r.v[c];
      if (v === undefined) continue;
      seen++;
      if (prev !== undefined && v < prev) mono = false;
      prev = v;
    }
    out.counters[name] = mono && seen > 1;
  });
  const prev: ({ ts: bigint; v: number } | undefined)[] = [undefined, undefined, undefined, undefined];
  for (const r of rows) {
    const m: MetricBody = {};
    if (r.cpu !== undefined) {
      m.cpuPercent = r.cpu;
      m.cpu = r.cpu / 100;
    }
    if (r.mem !== undefined) m.memory = r.mem;
    COLS.forEach((name, c) => {
      const v = r.v[c];
      if (v === undefined) return;
      if (!out.counters[name]) {
        m[name] = v;
        return;
      }
      const p = prev[c];
      prev[c] = { ts: r.ts, v };
      if (p && r.ts > p.ts) m[name] = (v - p.v) / (Number(r.ts - p.ts) / 1e9);
    });
    if (m.blkRead !== undefined || m.blkWrite !== undefined) m.blkIo = (m.blkRead ?? 0) + (m.blkWrite ?? 0);
    out.events.push({
      id: `${origin}:${r.line}`,
      kind: 'metric',
      ts: r.ts,
      source: 'lidds',
      container: opts.container ? { id: opts.container, name: opts.container } : undefined,
      metric: m,
    });
  }
  return out;
}
