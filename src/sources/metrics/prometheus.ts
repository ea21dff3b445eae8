/**
 * Prometheus text exposition format (version 0.0.4) parser, and a scraper that turns cAdvisor /
 * kubelet `/metrics/cadvisor` / node-exporter samples into `metric` events.
 *
 * Parser: `# HELP`, `# TYPE` lines, `name{label="value",...} value [timestamp]`, escaped label values
 * (\\, \", \n), NaN/+Inf/-Inf. A malformed line is counted and reported with its line number.
 */
import type { MetricBody, VigieEvent } from '../../model/event.js';
import { EventIds, type EventIdSource } from '../../model/event.js';
import type { EventSink, Source, SourceStats } from '../types.js';
import { CounterRate } from './cgroup.js';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the exposition gives one. */
  timestampMs?: number;
}

export interface PromParseResult {
  samples: PromSample[];
  types: Record<string, string>;
  help: Record<string, string>;
  errors: string[];
}

function parseValue(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad value "${s}"`);
  return v;
}

export function parsePrometheusText(text: string, origin = 'input'): PromParseResult {
  const res: PromParseResult = { samples: [], types: {}, help: {}, errors: [] };
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
      if (m) (m[1] === 'TYPE' ? res.types : res.help)[m[2]] = m[3];
      continue;
    }
    try {
      const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
      if (!nm) throw new Error('no metric name');
      const name = nm[0];
      let i = name.length;
      const labels: Record<string, string> = {};
      if (line[i] === '{') {
        i++;
        while (true) {
          while (line[i] === ' ' || line[i] === ',') i++;
          if (line[i] === '}') {
            i++;
            break;
          }
          const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
          if (!lm) throw new Error(`bad label name at column ${i + 1}`);
          i += lm[0].length;
          while (line[i] === ' ') i++;
          if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`expected ="..." after label ${lm[0]}`);
          i += 2;
          let v = '';
          while (i < line.length && line[i] !== '"') {
            if (line[i] === '\\') {
              const n = line[i + 1];
              v += n === 'n' ? '\n' : n;
              i += 2;
            } else v += line[i++];
          }
          if (line[i] !== '"') throw new Error(`unterminated value of label ${lm[0]}`);
          i++;
          labels[lm[0]] = v;
        }
      }
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest[0] === '') throw new Error('no value');
      const value = parseValue(rest[0]);
      const s: PromSample = { name, labels, value };
      if (rest[1] !== undefined) {
        const t = Number(rest[1]);
        if (!Number.isFinite(t)) throw new Error(`bad timestamp "${rest[1]}"`);
        s.timestampMs = t;
      }
      res.samples.push(s);
    } catch (e) {
      res.errors.push(`${origin}:${ln + 1}: ${(e as Error).message}`);
    }
  }
  return res;
}

interface Acc {
  ts: bigint;
  k8s?: VigieEvent['k8s'];
  container?: VigieEvent['container'];
  counters: Record<string, number>;
  gauges: MetricBody;
}

/**
 * cAdvisor (and the kubelet's /metrics/cadvisor) → per-container events. Counters become rates over
 * successive scrapes (CounterRate handles resets). Series without a container (the pod sandbox
 * `POD`, the cgroup root "") are skipped.
 */
export function cadvisorToEvents(
  samples: PromSample[],
  ts: bigint,
  rates: CounterRate,
  host?: string,
  ids: EventIdSource = new EventIds(),
): VigieEvent[] {
  const by = new Map<string, Acc>();
  for (const s of samples) {
    if (!s.name.startsWith('container_')) continue;
    const l = s.labels;
    const cname = l.container ?? l.container_name;
    if (!cname || cname === 'POD') continue;
    const pod = l.pod ?? l.pod_name;
    const key = pod ? `${l.namespace ?? ''}/${pod}/${cname}` : (l.id ?? cname);
    let a = by.get(key);
    if (!a) {
      a = {
        ts: s.timestampMs !== undefined ? BigInt(Math.round(s.timestampMs)) * 1_000_000n : ts,
        k8s: pod ? { namespace: l.namespace, pod } : undefined,
        container: { id: l.id?.split('/').pop() || key, name: cname, image: l.image },
        counters: {},
        gauges: {},
      };
      by.set(key, a);
    }
    switch (s.name) {
      case 'container_cpu_usage_seconds_total':
        a.counters.cpu = (a.counters.cpu ?? 0) + s.value; // summed over cpu="..." when per-CPU
        break;
      case 'container_cpu_cfs_periods_total':
        a.counters.periods = s.value;
        break;
      case 'container_cpu_cfs_throttled_periods_total':
        a.counters.throttled = s.value;
        break;
      case 'container_memory_working_set_bytes':
        a.gauges.memory = s.value;
        break;
      case 'container_spec_memory_limit_bytes':
        if (s.value > 0) a.gauges.memoryLimit = s.value;
        break;
      case 'container_network_receive_bytes_total':
        a.counters.rx = (a.counters.rx ?? 0) + s.value;
        break;
      case 'container_network_transmit_bytes_total':
        a.counters.tx = (a.counters.tx ?? 0) + s.value;
        break;
      case 'container_fs_reads_bytes_total':
        a.counters.rd = (a.counters.rd ?? 0) + s.value;
        break;
      case 'container_fs_writes_bytes_total':
        a.counters.wr = (a.counters.wr ?? 0) + s.value;
        break;
      case 'container_processes':
      case 'container_threads':
        if (s.name === 'container_processes') a.gauges.pids = s.value;
        break;
      case 'container_pressure_cpu_waiting_seconds_total':
        a.counters.cpupsi = s.value;
        break;
      case 'container_pressure_memory_waiting_seconds_total':
        a.counters.mempsi = s.value;
        break;
      case 'container_pressure_io_waiting_seconds_total':
        a.counters.iopsi = s.value;
        break;
    }
  }
  const out: VigieEvent[] = [];
  for (const [key, a] of by) {
    const m: MetricBody = { ...a.gauges };
    const r = (k: string) => rates.rate(`${key}:${k}`, a.ts, a.counters[k]);
    const cpu = r('cpu');
    if (cpu !== undefined) m.cpu = cpu;
    const dp = rates.delta(`${key}:periods`, a.counters.periods);
    const dt = rates.delta(`${key}:throttled`, a.counters.throttled);
    if (dp !== undefined && dt !== undefined) m.cpuThrottled = dp > 0 ? dt / dp : 0;
    const rx = r('rx');
    const tx = r('tx');
    if (rx !== undefined) m.netRx = rx;
    if (tx !== undefined) m.netTx = tx;
    const rd = r('rd');
    const wr = r('wr');
    if (rd !== undefined) m.blkRead = rd;
    if (wr !== undefined) m.blkWrite = wr;
    if (rd !== undefined || wr !== undefined) m.blkIo = (rd ?? 0) + (wr ?? 0);
    for (const [k, name] of [
      ['cpupsi', 'cpuPressure'],
      ['mempsi', 'memPressure'],
      ['iopsi', 'ioPressure'],
    ] as const) {
      const v = r(k);
      if (v !== undefined) m[name] = v * 100; // seconds stalled per second → percent
    }
    out.push({
      id: ids.next(),
      kind: 'metric',
      ts: a.ts,
      source: 'prometheus',
      host,
      k8s: a.k8s,
      container: a.container,
      metric: m,
    });
  }
  return out;
}

/** node-exporter → one host event: CPU busy cores, memory used, PSI. */
export function nodeExporterToEvent(
  samples: PromSample[],
  ts: bigint,
  rates: CounterRate,
  host: string,
  ids: EventIdSource = new EventIds(),
): VigieEvent | undefined {
  let busy = 0;
  let seenCpu = false;
  let memTotal: number | undefined;
  let memAvail: number | undefined;
  const psi: Record<string, number> = {};
  for (const s of samples) {
    if (s.name === 'node_cpu_seconds_total') {
      seenCpu = true;
      if (s.labels.mode !== 'idle' && s.labels.mode !== 'iowait') busy += s.value;
    } else if (s.name === 'node_memory_MemTotal_bytes') memTotal = s.value;
    else if (s.name === 'node_memory_MemAvailable_bytes') memAvail = s.value;
    else if (s.name === 'node_pressure_cpu_waiting_seconds_total') psi.cpu = s.value;
    else if (s.name === 'node_pressure_memory_waiting_seconds_total') psi.mem = s.value;
    else if (s.name === 'node_pressure_io_waiting_seconds_total') psi.io = s.value;
  }
  const m: MetricBody = {};
  const cpu = seenCpu ? rates.rate(`node:${host}:cpu`, ts, busy) : undefined;
  if (cpu !== undefined) m.cpu = cpu;
  if (memTotal !== undefined && memAvail !== undefined) {
    m.memory = memTotal - memAvail;
    m.memoryLimit = memTotal;
  }
  for (const [k, name] of [
    ['cpu', 'cpuPressure'],
    ['mem', 'memPressure'],
    ['io', 'ioPressure'],
  ] as const) {
    const v = rates.rate(`node:${host}:psi:${k}`, ts, psi[k]);
    if (v !== undefined) m[name] = v * 100;
  }
  if (Object.keys(m).length === 0) return undefined;
  return { id: ids.next(), kind: 'metric', ts, source: 'prometheus', host, metric: m };
}

export interface ScrapeTarget {
  url: string;
  kind: 'cadvisor' | 'node-exporter';
  /** Bearer token (the kubelet needs one). */
  token?: string;
  host?: string;
}

/** Polls Prometheus endpoints (cAdvisor, kubelet /metrics/cadvisor, node-exporter). */
export class PrometheusSource implements Source {
  readonly name = 'prometheus';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  private timer?: NodeJS.Timeout;
  private readonly rates = new CounterRate();
  private readonly st: SourceStats = { events: 0, malformed: 0, lost: 0, scrapes: 0, scrapeErrors: 0 };
  constructor(
    private readonly targets: ScrapeTarget[],
    private readonly intervalMs = 10_000,
  ) {}

  async scrape(t: ScrapeTarget): Promise<VigieEvent[]> {
    const res = await fetch(t.url, {
      headers: t.token ? { authorization: `Bearer ${t.token}` } : {},
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`${t.url}: HTTP ${res.status}`);
    const parsed = parsePrometheusText(await res.text(), t.url);
    this.st.malformed = Number(this.st.malformed) + parsed.errors.length;
    this.st.scrapes = Number(this.st.scrapes) + 1;
    const ts = BigInt(Date.now()) * 1_000_000n;
    const host = t.host ?? new URL(t.url).hostname;
    if (t.kind === 'cadvisor') return cadvisorToEvents(parsed.samples, ts, this.rates, host, this.ids);
    const ev = nodeExporterToEvent(parsed.samples, ts, this.rates, host, this.ids);
    return ev ? [ev] : [];
  }

  async start(sink: EventSink): Promise<void> {
    const tick = async () => {
      for (const t of this.targets) {
        try {
          for (const ev of await this.scrape(t)) {
            if (sink(ev)) this.st.events++;
            else this.st.lost++;
          }
        } catch {
          this.st.scrapeErrors = Number(this.st.scrapeErrors) + 1;
        }
      }
    };
    await tick();
    this.timer = setInterval(() => void tick(), this.intervalMs);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
  stats(): SourceStats {
    return { ...this.st };
  }
}

/**
 * Registered factory: off unless configured, e.g.
 * `prometheus: { targets: [{ url: "http://node:9100/metrics", kind: "node-exporter" }], intervalMs: 10000 }`.
 */
export function createPrometheusSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): Source | undefined {
  const cfg = ctx.config.prometheus;
  if (!cfg || !Array.isArray(cfg.targets) || cfg.targets.length === 0) return undefined;
  const targets: ScrapeTarget[] = cfg.targets.map((t: unknown, i: number) => {
    const o = t as Partial<ScrapeTarget>;
    if (typeof o?.url !== 'string' || (o.kind !== 'cadvisor' && o.kind !== 'node-exporter'))
      throw new Error(`config prometheus.targets[${i}]: needs url and kind (cadvisor | node-exporter)`);
    return { url: o.url, kind: o.kind, token: o.token, host: o.host };
  });
  return new PrometheusSource(targets, typeof cfg.intervalMs === 'number' ? cfg.intervalMs : 10_000);
}
