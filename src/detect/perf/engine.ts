/**
 * Perf engine: per-entity robust baselines, CUSUM change points, leak trends, a combined
 * (multivariate) score, localization and noisy-neighbour attribution. No I/O: the Detector wrapper
 * (detector.ts) and the evaluation (eval/nezha.ts) both drive this class.
 *
 * Parameters (few, on purpose):
 *  - window: samples in the rolling baseline (median/MAD), default 60 (an hour of one-minute data,
 *    a minute of one-second data).
 *  - k, h, clip: the CUSUM slack, decision threshold and per-sample cap in robust sigmas (3, 10, 10):
 *    a shift must exceed 3 sigmas to count, one sample adds at most 7 so a lone spike never alarms,
 *    two consecutive samples at ≥ 8 sigmas do.
 *  - persist: consecutive samples above k an alarm also needs (1: the CUSUM alone decides; the
 *    Nezha evaluation uses 2 for one-minute data, where separate spikes would otherwise add up).
 *  - relFloor: the robust sigma is never below this fraction of the median (0.1), so a flat series
 *    does not turn a 1 % wobble into a large z; each metric also has an absolute floor in its own unit
 *    (METRIC_SPECS) that encodes the smallest change worth an operator's attention.
 */
import type { MetricBody, VigieEvent } from '../../model/event.js';
import { Cusum, linearTrend, pearson, RollingRobust } from './baseline.js';

export type Direction = 'up' | 'down';

export interface MetricSpec {
  /** Key in MetricBody. */
  name: string;
  direction: Direction;
  /** Smallest sigma, in the metric's unit. */
  absFloor: number;
  /** Smallest sigma as a fraction of the median, when the metric's noise is multiplicative
   * (overrides PerfParams.relFloor). */
  relFloor?: number;
  unit: string;
  /** A victim-side signal: when it degrades, look for a noisy neighbour. */
  victimSignal?: boolean;
  /** A consumption metric: a neighbour whose value rose can be the culprit. */
  consumption?: boolean;
}

export const METRIC_SPECS: readonly MetricSpec[] = [
  { name: 'cpu', direction: 'up', absFloor: 0.02, unit: 'cores', consumption: true },
  { name: 'cpuThrottled', direction: 'up', absFloor: 0.05, unit: 'throttled fraction', victimSignal: true },
  { name: 'cpuPressure', direction: 'up', absFloor: 5, unit: '% stalled (PSI some)', victimSignal: true },
  { name: 'memory', direction: 'up', absFloor: 16 * 1024 * 1024, unit: 'bytes', consumption: true },
  { name: 'memPressure', direction: 'up', absFloor: 5, unit: '% stalled (PSI some)', victimSignal: true },
  { name: 'ioPressure', direction: 'up', absFloor: 5, unit: '% stalled (PSI some)', victimSignal: true },
  { name: 'blkIo', direction: 'up', absFloor: 1024 * 1024, unit: 'bytes/s', consumption: true },
  { name: 'latencyMs', direction: 'up', absFloor: 100, relFloor: 0.5, unit: 'ms', victimSignal: true },
  { name: 'successRate', direction: 'down', absFloor: 0.02, unit: 'ratio' },
];

export interface PerfParams {
  window: number;
  k: number;
  h: number;
  clip: number;
  relFloor: number;
  /** Samples before an entity's metric is scored. */
  warmup: number;
  /** Consecutive quiet samples (z < k) that end an alarm. */
  quiet: number;
  /**
   * Consecutive samples above k that an alarm needs besides the CUSUM crossing (1: the CUSUM alone
   * decides). With coarse samples (one a minute) the CUSUM also adds up spikes that are not
   * consecutive (two one-minute spikes two minutes apart alarm); 2 asks for the deviation to hold.
   */
  persist: number;
  /** An alarm older than this many samples is accepted as the new normal (baseline resumes). */
  maxAlarm: number;
  /** Memory leak: minimum R² of the climb over the window, and minimum rise as a fraction of median. */
  leakR2: number;
  leakRise: number;
  /** Noisy neighbour: samples of history correlated, minimum attribution score. */
  neighbourHistory: number;
  neighbourMinScore: number;
  /** Cap on monitored entities; the least recently seen is evicted beyond it. */
  maxEntities: number;
  specs: readonly MetricSpec[];
  /** Per-deployment floor overrides by metric name (e.g. a 10-ms service wants a lower latency floor). */
  floors?: Record<string, { abs?: number; rel?: number }>;
  /** Samples after a victim's degradation during which attribution is retried. */
  attributionTries: number;
}

