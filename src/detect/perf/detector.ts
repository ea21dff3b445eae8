/**
 * The 'perf' Detector: feeds `metric` events to the PerfEngine and turns its findings into alerts
 * (category 'performance'). A noisy-neighbour alert names the culprit as its entity (so that a
 * responder caps the culprit, not the victim) and the victim in its output fields.
 */
import type { AlertInput } from '../../model/alert.js';
import type { VigieEvent } from '../../model/event.js';
import type { AlertEmitter, Detector } from '../types.js';
import type { DetectorContext } from '../types.js';
import {
  PerfEngine,
  entityRefOf,
  type Deviation,
  type EntityRef,
  type PerfFinding,
  type PerfParams,
} from './engine.js';

function fmtValue(v: number, unit: string): string {
  if (unit === 'bytes') return `${(v / 1048576).toFixed(1)} MiB`;
  if (unit === 'bytes/s') return `${(v / 1048576).toFixed(2)} MiB/s`;
  if (unit === 'cores') return `${v.toFixed(3)} cores`;
  if (unit === 'ms') return `${v.toFixed(1)} ms`;
  return `${Number(v.toFixed(3))} ${unit}`;
}

export function describeDeviation(d: Deviation): string {
  return `${d.metric} ${fmtValue(d.value, d.unit)} vs baseline ${fmtValue(d.median, d.unit)} (±${fmtValue(d.sigma, d.unit)}, z=${d.z.toFixed(1)})`;
}

function entitiesOf(ref: EntityRef): AlertInput['entities'] {
  return {
    host: ref.host,
    container: ref.container
      ? { id: ref.container.id, name: ref.container.name, image: ref.container.image }
      : undefined,
    k8s: ref.k8s ? { ...ref.k8s } : undefined,
  };
}

export function findingToAlert(f: PerfFinding, evidence: string[] = []): AlertInput | undefined {
  if (f.type === 'anomaly') {
    const devs = f.deviations.map(describeDeviation);
    const ranking = f.ranking.map(
      (r, i) =>
        `${i + 1}. ${r.ref.name} (score ${r.score.toFixed(2)}${r.why[0] ? `, ${r.why[0].metric} z=${r.why[0].z.toFixed(1)}` : ''})`,
    );
    return {
      rule: 'Performance anomaly',
      priority: f.score >= 3 ? 'Error' : 'Warning',
      source: 'metric',
      output: `Performance anomaly on ${f.entity.name}: ${devs.join('; ') || 'sustained deviation'}`,
      tags: ['performance', 'perf'],
      output_fields: {
        'entity.name': f.entity.name,
        'entity.key': f.entity.key,
        'perf.metric': f.deviations[0]?.metric ?? null,
        'perf.value': f.deviations[0]?.value ?? null,
        'perf.baseline': f.deviations[0]?.median ?? null,
        'perf.suspects': f.ranking.map((r) => r.ref.name).join(','),
      },
      category: 'performance',
      detector: 'perf',
      score: f.score,
      threshold: 1,
      explanation: `CUSUM of robust z-scores crossed its threshold: ${devs.join('; ')}. Most likely at the root: ${ranking.join(' ')}`,
      entities: entitiesOf(f.entity),
      ts: f.ts,
      evidence,
    };
  }
  if (f.type === 'leak') {
    const mib = (v: number) => `${(v / 1048576).toFixed(1)} MiB`;
    const eta =
      f.limit && f.slopePerSample > 0
        ? ` ; at this rate the limit ${mib(f.limit)} is reached in ${Math.round((f.limit - f.to) / f.slopePerSample)} samples`
        : '';
    return {
      rule: 'Memory leak trend',
      priority: 'Warning',
      source: 'metric',
      output: `Memory of ${f.entity.name} climbs steadily: ${mib(f.from)} → ${mib(f.to)} over the baseline window (R²=${f.r2.toFixed(2)})${eta}`,
      tags: ['performance', 'perf', 'memory'],
      output_fields: {
        'entity.name': f.entity.name,
        'perf.metric': f.metric,
        'perf.from': f.from,
        'perf.to': f.to,
        'perf.r2': f.r2,
      },
      category: 'performance',
      detector: 'perf',
      score: f.r2,
      threshold: 0.9,
      explanation: `Least-squares trend over the baseline window: slope ${mib(f.slopePerSample)} per sample, R² ${f.r2.toFixed(2)}`,
      entities: entitiesOf(f.entity),
      ts: f.ts,
      evidence,
    };
  }
  if (f.type === 'neighbour') {
    const n = f.finding;
    const lead =
      n.leadSamples > 0
        ? `${n.leadSamples} samples before`
        : n.leadSamples === 0
          ? 'at the same time as'
          : `${-n.leadSamples} samples after`;
    return {
      rule: 'Noisy neighbour',
      priority: 'Error',
      source: 'metric',
      output: `Noisy neighbour: ${n.culprit.name} degrades ${n.victim.name} on ${n.culprit.scope}: its ${n.culpritMetric} rose ${n.from.toFixed(3)} → ${n.to.toFixed(3)} ${lead} the victim's ${n.victimMetric} rose (r=${n.correlation.toFixed(2)})`,
      tags: ['performance', 'perf', 'noisy_neighbour'],
      output_fields: {
        'victim.name': n.victim.name,
        'victim.key': n.victim.key,
        'victim.metric': n.victimMetric,
        'culprit.name': n.culprit.name,
        'culprit.key': n.culprit.key,
        'culprit.metric': n.culpritMetric,
        'neighbour.correlation': Number(n.correlation.toFixed(3)),
        'neighbour.rise_sigma': Number(n.rise.toFixed(1)),
        'neighbour.lead_samples': n.leadSamples,
      },
      category: 'performance',
      detector: 'perf',
      score: n.score,
      threshold: 0.3,
      explanation: `On ${n.culprit.scope}, ${n.victim.name}'s ${n.victimMetric} degraded; ${n.culprit.name}'s ${n.culpritMetric} rose ${n.rise.toFixed(1)} robust sigmas above its baseline, correlated r=${n.correlation.toFixed(2)} with the victim's signal over the recent samples, starting ${lead} the victim's.`,
      entities: entitiesOf(n.culprit),
      ts: f.ts,
      evidence,
    };
  }
  return undefined;
}

