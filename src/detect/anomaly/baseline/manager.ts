/**
 * All workload baselines of one store: resolves an event to its workload (cached by container id, so
 * the hot path does not build the key string; the key is the container's resolved identity), persists dirty baselines to SQLite, and answers the
 * runtime rules ("is this outbound port known for this workload?"). A service owned by whoever wires
 * the detectors: one manager per store, given to the 'baseline' and 'runtime' detectors (through
 * DetectorContext.baselines) and to the API, so that a reset there reaches the live baselines.
 */
import type { AlertEntities, Category } from '../../../model/alert.js';
import { workloadKey, type VigieEvent } from '../../../model/event.js';
import { logger } from '../../../util/log.js';
import type { PortOracle, PortVerdict } from '../../runtime/rules.js';
import type { AlertEmitter } from '../../types.js';
import type { Db } from '../../../infra/db.js';
import { parseBaselineConfig, type BaselineConfig } from './config.js';
import { BaselineStore, toBaselineFile, type BaselineFile } from './store.js';
import { SyscallIds } from './syscall-ids.js';
import { WorkloadBaseline, type LossClock, type WorkloadStatus } from './workload.js';

const log = logger('baseline');
const MAX_CONTAINER_CACHE = 50_000;

export class BaselineManager implements PortOracle {
  readonly workloads = new Map<string, WorkloadBaseline>();
  private readonly byContainer = new Map<string, WorkloadBaseline>();
  /** True once a 'baseline' detector feeds this manager (otherwise nothing is ever learned live). */
  active = false;
  /** Event loss seen recently (sensor buffers, pipeline queues): syscall-sequence alerts hold off. */
  readonly loss: LossClock = { untilMs: -1, suppressed: 0 };
  /** System-call ids of every workload of this manager (kernel numbers, and names no table knows). */
  readonly calls = new SyscallIds();
  losses = 0;
  private lastSaveWallMs = 0;
  loadErrors = 0;

