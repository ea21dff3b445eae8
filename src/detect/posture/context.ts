/**
 * Cross-object view of one scan: service accounts, what RBAC lets each subject do, which Services
 * and Ingresses expose which pods, which NetworkPolicies select which pods. Built once per scan.
 */
import { CheckMemo } from './checks/memo.js';
import {
  isClusterScoped,
  mapSelectorMatches,
  nameOf,
  nsOf,
  selectorMatches,
  type PodSpecRef,
} from './k8s.js';
import { ObjectMemo } from './memo.js';
import { aggregatedRules, builtinClusterRole, clusterRolesWithBuiltins } from './rbac-model.js';
import type { K8sObject } from './types.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface RoleBindingView {
  binding: K8sObject;
  /** The role referenced: from the input, else a built-in ClusterRole (cluster-admin, edit, ...). */
  role: K8sObject | undefined;
  roleRefName: string;
  /** The role's rules, aggregated ClusterRoles resolved. */
  rules: PolicyRule[];
}

/** Tunable inputs, named as in Kubescape's postureControlInputs so the same values carry over. */
export type Settings = Record<string, string[]>;

export const DEFAULT_SETTINGS: Readonly<Settings> = {
  imageRepositoryAllowList: [],
  imageDigestExemptRepositories: [],
  insecureCapabilities: [
    'SETPCAP',
    'NET_ADMIN',
    'NET_RAW',
    'SYS_MODULE',
    'SYS_RAWIO',
    'SYS_PTRACE',
    'SYS_ADMIN',
    'SYS_BOOT',
    'MAC_OVERRIDE',
    'MAC_ADMIN',
    'PERFMON',
    'ALL',
    'BPF',
  ],
  publicRegistries: [],
  untrustedRegistries: [],
  sensitiveInterfaces: [
    'nifi',
    'argo-server',
    'weave-scope-app',
    'kubeflow',
    'kubernetes-dashboard',
    'jenkins',
    'prometheus-deployment',
    'ollama',
    'vllm',
    'kserve',
    'triton-inference-server',
    'ray-dashboard',
    'ray-head',
    'mlflow',
    'jupyterhub',
    'seldon',
    'bentoml',
  ],
  sensitiveKeyNames: [
    'aws_secret_access_key',
    'azure_batchai_storage_key',
    'azure_batch_key',
    'secret',
    'key',
    'password',
    'pwd',
    'token',
    'jwt',
    'bearer',
    'credential',
  ],
  sensitiveValues: [
    'BEGIN \\w+ PRIVATE KEY',
    'PRIVATE KEY',
    'eyJhbGciO',
    'JWT',
    'Bearer',
    '_key_',
    '_secret_',
    'AKIA[0-9A-Z]{16}',
    'ghp_[0-9A-Za-z]{36}',
    'AIza[0-9A-Za-z\\-_]{35}',
    'xox[baprs]-[0-9A-Za-z]{10,48}',
  ],
  sensitiveKeyNamesAllowed: [],
  sensitiveValuesAllowed: [],
  memory_request_max: [],
  memory_request_min: ['0'],
  memory_limit_max: [],
  memory_limit_min: ['0'],
  cpu_request_max: [],
  cpu_request_min: ['0'],
  cpu_limit_max: [],
  cpu_limit_min: ['0'],
  floatingImageTags: ['latest'],
  cloudProvider: [],
};

function arr(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
}

export function toRules(role: K8sObject | undefined): PolicyRule[] {
  return role && Array.isArray(role.rules) ? rulesFrom(role.rules) : [];
}

