/**
 * The live loop as a library: sources → events bus → detectors → the alert path (filter, correlate,
 * store once, print, feedback, publish) → alerts bus → responder → action records.
 *
 * Two buses, so that shutdown can drain in order: stop the sources, drain the events bus (detectors
 * finish what they hold and may still raise alerts), close the detectors, then drain the alerts bus
 * (the responder sees every alert), then close the responder. Nothing held in a queue is lost on a
 * clean stop; what a full queue dropped was counted and reported as it happened.
 *
 * Every command composes this same engine (`vigie run`, `demo`, `agent`, `brain`, the testbed): the
 * stages it is not given are built by compose.ts, statically, from the registries.
 */
import { performance } from 'node:perf_hooks';
import type { Characterizer } from '../characterize/live.js';
import type { Alert, AlertInput } from '../model/alert.js';
import { isContainment, type ActionRecord } from '../model/action.js';
import { EventClock, EventIds, nowNs, type EventKind, type VigieEvent } from '../model/event.js';
import { InProcessBus, TOPICS, type DropNotice } from '../pipeline/bus.js';
import { MetricsRegistry, stageMetrics } from '../pipeline/metrics.js';
import type { BaselineManager } from '../detect/anomaly/baseline/manager.js';
import { PostureIndex } from '../detect/posture/posture-index.js';
import { TraceModel } from '../detect/traces/model.js';
import type { Detector } from '../detect/types.js';
import type { Source } from '../sources/types.js';
import { AlertStore } from '../store/alerts.js';
import { logger } from '../util/log.js';
import { AlertPath } from './alert-path.js';
import {
  composeBaselines,
  composeCharacterizer,
  composeContainers,
  composeDetectors,
  composeResponder,
  composeSources,
} from './compose.js';
import { WorkloadIdentity } from './identity.js';
import type { EngineOptions, EngineStats, LiveResponder } from './types.js';

export type { EngineOptions, EngineStats, LiveResponder } from './types.js';

const log = logger('engine');

export class Engine {
  readonly alerts: AlertStore;
  sources: Source[] = [];
  detectors: Detector[] = [];
  responder?: LiveResponder;
  characterizer?: Characterizer;
  /** The workload baselines the detectors learn into, when they do (the API's reset reaches them). */
  baselines?: BaselineManager;
  /** The cluster's current posture findings: the posture detector writes, incidents and the API read. */
  readonly posture: PostureIndex;
  /** Spans' call graph and per-operation windows: the trace-model detector feeds it, trace detectors read it. */
  readonly traces: TraceModel;
  /**
   * Workload identity, resolved once per container through the container catalogue before any event
   * is scored; absent when the engine was handed sources and no catalogue.
   */
  identity?: WorkloadIdentity;
  /** Alert written → containment action (not read-only evidence) executed, ms. */
  readonly containmentLatencyMs: number[] = [];
  /** The engine's Prometheus series (served at /metrics beside it). */
  readonly metrics: MetricsRegistry;
  private readonly series: ReturnType<typeof stageMetrics>;
  private readonly eventsBus: InProcessBus;
  private readonly alertsBus: InProcessBus;
  private readonly path: AlertPath;
  private readonly byKind = new Map<EventKind, Detector[]>();
  private readonly arrival = new WeakMap<VigieEvent, number>();
  private readonly printed = new Set<string>();
  private readonly ids = new EventIds();
  /** The time detectors' periodic work runs on: event time, advanced monotonically. */
  private readonly clock = new EventClock();
  private timer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private readonly counts = { events: 0, actions: 0, detectorErrors: 0, responderErrors: 0 };
  private readonly eventObservers: ((ev: VigieEvent) => void)[] = [];
  private readonly eventsByKind: Record<string, number> = {};
  private readonly drops: Record<string, number> = {};

