/**
 * cgroup readers (v1 and v2) and the 'cgroup' source: per-container CPU usage and throttling, memory
 * and its limit, block I/O, pids, PSI (cpu/memory/io pressure) where the kernel offers it, and the
 * freezer state (`frozen`: 1 while the container is paused, 0 otherwise).
 *
 * Layouts handled:
 *  - v1 (cgroupfs driver): /sys/fs/cgroup/{cpu,cpuacct,memory,blkio,pids}/docker/<id>/
 *  - hybrid: v1 controllers plus /sys/fs/cgroup/unified/docker/<id>/ (PSI files only, no controllers)
 *  - v2 (unified): /sys/fs/cgroup/system.slice/docker-<id>.scope/ or /sys/fs/cgroup/docker/<id>/
 * The parsers are pure functions over file text; the source reads, turns counters into rates
 * (CounterRate: a counter that goes backwards is a reset, counted, and yields no rate for that
 * sample) and emits one `metric` event per container and interval.
 */
import Docker from 'dockerode';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname as osHostname } from 'node:os';
import type { MetricBody, VigieEvent } from '../../model/event.js';
import { EventIds } from '../../model/event.js';
import type { ContainerCatalogue, EventSink, Source, SourceStats } from '../types.js';
import { logger } from '../../util/log.js';

const log = logger('cgroup');

/** `key value` lines (cpu.stat, memory.stat, v1 cpu.stat) → record. Malformed lines are skipped. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export interface Psi {
  someAvg10: number;
  someTotalUs: number;
  fullAvg10?: number;
  fullTotalUs?: number;
}

/** PSI file: "some avg10=0.66 avg60=1.47 avg300=0.74 total=3555127\nfull ..." */
export function parsePressure(text: string): Psi | undefined {
  let psi: Psi | undefined;
  for (const line of text.split('\n')) {
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=[\d.]+\s+avg300=[\d.]+\s+total=(\d+)/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'some')
      psi = {
        ...(psi ?? { someAvg10: 0, someTotalUs: 0 }),
        someAvg10: Number(m[2]),
        someTotalUs: Number(m[3]),
      };
    else if (psi) {
      psi.fullAvg10 = Number(m[2]);
      psi.fullTotalUs = Number(m[3]);
    }
  }
  return psi;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device → totals. */
export function parseIoStat(text: string): { rbytes: number; wbytes: number } {
  let rbytes = 0;
  let wbytes = 0;
  for (const line of text.split('\n')) {
    const r = /\brbytes=(\d+)/.exec(line);
    const w = /\bwbytes=(\d+)/.exec(line);
    if (r) rbytes += Number(r[1]);
    if (w) wbytes += Number(w[1]);
  }
  return { rbytes, wbytes };
}

/** v1 blkio.throttle.io_service_bytes: "8:0 Read 123" lines (the "Total" line is ignored). */
export function parseBlkioServiceBytes(text: string): { rbytes: number; wbytes: number } {
  let rbytes = 0;
  let wbytes = 0;
  for (const line of text.split('\n')) {
    const m = /^\d+:\d+\s+(Read|Write)\s+(\d+)/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'Read') rbytes += Number(m[2]);
    else wbytes += Number(m[2]);
  }
  return { rbytes, wbytes };
}

/** "max" or a number (memory.max, memory.limit_in_bytes; v1 reports ~2^63 for no limit). */
export function parseLimit(text: string): number | undefined {
  const t = text.trim();
  if (t === 'max' || t === '') return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n >= 2 ** 62) return undefined;
  return n;
}

/** Raw counters of one cgroup at one instant (cumulative values; rates come later). */
export interface CgroupSample {
  cpuUsageNs?: number;
  nrPeriods?: number;
  nrThrottled?: number;
  throttledNs?: number;
  memory?: number;
  memoryLimit?: number;
  ioReadBytes?: number;
  ioWriteBytes?: number;
  pids?: number;
  cpuPressureUs?: number;
  memPressureUs?: number;
  ioPressureUs?: number;
  /** The freezer's state: true while the cgroup is frozen (docker pause). */
  frozen?: boolean;
}

