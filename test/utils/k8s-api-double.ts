/**
 * A small in-process Kubernetes API server for tests. It keeps the API's semantics for the resources
 * Vigie uses, so the real @kubernetes/client-node client (typed APIs, Watch, informers,
 * KubernetesObjectApi) can be driven against it:
 *
 * - list (resourceVersion, labelSelector, fieldSelector on metadata.name/namespace and spec.nodeName),
 *   watch (streaming JSON lines, from a resourceVersion, ADDED/MODIFIED/DELETED, an ERROR event with a
 *   410 Expired Status for a compacted resourceVersion), get, create (409 AlreadyExists, generateName),
 *   update (409 Conflict on a stale resourceVersion), patch (merge, strategic merge, JSON patch),
 *   delete (404 when missing), the pods/eviction subresource (policy/v1 Eviction), pods/log;
 * - Status objects for every error; metadata.uid, resourceVersion, creationTimestamp and generation
 *   maintained by the server;
 * - discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION, /version);
 * - fault injection: a status for a verb/resource (once, n times or always), dropping watches,
 *   compacting history so that old resourceVersions answer 410;
 * - authentication (bearer token → user and groups) and RBAC authorization of every resource request
 *   against the Roles, ClusterRoles and bindings stored in the double (./k8s-rbac.ts), with the API
 *   server's 403 Status and its escalation checks on RoleBindings and Roles. The default kubeconfig
 *   is an admin (group system:masters, which the API server lets do anything); a test asks for another
 *   identity with `kubeConfigFor` / `kubeConfigForServiceAccount`, whose requests RBAC decides.
 *
 * Not a conformance target: no admission, no field managers, no ownership garbage collection.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN,
  forbiddenMessage,
  RbacAuthorizer,
  ruleText,
  serviceAccountIdentity,
  type Identity,
  type RequestAttributes,
} from './k8s-rbac.js';

export { ADMIN, serviceAccountIdentity, type Identity, type RequestAttributes } from './k8s-rbac.js';

export type K8sObject = Record<string, any> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, any>;
};

interface ResourceDef {
  plural: string;
  kind: string;
  group: string; // '' for core
  version: string;
  namespaced: boolean;
  shortNames?: string[];
  subresources?: string[];
}

const RESOURCES: ResourceDef[] = [
  {
    plural: 'pods',
    kind: 'Pod',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['po'],
    subresources: ['eviction', 'log', 'status'],
  },
  { plural: 'services', kind: 'Service', group: '', version: 'v1', namespaced: true, shortNames: ['svc'] },
  {
    plural: 'namespaces',
    kind: 'Namespace',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['ns'],
  },
  {
    plural: 'nodes',
    kind: 'Node',
    group: '',
    version: 'v1',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
  },
  {
    plural: 'serviceaccounts',
    kind: 'ServiceAccount',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['sa'],
  },
  { plural: 'configmaps', kind: 'ConfigMap', group: '', version: 'v1', namespaced: true, shortNames: ['cm'] },
  { plural: 'secrets', kind: 'Secret', group: '', version: 'v1', namespaced: true },
  { plural: 'events', kind: 'Event', group: '', version: 'v1', namespaced: true, shortNames: ['ev'] },
  {
    plural: 'replicationcontrollers',
    kind: 'ReplicationController',
    group: '',
    version: 'v1',
    namespaced: true,
    shortNames: ['rc'],
    subresources: ['scale', 'status'],
  },
  { plural: 'podtemplates', kind: 'PodTemplate', group: '', version: 'v1', namespaced: true },
  {
    plural: 'deployments',
    kind: 'Deployment',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['deploy'],
    subresources: ['scale', 'status'],
  },
  {
    plural: 'replicasets',
    kind: 'ReplicaSet',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['rs'],
    subresources: ['scale', 'status'],
  },
  {
    plural: 'statefulsets',
    kind: 'StatefulSet',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['sts'],
    subresources: ['scale', 'status'],
  },
  {
    plural: 'daemonsets',
    kind: 'DaemonSet',
    group: 'apps',
    version: 'v1',
    namespaced: true,
    shortNames: ['ds'],
    subresources: ['status'],
  },
  { plural: 'jobs', kind: 'Job', group: 'batch', version: 'v1', namespaced: true, subresources: ['status'] },
  {
    plural: 'cronjobs',
    kind: 'CronJob',
    group: 'batch',
    version: 'v1',
    namespaced: true,
    shortNames: ['cj'],
    subresources: ['status'],
  },
  {
    plural: 'ingresses',
    kind: 'Ingress',
    group: 'networking.k8s.io',
    version: 'v1',
    namespaced: true,
    shortNames: ['ing'],
    subresources: ['status'],
  },
  {
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    group: 'networking.k8s.io',
    version: 'v1',
    namespaced: true,
    shortNames: ['netpol'],
  },
  { plural: 'roles', kind: 'Role', group: 'rbac.authorization.k8s.io', version: 'v1', namespaced: true },
  {
    plural: 'clusterroles',
    kind: 'ClusterRole',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: false,
  },
  {
    plural: 'rolebindings',
    kind: 'RoleBinding',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: true,
  },
  {
    plural: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    namespaced: false,
  },
  {
    plural: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    group: 'policy',
    version: 'v1',
    namespaced: true,
    shortNames: ['pdb'],
  },
  {
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    group: 'autoscaling',
    version: 'v2',
    namespaced: true,
    shortNames: ['hpa'],
    subresources: ['status'],
  },
  // metrics-server's API (read-only; a test puts PodMetrics and NodeMetrics objects in).
  { plural: 'pods', kind: 'PodMetrics', group: 'metrics.k8s.io', version: 'v1beta1', namespaced: true },
  { plural: 'nodes', kind: 'NodeMetrics', group: 'metrics.k8s.io', version: 'v1beta1', namespaced: false },
];

/** Where a resource's objects are kept: its plural, qualified when another group uses the same one. */
function storeName(r: ResourceDef): string {
  return r.group === 'metrics.k8s.io' ? `${r.plural}.${r.group}` : r.plural;
}

