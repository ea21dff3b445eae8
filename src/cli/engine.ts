/**
 * The live loop, wired: sources → events bus → detectors → makeAlert → AlertStore + output → alerts
 * bus → responder → action records → output.
 *
 * Two buses, so that shutdown can drain in order: stop the sources, drain the events bus (detectors
 * finish what they hold and may still raise alerts), close the detectors, then drain the alerts bus
 * (the responder sees every alert), then close the responder. Nothing held in a queue is lost on a
 * clean stop; what a full queue dropped was counted and reported as it happened.
 *
 * Detectors come from detect/registry.ts and sources from sources/registry.ts; the responder from
 * respond/engine.ts when that module is present. A stage that is not there is simply not used.
 */
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { KubeConfig } from '@kubernetes/client-node';
import { createCharacterizer, type Characterizer } from '../characterize/live.js';
import { makeAlert, type Alert, type AlertInput } from '../model/alert.js';
import type { ActionRecord } from '../model/action.js';
import { nextEventId, nowNs, workloadKey, type EventKind, type VigieEvent } from '../model/event.js';
import { InProcessBus, TOPICS, type DropNotice } from '../pipeline/bus.js';
import { createDetectors } from '../detect/registry.js';
import type { Detector } from '../detect/types.js';
import type { Responder } from '../respond/types.js';
import { createSources } from '../sources/registry.js';
import type { Source } from '../sources/types.js';
import { AlertStore } from '../store/alerts.js';
import { applyMigrations, type Db } from '../store/db.js';
import { logger } from '../util/log.js';
import type { Output } from './output.js';

const log = logger('engine');

/** Actions that change the workload (read-only observe / capture_evidence are not containment). */
const CONTAINMENT_ACTIONS = new Set<string>([
  'throttle',
  'isolate',
  'pause',
  'stop',
  'kill',
  'k8s_isolate',
  'scale_zero',
  'evict',
  'delete_pod',
  'k8s_limit',
  'cordon',
]);

/** The responder as the engine can drive it (respond/engine.ts adds approve and rollback). */
export interface LiveResponder extends Responder {
  approve?(id: string): Promise<ActionRecord>;
  rollback?(id: string): Promise<ActionRecord>;
  ready?: Promise<unknown>;
}

export interface ResponderFactoryOptions {
  db: Db;
  hostname: string;
  mode: 'monitor' | 'enforce';
  policyFile?: string;
  onRecord?: (r: ActionRecord) => void;
  config?: Record<string, Record<string, unknown> | undefined>;
}

/**
 * Load respond/engine.ts if it exists. The path is computed so that this module builds and runs
 * whether or not the response stage is installed.
 */
export async function loadResponder(opts: ResponderFactoryOptions): Promise<LiveResponder | undefined> {
  const path = '../respond/engine.js';
  let mod: { createResponder?: (o: ResponderFactoryOptions) => LiveResponder };
  try {
    mod = (await import(path)) as typeof mod;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('respond/engine')) {
      log.warn('response stage not installed (respond/engine): alerts are not acted on');
      return undefined;
    }
    throw err;
  }
  if (typeof mod.createResponder !== 'function') return undefined;
  return mod.createResponder(opts);
}

export interface EngineOptions {
  db: Db;
  hostname: string;
  output: Output;
  mode?: 'monitor' | 'enforce';
  policyFile?: string;
  /** Sources to run; default: every registered source (optionally only `sourceNames`). */
  sources?: Source[];
  sourceNames?: string[];
  /** Detectors; default: every registered detector (optionally only `detectorNames`). */
  detectors?: Detector[];
  detectorNames?: string[];
  /** Per-name settings handed to the source and detector factories. */
  config?: Record<string, Record<string, unknown> | undefined>;
  /** Responder; default: respond/engine.ts when present. `null` disables the response stage. */
  responder?: LiveResponder | null;
  /**
   * Characterize stage: operator exceptions, correlation into incidents, blast radius. Default: one
   * built over the store (with the cluster when `config.kubernetes.kubeConfig` is set). `null`: none.
   */
  characterizer?: Characterizer | null;
  /** Observers (the demo uses these). */
  onEvent?: (ev: VigieEvent) => void;
  onAlert?: (a: Alert) => void;
  onAction?: (r: ActionRecord) => void;
  eventQueueCapacity?: number;
  tickMs?: number;
}