export interface CgroupPaths {
  version: 1 | 2;
  /** v1 controller directories, by controller name. */
  v1?: Partial<Record<'cpu' | 'cpuacct' | 'memory' | 'blkio' | 'pids' | 'freezer', string>>;
  /** v2 (or hybrid unified) directory. */
  v2?: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Where the cgroup of a Docker container lives, on this machine's layout. */
export function containerCgroupPaths(id: string, root = '/sys/fs/cgroup'): CgroupPaths | undefined {
  const v1: CgroupPaths['v1'] = {};
  for (const c of ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'freezer'] as const) {
    const d = join(root, c, 'docker', id);
    if (existsSync(d)) v1[c] = d;
  }
  const v2cands = [
    join(root, 'unified', 'docker', id),
    join(root, 'system.slice', `docker-${id}.scope`),
    join(root, 'docker', id),
  ];
  const v2 = v2cands.find((d) => existsSync(join(d, 'cgroup.procs')));
  if (Object.keys(v1).length > 0) return { version: 1, v1, v2 };
  if (v2) return { version: 2, v2 };
  return undefined;
}

export function readCgroup(paths: CgroupPaths): CgroupSample {
  const s: CgroupSample = {};
  if (paths.version === 1 && paths.v1) {
    const { cpu, cpuacct, memory, blkio, pids } = paths.v1;
    const usage = cpuacct ? read(join(cpuacct, 'cpuacct.usage')) : undefined;
    if (usage !== undefined) s.cpuUsageNs = Number(usage.trim());
    const cs = cpu ? read(join(cpu, 'cpu.stat')) : undefined;
    if (cs) {
      const kv = parseKeyValues(cs);
      s.nrPeriods = kv.nr_periods;
      s.nrThrottled = kv.nr_throttled;
      s.throttledNs = kv.throttled_time;
    }
    if (memory) {
      const u = read(join(memory, 'memory.usage_in_bytes'));
      const st = read(join(memory, 'memory.stat'));
      if (u !== undefined) {
        // Working set as cAdvisor and kubectl top count it: usage minus inactive file cache.
        const kv = st ? parseKeyValues(st) : {};
        s.memory = Math.max(0, Number(u.trim()) - (kv.total_inactive_file ?? 0));
      }
      const l = read(join(memory, 'memory.limit_in_bytes'));
      if (l !== undefined) s.memoryLimit = parseLimit(l);
    }
    const bio = blkio ? read(join(blkio, 'blkio.throttle.io_service_bytes')) : undefined;
    if (bio !== undefined) {
      const b = parseBlkioServiceBytes(bio);
      s.ioReadBytes = b.rbytes;
      s.ioWriteBytes = b.wbytes;
    }
    const p = pids ? read(join(pids, 'pids.current')) : undefined;
    if (p !== undefined) s.pids = Number(p.trim());
    const fz = paths.v1.freezer ? read(join(paths.v1.freezer, 'freezer.state')) : undefined;
    // FREEZING counts as frozen: nothing in it is running any more.
    if (fz !== undefined) s.frozen = fz.trim() !== 'THAWED';
  }
  if (paths.v2) {
    const d = paths.v2;
    if (paths.version === 2) {
      const cs = read(join(d, 'cpu.stat'));
      if (cs) {
        const kv = parseKeyValues(cs);
        if (kv.usage_usec !== undefined) s.cpuUsageNs = kv.usage_usec * 1000;
        s.nrPeriods = kv.nr_periods;
        s.nrThrottled = kv.nr_throttled;
        if (kv.throttled_usec !== undefined) s.throttledNs = kv.throttled_usec * 1000;
      }
      const cur = read(join(d, 'memory.current'));
      if (cur !== undefined) {
        const st = read(join(d, 'memory.stat'));
        const kv = st ? parseKeyValues(st) : {};
        s.memory = Math.max(0, Number(cur.trim()) - (kv.inactive_file ?? 0));
      }
      const mx = read(join(d, 'memory.max'));
      if (mx !== undefined) s.memoryLimit = parseLimit(mx);
      const io = read(join(d, 'io.stat'));
      if (io !== undefined) {
        const b = parseIoStat(io);
        s.ioReadBytes = b.rbytes;
        s.ioWriteBytes = b.wbytes;
      }
      const p = read(join(d, 'pids.current'));
      if (p !== undefined) s.pids = Number(p.trim());
      const ev = read(join(d, 'cgroup.events'));
      const fz = ev !== undefined ? parseKeyValues(ev).frozen : undefined;
      if (fz !== undefined) s.frozen = fz === 1;
    }
    // PSI is offered in the unified hierarchy even when the controllers sit in v1 (hybrid).
    const cp = read(join(d, 'cpu.pressure'));
    const mp = read(join(d, 'memory.pressure'));
    const ip = read(join(d, 'io.pressure'));
    if (cp) s.cpuPressureUs = parsePressure(cp)?.someTotalUs;
    if (mp) s.memPressureUs = parsePressure(mp)?.someTotalUs;
    if (ip) s.ioPressureUs = parsePressure(ip)?.someTotalUs;
  }
  return s;
}

