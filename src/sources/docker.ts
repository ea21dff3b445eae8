/**
 * Docker Engine source (dockerode): the containers running at start, the event stream (start, die,
 * oom, exec_create/exec_start, ...) as `container` events, and streaming stats as `metric` events.
 *
 * Faults: when dockerd goes away (restart, socket closed) the source says so once (an `internal`
 * event and a warning), retries with backoff, and on reconnect re-lists containers (those that
 * vanished meanwhile get a synthetic `gone` event) and replays the events it missed (`since`, with
 * duplicates removed). A container that vanishes while its stats stream runs is dropped quietly
 * and counted.
 *
 * The DockerContainerCatalogue is shared with the eBPF sensor (SourceContext.containers) so that both
 * attribute events to the same container names, images and commands; the engine resolves every
 * event's workload identity through it (docs/architecture.md, "Workload identity").
 */
import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import {
  EventIds,
  containerWorkload,
  nowNs,
  type ContainerRef,
  type MetricBody,
  type VigieEvent,
} from '../model/event.js';
import { logger } from '../util/log.js';
import type {
  ContainerCatalogue,
  ContainerChangeListener,
  ContainerEntry,
  EventSink,
  Source,
  SourceContext,
  SourceStats,
} from './types.js';

const log = logger('docker');

/**
 * id → container metadata, filled from list/inspect/events; shared by the Docker and eBPF sources and
 * the engine's workload identity. A container is also found by its 12-character short id (Falco's
 * `container.id`) and by any id prefix it was looked up with.
 */
export class DockerContainerCatalogue implements ContainerCatalogue {
  private byId = new Map<string, ContainerEntry>();
  /** Short ids and looked-up prefixes → full id. */
  private aliases = new Map<string, string>();
  private inflight = new Map<string, Promise<ContainerEntry | undefined>>();
  private listeners: ContainerChangeListener[] = [];
  /** One shared ContainerRef per entry (events never mutate it): the sensor's hot path allocates nothing. */
  private refs = new WeakMap<ContainerEntry, ContainerRef>();
  constructor(readonly docker: Docker) {}

  get(id: string): ContainerEntry | undefined {
    const e = this.byId.get(id);
    if (e !== undefined || id.length >= 64) return e;
    const full = this.aliases.get(id);
    return full === undefined ? undefined : this.byId.get(full);
  }

  running(): ContainerEntry[] {
    return [...this.byId.values()].filter((e) => e.running);
  }

  known(id: string): ContainerRef | undefined {
    const e = this.get(id);
    return e && this.refOf(e);
  }

  async lookup(id: string): Promise<ContainerRef | undefined> {
    const e = await this.resolve(id);
    return e && this.refOf(e);
  }

  onChange(fn: ContainerChangeListener): void {
    this.listeners.push(fn);
  }

  put(e: ContainerEntry): void {
    const prev = this.byId.get(e.id);
    this.byId.set(e.id, e);
    if (e.id.length > 12) this.aliases.set(e.id.slice(0, 12), e.id);
    if (e.running && !prev?.running) for (const l of this.listeners) l(e, 'start');
    if (!e.running && prev?.running) for (const l of this.listeners) l(e, 'stop');
    this.prune();
  }

  markStopped(id: string): void {
    const e = this.get(id);
    if (e && e.running) this.put({ ...e, running: false, changedAt: Date.now() });
  }