export const DEFAULT_PARAMS: Readonly<PerfParams> = {
  window: 60,
  k: 3,
  h: 10,
  clip: 10,
  relFloor: 0.1,
  warmup: 10,
  quiet: 2,
  persist: 1,
  maxAlarm: 30,
  leakR2: 0.9,
  leakRise: 0.2,
  neighbourHistory: 30,
  neighbourMinScore: 0.3,
  maxEntities: 100_000,
  specs: METRIC_SPECS,
  attributionTries: 5,
};

export interface EntityRef {
  key: string;
  host?: string;
  container?: VigieEvent['container'];
  k8s?: VigieEvent['k8s'];
  /** Co-location scope (node or host) for noisy-neighbour attribution. */
  scope: string;
  /** Display name. */
  name: string;
}

class Track {
  readonly base: RollingRobust;
  readonly cusum: Cusum;
  /** Recent raw values (consumption/victim history for correlation). */
  readonly hist: Float64Array;
  histPos = 0;
  histN = 0;
  alarmed = false;
  alarmSamples = 0;
  quietRun = 0;
  /** Consecutive samples with z above k (persistence). */
  highRun = 0;
  lastZ = 0;
  lastValue = NaN;
  /** Timestamp (double ns) of this metric's last sample: several sources may feed one entity. */
  lastTsN = -Infinity;
  leakReported = false;
  constructor(p: PerfParams) {
    this.base = new RollingRobust(p.window);
    this.cusum = new Cusum(p.k, p.h, p.clip);
    this.hist = new Float64Array(p.neighbourHistory);
  }
  /** Forget accumulated evidence (gap, restart); the baseline stays. */
  resetEvidence(): void {
    this.cusum.reset();
    this.highRun = 0;
  }
  pushHist(x: number): void {
    this.hist[this.histPos] = x;
    this.histPos = (this.histPos + 1) % this.hist.length;
    if (this.histN < this.hist.length) this.histN++;
  }
  /** Last `n` history values, oldest first. */
  recent(out: Float64Array, n: number): number {
    const m = Math.min(n, this.histN);
    const len = this.hist.length;
    for (let i = 0; i < m; i++) out[i] = this.hist[(this.histPos - m + i + len * 2) % len];
    return m;
  }
}

export class EntityState {
  readonly tracks: (Track | undefined)[];
  lastTs = 0n;
  lastTsN = 0;
  /** Typical sample interval (ns, EWMA) for gap detection. */
  intervalNs = 0;
  alarmed = false;
  alarmStartNs = 0n;
  samples = 0;
  /** A noisy neighbour was named for the current episode. */
  attributed = false;
  attributionTries = 0;
  /** Logical clock of the last sample, for least-recently-seen eviction. */
  seen = 0;
  constructor(
    readonly ref: EntityRef,
    nSpecs: number,
  ) {
    this.tracks = new Array(nSpecs).fill(undefined);
  }
  /** Evidence score: the largest CUSUM statistic relative to the decision threshold, over metrics. */
  score(h: number): number {
    let s = 0;
    for (const t of this.tracks) if (t && t.cusum.s / h > s) s = t.cusum.s / h;
    return s;
  }
}

export interface Deviation {
  metric: string;
  value: number;
  median: number;
  sigma: number;
  z: number;
  unit: string;
}

export interface RankedEntity {
  ref: EntityRef;
  score: number;
  why: Deviation[];
}

export interface NeighbourFinding {
  victim: EntityRef;
  victimMetric: string;
  culprit: EntityRef;
  culpritMetric: string;
  correlation: number;
  /** Rise of the culprit's consumption in its own robust sigmas. */
  rise: number;
  from: number;
  to: number;
  /** Samples between the culprit's rise and the victim's degradation (positive: culprit first). */
  leadSamples: number;
  score: number;
}

