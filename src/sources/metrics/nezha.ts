/**
 * Reader for the Nezha TrainTicket data set (IntelligentDDS/Nezha, FSE 2023; MIT): one CSV per pod
 * under `metric/`, one row a minute, plus `metric/front_service.csv` and `fault_list.json`.
 * Rows become `metric` events of the pod (namespace `train-ticket`); malformed rows are counted and
 * skipped with their file:line in `errors`.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { serviceOfPod, type MetricBody, type VigieEvent } from '../../model/event.js';

export const NEZHA_NAMESPACE = 'train-ticket';

export interface NezhaFault {
  /** inject_time as ns since the epoch (UTC; the `Time` column's clock). */
  injectNs: bigint;
  injectTime: string;
  pod: string;
  service: string;
  type: string;
}

export interface NezhaRow {
  ts: bigint;
  metric: MetricBody;
}

export interface NezhaSeries {
  pod: string;
  service: string;
  rows: NezhaRow[];
}

export interface NezhaDay {
  dir: string;
  pods: NezhaSeries[];
  front?: NezhaSeries;
  faults: NezhaFault[];
  malformed: number;
  errors: string[];
}

// One function names a pod's service for metrics, logs and traces (model/event.ts).
export { serviceOfPod };

/** "2023-01-29 08:41:09.043078357 +0000 UTC m=+0.1" or "2023-01-29 08:43:04" → ns (UTC). */
export function parseNezhaTime(s: string): bigint {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?/.exec(s.trim());
  if (!m) throw new Error(`bad time "${s.slice(0, 40)}"`);
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  if (Number.isNaN(ms)) throw new Error(`bad time "${s.slice(0, 40)}"`);
  const frac = (m[3] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

function num(s: string | undefined): number {
  if (s === undefined || s === '' || s === 'NaN' || s === 'nan') return NaN;
  return Number(s);
}

/** Pod CSV columns → MetricBody (cores, bytes, ms, ratios). */
function podMetric(cols: Map<string, number>, f: string[]): MetricBody {
  const g = (name: string): number => {
    const i = cols.get(name);
    return i === undefined ? NaN : num(f[i]);
  };
  const m: MetricBody = {
    cpu: g('CpuUsage(m)') / 1000,
    memory: g('MemoryUsage(Mi)') * 1024 * 1024,
    netRx: g('NetworkReceiveBytes'),
    netTx: g('NetworkTransmitBytes'),
    latencyMs: g('PodServerLatencyP95(s)') * 1000,
    clientLatencyMs: g('PodClientLatencyP90(s)') * 1000,
    requestsPerSec: g('PodWorkload(Ops)'),
    syscallRead: g('SyscallRead'),
    syscallWrite: g('SyscallWrite'),
    nodeCpuPercent: g('NodeCpuUsageRate(%)'),
  };
  // The success-rate column is 0 in every row of the published days: it carries no information.
  return m;
}

function parseCsv(
  path: string,
  errors: string[],
): { header: string[]; rows: { line: number; f: string[] }[] } {
  const text = readFileSync(path, 'utf8');
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',');
  const rows: { line: number; f: string[] }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (!l) continue;
    const f = l.split(',');
    if (f.length !== header.length) {
      errors.push(`${path}:${i + 1}: expected ${header.length} fields, got ${f.length}`);
      continue;
    }
    rows.push({ line: i + 1, f });
  }
  return { header, rows };
}

export function readNezhaFaults(dir: string): NezhaFault[] {
  const path = join(dir, 'fault_list.json');
  if (!existsSync(path)) throw new Error(`${path}: fault list missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  const out: NezhaFault[] = [];
  for (const [hour, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new Error(`${path}: hour "${hour}" is not a list`);
    list.forEach((f: Record<string, unknown>, i) => {
      const t = f.inject_time;
      const pod = f.inject_pod;
      const type = f.inject_type;
      if (typeof t !== 'string' || typeof pod !== 'string' || typeof type !== 'string')
        throw new Error(`${path}: hour "${hour}" entry ${i}: needs inject_time, inject_pod, inject_type`);
      out.push({ injectNs: parseNezhaTime(t), injectTime: t, pod, service: serviceOfPod(pod), type });
    });
  }
  return out.sort((a, b) => (a.injectNs < b.injectNs ? -1 : a.injectNs > b.injectNs ? 1 : 0));
}

export function readNezhaDay(dir: string): NezhaDay {
  const mdir = join(dir, 'metric');
  if (!existsSync(mdir)) throw new Error(`${dir}: no metric/ folder (is this a Nezha day folder?)`);
  const errors: string[] = [];
  const pods: NezhaSeries[] = [];
  let front: NezhaSeries | undefined;
  for (const file of readdirSync(mdir).sort()) {
    if (!file.endsWith('.csv')) continue;
    const path = join(mdir, file);
    const { header, rows } = parseCsv(path, errors);
    const cols = new Map(header.map((h, i) => [h.trim(), i]));
    if (file === 'front_service.csv') {
      const series: NezhaSeries = { pod: 'frontend', service: 'frontend', rows: [] };
      for (const { line, f } of rows) {
        try {
          series.rows.push({
            ts: parseNezhaTime(f[0]),
            metric: {
              latencyMs: num(f[cols.get('LatencyP95(s)') ?? -1]) * 1000,
              latencyP50Ms: num(f[cols.get('LatencyP50(s)') ?? -1]) * 1000,
              latencyP99Ms: num(f[cols.get('LatencyP99(s)') ?? -1]) * 1000,
            },
          });
        } catch (e) {
          errors.push(`${path}:${line}: ${(e as Error).message}`);
        }
      }
      front = series;
      continue;
    }
    if (!cols.has('PodName')) {
      errors.push(`${path}:1: no PodName column, skipped`);
      continue;
    }
    const podCol = cols.get('PodName')!;
    const pod = rows[0]?.f[podCol] ?? basename(file).replace(/_metric\.csv$/, '');
    const series: NezhaSeries = { pod, service: serviceOfPod(pod), rows: [] };
    for (const { line, f } of rows) {
      try {
        series.rows.push({ ts: parseNezhaTime(f[0]), metric: podMetric(cols, f) });
      } catch (e) {
        errors.push(`${path}:${line}: ${(e as Error).message}`);
      }
    }
    pods.push(series);
  }
  return { dir, pods, front, faults: readNezhaFaults(dir), malformed: errors.length, errors };
}

/** All rows of a day as events, in time order (pods then the front service within a minute). */
export function nezhaEvents(day: NezhaDay): VigieEvent[] {
  const out: VigieEvent[] = [];
  let n = 0;
  const all = day.front ? [...day.pods, day.front] : day.pods;
  for (const s of all) {
    for (const r of s.rows) {
      out.push({
        id: `nezha-${++n}`,
        kind: 'metric',
        ts: r.ts,
        source: 'nezha',
        k8s: { namespace: NEZHA_NAMESPACE, pod: s.pod, workload: s.service, node: 'nezha' },
        metric: r.metric,
      });
    }
  }
  return out.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
}