export interface EngineStats {
  events: number;
  eventsByKind: Record<string, number>;
  alerts: number;
  actions: number;
  detectorErrors: number;
  /** Alerts suppressed by operator exceptions (confirmed false positives). */
  suppressed: number;
  responderErrors: number;
  drops: Record<string, number>;
  sources: Record<string, Record<string, unknown>>;
  detectors: Record<string, Record<string, unknown>>;
  queues: { name: string; size: number; dropped: number; highWater: number }[];
}

export class Engine {
  readonly alerts: AlertStore;
  sources: Source[] = [];
  detectors: Detector[] = [];
  responder?: LiveResponder;
  /** Event arrival (sensor delivered, parsed) → alert written, ms. */
  readonly alertLatencyMs: number[] = [];
  /** Alert written → containment action (not read-only evidence) executed, ms. */
  readonly containmentLatencyMs: number[] = [];
  private eventsBus: InProcessBus;
  private alertsBus: InProcessBus;
  private byKind = new Map<EventKind, Detector[]>();
  private arrival = new WeakMap<VigieEvent, number>();
  private alertAt = new Map<string, number>();
  private printed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private counts = { events: 0, alerts: 0, suppressed: 0, actions: 0, detectorErrors: 0, responderErrors: 0 };
  characterizer?: Characterizer;
  private eventObservers: ((ev: VigieEvent) => void)[] = [];
  private eventsByKind: Record<string, number> = {};
  private drops: Record<string, number> = {};

  constructor(private readonly opts: EngineOptions) {
    applyMigrations(opts.db);
    this.alerts = new AlertStore(opts.db);
    const onDrop = (n: DropNotice) => this.onDrop(n);
    const onErr = (topic: string, err: unknown) =>
      log.error(`handler failed on ${topic}`, { err: String(err) });
    this.eventsBus = new InProcessBus(onDrop, 1000, onErr);
    this.alertsBus = new InProcessBus(onDrop, 1000, onErr);
  }

  /** The bus carrying alerts and action records (the API server's WebSocket feeds from it). */
  get bus(): InProcessBus {
    return this.alertsBus;
  }

  get mode(): 'monitor' | 'enforce' {
    return this.opts.mode ?? 'monitor';
  }

  async start(): Promise<void> {
    const o = this.opts;
    const config = o.config ?? {};
    this.detectors =
      o.detectors ?? (await createDetectors({ db: o.db, hostname: o.hostname, config }, o.detectorNames));
    applyMigrations(o.db); // detectors may register tables when loaded
    for (const d of this.detectors)
      for (const k of d.kinds) {
        const l = this.byKind.get(k) ?? [];
        l.push(d);
        this.byKind.set(k, l);
      }
    if (this.detectors.length === 0)
      log.warn('no detector available: events are watched but nothing is scored');
    else log.info(`detectors: ${this.detectors.map((d) => d.name).join(', ')}`);

    if (o.characterizer !== null) {
      const kc = config.kubernetes?.kubeConfig;
      this.characterizer =
        o.characterizer ??
        (await createCharacterizer({
          db: o.db,
          kubeConfig: kc instanceof KubeConfig ? kc : undefined,
          // Docker blast radius (co-located containers, shared networks) only when watching Docker.
          docker: !o.sourceNames || o.sourceNames.includes('docker') ? new Docker() : undefined,
        }));
    }
    if (o.responder !== null) {
      this.responder =
        o.responder ??
        (await loadResponder({
          db: o.db,
          hostname: o.hostname,
          mode: this.mode,
          policyFile: o.policyFile,
          onRecord: (r) => this.printAction(r),
          config,
        }));
      if (this.responder?.ready) await this.responder.ready;
    }

    this.eventsBus.subscribe<VigieEvent>(TOPICS.events, (ev) => this.detect(ev), {
      name: 'detect',
      capacity: o.eventQueueCapacity ?? 65_536,
    });
    this.alertsBus.subscribe<Alert>(TOPICS.alerts, (a) => this.respond(a), {
      name: 'respond',
      capacity: 10_000,
    });

    this.sources = o.sources ?? (await createSources({ hostname: o.hostname, config }, o.sourceNames));
    const sink = (ev: VigieEvent) => {
      this.arrival.set(ev, performance.now());
      return this.eventsBus.publish(TOPICS.events, ev);
    };
    for (const s of this.sources) {
      try {
        await s.start(sink);
      } catch (err) {
        log.error(`source ${s.name} failed to start: ${(err as Error).message}`);
      }
    }
    this.timer = setInterval(() => void this.tick(), o.tickMs ?? 1000);
    this.timer.unref();
  }