function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

function resourceByKind(apiVersion: string | undefined, kind: string | undefined): ResourceDef | undefined {
  return RESOURCES.find((r) => r.kind === kind && (!apiVersion || apiVersionOf(r) === apiVersion));
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'evict' | 'log';

export interface Fault {
  verb: Verb | '*';
  /** Plural resource name ('pods', 'networkpolicies', ...) or '*'. */
  resource: string;
  namespace?: string;
  name?: string;
  /** HTTP status to answer with: 403, 404, 409, 429, 500, ... */
  status: number;
  /** How many times to fire (default 1); Infinity for always. */
  times?: number;
  message?: string;
}

interface ChangeRecord {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  namespace?: string;
  object: K8sObject;
}

interface Watcher {
  plural: string;
  namespace?: string;
  selector: Selector;
  res: ServerResponse;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  verb: Verb;
  resource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  status: number;
  /** Who made the request and what RBAC was asked (resource requests only). */
  user?: string;
  authz?: RequestAttributes & { allowed: boolean };
  /** The `bind` or `escalate` check of an RBAC write by a caller outside system:masters. */
  escalation?: RequestAttributes & { allowed: boolean };
}

export interface ApiDouble {
  url: string;
  kubeconfigPath: string;
  /** The identity of `opts.user` (default: an admin, whose requests RBAC always allows). */
  kubeConfig: KubeConfig;
  /** A kubeconfig whose token authenticates as `identity`; its requests are authorized by RBAC. */
  kubeConfigFor(identity: Identity): KubeConfig;
  /** A kubeconfig for service account `namespace/name` (its token, as a mounted one would be). */
  kubeConfigForServiceAccount(namespace: string, name: string): KubeConfig;
  /** Deep copies of every stored object, with apiVersion and kind. */
  objects(): K8sObject[];
  /** One object (deep copy), or undefined. */
  find(kind: string, namespace: string | undefined, name: string): K8sObject | undefined;
  /** Server-side write that bypasses faults and preconditions (simulates a controller). */
  put(obj: K8sObject): K8sObject;
  /** Server-side delete; returns true when the object existed. */
  remove(kind: string, namespace: string | undefined, name: string): boolean;
  /** Inject a fault; returns a function removing it. */
  fault(f: Fault): () => void;
  /** Close every open watch stream (the client sees the connection end). */
  dropWatches(): number;
  /** Forget change history up to now: watches from an older resourceVersion get 410 Gone. */
  compact(): void;
  /** Text returned by pods/log. */
  setPodLog(namespace: string, name: string, text: string): void;
  /** Requests served so far. */
  requests: RequestLogEntry[];
  resourceVersion(): number;
  openWatches(): number;
  close(): Promise<void>;
}

export interface ApiDoubleOptions {
  /** Maximum change records kept for watches (older resourceVersions answer 410). */
  historyLimit?: number;
  /** Token of the default kubeconfig (it authenticates as `user`). */
  token?: string;
  /** Identity of the default kubeconfig's token (default ADMIN). */
  user?: Identity;
}

// ---------------------------------------------------------------- selectors

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };
type Selector = Requirement[];

/** Parse a label selector ("a=b,c!=d,e in (x,y),!f,g"). Throws on malformed input. */
export function parseLabelSelector(s: string | undefined | null): Selector {
  if (!s) return [];
  const out: Selector = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      out.push({ op: m[2] as 'in' | 'notin', key: m[1], values: m[3].split(',').map((v) => v.trim()) });
    } else if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p))) {
      out.push({ op: m[2] === '!=' ? 'neq' : 'eq', key: m[1], value: m[3] });
    } else if ((m = /^!\s*([\w./-]+)$/.exec(p))) {
      out.push({ op: 'notexists', key: m[1] });
    } else if ((m = /^([\w./-]+)$/.exec(p))) {
      out.push({ op: 'exists', key: m[1] });
    } else {
      throw new Error(`unable to parse requirement: "${p}"`);
    }
  }
  return out;
}

export function matchesSelector(labels: Record<string, string> | undefined, sel: Selector): boolean {
  const l = labels ?? {};
  for (const r of sel) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'eq':
        if (l[r.key] !== r.value) return false;
        break;
      case 'neq':
        if (has && l[r.key] === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(l[r.key])) return false;
        break;
      case 'notin':
        if (has && r.values.includes(l[r.key])) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
    }
  }
  return true;
}

