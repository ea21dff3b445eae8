/**
 * Availability of replicated workloads (what kube-score and Polaris check): a PodDisruptionBudget
 * covers them and lets nodes drain, their replicas are spread across nodes, and an autoscaler and
 * the manifest do not fight over the replica count.
 *
 * Cross-object answers are indexed once per scan context: PodDisruptionBudgets per namespace by
 * their first matchLabels pair (a template is tested only against the budgets that can select it),
 * autoscalers by their scale target. Nothing here is quadratic in the number of objects.
 */
import type { ScanContext } from '../context.js';
import { LazyHit, PATH_FORMAT } from '../finding.js';
import { nameOf, nsOf, refOf, selectorMatches, type PodSpecRef } from '../k8s.js';
import type { Hit, K8sObject, ResourceRef } from '../types.js';
import { list, NONE } from './helpers.js';
import type { Check } from './types.js';

/** Kinds whose replica count the checks read (spec.replicas, scaled by an HPA). */
export const REPLICATED_KINDS: readonly string[] = ['Deployment', 'StatefulSet'];

interface PdbNamespace {
  /** matchLabels first key → value → budgets. */
  keyed: Map<string, Map<string, K8sObject[]>>;
  /** Budgets without matchLabels (matchExpressions only, or the empty selector: every pod). */
  other: K8sObject[];
}

export interface AvailabilityIndex {
  hpas: Map<string, K8sObject>;
  pdbs: Map<string, PdbNamespace>;
  pdbsByLabels: WeakMap<Record<string, string>, K8sObject[]>;
  /** Per budget: the replicated workloads it selects and their replicas (built on first ask). */
  covered?: Map<K8sObject, { replicas: number; workloads: K8sObject[] }>;
}

const NO_OBJECTS: K8sObject[] = Object.freeze([]) as unknown as K8sObject[];
/** The context's index, built on first ask and kept with its other answers (ctx.answers). */
function indexOf(ctx: ScanContext): AvailabilityIndex {
  let ix = ctx.answers.availability;
  if (ix) return ix;
  const hpas = new Map<string, K8sObject>();
  for (const h of ctx.of('HorizontalPodAutoscaler')) {
    const ref = h.spec?.scaleTargetRef;
    if (!ref || typeof ref.name !== 'string') continue;
    hpas.set(`${nsOf(h) ?? 'default'}/${String(ref.kind ?? 'Deployment')}/${ref.name}`, h);
  }
  const pdbs = new Map<string, PdbNamespace>();
  for (const p of ctx.of('PodDisruptionBudget')) {
    const sel = p.spec?.selector;
    // A missing selector selects nothing; policy/v1's empty selector selects every pod.
    if (!sel || typeof sel !== 'object') continue;
    const ns = nsOf(p) ?? 'default';
    let n = pdbs.get(ns);
    if (!n) pdbs.set(ns, (n = { keyed: new Map(), other: [] }));
    const ml = sel.matchLabels;
    const first = ml && typeof ml === 'object' ? Object.keys(ml)[0] : undefined;
    if (first === undefined) {
      n.other.push(p);
      continue;
    }
    const v = String(ml[first]);
    let byValue = n.keyed.get(first);
    if (!byValue) n.keyed.set(first, (byValue = new Map()));
    let l = byValue.get(v);
    if (!l) byValue.set(v, (l = []));
    l.push(p);
  }
  ix = { hpas, pdbs, pdbsByLabels: new WeakMap() };
  ctx.answers.availability = ix;
  return ix;
}

/** The HorizontalPodAutoscaler scaling a workload, if any. */
export function hpaFor(ctx: ScanContext, o: K8sObject): K8sObject | undefined {
  return indexOf(ctx).hpas.get(`${nsOf(o) ?? 'default'}/${String(o.kind)}/${nameOf(o)}`);
}