  async resolve(id: string): Promise<ContainerEntry | undefined> {
    const known = this.get(id);
    if (known) return known;
    let p = this.inflight.get(id);
    if (!p) {
      p = this.inspect(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  async inspect(id: string): Promise<ContainerEntry | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      const e = entryFromInspect(info);
      this.put(e);
      if (id !== e.id) this.aliases.set(id, e.id);
      return e;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  private refOf(e: ContainerEntry): ContainerRef {
    let ref = this.refs.get(e);
    if (!ref) {
      ref = containerRef(e);
      this.refs.set(e, ref);
    }
    return ref;
  }

  private prune(): void {
    if (this.byId.size < 2000) return;
    const cutoff = Date.now() - 10 * 60_000;
    for (const [id, e] of this.byId) if (!e.running && e.changedAt < cutoff) this.byId.delete(id);
    for (const [alias, id] of this.aliases) if (!this.byId.has(id)) this.aliases.delete(alias);
  }
}

/** A catalogue on the Docker socket the config names (`docker.socketPath`), else the default one. */
export function createContainerCatalogue(config: SourceContext['config']): DockerContainerCatalogue {
  const socketPath = config.docker?.socketPath;
  return new DockerContainerCatalogue(
    new Docker(dockerOptions(typeof socketPath === 'string' ? socketPath : undefined)),
  );
}

export function entryFromInspect(info: Docker.ContainerInspectInfo): ContainerEntry {
  const cmd = [
    ...(info.Config?.Entrypoint ? [info.Config.Entrypoint].flat() : []),
    ...(info.Config?.Cmd ?? []),
  ];
  const image = info.Config?.Image;
  const command = cmd.join(' ');
  const labels = info.Config?.Labels ?? {};
  return {
    id: info.Id,
    name: info.Name?.replace(/^\//, ''),
    image,
    command,
    labels,
    // The workload identity, once per container, from what the container was started as.
    workload: containerWorkload({ image, command, labels }),
    pid: info.State?.Pid || undefined,
    cpuLimit: cpuLimitOf(info.HostConfig),
    running: Boolean(info.State?.Running),
    changedAt: Date.now(),
  };
}

/** Cores a container may use: --cpus, else quota/period, else the size of its cpuset. */
export function cpuLimitOf(h: Docker.HostConfig | undefined): number | undefined {
  if (!h) return undefined;
  if (h.NanoCpus && h.NanoCpus > 0) return h.NanoCpus / 1e9;
  if (h.CpuQuota && h.CpuQuota > 0)
    return h.CpuQuota / (h.CpuPeriod && h.CpuPeriod > 0 ? h.CpuPeriod : 100_000);
  if (h.CpusetCpus) {
    let n = 0;
    for (const part of h.CpusetCpus.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - a + 1;
    }
    return n > 0 ? n : undefined;
  }
  return undefined;
}

export function containerRef(e: ContainerEntry): ContainerRef {
  return {
    id: e.id,
    name: e.name,
    image: e.image,
    command: e.command,
    labels: e.labels,
    workload: e.workload,
  };
}

export function dockerOptions(socketPath?: string): Docker.DockerOptions {
  return { socketPath: socketPath ?? process.env.VIGIE_DOCKER_SOCKET ?? '/var/run/docker.sock' };
}

/** Splits a byte stream into lines (Docker's event and stats streams are newline-delimited JSON). */
export function onLines(stream: Readable, fn: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) fn(line);
    }
  });
}

interface DockerEventMsg {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

interface StatsSample {
  read?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
    throttling_data?: { periods?: number; throttled_periods?: number };
  };
  precpu_stats?: StatsSample['cpu_stats'];
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  pids_stats?: { current?: number };
}

