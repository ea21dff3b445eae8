/** Cross-object and non-workload checks: RBAC, exposure, network policies, namespaces, config data, control plane. */
import {
  ciliumSpecs,
  policyDirections,
  type PolicyRule,
  type RoleBindingView,
  type ScanContext,
} from '../context.js';
import { nameOf, nsOf, podSpecsOf, refOf, selectorMatches } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { isSensitive, tokenMounted } from './pod.js';
import type { Check } from './types.js';
import { LazyHit, PATH_FORMAT } from '../finding.js';

const EMPTY: any[] = Object.freeze([]) as unknown as any[];
const list = (v: unknown): any[] => (Array.isArray(v) ? v : EMPTY);
/** Shared empty result of the checks that run on every workload (most pass on most objects). */
const NONE: Hit[] = EMPTY;

// ---- RBAC ----

export interface PermissionSpec {
  verbs: string[];
  resources: string[];
  apiGroups?: string[];
}

function covers(have: string[], want: string[]): number {
  for (let i = 0; i < have.length; i++) if (have[i] === '*' || want.includes(have[i])) return i;
  return -1;
}

function resourceCovers(have: string[], want: string[]): number {
  for (let i = 0; i < have.length; i++) {
    const h = have[i];
    if (h === '*' || want.includes(h)) return i;
    // "pods/*" covers "pods/exec"
    if (h.endsWith('/*') && want.some((w) => w.startsWith(h.slice(0, -1)))) return i;
  }
  return -1;
}

/** The first rule (and indices) granting one of the wanted verbs on one of the wanted resources. */
export function grants(
  rules: PolicyRule[],
  spec: PermissionSpec,
): { rule: number; verb: number; resource: number } | undefined {
  const groups = spec.apiGroups ?? ['', '*'];
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    if (rule.resources.length === 0) continue;
    if (covers(rule.apiGroups, groups) < 0 && !(rule.apiGroups.length === 0 && groups.includes(''))) continue;
    const v = covers(rule.verbs, spec.verbs);
    if (v < 0) continue;
    const res = resourceCovers(rule.resources, spec.resources);
    if (res < 0) continue;
    return { rule: r, verb: v, resource: res };
  }
  return undefined;
}

function anyGrant(
  rules: PolicyRule[],
  specs: PermissionSpec[],
): { spec: PermissionSpec; at: { rule: number; verb: number; resource: number } } | undefined {
  for (const spec of specs) {
    const at = grants(rules, spec);
    if (at) return { spec, at };
  }
  return undefined;
}

const specsCache = new WeakMap<object, PermissionSpec[]>();
function specsOf(params: Record<string, any>): PermissionSpec[] {
  if (params.any) return params.any as PermissionSpec[];
  let s = specsCache.get(params);
  if (!s) specsCache.set(params, (s = [params as PermissionSpec]));
  return s;
}

function subjectHits(v: RoleBindingView, what: string): Hit[] {
  const out: Hit[] = [];
  list(v.binding.subjects).forEach((s, i) => {
    if (!s || typeof s.name !== 'string') return;
    out.push({
      path: `subjects[${i}]`,
      message: `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name} ${what} (through ${v.role?.kind ?? v.binding.roleRef?.kind ?? 'role'} ${v.roleRefName})`,
      subject: { kind: String(s.kind), name: s.name, namespace: s.namespace },
      related: v.role ? [refOf(v.role)] : undefined,
    });
  });
  return out;
}

function viewFor(o: K8sObject, ctx: ScanContext): RoleBindingView | undefined {
  return ctx.bindingView(o);
}

/** A binding whose role grants the permission: one hit per subject. */
const rbacPermission: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o, ctx, params) => {
    const v = viewFor(o, ctx);
    if (!v) return [];
    const g = anyGrant(v.rules, specsOf(params));
    if (!g) return [];
    const r = v.rules[g.at.rule];
    return subjectHits(v, `can ${r.verbs[g.at.verb]} ${r.resources[g.at.resource]}`);
  },
};

const clusterAdminBinding: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o) =>
    o.roleRef?.kind === 'ClusterRole' && o.roleRef?.name === 'cluster-admin'
      ? subjectHits(
          { binding: o, role: undefined, roleRefName: 'cluster-admin', rules: [] },
          'is bound to cluster-admin',
        )
      : [],
};