export type PerfFinding =
  | {
      type: 'anomaly';
      entity: EntityRef;
      ts: bigint;
      score: number;
      deviations: Deviation[];
      ranking: RankedEntity[];
    }
  | {
      type: 'leak';
      entity: EntityRef;
      ts: bigint;
      metric: string;
      slopePerSample: number;
      r2: number;
      from: number;
      to: number;
      limit?: number;
    }
  | { type: 'neighbour'; ts: bigint; finding: NeighbourFinding }
  | { type: 'recovered'; entity: EntityRef; ts: bigint };

export interface EngineStats {
  samples: number;
  entities: number;
  skippedNaN: number;
  gaps: number;
  evicted: number;
  alarms: number;
  /** Metric samples skipped because they were not newer than that metric's last sample. */
  outOfOrder: number;
}

export function entityRefOf(ev: VigieEvent): EntityRef {
  const host = ev.host;
  if (ev.k8s?.pod) {
    const ns = ev.k8s.namespace ?? 'default';
    return {
      key: `pod:${ns}/${ev.k8s.pod}${ev.container?.name ? '/' + ev.container.name : ''}`,
      host,
      k8s: ev.k8s,
      container: ev.container,
      scope: ev.k8s.node ?? host ?? 'cluster',
      name: ev.k8s.pod,
    };
  }
  if (ev.container?.id) {
    return {
      key: `container:${ev.container.id}`,
      host,
      container: ev.container,
      scope: host ?? 'host',
      name: ev.container.name ?? ev.container.id.slice(0, 12),
    };
  }
  return { key: `host:${host ?? 'local'}`, host, scope: host ?? 'host', name: host ?? 'local' };
}

export class PerfEngine {
  readonly p: PerfParams;
  private readonly entities = new Map<string, EntityState>();
  private readonly scratchA: Float64Array;
  private readonly scratchB: Float64Array;
  private readonly ordered: Float64Array;
  readonly stats: EngineStats = {
    samples: 0,
    entities: 0,
    skippedNaN: 0,
    gaps: 0,
    evicted: 0,
    alarms: 0,
    outOfOrder: 0,
  };

  constructor(params: Partial<PerfParams> = {}) {
    const merged = { ...DEFAULT_PARAMS, ...params };
    const floors = merged.floors ?? {};
    merged.specs = merged.specs.map((sp) =>
      floors[sp.name]
        ? {
            ...sp,
            absFloor: floors[sp.name].abs ?? sp.absFloor,
            relFloor: floors[sp.name].rel ?? sp.relFloor,
          }
        : sp,
    );
    this.p = merged;
    if (this.p.clip - this.p.k >= this.p.h)
      console.warn(`perf: clip − k (${this.p.clip - this.p.k}) ≥ h (${this.p.h}): a single spike can alarm`);
    this.scratchA = new Float64Array(this.p.neighbourHistory);
    this.scratchB = new Float64Array(this.p.neighbourHistory);
    this.ordered = new Float64Array(this.p.window);
  }

  entity(key: string): EntityState | undefined {
    return this.entities.get(key);
  }

  allEntities(): IterableIterator<EntityState> {
    return this.entities.values();
  }

  /** Forget an entity (container removed). Its baseline goes with it. */
  forget(key: string): void {
    this.entities.delete(key);
    this.stats.entities = this.entities.size;
  }

  /** Restart: keep the baseline (it belongs to the workload), clear accumulated evidence. */
  restarted(key: string): void {
    const e = this.entities.get(key);
    if (!e) return;
    for (const t of e.tracks) if (t) t.resetEvidence();
    e.lastTs = 0n;
  }