export class PerfDetector implements Detector {
  readonly name = 'perf';
  readonly kinds = ['metric', 'container'] as const;
  readonly engine: PerfEngine;
  private malformed = 0;
  private alerts = 0;
  /** Entity identity by container id: saves building the ref on every sample of a known container. */
  private readonly refs = new Map<string, EntityRef>();

  private refOf(ev: VigieEvent): EntityRef {
    const id = ev.container?.id;
    if (!id || ev.k8s?.pod) return entityRefOf(ev);
    let r = this.refs.get(id);
    if (!r || r.host !== ev.host) {
      r = entityRefOf(ev);
      if (this.refs.size > 4 * this.engine.p.maxEntities) this.refs.clear();
      this.refs.set(id, r);
    }
    return r;
  }

  constructor(params: Partial<PerfParams> = {}) {
    this.engine = new PerfEngine(params);
  }

  onEvent(ev: VigieEvent, emit: AlertEmitter): void {
    if (ev.kind === 'container') {
      const key = entityRefOf(ev).key;
      const action = ev.lifecycle?.action;
      if (action === 'destroy') {
        this.engine.forget(key);
        if (ev.container?.id) this.refs.delete(ev.container.id);
      } else if (action === 'start' || action === 'restart') this.engine.restarted(key);
      return;
    }
    if (!ev.metric || typeof ev.ts !== 'bigint') {
      this.malformed++;
      return;
    }
    const found = this.engine.observe(this.refOf(ev), ev.ts, ev.metric);
    if (!found) return;
    for (const f of found) {
      const a = findingToAlert(f, [ev.id]);
      if (a) {
        this.alerts++;
        emit(a);
      }
    }
  }

  stats(): Record<string, number | string> {
    return { ...this.engine.stats, malformed: this.malformed, alerts: this.alerts };
  }
}

export function createPerfDetector(ctx: Pick<DetectorContext, 'config'>): PerfDetector {
  const cfg = (ctx.config.perf ?? {}) as Partial<PerfParams>;
  const params: Partial<PerfParams> = {};
  for (const k of ['window', 'k', 'h', 'clip', 'relFloor', 'warmup', 'quiet', 'maxAlarm'] as const)
    if (typeof cfg[k] === 'number') params[k] = cfg[k];
  if (cfg.floors && typeof cfg.floors === 'object') params.floors = cfg.floors;
  return new PerfDetector(params);
}