/** Roles themselves: wildcards in verbs, resources or apiGroups. */
const roleWildcard: Check = {
  appliesTo: ['Role', 'ClusterRole'],
  fn: (o) => {
    const out: Hit[] = [];
    list(o.rules).forEach((r, i) => {
      for (const f of ['verbs', 'resources', 'apiGroups'] as const) {
        const j = list(r?.[f]).indexOf('*');
        if (j >= 0) out.push({ path: `rules[${i}].${f}[${j}]`, message: `rule ${i} grants "*" ${f}` });
      }
    });
    return out;
  },
};

/** A workload whose mounted service-account token carries the permission. */
const workloadPermission: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    let out: Hit[] | undefined;
    const ns = nsOf(o) ?? 'default';
    for (const p of podSpecsOf(o)) {
      const sa = String(p.spec.serviceAccountName ?? p.spec.serviceAccount ?? 'default');
      const views = ctx.bindingsOfServiceAccount(ns, sa);
      // No binding grants this account anything: nothing to find, whatever the token does.
      if (views.length === 0 || !tokenMounted(p, o, ctx)) continue;
      for (const v of views) {
        if (v.binding.kind === 'RoleBinding' && params.clusterWideOnly) continue;
        const g = anyGrant(v.rules, specsOf(params));
        if (!g) continue;
        const r = v.rules[g.at.rule];
        (out ??= []).push({
          path: `${p.prefix}serviceAccountName`,
          message: `service account ${ns}/${sa} can ${r.verbs[g.at.verb]} ${r.resources[g.at.resource]} through ${v.binding.kind} ${nameOf(v.binding)} → ${v.binding.roleRef?.kind} ${v.roleRefName}`,
          related: [refOf(v.binding), ...(v.role ? [refOf(v.role)] : [])],
        });
        break;
      }
    }
    return out ?? NONE;
  },
};

// ---- exposure ----

const workloadExposed: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    let out: Hit[] | undefined;
    const ns = nsOf(o) ?? 'default';
    const names = params.sensitiveOnly ? (ctx.settings.sensitiveInterfaces ?? []) : undefined;
    if (names && !namesSensitiveInterface(o, names)) return NONE;
    for (const p of podSpecsOf(o)) {
      for (const { service, ingresses } of ctx.servicesExposing(ns, p.labels)) {
        const type = service.spec?.type ?? 'ClusterIP';
        if (type === 'LoadBalancer' || type === 'NodePort') {
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `exposed outside the cluster by ${type} Service ${nameOf(service)}`,
            related: [refOf(service)],
          });
        } else if (ingresses.length > 0) {
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `exposed by Ingress ${nameOf(ingresses[0])} through Service ${nameOf(service)}`,
            related: [refOf(service), refOf(ingresses[0])],
          });
        }
      }
    }
    return out ?? NONE;
  },
};

/** The object's name or one of its containers' images contains one of the names. */
function namesSensitiveInterface(o: K8sObject, names: string[]): boolean {
  if (containsAny(nameOf(o), names)) return true;
  const known = imagesNaming(names);
  for (const p of podSpecsOf(o)) {
    const cs = list(p.spec.containers);
    for (let i = 0; i < cs.length; i++) {
      const image = String(cs[i]?.image ?? '');
      let r = known.get(image);
      if (r === undefined) {
        if (known.size >= 4096) known.clear();
        known.set(image, (r = containsAny(image, names)));
      }
      if (r) return true;
    }
  }
  return false;
}

function containsAny(s: string, names: string[]): boolean {
  for (let i = 0; i < names.length; i++) if (s.includes(names[i])) return true;
  return false;
}

/** Per names list, whether an image contains one of them (few distinct images, many pods). */
const imageNameCache = new WeakMap<string[], Map<string, boolean>>();
function imagesNaming(names: string[]): Map<string, boolean> {
  let m = imageNameCache.get(names);
  if (!m) imageNameCache.set(names, (m = new Map()));
  return m;
}

const serviceExternal: Check = {
  appliesTo: ['Service'],
  fn: (o) => {
    const t = o.spec?.type;
    if (t === 'NodePort' || t === 'LoadBalancer')
      return [{ path: 'spec.type', message: `Service type ${t} exposes it outside the cluster` }];
    if (list(o.spec?.externalIPs).length > 0)
      return [{ path: 'spec.externalIPs', message: 'Service has external IPs' }];
    return [];
  },
};

