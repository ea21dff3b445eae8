/**
 * Live posture: keeps the cluster's objects from `k8s_object` events (watch ADDED/MODIFIED/DELETED,
 * or SNAPSHOT), re-evaluates what changed on each tick, and raises a misconfiguration alert for
 * each finding that was not there before. A change to an object other objects are judged by
 * (RBAC, NetworkPolicy, Service, Ingress, ServiceAccount, Namespace, Node, PodDisruptionBudget,
 * HorizontalPodAutoscaler) re-evaluates everything.
 */
import type { AlertEmitter, Detector } from '../types.js';
import type { DetectorContext } from '../types.js';
import type { AlertInput, Priority } from '../../model/alert.js';
import type { VigieEvent } from '../../model/event.js';
import { loadCatalogue } from './catalogue.js';
import { ScanContext, type Settings } from './context.js';
import { PostureEngine } from './engine.js';
import { loadExceptions, type ExceptionRule } from './exceptions.js';
import { nameOf, nsOf, refKey, refOf } from './k8s.js';
import { PostureIndex } from './posture-index.js';
import { loadSettings } from './settings.js';
import {
  parseSeverity,
  severityRank,
  type ControlDef,
  type Finding,
  type K8sObject,
  type Severity,
} from './types.js';

const CONTEXT_KINDS: ReadonlySet<string> = new Set([
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'NetworkPolicy',
  'CiliumNetworkPolicy',
  'CiliumClusterwideNetworkPolicy',
  'Service',
  'Ingress',
  'Namespace',
  'Node',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
]);

export const SEVERITY_PRIORITY: Readonly<Record<Severity, Priority>> = {
  critical: 'Critical',
  high: 'Error',
  medium: 'Warning',
  low: 'Notice',
  info: 'Informational',
};

