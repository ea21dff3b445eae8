/**
 * Blast radius of a pod: what it could reach if compromised. Computed from a snapshot of cluster
 * objects (pods, services, NetworkPolicies, namespaces, RBAC), so it runs the same on a live cluster,
 * a manifest set or a test fixture:
 * - pods co-located on its node;
 * - pods reachable over the network, given the NetworkPolicies that apply at both ends
 *   (port-level detail and ipBlock peers are not modelled: "reachable" means on some port);
 * - what its service account may do through Roles/ClusterRoles bound to it;
 * - the secrets and host paths it mounts, and its host reach read from its spec (host namespaces,
 *   privileged containers, container runtime sockets mounted, added capabilities).
 * An incident's blast radius is the union over its pods or containers (`mergeBlastRadii`).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesLister, type ClusterObjectLister, type KindRef } from '../sources/kubernetes.js';

export type Obj = Record<string, any>;

export interface BlastItem {
  kind: 'pod' | 'container' | 'node' | 'secret' | 'hostPath' | 'permission' | 'service' | 'host';
  name: string;
  relation: 'co-located' | 'reachable' | 'mounts' | 'may' | 'exposed-by' | 'runs-on' | 'shares';
  risk: 'high' | 'medium' | 'low';
  detail?: string;
  /** The pod or container of the incident it is reached from, when the radius covers several. */
  from?: string;
}

/** What a blast radius is computed for: a Kubernetes pod, or a Docker container (never called a pod). */
export interface BlastTarget {
  platform: 'kubernetes' | 'docker';
  /** `namespace/pod` in Kubernetes; the container's name in Docker. */
  name: string;
  namespace?: string;
  pod?: string;
  /** Docker: the container id. */
  container?: string;
  node?: string;
  serviceAccount?: string;
}

export interface BlastGraph {
  nodes: { id: string; kind: string; label: string }[];
  edges: { from: string; to: string; relation: string }[];
}

export interface BlastRadius {
  /** The first pod or container it covers. */
  target: BlastTarget;
  /** Every pod or container it covers: an incident's radius is the union over its entities. */
  targets: BlastTarget[];
  coLocated: string[];
  reachable: string[];
  exposedBy: string[];
  permissions: {
    verbs: string[];
    resources: string[];
    apiGroups: string[];
    scope: string;
    via: string;
    risky: boolean;
  }[];
  secrets: string[];
  hostPaths: string[];
  /**
   * Host reach read from the configuration: host PID/network/IPC namespaces, privileged, container
   * runtime sockets mounted, added capabilities, devices. With several targets, each names its own.
   */
  hostAccess: string[];
  items: BlastItem[];
  /** 0..100: how much a compromise of these pods or containers can reach. */
  score: number;
  graph: BlastGraph;
  mermaid: string;
  dot: string;
}