const SSH_PORTS = [22, 2222];

/** Workloads reachable on an SSH port through a Service. */
const sshExposed: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    const ports = (params.ports as number[]) ?? SSH_PORTS;
    let out: Hit[] | undefined;
    for (const p of podSpecsOf(o)) {
      for (const { service } of ctx.servicesExposing(nsOf(o) ?? 'default', p.labels)) {
        const sp = list(service.spec?.ports).find(
          (x) =>
            ports.includes(x?.port) ||
            ports.includes(typeof x?.targetPort === 'number' ? x.targetPort : Number(x?.targetPort)),
        );
        if (sp)
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `SSH port ${sp.port} exposed by Service ${nameOf(service)}`,
            related: [refOf(service)],
          });
      }
    }
    return out ?? NONE;
  },
};

const servicePort: Check = {
  appliesTo: ['Service'],
  fn: (o, _ctx, params) => {
    const ports = (params.ports as number[]) ?? [22];
    const out: Hit[] = [];
    list(o.spec?.ports).forEach((p, i) => {
      const tp = typeof p?.targetPort === 'number' ? p.targetPort : Number(p?.targetPort);
      if (ports.includes(p?.port) || ports.includes(tp))
        out.push({
          path: `spec.ports[${i}]`,
          message: `Service exposes port ${p.port} (${params.what ?? 'sensitive'})`,
        });
    });
    return out;
  },
};

const ingressNoTls: Check = {
  appliesTo: ['Ingress'],
  fn: (o) =>
    list(o.spec?.tls).length === 0
      ? [{ path: 'spec.tls', message: `Ingress ${nameOf(o)} serves plain HTTP (no tls section)` }]
      : [],
};

// ---- network policies ----

const networkPolicy: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    const ns = nsOf(o) ?? 'default';
    let out: Hit[] | undefined;
    for (const p of podSpecsOf(o)) {
      const pols = ctx.networkPoliciesSelecting(ns, p.labels);
      if (params.both) {
        const { ingress, egress } = directionsOf(pols);
        if (!ingress || !egress)
          (out ??= []).push(
            new LazyHit(
              PATH_FORMAT,
              p.metaPrefix,
              'metadata.labels',
              !ingress && !egress
                ? 'no NetworkPolicy restricts ingress or egress for these pods'
                : !ingress
                  ? 'no NetworkPolicy restricts ingress for these pods'
                  : 'no NetworkPolicy restricts egress for these pods',
            ),
          );
      } else if (pols.length === 0)
        (out ??= []).push(
          new LazyHit(PATH_FORMAT, p.metaPrefix, 'metadata.labels', 'no NetworkPolicy selects these pods'),
        );
    }
    return out ?? NONE;
  },
};

/** Directions restricted by a set of policies, once per set (the context caches the sets). */
const directionsCache = new WeakMap<K8sObject[], { ingress: boolean; egress: boolean }>();
const NO_DIRECTIONS = Object.freeze({ ingress: false, egress: false });
function directionsOf(pols: K8sObject[]): { ingress: boolean; egress: boolean } {
  if (pols.length === 0) return NO_DIRECTIONS;
  let d = directionsCache.get(pols);
  if (!d) {
    let ingress = false;
    let egress = false;
    for (const pol of pols) {
      const x = policyDirections(pol);
      ingress ||= x.ingress;
      egress ||= x.egress;
    }
    directionsCache.set(pols, (d = { ingress, egress }));
  }
  return d;
}

const namespaceNetworkPolicy: Check = {
  appliesTo: ['Namespace'],
  fn: (o, ctx) => {
    const ns = nameOf(o);
    if (ctx.networkPoliciesIn(ns).length > 0) return [];
    for (const p of ctx.clusterwidePolicies()) {
      for (const s of ciliumSpecs(p)) {
        const sel = s.endpointSelector;
        if (!sel) continue;
        const ml = sel.matchLabels ?? {};
        const keys = Object.keys(ml);
        const nsKeys = keys.filter((k) => k.includes('io.kubernetes.pod.namespace'));
        if (keys.length === 0 && !sel.matchExpressions) return [];
        if (nsKeys.length > 0 && nsKeys.every((k) => ml[k] === ns) && keys.length === nsKeys.length)
          return [];
        const exprs = list(sel.matchExpressions).filter((e) =>
          String(e.key).includes('io.kubernetes.pod.namespace'),
        );
        if (
          exprs.length > 0 &&
          keys.length === 0 &&
          exprs.length === list(sel.matchExpressions).length &&
          selectorMatches({ matchExpressions: exprs.map((e) => ({ ...e, key: 'ns' })) }, { ns })
        )
          return [];
      }
    }
    return [{ path: 'metadata.name', message: `namespace ${ns} has no NetworkPolicy` }];
  },
};