/**
 * Turns cumulative counters into per-second rates. A counter that went backwards (container restart,
 * counter wrap) is a reset: the rate is undefined for that sample and `resets` counts it.
 */
export class CounterRate {
  private prev = new Map<string, { ts: bigint; v: number }>();
  resets = 0;
  rate(key: string, ts: bigint, v: number | undefined): number | undefined {
    if (v === undefined || !Number.isFinite(v)) return undefined;
    const p = this.prev.get(key);
    this.prev.set(key, { ts, v });
    if (!p) return undefined;
    const dt = Number(ts - p.ts) / 1e9;
    if (dt <= 0) return undefined;
    if (v < p.v) {
      this.resets++;
      return undefined;
    }
    return (v - p.v) / dt;
  }
  /** Ratio of two counters' increments (throttled periods / periods). */
  delta(key: string, v: number | undefined): number | undefined {
    if (v === undefined || !Number.isFinite(v)) return undefined;
    const p = this.prev.get(key);
    this.prev.set(key, { ts: 0n, v });
    if (!p) return undefined;
    if (v < p.v) {
      this.resets++;
      return undefined;
    }
    return v - p.v;
  }
  forgetPrefix(prefix: string): void {
    for (const k of this.prev.keys()) if (k.startsWith(prefix)) this.prev.delete(k);
  }
}

/** Rates and gauges of one interval, in MetricBody units. */
export function sampleToMetric(id: string, ts: bigint, s: CgroupSample, rates: CounterRate): MetricBody {
  const m: MetricBody = {};
  const cpuNsPerS = rates.rate(`${id}:cpu`, ts, s.cpuUsageNs);
  if (cpuNsPerS !== undefined) m.cpu = cpuNsPerS / 1e9;
  const dp = rates.delta(`${id}:periods`, s.nrPeriods);
  const dt = rates.delta(`${id}:throttled`, s.nrThrottled);
  if (dp !== undefined && dt !== undefined) m.cpuThrottled = dp > 0 ? dt / dp : 0;
  if (s.memory !== undefined) m.memory = s.memory;
  if (s.memoryLimit !== undefined) m.memoryLimit = s.memoryLimit;
  const r = rates.rate(`${id}:rbytes`, ts, s.ioReadBytes);
  const w = rates.rate(`${id}:wbytes`, ts, s.ioWriteBytes);
  if (r !== undefined) m.blkRead = r;
  if (w !== undefined) m.blkWrite = w;
  if (r !== undefined || w !== undefined) m.blkIo = (r ?? 0) + (w ?? 0);
  if (s.pids !== undefined) m.pids = s.pids;
  if (s.frozen !== undefined) m.frozen = s.frozen ? 1 : 0;
  // PSI totals are microseconds stalled: the rate × 100 / 1e6 is the percentage of wall time stalled.
  const cp = rates.rate(`${id}:cpupsi`, ts, s.cpuPressureUs);
  const mp = rates.rate(`${id}:mempsi`, ts, s.memPressureUs);
  const ip = rates.rate(`${id}:iopsi`, ts, s.ioPressureUs);
  if (cp !== undefined) m.cpuPressure = cp / 1e4;
  if (mp !== undefined) m.memPressure = mp / 1e4;
  if (ip !== undefined) m.ioPressure = ip / 1e4;
  return m;
}

export interface ContainerInfo {
  id: string;
  name?: string;
  image?: string;
  labels?: Record<string, string>;
}

export interface CgroupSourceOptions {
  intervalMs?: number;
  root?: string;
  hostname?: string;
  /** Lists the containers to watch; default: the running containers of `docker`. */
  list?: () => Promise<ContainerInfo[]>;
  /** The Docker Engine whose containers are watched (default: the local one). */
  docker?: Docker;
}