const podKey = (p: Obj) => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name}`;

export function labelSelectorMatches(
  sel: Obj | undefined | null,
  labels: Record<string, string> = {},
): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries((sel.matchLabels ?? {}) as Record<string, string>))
    if (labels[k] !== v) return false;
  for (const e of (sel.matchExpressions ?? []) as Obj[]) {
    const has = e.key in labels;
    const vals = (e.values ?? []) as string[];
    if (e.operator === 'In' && !(has && vals.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function policyTypes(p: Obj): string[] {
  if (Array.isArray(p.spec?.policyTypes) && p.spec.policyTypes.length) return p.spec.policyTypes;
  return p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Whether a NetworkPolicy peer (podSelector / namespaceSelector) matches a pod. */
function peerMatches(
  peer: Obj,
  policyNs: string,
  pod: Obj,
  nsLabels: (ns: string) => Record<string, string>,
): boolean {
  if (peer.ipBlock) return false;
  const podNs = pod.metadata?.namespace ?? 'default';
  const nsOk = peer.namespaceSelector
    ? labelSelectorMatches(peer.namespaceSelector, nsLabels(podNs))
    : podNs === policyNs;
  if (!nsOk) return false;
  return peer.podSelector ? labelSelectorMatches(peer.podSelector, pod.metadata?.labels ?? {}) : true;
}

/** Can `src` open a connection to `dst` on some port, given every NetworkPolicy? */
export function canReach(
  src: Obj,
  dst: Obj,
  policies: Obj[],
  nsLabels: (ns: string) => Record<string, string>,
): boolean {
  const srcNs = src.metadata?.namespace ?? 'default';
  const dstNs = dst.metadata?.namespace ?? 'default';
  const egress = policies.filter(
    (p) =>
      (p.metadata?.namespace ?? 'default') === srcNs &&
      policyTypes(p).includes('Egress') &&
      labelSelectorMatches(p.spec?.podSelector ?? {}, src.metadata?.labels),
  );
  if (egress.length > 0) {
    const ok = egress.some((p) =>
      ((p.spec?.egress ?? []) as Obj[]).some(
        (rule) =>
          !rule.to ||
          rule.to.length === 0 ||
          (rule.to as Obj[]).some((peer) => peerMatches(peer, srcNs, dst, nsLabels)),
      ),
    );
    if (!ok) return false;
  }
  const ingress = policies.filter(
    (p) =>
      (p.metadata?.namespace ?? 'default') === dstNs &&
      policyTypes(p).includes('Ingress') &&
      labelSelectorMatches(p.spec?.podSelector ?? {}, dst.metadata?.labels),
  );
  if (ingress.length > 0) {
    return ingress.some((p) =>
      ((p.spec?.ingress ?? []) as Obj[]).some(
        (rule) =>
          !rule.from ||
          rule.from.length === 0 ||
          (rule.from as Obj[]).some((peer) => peerMatches(peer, dstNs, src, nsLabels)),
      ),
    );
  }
  return true;
}

const RISKY_RESOURCES: ReadonlySet<string> = new Set([
  'secrets',
  'pods/exec',
  'pods/attach',
  'clusterrolebindings',
  'rolebindings',
  'nodes/proxy',
  'serviceaccounts/token',
]);
const RISKY_VERBS: ReadonlySet<string> = new Set(['*', 'escalate', 'bind', 'impersonate']);

function riskyRule(r: Obj): boolean {
  const verbs = (r.verbs ?? []) as string[];
  const res = (r.resources ?? []) as string[];
  if (verbs.some((v) => RISKY_VERBS.has(v))) return true;
  if (res.includes('*')) return true;
  if (
    res.some((x) => RISKY_RESOURCES.has(x)) &&
    verbs.some((v) => ['get', 'list', 'watch', 'create', 'update', 'patch'].includes(v))
  )
    return true;
  if (res.includes('pods') && verbs.includes('create')) return true;
  return false;
}

const HOST_PATH_RISK =
  /^\/($|var\/run\/docker\.sock|run\/containerd|var\/run\/crio|etc|root|proc|sys|var\/lib\/kubelet|home|dev)/;

/** Saturating contribution of a count to a blast-radius score: 0 at 0, 1 − 1/e at k, → 1. */
export const sat = (n: number, k: number): number => 1 - Math.exp(-n / k);

/** A container runtime's API socket (Docker, containerd, CRI-O, Podman): whoever holds it owns the host. */
export const RUNTIME_SOCKET =
  /^\/(var\/)?run(\/?|\/(docker\.sock|(k3s\/)?containerd(\/containerd\.sock)?|crio(\/crio\.sock)?|podman(\/podman\.sock)?|(containerd|crio|podman)\.sock))$/;

/** One way a workload reaches its host; `high` ones count towards the score. */
export interface HostReach {
  name: string;
  risk: 'high' | 'low';
}

/**
 * Adds what a workload shares with its host (namespaces, privileges, runtime sockets, capabilities)
 * and the node it runs on, the node at high risk when anything reaches the host; returns the count of
 * host exposures (high host reach plus host paths matching `hostPathRisk` that are not a runtime
 * socket, which is counted once, as host reach).
 */
export function addHostItems(
  items: BlastItem[],
  hostReach: HostReach[],
  hostPaths: string[],
  node: string | undefined,
  hostPathRisk: RegExp,
): number {
  for (const h of hostReach) items.push({ kind: 'host', name: h.name, relation: 'shares', risk: h.risk });
  const exposures =
    hostReach.filter((h) => h.risk === 'high').length +
    hostPaths.filter((h) => hostPathRisk.test(h) && !RUNTIME_SOCKET.test(h)).length;
  if (node) items.push({ kind: 'node', name: node, relation: 'runs-on', risk: exposures ? 'high' : 'low' });
  return exposures;
}

/** Runtime sockets among host paths, as host reach. */
export function runtimeSockets(hostPaths: string[]): HostReach[] {
  return hostPaths
    .filter((h) => RUNTIME_SOCKET.test(h))
    .map((h) => ({ name: `runtime socket ${h}`, risk: 'high' as const }));
}

/** Capabilities that reach past the container (kernel, other processes, the network stack, devices). */
export const RISKY_CAPS: ReadonlySet<string> = new Set([
  'SYS_ADMIN',
  'SYS_PTRACE',
  'SYS_MODULE',
  'NET_ADMIN',
  'DAC_READ_SEARCH',
  'SYS_RAWIO',
  'BPF',
  'PERFMON',
  'ALL',
]);

/** Host exposures counted from the items (high host reach, risky host paths that are not runtime sockets). */
function hostExposuresOf(items: BlastItem[]): number {
  return items.filter(
    (i) =>
      i.risk === 'high' &&
      ((i.kind === 'host' && i.relation === 'shares') ||
        (i.kind === 'hostPath' && !RUNTIME_SOCKET.test(i.name))),
  ).length;
}

/**
 * The score of a radius (0..100): saturating contributions, so that one huge flat namespace does not
 * dwarf a privileged escape. Kubernetes counts risky RBAC and NodePort/LoadBalancer exposure; Docker
 * has no RBAC and counts every published port.
 */
export function blastScore(
  platform: BlastTarget['platform'],
  b: Pick<BlastRadius, 'coLocated' | 'reachable' | 'permissions' | 'secrets' | 'exposedBy' | 'items'>,
): number {
  const host = hostExposuresOf(b.items);
  if (platform === 'docker')
    return Math.round(
      15 * sat(b.coLocated.length, 5) +
        15 * sat(b.reachable.length, 10) +
        15 * sat(b.secrets.length, 2) +
        30 * sat(host, 1) +
        10 * sat(b.exposedBy.length, 1),
    );
  return Math.round(
    15 * sat(b.coLocated.length, 5) +
      15 * sat(b.reachable.length, 10) +
      25 * sat(b.permissions.filter((p) => p.risky).length, 1) +
      15 * sat(b.secrets.filter((x) => !x.startsWith('service account token')).length, 2) +
      20 * sat(host, 1) +
      10 * sat(b.exposedBy.filter((x) => /NodePort|LoadBalancer/.test(x)).length, 1),
  );
}

/**
 * The union of the blast radii of an incident's pods or containers: what a compromise of any of them
 * can reach. Co-located and reachable peers exclude the targets themselves; host reach names the
 * target it comes from; items keep the target they are reached from (`from`), and the graph has one
 * root per target. The score is computed again over the union.
 */
export function mergeBlastRadii(parts: BlastRadius[]): BlastRadius | undefined {
  if (parts.length <= 1) return parts[0];
  const targets = parts.flatMap((p) => p.targets);
  const platform = targets[0].platform;
  const own = new Set(targets.map((t) => t.name));
  const union = (lists: string[][]) => [...new Set(lists.flat())];
  const peers = (lists: string[][]) =>
    union(lists)
      .filter((x) => !own.has(x))
      .sort();
  const items: BlastItem[] = [];
  const seen = new Set<string>();
  for (const p of parts) {
    const from = p.target.name;
    for (const it of p.items) {
      const shared = it.relation === 'co-located' || it.relation === 'reachable' || it.kind === 'node';
      if ((it.relation === 'co-located' || it.relation === 'reachable') && own.has(it.name)) continue;
      const key = `${it.kind}|${it.name}|${it.relation}${shared ? '' : `|${from}`}`;
      if (seen.has(key)) continue;
      seen.add(key);
      items.push({ ...it, from });
    }
  }
  // The node (host) is at high risk when any target reaches it.
  const nodes = new Map<string, BlastItem>();
  for (const it of items.filter((i) => i.kind === 'node')) {
    const had = nodes.get(it.name);
    if (!had) nodes.set(it.name, it);
    else if (it.risk === 'high') had.risk = 'high';
  }
  const merged = items.filter((i) => i.kind !== 'node' || nodes.get(i.name) === i);
  const permissions: BlastRadius['permissions'] = [];
  const permKeys = new Set<string>();
  for (const perm of parts.flatMap((p) => p.permissions)) {
    const k = JSON.stringify([perm.verbs, perm.resources, perm.apiGroups, perm.scope, perm.via]);
    if (permKeys.has(k)) continue;
    permKeys.add(k);
    permissions.push(perm);
  }
  const out: Omit<BlastRadius, 'score' | 'graph' | 'mermaid' | 'dot'> = {
    target: targets[0],
    targets,
    coLocated: peers(parts.map((p) => p.coLocated)),
    reachable: peers(parts.map((p) => p.reachable)),
    exposedBy: union(parts.map((p) => p.exposedBy)),
    permissions,
    secrets: union(parts.map((p) => p.secrets)),
    hostPaths: union(parts.map((p) => p.hostPaths)).sort(),
    hostAccess: parts.flatMap((p) => p.hostAccess.map((h) => `${h} (${p.target.name})`)),
    items: merged,
  };
  const graph = toGraph(
    targets.map((t) => t.name),
    merged,
    platform === 'docker' ? 'container' : 'pod',
  );
  return {
    ...out,
    score: blastScore(platform, out),
    graph,
    mermaid: toMermaid(graph),
    dot: toDot(graph),
  };
}

export function blastRadius(objects: Obj[], namespace: string, podName: string): BlastRadius | undefined {
  const pods = objects.filter((o) => o.kind === 'Pod');
  const pod = pods.find(
    (p) => (p.metadata?.namespace ?? 'default') === namespace && p.metadata?.name === podName,
  );
  if (!pod) return undefined;
  const nsObjs = new Map(
    objects.filter((o) => o.kind === 'Namespace').map((n) => [n.metadata?.name as string, n]),
  );
  const nsLabels = (ns: string): Record<string, string> => ({
    'kubernetes.io/metadata.name': ns,
    ...(nsObjs.get(ns)?.metadata?.labels ?? {}),
  });
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const spec = (pod.spec ?? {}) as Obj;
  const node = spec.nodeName as string | undefined;
  const sa = (spec.serviceAccountName ?? spec.serviceAccount ?? 'default') as string;
  const me = podKey(pod);
  const items: BlastItem[] = [];

  const coLocated = node
    ? pods
        .filter((p) => p !== pod && p.spec?.nodeName === node)
        .map(podKey)
        .sort()
    : [];
  for (const c of coLocated)
    items.push({ kind: 'pod', name: c, relation: 'co-located', risk: 'medium', detail: `same node ${node}` });

  // Only policies of the two namespaces involved can matter: index them once.
  const byNs = new Map<string, Obj[]>();
  for (const p of policies) {
    const ns = (p.metadata?.namespace ?? 'default') as string;
    const l = byNs.get(ns) ?? [];
    l.push(p);
    byNs.set(ns, l);
  }
  const mine = byNs.get(namespace) ?? [];
  const reachable = pods
    .filter((p) => {
      if (p === pod) return false;
      const dstNs = (p.metadata?.namespace ?? 'default') as string;
      const rel = dstNs === namespace ? mine : mine.concat(byNs.get(dstNs) ?? []);
      return canReach(pod, p, rel, nsLabels);
    })
    .map(podKey)
    .sort();
  for (const r of reachable)
    items.push({
      kind: 'pod',
      name: r,
      relation: 'reachable',
      risk: r.startsWith('kube-system/') ? 'high' : 'low',
    });

  const exposedBy = objects
    .filter(
      (o) => o.kind === 'Service' && (o.metadata?.namespace ?? 'default') === namespace && o.spec?.selector,
    )
    .filter((s) =>
      Object.entries(s.spec.selector as Record<string, string>).every(
        ([k, v]) => pod.metadata?.labels?.[k] === v,
      ),
    )
    .map((s) => `${s.metadata.name} (${s.spec.type ?? 'ClusterIP'})`);
  for (const s of exposedBy)
    items.push({
      kind: 'service',
      name: s,
      relation: 'exposed-by',
      risk: /NodePort|LoadBalancer/.test(s) ? 'high' : 'low',
    });

  // RBAC: bindings whose subjects include the service account (directly or through its groups).
  const groups = new Set([
    'system:serviceaccounts',
    `system:serviceaccounts:${namespace}`,
    'system:authenticated',
  ]);
  const boundTo = (b: Obj) =>
    ((b.subjects ?? []) as Obj[]).some(
      (s) =>
        (s.kind === 'ServiceAccount' &&
          s.name === sa &&
          (s.namespace ?? b.metadata?.namespace) === namespace) ||
        (s.kind === 'Group' && groups.has(s.name)),
    );
  const permissions: BlastRadius['permissions'] = [];
  for (const b of objects.filter(
    (o) =>
      (o.kind === 'RoleBinding' && (o.metadata?.namespace ?? 'default') === namespace) ||
      o.kind === 'ClusterRoleBinding',
  )) {
    if (!boundTo(b)) continue;
    const ref = b.roleRef ?? {};
    const role =
      ref.kind === 'ClusterRole'
        ? objects.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === ref.name)
        : objects.find(
            (o) =>
              o.kind === 'Role' &&
              o.metadata?.name === ref.name &&
              (o.metadata?.namespace ?? 'default') === namespace,
          );
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : `namespace ${namespace}`;
    const via = `${b.kind} ${b.metadata?.name} → ${ref.kind} ${ref.name}`;
    if (!role) {
      permissions.push({
        verbs: ['?'],
        resources: ['?'],
        apiGroups: [],
        scope,
        via: `${via} (role not found)`,
        risky: ref.name === 'cluster-admin',
      });
      continue;
    }
    for (const r of (role.rules ?? []) as Obj[]) {
      permissions.push({
        verbs: r.verbs ?? [],
        resources: r.resources ?? r.nonResourceURLs ?? [],
        apiGroups: r.apiGroups ?? [],
        scope,
        via,
        risky: riskyRule(r),
      });
    }
  }
  for (const p of permissions)
    items.push({
      kind: 'permission',
      name: `${p.verbs.join(',')} ${p.resources.join(',')} (${p.scope})`,
      relation: 'may',
      risk: p.risky ? 'high' : 'low',
      detail: p.via,
    });

  const secrets = new Set<string>();
  const hostPaths: string[] = [];
  for (const v of (spec.volumes ?? []) as Obj[]) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    for (const src of (v.projected?.sources ?? []) as Obj[]) {
      if (src.secret?.name) secrets.add(src.secret.name);
    }
    if (v.hostPath?.path) hostPaths.push(v.hostPath.path);
  }
  const containers = [...((spec.containers ?? []) as Obj[]), ...((spec.initContainers ?? []) as Obj[])];
  for (const c of containers) {
    for (const e of (c.env ?? []) as Obj[])
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
    for (const e of (c.envFrom ?? []) as Obj[]) if (e.secretRef?.name) secrets.add(e.secretRef.name);
  }
  const saObj = objects.find(
    (o) =>
      o.kind === 'ServiceAccount' &&
      o.metadata?.name === sa &&
      (o.metadata?.namespace ?? 'default') === namespace,
  );
  const automount = spec.automountServiceAccountToken ?? saObj?.automountServiceAccountToken ?? true;
  const secretList = [...secrets].sort();
  if (automount !== false) secretList.push(`service account token (${namespace}/${sa})`);
  for (const s of secretList)
    items.push({
      kind: 'secret',
      name: s,
      relation: 'mounts',
      risk: s.startsWith('service account token') && !permissions.length ? 'low' : 'high',
    });
  for (const h of hostPaths)
    items.push({
      kind: 'hostPath',
      name: h,
      relation: 'mounts',
      risk: HOST_PATH_RISK.test(h) ? 'high' : 'medium',
    });

  // Host reach, from the pod spec.
  const hostReach: HostReach[] = [];
  const high = (name: string) => hostReach.push({ name, risk: 'high' });
  if (spec.hostNetwork) high('hostNetwork');
  if (spec.hostPID) high('hostPID');
  if (spec.hostIPC) high('hostIPC');
  for (const c of containers) {
    if (c.securityContext?.privileged) high(`privileged container ${c.name}`);
    for (const cap of ((c.securityContext?.capabilities?.add ?? []) as string[]).map((x) =>
      String(x).replace(/^CAP_/, ''),
    ))
      hostReach.push({
        name: `capability ${cap} in container ${c.name}`,
        risk: RISKY_CAPS.has(cap) ? 'high' : 'low',
      });
  }
  hostReach.push(...runtimeSockets(hostPaths));
  addHostItems(items, hostReach, hostPaths, node, HOST_PATH_RISK);

  const graph = toGraph(me, items);
  const target: BlastTarget = {
    platform: 'kubernetes',
    name: me,
    namespace,
    pod: podName,
    node,
    serviceAccount: sa,
  };
  const b = {
    target,
    targets: [target],
    coLocated,
    reachable,
    exposedBy,
    permissions,
    secrets: secretList,
    hostPaths,
    hostAccess: hostReach.map((h) => h.name),
    items,
    graph,
    mermaid: toMermaid(graph),
    dot: toDot(graph),
  };
  return { ...b, score: blastScore('kubernetes', b) };
}

/**
 * The graph of a radius: one root per target (`roots`, of kind `rootKind`), an edge from the root an
 * item is reached from (its `from`, else the first root) to the item.
 */
export function toGraph(roots: string | string[], items: BlastItem[], rootKind = 'pod'): BlastGraph {
  const nodes = new Map<string, { id: string; kind: string; label: string }>();
  const add = (kind: string, label: string) => {
    const id = `${kind}:${label}`;
    if (!nodes.has(id)) nodes.set(id, { id, kind, label });
    return id;
  };
  const rootIds = new Map([roots].flat().map((r) => [r, add(rootKind, r)]));
  const first = [...rootIds.values()][0];
  const edges: BlastGraph['edges'] = [];
  for (const it of items) {
    const root = (it.from !== undefined ? rootIds.get(it.from) : undefined) ?? first;
    const id = add(it.kind, it.name);
    edges.push(
      it.relation === 'exposed-by'
        ? { from: id, to: root, relation: 'exposes' }
        : { from: root, to: id, relation: it.relation },
    );
  }
  return { nodes: [...nodes.values()], edges };
}

export function toMermaid(g: BlastGraph): string {
  const ids = new Map(g.nodes.map((n, i) => [n.id, `n${i}`]));
  const esc = (s: string) => s.replace(/"/g, "'");
  const lines = ['graph LR'];
  for (const n of g.nodes) lines.push(`  ${ids.get(n.id)}["${esc(`${n.kind}: ${n.label}`)}"]`);
  for (const e of g.edges) lines.push(`  ${ids.get(e.from)} -->|${e.relation}| ${ids.get(e.to)}`);
  return lines.join('\n');
}

export function toDot(g: BlastGraph): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['digraph blast {', '  rankdir=LR;'];
  for (const n of g.nodes) lines.push(`  ${q(n.id)} [label=${q(`${n.kind}: ${n.label}`)}];`);
  for (const e of g.edges) lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(e.relation)}];`);
  lines.push('}');
  return lines.join('\n');
}

/** The kinds blast radius reasons about. */
export const BLAST_KINDS: readonly KindRef[] = [
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'Namespace' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
];

/**
 * The objects blast radius needs, read from a live cluster (a kubeconfig) or through a lister.
 * A kind that cannot be listed (forbidden) narrows the view; the rest is still computed.
 */
export async function loadClusterObjects(from: KubeConfig | ClusterObjectLister): Promise<Obj[]> {
  const lister = from instanceof KubeConfig ? new KubernetesLister(from) : from;
  return (await lister.listAll(BLAST_KINDS)).objects;
}