/**
 * How many replicas a workload keeps at least: the autoscaler's minReplicas when one scales it
 * (it overrides spec.replicas), else spec.replicas (default 1).
 */
export function minReplicas(ctx: ScanContext, o: K8sObject): { n: number; hpa?: K8sObject } {
  const hpa = hpaFor(ctx, o);
  if (hpa) {
    const m = hpa.spec?.minReplicas;
    return { n: typeof m === 'number' ? m : 1, hpa };
  }
  const r = o.spec?.replicas;
  return { n: typeof r === 'number' ? r : 1 };
}

/** PodDisruptionBudgets of the namespace whose selector matches the labels (cached per labels object). */
export function pdbsSelecting(ctx: ScanContext, ns: string, labels: Record<string, string>): K8sObject[] {
  const ix = indexOf(ctx);
  const cached = ix.pdbsByLabels.get(labels);
  if (cached) return cached;
  const n = ix.pdbs.get(ns);
  let out = NO_OBJECTS;
  if (n) {
    for (const k in labels) {
      const l = n.keyed.get(k)?.get(labels[k]);
      if (!l) continue;
      for (const p of l)
        if (selectorMatches(p.spec.selector, labels)) (out === NO_OBJECTS ? (out = []) : out).push(p);
    }
    for (const p of n.other)
      if (selectorMatches(p.spec.selector, labels)) (out === NO_OBJECTS ? (out = []) : out).push(p);
  }
  ix.pdbsByLabels.set(labels, out);
  return out;
}

function replicasText(r: { n: number; hpa?: K8sObject }): string {
  return r.hpa
    ? `HorizontalPodAutoscaler ${nameOf(r.hpa)} keeps at least ${r.n} replicas`
    : `${r.n} replicas`;
}

function relatedOf(objs: K8sObject[]): ResourceRef[] {
  return objs.map(refOf);
}

/** A replicated workload that no PodDisruptionBudget selects. */
const pdbCoverage: Check = {
  appliesTo: REPLICATED_KINDS,
  fn: (o, ctx) => {
    const r = minReplicas(ctx, o);
    if (r.n < 2) return NONE;
    const ns = nsOf(o) ?? 'default';
    let out: Hit[] | undefined;
    for (const p of ctx.memo.podSpecsOf(o)) {
      if (pdbsSelecting(ctx, ns, p.labels).length > 0) continue;
      (out ??= []).push({
        path: `${p.metaPrefix}metadata.labels`,
        message: `${replicasText(r)} and no PodDisruptionBudget selects these pods: a node drain or cluster upgrade may evict them all at once`,
        related: r.hpa ? relatedOf([r.hpa]) : undefined,
      });
    }
    return out ?? NONE;
  },
};

/** Whether a pod anti-affinity term or a topology spread constraint spreads these very pods. */
function spreads(p: PodSpecRef): boolean {
  const anti = p.spec.affinity?.podAntiAffinity;
  if (anti && typeof anti === 'object') {
    for (const t of list(anti.requiredDuringSchedulingIgnoredDuringExecution))
      if (selectorMatches(t?.labelSelector, p.labels)) return true;
    for (const w of list(anti.preferredDuringSchedulingIgnoredDuringExecution))
      if (selectorMatches(w?.podAffinityTerm?.labelSelector, p.labels)) return true;
  }
  for (const c of list(p.spec.topologySpreadConstraints))
    if (selectorMatches(c?.labelSelector, p.labels)) return true;
  return false;
}

/** A replicated workload whose pods may all be scheduled on one node. */
const podSpread: Check = {
  appliesTo: REPLICATED_KINDS,
  fn: (o, ctx) => {
    const r = minReplicas(ctx, o);
    if (r.n < 2) return NONE;
    let out: Hit[] | undefined;
    for (const p of ctx.memo.podSpecsOf(o)) {
      if (spreads(p)) continue;
      (out ??= []).push(
        new LazyHit(
          PATH_FORMAT,
          p.prefix,
          'affinity',
          `${replicasText(r)} and neither a pod anti-affinity term nor a topology spread constraint selects these pods: they may all run on one node`,
        ),
      );
    }
    return out ?? NONE;
  },
};

