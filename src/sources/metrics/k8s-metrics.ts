/**
 * Kubernetes metrics API (metrics.k8s.io/v1beta1, served by metrics-server) through
 * @kubernetes/client-node's Metrics client: per-container CPU and memory of every pod, per node usage.
 */
import { KubeConfig, Metrics, type PodMetricsList, type NodeMetricsList } from '@kubernetes/client-node';
import type { VigieEvent } from '../../model/event.js';
import { EventIds, isoToNs, type EventIdSource } from '../../model/event.js';
import type { EventSink, Source, SourceStats } from '../types.js';

/** Kubernetes quantity → number: CPU "250m" → 0.25, "1500000n" → 0.0015; memory "128Mi" → bytes. */
export function parseQuantity(q: string): number {
  const m = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) throw new Error(`bad quantity "${q}"`);
  const v = Number(m[1]);
  const mult: Record<string, number> = {
    '': 1,
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    Pi: 1024 ** 5,
    Ei: 1024 ** 6,
  };
  const f = mult[m[2]];
  if (f === undefined) throw new Error(`bad quantity suffix "${m[2]}" in "${q}"`);
  return v * f;
}

export function podMetricsToEvents(
  list: PodMetricsList,
  errors: string[] = [],
  ids: EventIdSource = new EventIds(),
): VigieEvent[] {
  const out: VigieEvent[] = [];
  for (const p of list.items ?? []) {
    for (const c of p.containers ?? []) {
      try {
        out.push({
          id: ids.next(),
          kind: 'metric',
          ts: isoToNs(p.timestamp),
          source: 'k8s-metrics',
          k8s: { namespace: p.metadata.namespace, pod: p.metadata.name },
          container: { id: `${p.metadata.namespace}/${p.metadata.name}/${c.name}`, name: c.name },
          metric: { cpu: parseQuantity(c.usage.cpu), memory: parseQuantity(c.usage.memory) },
        });
      } catch (e) {
        errors.push(
          `pod ${p.metadata?.namespace}/${p.metadata?.name} container ${c.name}: ${(e as Error).message}`,
        );
      }
    }
  }
  return out;
}

export function nodeMetricsToEvents(
  list: NodeMetricsList,
  errors: string[] = [],
  ids: EventIdSource = new EventIds(),
): VigieEvent[] {
  const out: VigieEvent[] = [];
  for (const n of list.items ?? []) {
    try {
      out.push({
        id: ids.next(),
        kind: 'metric',
        ts: isoToNs(n.timestamp),
        source: 'k8s-metrics',
        host: n.metadata.name,
        k8s: { node: n.metadata.name },
        metric: { cpu: parseQuantity(n.usage.cpu), memory: parseQuantity(n.usage.memory) },
      });
    } catch (e) {
      errors.push(`node ${n.metadata?.name}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Polls the metrics API; the pods' node is unknown to metrics-server, so scope is the cluster. */
export class K8sMetricsSource implements Source {
  readonly name = 'k8s-metrics';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  private timer?: NodeJS.Timeout;
  private readonly st: SourceStats = { events: 0, malformed: 0, lost: 0, errors: 0 };
  constructor(private readonly opts: { kubeconfig?: string; namespace?: string; intervalMs?: number } = {}) {}

  async poll(): Promise<VigieEvent[]> {
    const kc = new KubeConfig();
    if (this.opts.kubeconfig) kc.loadFromFile(this.opts.kubeconfig);
    else kc.loadFromDefault();
    const metrics = new Metrics(kc);
    const errors: string[] = [];
    const evs = [
      ...podMetricsToEvents(await metrics.getPodMetrics(this.opts.namespace), errors, this.ids),
      ...nodeMetricsToEvents(await metrics.getNodeMetrics(), errors, this.ids),
    ];
    this.st.malformed = Number(this.st.malformed) + errors.length;
    return evs;
  }

  async start(sink: EventSink): Promise<void> {
    const tick = async () => {
      try {
        for (const ev of await this.poll()) {
          if (sink(ev)) this.st.events++;
          else this.st.lost++;
        }
      } catch {
        this.st.errors = Number(this.st.errors) + 1;
      }
    };
    await tick();
    this.timer = setInterval(() => void tick(), this.opts.intervalMs ?? 15_000);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
  stats(): SourceStats {
    return { ...this.st };
  }
}

/** Registered factory: off unless configured, e.g. `k8sMetrics: { enabled: true, namespace: "shop" }`. */
export function createK8sMetricsSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): Source | undefined {
  const cfg = ctx.config.k8sMetrics;
  if (!cfg || cfg.enabled !== true) return undefined;
  return new K8sMetricsSource({
    kubeconfig: typeof cfg.kubeconfig === 'string' ? cfg.kubeconfig : undefined,
    namespace: typeof cfg.namespace === 'string' ? cfg.namespace : undefined,
    intervalMs: typeof cfg.intervalMs === 'number' ? cfg.intervalMs : undefined,
  });
}