  private onDrop(n: DropNotice): void {
    this.drops[n.queue] = n.dropped;
    const msg = `queue ${n.queue} full: ${n.dropped} messages dropped so far`;
    log.warn(msg);
    // A drop is itself an event, so detectors and the store can see it (it may be dropped too when
    // the same queue is full: the counter above is the ground truth).
    this.eventsBus.publish(TOPICS.events, {
      id: nextEventId(),
      kind: 'internal',
      ts: nowNs(),
      source: 'vigie',
      host: this.opts.hostname,
      internal: { type: 'queue_drop', message: msg, counts: { dropped: n.dropped } },
    } satisfies VigieEvent);
  }

  private detect(ev: VigieEvent): void {
    this.counts.events++;
    this.eventsByKind[ev.kind] = (this.eventsByKind[ev.kind] ?? 0) + 1;
    this.opts.onEvent?.(ev);
    for (const f of this.eventObservers) f(ev);
    const ds = this.byKind.get(ev.kind);
    if (!ds) return;
    const t0 = this.arrival.get(ev);
    const emit = (input: AlertInput) => this.raise(input, t0);
    for (const d of ds) {
      try {
        d.onEvent(ev, emit);
      } catch (err) {
        this.counts.detectorErrors++;
        if (this.counts.detectorErrors <= 10)
          log.error(`detector ${d.name} failed on a ${ev.kind} event`, { err: String(err), event: ev.id });
      }
    }
  }

  /** Turn a detector's alert input into an alert: store, print, hand to the responder. */
  private raise(input: AlertInput, arrivedAt?: number): void {
    const a = makeAlert(input, this.opts.hostname);
    if (input.event && !a.vigie.entities.workload) {
      const w = workloadKey(input.event);
      if (w) a.vigie.entities.workload = w;
    }
    // Operator feedback: an alert matching an exception (a confirmed false positive) stops here.
    if (this.characterizer && !this.characterizer.filter(a)) {
      this.counts.suppressed++;
      return;
    }
    try {
      this.alerts.add(a);
    } catch (err) {
      log.error('alert store write failed', { err: String(err) });
    }
    this.counts.alerts++;
    if (this.characterizer) {
      try {
        const inc = this.characterizer.correlate(a);
        a.vigie.incident = inc.id;
        this.alertsBus.publish(TOPICS.incidents, inc);
      } catch (err) {
        log.error('correlation failed', { alert: a.uuid, err: String(err) });
      }
    }
    this.opts.output.alert(a);
    const now = performance.now();
    if (arrivedAt !== undefined) this.alertLatencyMs.push(now - arrivedAt);
    this.alertAt.set(a.uuid, now);
    if (this.alertAt.size > 10_000) this.alertAt.delete(this.alertAt.keys().next().value as string);
    this.opts.onAlert?.(a);
    // Detectors that want to see every alert (a baseline pauses its learning on any alert about its
    // workload) implement Detector.onAlert.
    for (const d of this.detectors) {
      if (!d.onAlert) continue;
      try {
        d.onAlert(a);
      } catch (err) {
        this.counts.detectorErrors++;
        log.error(`detector ${d.name} onAlert failed`, { err: String(err) });
      }
    }
    this.alertsBus.publish(TOPICS.alerts, a);
  }