  constructor(private readonly opts: EngineOptions) {
    this.alerts = new AlertStore(opts.db);
    const onDrop = (n: DropNotice) => this.onDrop(n);
    const onErr = (topic: string, err: unknown) =>
      log.error(`handler failed on ${topic}`, { err: String(err) });
    this.eventsBus = new InProcessBus(onDrop, 1000, onErr);
    this.alertsBus = new InProcessBus(onDrop, 1000, onErr);
    this.metrics = opts.metrics ?? new MetricsRegistry();
    this.posture = opts.posture ?? new PostureIndex();
    this.traces = opts.traces ?? new TraceModel();
    this.series = stageMetrics(this.metrics);
    // Counts kept by the stages are copied in when /metrics is read: nothing extra on the hot path.
    this.metrics.onCollect(() => this.collectMetrics());
    this.path = new AlertPath({
      hostname: opts.hostname,
      output: opts.output,
      bus: this.alertsBus,
      // An agent forwards its alerts: the brain stores and correlates them, once.
      store: opts.storeAlerts === false ? undefined : this.alerts,
      detectors: () => this.detectors,
      onAlert: (a) => {
        this.series.alerts.inc({ rule: a.rule, category: a.vigie.category });
        opts.onAlert?.(a);
      },
    });
  }

  /** The bus carrying alerts, incidents and action records (the API's WebSocket feeds from it). */
  get bus(): InProcessBus {
    return this.alertsBus;
  }

  get mode(): 'monitor' | 'enforce' {
    return this.opts.mode ?? 'monitor';
  }

  /** Event arrival (sensor delivered, parsed) → alert written, ms. */
  get alertLatencyMs(): number[] {
    return this.path.latencyMs;
  }

