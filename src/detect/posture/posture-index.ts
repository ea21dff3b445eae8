/**
 * The cluster's current posture, as the live posture detector last published it: the read side that
 * the correlator (incident severity) and the HTTP API (findings list) use. One instance is created by
 * whoever assembles the engine and handed to the detector and to its readers.
 */
import { severityRank, type Finding, type Severity } from './types.js';

export interface PostureQuery {
  namespace?: string;
  control?: string;
}

export class PostureIndex {
  /** Active findings by "namespace/workload", most severe first. */
  private byWorkload = new Map<string, Finding[]>();
  private all: Finding[] = [];

  /** Replaces the published state (the detector calls this after each evaluation). */
  publish(byWorkload: Map<string, Finding[]>, all: Finding[]): void {
    this.byWorkload = byWorkload;
    this.all = all;
  }

  clear(): void {
    this.byWorkload = new Map();
    this.all = [];
  }

  /** Active (not excepted) posture findings of a workload, most severe first; [] when none or unknown. */
  findingsFor(namespace: string, workloadName: string): Finding[] {
    const direct = this.byWorkload.get(`${namespace}/${workloadName}`);
    // Runtime events may name a pod's ReplicaSet ("web-7d9c8b6f5") rather than its Deployment.
    const stripped = workloadName.replace(/-[a-z0-9]{6,10}$/, '');
    const parent = stripped !== workloadName ? this.byWorkload.get(`${namespace}/${stripped}`) : undefined;
    if (!parent) return direct ?? [];
    if (!direct) return parent;
    return [...new Set([...direct, ...parent])].sort(
      (a, b) => severityRank(b.severity) - severityRank(a.severity),
    );
  }

  /** The most severe active finding's severity for a workload, to raise a runtime alert's priority. */
  severityOf(namespace: string, workloadName: string): Severity | undefined {
    return this.findingsFor(namespace, workloadName)[0]?.severity;
  }

  /** Every current finding (excepted ones included), optionally of one namespace or control. */
  findings(q: PostureQuery = {}): Finding[] {
    return this.all.filter(
      (f) =>
        (!q.namespace || f.resource.namespace === q.namespace) && (!q.control || f.control === q.control),
    );
  }
}