  private async respond(a: Alert): Promise<void> {
    if (!this.responder) return;
    try {
      const recs = await this.responder.onAlert(
        a,
        a.vigie.incident ? { incident: a.vigie.incident } : undefined,
      );
      for (const r of recs) this.printAction(r);
    } catch (err) {
      this.counts.responderErrors++;
      log.error('responder failed', { alert: a.uuid, err: String(err) });
    }
  }

  /** Print each (record, status) once: the responder reports through onRecord and return values. */
  printAction(rec: ActionRecord): void {
    // The responder may keep mutating its record: print and hand on a snapshot of this status.
    const r: ActionRecord = { ...rec };
    const key = `${r.id}|${r.status}`;
    if (this.printed.has(key)) return;
    this.printed.add(key);
    this.counts.actions++;
    if (r.status === 'executed' && r.alert && CONTAINMENT_ACTIONS.has(r.action)) {
      const t = this.alertAt.get(r.alert);
      if (t !== undefined) this.containmentLatencyMs.push(performance.now() - t);
    }
    this.opts.output.action(r);
    this.opts.onAction?.(r);
    this.alertsBus.publish(TOPICS.actions, r);
  }

  private async tick(): Promise<void> {
    const now = nowNs();
    for (const d of this.detectors) {
      if (!d.tick) continue;
      try {
        d.tick(now, (input) => this.raise(input));
      } catch (err) {
        this.counts.detectorErrors++;
        log.error(`detector ${d.name} tick failed`, { err: String(err) });
      }
    }
    if (this.responder) {
      try {
        for (const r of await this.responder.tick()) this.printAction(r);
      } catch (err) {
        this.counts.responderErrors++;
        log.error('responder tick failed', { err: String(err) });
      }
    }
  }

  /** See every event the detectors see (the API's resource history uses this). */
  addEventObserver(f: (ev: VigieEvent) => void): void {
    this.eventObservers.push(f);
  }

  /** Roll back an executed action (the responder must support it). */
  async rollback(id: string): Promise<ActionRecord> {
    if (!this.responder?.rollback) throw new Error('no responder with rollback is available');
    const r = await this.responder.rollback(id);
    this.printAction(r);
    return r;
  }

  stats(): EngineStats {
    const sources: EngineStats['sources'] = {};
    for (const s of this.sources) sources[s.name] = s.stats();
    const detectors: EngineStats['detectors'] = {};
    for (const d of this.detectors) if (d.stats) detectors[d.name] = d.stats();
    const queues = [...this.eventsBus.stats().queues, ...this.alertsBus.stats().queues].map((q) => ({
      name: q.name,
      size: q.size,
      dropped: q.dropped,
      highWater: q.highWater,
    }));
    return {
      ...this.counts,
      eventsByKind: { ...this.eventsByKind },
      drops: { ...this.drops },
      sources,
      detectors,
      queues,
    };
  }

  /** Graceful stop, in flow order; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(
      this.sources.map((s) =>
        s.stop().catch((err: unknown) => log.error(`source ${s.name} stop failed`, { err: String(err) })),
      ),
    );
    await this.eventsBus.close();
    for (const d of this.detectors) {
      try {
        await d.close?.();
      } catch (err) {
        log.error(`detector ${d.name} close failed`, { err: String(err) });
      }
    }
    await this.alertsBus.close();
    await this.characterizer?.settled();
    if (this.responder) {
      try {
        await this.responder.close();
      } catch (err) {
        log.error('responder close failed', { err: String(err) });
      }
    }
    await this.opts.output.flush();
  }
}

export function percentileOf(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