const FIELD_PATHS: Record<string, (o: K8sObject) => unknown> = {
  'metadata.name': (o) => o.metadata?.name,
  'metadata.namespace': (o) => o.metadata?.namespace,
  'spec.nodeName': (o) => o.spec?.nodeName,
  'status.phase': (o) => o.status?.phase,
  'spec.serviceAccountName': (o) => o.spec?.serviceAccountName,
};

function fieldFilter(s: string | null): ((o: K8sObject) => boolean) | string {
  if (!s) return () => true;
  const reqs: { path: string; neg: boolean; value: string }[] = [];
  for (const p of s.split(',')) {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(p.trim());
    if (!m || !FIELD_PATHS[m[1]]) return `field label not supported: ${p}`;
    reqs.push({ path: m[1], neg: m[2] === '!=', value: m[3] });
  }
  return (o) => reqs.every((r) => (String(FIELD_PATHS[r.path](o) ?? '') === r.value) !== r.neg);
}

// ---------------------------------------------------------------- patches

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
const isObj = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, any> = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Merge keys of the list fields that strategic merge patch merges by key rather than replacing
 * (from the Kubernetes API's patchMergeKey tags, the ones a pod template uses).
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  tolerations: 'key',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
  finalizers: '',
};

/** Strategic merge patch, covering maps, keyed lists, `$patch: delete|replace` and null deletion. */
export function strategicMergePatch(target: unknown, patch: unknown, field?: string): unknown {
  if (Array.isArray(patch)) {
    const key = field !== undefined ? MERGE_KEYS[field] : undefined;
    if (key === undefined || !Array.isArray(target))
      return clone(patch.filter((p) => !(isObj(p) && p.$patch)));
    if (key === '') {
      // Primitive list with merge strategy (finalizers): union, keeping order.
      const out = [...target];
      for (const v of patch) if (!out.includes(v)) out.push(v);
      return out;
    }
    const out: any[] = clone(target);
    for (const item of patch) {
      if (!isObj(item)) continue;
      const idx = out.findIndex((t) => isObj(t) && t[key] === item[key]);
      if (item.$patch === 'delete') {
        if (idx >= 0) out.splice(idx, 1);
        continue;
      }
      if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item);
      else out.push(strategicMergePatch({}, item));
    }
    return out;
  }
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, any> = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (v === null) delete out[k];
    else {
      const merged = strategicMergePatch(out[k], v, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  return out;
}

class PatchError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

function decodePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer "${p}"`, 422);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations', 400);
  let root: any = clone(doc);
  const parentOf = (path: string[]): [any, string] => {
    let cur = root;
    for (const seg of path.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(seg)] : cur?.[seg];
      if (cur === undefined || cur === null) throw new PatchError(`path not found: /${path.join('/')}`, 422);
    }
    return [cur, path[path.length - 1]];
  };
  const get = (path: string[]): unknown => {
    let cur = root;
    for (const seg of path) {
      if (cur === undefined || cur === null) return undefined;
      cur = Array.isArray(cur) ? cur[Number(seg)] : cur[seg];
    }
    return cur;
  };
  const remove = (path: string[]): unknown => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!(i >= 0 && i < parent.length)) throw new PatchError(`index out of range: ${key}`, 422);
      return parent.splice(i, 1)[0];
    }
    if (!Object.prototype.hasOwnProperty.call(parent, key))
      throw new PatchError(`unable to remove nonexistent key: ${key}`, 422);
    const v = parent[key];
    delete parent[key];
    return v;
  };
  const add = (path: string[], value: unknown): void => {
    if (path.length === 0) {
      root = value;
      return;
    }
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!(i >= 0 && i <= parent.length)) throw new PatchError(`index out of range: ${key}`, 422);
      parent.splice(i, 0, value);
    } else if (isObj(parent)) parent[key] = value;
    else throw new PatchError(`cannot add to non-container at /${path.join('/')}`, 422);
  };
  for (const op of ops as Record<string, any>[]) {
    const path = decodePointer(String(op.path ?? ''));
    switch (op.op) {
      case 'add':
        add(path, clone(op.value));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        if (get(path) === undefined) throw new PatchError(`replace of missing path /${path.join('/')}`, 422);
        if (path.length === 0) root = clone(op.value);
        else {
          const [parent, key] = parentOf(path);
          parent[Array.isArray(parent) ? Number(key) : key] = clone(op.value);
        }
        break;
      case 'move': {
        const v = remove(decodePointer(String(op.from)));
        add(path, v);
        break;
      }
      case 'copy':
        add(path, clone(get(decodePointer(String(op.from)))));
        break;
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value))
          throw new PatchError(
            `the server rejected our request due to an error in our request: test failed at ${op.path}`,
            422,
          );
        break;
      default:
        throw new PatchError(`unknown json patch operation "${String(op.op)}"`, 400);
    }
  }
  return root;
}

// ---------------------------------------------------------------- server

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): K8sObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 300 ? 'Success' : 'Failure',
    message,
    reason,
    details,
    code,
  };
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

class HttpError extends Error {
  constructor(readonly body: K8sObject) {
    super(String(body.message));
  }
}

function fail(code: number, message: string, details?: Record<string, unknown>, reason?: string): never {
  throw new HttpError(status(code, reason ?? REASONS[code] ?? 'Unknown', message, details));
}

/** A list or watch restricted to one object by `fieldSelector=metadata.name=X` is authorized as that name. */
function nameFromFieldSelector(url: URL): string | undefined {
  const m = /^metadata\.name==?([^,]+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
  return m?.[1];
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function groupOf(r: ResourceDef): string {
  return r.group;
}

export async function startApiDouble(
  seed: K8sObject[] = [],
  opts: ApiDoubleOptions = {},
): Promise<ApiDouble> {
  const historyLimit = opts.historyLimit ?? 10_000;
  const store = new Map<string, K8sObject>();
  const history: ChangeRecord[] = [];
  /** Smallest resourceVersion from which a watch can still resume. */
  let oldestResumable = 0;
  let rv = 0;
  const watchers = new Set<Watcher>();
  const faults: (Fault & { left: number })[] = [];
  const podLogs = new Map<string, string>();
  const requests: RequestLogEntry[] = [];

  const keyOf = (plural: string, ns: string | undefined, name: string) => `${plural}/${ns ?? ''}/${name}`;

  const tokens = new Map<string, Identity>([[opts.token ?? 'double-token', opts.user ?? ADMIN]]);
  const authorizer = new RbacAuthorizer({
    list: (plural) => [...store.entries()].filter(([k]) => k.startsWith(plural + '/')).map(([, o]) => o),
  });

  /**
   * The API server's escalation prevention for RBAC writes: a binding needs `bind` on the role it
   * references or every permission that role grants; a role needs `escalate` or every permission it
   * lists. Checked before the object is stored (and before "already exists").
   */
  const checkEscalation = (
    caller: Identity,
    r: ResourceDef,
    obj: K8sObject,
    ns: string | undefined,
    log: RequestLogEntry,
  ): void => {
    if (r.group !== RBAC_GROUP || caller.groups.includes('system:masters')) return;
    const name = String(obj.metadata?.name ?? '');
    const scopeNs = r.namespaced ? ns : undefined;
    let requested;
    if (r.plural === 'rolebindings' || r.plural === 'clusterrolebindings') {
      const ref = (obj.roleRef ?? {}) as Record<string, any>;
      const bind: RequestAttributes = {
        verb: 'bind',
        apiGroup: RBAC_GROUP,
        resource: ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles',
        namespace: scopeNs,
        name: String(ref.name ?? ''),
      };
      const bindable = authorizer.allows(caller, bind);
      log.escalation = { ...bind, allowed: bindable };
      if (bindable) return;
      const refPlural = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
      if (!store.has(keyOf(refPlural, ref.kind === 'ClusterRole' ? undefined : scopeNs, String(ref.name))))
        fail(404, `${refPlural}.${RBAC_GROUP} "${String(ref.name)}" not found`, {
          name: ref.name,
          group: RBAC_GROUP,
          kind: refPlural,
        });
      requested = authorizer.roleRefRules(ref, scopeNs);
    } else {
      const esc: RequestAttributes = {
        verb: 'escalate',
        apiGroup: RBAC_GROUP,
        resource: r.plural,
        namespace: scopeNs,
        name,
      };
      const escalate = authorizer.allows(caller, esc);
      log.escalation = { ...esc, allowed: escalate };
      if (escalate) return;
      requested = (obj.rules ?? []) as Record<string, any>[];
    }
    const missing = RbacAuthorizer.missing(authorizer.rulesFor(caller, scopeNs), requested);
    if (missing.length)
      fail(
        403,
        `${r.plural}.${RBAC_GROUP} "${name}" is forbidden: user "${caller.user}" (groups=[${caller.groups
          .map((g) => JSON.stringify(g))
          .join(' ')}]) is attempting to grant RBAC permissions not currently held:\n${missing
          .map(ruleText)
          .join('\n')}`,
        { name, group: RBAC_GROUP, kind: r.plural },
      );
  };

  const record = (type: ChangeRecord['type'], r: ResourceDef, obj: K8sObject, prev?: K8sObject): void => {
    const rec: ChangeRecord = {
      rv,
      type,
      plural: storeName(r),
      namespace: obj.metadata?.namespace,
      object: clone(obj),
    };
    history.push(rec);
    if (history.length > historyLimit) {
      const dropped = history.shift()!;
      oldestResumable = dropped.rv;
    }
    for (const w of watchers) {
      if (w.plural !== storeName(r)) continue;
      if (w.namespace && w.namespace !== rec.namespace) continue;
      // As the real API server does for a filtered watch: an object leaving the selector is seen as
      // DELETED, one entering it as ADDED.
      const now = matchesSelector(obj.metadata?.labels, w.selector);
      const before = prev ? matchesSelector(prev.metadata?.labels, w.selector) : false;
      let t = type;
      if (type === 'MODIFIED') {
        if (!now && !before) continue;
        if (!now && before) t = 'DELETED';
        else if (now && !before) t = 'ADDED';
      } else if (!now) continue;
      w.res.write(JSON.stringify({ type: t, object: rec.object }) + '\n');
    }
  };

  const specOf = (o: K8sObject): string => {
    const rest: Record<string, unknown> = { ...o };
    delete rest.metadata;
    delete rest.status;
    delete rest.apiVersion;
    delete rest.kind;
    return JSON.stringify(rest);
  };

  /** Store a new or changed object, maintaining server-owned metadata. */
  const write = (r: ResourceDef, obj: K8sObject, prev: K8sObject | undefined): K8sObject => {
    rv++;
    const o = clone(obj);
    o.apiVersion = apiVersionOf(r);
    o.kind = r.kind;
    o.metadata = o.metadata ?? {};
    if (prev) {
      o.metadata.uid = prev.metadata!.uid;
      o.metadata.creationTimestamp = prev.metadata!.creationTimestamp;
      o.metadata.generation = (prev.metadata!.generation ?? 1) + (specOf(prev) !== specOf(o) ? 1 : 0);
    } else {
      o.metadata.uid = o.metadata.uid ?? randomUUID();
      o.metadata.creationTimestamp =
        o.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      o.metadata.generation = 1;
    }
    o.metadata.resourceVersion = String(rv);
    if (!r.namespaced) delete o.metadata.namespace;
    store.set(keyOf(storeName(r), o.metadata.namespace, o.metadata.name), o);
    record(prev ? 'MODIFIED' : 'ADDED', r, o, prev);
    return clone(o);
  };

  const del = (r: ResourceDef, existing: K8sObject): K8sObject => {
    rv++;
    store.delete(keyOf(storeName(r), existing.metadata!.namespace, existing.metadata!.name));
    const gone = clone(existing);
    gone.metadata!.resourceVersion = String(rv);
    record('DELETED', r, gone);
    return gone;
  };

  for (const obj of seed) {
    const r = resourceByKind(obj.apiVersion, obj.kind);
    if (!r) throw new Error(`api double seed: unknown kind ${obj.apiVersion}/${obj.kind}`);
    if (r.namespaced && !obj.metadata?.namespace) obj.metadata = { ...obj.metadata, namespace: 'default' };
    write(r, obj, undefined);
  }

  const takeFault = (verb: Verb, plural: string, ns?: string, name?: string): Fault | undefined => {
    for (const f of faults) {
      if (f.left <= 0) continue;
      if (f.verb !== '*' && f.verb !== verb) continue;
      if (f.resource !== '*' && f.resource !== plural) continue;
      if (f.namespace && f.namespace !== ns) continue;
      if (f.name && f.name !== name) continue;
      f.left--;
      return f;
    }
    return undefined;
  };

  const discoveryList = (group: string, version: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: RESOURCES.filter((r) => r.group === group && r.version === version).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        shortNames: r.shortNames,
      },
      ...(r.subresources ?? []).map((s) => ({
        name: `${r.plural}/${s}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: s === 'eviction' ? 'Eviction' : s === 'scale' ? 'Scale' : r.kind,
        verbs: s === 'eviction' ? ['create'] : s === 'log' ? ['get'] : ['get', 'patch', 'update'],
        ...(s === 'eviction' ? { group: 'policy', version: 'v1' } : {}),
        ...(s === 'scale' ? { group: 'autoscaling', version: 'v1' } : {}),
      })),
    ]),
  });

  const groups = [...new Set(RESOURCES.filter((r) => r.group).map(groupOf))];
  const groupVersion = (g: string): string => RESOURCES.find((r) => r.group === g)!.version;

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const send = (res: ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, log: RequestLogEntry): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://double');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization;
    const caller = auth?.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined;
    if (!caller) fail(401, 'Unauthorized');
    log.user = caller.user;

    // Discovery
    if (method === 'GET') {
      if (path === '/version')
        return send(res, 200, {
          major: '1',
          minor: '31',
          gitVersion: 'v1.31.0-vigie-double',
          platform: 'linux/amd64',
        });
      if (path === '/api')
        return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (path === '/apis')
        return send(res, 200, {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: groups.map((g) => {
            const v = groupVersion(g);
            return {
              name: g,
              versions: [{ groupVersion: `${g}/${v}`, version: v }],
              preferredVersion: { groupVersion: `${g}/${v}`, version: v },
            };
          }),
        });
      if (path === '/api/v1') return send(res, 200, discoveryList('', 'v1'));
      const gm = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
      if (gm) {
        const list = discoveryList(gm[1], gm[2]);
        if (list.resources.length === 0) fail(404, `the server could not find the requested resource`);
        return send(res, 200, list);
      }
      const gOnly = /^\/apis\/([^/]+)$/.exec(path);
      if (gOnly && groups.includes(gOnly[1]))
        return send(res, 200, {
          kind: 'APIGroup',
          apiVersion: 'v1',
          name: gOnly[1],
          versions: [
            { groupVersion: `${gOnly[1]}/${groupVersion(gOnly[1])}`, version: groupVersion(gOnly[1]) },
          ],
          preferredVersion: {
            groupVersion: `${gOnly[1]}/${groupVersion(gOnly[1])}`,
            version: groupVersion(gOnly[1]),
          },
        });
    }

    // Resource paths
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
    if (!m) fail(404, 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3];
    const segs = m[4].split('/').map(decodeURIComponent);
    let ns: string | undefined;
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    const isRes = (p: string | undefined) =>
      !!p && RESOURCES.some((r) => r.group === group && r.version === version && r.plural === p);
    if (segs[0] === 'namespaces' && segs.length >= 3 && isRes(segs[2])) {
      ns = segs[1];
      [plural, name, sub] = segs.slice(2);
    } else {
      [plural, name, sub] = segs;
    }
    const r = RESOURCES.find((x) => x.group === group && x.version === version && x.plural === plural);
    if (!r) fail(404, 'the server could not find the requested resource');
    log.resource = r.plural;
    log.namespace = ns;
    log.name = name;
    const details = { name, group: r.group || undefined, kind: r.plural };

    const watch = url.searchParams.get('watch');
    let verb: Verb;
    if (method === 'GET')
      verb = name ? (sub === 'log' ? 'log' : 'get') : watch === 'true' || watch === '1' ? 'watch' : 'list';
    else if (method === 'POST') verb = sub === 'eviction' ? 'evict' : 'create';
    else if (method === 'PUT') verb = 'update';
    else if (method === 'PATCH') verb = 'patch';
    else if (method === 'DELETE') verb = 'delete';
    else fail(405, `method ${method} not allowed`);
    log.verb = verb;

    // Authorization, before anything else about the request (as the API server's filter chain).
    const attrs: RequestAttributes = {
      verb:
        verb === 'evict'
          ? 'create'
          : verb === 'log'
            ? 'get'
            : verb === 'delete' && !name
              ? 'deletecollection'
              : verb,
      apiGroup: r.group,
      resource: r.plural,
      subresource: name ? sub : undefined,
      namespace: ns,
      name: name ?? (verb === 'list' || verb === 'watch' ? nameFromFieldSelector(url) : undefined),
    };
    const allowed = authorizer.allows(caller, attrs);
    log.authz = { ...attrs, allowed };
    if (!allowed)
      fail(403, forbiddenMessage(caller, attrs), {
        name: attrs.name,
        group: r.group || undefined,
        kind: r.plural,
      });

    const f = takeFault(verb, r.plural, ns, name);
    if (f) {
      const reasons: Record<number, string> = {
        403: 'Forbidden',
        404: 'NotFound',
        409: 'Conflict',
        429: 'TooManyRequests',
      };
      const msg =
        f.message ??
        (f.status === 403
          ? forbiddenMessage(caller, attrs)
          : f.status === 409
            ? `Operation cannot be fulfilled on ${r.plural} "${name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`
            : f.status === 404
              ? `${r.plural} "${name ?? ''}" not found`
              : `injected fault ${f.status}`);
      fail(f.status, msg, details, reasons[f.status]);
    }

    if (r.namespaced && !ns && name) fail(404, 'the server could not find the requested resource');
    const dryRun = url.searchParams.get('dryRun') === 'All';
    const key = name ? keyOf(storeName(r), ns, name) : '';
    const existing = name ? store.get(key) : undefined;
    const notFound: () => never = () =>
      fail(404, `${r.plural}${r.group ? '.' + r.group : ''} "${name}" not found`, details);

    if (verb === 'list' || verb === 'watch') {
      let selector: Selector;
      try {
        selector = parseLabelSelector(url.searchParams.get('labelSelector'));
      } catch (e) {
        fail(400, `unable to parse requirement: ${(e as Error).message}`);
      }
      const ff = fieldFilter(url.searchParams.get('fieldSelector'));
      if (typeof ff === 'string') fail(400, ff);
      const matches = (o: K8sObject) =>
        (!ns || o.metadata?.namespace === ns) && matchesSelector(o.metadata?.labels, selector) && ff(o);
      const items = [...store.entries()]
        .filter(([k]) => k.startsWith(storeName(r) + '/'))
        .map(([, o]) => o)
        .filter(matches)
        .sort((a, b) =>
          `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
            `${b.metadata?.namespace}/${b.metadata?.name}`,
          ),
        );
      if (verb === 'list') {
        return send(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: apiVersionOf(r),
          metadata: { resourceVersion: String(rv) },
          items: items.map((o) => {
            const c = clone(o);
            delete c.kind;
            delete c.apiVersion;
            return c;
          }),
        });
      }
      // watch
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      // Clients wait for the headers before they start reading the stream.
      res.flushHeaders();
      const fromParam = url.searchParams.get('resourceVersion');
      const from = fromParam && fromParam !== '0' ? Number(fromParam) : undefined;
      if (from !== undefined && (!Number.isFinite(from) || from < oldestResumable)) {
        res.end(
          JSON.stringify({
            type: 'ERROR',
            object: status(410, 'Expired', `too old resource version: ${fromParam} (${oldestResumable + 1})`),
          }) + '\n',
        );
        return;
      }
      if (from === undefined) {
        for (const o of items) res.write(JSON.stringify({ type: 'ADDED', object: o }) + '\n');
      } else {
        for (const h of history) {
          if (h.rv <= from || h.plural !== storeName(r)) continue;
          if (ns && h.namespace !== ns) continue;
          if (!matchesSelector(h.object.metadata?.labels, selector) || !ff(h.object)) continue;
          res.write(JSON.stringify({ type: h.type, object: h.object }) + '\n');
        }
      }
      const w: Watcher = { plural: storeName(r), namespace: ns, selector, res };
      watchers.add(w);
      const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
      const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
      res.on('close', () => {
        watchers.delete(w);
        if (timer) clearTimeout(timer);
      });
      return;
    }

    if (verb === 'get') {
      if (!existing) notFound();
      if (sub === 'scale') return send(res, 200, scaleOf(r, existing));
      return send(res, 200, existing);
    }

    if (verb === 'log') {
      if (!existing) notFound();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(podLogs.get(`${ns}/${name}`) ?? '');
      return;
    }

    const rawBody = await readBody(req);
    let body: any = undefined;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch (e) {
        fail(400, `error decoding request body: ${(e as Error).message}`);
      }
    }

    if (verb === 'create') {
      if (!isObj(body)) fail(400, 'request body must be an object');
      if (name) fail(405, 'POST on a named resource is not allowed');
      const objNs = r.namespaced ? (body.metadata?.namespace ?? ns) : undefined;
      if (r.namespaced && ns && body.metadata?.namespace && body.metadata.namespace !== ns)
        fail(400, 'the namespace of the provided object does not match the namespace sent on the request');
      if (body.kind && body.kind !== r.kind)
        fail(400, `the kind of the body (${body.kind}) does not match ${r.kind}`);
      const meta = { ...(body.metadata ?? {}) };
      if (!meta.name && meta.generateName)
        meta.name = meta.generateName + Math.random().toString(36).slice(2, 7);
      if (!meta.name)
        fail(422, `${r.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
      if (r.namespaced) {
        if (!objNs) fail(400, 'a namespace is required');
        if (
          r.plural !== 'namespaces' &&
          !store.has(keyOf('namespaces', undefined, objNs)) &&
          objNs !== 'default'
        )
          fail(404, `namespaces "${objNs}" not found`, { name: objNs, kind: 'namespaces' });
        meta.namespace = objNs;
      }
      delete meta.resourceVersion;
      checkEscalation(caller, r, { ...body, metadata: meta }, meta.namespace, log);
      const k = keyOf(storeName(r), meta.namespace, meta.name);
      if (store.has(k))
        fail(
          409,
          `${r.plural}${r.group ? '.' + r.group : ''} "${meta.name}" already exists`,
          { ...details, name: meta.name },
          'AlreadyExists',
        );
      const toStore = { ...body, metadata: meta };
      if (dryRun) return send(res, 201, { ...toStore, apiVersion: apiVersionOf(r), kind: r.kind });
      return send(res, 201, write(r, toStore, undefined));
    }

    if (verb === 'evict') {
      if (r.plural !== 'pods') fail(404, 'the server could not find the requested resource');
      if (!existing) notFound();
      if (!isObj(body) || body.kind !== 'Eviction') fail(400, 'body must be a policy/v1 Eviction');
      if (body.metadata?.name && body.metadata.name !== name)
        fail(400, 'name in URL does not match name in Eviction object');
      // PodDisruptionBudgets: refuse when a PDB selecting the pod has no disruption left.
      for (const [k, pdb] of store) {
        if (!k.startsWith(`poddisruptionbudgets/${ns}/`)) continue;
        const sel = pdb.spec?.selector?.matchLabels as Record<string, string> | undefined;
        if (!sel || !Object.entries(sel).every(([a, b]) => existing.metadata?.labels?.[a] === b)) continue;
        if ((pdb.status?.disruptionsAllowed ?? 0) <= 0)
          fail(
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.",
            details,
            'TooManyRequests',
          );
      }
      if (!dryRun) del(r, existing);
      return send(res, 201, status(201, '', '', { ...details }));
    }

    if (verb === 'update') {
      if (!existing) notFound();
      if (!isObj(body)) fail(400, 'request body must be an object');
      const wantRv = body.metadata?.resourceVersion;
      if (wantRv && wantRv !== existing.metadata?.resourceVersion)
        fail(
          409,
          `Operation cannot be fulfilled on ${r.plural}${r.group ? '.' + r.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          details,
        );
      if (body.metadata?.name && body.metadata.name !== name)
        fail(400, 'the name of the object does not match the name on the URL');
      let next: K8sObject;
      if (sub === 'status') next = { ...existing, status: body.status };
      else if (sub === 'scale')
        next = { ...existing, spec: { ...existing.spec, replicas: body.spec?.replicas } };
      else
        next = {
          ...body,
          status: body.status ?? existing.status,
          metadata: { ...body.metadata, namespace: existing.metadata?.namespace },
        };
      checkEscalation(caller, r, next, ns, log);
      if (dryRun) return send(res, 200, next);
      const stored = write(r, next, existing);
      return send(res, 200, sub === 'scale' ? scaleOf(r, stored) : stored);
    }

    if (verb === 'patch') {
      if (!existing) notFound();
      const ct = (req.headers['content-type'] ?? '').split(';')[0].trim();
      log.contentType = ct;
      const base = sub === 'scale' ? scaleOf(r, existing) : existing;
      let next: any;
      try {
        if (ct === 'application/merge-patch+json') next = mergePatch(base, body);
        else if (ct === 'application/strategic-merge-patch+json') next = strategicMergePatch(base, body);
        else if (ct === 'application/json-patch+json') next = jsonPatch(base, body);
        else if (ct === 'application/apply-patch+yaml')
          fail(415, 'server-side apply is not supported by this double');
        else
          fail(
            415,
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
          );
      } catch (e) {
        if (e instanceof PatchError) fail(e.code, e.message);
        throw e;
      }
      if (!isObj(next)) fail(422, 'patch result is not an object');
      const wantRv = next.metadata?.resourceVersion;
      if (wantRv && wantRv !== existing.metadata?.resourceVersion)
        fail(
          409,
          `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          details,
        );
      if (next.metadata?.name !== name || (r.namespaced && next.metadata?.namespace !== ns))
        fail(422, 'metadata.name and metadata.namespace cannot be changed by a patch');
      if (sub === 'scale') next = { ...existing, spec: { ...existing.spec, replicas: next.spec?.replicas } };
      else if (sub === 'status') next = { ...existing, status: next.status };
      checkEscalation(caller, r, next, ns, log);
      if (dryRun) return send(res, 200, next);
      const stored = write(r, next, existing);
      return send(res, 200, sub === 'scale' ? scaleOf(r, stored) : stored);
    }

    if (verb === 'delete') {
      if (!existing) notFound();
      const pre = isObj(body) ? body.preconditions : undefined;
      if (pre?.uid && pre.uid !== existing.metadata?.uid)
        fail(
          409,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata?.uid}`,
          details,
        );
      if (pre?.resourceVersion && pre.resourceVersion !== existing.metadata?.resourceVersion)
        fail(409, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}`, details);
      if (dryRun) return send(res, 200, existing);
      const gone = del(r, existing);
      // Pods and most kinds return the object; RBAC and a few others return a Status.
      if (r.group === 'rbac.authorization.k8s.io' || r.plural === 'services' || r.plural === 'namespaces')
        return send(res, 200, { ...status(200, '', ''), details: { ...details, uid: gone.metadata?.uid } });
      return send(res, 200, gone);
    }
    fail(405, 'method not allowed');
  };

  function scaleOf(r: ResourceDef, o: K8sObject): K8sObject {
    if (!['deployments', 'replicasets', 'statefulsets'].includes(r.plural))
      fail(404, 'the server could not find the requested resource');
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: o.metadata?.name,
        namespace: o.metadata?.namespace,
        uid: o.metadata?.uid,
        resourceVersion: o.metadata?.resourceVersion,
        creationTimestamp: o.metadata?.creationTimestamp,
      },
      spec: { replicas: o.spec?.replicas ?? 1 },
      status: { replicas: o.status?.replicas ?? 0 },
    };
  }

  const server = createServer((req, res) => {
    const log: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      verb: 'get',
      status: 200,
    };
    requests.push(log);
    if (requests.length > 10_000) requests.shift();
    handle(req, res, log)
      .then(() => {
        log.status = res.statusCode;
      })
      .catch((e: unknown) => {
        const body =
          e instanceof HttpError ? e.body : status(500, 'InternalError', String((e as Error)?.stack ?? e));
        log.status = Number(body.code);
        if (!res.headersSent) send(res, Number(body.code), body);
        else res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'vigie-k8s-double-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  const kubeconfigText = (token: string): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: double',
      '  cluster:',
      `    server: ${url}`,
      // client-node refuses plain http unless TLS verification is explicitly skipped.
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: vigie',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: double',
      '  context:',
      '    cluster: double',
      '    user: vigie',
      '    namespace: default',
      'current-context: double',
      '',
    ].join('\n');
  writeFileSync(kubeconfigPath, kubeconfigText(opts.token ?? 'double-token'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const kubeConfigFor = (identity: Identity): KubeConfig => {
    const token = `double-${randomUUID()}`;
    tokens.set(token, identity);
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText(token));
    return kc;
  };

  const findDef = (kind: string) => RESOURCES.find((r) => r.kind === kind || r.plural === kind);

  return {
    url,
    kubeconfigPath,
    kubeConfig,
    kubeConfigFor,
    kubeConfigForServiceAccount: (namespace, name) => kubeConfigFor(serviceAccountIdentity(namespace, name)),
    requests,
    objects: () => [...store.values()].map(clone),
    find(kind, namespace, name) {
      const r = findDef(kind);
      if (!r) throw new Error(`unknown kind ${kind}`);
      return clone(store.get(keyOf(storeName(r), r.namespaced ? namespace : undefined, name)));
    },
    put(obj) {
      const r = resourceByKind(obj.apiVersion, obj.kind);
      if (!r) throw new Error(`unknown kind ${obj.apiVersion}/${obj.kind}`);
      const ns = r.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
      const o: K8sObject = { ...obj, metadata: { ...obj.metadata, namespace: ns } };
      return write(r, o, store.get(keyOf(storeName(r), ns, o.metadata!.name)));
    },
    remove(kind, namespace, name) {
      const r = findDef(kind);
      if (!r) throw new Error(`unknown kind ${kind}`);
      const existing = store.get(keyOf(storeName(r), r.namespaced ? namespace : undefined, name));
      if (!existing) return false;
      del(r, existing);
      return true;
    },
    fault(f) {
      const entry = { ...f, left: f.times ?? 1 };
      faults.push(entry);
      return () => {
        entry.left = 0;
      };
    },
    dropWatches() {
      const n = watchers.size;
      for (const w of [...watchers]) {
        w.res.destroy();
        watchers.delete(w);
      }
      return n;
    },
    compact() {
      oldestResumable = rv;
      history.length = 0;
    },
    setPodLog(namespace, name, text) {
      podLogs.set(`${namespace}/${name}`, text);
    },
    resourceVersion: () => rv,
    openWatches: () => watchers.size,
    async close() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
