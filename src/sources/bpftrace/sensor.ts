/**
 * The eBPF sensor: starts and supervises `bpftrace -f json` running program.ts, parses its output,
 * attributes each record to its container and emits syscall, process, network and file events.
 * Attribution has two steps: CgroupMap turns the task's cgroup id (or its pid) into a container id,
 * and into its pod's uid when the kubelet made the cgroup; then a PodAttribution (the pod directory
 * the Kubernetes watch and the runtime's CRI API fill, SourceContext.pods) names the pod and the
 * container of a pod's cgroup, and a ContainerAttribution (the container catalogue the Docker source
 * fills, SourceContext.containers) names any other container, or a pod's one nothing else named. Lost events (kernel buffers full) and malformed
 * lines are counted and reported.
 * If bpftrace cannot run (missing, not root, no tracefs, verifier refusal), the sensor says so once,
 * clearly, and Vigie goes on with Docker data alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import { EventIds, nowNs, type ContainerRef, type K8sRef, type VigieEvent } from '../../model/event.js';
import { logger } from '../../util/log.js';
import type {
  ContainerAttribution,
  EventSink,
  PodAttribution,
  Source,
  SourceContext,
  SourceStats,
} from '../types.js';
import { CgroupMap, ownCgroupId } from './cgroups.js';
import { isWriteOpen, SensorParser, type SensorRecord } from './parser.js';
import { ProcessTable, type Parentage } from './procs.js';
import { buildProgram, type ProgramOptions } from './program.js';

const log = logger('sensor');

export interface SensorOptions extends ProgramOptions {
  hostname: string;
  /** Names the containers; default: by their id alone (no Docker metadata). */
  containers?: ContainerAttribution;
  /** Names the pod of a container whose cgroup path has a pod uid (Kubernetes nodes). */
  pods?: PodAttribution;
  cgroups?: CgroupMap;
  /** bpftrace binary (default "bpftrace"). */
  bpftrace?: string;
  /** Replace the generated program (tests). */
  program?: string;
  /** How long to wait for the probes to attach, ms. */
  attachTimeoutMs?: number;
  /** Restarts allowed per minute before giving up. */
  maxRestartsPerMinute?: number;
  /** Period of lost-event reports, ms. */
  reportEveryMs?: number;
}

/** A container's reference and, for a pod's container, its pod. */
interface Attributed {
  container: ContainerRef;
  k8s?: K8sRef;
}

/** How long a pod container named without its pod's status stands before the pods are asked again, ms. */
const PROVISIONAL_MS = 5000;

interface Pending {
  rec: SensorRecord;
  ts: bigint;
  parent?: Parentage;
}

export class BpftraceSensor implements Source {
  readonly name = 'bpftrace';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  readonly parser = new SensorParser();
  readonly cgroups: CgroupMap;
  /** Names the pod of a container whose cgroup path has a pod uid. */
  readonly pods?: PodAttribution;
  /** What each pid runs, so that an exec is attributed to the process that ran it (procs.ts). */
  readonly procs = new ProcessTable();
  private child?: ChildProcess;
  private sink: EventSink = () => true;
  private stopped = false;
  private available = false;
  private unavailableReason?: string;
  private restarts: number[] = [];
  private pending = new Map<string, Pending[]>();
  /**
   * Pod containers the pod directory could not fully name (the pod alone, or nothing): what was found
   * instead, and until when (ms) it stands before the directory is asked again. Without it, each
   * batch of their records would wait for the watch again.
   */
  private provisional = new Map<string, { found: Attributed; until: number }>();
  private readonly containers: ContainerAttribution;
  private reportTimer?: NodeJS.Timeout;
  private lastLost = 0;
  private lastReport = Date.now();
  private exited: Promise<void> = Promise.resolve();
  private c = {
    events: 0,
    unattributed: 0,
    /** Records of a pod's container, named with their pod. */
    podAttributed: 0,
    runtimeSetup: 0,
    pendingDropped: 0,
    restarts: 0,
    sinkDropped: 0,
  };

  constructor(private readonly opts: SensorOptions) {
    this.cgroups = opts.cgroups ?? new CgroupMap();
    this.pods = opts.pods;
    this.containers = opts.containers ?? new ContainersByIdOnly();
    // Refresh the map as soon as Docker reports a start or a stop.
    this.containers.onChange(() => this.cgroups.rescan());
  }

