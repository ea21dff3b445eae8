/**
 * The learned baseline of one workload (image + command in Docker; namespace + owner in Kubernetes),
 * shared by its replicas and kept across restarts.
 *
 * Dimensions: executed binaries; system-call n-grams (STIDE, one sliding state per thread); network
 * peers and ports; folders written; the resource envelope (cpu, memory, pids quantiles).
 *
 * Lifecycle: learning → ready (learned for `learnSec` AND `minEvents`) → stale (idle for `staleIdleSec`,
 * or drift). Learning is committed window by window (`windowSec`); a window during which the workload
 * had a security alert, or that started less than `pauseSec` after one, is thrown away, so an attack
 * is never learned as normal (performance and posture alerts do not count).
 *
 * Drift is decided on benign evidence only, so that an attacker cannot switch the baseline off by
 * being noisy: `driftItems` new behaviours that each persisted (seen over `driftPersistSec`), recurred
 * on `driftReplicas` containers of the workload, and were never seen within `incidentSec` of a
 * security alert on it. A burst of anomalies with security alerts is an incident and changes nothing.
 * A stale (drift) baseline keeps alerting at a higher threshold (`staleFactor`) until an operator
 * accepts it or it stays quiet for `relearnQuietSec`; then it relearns on top of what it knows.
 */
import type { AlertInput, Priority } from '../../../model/alert.js';
import type { VigieEvent } from '../../../model/event.js';
import { Stide } from '../stide.js';
import type { AlertEmitter } from '../../types.js';
import type { BaselineConfig } from './config.js';
import { Reservoir } from './reservoir.js';
import { SyscallIds } from './syscall-ids.js';

export type BaselineState = 'learning' | 'ready' | 'stale';
export type Dimension = 'binary' | 'syscalls' | 'peer' | 'listen' | 'file' | 'resource';
const RESOURCES = ['cpu', 'memory', 'pids'] as const;
type Resource = (typeof RESOURCES)[number];
/** Dimensions whose sightings are one behaviour per dimension (each alert names a different n-gram). */
const AGGREGATE: ReadonlySet<Dimension> = new Set<Dimension>(['syscalls', 'resource']);
/** Bounds on the drift bookkeeping of one workload. */
const MAX_SIGHTINGS = 512;
const MAX_SIGHTING_CONTAINERS = 64;
const MAX_REPLICAS = 256;
/** Absolute margin added to a resource bound, so that a near-idle workload does not alarm on noise. */
const RESOURCE_FLOOR: Readonly<Record<Resource, number>> = { cpu: 0.1, memory: 32 * 1024 * 1024, pids: 10 };

/**
 * Export/persistence format of one workload's baseline. N-grams are written as system-call names:
 * readable, what `vigie harden` reads, and the same whatever ids the process used.
 */
export interface WorkloadBaselineJSON {
  workload: string;
  state: BaselineState;
  staleReason?: string;
  /** When it became stale. */
  staleSinceMs?: number;
  /** The benign evidence that made it stale (drift). */
  drift?: DriftRecord;
  /** The last security alert on the workload (event time). */
  lastSecurityMs?: number;
  /** The last operator acceptance applied (`vigie baseline accept`). */
  acceptedMs?: number;
  createdMs: number;
  learnStartMs: number;
  readyMs: number;
  lastEventMs: number;
  learnedEvents: number;
  learnedMs: number;
  windowsKept: number;
  windowsDiscarded: number;
  syscallsLearned: number;
  /** The last learning window with enough calls added few new n-grams: the syscall dimension alerts. */
  syscallConverged?: boolean;
  binaries: string[];
  peers: string[];
  connectPorts: number[];
  listenPorts: number[];
  fileDirs: string[];
  syscalls: { n: number; L: number; ngrams: string[] };
  resources: Record<Resource, { seen: number; samples: number[] }>;
}

/** New behaviour that persisted, recurred across replicas and came with no security alert. */
export interface DriftRecord {
  items: { dimension: Dimension; item: string }[];
  /** Containers each of these behaviours was seen on (the fewest) ... */
  replicas: number;
  /** ... of the workload's containers seen meanwhile. */
  of: number;
}

export interface WorkloadStatus {
  workload: string;
  state: BaselineState;
  staleReason?: string;
  /**
   * Why it is in this state, for people: "learning: 312/600 s, 1,204/5,000 events, 3 windows
   * excluded after security alerts"; "stale since …: new behaviour persisting on 2/3 replicas …;
   * alerting at threshold …"; "ready".
   */
  reason: string;
  staleSince?: string;
  drift?: DriftRecord;
  learnedEvents: number;
  learnedSec: number;
  readyAt?: string;
  lastEventAt?: string;
  windowsKept: number;
  windowsDiscarded: number;
  binaries: number;
  ngrams: number;
  syscallsConverged: boolean;
  peers: number;
  connectPorts: number;
  listenPorts: number;
  fileDirs: number;
  resourceSamples: number;
  memoryBytes: number;
}

/** Writes that are not files: redirections to /dev/null, terminals, inherited descriptors. */
const PSEUDO_FILE =
  /^(\/dev\/(null|zero|full|u?random|tty\w*|pts\/\d+|stdout|stderr|stdin|console|ptmx)|\/proc\/(self|thread-self|\d+)\/fd\/)/;

/** Folder of a written file, with purely numeric components folded (/proc/123/x → /proc/#). */
export function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  const dir = i <= 0 ? '/' : path.slice(0, i);
  return dir.replace(/\/\d+(?=\/|$)/g, '/#');
}

/**
 * What identifies an executed binary: its path, or its name when the path says nothing (busybox runs
 * applets by re-executing /proc/self/exe with the applet as argv[0]).
 */