  async start(): Promise<void> {
    const o = this.opts;
    if (!o.detectors) this.baselines = composeBaselines(o);
    this.detectors =
      o.detectors ??
      (await composeDetectors(o, { baselines: this.baselines, posture: this.posture, traces: this.traces }));
    for (const d of this.detectors)
      for (const k of d.kinds) {
        const l = this.byKind.get(k) ?? [];
        l.push(d);
        this.byKind.set(k, l);
      }
    if (this.detectors.length === 0)
      log.warn('no detector available: events are watched but nothing is scored');
    else log.info(`detectors: ${this.detectors.map((d) => d.name).join(', ')}`);

    if (o.characterizer !== null)
      this.characterizer = o.characterizer ?? (await composeCharacterizer(o, this.posture));
    this.path.setCharacterizer(this.characterizer);
    if (o.responder !== null) {
      this.responder = o.responder ?? composeResponder(o, this.mode, (r) => this.printAction(r));
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

    // The sources the engine composes share one container catalogue; handed sources bring their own.
    const containers = o.containers ?? (o.sources ? undefined : composeContainers(o));
    const identity = containers ? new WorkloadIdentity(containers) : undefined;
    this.identity = identity;
    this.sources = o.sources ?? (await composeSources(o, containers ?? composeContainers(o)));
    const publish = (ev: VigieEvent) => this.eventsBus.publish(TOPICS.events, ev);
    // Every event takes its container's workload identity before it is queued for the detectors.
    const sink = (ev: VigieEvent) => {
      this.arrival.set(ev, performance.now());
      return identity ? identity.event(ev, publish) : publish(ev);
    };
    // Alerts made by another tool (Falco) take the alert path with their container's identity: stored
    // when this returns, or when the promise it returns resolves (the container was looked up).
    const accept = (a: Alert) => void this.path.accept(a);
    const alertSink = (a: Alert): boolean | Promise<boolean> => {
      if (identity) return identity.alert(a, accept);
      accept(a);
      return true;
    };
    // Events a source acknowledges to its sender (webhooks) are handled before the acknowledgement.
    const handleNow = (ev: VigieEvent) => {
      if (this.stopping) return false;
      this.arrival.set(ev, performance.now());
      this.detect(identity ? identity.known(ev) : ev);
      return true;
    };
    for (const s of this.sources) {
      try {
        await s.start(sink, alertSink, handleNow);
      } catch (err) {
        log.error(`source ${s.name} failed to start: ${(err as Error).message}`);
      }
    }
    this.timer = setInterval(() => void this.tick(), o.tickMs ?? 1000);
    this.timer.unref();
  }

  /** An alert made elsewhere (an agent over NATS, Falco): the same path as the detectors' alerts. */
  accept(a: Alert): Alert | undefined {
    return this.path.accept(a);
  }

  private onDrop(n: DropNotice): void {
    this.drops[n.queue] = n.dropped;
    const msg = `queue ${n.queue} full: ${n.dropped} messages dropped so far`;
    log.warn(msg);
    // A drop is itself an event, so detectors and the store can see it (it may be dropped too when
    // the same queue is full: the counter above is the ground truth).
    this.eventsBus.publish(TOPICS.events, {
      id: this.ids.next(),
      kind: 'internal',
      ts: nowNs(),
      source: 'vigie',
      host: this.opts.hostname,
      internal: { type: 'queue_drop', message: msg, counts: { dropped: n.dropped } },
    } satisfies VigieEvent);
  }

  private detect(ev: VigieEvent): void {
    this.counts.events++;
    this.clock.observe(ev.ts);
    this.eventsByKind[ev.kind] = (this.eventsByKind[ev.kind] ?? 0) + 1;
    this.opts.onEvent?.(ev);
    for (const f of this.eventObservers) f(ev);
    const ds = this.byKind.get(ev.kind);
    if (!ds) return;
    const t0 = this.arrival.get(ev);
    const emit = (input: AlertInput) => void this.path.raise(input, t0);
    // Detector time is measured on one event in 16: two clock reads per detector per event would
    // cost more than some detectors themselves.
    const timed = (this.counts.events & 15) === 0;
    for (const d of ds) {
      try {
        if (!timed) d.onEvent(ev, emit);
        else {
          const s = performance.now();
          d.onEvent(ev, emit);
          this.series.detectorLatency.observe({ detector: d.name }, (performance.now() - s) / 1000);
        }
      } catch (err) {
        this.counts.detectorErrors++;
        if (this.counts.detectorErrors <= 10)
          log.error(`detector ${d.name} failed on a ${ev.kind} event`, { err: String(err), event: ev.id });
      }
    }
  }

  private async respond(a: Alert): Promise<void> {
    if (!this.responder) return;
    try {
      // The incident as it stands now: its severity rises as it accumulates tactics, and the policy
      // may act on it (minIncidentSeverity).
      const id = a.vigie.incident;
      const inc = id ? this.characterizer?.correlator.get(id) : undefined;
      const recs = await this.responder.onAlert(
        a,
        id
          ? { incident: id, incidentSeverity: inc?.severity.level, incidentWhy: inc?.escalation?.why }
          : undefined,
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
    if (r.status === 'executed' && r.alert && isContainment(r.action)) {
      const t = this.path.handledTime(r.alert);
      if (t !== undefined) this.containmentLatencyMs.push(performance.now() - t);
    }
    this.series.actions.inc({ action: r.action, status: r.status });
    // Detectors that remember evidence about a container forget it when its containment is undone.
    for (const d of this.detectors) {
      if (!d.onAction) continue;
      try {
        d.onAction(r);
      } catch (err) {
        this.counts.detectorErrors++;
        log.error(`detector ${d.name} onAction failed`, { err: String(err) });
      }
    }
    this.opts.output.action(r);
    this.opts.onAction?.(r);
    this.alertsBus.publish(TOPICS.actions, r);
  }

  private async tick(): Promise<void> {
    const now = this.clock.now();
    for (const d of this.detectors) {
      if (!d.tick) continue;
      try {
        d.tick(now, (input) => void this.path.raise(input));
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

  private collectMetrics(): void {
    const st = this.stats();
    const m = this.series;
    m.eventsIn.set({ stage: 'detect' }, st.events);
    m.eventsOut.set({ stage: 'alerts' }, st.alerts);
    for (const [name, s] of Object.entries(st.sources)) {
      m.sourceEvents.set({ source: name }, Number(s.events) || 0);
      m.sourceMalformed.set({ source: name }, Number(s.malformed) || 0);
      m.sourceLost.set({ source: name }, Number(s.lost) || 0);
      m.eventsIn.set({ stage: `source:${name}` }, Number(s.events) || 0);
    }
    for (const q of st.queues) {
      m.eventsDropped.set({ stage: q.name }, q.dropped);
      m.queueSize.set({ queue: q.name }, q.size);
      m.queueHighWater.set({ queue: q.name }, q.highWater);
    }
    m.detectorErrors.set({}, st.detectorErrors);
    m.alertsSuppressed.set({}, st.suppressed);
    m.alertReplays.set({}, st.replays);
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
    const p = this.path.stats();
    return {
      ...this.counts,
      alerts: p.alerts,
      suppressed: p.suppressed,
      replays: p.replays,
      detectorErrors: this.counts.detectorErrors + p.feedbackErrors,
      eventsByKind: { ...this.eventsByKind },
      drops: { ...this.drops },
      ...(this.identity ? { identity: this.identity.stats() } : {}),
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
    // Events and alerts waiting for their container's lookup are handed on before the queues close.
    await this.identity?.settled();
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