function rulesFrom(rules: unknown[]): PolicyRule[] {
  return rules
    .filter((r: unknown): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    .map((r: Record<string, unknown>) => ({
      apiGroups: arr(r.apiGroups),
      resources: arr(r.resources),
      verbs: arr(r.verbs),
      resourceNames: arr(r.resourceNames),
      nonResourceURLs: arr(r.nonResourceURLs),
    }));
}

const NO_OBJECTS: K8sObject[] = Object.freeze([]) as unknown as K8sObject[];

export interface ExposingService {
  service: K8sObject;
  /** Ingresses that route to this Service. */
  ingresses: K8sObject[];
}

export class ScanContext {
  readonly all: K8sObject[];
  readonly byKind = new Map<string, K8sObject[]>();
  readonly settings: Settings;
  private readonly sas = new Map<string, K8sObject>();
  private readonly roles = new Map<string, K8sObject>();
  private readonly clusterRoles = new Map<string, K8sObject>();
  private readonly bindingsBySa = new Map<string, RoleBindingView[]>();
  private bindingViews: RoleBindingView[] | undefined;
  private readonly netpolsByNs = new Map<string, K8sObject[]>();
  private readonly servicesByNs = new Map<string, K8sObject[]>();
  private readonly ingressBackends = new Map<string, K8sObject[]>();
  readonly namespaces = new Map<string, K8sObject>();
  /** True when the object set is a whole cluster (scan --cluster): absence of an object means something. */
  readonly complete: boolean;
  /** Answers about the objects of the current evaluation (the engine renews it for each one). */
  memo = new ObjectMemo();
  /** What the checks derive from the settings and their parameters, for the context's lifetime. */
  readonly answers = new CheckMemo();

  constructor(objects: K8sObject[], settings: Partial<Settings> = {}, complete = false) {
    this.all = objects;
    this.complete = complete;
    this.settings = { ...DEFAULT_SETTINGS };
    for (const [k, v] of Object.entries(settings)) if (v) this.settings[k] = v;
    for (const o of objects) {
      const k = String(o.kind ?? '');
      let l = this.byKind.get(k);
      if (!l) this.byKind.set(k, (l = []));
      l.push(o);
      const ns = nsOf(o) ?? '';
      const name = nameOf(o);
      switch (k) {
        case 'ServiceAccount':
          this.sas.set(`${ns}/${name}`, o);
          break;
        case 'Role':
          this.roles.set(`${ns}/${name}`, o);
          break;
        case 'ClusterRole':
          this.clusterRoles.set(name, o);
          break;
        case 'NetworkPolicy':
        case 'CiliumNetworkPolicy':
        case 'CiliumClusterwideNetworkPolicy': {
          const key = k === 'CiliumClusterwideNetworkPolicy' ? '*' : ns;
          let p = this.netpolsByNs.get(key);
          if (!p) this.netpolsByNs.set(key, (p = []));
          p.push(o);
          break;
        }
        case 'Service': {
          let s = this.servicesByNs.get(ns);
          if (!s) this.servicesByNs.set(ns, (s = []));
          s.push(o);
          break;
        }
        case 'Namespace':
          this.namespaces.set(name, o);
          break;
        case 'Ingress':
        case 'HTTPRoute':
        case 'GRPCRoute':
        case 'TLSRoute':
        case 'TCPRoute':
        case 'VirtualService': {
          for (const [svcNs, svc] of routeTargets(o, ns)) {
            const key = `${svcNs}/${svc}`;
            let l2 = this.ingressBackends.get(key);
            if (!l2) this.ingressBackends.set(key, (l2 = []));
            l2.push(o);
          }
          break;
        }
      }
    }
  }

  of(kind: string): K8sObject[] {
    return this.byKind.get(kind) ?? [];
  }

  // Several controls ask about the same workload's account in a row: the last answer is kept.
  private saAsked: [string, string, K8sObject | undefined] = ['', '', undefined];

  serviceAccount(ns: string, name: string): K8sObject | undefined {
    const a = this.saAsked;
    if (a[0] === ns && a[1] === name && ns !== '') return a[2];
    const sa = this.sas.get(`${ns}/${name}`);
    this.saAsked = [ns, name, sa];
    return sa;
  }

  /** The role a binding references; a ClusterRole the input lacks may be a built-in one. */
  roleFor(binding: K8sObject): K8sObject | undefined {
    const ref = binding.roleRef ?? {};
    const name = String(ref.name ?? '');
    if (ref.kind === 'ClusterRole') return this.clusterRoles.get(name) ?? builtinClusterRole(name);
    return this.roles.get(`${nsOf(binding)}/${name}`);
  }

  private allClusterRoles: K8sObject[] | undefined;
  private readonly aggregated = new Map<K8sObject, unknown[]>();

  /** A role's rules; an aggregated ClusterRole's are those of the ClusterRoles it selects too. */
  rulesOf(role: K8sObject | undefined): PolicyRule[] {
    if (!role || role.kind !== 'ClusterRole' || !role.aggregationRule) return toRules(role);
    this.allClusterRoles ??= clusterRolesWithBuiltins(this.clusterRoles);
    return rulesFrom(aggregatedRules(role, this.allClusterRoles, this.aggregated));
  }

  bindings(): RoleBindingView[] {
    if (this.bindingViews) return this.bindingViews;
    const out: RoleBindingView[] = [];
    for (const b of [...this.of('RoleBinding'), ...this.of('ClusterRoleBinding')]) {
      const role = this.roleFor(b);
      out.push({ binding: b, role, roleRefName: String(b.roleRef?.name ?? ''), rules: this.rulesOf(role) });
      const subjects = Array.isArray(b.subjects) ? b.subjects : [];
      for (const s of subjects) {
        if (s?.kind !== 'ServiceAccount') continue;
        const key = `${s.namespace ?? nsOf(b) ?? 'default'}/${s.name}`;
        let l = this.bindingsBySa.get(key);
        if (!l) this.bindingsBySa.set(key, (l = []));
        l.push(out[out.length - 1]);
      }
    }
    this.bindingViews = out;
    return out;
  }

  private viewByBinding: Map<K8sObject, RoleBindingView> | undefined;

  bindingView(binding: K8sObject): RoleBindingView | undefined {
    if (!this.viewByBinding) this.viewByBinding = new Map(this.bindings().map((v) => [v.binding, v]));
    return this.viewByBinding.get(binding);
  }

  private bindingsAsked: [string, string, RoleBindingView[]] = ['', '', []];

  /** RBAC bindings that grant permissions to a service account. */
  bindingsOfServiceAccount(ns: string, name: string): RoleBindingView[] {
    const a = this.bindingsAsked;
    if (a[0] === ns && a[1] === name && ns !== '') return a[2];
    this.bindings();
    const views = this.bindingsBySa.get(`${ns}/${name}`) ?? [];
    this.bindingsAsked = [ns, name, views];
    return views;
  }

  private readonly npCache = new WeakMap<Record<string, string>, K8sObject[]>();
  private readonly svcCache = new WeakMap<Record<string, string>, ExposingService[]>();

  /** Cached per labels object: a pod template's labels object is shared by every check on it. */
  networkPoliciesSelecting(ns: string, labels: Record<string, string>): K8sObject[] {
    const c = this.npCache.get(labels);
    if (c) return c;
    const out: K8sObject[] = [];
    this.npCache.set(labels, out);
    for (const p of this.netpolsByNs.get(ns) ?? []) if (policySelects(p, labels)) out.push(p);
    for (const p of this.netpolsByNs.get('*') ?? [])
      if (ciliumSpecs(p).some((s) => ccnpSelects(s, ns, labels))) out.push(p);
    return out;
  }

  networkPoliciesIn(ns: string): K8sObject[] {
    return this.netpolsByNs.get(ns) ?? [];
  }

  clusterwidePolicies(): K8sObject[] {
    return this.netpolsByNs.get('*') ?? [];
  }

  /** Services in the namespace whose selector matches the pod labels, with the Ingresses routing to them. */
  servicesExposing(ns: string, labels: Record<string, string>): ExposingService[] {
    const c = this.svcCache.get(labels);
    if (c) return c;
    const out: ExposingService[] = [];
    this.svcCache.set(labels, out);
    for (const s of this.serviceCandidates(ns, labels)) {
      if (mapSelectorMatches(s.spec?.selector, labels))
        out.push({ service: s, ingresses: this.ingressBackends.get(`${ns}/${nameOf(s)}`) ?? [] });
    }
    return out;
  }

  /**
   * Services of the namespace whose selector could match the labels, in the namespace's order:
   * those whose first selector key and value are among the labels (an empty or missing selector
   * selects nothing). Indexed once per namespace, instead of testing every Service per template.
   */
  private readonly serviceIndex = new Map<string, Map<string, Map<string, number[]>>>();

  private serviceCandidates(ns: string, labels: Record<string, string>): K8sObject[] {
    const all = this.servicesByNs.get(ns);
    if (!all || all.length === 0) return NO_OBJECTS;
    let ix = this.serviceIndex.get(ns);
    if (!ix) {
      ix = new Map();
      for (let i = 0; i < all.length; i++) {
        const sel = all[i].spec?.selector;
        if (!sel || typeof sel !== 'object') continue;
        for (const k in sel) {
          const v = String(sel[k]);
          let byValue = ix.get(k);
          if (!byValue) ix.set(k, (byValue = new Map()));
          let l = byValue.get(v);
          if (!l) byValue.set(v, (l = []));
          l.push(i);
          break; // the first key is enough: a match needs every key
        }
      }
      this.serviceIndex.set(ns, ix);
    }
    let found: number[] | undefined;
    for (const k in labels) {
      const l = ix.get(k)?.get(labels[k]);
      if (l) found = found ? found.concat(l) : l;
    }
    if (!found) return NO_OBJECTS;
    if (found.length > 1) found = [...new Set(found)].sort((a, b) => a - b);
    return found.map((i) => all[i]);
  }

  private workloadList: { obj: K8sObject; pod: PodSpecRef }[] | undefined;
  private readonly templatesByNs = new Map<string, { obj: K8sObject; pod: PodSpecRef }[]>();

  /** Pod specs of every workload, for cross-object checks on Services and bindings. */
  workloads(): { obj: K8sObject; pod: PodSpecRef }[] {
    if (this.workloadList) return this.workloadList;
    const out: { obj: K8sObject; pod: PodSpecRef }[] = [];
    for (const o of this.all) {
      for (const p of this.memo.podSpecsOf(o)) {
        const w = { obj: o, pod: p };
        out.push(w);
        const ns = nsOf(o) ?? 'default';
        let l = this.templatesByNs.get(ns);
        if (!l) this.templatesByNs.set(ns, (l = []));
        l.push(w);
      }
    }
    this.workloadList = out;
    return out;
  }

  private selected: { services: Set<K8sObject>; policies: Set<K8sObject> } | undefined;

  /**
   * Services and NetworkPolicies that select at least one pod template. Built from the same cached
   * per-template lookups the exposure and NetworkPolicy checks use, so it costs little extra.
   */
  selectedByTemplates(): { services: Set<K8sObject>; policies: Set<K8sObject> } {
    if (this.selected) return this.selected;
    const services = new Set<K8sObject>();
    const policies = new Set<K8sObject>();
    for (const w of this.workloads()) {
      const ns = nsOf(w.obj) ?? 'default';
      for (const s of this.servicesExposing(ns, w.pod.labels)) services.add(s.service);
      for (const p of this.networkPoliciesSelecting(ns, w.pod.labels)) policies.add(p);
    }
    this.selected = { services, policies };
    return this.selected;
  }

  /** Pod templates (of any kind) in a namespace. */
  podTemplatesIn(ns: string): { obj: K8sObject; pod: PodSpecRef }[] {
    this.workloads();
    return this.templatesByNs.get(ns) ?? [];
  }

  /** An object of a kind by namespace and name (cluster-scoped kinds: namespace ''). */
  private readonly byKey = new Map<string, Map<string, K8sObject>>();

  find(kind: string, ns: string, name: string): K8sObject | undefined {
    let m = this.byKey.get(kind);
    if (!m) {
      m = new Map();
      for (const o of this.of(kind)) m.set(`${nsOf(o) ?? ''}/${nameOf(o)}`, o);
      this.byKey.set(kind, m);
    }
    return m.get(`${isClusterScoped(kind) ? '' : ns}/${name}`);
  }
}

/**
 * Services a routing object sends outside traffic to, as [namespace, name]: Ingress backends,
 * Gateway API routes' backendRefs, Istio VirtualServices bound to a gateway.
 */
export function routeTargets(o: K8sObject, ns: string): [string, string][] {
  if (o.kind === 'Ingress') return ingressServiceNames(o).map((n) => [ns, n]);
  const spec = o.spec ?? {};
  const out: [string, string][] = [];
  if (o.kind === 'VirtualService') {
    const gws = Array.isArray(spec.gateways) ? spec.gateways.filter((g: unknown) => g !== 'mesh') : [];
    if (gws.length === 0) return out;
    for (const proto of ['http', 'tls', 'tcp']) {
      for (const r of Array.isArray(spec[proto]) ? spec[proto] : []) {
        for (const d of Array.isArray(r?.route) ? r.route : []) {
          const host = d?.destination?.host;
          if (typeof host !== 'string') continue;
          const parts = host.split('.');
          out.push([parts.length > 1 && parts[1] !== 'svc' ? parts[1] : ns, parts[0]]);
        }
      }
    }
    return out;
  }
  for (const r of Array.isArray(spec.rules) ? spec.rules : []) {
    for (const b of Array.isArray(r?.backendRefs) ? r.backendRefs : []) {
      if (typeof b?.name !== 'string' || (b.kind && b.kind !== 'Service')) continue;
      out.push([typeof b.namespace === 'string' ? b.namespace : ns, b.name]);
    }
  }
  return out;
}

export function ingressServiceNames(ing: K8sObject): string[] {
  const out: string[] = [];
  const spec = ing.spec ?? {};
  const push = (b: any): void => {
    const n = b?.service?.name ?? b?.serviceName;
    if (typeof n === 'string') out.push(n);
  };
  push(spec.defaultBackend ?? spec.backend);
  for (const r of Array.isArray(spec.rules) ? spec.rules : []) {
    for (const p of Array.isArray(r?.http?.paths) ? r.http.paths : []) push(p?.backend);
  }
  return out;
}

/** Cilium policies carry either `spec` or `specs: [...]`. */
export function ciliumSpecs(p: K8sObject): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  if (p.spec && typeof p.spec === 'object') out.push(p.spec);
  if (Array.isArray(p.specs)) for (const s of p.specs) if (s && typeof s === 'object') out.push(s);
  return out;
}

