/**
 * Adapters from the stages to the API's provider interfaces. Each reads the stage's own store or
 * live state, so that `vigie run` (live) and `vigie serve` (a database after the fact) show the same.
 */
import type { Db } from '../infra/db.js';
import type { VigieEvent } from '../model/event.js';
import { workloadKey } from '../model/event.js';
import { IncidentStore } from '../characterize/incidents.js';
import type { BaselineManager } from '../detect/anomaly/baseline/index.js';
import type { PostureIndex } from '../detect/posture/posture-index.js';
import type { BaselinesProvider, IncidentsProvider, PostureProvider } from './app.js';

export function incidentsProvider(db: Db): IncidentsProvider {
  const store = new IncidentStore(db);
  return {
    list: (q) => store.list(q?.limit ?? 100),
    get: (id) => store.get(id),
  };
}

/**
 * Recent CPU and memory per workload, from metric events, for the dashboard's sparklines.
 * Fixed-size rings: memory stays bounded whatever the number of samples.
 */
export class ResourceHistory {
  private rings = new Map<string, { cpu: Float64Array; mem: Float64Array; n: number }>();
  constructor(
    private readonly size = 60,
    private readonly maxWorkloads = 2000,
  ) {}

  observe(ev: VigieEvent): void {
    if (ev.kind !== 'metric' || !ev.metric) return;
    const key = workloadKey(ev);
    if (!key) return;
    let r = this.rings.get(key);
    if (!r) {
      if (this.rings.size >= this.maxWorkloads) return;
      r = { cpu: new Float64Array(this.size), mem: new Float64Array(this.size), n: 0 };
      this.rings.set(key, r);
    }
    const i = r.n % this.size;
    r.cpu[i] = ev.metric.cpu ?? NaN;
    r.mem[i] = ev.metric.memory ?? NaN;
    r.n++;
  }

  /** Oldest first. */
  series(key: string): { cpu: number[]; memory: number[] } {
    const r = this.rings.get(key);
    if (!r) return { cpu: [], memory: [] };
    const len = Math.min(r.n, this.size);
    const start = r.n - len;
    const cpu: number[] = [];
    const memory: number[] = [];
    for (let k = start; k < r.n; k++) {
      cpu.push(r.cpu[k % this.size]);
      memory.push(r.mem[k % this.size]);
    }
    return { cpu, memory };
  }
}

/**
 * Baselines through a manager: the live one when the baseline detector runs in this process (a reset
 * must reach it), otherwise one loaded from the store.
 */
export function baselinesProvider(m: BaselineManager, history?: ResourceHistory): BaselinesProvider {
  return {
    list: () => m.list().map((w) => ({ ...w, ...(history?.series(w.workload) ?? {}) })),
    reset: (w) => m.reset(w),
  };
}

/** Current posture findings, from the index the live posture detector publishes into. */
export function postureFindingsProvider(index: PostureIndex): PostureProvider {
  return { findings: (q) => ({ findings: index.findings(q ?? {}) }) };
}