/** Turn one Docker stats sample into a metric body; `prev` holds the cumulative counters of the last one. */
export function metricFromStats(
  s: StatsSample,
  prev: { t: number; netRx: number; netTx: number; blkRead: number; blkWrite: number } | undefined,
): {
  metric: MetricBody;
  counters: { t: number; netRx: number; netTx: number; blkRead: number; blkWrite: number };
} {
  const m: MetricBody = {};
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  const total = cpu?.cpu_usage?.total_usage ?? 0;
  const preTotal = pre?.cpu_usage?.total_usage ?? 0;
  const sys = cpu?.system_cpu_usage ?? 0;
  const preSys = pre?.system_cpu_usage ?? 0;
  const ncpu = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  if (preSys > 0 && sys > preSys && total >= preTotal) m.cpu = ((total - preTotal) / (sys - preSys)) * ncpu;
  const periods = (cpu?.throttling_data?.periods ?? 0) - (pre?.throttling_data?.periods ?? 0);
  if (periods > 0)
    m.cpuThrottled =
      ((cpu?.throttling_data?.throttled_periods ?? 0) - (pre?.throttling_data?.throttled_periods ?? 0)) /
      periods;
  const mem = s.memory_stats;
  if (mem?.usage !== undefined) {
    // Same as `docker stats`: page cache that can be reclaimed is not the workload's memory.
    const inactive = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? 0;
    m.memory = Math.max(0, mem.usage - inactive);
    if (mem.limit) m.memoryLimit = mem.limit;
  }
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    netRx += n.rx_bytes ?? 0;
    netTx += n.tx_bytes ?? 0;
  }
  let blkRead = 0;
  let blkWrite = 0;
  for (const b of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (b.op ?? '').toLowerCase();
    if (op === 'read') blkRead += b.value ?? 0;
    else if (op === 'write') blkWrite += b.value ?? 0;
  }
  const t = s.read ? Date.parse(s.read) : Date.now();
  if (prev && t > prev.t) {
    const dt = (t - prev.t) / 1000;
    m.netRx = Math.max(0, (netRx - prev.netRx) / dt);
    m.netTx = Math.max(0, (netTx - prev.netTx) / dt);
    m.blkRead = Math.max(0, (blkRead - prev.blkRead) / dt);
    m.blkWrite = Math.max(0, (blkWrite - prev.blkWrite) / dt);
  }
  m.netRxTotal = netRx;
  m.netTxTotal = netTx;
  if (s.pids_stats?.current !== undefined) m.pids = s.pids_stats.current;
  return { metric: m, counters: { t, netRx, netTx, blkRead, blkWrite } };
}