  /**
   * Feed one metric sample set. Returns findings (possibly several) or undefined. The hot path
   * allocates only when something is found.
   */
  observe(ref: EntityRef, ts: bigint, m: MetricBody): PerfFinding[] | undefined {
    let e = this.entities.get(ref.key);
    if (!e) {
      if (this.entities.size >= this.p.maxEntities) this.evictOldest();
      e = new EntityState(ref, this.p.specs.length);
      this.entities.set(ref.key, e);
      this.stats.entities = this.entities.size;
    }
    e.seen = ++this.clock;
    // Gap: more than five typical intervals without data; accumulated evidence is stale.
    // Intervals in double nanoseconds: ~256 ns of rounding at today's epoch, no bigint arithmetic.
    const tsn = Number(ts);
    // Several sources can feed one entity (cgroup files, a latency probe, a Prometheus scrape), often
    // at the same instant: the entity clock (gaps, sample interval) advances on newer samples only,
    // and each metric skips its own duplicates and out-of-order samples.
    if (e.lastTs === 0n || tsn > e.lastTsN) {
      if (e.lastTs !== 0n) {
        const dt = tsn - e.lastTsN;
        if (e.intervalNs > 0 && dt > 5 * e.intervalNs) {
          this.stats.gaps++;
          for (const t of e.tracks) if (t) t.resetEvidence();
        }
        e.intervalNs = e.intervalNs === 0 ? dt : 0.8 * e.intervalNs + 0.2 * Math.min(dt, 5 * e.intervalNs);
      }
      e.lastTs = ts;
      e.lastTsN = tsn;
      e.samples++;
    }
    const p = this.p;
    const specs = p.specs;
    let started = false;
    let anyAlarm = false;
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i];
      const x = m[spec.name];
      if (x === undefined) {
        const t0 = e.tracks[i];
        if (t0?.alarmed) anyAlarm = true;
        continue;
      }
      this.stats.samples++;
      if (!Number.isFinite(x)) {
        // No measurement (e.g. a latency percentile of an interval without requests): no evidence
        // either way. An alarm stands; a persistence run is broken.
        this.stats.skippedNaN++;
        const t0 = e.tracks[i];
        if (t0) {
          t0.highRun = 0;
          if (t0.alarmed) anyAlarm = true;
        }
        continue;
      }
      let t = e.tracks[i];
      if (!t) t = e.tracks[i] = new Track(p);
      if (tsn <= t.lastTsN) {
        // Out of order or duplicate for this metric: skip it.
        this.stats.outOfOrder++;
        if (t.alarmed) anyAlarm = true;
        continue;
      }
      t.lastTsN = tsn;
      t.lastValue = x;
      t.pushHist(x);
      const b = t.base;
      if (b.count < p.warmup) {
        b.push(x);
        continue;
      }
      const med = b.median;
      let sigma = b.sigma;
      const rel = (spec.relFloor ?? p.relFloor) * Math.abs(med);
      if (sigma < rel) sigma = rel;
      if (sigma < spec.absFloor) sigma = spec.absFloor;
      const z = spec.direction === 'up' ? (x - med) / sigma : (med - x) / sigma;
      t.lastZ = z;
      t.cusum.update(z);
      t.highRun = z > p.k ? t.highRun + 1 : 0;
      if (t.alarmed) {
        t.alarmSamples++;
        if (z < p.k) t.quietRun++;
        else t.quietRun = 0;
        if (t.quietRun >= p.quiet) {
          t.alarmed = false;
          t.cusum.reset();
          t.alarmSamples = 0;
          t.quietRun = 0;
        } else if (t.alarmSamples > p.maxAlarm) {
          // A level held this long is the new normal: let the baseline learn it.
          b.push(x);
        }
      } else if (t.cusum.s > p.h && t.highRun >= p.persist) {
        t.alarmed = true;
        t.alarmSamples = 0;
        t.quietRun = 0;
        started = true;
      } else {
        // Learn only from samples that are not part of an incident (docs/perf.md, "Detector").
        b.push(x);
        if (spec.name === 'memory' && b.count === p.window) {
          const leak = this.checkLeak(e, t, spec, ts, m.memoryLimit);
          if (leak) (this.pending ??= []).push(leak);
        }
      }
      if (t.alarmed) anyAlarm = true;
    }
    let out: PerfFinding[] | undefined = this.pending;
    this.pending = undefined;
    if (started && !e.alarmed) {
      e.alarmed = true;
      e.alarmStartNs = ts;
      e.attributed = false;
      e.attributionTries = 0;
      this.stats.alarms++;
      (out ??= []).push({
        type: 'anomaly',
        entity: e.ref,
        ts,
        score: e.score(p.h),
        deviations: this.deviations(e),
        ranking: this.rank(undefined, 5),
      });
    } else if (e.alarmed && !anyAlarm) {
      e.alarmed = false;
      (out ??= []).push({ type: 'recovered', entity: e.ref, ts });
    }
    // Noisy neighbour: while a victim-side signal is in alarm and nobody has been named yet, look for
    // the culprit (for a few samples: the culprit's own samples may arrive just after the victim's).
    if (e.alarmed && !e.attributed && e.attributionTries < p.attributionTries) {
      let tried = false;
      for (let i = 0; i < specs.length && !e.attributed; i++) {
        const t = e.tracks[i];
        if (!specs[i].victimSignal || !t?.alarmed) continue;
        tried = true;
        const f = this.attributeNeighbour(e, specs[i].name);
        if (f) {
          e.attributed = true;
          (out ??= []).push({ type: 'neighbour', ts, finding: f });
        }
      }
      if (tried) e.attributionTries++;
    }
    return out;
  }

  private pending: PerfFinding[] | undefined;

  private clock = 0;

  /** Drop the least recently seen entity (a linear scan, paid only when the cap is reached). */
  private evictOldest(): void {
    let oldest: string | undefined;
    let min = Infinity;
    for (const [k, e] of this.entities)
      if (e.seen < min) {
        min = e.seen;
        oldest = k;
      }
    if (oldest !== undefined) {
      this.entities.delete(oldest);
      this.stats.evicted++;
    }
  }

  private checkLeak(
    e: EntityState,
    t: Track,
    spec: MetricSpec,
    ts: bigint,
    limit?: number,
  ): PerfFinding | undefined {
    if (t.leakReported) return undefined;
    const n = t.base.copyOrdered(this.ordered);
    const { slope, r2 } = linearTrend(this.ordered, n);
    const from = this.ordered[0];
    const to = this.ordered[n - 1];
    const rise = to - from;
    if (
      slope > 0 &&
      r2 >= this.p.leakR2 &&
      rise > this.p.leakRise * Math.abs(from) &&
      rise > spec.absFloor * 4
    ) {
      t.leakReported = true;
      return {
        type: 'leak',
        entity: e.ref,
        ts,
        metric: spec.name,
        slopePerSample: slope,
        r2,
        from,
        to,
        limit,
      };
    }
    return undefined;
  }

  deviations(e: EntityState): Deviation[] {
    const out: Deviation[] = [];
    const specs = this.p.specs;
    for (let i = 0; i < specs.length; i++) {
      const t = e.tracks[i];
      if (!t || !(t.lastZ >= this.p.k)) continue;
      const sigma = Math.max(
        t.base.sigma,
        (specs[i].relFloor ?? this.p.relFloor) * Math.abs(t.base.median),
        specs[i].absFloor,
      );
      out.push({
        metric: specs[i].name,
        value: t.lastValue,
        median: t.base.median,
        sigma,
        z: t.lastZ,
        unit: specs[i].unit,
      });
    }
    return out.sort((a, b) => b.z - a.z);
  }

  /**
   * Multivariate score of an entity: the root of the summed squares of the (clipped, positive) robust
   * z-scores of its metrics. A robust z combination standing in for an isolation forest: it rises
   * when several metrics move together even if none crosses its own threshold.
   */
  combinedScore(e: EntityState): number {
    let s = 0;
    for (const t of e.tracks) {
      if (!t) continue;
      const z = Math.min(Math.max(t.lastZ, 0), this.p.clip);
      s += z * z;
    }
    return Math.sqrt(s);
  }

  /**
   * Localization: entities ranked by accumulated evidence (CUSUM relative to h, then the combined
   * score), restricted to a scope when given. `why` lists the metrics that deviate.
   */
  rank(scope?: string, top = 5, filter?: (ref: EntityRef) => boolean): RankedEntity[] {
    const h = this.p.h;
    const cands: { e: EntityState; s: number }[] = [];
    for (const e of this.entities.values()) {
      if (scope && e.ref.scope !== scope) continue;
      if (filter && !filter(e.ref)) continue;
      const s = e.score(h) + 0.01 * this.combinedScore(e);
      if (s > 0) cands.push({ e, s });
    }
    cands.sort((a, b) => b.s - a.s);
    return cands.slice(0, top).map(({ e, s }) => ({ ref: e.ref, score: s, why: this.deviations(e) }));
  }

  /**
   * Noisy neighbour: among entities in the victim's scope, the one whose consumption rose (in its own
   * robust sigmas) together with the victim's degradation (Pearson correlation over recent history),
   * preferring a rise that started no later than the victim's.
   */
  attributeNeighbour(victim: EntityState, victimMetric: string): NeighbourFinding | undefined {
    const specs = this.p.specs;
    const vi = specs.findIndex((s) => s.name === victimMetric);
    const vt = victim.tracks[vi];
    if (!vt) return undefined;
    const n = vt.recent(this.scratchA, this.p.neighbourHistory);
    if (n < 4) return undefined;
    const vspec = specs[vi];
    const victimLevel =
      vt.base.median +
      this.p.k *
        Math.max(
          vt.base.sigma,
          (vspec.relFloor ?? this.p.relFloor) * Math.abs(vt.base.median),
          vspec.absFloor,
        );
    let best: NeighbourFinding | undefined;
    for (const e of this.entities.values()) {
      if (e === victim || e.ref.scope !== victim.ref.scope) continue;
      for (let i = 0; i < specs.length; i++) {
        if (!specs[i].consumption) continue;
        const t = e.tracks[i];
        if (!t || t.base.count < this.p.warmup) continue;
        const m = t.recent(this.scratchB, n);
        // Align the two histories on time: the culprit's last sample may be older than the victim's.
        const interval = victim.intervalNs > 0 ? victim.intervalNs : 1;
        const shift = Math.max(0, Math.min(n - 4, Math.round(Number(victim.lastTs - e.lastTs) / interval)));
        const vn = n - shift;
        const len = Math.min(vn, m);
        if (len < 4) continue;
        const corr = pearson(this.scratchA.subarray(vn - len, vn), this.scratchB.subarray(m - len, m), len);
        if (!(corr > 0)) continue;
        const sigma = Math.max(
          t.base.sigma,
          (specs[i].relFloor ?? this.p.relFloor) * Math.abs(t.base.median),
          specs[i].absFloor,
        );
        const rise = (t.lastValue - t.base.median) / sigma;
        if (rise < this.p.k) continue;
        // Lead in samples: how long before the victim's onset the culprit's rise began.
        const victimOnsetAgo = n - 1 - onsetIndex(this.scratchA, n, victimLevel);
        const culpritOnsetAgo =
          m - 1 - onsetIndex(this.scratchB, m, t.base.median + this.p.k * sigma) + shift;
        const lead = culpritOnsetAgo - victimOnsetAgo;
        // Consumption that rose after the victim degraded is an effect more than a cause: halve it.
        const timing = lead >= -1 ? 1 : 0.5;
        const score = corr * Math.min(rise / 10, 1) * timing;
        if (score >= this.p.neighbourMinScore && (!best || score > best.score)) {
          best = {
            victim: victim.ref,
            victimMetric,
            culprit: e.ref,
            culpritMetric: specs[i].name,
            correlation: corr,
            rise,
            from: t.base.median,
            to: t.lastValue,
            leadSamples: lead,
            score,
          };
        }
      }
    }
    return best;
  }

  /** Approximate bytes held per monitored entity with all metrics tracked. */
  bytesPerEntity(): number {
    const p = this.p;
    const track = new RollingRobust(p.window).bytes + p.neighbourHistory * 8 + 160;
    return 200 + p.specs.length * (8 + track);
  }
}

/** Index of the first sample of the final run above `level` (the onset of the current excursion). */
function onsetIndex(a: Float64Array, n: number, level: number): number {
  let i = n - 1;
  while (i > 0 && a[i - 1] > level) i--;
  return i;
}
