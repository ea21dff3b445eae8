/** Kubernetes object helpers: pod templates of any kind, containers, selectors, images, quantities. */
import type { K8sObject, ResourceRef } from './types.js';

export interface PodSpecRef {
  spec: Record<string, any>;
  /** Path of the pod spec inside the object, with a trailing dot ("spec.template.spec."). */
  prefix: string;
  /** Path of the template's metadata ("spec.template.metadata."), for label/annotation findings. */
  metaPrefix: string;
  /** Labels the pods will carry. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerRef {
  c: Record<string, any>;
  /** "spec.template.spec.containers[0]." */
  path: string;
  kind: 'containers' | 'initContainers' | 'ephemeralContainers';
  index: number;
}

/** Kinds whose namespace is not a thing. */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'PodSecurityPolicy',
  'CustomResourceDefinition',
  'StorageClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'CiliumClusterwideNetworkPolicy',
  'KubeletInfo',
  'APIService',
  'PriorityClass',
  'IngressClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'RuntimeClass',
  'FlowSchema',
  'PriorityLevelConfiguration',
  'CertificateSigningRequest',
  'TokenReview',
  'SubjectAccessReview',
  'SelfSubjectAccessReview',
]);

export function isClusterScoped(kind: string | undefined): boolean {
  return kind !== undefined && CLUSTER_SCOPED.has(kind);
}

export function nsOf(o: K8sObject): string | undefined {
  if (isClusterScoped(o.kind)) return undefined;
  const ns = o.metadata?.namespace;
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

export function nameOf(o: K8sObject): string {
  const m = o.metadata;
  if (m && typeof m.name === 'string') return m.name;
  if (m && typeof m.generateName === 'string') return `${m.generateName}*`;
  return '';
}

export function refOf(o: K8sObject): ResourceRef {
  const r: ResourceRef = {
    apiVersion: String(o.apiVersion ?? ''),
    kind: String(o.kind ?? ''),
    name: nameOf(o),
  };
  const ns = nsOf(o);
  if (ns !== undefined) r.namespace = ns;
  return r;
}

export function refKey(r: ResourceRef): string {
  return `${r.kind}/${r.namespace ?? ''}/${r.name}`;
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function looksLikePodSpec(v: unknown): v is Record<string, any> {
  return isRecord(v) && Array.isArray(v.containers);
}

function strMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}

/**
 * Every pod template an object carries: Pod, the workload kinds, CronJob, and any other kind
 * (CRDs such as Argo Rollouts or Knative Services) with a pod template under a usual place,
 * else the first `containers` list found within a few levels of `spec`. Computed on each call:
 * a scan asks through its ObjectMemo (memo.ts), which keeps the answers.
 */
export function podSpecsOf(o: K8sObject): PodSpecRef[] {
  const r = findPodSpecs(o);
  for (const p of r) p.metaPrefix = p.prefix === 'spec.' ? '' : p.prefix.replace(/spec\.$/, '');
  return r;
}

/** One pod spec found at `prefix`, with the labels and annotations of the metadata beside it. */
function specRef(spec: Record<string, any>, prefix: string, metadata: unknown): PodSpecRef[] {
  const meta = isRecord(metadata) ? metadata : undefined;
  return [
    { spec, prefix, metaPrefix: '', labels: strMap(meta?.labels), annotations: strMap(meta?.annotations) },
  ];
}

function findPodSpecs(o: K8sObject): PodSpecRef[] {
  const kind = o.kind;
  // A PodTemplate holds its pod template at the top level: it has no `spec`.
  if (kind === 'PodTemplate' && isRecord(o.template) && looksLikePodSpec(o.template.spec))
    return specRef(o.template.spec, 'template.spec.', o.template.metadata);
  const spec = o.spec;
  if (!isRecord(spec)) return [];
  if (kind === 'Pod') return looksLikePodSpec(spec) ? specRef(spec, 'spec.', o.metadata) : [];
  const jt = spec.jobTemplate;
  if (
    isRecord(jt) &&
    isRecord(jt.spec) &&
    isRecord(jt.spec.template) &&
    looksLikePodSpec(jt.spec.template.spec)
  )
    return specRef(jt.spec.template.spec, 'spec.jobTemplate.spec.template.spec.', jt.spec.template.metadata);
  const t = spec.template;
  if (isRecord(t) && looksLikePodSpec(t.spec)) return specRef(t.spec, 'spec.template.spec.', t.metadata);
  if (WORKLOAD_KINDS.has(kind ?? '')) return [];
  // Unknown kind: bounded search under spec for a pod spec.
  const found: PodSpecRef[] = [];
  walkForPodSpecs(spec, 'spec.', 0, undefined, found);
  return found;
}

/** The search under an unknown kind's spec: records only, at most 4 found, 5 levels, arrays above 4. */
function walkForPodSpecs(
  v: Record<string, any>,
  path: string,
  depth: number,
  meta: Record<string, any> | undefined,
  found: PodSpecRef[],
): void {
  if (found.length >= 4 || depth > 5) return;
  if (Array.isArray(v.containers)) {
    found.push({
      spec: v,
      prefix: path,
      metaPrefix: '',
      labels: strMap(meta?.labels),
      annotations: strMap(meta?.annotations),
    });
    return;
  }
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const x = v[k];
    if (isRecord(x))
      walkForPodSpecs(
        x,
        `${path}${k}.`,
        depth + 1,
        isRecord(x.metadata) ? x.metadata : k === 'spec' && isRecord(v.metadata) ? v.metadata : undefined,
        found,
      );
    else if (Array.isArray(x) && depth < 4) {
      for (let i = 0; i < x.length; i++) {
        const el = x[i];
        if (isRecord(el))
          walkForPodSpecs(
            el,
            `${path}${k}[${i}].`,
            depth + 1,
            isRecord(el.metadata) ? el.metadata : undefined,
            found,
          );
      }
    }
  }
}