// ---- namespaces: Pod Security admission ----

const PSA_LEVELS = ['privileged', 'baseline', 'restricted'];
const psaLabel: Check = {
  appliesTo: ['Namespace'],
  fn: (o, _ctx, params) => {
    const labels = o.metadata?.labels ?? {};
    const min = PSA_LEVELS.indexOf(params.level ?? 'baseline');
    const modes: string[] = params.modes ?? ['enforce'];
    for (const m of modes) {
      const lvl = PSA_LEVELS.indexOf(String(labels[`pod-security.kubernetes.io/${m}`] ?? ''));
      if (lvl >= min) return [];
    }
    return [
      {
        path: 'metadata.labels[pod-security.kubernetes.io/enforce]',
        message: `namespace ${nameOf(o)} does not ${modes.join('/')} Pod Security "${params.level ?? 'baseline'}"`,
      },
    ];
  },
};

const defaultSaAutomount: Check = {
  appliesTo: ['ServiceAccount'],
  fn: (o) =>
    nameOf(o) === 'default' && o.automountServiceAccountToken !== false
      ? [
          {
            path: 'automountServiceAccountToken',
            message: `default service account of ${nsOf(o)} mounts its token by default`,
          },
        ]
      : [],
};

// ---- config data ----

const configMapCredentials: Check = {
  appliesTo: ['ConfigMap'],
  fn: (o, ctx) => {
    const out: Hit[] = [];
    const data = o.data && typeof o.data === 'object' ? o.data : {};
    for (const [k, v] of Object.entries(data)) {
      if (isSensitive(k, typeof v === 'string' ? v : String(v), ctx))
        out.push({ path: `data[${k}]`, message: `ConfigMap key ${k} holds a credential` });
    }
    return out;
  },
};

// ---- control plane (static pods and host data) ----

function componentArgs(
  o: K8sObject,
  component: string,
): { args: string[]; paths: string[]; base: string } | undefined {
  if (o.kind !== 'Pod') return undefined;
  const cs = list(o.spec?.containers);
  for (let i = 0; i < cs.length; i++) {
    // cheap reject first (no closure, no copy): this runs on every Pod of a cluster
    if (!maybeComponent(cs[i], component)) continue;
    const found = componentContainer(o, cs[i], i, component);
    if (found) return found;
  }
  return undefined;
}

function maybeComponent(c: any, component: string): boolean {
  const first = list(c?.command)[0] ?? list(c?.args)[0];
  return (
    String(c?.name ?? '').includes(component) ||
    (typeof first === 'string' && first.includes(component)) ||
    mentions(list(c?.command), component)
  );
}

function componentContainer(
  o: K8sObject,
  c: any,
  i: number,
  component: string,
): { args: string[]; paths: string[]; base: string } | undefined {
  const cmd = [...list(c?.command), ...list(c?.args)].map(String);
  if (
    !cmd.some((x) => x === component || x.endsWith(`/${component}`) || x.startsWith(`${component} `)) &&
    !(nameOf(o).startsWith(component) && c?.name === component) &&
    !String(c?.name ?? '').startsWith(component)
  )
    return undefined;
  const args: string[] = [];
  const paths: string[] = [];
  list(c.command).forEach((a, j) => {
    for (const part of String(a).split(/\s+/)) {
      args.push(part);
      paths.push(`spec.containers[${i}].command[${j}]`);
    }
  });
  list(c.args).forEach((a, j) => {
    for (const part of String(a).split(/\s+/)) {
      args.push(part);
      paths.push(`spec.containers[${i}].args[${j}]`);
    }
  });
  return { args, paths, base: `spec.containers[${i}]` };
}