/** The workload a resource belongs to, as runtime events name it: Deployment for its ReplicaSets and pods, CronJob for its Jobs. */
export function workloadNameOf(o: K8sObject): string {
  const owners = Array.isArray(o.metadata?.ownerReferences) ? o.metadata.ownerReferences : [];
  const owner = owners.find((r: { controller?: boolean }) => r?.controller) ?? owners[0];
  const name = nameOf(o);
  if (!owner || typeof owner.name !== 'string') return name;
  if (owner.kind === 'ReplicaSet') {
    const hash = o.metadata?.labels?.['pod-template-hash'];
    if (hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
    return owner.name.replace(/-[a-z0-9]{8,10}$/, '');
  }
  if (owner.kind === 'Job') return owner.name.replace(/-\d{8,}$/, '');
  return owner.name;
}

export interface PostureDetectorOptions {
  controls?: ControlDef[];
  exceptions?: ExceptionRule[];
  /** Findings below this severity are kept (and served by the index) but raise no alert. */
  minSeverity?: Severity;
  hostname?: string;
  /** Where the current findings are published for the correlator and the API (else a private one). */
  index?: PostureIndex;
  /** Control inputs (as `vigie scan --settings`); controls that need unset inputs are not run. */
  settings?: Settings;
}

function findingKey(f: Finding): string {
  return `${f.control}|${refKey(f.resource)}|${f.path}|${f.subject ? `${f.subject.kind}:${f.subject.namespace ?? ''}:${f.subject.name}` : ''}`;
}

export class PostureDetector implements Detector {
  readonly name = 'posture';
  readonly kinds = ['k8s_object'] as const;
  private readonly objects = new Map<string, K8sObject>();
  private readonly findings = new Map<string, Finding[]>();
  private readonly known = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();
  private fullDirty = false;
  /** Objects whose latest event was the initial listing: their findings are summarized per control. */
  private readonly fromSnapshot = new Set<string>();
  private ctx: ScanContext | undefined;
  private readonly engine: PostureEngine;
  private counters = { events: 0, malformed: 0, evaluations: 0, alerts: 0, fullPasses: 0 };
  /** The current findings, published after each evaluation. */
  readonly index: PostureIndex;

  constructor(private readonly opts: PostureDetectorOptions = {}) {
    this.engine = new PostureEngine(opts.controls ?? loadCatalogue());
    this.index = opts.index ?? new PostureIndex();
  }

  onEvent(ev: VigieEvent, _emit: AlertEmitter): void {
    this.counters.events++;
    const body = ev.object;
    const o = body?.object as K8sObject | undefined;
    if (
      !body ||
      !o ||
      typeof o !== 'object' ||
      typeof o.kind !== 'string' ||
      typeof o.metadata?.name !== 'string'
    ) {
      this.counters.malformed++;
      return;
    }
    const key = refKey(refOf(o));
    if (body.verb === 'SNAPSHOT') this.fromSnapshot.add(key);
    else this.fromSnapshot.delete(key);
    if (body.verb === 'DELETED') {
      this.objects.delete(key);
      this.dirty.delete(key);
      this.removed.add(key);
    } else {
      this.objects.set(key, o);
      this.dirty.add(key);
      this.removed.delete(key);
    }
    if (CONTEXT_KINDS.has(o.kind)) this.fullDirty = true;
  }

  tick(_nowNs: bigint, emit: AlertEmitter): void {
    this.flush(emit);
  }

  /** Re-evaluates what changed since the last flush and emits alerts for new findings. */
  flush(emit: AlertEmitter): void {
    if (!this.fullDirty && this.dirty.size === 0 && this.removed.size === 0) return;
    for (const key of this.removed) this.forget(key);
    this.removed.clear();
    if (this.fullDirty || !this.ctx) {
      this.ctx = new ScanContext([...this.objects.values()], this.opts.settings ?? {}, true);
      this.counters.fullPasses++;
    }
    const keys = this.fullDirty ? [...this.objects.keys()] : [...this.dirty];
    this.fullDirty = false;
    this.dirty.clear();
    const loaded = keys
      .map((k) => this.objects.get(k))
      .filter((o): o is K8sObject => o !== undefined)
      .map((obj) => ({ obj }));
    // Context objects are already in the ScanContext; evaluate only the changed ones against it.
    const res = this.engine.evaluate(loaded, {
      exceptions: this.opts.exceptions,
      complete: true,
      contextObjects: [],
      scanContext: this.ctx,
    });
    this.counters.evaluations += loaded.length;
    const byRes = new Map<string, Finding[]>();
    for (const k of keys) byRes.set(k, []);
    for (const f of res.findings) byRes.get(refKey(f.resource))?.push(f);
    const min = severityRank(this.opts.minSeverity ?? 'medium');
    // A cluster's initial state would otherwise raise one alert per finding (hundreds of thousands
    // on a large cluster): summarize it per control; later changes alert one by one.
    const initial = new Map<string, Finding[]>();
    for (const [k, fs] of byRes) {
      const snap = this.fromSnapshot.has(k);
      const prev = new Set((this.findings.get(k) ?? []).map(findingKey));
      const now = new Set<string>();
      for (const f of fs) {
        const fk = findingKey(f);
        now.add(fk);
        if (!prev.has(fk) && !this.known.has(fk) && !f.excepted && severityRank(f.severity) >= min) {
          if (snap) {
            let l = initial.get(f.control);
            if (!l) initial.set(f.control, (l = []));
            l.push(f);
          } else {
            emit(this.toAlert(f));
            this.counters.alerts++;
          }
        }
        this.known.add(fk);
      }
      for (const fk of prev) if (!now.has(fk)) this.known.delete(fk);
      if (fs.length > 0) this.findings.set(k, fs);
      else this.findings.delete(k);
      if (snap) this.fromSnapshot.delete(k);
    }
    for (const fs of initial.values()) {
      emit(fs.length === 1 ? this.toAlert(fs[0]) : this.summaryAlert(fs));
      this.counters.alerts++;
    }
    this.publish();
  }

  private forget(key: string): void {
    for (const f of this.findings.get(key) ?? []) this.known.delete(findingKey(f));
    this.findings.delete(key);
  }

  private publish(): void {
    const idx = new Map<string, Finding[]>();
    const all: Finding[] = [];
    for (const [key, fs] of this.findings) {
      const o = this.objects.get(key);
      if (!o) continue;
      const wk = `${nsOf(o) ?? ''}/${workloadNameOf(o)}`;
      let l = idx.get(wk);
      if (!l) idx.set(wk, (l = []));
      for (const f of fs) {
        all.push(f);
        if (!f.excepted) l.push(f);
      }
    }
    for (const l of idx.values()) l.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
    this.index.publish(idx, all);
  }

  private toAlert(f: Finding): AlertInput {
    const r = f.resource;
    const where = `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
    const o = this.objects.get(refKey(r));
    const workload = o ? workloadNameOf(o) : r.name;
    return {
      rule: `${f.control} ${f.title}`,
      priority: SEVERITY_PRIORITY[f.severity],
      source: 'k8s_object',
      output: `${f.title}: ${f.message} (${where}, ${f.path})`,
      tags: ['posture', 'misconfiguration', f.control, ...f.kubescape],
      output_fields: {
        'vigie.control': f.control,
        'vigie.severity': f.severity,
        'k8s.kind': r.kind,
        'k8s.ns.name': r.namespace ?? null,
        'k8s.name': r.name,
        'vigie.path': f.path,
        'vigie.fix': f.fix,
      },
      category: 'misconfiguration',
      detector: 'posture',
      explanation: `${f.message}. Fix: ${f.fix}`,
      mitre: f.mitre?.map((m) => ({ tactic: m.tactic, technique: m.technique, name: m.name })),
      entities: {
        k8s: { namespace: r.namespace, workload, ...(r.kind === 'Pod' ? { pod: r.name } : {}) },
        workload,
      },
      evidence: [],
    };
  }

  private summaryAlert(fs: Finding[]): AlertInput {
    const f = fs[0];
    const resources = [
      ...new Set(
        fs.map(
          (x) =>
            `${x.resource.kind} ${x.resource.namespace ? `${x.resource.namespace}/` : ''}${x.resource.name}`,
        ),
      ),
    ];
    const shown = resources.slice(0, 5).join(', ');
    return {
      rule: `${f.control} ${f.title}`,
      priority: SEVERITY_PRIORITY[f.severity],
      source: 'k8s_object',
      output: `${f.title}: ${fs.length} findings on ${resources.length} resources in the cluster's current state (${shown}${resources.length > 5 ? ', ...' : ''})`,
      tags: ['posture', 'misconfiguration', 'initial-state', f.control, ...f.kubescape],
      output_fields: {
        'vigie.control': f.control,
        'vigie.severity': f.severity,
        'vigie.findings': fs.length,
        'vigie.resources': resources.length,
      },
      category: 'misconfiguration',
      detector: 'posture',
      explanation: `Found when the cluster was first listed. Fix: ${f.fix}`,
      mitre: f.mitre?.map((m) => ({ tactic: m.tactic, technique: m.technique, name: m.name })),
      entities: {},
      evidence: [],
    };
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      objects: this.objects.size,
      findings: [...this.findings.values()].reduce((n, l) => n + l.length, 0),
    };
  }

  close(): void {
    this.index.clear();
  }
}

/**
 * Registry factory: settings from config.posture ({minSeverity, exceptions: file, settings: file});
 * publishes into the context's PostureIndex, which the composition root also gives to the
 * correlator and the API.
 */
export function createPostureDetector(ctx: DetectorContext): Detector {
  const cfg = ctx.config.posture ?? {};
  const exceptions = typeof cfg.exceptions === 'string' ? loadExceptions(cfg.exceptions) : undefined;
  const minSeverity = typeof cfg.minSeverity === 'string' ? parseSeverity(cfg.minSeverity) : undefined;
  const settings = typeof cfg.settings === 'string' ? loadSettings(cfg.settings) : undefined;
  return new PostureDetector({
    exceptions,
    minSeverity,
    settings,
    hostname: ctx.hostname,
    index: ctx.posture,
  });
}