export function binaryOf(p: VigieEvent['proc']): string {
  if (!p) return '';
  const exe = typeof p.exe === 'string' ? p.exe : '';
  const name = typeof p.name === 'string' ? p.name : '';
  if (exe && exe !== '/proc/self/exe' && !exe.startsWith('/proc/self/fd/')) return exe;
  return name || exe;
}

function iso(ms: number): string | undefined {
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** Adds to `target` what `pending` holds, up to `cap` items. */
function mergeInto<T>(target: Set<T>, pending: Set<T>, cap: number): void {
  for (const v of pending) {
    if (target.size >= cap) break;
    target.add(v);
  }
  pending.clear();
}

/**
 * Shared by every baseline of a manager: until `untilMs` the sensor or the pipeline was losing events,
 * so threads' call sequences have holes and unseen n-grams prove nothing.
 */
export interface LossClock {
  untilMs: number;
  suppressed: number;
}

/** Sightings of one new behaviour (a dimension and what was never seen), for the drift decision. */
interface Sighting {
  firstMs: number;
  lastMs: number;
  containers: Set<string>;
  /** Seen near a security alert: part of an incident, never evidence of drift. */
  tainted: boolean;
}

/** A duration for people: 45 s, 30 min, 24 h, 7 d. */
function duration(sec: number): string {
  if (sec < 120) return `${+sec.toFixed(1)} s`;
  if (sec < 7200) return `${+(sec / 60).toFixed(1)} min`;
  if (sec < 172_800) return `${+(sec / 3600).toFixed(1)} h`;
  return `${+(sec / 86_400).toFixed(1)} d`;
}

const count = (n: number) => n.toLocaleString('en-US');

interface HeldSyscallAlert {
  tid: number;
  ratio: number;
  ev: VigieEvent;
  atMs: number;
  /** The unseen n-gram, as system-call names, taken when the threshold was crossed. */
  names: string;
}

export class WorkloadBaseline {
  state: BaselineState = 'learning';
  staleReason: string | undefined;
  staleSinceMs = -1;
  drift: DriftRecord | undefined;
  /** The last security alert on the workload (category attack, or another detector's anomaly). */
  lastSecurityMs = -1;
  acceptedMs = -1;
  createdMs: number;
  learnStartMs = -1;
  readyMs = -1;
  lastEventMs = -1;
  learnedEvents = 0;
  learnedMs = 0;
  windowsKept = 0;
  windowsDiscarded = 0;
  syscallsLearned = 0;
  syscallConverged = false;
  /** Set when something changed that SQLite does not hold yet. */
  dirty = true;
  /** lastEventMs as last written to SQLite. */
  savedLastEventMs = -1;

  readonly binaries = new Set<string>();
  readonly peers = new Set<string>();
  readonly connectPorts = new Set<number>();
  readonly listenPorts = new Set<number>();
  readonly fileDirs = new Set<string>();
  stide: Stide;
  readonly resources: Record<Resource, Reservoir> = {
    cpu: new Reservoir(),
    memory: new Reservoir(),
    pids: new Reservoir(),
  };

  // ---- the open learning window
  private windowStartMs = -1;
  private lastWindowEndMs = -1;
  private pEvents = 0;
  private readonly pBinaries = new Set<string>();
  private readonly pPeers = new Set<string>();
  private readonly pConnectPorts = new Set<number>();
  private readonly pListenPorts = new Set<number>();
  private readonly pDirs = new Set<string>();
  private readonly pResources: Record<Resource, number[]> = { cpu: [], memory: [], pids: [] };
  private bufTid: Int32Array | undefined;
  private bufSys: Int32Array | undefined;
  private bufLen = 0;

  // ---- alerting
  /** The last alert that pauses learning: a security alert on the workload, or one of its anomalies. */
  lastAlertMs = -1;
  private lastSyscallAlertMs = -Infinity;
  /** The last anomaly this baseline reported while stale (drift): it is not quiet. */
  private lastStaleAlertMs = -1;
  private readonly sightings = new Map<string, Sighting>();
  /** Containers of the workload → when last seen (drift needs its replicas). */
  private readonly replicas = new Map<string, number>();
  /** `dimension|item` of the drift record: not reported again while stale (drift). */
  private driftKeys = new Set<string>();
  private pendingSyscall: HeldSyscallAlert | undefined;
  private readonly alertedAt = new Map<string, number>();
  private bounds: Record<Resource, number> | undefined;
  private readonly overCount: Record<Resource, number> = { cpu: 0, memory: 0, pids: 0 };
  /** Anomaly alerts this workload raised (all dimensions). */
  anomalies = 0;

  constructor(
    readonly workload: string,
    private readonly cfg: BaselineConfig,
    nowMs: number,
    private readonly loss: LossClock = { untilMs: -1, suppressed: 0 },
    /** The ids `onSyscall` is given (shared by the workloads of a manager): names for display. */
    private readonly calls: SyscallIds = new SyscallIds(),
  ) {
    this.createdMs = nowMs;
    this.stide = new Stide({ n: cfg.n, L: cfg.L, initialCapacity: 256 });
  }

  // ------------------------------------------------------------------ events

  /** Hot path: one system call (`sys`, its id in `calls`) of thread `tid`. Allocation-free unless it alerts. */
  onSyscall(tid: number, sys: number, nowMs: number, ev: VigieEvent, emit: AlertEmitter): void {
    this.lastEventMs = nowMs;
    if (this.syscallConverged && this.scoring()) {
      this.scoreSyscall(tid, sys, nowMs, ev, emit);
      return;
    }
    // Learning; or ready but the n-gram set still grows: keep learning system calls (window by window,
    // never across an alert) until it converges, and do not alert on them meanwhile.
    if (!this.learningEvent(nowMs)) return;
    // Closing the previous window may just have made the set converge.
    if (this.state === 'ready' && this.syscallConverged) {
      this.scoreSyscall(tid, sys, nowMs, ev, emit);
      return;
    }
    if (this.bufSys === undefined || this.bufTid === undefined) {
      this.bufSys = new Int32Array(this.cfg.bufferCalls);
      this.bufTid = new Int32Array(this.cfg.bufferCalls);
    }
    this.bufTid[this.bufLen] = tid;
    this.bufSys[this.bufLen] = sys;
    this.bufLen++;
    // A full buffer closes the window early: learning never drops calls silently.
    if (this.bufLen === this.bufSys.length) this.closeWindow(nowMs);
  }

  private scoreSyscall(tid: number, sys: number, nowMs: number, ev: VigieEvent, emit: AlertEmitter): void {
    const r = this.stide.score(tid, sys);
    if (
      r.unseen &&
      r.ratio >= this.mismatchThreshold() &&
      this.syscallsLearned >= this.cfg.minSyscalls &&
      nowMs - this.lastSyscallAlertMs >= this.cfg.syscallCooldownSec * 1000
    ) {
      if (nowMs < this.loss.untilMs) {
        this.loss.suppressed++;
        return;
      }
      if (this.pendingSyscall !== undefined) return;
      const ex = this.stide.explain(tid);
      const held: HeldSyscallAlert = {
        tid,
        ratio: r.ratio,
        ev,
        atMs: nowMs,
        names: ex ? ex.ngram.map((id) => this.calls.nameOf(id)).join(' ') : '',
      };
      if (this.cfg.syscallHoldSec > 0) this.pendingSyscall = held;
      else this.syscallAlert(held, emit);
    }
  }

  /**
   * A held syscall-sequence alert goes out once syscallHoldSec passed without a report of lost events
   * (the sensor reports losses after the fact: a sequence with holes looks like a new one).
   */
  private flushHeldSyscall(nowMs: number, emit: AlertEmitter): void {
    const h = this.pendingSyscall;
    if (h === undefined) return;
    if (this.loss.untilMs > h.atMs) {
      this.pendingSyscall = undefined;
      this.loss.suppressed++;
      return;
    }
    if (nowMs - h.atMs < this.cfg.syscallHoldSec * 1000) return;
    this.pendingSyscall = undefined;
    this.syscallAlert(h, emit);
  }

  /** Any non-syscall runtime event of this workload. */
  onEvent(ev: VigieEvent, nowMs: number, emit: AlertEmitter): void {
    this.lastEventMs = nowMs;
    const cid = ev.container?.id;
    if (typeof cid === 'string') this.seeReplica(cid, nowMs);
    const ready = this.scoring();
    if (!ready && !this.learningEvent(nowMs)) return;
    switch (ev.kind) {
      case 'process': {
        const p = ev.proc;
        const bin = binaryOf(p);
        if (!bin) return;
        if (!ready) {
          if (!this.binaries.has(bin)) this.pBinaries.add(bin);
        } else if (!this.binaries.has(bin)) {
          const cmd = typeof p?.cmdline === 'string' ? ` (cmdline: ${p.cmdline})` : '';
          this.novelty(
            'binary',
            bin,
            'Warning',
            `Binary never seen in the baseline executed: ${bin}${cmd}`,
            `executed binary ${bin} was never seen while learning workload ${this.workload} (${this.binaries.size} binaries learned)`,
            ev,
            nowMs,
            emit,
          );
        }
        return;
      }
      case 'file': {
        const f = ev.file;
        if (
          !f ||
          typeof f.path !== 'string' ||
          !(f.write === true || f.op === 'write' || f.op === 'rename' || f.op === 'unlink')
        )
          return;
        if (PSEUDO_FILE.test(f.path)) return;
        const dir = folderOf(f.path);
        if (!ready) {
          if (!this.fileDirs.has(dir)) this.pDirs.add(dir);
        } else if (!this.fileDirs.has(dir)) {
          this.novelty(
            'file',
            dir,
            'Notice',
            `File written in a folder never written before: ${f.path}`,
            `file ${f.path} was written in folder ${dir}, where workload ${this.workload} never wrote while learning (${this.fileDirs.size} folders learned)`,
            ev,
            nowMs,
            emit,
          );
        }
        return;
      }
      case 'network': {
        const n = ev.network;
        if (!n) return;
        if (n.op === 'connect') {
          if (typeof n.dstPort !== 'number' || typeof n.dstIp !== 'string') return;
          const peer = `${n.dstIp}:${n.dstPort}`;
          if (!ready) {
            if (!this.peers.has(peer)) this.pPeers.add(peer);
            if (!this.connectPorts.has(n.dstPort)) this.pConnectPorts.add(n.dstPort);
          } else if (!this.peers.has(peer) && !this.connectPorts.has(n.dstPort)) {
            // A new address on a known port (DNS round robin, a rescheduled backend) is not news.
            this.novelty(
              'peer',
              peer,
              'Warning',
              `Connection to a peer never seen in the baseline: ${peer}`,
              `outbound connection to ${peer}: neither this peer nor port ${n.dstPort} was seen while learning workload ${this.workload} (${this.peers.size} peers, ports ${[...this.connectPorts].slice(0, 10).join(',') || 'none'})`,
              ev,
              nowMs,
              emit,
            );
          }
        } else if (n.op === 'accept' || n.op === 'listen') {
          // For accept the local (listening) side is dst; clients' own ports are never looked at.
          const port = n.op === 'listen' ? (n.srcPort ?? n.dstPort) : n.dstPort;
          if (typeof port !== 'number' || port <= 0 || port >= this.cfg.ephemeralPortMin) return;
          if (!ready) {
            if (!this.listenPorts.has(port)) this.pListenPorts.add(port);
          } else if (!this.listenPorts.has(port)) {
            this.novelty(
              'listen',
              String(port),
              'Notice',
              `Connection accepted on a port never seen in the baseline: ${port}`,
              `workload ${this.workload} ${n.op === 'listen' ? 'listens' : 'accepted a connection'} on port ${port}, never seen while learning (ports ${[...this.listenPorts].join(',') || 'none'})`,
              ev,
              nowMs,
              emit,
            );
          }
        }
        return;
      }
      case 'metric': {
        const m = ev.metric;
        if (!m) return;
        for (const r of RESOURCES) {
          const v = m[r];
          if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue;
          if (!ready) this.pResources[r].push(v);
          else this.checkResource(r, v, ev, nowMs, emit);
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * A security alert on the workload (a rule, Falco, another detector's anomaly): learning pauses, and
   * the new behaviour seen around it belongs to the incident, never to drift.
   */
  noteSecurityAlert(nowMs: number): void {
    if (nowMs > this.lastAlertMs) this.lastAlertMs = nowMs;
    if (nowMs > this.lastSecurityMs) {
      this.lastSecurityMs = nowMs;
      this.dirty = true;
    }
    const from = nowMs - this.cfg.incidentSec * 1000;
    for (const [key, s] of this.sightings) if (s.lastMs >= from) this.taint(key, s);
  }

  /** Scores events (and alerts): ready, or stale by drift (at a higher threshold). */
  private scoring(): boolean {
    return this.state === 'ready' || this.driftStale();
  }

  private driftStale(): boolean {
    return this.state === 'stale' && this.staleReason === 'drift';
  }

  private mismatchThreshold(): number {
    return this.driftStale()
      ? Math.min(1, this.cfg.mismatchRatio * this.cfg.staleFactor)
      : this.cfg.mismatchRatio;
  }

  private seeReplica(cid: string, nowMs: number): void {
    if (this.replicas.size >= MAX_REPLICAS && !this.replicas.has(cid)) {
      const old = nowMs - this.cfg.driftPersistSec * 1000;
      for (const [id, at] of this.replicas) if (at < old) this.replicas.delete(id);
      if (this.replicas.size >= MAX_REPLICAS) this.replicas.clear();
    }
    this.replicas.set(cid, nowMs);
  }

  /** Containers of the workload seen within the last driftPersistSec (at least one). */
  private liveReplicas(nowMs: number): number {
    const from = nowMs - this.cfg.driftPersistSec * 1000;
    let n = 0;
    for (const at of this.replicas.values()) if (at >= from) n++;
    return Math.max(1, n);
  }

  /** An incident's behaviour: a single thing is never evidence again; a whole dimension starts afresh. */
  private taint(key: string, s: Sighting | undefined): void {
    if (AGGREGATE.has(key.slice(0, key.indexOf('|')) as Dimension)) {
      this.sightings.delete(key);
      return;
    }
    if (s === undefined) {
      s = { firstMs: 0, lastMs: 0, containers: new Set(), tainted: true };
      this.addSighting(key, s);
    }
    s.tainted = true;
    s.containers.clear();
  }

  private addSighting(key: string, s: Sighting): void {
    if (this.sightings.size >= MAX_SIGHTINGS) {
      // Forget what was seen longest ago.
      let oldKey: string | undefined;
      let oldMs = Infinity;
      for (const [k, x] of this.sightings)
        if (x.lastMs < oldMs) {
          oldMs = x.lastMs;
          oldKey = k;
        }
      if (oldKey !== undefined) this.sightings.delete(oldKey);
    }
    this.sightings.set(key, s);
  }

  /** One sighting of a new behaviour; true when it is benign (not near a security alert). */
  private observe(key: string, cid: string, nowMs: number): boolean {
    const s = this.sightings.get(key);
    if (this.lastSecurityMs >= 0 && Math.abs(nowMs - this.lastSecurityMs) <= this.cfg.incidentSec * 1000) {
      this.taint(key, s);
      return false;
    }
    if (s === undefined) {
      this.addSighting(key, { firstMs: nowMs, lastMs: nowMs, containers: new Set([cid]), tainted: false });
      return true;
    }
    if (s.tainted) return false;
    if (nowMs > s.lastMs) s.lastMs = nowMs;
    if (nowMs < s.firstMs) s.firstMs = nowMs;
    if (s.containers.size < MAX_SIGHTING_CONTAINERS) s.containers.add(cid);
    return true;
  }

  /** Stale (drift) once enough new behaviour persisted across replicas with no security alert. */
  private checkDrift(nowMs: number, ev: VigieEvent, emit: AlertEmitter): void {
    const live = this.liveReplicas(nowMs);
    const need = Math.min(this.cfg.driftReplicas, live);
    const span = this.cfg.driftPersistSec * 1000;
    const items: DriftRecord['items'] = [];
    let fewest = Infinity;
    for (const [key, s] of this.sightings) {
      if (s.tainted || s.lastMs - s.firstMs < span || s.containers.size < need) continue;
      const i = key.indexOf('|');
      items.push({ dimension: key.slice(0, i) as Dimension, item: key.slice(i + 1) });
      fewest = Math.min(fewest, s.containers.size);
    }
    if (items.length < this.cfg.driftItems) return;
    const drift: DriftRecord = { items, replicas: fewest, of: Math.max(live, fewest) };
    this.markStale('drift', nowMs);
    this.setDrift(drift);
    const named = items
      .slice(0, 5)
      .map((x) => `${x.dimension} ${x.item}`)
      .join(', ');
    emit({
      rule: 'Baseline drifted',
      priority: 'Notice',
      source: 'internal',
      output: `Baseline of workload ${this.workload} is stale: ${items.length} new behaviours persisted for ${duration(this.cfg.driftPersistSec)} on ${drift.replicas}/${drift.of} replicas with no security alert (${named}${items.length > 5 ? ', …' : ''}); it keeps alerting at a higher threshold until accepted (vigie baseline accept)`,
      tags: ['anomaly', 'baseline', 'drift'],
      output_fields: { 'vigie.workload': this.workload, 'vigie.drift_items': items.length },
      category: 'anomaly',
      detector: 'baseline',
      explanation: `${this.cfg.driftItems} or more new behaviours were each seen over at least ${duration(this.cfg.driftPersistSec)}, on ${need} or more containers of the workload, and never within ${duration(this.cfg.incidentSec)} of a security alert: the workload changed (a new release, or too short a learning period); ${this.thresholdText()}`,
      event: ev,
      entities: { workload: this.workload },
    });
  }

  private setDrift(d: DriftRecord | undefined): void {
    this.drift = d;
    this.driftKeys = new Set(
      (d?.items ?? []).filter((x) => !AGGREGATE.has(x.dimension)).map((x) => `${x.dimension}|${x.item}`),
    );
  }

  /** What a stale (drift) baseline still reports. */
  private thresholdText(): string {
    const quiet = this.cfg.relearnQuietSec;
    return (
      `alerting at threshold: system-call mismatch ≥ ${this.mismatchThresholdIfStale().toFixed(2)}, resources above ${this.cfg.staleFactor}× the learned bound, ` +
      `anything else never seen as before (the drifted behaviours excepted); relearns when accepted (vigie baseline accept)` +
      (quiet > 0 ? ` or after ${duration(quiet)} without alerts` : '')
    );
  }

  private mismatchThresholdIfStale(): number {
    return Math.min(1, this.cfg.mismatchRatio * this.cfg.staleFactor);
  }

  /**
   * Learning bookkeeping for one event; returns false when the event must not be learned
   * (stale by drift: an operator's acceptance or a quiet period brings learning back).
   */
  private learningEvent(nowMs: number): boolean {
    if (this.state === 'stale') {
      if (this.staleReason !== 'idle') return false;
      // Back after a long silence: relearn on top of what is known.
      this.relearn();
    }
    if (this.learnStartMs < 0) this.learnStartMs = nowMs;
    if (this.windowStartMs < 0) {
      this.windowStartMs = nowMs;
      if (this.lastWindowEndMs < 0) this.lastWindowEndMs = nowMs;
    } else if (nowMs - this.windowStartMs >= this.cfg.windowSec * 1000) {
      this.closeWindow(nowMs);
      this.windowStartMs = nowMs;
    }
    this.pEvents++;
    return true;
  }

  /** Ends the open learning window: keep it (merge) or throw it away (alert in or near it). */
  closeWindow(nowMs: number): void {
    if (this.windowStartMs < 0) return;
    const start = this.windowStartMs;
    const end = Math.max(start, Math.min(nowMs, start + this.cfg.windowSec * 1000));
    this.windowStartMs = -1;
    const tainted = this.lastAlertMs >= 0 && this.lastAlertMs >= start - this.cfg.pauseSec * 1000;
    if (tainted) {
      this.windowsDiscarded++;
      this.discardPending();
      // Threads' sliding states now straddle calls that were dropped: start them afresh.
      this.stide.resetStreams();
      this.lastWindowEndMs = end;
      this.dirty = true;
      return;
    }
    const cap = this.cfg.maxItems;
    mergeInto(this.binaries, this.pBinaries, cap);
    mergeInto(this.peers, this.pPeers, cap);
    mergeInto(this.connectPorts, this.pConnectPorts, cap);
    mergeInto(this.listenPorts, this.pListenPorts, cap);
    mergeInto(this.fileDirs, this.pDirs, cap);
    for (const r of RESOURCES) {
      const list = this.pResources[r];
      for (let i = 0; i < list.length; i++) this.resources[r].add(list[i]);
      list.length = 0;
    }
    if (this.bufSys && this.bufTid) {
      const st = this.stide;
      const max = this.cfg.maxNgrams;
      const before = st.size;
      for (let i = 0; i < this.bufLen; i++) {
        if (st.size >= max) break;
        st.learn(this.bufTid[i], this.bufSys[i]);
      }
      if (this.bufLen >= this.cfg.convergeMinCalls) {
        this.syscallConverged = st.size >= max || st.size - before <= this.cfg.convergeShare * st.size;
      }
      this.syscallsLearned += this.bufLen;
      this.bufLen = 0;
    }
    this.learnedEvents += this.pEvents;
    this.pEvents = 0;
    this.learnedMs += Math.max(0, end - Math.max(this.lastWindowEndMs, this.learnStartMs));
    this.lastWindowEndMs = end;
    this.windowsKept++;
    this.dirty = true;
    if (
      this.state === 'learning' &&
      this.learnedEvents >= this.cfg.minEvents &&
      this.learnedMs >= this.cfg.learnSec * 1000
    ) {
      this.becomeReady(end);
    } else if (this.state === 'ready' && this.syscallConverged && this.bufSys) this.armSyscalls();
  }

  private discardPending(): void {
    this.pBinaries.clear();
    this.pPeers.clear();
    this.pConnectPorts.clear();
    this.pListenPorts.clear();
    this.pDirs.clear();
    for (const r of RESOURCES) this.pResources[r].length = 0;
    this.bufLen = 0;
    this.pEvents = 0;
  }

  private becomeReady(nowMs: number): void {
    this.state = 'ready';
    this.readyMs = nowMs;
    this.bounds = undefined;
    if (this.syscallConverged) this.armSyscalls();
    this.dirty = true;
  }

  /** Scoring starts from empty thread states; the learning buffer is no longer needed. */
  private armSyscalls(): void {
    this.stide.resetStreams();
    this.bufSys = undefined;
    this.bufTid = undefined;
    this.bufLen = 0;
  }

  /** Periodic: closes an expired learning window (readiness progresses without new events), staleness. */
  tick(nowMs: number, emit: AlertEmitter): void {
    if (this.windowStartMs >= 0 && nowMs - this.windowStartMs >= this.cfg.windowSec * 1000) {
      this.closeWindow(nowMs);
    }
    if (
      this.state !== 'stale' &&
      this.lastEventMs > 0 &&
      nowMs - this.lastEventMs >= this.cfg.staleIdleSec * 1000
    ) {
      this.closeWindow(nowMs);
      this.markStale('idle', nowMs);
    }
    if (this.driftStale() && this.cfg.relearnQuietSec > 0) {
      const since = Math.max(this.staleSinceMs, this.lastSecurityMs, this.lastStaleAlertMs);
      if (nowMs - since >= this.cfg.relearnQuietSec * 1000) this.relearn();
    }
    // Threads come and go without telling us: bound the per-thread sliding states.
    if (this.stide.streamCount > 4096) this.stide.resetStreams();
    this.flushHeldSyscall(nowMs, emit);
  }

  markStale(reason: 'idle' | 'drift', nowMs: number): void {
    this.state = 'stale';
    this.staleReason = reason;
    this.staleSinceMs = nowMs;
    this.discardPending();
    this.windowStartMs = -1;
    this.dirty = true;
  }

  /** Relearn from now on, keeping what is known (back from idle, accepted, or quiet after drift). */
  relearn(): void {
    this.state = 'learning';
    this.staleReason = undefined;
    this.staleSinceMs = -1;
    this.setDrift(undefined);
    this.sightings.clear();
    this.lastStaleAlertMs = -1;
    this.learnStartMs = -1;
    this.readyMs = -1;
    this.learnedEvents = 0;
    this.learnedMs = 0;
    this.windowsKept = 0;
    this.windowsDiscarded = 0;
    this.discardPending();
    this.windowStartMs = -1;
    this.lastWindowEndMs = -1;
    this.dirty = true;
  }

  /**
   * An operator accepts the workload as it now behaves (`vigie baseline accept`): a ready or stale
   * baseline relearns on top of what it knows; one still learning goes on. An acceptance applied
   * before (same or earlier time) is not applied again.
   */
  accept(atMs: number): 'relearning' | 'learning' | 'already' {
    if (atMs <= this.acceptedMs) return 'already';
    this.acceptedMs = atMs;
    this.dirty = true;
    if (this.state === 'learning') return 'learning';
    this.relearn();
    return 'relearning';
  }

  // ------------------------------------------------------------------ alerts

  private resourceBound(r: Resource): number {
    if (!this.bounds) {
      const b = {} as Record<Resource, number>;
      for (const k of RESOURCES) {
        const res = this.resources[k];
        b[k] =
          res.filled < this.cfg.minResourceSamples
            ? Infinity
            : Math.max(res.max() * this.cfg.resourceFactor, res.quantile(0.99) * 2) + RESOURCE_FLOOR[k];
      }
      this.bounds = b;
    }
    return this.bounds[r];
  }

  private checkResource(r: Resource, v: number, ev: VigieEvent, nowMs: number, emit: AlertEmitter): void {
    const bound = this.resourceBound(r) * (this.driftStale() ? this.cfg.staleFactor : 1);
    if (v <= bound) {
      this.overCount[r] = 0;
      return;
    }
    this.overCount[r]++;
    if (this.overCount[r] !== this.cfg.resourceSustain) return;
    const res = this.resources[r];
    const f = (x: number) =>
      r === 'memory'
        ? `${(x / 1048576).toFixed(1)} MiB`
        : r === 'cpu'
          ? `${x.toFixed(2)} cores`
          : x.toFixed(0);
    this.novelty(
      'resource',
      r,
      'Warning',
      `${r} outside the learned envelope: ${f(v)} for ${this.cfg.resourceSustain} samples (bound ${f(bound)})`,
      `${r} of workload ${this.workload} stayed above its learned envelope for ${this.cfg.resourceSustain} samples: now ${f(v)}, learned p50 ${f(res.quantile(0.5))}, p99 ${f(res.quantile(0.99))}, max ${f(res.max())} over ${res.seen} samples; bound ${f(bound)}`,
      ev,
      nowMs,
      emit,
      { score: v / bound, threshold: 1, cooldownSec: 300 },
    );
  }

  private syscallAlert(h: HeldSyscallAlert, emit: AlertEmitter): void {
    const { tid, ratio, ev, names, atMs: nowMs } = h;
    this.lastSyscallAlertMs = nowMs;
    const misses = Math.round(ratio * this.cfg.L);
    this.novelty(
      'syscalls',
      names,
      'Warning',
      `System-call sequence never seen in the baseline: ${names} (${misses} unseen of the last ${this.cfg.L} sequences of thread ${tid})`,
      `thread ${tid} of workload ${this.workload} ran the system-call sequence [${names}], never seen while learning (${this.stide.size} sequences of ${this.cfg.n} calls learned); ${misses} of its last ${this.cfg.L} sequences were unseen (ratio ${ratio.toFixed(2)} ≥ ${this.cfg.mismatchRatio})`,
      ev,
      nowMs,
      emit,
      { score: ratio, threshold: this.mismatchThreshold(), cooldownSec: 0 },
    );
  }

  private novelty(
    dim: Dimension,
    item: string,
    priority: Priority,
    output: string,
    explanation: string,
    ev: VigieEvent,
    nowMs: number,
    emit: AlertEmitter,
    opt: { score?: number; threshold?: number; cooldownSec?: number } = {},
  ): void {
    const cid = ev.container?.id ?? '';
    // Unseen system-call sequences are one behaviour: each alert names another n-gram.
    const what = `${dim}|${dim === 'syscalls' ? '*' : item}`;
    const benign = this.observe(what, cid, nowMs);
    if (this.state === 'ready' && benign) this.checkDrift(nowMs, ev, emit);
    // Stale (drift): the behaviour that made the drift waits for the operator; the rest is reported.
    if (this.driftStale() && this.driftKeys.has(what)) return;
    // Per replica: the same novelty in another container of the workload is another incident.
    const key = `${dim}|${item}|${cid}`;
    const last = this.alertedAt.get(key);
    const cooldown = (opt.cooldownSec ?? this.cfg.cooldownSec) * 1000;
    if (last !== undefined && nowMs - last < cooldown) return;
    if (this.alertedAt.size >= 1024) this.alertedAt.clear();
    this.alertedAt.set(key, nowMs);
    if (nowMs > this.lastAlertMs) this.lastAlertMs = nowMs;
    if (this.driftStale()) this.lastStaleAlertMs = Math.max(this.lastStaleAlertMs, nowMs);
    this.anomalies++;
    const a: AlertInput = {
      rule: RULE_NAMES[dim],
      priority,
      source: ev.kind,
      output: `${output} in ${containerLabel(ev)}`,
      tags: ['anomaly', 'baseline', dim],
      output_fields: {
        'container.id': ev.container?.id ?? null,
        'container.name': ev.container?.name ?? null,
        'container.image': ev.container?.image ?? null,
        'vigie.workload': this.workload,
        'vigie.dimension': dim,
        'vigie.never_seen': item,
      },
      category: 'anomaly',
      detector: 'baseline',
      score: opt.score ?? 1,
      threshold: opt.threshold ?? 1,
      explanation,
      event: ev,
      entities: { workload: this.workload },
    };
    emit(a);
  }

  // ------------------------------------------------------------------ persistence

  memoryBytes(): number {
    const strings =
      [...this.binaries, ...this.peers, ...this.fileDirs].reduce((s, x) => s + 2 * x.length + 48, 0) +
      (this.connectPorts.size + this.listenPorts.size) * 24;
    const buf = (this.bufSys?.byteLength ?? 0) + (this.bufTid?.byteLength ?? 0);
    return (
      this.stide.memoryBytes() +
      strings +
      RESOURCES.reduce((s, r) => s + this.resources[r].samples.byteLength, 0) +
      buf +
      2048
    );
  }

  /** Why the baseline is in its state (WorkloadStatus.reason). */
  reason(): string {
    if (this.state === 'ready')
      return this.syscallConverged || this.syscallsLearned === 0
        ? 'ready'
        : `ready; system-call sequences still converging (${count(this.syscallsLearned)} calls learned, not alerted on yet)`;
    if (this.state === 'learning') {
      const w = this.windowsDiscarded;
      let r =
        `learning: ${count(Math.floor(this.learnedMs / 1000))}/${count(this.cfg.learnSec)} s, ` +
        `${count(this.learnedEvents)}/${count(this.cfg.minEvents)} events, ` +
        `${count(w)} window${w === 1 ? '' : 's'} excluded after security alerts`;
      if (this.lastAlertMs >= 0 && this.lastEventMs - this.lastAlertMs < this.cfg.pauseSec * 1000)
        r += `; paused after a security alert at ${iso(this.lastAlertMs)}`;
      return r;
    }
    const since = `stale since ${iso(this.staleSinceMs) ?? 'an unknown time'}`;
    if (this.staleReason === 'idle')
      return `${since}: no event for ${duration(this.cfg.staleIdleSec)}; relearns on top of what it knows when events return`;
    const d = this.drift;
    const what = d
      ? `new behaviour persisting on ${d.replicas}/${d.of} replicas with no security alert (${d.items
          .slice(0, 3)
          .map((x) => `${x.dimension} ${x.item}`)
          .join(', ')}${d.items.length > 3 ? `, +${d.items.length - 3} more` : ''})`
      : 'drift';
    return `${since}: ${what}; ${this.thresholdText()}`;
  }

  status(): WorkloadStatus {
    return {
      workload: this.workload,
      state: this.state,
      staleReason: this.staleReason,
      reason: this.reason(),
      ...(this.staleSinceMs > 0 ? { staleSince: iso(this.staleSinceMs) } : {}),
      ...(this.drift ? { drift: this.drift } : {}),
      learnedEvents: this.learnedEvents,
      learnedSec: Math.round(this.learnedMs / 100) / 10,
      readyAt: iso(this.readyMs),
      lastEventAt: iso(this.lastEventMs),
      windowsKept: this.windowsKept,
      windowsDiscarded: this.windowsDiscarded,
      binaries: this.binaries.size,
      ngrams: this.stide.size,
      syscallsConverged: this.syscallConverged,
      peers: this.peers.size,
      connectPorts: this.connectPorts.size,
      listenPorts: this.listenPorts.size,
      fileDirs: this.fileDirs.size,
      resourceSamples: this.resources.cpu.seen,
      memoryBytes: this.memoryBytes(),
    };
  }

  toJSON(): WorkloadBaselineJSON {
    const sj = this.stide.toJSON();
    const raw = Buffer.from(sj.ngrams, 'base64');
    const ngrams: string[] = [];
    for (let k = 0; k < sj.count; k++) {
      const parts: string[] = [];
      for (let i = 0; i < sj.n; i++) parts.push(this.calls.nameOf(raw.readInt32LE((k * sj.n + i) * 4)));
      ngrams.push(parts.join(' '));
    }
    return {
      workload: this.workload,
      state: this.state,
      ...(this.staleReason ? { staleReason: this.staleReason } : {}),
      ...(this.staleSinceMs > 0 ? { staleSinceMs: this.staleSinceMs } : {}),
      ...(this.drift ? { drift: this.drift } : {}),
      ...(this.lastSecurityMs >= 0 ? { lastSecurityMs: this.lastSecurityMs } : {}),
      ...(this.acceptedMs >= 0 ? { acceptedMs: this.acceptedMs } : {}),
      createdMs: this.createdMs,
      learnStartMs: this.learnStartMs,
      readyMs: this.readyMs,
      lastEventMs: this.lastEventMs,
      learnedEvents: this.learnedEvents,
      learnedMs: this.learnedMs,
      windowsKept: this.windowsKept,
      windowsDiscarded: this.windowsDiscarded,
      syscallsLearned: this.syscallsLearned,
      syscallConverged: this.syscallConverged,
      binaries: [...this.binaries].sort(),
      peers: [...this.peers].sort(),
      connectPorts: [...this.connectPorts].sort((a, b) => a - b),
      listenPorts: [...this.listenPorts].sort((a, b) => a - b),
      fileDirs: [...this.fileDirs].sort(),
      syscalls: { n: sj.n, L: sj.L, ngrams: ngrams.sort() },
      resources: {
        cpu: this.resources.cpu.toJSON(),
        memory: this.resources.memory.toJSON(),
        pids: this.resources.pids.toJSON(),
      },
    };
  }

  static fromJSON(
    j: WorkloadBaselineJSON,
    cfg: BaselineConfig,
    loss?: LossClock,
    calls: SyscallIds = new SyscallIds(),
  ): WorkloadBaseline {
    const n = j.syscalls.n;
    const wb = new WorkloadBaseline(j.workload, { ...cfg, n, L: cfg.L }, j.createdMs, loss, calls);
    const flat = Buffer.alloc(j.syscalls.ngrams.length * n * 4);
    j.syscalls.ngrams.forEach((g, k) => {
      const parts = g.split(' ');
      if (parts.length !== n)
        throw new Error(`baseline ${j.workload}: n-gram "${g}" has ${parts.length} calls, expected ${n}`);
      parts.forEach((name, i) => flat.writeInt32LE(calls.byName(name), (k * n + i) * 4));
    });
    wb.stide = Stide.fromJSON({
      type: 'stide',
      version: 1,
      n,
      L: cfg.L,
      count: j.syscalls.ngrams.length,
      ngrams: flat.toString('base64'),
    });
    wb.state = j.state;
    wb.staleReason = j.staleReason;
    wb.staleSinceMs = j.staleSinceMs ?? (j.state === 'stale' ? j.lastEventMs : -1);
    wb.setDrift(j.drift);
    wb.lastSecurityMs = j.lastSecurityMs ?? -1;
    wb.lastAlertMs = wb.lastSecurityMs;
    wb.acceptedMs = j.acceptedMs ?? -1;
    wb.learnStartMs = j.learnStartMs;
    wb.readyMs = j.readyMs;
    wb.lastEventMs = j.lastEventMs;
    wb.learnedEvents = j.learnedEvents;
    wb.learnedMs = j.learnedMs;
    wb.windowsKept = j.windowsKept;
    wb.windowsDiscarded = j.windowsDiscarded;
    wb.syscallsLearned = j.syscallsLearned;
    wb.syscallConverged = j.syscallConverged ?? false;
    for (const b of j.binaries) wb.binaries.add(b);
    for (const p of j.peers) wb.peers.add(p);
    for (const p of j.connectPorts) wb.connectPorts.add(p);
    for (const p of j.listenPorts) wb.listenPorts.add(p);
    for (const d of j.fileDirs) wb.fileDirs.add(d);
    for (const r of RESOURCES) wb.resources[r] = Reservoir.fromJSON(j.resources[r]);
    wb.dirty = false;
    wb.savedLastEventMs = j.lastEventMs;
    return wb;
  }

  /** Port oracle for the runtime rule "outbound connection to unusual port". */
  knowsConnectPort(port: number): boolean {
    return this.connectPorts.has(port) || this.pConnectPorts.has(port);
  }
}

const RULE_NAMES: Readonly<Record<Dimension, string>> = {
  binary: 'Baseline: binary never seen',
  syscalls: 'Baseline: system-call sequence never seen',
  peer: 'Baseline: network peer never seen',
  listen: 'Baseline: listening port never seen',
  file: 'Baseline: file written in a folder never seen',
  resource: 'Baseline: resource usage outside the learned envelope',
};

function containerLabel(ev: VigieEvent): string {
  const c = ev.container;
  if (!c) return 'workload';
  return `container ${c.name ?? c.id.slice(0, 12)} (${c.image ?? 'unknown image'})`;
}