function mentions(words: any[], component: string): boolean {
  for (let i = 0; i < words.length; i++) {
    const x = words[i];
    if (typeof x === 'string' && x.includes(component)) return true;
  }
  return false;
}

function flagValue(args: string[], flag: string): { value: string | undefined; index: number } {
  for (let i = args.length - 1; i >= 0; i--) {
    const a = args[i];
    if (a === `--${flag}`)
      return { value: args[i + 1] && !args[i + 1].startsWith('--') ? args[i + 1] : 'true', index: i };
    if (a.startsWith(`--${flag}=`)) return { value: a.slice(flag.length + 3), index: i };
  }
  return { value: undefined, index: -1 };
}

/**
 * Control-plane flag rule. params: component, flag, and one of
 * require (flag must be set), equals, notEquals, includes (comma list must include), excludes, notZero.
 */
const componentFlag: Check = {
  appliesTo: ['Pod'],
  fn: (o, _ctx, params) => {
    const ca = componentArgs(o, params.component);
    if (!ca) return NONE;
    return componentFlagHits(ca, params);
  },
};

// Apart from fn, which runs on every Pod: its closure would cost an allocation on each call.
function componentFlagHits(
  ca: { args: string[]; paths: string[]; base: string },
  params: Record<string, any>,
): Hit[] {
  const { value, index } = flagValue(ca.args, params.flag);
  const at = index >= 0 ? ca.paths[index] : `${ca.base}.command`;
  const bad = (why: string): Hit[] => [{ path: at, message: `${params.component}: --${params.flag} ${why}` }];
  if (params.require && value === undefined) return bad('is not set');
  if (params.equals !== undefined && value !== undefined && value !== String(params.equals))
    return bad(`is ${value}, expected ${params.equals}`);
  if (params.equals !== undefined && value === undefined && params.defaultBad)
    return bad(`is not set (default is unsafe; set ${params.equals})`);
  if (params.notEquals !== undefined && value === String(params.notEquals)) return bad(`is ${value}`);
  if (params.includes !== undefined && !(value ?? '').split(',').includes(params.includes))
    return bad(`does not include ${params.includes}`);
  if (params.excludes !== undefined && (value ?? '').split(',').includes(params.excludes))
    return bad(`includes ${params.excludes}`);
  if (params.minimum !== undefined && value !== undefined && Number(value) < Number(params.minimum))
    return bad(`is ${value}, below ${params.minimum}`);
  return [];
}

/** Kubelet settings from a host data object (KubeletInfo, as Kubescape's host sensor reports it). */
const kubeletSetting: Check = {
  appliesTo: ['KubeletInfo'],
  fn: (o, _ctx, params) => {
    const cmd = String(o.data?.cmdLine ?? '');
    const args = cmd.split(/\s+/).filter(Boolean);
    let cfg: Record<string, any> | undefined;
    const content = o.data?.configFile?.content;
    if (typeof content === 'string') {
      try {
        cfg = parseKubeletConfig(Buffer.from(content, 'base64').toString('utf8'));
      } catch {
        cfg = undefined;
      }
    }
    const flag = flagValue(args, params.flag).value;
    const fromCfg = cfg
      ? (params.configPath as string).split('.').reduce<any>((v, k) => (v == null ? undefined : v[k]), cfg)
      : undefined;
    const val = flag ?? (fromCfg === undefined ? undefined : String(fromCfg));
    const ok = params.expect !== undefined ? val === String(params.expect) : val !== undefined && val !== '';
    return ok
      ? []
      : [
          {
            path: flag !== undefined ? 'data.cmdLine' : 'data.configFile',
            message: `kubelet ${params.flag} is ${val ?? 'not set'}`,
          },
        ];
  },
};