function ciliumEndpointSelects(sel: any, labels: Record<string, string>): boolean {
  if (sel == null || typeof sel !== 'object') return false;
  // Cilium prefixes labels with their source ("k8s:app"); accept both spellings.
  const norm = (s: LabelSelector): LabelSelector => ({
    matchLabels: s.matchLabels
      ? Object.fromEntries(
          Object.entries(s.matchLabels).map(([k, v]) => [k.replace(/^(k8s|any):/, ''), String(v)]),
        )
      : undefined,
    matchExpressions: s.matchExpressions?.map((e) => ({ ...e, key: e.key.replace(/^(k8s|any):/, '') })),
  });
  return selectorMatches(norm(sel), labels);
}

type LabelSelector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
};

function ccnpSelects(spec: Record<string, any>, ns: string, labels: Record<string, string>): boolean {
  const sel = spec.endpointSelector;
  if (!sel) return false;
  const withNs = { ...labels, 'io.kubernetes.pod.namespace': ns, 'k8s:io.kubernetes.pod.namespace': ns };
  return ciliumEndpointSelects(sel, withNs);
}

export function policySelects(p: K8sObject, labels: Record<string, string>): boolean {
  if (p.kind === 'NetworkPolicy') {
    const sel = p.spec?.podSelector;
    // A missing podSelector in a manifest is the empty selector once defaulted by the API server.
    return selectorMatches(sel ?? {}, labels);
  }
  return ciliumSpecs(p).some((s) => ciliumEndpointSelects(s.endpointSelector, labels));
}

/** Which directions a policy restricts for the pods it selects. */
export function policyDirections(p: K8sObject): { ingress: boolean; egress: boolean } {
  if (p.kind === 'NetworkPolicy') {
    const types = Array.isArray(p.spec?.policyTypes) ? p.spec.policyTypes.map(String) : undefined;
    if (types) return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
    return { ingress: true, egress: Array.isArray(p.spec?.egress) };
  }
  let ingress = false;
  let egress = false;
  for (const s of ciliumSpecs(p)) {
    if ('ingress' in s || 'ingressDeny' in s) ingress = true;
    if ('egress' in s || 'egressDeny' in s) egress = true;
  }
  return { ingress, egress };
}