export interface DockerSourceOptions {
  hostname: string;
  socketPath?: string;
  /** Streaming stats per running container (default true). */
  stats?: boolean;
  /** The catalogue to fill (shared with the eBPF sensor); default: one of its own on `socketPath`. */
  containers?: ContainerCatalogue;
  /** Backoff bounds for reconnecting, ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class DockerSource implements Source {
  readonly name = 'docker';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  readonly docker: Docker;
  readonly containers: ContainerCatalogue;
  private sink: EventSink = () => true;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private eventStream?: Readable;
  private statsStreams = new Map<string, Readable>();
  private lastEventTime = 0;
  private seenEvents = new Set<string>();
  private counters = {
    events: 0,
    malformed: 0,
    lost: 0,
    reconnects: 0,
    disconnects: 0,
    vanished: 0,
    containerEvents: 0,
    metrics: 0,
    connected: 0,
  };
  private wakeSleep?: () => void;

  constructor(private readonly opts: DockerSourceOptions) {
    this.docker = opts.containers?.docker ?? new Docker(dockerOptions(opts.socketPath));
    this.containers = opts.containers ?? new DockerContainerCatalogue(this.docker);
  }

  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    // Wait for the first connection attempt so that callers see the initial snapshot in order,
    // but never fail start: a missing dockerd is reported and retried.
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    this.loopDone = this.loop(firstDone);
    await Promise.race([first, new Promise((r) => setTimeout(r, 5000))]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeSleep?.();
    this.eventStream?.destroy();
    for (const s of this.statsStreams.values()) s.destroy();
    this.statsStreams.clear();
    await this.loopDone;
  }

  stats(): SourceStats {
    return {
      ...this.counters,
      connected: this.counters.connected === 1,
      statsStreams: this.statsStreams.size,
    };
  }

  private emit(ev: Omit<VigieEvent, 'id' | 'ts' | 'source' | 'host'> & { ts?: bigint }): void {
    this.counters.events++;
    this.sink({
      id: this.ids.next(),
      ts: ev.ts ?? nowNs(),
      source: 'docker',
      host: this.opts.hostname,
      ...ev,
    } as VigieEvent);
  }

  private internal(type: string, message: string, counts?: Record<string, number>): void {
    this.emit({ kind: 'internal', internal: { type, message, counts } });
  }

  private async loop(firstDone: () => void): Promise<void> {
    let backoff = this.opts.minBackoffMs ?? 500;
    let wasConnected = false;
    let reportedDown = false;
    while (!this.stopped) {
      try {
        await this.docker.ping();
        if (reportedDown) {
          this.counters.reconnects++;
          log.info('reconnected to dockerd');
          this.internal('docker_reconnected', 'reconnected to dockerd', {
            reconnects: this.counters.reconnects,
          });
        }
        reportedDown = false;
        this.counters.connected = 1;
        // Replay from here on after an outage, even if no event came before it.
        if (this.lastEventTime === 0) this.lastEventTime = Math.floor(Date.now() / 1000);
        backoff = this.opts.minBackoffMs ?? 500;
        // dockerd answers the events request only when the first event comes, so subscribe and
        // list concurrently; events arriving meanwhile are handled as they come.
        const subscribed = this.openEvents();
        subscribed.catch(() => undefined);
        await this.snapshot(wasConnected);
        wasConnected = true;
        firstDone();
        await await subscribed;
      } catch (err) {
        firstDone();
        if (this.stopped) break;
        if (!reportedDown) {
          reportedDown = true;
          this.counters.disconnects++;
          const msg = `dockerd unavailable (${(err as Error).message ?? String(err)}); retrying`;
          log.warn(msg);
          this.internal('docker_disconnected', msg, { disconnects: this.counters.disconnects });
        }
      }
      this.counters.connected = 0;
      if (this.stopped) break;
      if (!reportedDown) {
        // The event stream ended without an error: dockerd closed it (restart). Say so once.
        reportedDown = true;
        this.counters.disconnects++;
        log.warn('docker event stream closed; reconnecting');
        this.internal('docker_disconnected', 'docker event stream closed; reconnecting', {
          disconnects: this.counters.disconnects,
        });
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        this.wakeSleep = () => {
          clearTimeout(t);
          r();
        };
      });
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
    }
  }

  /** Subscribe to the event stream; resolves (with a promise of its end) once subscribed. */
  private async openEvents(): Promise<Promise<void>> {
    const since = this.lastEventTime > 0 ? Math.floor(this.lastEventTime) : undefined;
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'] },
      ...(since !== undefined ? { since } : {}),
    })) as unknown as Readable;
    this.eventStream = stream;
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', (e) => (this.stopped ? resolve() : reject(e)));
    });
    onLines(stream, (line) => {
      let msg: DockerEventMsg;
      try {
        msg = JSON.parse(line) as DockerEventMsg;
      } catch {
        this.counters.malformed++;
        return;
      }
      void this.onDockerEvent(msg);
    });
    return ended;
  }

  private async snapshot(reconnect: boolean): Promise<void> {
    const list = await this.docker.listContainers({ all: false });
    const live = new Set(list.map((c) => c.Id));
    if (reconnect) {
      for (const e of this.containers.running()) {
        if (live.has(e.id)) continue;
        this.containers.markStopped(e.id);
        this.stopStats(e.id);
        this.counters.containerEvents++;
        this.emit({
          kind: 'container',
          container: containerRef(e),
          lifecycle: {
            action: 'gone',
            attributes: { synthetic: 'true', reason: 'not running after reconnect' },
          },
        });
      }
    }
    for (const c of list) {
      const known = this.containers.get(c.Id);
      if (known?.running && this.statsStreams.has(c.Id)) continue;
      const e = await this.containers.inspect(c.Id).catch(() => undefined);
      if (!e) continue;
      this.counters.containerEvents++;
      this.emit({
        kind: 'container',
        container: containerRef(e),
        lifecycle: { action: 'running', attributes: { snapshot: 'true' } },
      });
      this.startStats(e);
    }
  }

  private async onDockerEvent(msg: DockerEventMsg): Promise<void> {
    const id = msg.Actor?.ID ?? msg.id;
    const rawAction = msg.Action;
    if (!id || !rawAction) {
      this.counters.malformed++;
      return;
    }
    const key = `${msg.timeNano ?? msg.time}|${id}|${rawAction}`;
    if (this.seenEvents.has(key)) return; // replayed by `since` after a reconnect
    this.seenEvents.add(key);
    if (this.seenEvents.size > 5000) this.seenEvents.delete(this.seenEvents.values().next().value as string);
    if (msg.time) this.lastEventTime = Math.max(this.lastEventTime, msg.time);
    // "exec_start: sh -c id" → action exec_start, the command kept as an attribute.
    const colon = rawAction.indexOf(':');
    const action = colon >= 0 ? rawAction.slice(0, colon) : rawAction;
    const attributes: Record<string, string> = { ...(msg.Actor?.Attributes ?? {}) };
    if (colon >= 0) attributes.detail = rawAction.slice(colon + 1).trim();
    if (action === 'update') await this.containers.inspect(id).catch(() => undefined); // new limits
    if (action === 'start' || action === 'unpause') {
      const e = await this.containers.inspect(id).catch(() => undefined);
      if (e?.running) this.startStats(e);
    }
    if (action === 'die' || action === 'destroy' || action === 'kill' || action === 'stop') {
      if (action !== 'kill') {
        this.containers.markStopped(id);
        this.stopStats(id);
      }
    }
    const entry = this.containers.get(id);
    const ref: ContainerRef = entry
      ? containerRef(entry)
      : { id, name: attributes.name, image: attributes.image, labels: undefined };
    const exit = attributes.exitCode !== undefined ? Number(attributes.exitCode) : undefined;
    this.counters.containerEvents++;
    this.emit({
      kind: 'container',
      ts: msg.timeNano ? BigInt(msg.timeNano) : undefined,
      container: ref,
      lifecycle: { action, attributes, exitCode: exit },
    });
  }

  private startStats(e: ContainerEntry): void {
    if (this.opts.stats === false || this.statsStreams.has(e.id) || this.stopped) return;
    const c = this.docker.getContainer(e.id);
    let prev: ReturnType<typeof metricFromStats>['counters'] | undefined;
    c.stats({ stream: true })
      .then((s) => {
        const stream = s as unknown as Readable;
        if (this.stopped || !this.containers.get(e.id)?.running) {
          stream.destroy();
          return;
        }
        this.statsStreams.set(e.id, stream);
        onLines(stream, (line) => {
          let sample: StatsSample;
          try {
            sample = JSON.parse(line) as StatsSample;
          } catch {
            this.counters.malformed++;
            return;
          }
          const r = metricFromStats(sample, prev);
          prev = r.counters;
          const cur = this.containers.get(e.id) ?? e;
          if (cur.cpuLimit !== undefined) r.metric.cpuLimit = cur.cpuLimit;
          this.counters.metrics++;
          this.emit({ kind: 'metric', container: containerRef(cur), metric: r.metric });
        });
        const ended = () => {
          if (this.statsStreams.get(e.id) !== stream) return;
          this.statsStreams.delete(e.id);
          if (this.stopped) return;
          // Ended while we still think it runs: it vanished (removed, or dockerd went away).
          void this.containers.inspect(e.id).then(
            (now) => {
              if (!now) {
                this.counters.vanished++;
                this.containers.markStopped(e.id);
              } else if (now.running) setTimeout(() => this.startStats(now), 1000);
            },
            () => undefined,
          );
        };
        stream.on('end', ended);
        stream.on('close', ended);
        stream.on('error', ended);
      })
      .catch((err: unknown) => {
        if ((err as { statusCode?: number }).statusCode === 404) this.counters.vanished++;
        else log.debug('stats stream failed', { id: e.id, err: String(err) });
      });
  }

  private stopStats(id: string): void {
    const s = this.statsStreams.get(id);
    if (!s) return;
    this.statsStreams.delete(id);
    s.destroy();
  }
}

export function createDockerSource(ctx: SourceContext): Source | undefined {
  const cfg = ctx.config.docker ?? {};
  if (cfg.enabled === false) return undefined;
  return new DockerSource({
    hostname: ctx.hostname,
    containers: ctx.containers ?? createContainerCatalogue(ctx.config),
    stats: cfg.stats !== false,
  });
}