/** Minimal YAML subset reader for the kubelet config (nested maps of scalars), avoiding a second parser dependency in the hot path. */
function parseKubeletConfig(text: string): Record<string, any> {
  const root: Record<string, any> = {};
  const stack: { indent: number; obj: Record<string, any> }[] = [{ indent: -1, obj: root }];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    while (stack.length > 1 && stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    if (m[2] === '') {
      const child: Record<string, any> = {};
      parent[m[1].trim()] = child;
      stack.push({ indent, obj: child });
    } else parent[m[1].trim()] = m[2].trim().replace(/^["']|["']$/g, '');
  }
  return root;
}

// ---- PodSecurityPolicy (clusters that still serve it) ----

const pspAllows: Check = {
  appliesTo: ['PodSecurityPolicy'],
  fn: (o, _ctx, params) => {
    const spec = o.spec ?? {};
    const f: string = params.field;
    let bad = false;
    if (f === 'allowedCapabilities') bad = list(spec.allowedCapabilities).length > 0;
    else if (f === 'requiredDropCapabilities')
      bad = !list(spec.requiredDropCapabilities).some((c) =>
        ['ALL', 'NET_RAW'].includes(String(c).toUpperCase()),
      );
    else if (f === 'runAsUser')
      bad =
        spec.runAsUser?.rule === 'RunAsAny' ||
        (spec.runAsUser?.rule === 'MustRunAs' && list(spec.runAsUser?.ranges).some((r) => r?.min === 0));
    else if (f === 'allowPrivilegeEscalation') bad = spec.allowPrivilegeEscalation !== false;
    else bad = spec[f] === true;
    return bad ? [{ path: `spec.${f}`, message: `PodSecurityPolicy ${nameOf(o)} allows ${f}` }] : [];
  },
};

const longLivedTokenSecret: Check = {
  appliesTo: ['Secret'],
  fn: (o) => {
    const out: Hit[] = [];
    if (
      o.type === 'kubernetes.io/service-account-token' &&
      o.metadata?.annotations?.['kubernetes.io/service-account.name']
    ) {
      out.push({
        path: 'type',
        message: `long-lived token secret for service account ${o.metadata.annotations['kubernetes.io/service-account.name']}`,
      });
    }
    return out;
  },
};

// ---- known-vulnerable components ----

function versionTuple(v: string): number[] {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [];
}

function lessThan(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

const patternCache = new WeakMap<object, RegExp>();

/** Containers whose image matches a pattern, optionally only below a fixed version. */
const imageMatch: Check = {
  appliesTo: ['podspec'],
  fn: (o, _ctx, params) => {
    let re = patternCache.get(params);
    if (!re) patternCache.set(params, (re = new RegExp(params.pattern, 'i')));
    let out: Hit[] | undefined;
    for (const p of podSpecsOf(o)) {
      const cs = list(p.spec.containers);
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i];
        const image = String(c?.image ?? '');
        if (!re.test(image)) continue;
        if (params.fixedIn) {
          const tag = image.split('@')[0].split(':').pop() ?? '';
          const v = versionTuple(tag);
          if (v.length === 0) continue;
          const fixed = (params.fixedIn as string[]).map(versionTuple);
          // vulnerable when below the fix of its own minor line (or below the lowest fix)
          const line = fixed.find((f) => f[0] === v[0] && f[1] === v[1]);
          if (line ? !lessThan(v, line) : !lessThan(v, fixed[fixed.length - 1])) continue;
        }
        (out ??= []).push({
          path: `${p.prefix}containers[${i}].image`,
          message: `${params.what}: ${image}`,
          container: c?.name,
        });
      }
    }
    return out ?? NONE;
  },
};

/** Whether a node of the scan runs a kubelet vulnerable to CVE-2021-25741 (once per scan). */
const subPathCache = new WeakMap<ScanContext, boolean>();
function subPathVulnerable(ctx: ScanContext): boolean {
  const nodes = ctx.of('Node');
  if (nodes.length === 0) return false;
  let vulnerable = subPathCache.get(ctx);
  if (vulnerable === undefined) {
    vulnerable = nodes.some((n) => {
      const v = versionTuple(String(n.status?.nodeInfo?.kubeletVersion ?? ''));
      if (v.length === 0) return false;
      const fixes: Record<string, number> = { '1.19': 15, '1.20': 11, '1.21': 5, '1.22': 2 };
      const key = `${v[0]}.${v[1]}`;
      if (key in fixes) return v[2] < fixes[key];
      return v[0] === 1 && v[1] < 19;
    });
    subPathCache.set(ctx, vulnerable);
  }
  return vulnerable;
}

/** CVE-2021-25741: subPath mounts on nodes whose kubelet is in a vulnerable range. */
const subPathSymlink: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx) => {
    if (!subPathVulnerable(ctx)) return NONE;
    const out: Hit[] = [];
    for (const p of podSpecsOf(o)) {
      for (const k of ['containers', 'initContainers'] as const) {
        list(p.spec[k]).forEach((c, i) =>
          list(c?.volumeMounts).forEach((m, j) => {
            if (m?.subPath)
              out.push({
                path: `${p.prefix}${k}[${i}].volumeMounts[${j}].subPath`,
                message: `subPath mount on a node vulnerable to CVE-2021-25741`,
                container: c?.name,
              });
          }),
        );
      }
    }
    return out;
  },
};