/** Budgets → the replicated workloads they select, built once per context from the workloads' side. */
function coverage(ctx: ScanContext): Map<K8sObject, { replicas: number; workloads: K8sObject[] }> {
  const ix = indexOf(ctx);
  if (ix.covered) return ix.covered;
  const covered = new Map<K8sObject, { replicas: number; workloads: K8sObject[] }>();
  if (ix.pdbs.size > 0)
    for (const kind of REPLICATED_KINDS)
      for (const w of ctx.of(kind)) {
        const ns = nsOf(w) ?? 'default';
        if (!ix.pdbs.has(ns)) continue;
        const n = minReplicas(ctx, w).n;
        for (const p of ctx.memo.podSpecsOf(w))
          for (const pdb of pdbsSelecting(ctx, ns, p.labels)) {
            let c = covered.get(pdb);
            if (!c) covered.set(pdb, (c = { replicas: 0, workloads: [] }));
            c.replicas += n;
            c.workloads.push(w);
          }
      }
  ix.covered = covered;
  return covered;
}

function intOrPercent(v: unknown): { n: number; percent: boolean } | undefined {
  if (typeof v === 'number') return { n: v, percent: false };
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+)\s*(%?)\s*$/.exec(v);
  return m ? { n: Number(m[1]), percent: m[2] === '%' } : undefined;
}

/** A PodDisruptionBudget that allows no voluntary disruption: node drains and upgrades block on it. */
const pdbBlocksEviction: Check = {
  appliesTo: ['PodDisruptionBudget'],
  fn: (o, ctx) => {
    const spec = o.spec ?? {};
    const maxU = intOrPercent(spec.maxUnavailable);
    if (maxU && maxU.n === 0)
      return [
        {
          path: 'spec.maxUnavailable',
          message: `maxUnavailable ${JSON.stringify(spec.maxUnavailable)}: no pod may ever be evicted, so node drains block`,
        },
      ];
    const minA = intOrPercent(spec.minAvailable);
    if (!minA || maxU) return NONE;
    if (minA.percent) {
      if (minA.n < 100) return NONE;
      return [
        {
          path: 'spec.minAvailable',
          message: `minAvailable ${spec.minAvailable}: no pod may ever be evicted, so node drains block`,
        },
      ];
    }
    const c = coverage(ctx).get(o);
    if (!c || c.replicas === 0 || minA.n < c.replicas) return NONE;
    const names = c.workloads.map((w) => `${w.kind} ${nameOf(w)}`).join(', ');
    return [
      {
        path: 'spec.minAvailable',
        message: `minAvailable ${minA.n} with at least ${c.replicas} selected pod${c.replicas === 1 ? '' : 's'} (${names}): no pod may be evicted, so node drains block`,
        related: relatedOf(c.workloads),
      },
    ];
  },
};

/** spec.replicas set on a workload an HPA scales: every apply of the manifest resets the count. */
const hpaReplicasConflict: Check = {
  appliesTo: REPLICATED_KINDS,
  fn: (o, ctx) => {
    const r = o.spec?.replicas;
    if (r === undefined || r === null) return NONE;
    const hpa = hpaFor(ctx, o);
    if (!hpa) return NONE;
    return [
      {
        path: 'spec.replicas',
        message: `spec.replicas ${JSON.stringify(r)} is set while HorizontalPodAutoscaler ${nameOf(hpa)} scales this ${o.kind}: each apply resets the replica count the autoscaler chose`,
        related: relatedOf([hpa]),
      },
    ];
  },
};

export const availabilityChecks: Readonly<Record<string, Check>> = {
  pdbCoverage,
  podSpread,
  pdbBlocksEviction,
  hpaReplicasConflict,
};