  constructor(
    readonly cfg: BaselineConfig,
    readonly store?: BaselineStore,
  ) {
    if (store) {
      for (const j of store.loadAll((w, e) => {
        this.loadErrors++;
        log.warn(`stored baseline of ${w} skipped: ${e}`);
      })) {
        try {
          this.workloads.set(j.workload, WorkloadBaseline.fromJSON(j, cfg, this.loss, this.calls));
        } catch (err) {
          this.loadErrors++;
          log.warn(
            `stored baseline of ${j.workload} skipped: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      if (this.workloads.size) log.info(`loaded ${this.workloads.size} workload baseline(s)`);
      this.applyAccepts();
    }
  }

  /**
   * The baseline of the event's workload, created on first sight; undefined for host events. The
   * workload is the container's resolved identity (`container.workload`, docs/architecture.md,
   * "Workload identity"); a container first seen without it (nobody could resolve it) is moved to its
   * resolved workload as soon as an event carries one.
   */
  resolve(ev: VigieEvent, nowMs: number): WorkloadBaseline | undefined {
    const c = ev.container;
    const cid = c !== undefined && c !== null && typeof c.id === 'string' ? c.id : undefined;
    if (cid !== undefined) {
      const hit = this.byContainer.get(cid);
      if (hit !== undefined && (c!.workload === undefined || c!.workload === hit.workload)) return hit;
    }
    const key = workloadKey(ev);
    if (key === undefined) return undefined;
    let wb = this.workloads.get(key);
    if (!wb) {
      wb = new WorkloadBaseline(key, this.cfg, nowMs, this.loss, this.calls);
      this.workloads.set(key, wb);
      log.debug(`learning a new workload baseline: ${key}`);
    }
    if (cid !== undefined) {
      if (this.byContainer.size >= MAX_CONTAINER_CACHE) this.byContainer.clear();
      this.byContainer.set(cid, wb);
    }
    return wb;
  }

  /**
   * Events were lost (reported by the sensor or a queue): sequences now have holes. Threads start
   * afresh, and system-call alerts hold off for lossGraceSec, which also covers the time the report
   * took to arrive (the sensor reports losses periodically).
   */
  noteLoss(nowMs: number): void {
    this.losses++;
    this.loss.untilMs = Math.max(this.loss.untilMs, nowMs + this.cfg.lossGraceSec * 1000);
    for (const wb of this.workloads.values()) wb.stide.resetStreams();
  }

  forgetContainer(id: string): void {
    this.byContainer.delete(id);
  }

  /**
   * A security alert on the event's workload (the runtime rules report every hit, also those folded
   * into a later summary alert): its learning pauses, and what it does meanwhile is an incident.
   */
  noteSecurityAlert(ev: VigieEvent): void {
    const nowMs = typeof ev.ts === 'bigint' ? Number(ev.ts) / 1e6 : Date.now();
    this.resolve(ev, nowMs)?.noteSecurityAlert(nowMs);
  }

  /**
   * An alert from any detector, seen on the alert path. Only the workload's own security alerts count
   * (isSecurityAlert): performance, posture and other workloads' alerts neither pause its learning
   * nor make an incident of its anomalies.
   */
  noteAlertRecord(a: {
    time: string;
    vigie: { entities: AlertEntities; category: Category; detector: string };
  }): void {
    if (!isSecurityAlert(a.vigie)) return;
    const ms = Date.parse(a.time);
    const at = Number.isFinite(ms) ? ms : Date.now();
    const e = a.vigie.entities;
    const wb =
      (e.workload !== undefined ? this.workloads.get(e.workload) : undefined) ??
      (e.container?.id !== undefined ? this.byContainer.get(e.container.id) : undefined);
    wb?.noteSecurityAlert(at);
  }

  /**
   * An operator accepts the workload as it now behaves (`vigie baseline accept`): it relearns on top
   * of what it knows. Recorded in the store, so that a running Vigie sharing it applies it too (at
   * its next save). False when there is no such baseline.
   */
  accept(workload: string, atMs = Date.now()): ReturnType<WorkloadBaseline['accept']> | undefined {
    const wb = this.workloads.get(workload);
    if (!wb) return undefined;
    const r = wb.accept(atMs);
    this.store?.requestAccept(workload, atMs);
    this.save();
    return r;
  }

  /** Acceptances recorded in the store (by `vigie baseline accept` in another process) not applied yet. */
  applyAccepts(): number {
    if (!this.store) return 0;
    let n = 0;
    for (const r of this.store.acceptRequests()) {
      const wb = this.workloads.get(r.workload);
      if (!wb || r.requestedMs <= wb.acceptedMs) continue;
      const before = wb.state;
      wb.accept(r.requestedMs);
      n++;
      log.info(`baseline ${wb.workload}: accepted by an operator (${before} → ${wb.state})`);
    }
    return n;
  }

  connectPort(ev: VigieEvent, port: number): PortVerdict {
    if (!this.active) return 'no-baseline';
    const wb = this.resolve(ev, Number(ev.ts) / 1e6);
    if (!wb) return 'no-baseline';
    if (wb.state === 'learning') return 'learning';
    // Stale: the port set no longer describes the workload; the rule judges by its allowlist.
    if (wb.state === 'stale') return 'no-baseline';
    return wb.knowsConnectPort(port) ? 'known' : 'unknown';
  }

  tick(nowMs: number, emit: AlertEmitter): void {
    for (const wb of this.workloads.values()) {
      const before = wb.state;
      wb.tick(nowMs, emit);
      if (wb.state !== before)
        log.info(
          `baseline ${wb.workload}: ${before} → ${wb.state}${wb.staleReason ? ` (${wb.staleReason})` : ''}`,
        );
    }
    const wall = Date.now();
    if (wall - this.lastSaveWallMs >= this.cfg.saveIntervalSec * 1000) {
      this.applyAccepts();
      this.save();
    }
  }

  /** Writes every baseline that changed since the last save. */
  save(): number {
    this.lastSaveWallMs = Date.now();
    if (!this.store) return 0;
    // A ready baseline rarely changes; still record hourly that its workload is alive, or a restart
    // would find it idle for too long and mark it stale.
    const dirty = [...this.workloads.values()].filter(
      (w) => w.dirty || w.lastEventMs - w.savedLastEventMs > 3_600_000,
    );
    if (!dirty.length) return 0;
    this.store.saveAll(dirty.map((w) => w.toJSON()));
    for (const w of dirty) {
      w.dirty = false;
      w.savedLastEventMs = w.lastEventMs;
    }
    return dirty.length;
  }

  list(): WorkloadStatus[] {
    return [...this.workloads.values()].map((w) => w.status());
  }

  /** Forgets a workload's baseline (memory and store); it relearns from its next event. */
  reset(workload: string): boolean {
    const had = this.workloads.delete(workload);
    for (const [cid, wb] of this.byContainer) if (wb.workload === workload) this.byContainer.delete(cid);
    const stored = this.store?.delete(workload) ?? false;
    return had || stored;
  }

  exportFile(workload?: string): BaselineFile {
    const list = [...this.workloads.values()].filter(
      (w) => workload === undefined || w.workload === workload,
    );
    return toBaselineFile(list.map((w) => w.toJSON()));
  }

  importFile(file: BaselineFile): number {
    for (const j of file.workloads) {
      const wb = WorkloadBaseline.fromJSON(j, this.cfg, this.loss, this.calls);
      wb.dirty = true;
      this.workloads.set(j.workload, wb);
      for (const [cid, old] of this.byContainer)
        if (old.workload === j.workload) this.byContainer.delete(cid);
    }
    this.save();
    return file.workloads.length;
  }
}

/**
 * Alerts that are about the workload's security, not its performance or configuration: attacks (the
 * runtime rules, the rules engine, Falco) and other detectors' anomalies. The baseline's own anomalies
 * are handled where they are raised (they pause learning but do not make an incident of themselves).
 */
export function isSecurityAlert(v: { category: Category; detector: string }): boolean {
  return v.category === 'attack' || (v.category === 'anomaly' && v.detector !== 'baseline');
}

/**
 * A manager over the baselines stored in `db`, configured by the `baseline` settings block (validated:
 * errors name the bad key). Loads every stored baseline: create it once and pass it on.
 */
export function createBaselineManager(db: Db, rawConfig: unknown): BaselineManager {
  return new BaselineManager(parseBaselineConfig(rawConfig), new BaselineStore(db));
}