/** The running containers of a Docker Engine, as `docker ps` lists them. */
function listOf(docker: Docker): () => Promise<ContainerInfo[]> {
  return async () =>
    (await docker.listContainers()).map((c) => ({
      id: c.Id,
      name: c.Names?.[0]?.replace(/^\//, ''),
      image: c.Image,
      labels: c.Labels,
    }));
}

export class CgroupSource implements Source {
  readonly name = 'cgroup';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  private timer?: NodeJS.Timeout;
  private readonly rates = new CounterRate();
  private readonly paths = new Map<string, CgroupPaths | null>();
  private readonly st: SourceStats = {
    events: 0,
    malformed: 0,
    lost: 0,
    containers: 0,
    resets: 0,
    errors: 0,
  };
  private readonly opts: Required<Omit<CgroupSourceOptions, 'list' | 'docker'>> & {
    list: () => Promise<ContainerInfo[]>;
  };
  private busy = false;

  constructor(opts: CgroupSourceOptions = {}) {
    this.opts = {
      intervalMs: opts.intervalMs ?? 1000,
      root: opts.root ?? '/sys/fs/cgroup',
      hostname: opts.hostname ?? osHostname(),
      list: opts.list ?? listOf(opts.docker ?? new Docker()),
    };
  }

  /** One poll: read every container's cgroup and return the events (also used by tests). */
  async poll(ts: bigint = BigInt(Date.now()) * 1_000_000n): Promise<VigieEvent[]> {
    let list: ContainerInfo[];
    try {
      list = await this.opts.list();
    } catch (e) {
      this.st.errors = Number(this.st.errors) + 1;
      log.warn('cannot list containers', { error: (e as Error).message });
      return [];
    }
    const seen = new Set<string>();
    const out: VigieEvent[] = [];
    for (const c of list) {
      seen.add(c.id);
      let p = this.paths.get(c.id);
      if (p === undefined) {
        p = containerCgroupPaths(c.id, this.opts.root) ?? null;
        this.paths.set(c.id, p);
      }
      if (!p) continue;
      const sample = readCgroup(p);
      const metric = sampleToMetric(c.id, ts, sample, this.rates);
      if (Object.keys(metric).length === 0) continue;
      out.push({
        id: this.ids.next(),
        kind: 'metric',
        ts,
        source: 'cgroup',
        host: this.opts.hostname,
        container: { id: c.id, name: c.name, image: c.image, labels: c.labels },
        metric,
      });
    }
    for (const id of this.paths.keys())
      if (!seen.has(id)) {
        this.paths.delete(id);
        this.rates.forgetPrefix(`${id}:`);
      }
    this.st.containers = seen.size;
    this.st.resets = this.rates.resets;
    return out;
  }

  async start(sink: EventSink): Promise<void> {
    const tick = async () => {
      if (this.busy) return;
      this.busy = true;
      try {
        for (const ev of await this.poll()) {
          if (sink(ev)) this.st.events++;
          else this.st.lost++;
        }
      } finally {
        this.busy = false;
      }
    };
    await tick();
    this.timer = setInterval(() => void tick(), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  stats(): SourceStats {
    return { ...this.st };
  }
}

/**
 * Registry factory. The events name each container by its id and what `docker ps` tells (image,
 * name, labels); the engine gives them the container's workload identity from the catalogue
 * (docs/architecture.md, "Workload identity"), as it does for every source.
 */
export function createCgroupSource(ctx: {
  hostname: string;
  config: Record<string, Record<string, unknown> | undefined>;
  containers?: ContainerCatalogue;
}): Source | undefined {
  const cfg = ctx.config.cgroup ?? {};
  if (cfg.enabled === false) return undefined;
  const root = typeof cfg.root === 'string' ? cfg.root : '/sys/fs/cgroup';
  if (!existsSync(root)) {
    log.info(`no cgroup filesystem at ${root}: cgroup source disabled`);
    return undefined;
  }
  return new CgroupSource({
    root,
    hostname: ctx.hostname,
    intervalMs: typeof cfg.intervalMs === 'number' ? cfg.intervalMs : 1000,
    docker: ctx.containers?.docker,
  });
}
