/**
 * What Kubernetes RBAC grants, beyond the rules written in a role: which resources are
 * cluster-scoped (a RoleBinding never grants them, whatever role it references), the built-in
 * ClusterRoles of the bootstrap policy (known even when the input does not list them), and
 * aggregated ClusterRoles (rules gathered from the ClusterRoles their selectors match).
 */
import { selectorMatches } from './k8s.js';
import type { K8sObject } from './types.js';

/**
 * Cluster-scoped resources of the Kubernetes API (subresources take their parent's scope). A
 * RoleBinding grants permissions inside its namespace only: the authorizer consults RoleBindings
 * only for requests that name a namespace, and requests on these never do. Impersonating users,
 * groups, UIDs and extra fields is cluster-scoped too; impersonating service accounts is not.
 */
export const CLUSTER_SCOPED_RESOURCES: ReadonlySet<string> = new Set([
  // core
  'nodes',
  'namespaces',
  'persistentvolumes',
  'componentstatuses',
  // impersonation targets
  'users',
  'groups',
  'uids',
  'userextras',
  // rbac.authorization.k8s.io
  'clusterroles',
  'clusterrolebindings',
  // admissionregistration.k8s.io
  'validatingwebhookconfigurations',
  'mutatingwebhookconfigurations',
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'mutatingadmissionpolicies',
  'mutatingadmissionpolicybindings',
  // certificates.k8s.io
  'certificatesigningrequests',
  'clustertrustbundles',
  'signers',
  // apiextensions.k8s.io, apiregistration.k8s.io
  'customresourcedefinitions',
  'apiservices',
  // storage.k8s.io
  'storageclasses',
  'csidrivers',
  'csinodes',
  'volumeattachments',
  'volumeattributesclasses',
  // scheduling, node, policy, flowcontrol, networking
  'priorityclasses',
  'runtimeclasses',
  'podsecuritypolicies',
  'flowschemas',
  'prioritylevelconfigurations',
  'ingressclasses',
  'ipaddresses',
  'servicecidrs',
  // authentication.k8s.io, authorization.k8s.io
  'tokenreviews',
  'selfsubjectreviews',
  'selfsubjectaccessreviews',
  'selfsubjectrulesreviews',
  'subjectaccessreviews',
  // resource.k8s.io, internal.apiserver.k8s.io
  'deviceclasses',
  'resourceslices',
  'storageversions',
]);

/** Whether a resource (or subresource, "nodes/proxy") is cluster-scoped. "*" is not: it names both. */
export function isClusterScopedResource(resource: string): boolean {
  const slash = resource.indexOf('/');
  return CLUSTER_SCOPED_RESOURCES.has(slash < 0 ? resource : resource.slice(0, slash));
}

// ---- Built-in ClusterRoles (Kubernetes RBAC bootstrap policy) ----

type Rule = [apiGroups: string[], resources: string[], verbs: string[]];

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const AGGREGATE = 'rbac.authorization.k8s.io/aggregate-to-';

function clusterRole(
  name: string,
  rules: Rule[],
  opts: { labels?: string[]; aggregateFrom?: string; nonResourceURLs?: [string[], string[]] } = {},
): K8sObject {
  const labels: Record<string, string> = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
  for (const l of opts.labels ?? []) labels[`${AGGREGATE}${l}`] = 'true';
  const out: K8sObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels },
    rules: rules.map(([apiGroups, resources, verbs]) => ({ apiGroups, resources, verbs })),
  };
  if (opts.nonResourceURLs)
    out.rules.push({ nonResourceURLs: opts.nonResourceURLs[0], verbs: opts.nonResourceURLs[1] });
  if (opts.aggregateFrom)
    out.aggregationRule = {
      clusterRoleSelectors: [{ matchLabels: { [`${AGGREGATE}${opts.aggregateFrom}`]: 'true' } }],
    };
  return deepFreeze(out);
}