/**
 * The selector by which a controller owns the pods of its template, and where it is: spec.selector
 * of the workload kinds (a plain label map on a ReplicationController), the job template's on a
 * CronJob. Undefined when there is none or it is empty (an empty ReplicationController selector
 * defaults to the template's labels).
 */
export function controllerSelectorOf(o: K8sObject): { selector: LabelSelector; path: string } | undefined {
  const spec = o.spec;
  if (!isRecord(spec)) return undefined;
  if (o.kind === 'ReplicationController') {
    const m = spec.selector;
    return isRecord(m) && Object.keys(m).length > 0
      ? { selector: { matchLabels: strMap(m) }, path: 'spec.selector' }
      : undefined;
  }
  const base = o.kind === 'CronJob' ? (isRecord(spec.jobTemplate) ? spec.jobTemplate.spec : undefined) : spec;
  const sel = isRecord(base) ? base.selector : undefined;
  if (!isRecord(sel)) return undefined;
  const ml = isRecord(sel.matchLabels) ? sel.matchLabels : undefined;
  const me = Array.isArray(sel.matchExpressions) ? sel.matchExpressions : undefined;
  if ((!ml || Object.keys(ml).length === 0) && (!me || me.length === 0)) return undefined;
  const prefix = o.kind === 'CronJob' ? 'spec.jobTemplate.spec.selector' : 'spec.selector';
  return {
    selector: sel as LabelSelector,
    path: ml ? `${prefix}.matchLabels` : `${prefix}.matchExpressions`,
  };
}

/** Kinds whose pod template is at a known place (podSpecsOf searches no further on them). */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'ReplicationController',
  'PodTemplate',
]);

/**
 * Containers of a pod template: every one, and the same without ephemeral containers (the first
 * list itself when there are none). Computed on each call; a scan asks through its ObjectMemo.
 */
export function containerListsOf(p: PodSpecRef): [all: ContainerRef[], noEphemeral: ContainerRef[]] {
  const all = listContainers(p, true);
  const noEphemeral = all.filter((x) => x.kind !== 'ephemeralContainers');
  return [all, noEphemeral.length === all.length ? all : noEphemeral];
}

const CONTAINER_KINDS: readonly ContainerRef['kind'][] = [
  'containers',
  'initContainers',
  'ephemeralContainers',
];
const CONTAINER_KINDS_NO_EPHEMERAL: readonly ContainerRef['kind'][] = ['containers', 'initContainers'];

function listContainers(p: PodSpecRef, withEphemeral: boolean): ContainerRef[] {
  const out: ContainerRef[] = [];
  const kinds = withEphemeral ? CONTAINER_KINDS : CONTAINER_KINDS_NO_EPHEMERAL;
  for (const k of kinds) {
    const list = p.spec[k];
    if (!Array.isArray(list)) continue;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (isRecord(c)) out.push({ c, path: `${p.prefix}${k}[${i}].`, kind: k, index: i });
    }
  }
  return out;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Label selector semantics; an empty selector selects everything, a missing one nothing. */
export function selectorMatches(
  sel: LabelSelector | undefined | null,
  labels: Record<string, string>,
): boolean {
  if (sel == null || typeof sel !== 'object') return false;
  const ml = sel.matchLabels;
  if (ml)
    for (const k in ml)
      if (Object.prototype.hasOwnProperty.call(ml, k) && labels[k] !== String(ml[k])) return false;
  const me = sel.matchExpressions;
  if (Array.isArray(me)) {
    for (const e of me) {
      const has = Object.prototype.hasOwnProperty.call(labels, e.key);
      const vals = (e.values ?? []).map(String);
      switch (e.operator) {
        case 'In':
          if (!has || !vals.includes(labels[e.key])) return false;
          break;
        case 'NotIn':
          if (has && vals.includes(labels[e.key])) return false;
          break;
        case 'Exists':
          if (!has) return false;
          break;
        case 'DoesNotExist':
          if (has) return false;
          break;
        default:
          return false;
      }
    }
  }
  return true;
}

/** Plain map selector (Service.spec.selector): empty or missing selects nothing. */
export function mapSelectorMatches(
  sel: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!sel || typeof sel !== 'object') return false;
  let any = false;
  for (const k in sel) {
    any = true;
    if (labels[k] !== String(sel[k])) return false;
  }
  return any;
}

export interface ImageRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Docker reference parsing: "nginx" → docker.io/library/nginx:latest semantics (tag undefined).
 * Checks parse through their CheckMemo, which keeps the answers by image string.
 */
export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { registry, repository: rest, tag, digest };
}

const BINARY: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/;
/** Kubernetes quantity to a number (bytes or cores); NaN when unreadable. */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return NaN;
  return parseQuantityString(q);
}

/** A quantity string to a number; checks go through their CheckMemo, which keeps the answers. */
export function parseQuantityString(q: string): number {
  const m = QUANTITY.exec(q.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  const unit = m[2];
  if (unit in BINARY) return n * BINARY[unit];
  if (unit in DECIMAL) return n * DECIMAL[unit];
  return NaN;
}

export function get(o: unknown, path: string[]): unknown {
  let v: any = o;
  for (const p of path) {
    if (v == null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}