  /** Whether the sensor's probes are attached. */
  get running(): boolean {
    return this.available;
  }

  get reason(): string | undefined {
    return this.unavailableReason;
  }

  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    const why = this.preflight();
    if (why) return this.unavailable(why);
    this.cgroups.rescan();
    await this.launch();
    this.reportTimer = setInterval(() => this.reportLost(), this.opts.reportEveryMs ?? 5000);
    this.reportTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reportTimer) clearInterval(this.reportTimer);
    const ch = this.child;
    if (ch && ch.exitCode === null && ch.signalCode === null) {
      ch.kill('SIGTERM');
      const t = setTimeout(() => ch.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(t);
    }
    this.reportLost();
    this.available = false;
  }

  stats(): SourceStats {
    const p = this.parser.stats;
    return {
      ...this.c,
      events: this.c.events,
      malformed: p.malformed,
      lost: p.lost,
      lines: p.lines,
      records: p.records,
      probes: p.attached,
      running: this.available,
      cgroupsKnown: this.cgroups.size,
      processesKnown: this.procs.size,
      cgroupScans: this.cgroups.stats.scans,
      procLookups: this.cgroups.stats.procLookups,
    };
  }

  private preflight(): string | undefined {
    if (typeof process.getuid === 'function' && process.getuid() !== 0)
      return 'bpftrace needs root (run vigie as root)';
    const v = spawnSync(this.opts.bpftrace ?? 'bpftrace', ['--version'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (v.error) return `bpftrace not found (${v.error.message}); install the "bpftrace" package`;
    if (v.status !== 0) return `bpftrace --version failed: ${(v.stderr || v.stdout).trim()}`;
    return undefined;
  }

  private unavailable(why: string): void {
    this.available = false;
    if (this.unavailableReason) return;
    this.unavailableReason = why;
    const msg = `eBPF sensor unavailable: ${why}. Continuing with Docker data only (no syscall, process, network or file events).`;
    log.warn(msg);
    this.emitInternal('sensor_unavailable', msg);
  }

  private emitInternal(type: string, message: string, counts?: Record<string, number>): void {
    this.sink({
      id: this.ids.next(),
      kind: 'internal',
      ts: nowNs(),
      source: 'bpftrace',
      host: this.opts.hostname,
      internal: { type, message, counts },
    });
  }

  private launch(): Promise<void> {
    const self = ownCgroupId();
    const program =
      this.opts.program ??
      buildProgram({
        ...this.opts,
        excludeCgroups: [...(this.opts.excludeCgroups ?? []), ...(self !== undefined ? [BigInt(self)] : [])],
      });
    const ch = spawn(this.opts.bpftrace ?? 'bpftrace', ['-f', 'json', '-e', program], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        BPFTRACE_STRLEN: process.env.BPFTRACE_STRLEN ?? '128',
        // Larger per-CPU output buffers (default 64 pages) absorb bursts instead of losing them.
        BPFTRACE_PERF_RB_PAGES: process.env.BPFTRACE_PERF_RB_PAGES ?? '512',
      },
    });
    this.child = ch;
    const stderrTail: string[] = [];
    let attached = false;
    let settle!: () => void;
    const ready = new Promise<void>((r) => (settle = r));
    const timer = setTimeout(() => {
      if (attached) return;
      this.unavailable(
        `bpftrace did not attach its probes within ${(this.opts.attachTimeoutMs ?? 60_000) / 1000}s`,
      );
      ch.kill('SIGKILL');
      settle();
    }, this.opts.attachTimeoutMs ?? 60_000);
    this.exited = new Promise<void>((resolve) => {
      ch.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.available = false;
        resolve();
        if (this.stopped) return settle();
        const tail = stderrTail
          .filter((l) => !/RLIMIT_MEMLOCK/.test(l))
          .slice(-5)
          .join(' | ');
        if (!attached) {
          this.unavailable(
            `bpftrace exited before attaching (code ${code ?? signal}): ${tail || 'no message'}`,
          );
          return settle();
        }
        this.restart(`bpftrace exited (code ${code ?? signal}) ${tail}`);
      });
    });
    ch.on('error', (err) => {
      clearTimeout(timer);
      this.unavailable(`cannot start bpftrace: ${err.message}`);
      settle();
    });
    createInterface({ input: ch.stdout! }).on('line', (line) => {
      const rec = this.parser.parseLine(line);
      if (!attached && this.parser.stats.attached > 0) {
        attached = true;
        this.available = true;
        this.unavailableReason = undefined;
        clearTimeout(timer);
        log.info(`eBPF sensor running (${this.parser.stats.attached} probes)`);
        settle();
      }
      if (rec) this.handle(rec);
    });
    createInterface({ input: ch.stderr! }).on('line', (line) => {
      if (this.parser.parseStderr(line)) return;
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    });
    return ready;
  }

  private restart(why: string): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= (this.opts.maxRestartsPerMinute ?? 5)) {
      this.unavailable(`${why}; restarted ${this.restarts.length} times in a minute, giving up`);
      return;
    }
    this.restarts.push(now);
    this.c.restarts++;
    log.warn(`${why}; restarting`);
    this.emitInternal('sensor_restart', why, { restarts: this.c.restarts });
    setTimeout(() => {
      if (!this.stopped) void this.launch();
    }, 500 * this.restarts.length);
  }

  private reportLost(): void {
    const lost = this.parser.stats.lost;
    const now = Date.now();
    if (lost > this.lastLost) {
      const delta = lost - this.lastLost;
      const rate = delta / Math.max(0.001, (now - this.lastReport) / 1000);
      const msg = `sensor lost ${delta} events (${rate.toFixed(1)}/s, ${lost} in total): kernel buffers overflowed`;
      log.warn(msg);
      this.emitInternal('sensor_lost', msg, { lost, lostDelta: delta, lostPerSec: rate });
    }
    this.lastLost = lost;
    this.lastReport = now;
  }

  /** Attribute one record to its container and emit its events. Public for tests. */
  handle(rec: SensorRecord): void {
    // runc's own setup inside the new cgroup, before the container's entrypoint runs.
    if (rec.comm.startsWith('runc:')) {
      this.c.runtimeSetup++;
      return;
    }
    // The process table follows every exec, in the kernel's order, attributed or not.
    const parent = rec.t === 'exec' ? this.parentOf(rec) : undefined;
    const cg = this.cgroups.lookup(rec.cgroup, rec.pid);
    if (!cg) {
      this.c.unattributed++;
      return;
    }
    const id = cg.id;
    const ts = nowNs();
    const podUid = cg.podUid;
    const pods = this.pods;
    if (podUid !== undefined && pods !== undefined) {
      const inPod = pods.known(id, podUid);
      if (inPod) {
        this.c.podAttributed++;
        return this.emitRecord(rec, inPod.container, ts, parent, inPod.k8s);
      }
      const prov = this.provisional.get(id);
      if (prov !== undefined) {
        if (Date.now() < prov.until) {
          if (prov.found.k8s) this.c.podAttributed++;
          return this.emitRecord(rec, prov.found.container, ts, parent, prov.found.k8s);
        }
        this.provisional.delete(id);
      }
    } else {
      const known = this.containers.known(id);
      if (known) return this.emitRecord(rec, known, ts, parent);
    }
    let q = this.pending.get(id);
    if (!q) {
      q = [];
      this.pending.set(id, q);
      const flush = (found: Attributed | undefined) => {
        const items = this.pending.get(id) ?? [];
        this.pending.delete(id);
        const got: Attributed = found ?? { container: { id } };
        if (podUid !== undefined && pods !== undefined && pods.known(id, podUid) === undefined) {
          if (this.provisional.size >= 10_000) this.provisional.clear();
          this.provisional.set(id, { found: got, until: Date.now() + PROVISIONAL_MS });
        }
        if (got.k8s) this.c.podAttributed += items.length;
        for (const p of items) this.emitRecord(p.rec, got.container, p.ts, p.parent, got.k8s);
      };
      this.attribute(id, podUid).then(flush, () => flush(undefined));
    }
    if (q.length < 5000) q.push({ rec, ts, parent });
    else this.c.pendingDropped++;
  }

  /**
   * A container not known yet: a pod's container through the pod directory; any other container, or
   * a pod's container it cannot name (Docker run with a kubelet-like --cgroup-parent), through the
   * container catalogue.
   */
  private async attribute(id: string, podUid: string | undefined): Promise<Attributed | undefined> {
    if (podUid !== undefined && this.pods) {
      const inPod = await this.pods.lookup(id, podUid).catch(() => undefined);
      if (inPod) return inPod;
    }
    const ref = await this.containers.lookup(id);
    return ref && { container: ref };
  }

  /** The program name of an exec (busybox applets run as /proc/self/exe with argv[0] the applet). */
  private static execName(rec: Extract<SensorRecord, { t: 'exec' }>): string {
    return rec.comm === 'exe' && rec.filename === '/proc/self/exe' && rec.argv0
      ? basename(rec.argv0)
      : rec.comm;
  }

  private parentOf(rec: Extract<SensorRecord, { t: 'exec' }>): Parentage {
    return this.procs.exec({
      pid: rec.pid,
      ppid: rec.ppid,
      comm: rec.comm,
      name: BpftraceSensor.execName(rec),
      pcomm: rec.pcomm,
      caller: rec.caller,
    });
  }

  private emitRecord(
    rec: SensorRecord,
    container: ContainerRef,
    ts: bigint,
    parent?: Parentage,
    k8s?: K8sRef,
  ): void {
    const host = this.opts.hostname;
    const base = k8s ? { source: 'bpftrace', host, container, k8s } : { source: 'bpftrace', host, container };
    const out = (ev: Omit<VigieEvent, 'id'>) => {
      this.c.events++;
      if (!this.sink({ id: this.ids.next(), ...ev } as VigieEvent)) this.c.sinkDropped++;
    };
    switch (rec.t) {
      case 'syscalls':
        // The bulk of all events: plain literals, no spreads.
        for (let i = 0; i < rec.names.length; i++) {
          this.c.events++;
          const ev: VigieEvent = {
            id: this.ids.next(),
            kind: 'syscall',
            ts: ts + BigInt(i),
            source: 'bpftrace',
            host,
            container,
            proc: { pid: rec.pid, tid: rec.tid, name: rec.comm },
            syscall: { name: rec.names[i], nr: rec.nrs[i], dir: '>' },
          };
          if (k8s) ev.k8s = k8s;
          if (!this.sink(ev)) this.c.sinkDropped++;
        }
        return;
      case 'exec': {
        // busybox runs its applets by re-executing /proc/self/exe with argv[0] = the applet.
        const name = BpftraceSensor.execName(rec);
        out({
          ...base,
          kind: 'process',
          ts,
          proc: {
            pid: rec.pid,
            tid: rec.tid,
            ppid: rec.ppid,
            uid: rec.uid,
            name,
            exe: rec.filename,
            cmdline: rec.cmdline ?? name,
            // The process that ran the exec (procs.ts), not the kernel parent's name alone.
            pname: parent?.pname ?? rec.pcomm,
            anames: parent?.anames,
            tty: rec.tty,
          },
          syscall: { name: 'execve', dir: '<', ret: 0 },
        });
        return;
      }
      case 'connect':
      case 'accept': {
        const network =
          rec.t === 'connect'
            ? { op: 'connect' as const, dstIp: rec.ip, dstPort: rec.port }
            : { op: 'accept' as const, proto: 'tcp', srcIp: rec.ip, srcPort: rec.port };
        out({
          ...base,
          kind: 'network',
          ts,
          proc: { pid: rec.pid, tid: rec.tid, name: rec.comm },
          network,
          syscall: { name: rec.t, dir: rec.t === 'connect' ? '>' : '<' },
        });
        return;
      }
      case 'open':
        out({
          ...base,
          kind: 'file',
          ts,
          proc: { pid: rec.pid, tid: rec.tid, name: rec.comm },
          file: { op: 'open', path: rec.path, flags: rec.flags, write: isWriteOpen(rec.flags) },
          syscall: { name: 'openat', dir: '>' },
        });
        return;
    }
  }
}

/** Attribution without a catalogue: a container is named by its id alone. */
class ContainersByIdOnly implements ContainerAttribution {
  known(id: string): ContainerRef {
    return { id };
  }
  async lookup(id: string): Promise<ContainerRef> {
    return { id };
  }
  onChange(): void {
    // nothing reports starts and stops: the cgroup map rescans on a miss
  }
}

export function createBpftraceSensor(ctx: SourceContext): Source | undefined {
  const cfg = ctx.config.bpftrace ?? {};
  if (cfg.enabled === false) return undefined;
  return new BpftraceSensor({
    hostname: ctx.hostname,
    containers: ctx.containers,
    pods: ctx.pods,
    syscalls: cfg.syscalls !== false,
    batch: typeof cfg.batch === 'number' ? cfg.batch : undefined,
  });
}