/** Shared by every scan: read only. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * The ClusterRoles every cluster has, as the bootstrap policy defines them: admin, edit and view are
 * aggregated (their rules are those of the ClusterRoles labelled aggregate-to-admin, -edit, -view,
 * the system:aggregate-to-* roles among them); the system: roles kept are the short ones.
 */
export const BUILTIN_CLUSTER_ROLES: readonly K8sObject[] = Object.freeze([
  clusterRole('cluster-admin', [[['*'], ['*'], ['*']]], { nonResourceURLs: [['*'], ['*']] }),
  clusterRole('admin', [], { aggregateFrom: 'admin' }),
  clusterRole('edit', [], { aggregateFrom: 'edit', labels: ['admin'] }),
  clusterRole('view', [], { aggregateFrom: 'view', labels: ['edit'] }),
  clusterRole(
    'system:aggregate-to-admin',
    [
      [['authorization.k8s.io'], ['localsubjectaccessreviews'], ['create']],
      [['rbac.authorization.k8s.io'], ['rolebindings', 'roles'], ALL_VERBS],
    ],
    { labels: ['admin'] },
  ),
  clusterRole(
    'system:aggregate-to-edit',
    [
      [
        [''],
        ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy'],
        READ,
      ],
      [[''], ['serviceaccounts'], ['impersonate']],
      [[''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy'], WRITE],
      [[''], ['pods/eviction'], ['create']],
      [
        [''],
        [
          'configmaps',
          'events',
          'persistentvolumeclaims',
          'replicationcontrollers',
          'replicationcontrollers/scale',
          'secrets',
          'serviceaccounts',
          'services',
          'services/proxy',
        ],
        WRITE,
      ],
      [[''], ['serviceaccounts/token'], ['create']],
      [
        ['apps'],
        [
          'daemonsets',
          'deployments',
          'deployments/rollback',
          'deployments/scale',
          'replicasets',
          'replicasets/scale',
          'statefulsets',
          'statefulsets/scale',
        ],
        WRITE,
      ],
      [['autoscaling'], ['horizontalpodautoscalers'], WRITE],
      [['batch'], ['cronjobs', 'jobs'], WRITE],
      [
        ['extensions'],
        [
          'daemonsets',
          'deployments',
          'deployments/rollback',
          'deployments/scale',
          'ingresses',
          'networkpolicies',
          'replicasets',
          'replicasets/scale',
          'replicationcontrollers/scale',
        ],
        WRITE,
      ],
      [['policy'], ['poddisruptionbudgets'], WRITE],
      [['networking.k8s.io'], ['ingresses', 'networkpolicies'], WRITE],
      [['coordination.k8s.io'], ['leases'], ALL_VERBS],
    ],
    { labels: ['edit'] },
  ),
  clusterRole(
    'system:aggregate-to-view',
    [
      [
        [''],
        [
          'configmaps',
          'endpoints',
          'persistentvolumeclaims',
          'persistentvolumeclaims/status',
          'pods',
          'replicationcontrollers',
          'replicationcontrollers/scale',
          'serviceaccounts',
          'services',
          'services/status',
        ],
        READ,
      ],
      [
        [''],
        [
          'bindings',
          'events',
          'limitranges',
          'namespaces/status',
          'pods/log',
          'pods/status',
          'replicationcontrollers/status',
          'resourcequotas',
          'resourcequotas/status',
        ],
        READ,
      ],
      [[''], ['namespaces'], READ],
      [['discovery.k8s.io'], ['endpointslices'], READ],
      [
        ['apps'],
        [
          'controllerrevisions',
          'daemonsets',
          'daemonsets/status',
          'deployments',
          'deployments/scale',
          'deployments/status',
          'replicasets',
          'replicasets/scale',
          'replicasets/status',
          'statefulsets',
          'statefulsets/scale',
          'statefulsets/status',
        ],
        READ,
      ],
      [['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'], READ],
      [['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'], READ],
      [
        ['extensions'],
        [
          'daemonsets',
          'daemonsets/status',
          'deployments',
          'deployments/scale',
          'deployments/status',
          'ingresses',
          'ingresses/status',
          'networkpolicies',
          'replicasets',
          'replicasets/scale',
          'replicasets/status',
          'replicationcontrollers/scale',
        ],
        READ,
      ],
      [['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status'], READ],
      [['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies'], READ],
    ],
    { labels: ['view'] },
  ),
  clusterRole('system:basic-user', [
    [['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], ['create']],
    [['authentication.k8s.io'], ['selfsubjectreviews'], ['create']],
  ]),
  clusterRole('system:auth-delegator', [
    [['authentication.k8s.io'], ['tokenreviews'], ['create']],
    [['authorization.k8s.io'], ['subjectaccessreviews'], ['create']],
  ]),
  clusterRole('system:node-bootstrapper', [
    [['certificates.k8s.io'], ['certificatesigningrequests'], ['create', 'get', 'list', 'watch']],
  ]),
  clusterRole('system:kubelet-api-admin', [
    [[''], ['nodes'], ['get', 'list', 'watch']],
    [[''], ['nodes'], ['proxy']],
    [[''], ['nodes/log', 'nodes/metrics', 'nodes/proxy', 'nodes/stats'], ['*']],
  ]),
  clusterRole('system:discovery', [], {
    nonResourceURLs: [
      [
        '/api',
        '/api/*',
        '/apis',
        '/apis/*',
        '/healthz',
        '/livez',
        '/openapi',
        '/openapi/*',
        '/readyz',
        '/version',
        '/version/',
      ],
      ['get'],
    ],
  }),
  clusterRole('system:public-info-viewer', [], {
    nonResourceURLs: [['/healthz', '/livez', '/readyz', '/version', '/version/'], ['get']],
  }),
]);

const BUILTIN_BY_NAME: ReadonlyMap<string, K8sObject> = new Map(
  BUILTIN_CLUSTER_ROLES.map((r) => [String(r.metadata?.name), r]),
);

/** A built-in ClusterRole by name (undefined when the bootstrap policy has no such role here). */
export function builtinClusterRole(name: string): K8sObject | undefined {
  return BUILTIN_BY_NAME.get(name);
}

/**
 * The ClusterRoles that exist given the input's: the input's, and the built-in ones it does not
 * redefine (a cluster's own listing always wins).
 */
export function clusterRolesWithBuiltins(input: ReadonlyMap<string, K8sObject>): K8sObject[] {
  const out = [...input.values()];
  for (const r of BUILTIN_CLUSTER_ROLES) if (!input.has(String(r.metadata?.name))) out.push(r);
  return out;
}

function selectors(role: K8sObject): unknown[] {
  const s = role.aggregationRule?.clusterRoleSelectors;
  return Array.isArray(s) ? s : [];
}

/**
 * The rule objects of a ClusterRole, with those of every ClusterRole its aggregationRule selects
 * (which may aggregate in turn: admin gathers edit, which gathers view). The role's own rules are
 * kept: in a cluster's listing they already are the aggregate, and in a manifest they are what its
 * author meant. Each rule object appears once. Cached per role for the lifetime of `cache`.
 */
export function aggregatedRules(
  role: K8sObject,
  all: readonly K8sObject[],
  cache: Map<K8sObject, unknown[]>,
  visiting: Set<K8sObject> = new Set(),
): unknown[] {
  const done = cache.get(role);
  if (done) return done;
  const own = Array.isArray(role.rules) ? role.rules : [];
  const sels = selectors(role);
  if (sels.length === 0) return own;
  visiting.add(role);
  const seen = new Set<string>();
  const out: unknown[] = [];
  const add = (rules: unknown[]): void => {
    for (const r of rules) {
      const k = JSON.stringify(r);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(r);
    }
  };
  add(own);
  for (const other of all) {
    if (other === role || visiting.has(other)) continue;
    const l = other.metadata?.labels;
    const labels = l && typeof l === 'object' ? (l as Record<string, string>) : {};
    if (!sels.some((s) => s && typeof s === 'object' && selectorMatches(s as never, labels))) continue;
    add(aggregatedRules(other, all, cache, visiting));
  }
  visiting.delete(role);
  cache.set(role, out);
  return out;
}
