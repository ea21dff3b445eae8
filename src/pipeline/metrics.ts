/**
 * A small Prometheus metrics registry (counters, gauges, histograms with labels) rendered in the
 * text exposition format 0.0.4. Stages record into it; server/ exposes it at /metrics.
 * Hand-written to keep the hot path cheap: a label set is resolved to a series once and cached.
 */
type Labels = Record<string, string>;

function labelKey(names: readonly string[], values: Labels): string {
  let k = '';
  for (const n of names) k += `${n}="${escapeLabel(values[n] ?? '')}",`;
  return k.slice(0, -1);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
  }
  abstract render(): string;
}

/** A metric with one number per label set: counters and gauges differ only in how they change. */
abstract class ScalarMetric extends Metric {
  protected series = new Map<string, number>();
  protected abstract readonly type: 'counter' | 'gauge';
  set(labels: Labels, value: number): void {
    this.series.set(labelKey(this.labelNames, labels), value);
  }
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    for (const [k, v] of this.series) s += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    return s;
  }
}

export class Counter extends ScalarMetric {
  protected readonly type = 'counter';
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.series.set(k, (this.series.get(k) ?? 0) + by);
  }
}

export class Gauge extends ScalarMetric {
  protected readonly type = 'gauge';
}

interface HistSeries {
  buckets: Float64Array;
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  private series = new Map<string, HistSeries>();
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly bounds: readonly number[] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  ) {
    super(name, help, labelNames);
  }
  observe(labels: Labels, value: number): void {
    const k = labelKey(this.labelNames, labels);
    let s = this.series.get(k);
    if (!s) {
      s = { buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) s.buckets[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      for (let i = 0; i < this.bounds.length; i++) {
        out += `${this.name}_bucket{${k}${sep}le="${this.bounds[i]}"} ${s.buckets[i]}\n`;
      }
      out += `${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}\n`;
      out += `${this.name}_count${k ? `{${k}}` : ''} ${s.count}\n`;
    }
    return out;
  }
}

export class MetricsRegistry {
  private metrics = new Map<string, Metric>();
  private collectors: (() => void)[] = [];

  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    return this.getOrAdd(name, () => new Counter(name, help, labels)) as Counter;
  }
  gauge(name: string, help: string, labels: readonly string[] = []): Gauge {
    return this.getOrAdd(name, () => new Gauge(name, help, labels)) as Gauge;
  }
  histogram(name: string, help: string, labels: readonly string[] = [], bounds?: number[]): Histogram {
    return this.getOrAdd(name, () => new Histogram(name, help, labels, bounds)) as Histogram;
  }
  /** Called before each render, to copy in values kept elsewhere (queue stats, source stats). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }
  render(): string {
    for (const c of this.collectors) c();
    let s = '';
    for (const m of this.metrics.values()) s += m.render();
    return s;
  }
  private getOrAdd(name: string, make: () => Metric): Metric {
    let m = this.metrics.get(name);
    if (!m) {
      m = make();
      this.metrics.set(name, m);
    }
    return m;
  }
}

/** Standard series the engine records (names are part of the documented API, docs/api.md). */
export function stageMetrics(reg: MetricsRegistry) {
  return {
    sourceEvents: reg.counter('vigie_source_events_total', 'Events a source emitted', ['source']),
    sourceMalformed: reg.counter(
      'vigie_source_malformed_total',
      'Malformed inputs a source counted and skipped',
      ['source'],
    ),
    sourceLost: reg.counter(
      'vigie_source_lost_total',
      'Events lost before Vigie (kernel buffer, sensor) or refused by a full queue',
      ['source'],
    ),
    queueSize: reg.gauge('vigie_queue_size', 'Messages waiting in a bounded queue', ['queue']),
    queueHighWater: reg.gauge('vigie_queue_high_water', 'Most messages a bounded queue has held', ['queue']),
    detectorErrors: reg.counter('vigie_detector_errors_total', 'Detector failures (the event is skipped)'),
    alertsSuppressed: reg.counter(
      'vigie_alerts_suppressed_total',
      'Alerts stopped by an operator exception (confirmed false positive)',
    ),
    alertReplays: reg.counter(
      'vigie_alert_replays_total',
      'Alerts received again (same uuid), not handled twice',
    ),
    eventsIn: reg.counter('vigie_events_in_total', 'Events received per stage', ['stage']),
    eventsOut: reg.counter('vigie_events_out_total', 'Events passed on per stage', ['stage']),
    eventsDropped: reg.counter('vigie_events_dropped_total', 'Events dropped per stage', ['stage']),
    detectorLatency: reg.histogram(
      'vigie_detector_latency_seconds',
      'Time a detector spends on one event',
      ['detector'],
      [0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.1],
    ),
    alerts: reg.counter('vigie_alerts_total', 'Alerts raised by rule and category', ['rule', 'category']),
    actions: reg.counter('vigie_actions_total', 'Response actions by type and status', ['action', 'status']),
  };
}