// ---- consistency: references that lead nowhere ----

const danglingIngressBackend: Check = {
  appliesTo: ['Ingress'],
  fn: (o, ctx) => {
    const ns = nsOf(o) ?? 'default';
    const out: Hit[] = [];
    const check = (b: any, path: string): void => {
      const n = b?.service?.name ?? b?.serviceName;
      if (typeof n !== 'string') return;
      if (!ctx.find('Service', ns, n))
        out.push({
          path: `${path}.${b?.service ? 'service.name' : 'serviceName'}`,
          message: `backend Service ${ns}/${n} does not exist`,
        });
    };
    const spec = o.spec ?? {};
    if (spec.defaultBackend) check(spec.defaultBackend, 'spec.defaultBackend');
    else if (spec.backend) check(spec.backend, 'spec.backend');
    list(spec.rules).forEach((r, i) =>
      list(r?.http?.paths).forEach((p, j) => check(p?.backend, `spec.rules[${i}].http.paths[${j}].backend`)),
    );
    return out;
  },
};

const serviceWithoutWorkload: Check = {
  appliesTo: ['Service'],
  fn: (o, ctx) => {
    const sel = o.spec?.selector;
    if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.selectedByTemplates().services.has(o)) return [];
    return [
      { path: 'spec.selector', message: `selector ${JSON.stringify(sel)} matches no workload in ${ns}` },
    ];
  },
};

const danglingNetworkPolicy: Check = {
  appliesTo: ['NetworkPolicy'],
  fn: (o, ctx) => {
    const sel = o.spec?.podSelector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && list(sel.matchExpressions).length === 0))
      return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.selectedByTemplates().policies.has(o)) return [];
    return [
      {
        path: 'spec.podSelector',
        message: `podSelector matches no pod in ${ns}: the policy protects nothing`,
      },
    ];
  },
};

const mismatchingSelector: Check = {
  appliesTo: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'],
  fn: (o) => {
    const base = o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec : o.spec;
    const prefix = o.kind === 'CronJob' ? 'spec.jobTemplate.spec' : 'spec';
    const sel = base?.selector;
    if (!sel || typeof sel !== 'object') return [];
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(base?.template?.metadata?.labels ?? {})) labels[k] = String(v);
    if (selectorMatches(sel, labels)) return [];
    return [
      {
        path: `${prefix}.selector${sel.matchLabels ? '.matchLabels' : ''}`,
        message: 'selector does not match the pod template labels: the controller never owns its pods',
      },
    ];
  },
};

const hpaTarget: Check = {
  appliesTo: ['HorizontalPodAutoscaler'],
  fn: (o, ctx) => {
    const ref = o.spec?.scaleTargetRef;
    if (!ref || typeof ref.name !== 'string') return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.find(String(ref.kind ?? 'Deployment'), ns, ref.name)) return [];
    return [
      {
        path: 'spec.scaleTargetRef.name',
        message: `scale target ${ref.kind ?? 'Deployment'} ${ns}/${ref.name} does not exist`,
      },
    ];
  },
};

export const clusterChecks: Record<string, Check> = {
  rbacPermission,
  clusterAdminBinding,
  roleWildcard,
  workloadPermission,
  workloadExposed,
  serviceExternal,
  servicePort,
  sshExposed,
  ingressNoTls,
  networkPolicy,
  namespaceNetworkPolicy,
  psaLabel,
  defaultSaAutomount,
  configMapCredentials,
  componentFlag,
  kubeletSetting,
  pspAllows,
  longLivedTokenSecret,
  danglingIngressBackend,
  serviceWithoutWorkload,
  danglingNetworkPolicy,
  mismatchingSelector,
  hpaTarget,
  imageMatch,
  subPathSymlink,
};
