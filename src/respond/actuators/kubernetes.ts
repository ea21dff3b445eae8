/**
 * Kubernetes actuator (through @kubernetes/client-node): quarantine label, network isolation with a
 * deny-all NetworkPolicy, scale to zero, evict or delete a pod (forensics first), cordon a node,
 * remove a risky RoleBinding. Every action reads the previous state first and its rollback puts that
 * exact state back (labels and annotations key by key, replicas, the binding recreated, the policy
 * removed). Rollback is idempotent, because the engine also uses it for actions a restart interrupted.
 *
 * API errors: 409 (conflict) is retried after re-reading; 429/5xx retried with a short backoff;
 * 404 becomes "... no longer exists (...)" (the engine then does not try to undo); 403 is reported
 * with the API server's reason.
 */
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1NetworkPolicy,
  type V1Pod,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { ActionRecord, ActionTarget, ActionType } from '../../model/action.js';
import type { Actuator, ActuatorResult } from '../types.js';

export const QUARANTINE_LABEL = 'vigie.io/quarantine';
export const QUARANTINE_REASON = 'vigie.io/quarantine-reason';
export const QUARANTINE_AT = 'vigie.io/quarantined-at';
export const ISOLATE_LABEL = 'vigie.io/isolated';
export const SCALED_FROM = 'vigie.io/scaled-from';

const SUPPORTED: readonly ActionType[] = [
  'capture_evidence',
  'label',
  'k8s_isolate',
  'scale_zero',
  'evict',
  'delete_pod',
  'cordon',
  'remove_rolebinding',
  'k8s_limit',
];

/** ClusterRoles whose binding to a workload identity is a risk on its own. */
const RISKY_ROLES = new Set(['cluster-admin', 'admin', 'edit', 'system:masters']);
const LOG_BYTES = 64 * 1024;

export interface KubernetesActuatorOptions {
  kubeconfig?: string;
  kubeConfig?: KubeConfig;
  /** Namespaces never acted on unless a policy step sets `allowProtectedNamespace: true`. */
  protectedNamespaces?: string[];
  /** Vigie's own namespace (protected too). Default $VIGIE_NAMESPACE or "vigie". */
  ownNamespace?: string;
  /** Retries for 409/429/5xx (default 4). */
  retries?: number;
  retryDelayMs?: number;
}

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly reason: string | undefined,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

interface ApiErrorInfo {
  code?: number;
  reason?: string;
  message: string;
}

export function apiError(err: unknown): ApiErrorInfo {
  const e = err as { code?: number; statusCode?: number; body?: unknown; message?: string };
  let body: Record<string, unknown> | undefined;
  if (typeof e?.body === 'string') {
    try {
      body = JSON.parse(e.body) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
  } else if (e?.body && typeof e.body === 'object') body = e.body as Record<string, unknown>;
  const code = typeof e?.code === 'number' ? e.code : e?.statusCode;
  return {
    code,
    reason: typeof body?.reason === 'string' ? body.reason : undefined,
    message: typeof body?.message === 'string' ? body.message : (e?.message ?? String(err)),
  };
}

/** Snapshot of a pod target: what guards read, what rollback needs. */
export interface PodSnapshot {
  kind: 'pod';
  name: string;
  namespace: string;
  uid?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  nodeName?: string;
  serviceAccount: string;
  phase?: string;
  owner?: { kind: string; name: string };
  /** Top-level scalable workload (Deployment via its ReplicaSet, StatefulSet, ReplicaSet). */
  workload?: { kind: string; name: string; replicas?: number; annotations: Record<string, string> };
  node?: { name: string; unschedulable: boolean };
  /** RoleBindings in the pod's namespace that bind its service account. */
  bindings: Record<string, unknown>[];
  /** The pod object without status noise, enough to recreate a bare pod. */
  manifest?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function isolationPolicyName(pod: string): string {
  const base = `vigie-isolate-${pod}`;
  if (base.length <= 63) return base;
  return `${base.slice(0, 54)}-${createHash('sha256').update(pod).digest('hex').slice(0, 8)}`;
}
function isolationLabelValue(ns: string, pod: string): string {
  return createHash('sha256').update(`${ns}/${pod}`).digest('hex').slice(0, 16);
}

/** Strip server-owned fields so an object can be created again. */
function recreatable<T extends { metadata?: Record<string, any> }>(o: T): T {
  const c = JSON.parse(JSON.stringify(o)) as T & { status?: unknown };
  if (c.metadata) {
    for (const k of [
      'uid',
      'resourceVersion',
      'creationTimestamp',
      'generation',
      'managedFields',
      'selfLink',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
    ])
      delete c.metadata[k];
  }
  delete c.status;
  return c;
}

export class KubernetesActuator implements Actuator {
  readonly name = 'kubernetes';
  readonly platform = 'kubernetes' as const;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly net: NetworkingV1Api;
  private readonly rbac: RbacAuthorizationV1Api;
  private readonly protectedNs: string[];
  private readonly retries: number;
  private readonly retryDelayMs: number;
  /** Every API error met, with its reason: visible in records and tests. */
  readonly errors: ApiErrorInfo[] = [];

  constructor(opts: KubernetesActuatorOptions) {
    const kc = opts.kubeConfig ?? new KubeConfig();
    if (!opts.kubeConfig) {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    }
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.net = kc.makeApiClient(NetworkingV1Api);
    this.rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const own = opts.ownNamespace ?? process.env.VIGIE_NAMESPACE ?? 'vigie';
    this.protectedNs = [...new Set([...(opts.protectedNamespaces ?? ['kube-system']), own])];
    this.retries = opts.retries ?? 4;
    this.retryDelayMs = opts.retryDelayMs ?? 100;
  }

  supports(action: ActionType): boolean {
    return SUPPORTED.includes(action);
  }

  /**
   * Run one API call: 409/429/5xx retried (with `onConflict` re-reading first), 404 and 403 turned
   * into errors that say what vanished or what was refused, with the API server's message.
   */
  private async call<T>(what: string, fn: () => Promise<T>, onConflict?: () => Promise<void>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const info = apiError(err);
        this.errors.push(info);
        const retriable =
          info.code === 409 || info.code === 429 || (info.code !== undefined && info.code >= 500);
        if (retriable && info.reason !== 'AlreadyExists' && attempt < this.retries) {
          if (info.code === 409 && onConflict) await onConflict();
          await sleep(this.retryDelayMs * 2 ** attempt);
          continue;
        }
        if (info.code === 404)
          throw new KubeApiError(
            `${what}: no longer exists (404 ${info.reason ?? 'NotFound'}: ${info.message})`,
            404,
            info.reason,
          );
        if (info.code === 403)
          throw new KubeApiError(`${what}: forbidden (403: ${info.message})`, 403, info.reason);
        throw new KubeApiError(
          `${what}: ${info.code ?? 'error'} ${info.reason ?? ''} ${info.message}`.replace(/\s+/g, ' '),
          info.code,
          info.reason,
        );
      }
    }
  }

  private podRef(target: ActionTarget): { namespace: string; name: string } {
    if (target.kind !== 'pod')
      throw new Error(`kubernetes actuator: target kind ${target.kind} is not a pod`);
    const [nsFromId, nameFromId] = target.id.includes('/') ? target.id.split('/', 2) : [undefined, target.id];
    return { namespace: target.namespace ?? nsFromId ?? 'default', name: target.name ?? nameFromId };
  }

  async inspect(target: ActionTarget): Promise<PodSnapshot | Record<string, unknown>> {
    if (target.kind === 'node') {
      const node = await this.call(`node ${target.id}`, () =>
        this.core.readNode({ name: target.name ?? target.id }),
      );
      return {
        kind: 'node',
        name: node.metadata?.name,
        labels: node.metadata?.labels ?? {},
        unschedulable: node.spec?.unschedulable === true,
      };
    }
    if (target.kind === 'rolebinding') {
      const [namespace, name] = target.id.split('/', 2);
      const rb = await this.call(`rolebinding ${target.id}`, () =>
        this.rbac.readNamespacedRoleBinding({ name, namespace }),
      );
      return {
        kind: 'rolebinding',
        name,
        namespace,
        labels: rb.metadata?.labels ?? {},
        binding: recreatable(rb),
      };
    }
    const { namespace, name } = this.podRef(target);
    const pod = await this.call(`pod ${namespace}/${name}`, () =>
      this.core.readNamespacedPod({ name, namespace }),
    );
    return this.snapshot(pod);
  }

  private async snapshot(pod: V1Pod): Promise<PodSnapshot> {
    const namespace = pod.metadata!.namespace ?? 'default';
    const owner =
      pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
    const snap: PodSnapshot = {
      kind: 'pod',
      name: pod.metadata!.name!,
      namespace,
      uid: pod.metadata?.uid,
      labels: { ...(pod.metadata?.labels ?? {}) },
      annotations: { ...(pod.metadata?.annotations ?? {}) },
      nodeName: pod.spec?.nodeName,
      serviceAccount: pod.spec?.serviceAccountName ?? 'default',
      phase: pod.status?.phase,
      owner: owner ? { kind: owner.kind, name: owner.name } : undefined,
      bindings: [],
      manifest: recreatable(pod) as unknown as Record<string, unknown>,
    };
    // Each lookup below is best effort: a missing owner or a forbidden read must not stop inspection.
    try {
      if (owner?.kind === 'ReplicaSet') {
        const rs = await this.apps.readNamespacedReplicaSet({ name: owner.name, namespace });
        const dep = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment');
        if (dep) {
          const d = await this.apps.readNamespacedDeployment({ name: dep.name, namespace });
          snap.workload = {
            kind: 'Deployment',
            name: dep.name,
            replicas: d.spec?.replicas ?? 1,
            annotations: { ...(d.metadata?.annotations ?? {}) },
          };
        } else
          snap.workload = {
            kind: 'ReplicaSet',
            name: owner.name,
            replicas: rs.spec?.replicas ?? 1,
            annotations: { ...(rs.metadata?.annotations ?? {}) },
          };
      } else if (owner?.kind === 'StatefulSet') {
        const s = await this.apps.readNamespacedStatefulSet({ name: owner.name, namespace });
        snap.workload = {
          kind: 'StatefulSet',
          name: owner.name,
          replicas: s.spec?.replicas ?? 1,
          annotations: { ...(s.metadata?.annotations ?? {}) },
        };
      } else if (owner) snap.workload = { kind: owner.kind, name: owner.name, annotations: {} };
    } catch (err) {
      this.errors.push(apiError(err));
    }
    if (snap.nodeName) {
      try {
        const node = await this.core.readNode({ name: snap.nodeName });
        snap.node = { name: snap.nodeName, unschedulable: node.spec?.unschedulable === true };
      } catch (err) {
        this.errors.push(apiError(err));
      }
    }
    try {
      const rbs = await this.rbac.listNamespacedRoleBinding({ namespace });
      snap.bindings = rbs.items
        .filter((rb) =>
          rb.subjects?.some(
            (s) =>
              s.kind === 'ServiceAccount' &&
              s.name === snap.serviceAccount &&
              (s.namespace ?? namespace) === namespace,
          ),
        )
        .map(
          (rb) =>
            recreatable({
              ...rb,
              apiVersion: 'rbac.authorization.k8s.io/v1',
              kind: 'RoleBinding',
            }) as unknown as Record<string, unknown>,
        );
    } catch (err) {
      this.errors.push(apiError(err));
    }
    return snap;
  }

  private guard(namespace: string | undefined, params: Record<string, unknown>): void {
    if (namespace && this.protectedNs.includes(namespace) && params.allowProtectedNamespace !== true)
      throw new KubeApiError(
        `refused: namespace ${namespace} is protected (Kubernetes system or Vigie's own); a policy must set allowProtectedNamespace: true`,
        undefined,
        'Protected',
      );
  }

  async execute(
    action: ActionType,
    target: ActionTarget,
    params: Record<string, unknown>,
  ): Promise<ActuatorResult> {
    if (!this.supports(action)) throw new Error(`kubernetes actuator does not support ${action}`);
    if (target.kind === 'node') {
      if (action !== 'cordon') throw new Error(`${action} needs a pod target, got a node`);
      return this.cordonNode(target.name ?? target.id);
    }
    if (target.kind === 'rolebinding') {
      if (action !== 'remove_rolebinding') throw new Error(`${action} needs a pod target, got a rolebinding`);
      const [namespace, name] = target.id.split('/', 2);
      this.guard(namespace, params);
      return this.removeBindings(namespace, [name], (await this.inspect(target)) as Record<string, unknown>);
    }
    const { namespace, name } = this.podRef(target);
    this.guard(namespace, params);
    const before = (await this.inspect(target)) as PodSnapshot;
    switch (action) {
      case 'capture_evidence': {
        const evidence = await this.forensics(before);
        return { stateBefore: before, stateAfter: before, verified: true, evidence };
      }
      case 'label':
        return this.quarantine(before, params);
      case 'k8s_isolate':
        return this.isolate(before, params);
      case 'scale_zero':
        return this.scaleZero(before);
      case 'evict':
      case 'delete_pod': {
        const evidence = params.forensics === false ? undefined : await this.forensics(before);
        if (action === 'evict') {
          await this.call(`evict pod ${namespace}/${name}`, () =>
            this.core.createNamespacedPodEviction({
              name,
              namespace,
              body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
            }),
          );
        } else {
          const grace = typeof params.gracePeriodSeconds === 'number' ? params.gracePeriodSeconds : undefined;
          await this.call(`delete pod ${namespace}/${name}`, () =>
            this.core.deleteNamespacedPod({
              name,
              namespace,
              gracePeriodSeconds: grace,
              body: { preconditions: { uid: before.uid } },
            }),
          );
        }
        const gone = await this.core.readNamespacedPod({ name, namespace }).then(
          (p) => p.metadata?.uid !== before.uid,
          (err) => apiError(err).code === 404,
        );
        return {
          stateBefore: before,
          stateAfter: { kind: 'pod', name, namespace, deleted: gone },
          verified: gone,
          evidence,
        };
      }
      case 'cordon': {
        if (!before.nodeName)
          throw new Error(`pod ${namespace}/${name} is not scheduled on a node; nothing to cordon`);
        const res = await this.cordonNode(before.nodeName);
        return { ...res, stateBefore: { ...before, node: res.stateBefore } };
      }
      case 'k8s_limit':
        return this.limit(before, params);
      case 'remove_rolebinding': {
        const names =
          typeof params.name === 'string'
            ? [params.name]
            : before.bindings
                .filter((b) => {
                  const ref = (b as { roleRef?: { name?: string } }).roleRef;
                  return params.all === true || RISKY_ROLES.has(ref?.name ?? '');
                })
                .map((b) => (b as { metadata: { name: string } }).metadata.name);
        if (names.length === 0)
          throw new Error(`no risky RoleBinding binds service account ${namespace}/${before.serviceAccount}`);
        return this.removeBindings(namespace, names, before as unknown as Record<string, unknown>);
      }
      default:
        throw new Error(`kubernetes actuator does not support ${action}`);
    }
  }

  /** Pod object, recent logs of each container and the events about it. */
  private async forensics(snap: PodSnapshot): Promise<Record<string, unknown>> {
    const { namespace, name } = snap;
    const pod = await this.call(`pod ${namespace}/${name}`, () =>
      this.core.readNamespacedPod({ name, namespace }),
    );
    const logs: Record<string, string> = {};
    for (const c of pod.spec?.containers ?? []) {
      try {
        const text = await this.core.readNamespacedPodLog({
          name,
          namespace,
          container: c.name,
          limitBytes: LOG_BYTES,
          tailLines: 1000,
        });
        logs[c.name] = String(text ?? '');
      } catch (err) {
        logs[c.name] = `(logs unavailable: ${apiError(err).message})`;
      }
    }
    let events: unknown[] = [];
    try {
      const ev = await this.core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.name=${name}`,
      });
      events = ev.items;
    } catch {
      // Some servers do not index involvedObject; fall back to filtering a plain list.
      try {
        const ev = await this.core.listNamespacedEvent({ namespace });
        events = ev.items.filter((e) => e.involvedObject?.name === name);
      } catch (err) {
        events = [`(events unavailable: ${apiError(err).message})`];
      }
    }
    return {
      capturedAt: new Date().toISOString(),
      pod: { metadata: pod.metadata, spec: pod.spec, status: pod.status },
      logs,
      events,
    };
  }

  private async patchPodMeta(
    ns: string,
    name: string,
    labels: Record<string, string | null>,
    annotations: Record<string, string | null>,
  ): Promise<V1Pod> {
    const body: Record<string, unknown> = { metadata: { labels, annotations } };
    return this.call(`patch pod ${ns}/${name}`, () =>
      this.core.patchNamespacedPod({ name, namespace: ns, body }, merge()),
    );
  }

  private async quarantine(before: PodSnapshot, params: Record<string, unknown>): Promise<ActuatorResult> {
    const reason = String(params.reason ?? 'quarantined by Vigie').slice(0, 1000);
    const after = await this.patchPodMeta(
      before.namespace,
      before.name,
      { [QUARANTINE_LABEL]: 'true' },
      { [QUARANTINE_REASON]: reason, [QUARANTINE_AT]: new Date().toISOString() },
    );
    const verified = after.metadata?.labels?.[QUARANTINE_LABEL] === 'true';
    return {
      stateBefore: before,
      stateAfter: { labels: after.metadata?.labels, annotations: after.metadata?.annotations },
      verified,
    };
  }

  private isolationPolicy(before: PodSnapshot, params: Record<string, unknown>): V1NetworkPolicy {
    const allowDns = params.allowDns === true;
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: isolationPolicyName(before.name),
        namespace: before.namespace,
        labels: {
          'app.kubernetes.io/managed-by': 'vigie',
          [ISOLATE_LABEL]: isolationLabelValue(before.namespace, before.name),
        },
        annotations: { 'vigie.io/isolated-pod': before.name },
      },
      spec: {
        podSelector: { matchLabels: { [ISOLATE_LABEL]: isolationLabelValue(before.namespace, before.name) } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: allowDns
          ? [
              {
                to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
                ports: [
                  { protocol: 'UDP', port: 53 },
                  { protocol: 'TCP', port: 53 },
                ],
              },
            ]
          : [],
      },
    };
  }

  private async isolate(before: PodSnapshot, params: Record<string, unknown>): Promise<ActuatorResult> {
    const { namespace, name } = before;
    const value = isolationLabelValue(namespace, name);
    const policy = this.isolationPolicy(before, params);
    // Policy first, then the label that makes it select the pod: a crash in between leaves a policy
    // selecting nothing, which rollback removes.
    try {
      await this.call(`create networkpolicy ${namespace}/${policy.metadata!.name}`, () =>
        this.net.createNamespacedNetworkPolicy({ namespace, body: policy }),
      );
    } catch (err) {
      if (!(err instanceof KubeApiError && err.reason === 'AlreadyExists')) throw err;
    }
    const pod = await this.patchPodMeta(
      namespace,
      name,
      { [ISOLATE_LABEL]: value },
      { 'vigie.io/isolated-by': policy.metadata!.name! },
    );
    // NetworkPolicies add up: other policies selecting the pod still allow what they allow.
    const others = (
      await this.call(`list networkpolicies in ${namespace}`, () =>
        this.net.listNamespacedNetworkPolicy({ namespace }),
      )
    ).items.filter(
      (p) => p.metadata?.name !== policy.metadata!.name && selects(p, pod.metadata?.labels ?? {}),
    );
    const readBack = await this.call(`read networkpolicy ${namespace}/${policy.metadata!.name}`, () =>
      this.net.readNamespacedNetworkPolicy({ name: policy.metadata!.name!, namespace }),
    );
    const verified =
      pod.metadata?.labels?.[ISOLATE_LABEL] === value && selects(readBack, pod.metadata?.labels ?? {});
    return {
      stateBefore: before,
      stateAfter: {
        policy: policy.metadata!.name,
        labels: pod.metadata?.labels,
        otherPoliciesSelectingPod: others.map((p) => p.metadata?.name),
      },
      verified,
      note: others.length
        ? `other NetworkPolicies still select the pod and may allow traffic: ${others.map((p) => p.metadata?.name).join(', ')}`
        : undefined,
    };
  }

  private workloadApi(kind: string) {
    const m: Record<
      string,
      {
        read: (a: { name: string; namespace: string }) => Promise<{
          spec?: { template?: { spec?: { containers?: { name: string; resources?: unknown }[] } } };
        }>;
        patch: (
          a: { name: string; namespace: string; body: unknown },
          o: ReturnType<typeof merge>,
        ) => Promise<unknown>;
      }
    > = {
      Deployment: {
        read: (a) => this.apps.readNamespacedDeployment(a),
        patch: (a, o) => this.apps.patchNamespacedDeployment(a, o),
      },
      StatefulSet: {
        read: (a) => this.apps.readNamespacedStatefulSet(a),
        patch: (a, o) => this.apps.patchNamespacedStatefulSet(a, o),
      },
      DaemonSet: {
        read: (a) => this.apps.readNamespacedDaemonSet(a),
        patch: (a, o) => this.apps.patchNamespacedDaemonSet(a, o),
      },
      ReplicaSet: {
        read: (a) => this.apps.readNamespacedReplicaSet(a),
        patch: (a, o) => this.apps.patchNamespacedReplicaSet(a, o),
      },
    };
    const api = m[kind];
    if (!api)
      throw new Error(
        `resource limits can only be set on a Deployment, StatefulSet, DaemonSet or ReplicaSet, not a ${kind}`,
      );
    return api;
  }

  /**
   * Resource limits on the pod's workload (its pods are replaced with the new limits): a strategic
   * merge patch, containers merged by name. `params.cpu` / `params.memory` ("200m", "128Mi");
   * `params.container` to limit one container only.
   */
  private async limit(before: PodSnapshot, params: Record<string, unknown>): Promise<ActuatorResult> {
    const w = before.workload;
    if (!w)
      throw new Error(
        `pod ${before.namespace}/${before.name} has no controller; a running pod's limits cannot be changed in place here`,
      );
    const limits: Record<string, string> = {};
    if (typeof params.cpu === 'string' || typeof params.cpu === 'number') limits.cpu = String(params.cpu);
    if (typeof params.memory === 'string' || typeof params.memory === 'number')
      limits.memory = String(params.memory);
    if (!Object.keys(limits).length)
      throw new Error('k8s_limit needs params.cpu and/or params.memory (e.g. cpu: "200m", memory: "128Mi")');
    const api = this.workloadApi(w.kind);
    const ref = { name: w.name, namespace: before.namespace };
    const cur = await this.call(`${w.kind} ${before.namespace}/${w.name}`, () => api.read(ref));
    const containers = (cur.spec?.template?.spec?.containers ?? []).filter(
      (c) => !params.container || c.name === params.container,
    );
    if (!containers.length)
      throw new Error(
        `no container${params.container ? ` named ${String(params.container)}` : ''} in ${w.kind} ${w.name}`,
      );
    const previous = containers.map((c) => ({ name: c.name, resources: c.resources ?? null }));
    const body = {
      spec: {
        template: { spec: { containers: containers.map((c) => ({ name: c.name, resources: { limits } })) } },
      },
    };
    await this.call(`limit ${w.kind} ${before.namespace}/${w.name}`, () =>
      api.patch({ ...ref, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
    );
    const after = await api.read(ref);
    const verified = containers.every((c) => {
      const got = (after.spec?.template?.spec?.containers ?? []).find((x) => x.name === c.name)?.resources as
        { limits?: Record<string, string> } | undefined;
      return Object.entries(limits).every(([k, v]) => got?.limits?.[k] === v);
    });
    return {
      stateBefore: { ...before, workloadResources: { kind: w.kind, name: w.name, containers: previous } },
      stateAfter: { workload: `${w.kind}/${w.name}`, limits, containers: containers.map((c) => c.name) },
      verified,
    };
  }

  private async readScale(kind: string, name: string, namespace: string): Promise<number | undefined> {
    if (kind === 'Deployment')
      return (await this.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;
    if (kind === 'StatefulSet')
      return (await this.apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas;
    if (kind === 'ReplicaSet')
      return (await this.apps.readNamespacedReplicaSet({ name, namespace })).spec?.replicas;
    throw new Error(`a ${kind} cannot be scaled`);
  }

  private async setReplicas(
    kind: string,
    name: string,
    namespace: string,
    replicas: number,
    annotations: Record<string, string | null>,
  ): Promise<void> {
    const body = { metadata: { annotations }, spec: { replicas } };
    const what = `scale ${kind} ${namespace}/${name} to ${replicas}`;
    if (kind === 'Deployment')
      await this.call(what, () => this.apps.patchNamespacedDeployment({ name, namespace, body }, merge()));
    else if (kind === 'StatefulSet')
      await this.call(what, () => this.apps.patchNamespacedStatefulSet({ name, namespace, body }, merge()));
    else if (kind === 'ReplicaSet')
      await this.call(what, () => this.apps.patchNamespacedReplicaSet({ name, namespace, body }, merge()));
    else
      throw new Error(`a ${kind} cannot be scaled to zero (only Deployments, StatefulSets and ReplicaSets)`);
  }

  private async scaleZero(before: PodSnapshot): Promise<ActuatorResult> {
    const w = before.workload;
    if (!w)
      throw new Error(
        `pod ${before.namespace}/${before.name} has no controller to scale; use delete_pod or evict`,
      );
    if (w.replicas === undefined)
      throw new Error(
        `a ${w.kind} cannot be scaled to zero (only Deployments, StatefulSets and ReplicaSets)`,
      );
    await this.setReplicas(w.kind, w.name, before.namespace, 0, { [SCALED_FROM]: String(w.replicas) });
    const now = await this.readScale(w.kind, w.name, before.namespace);
    return { stateBefore: before, stateAfter: { workload: { ...w, replicas: now } }, verified: now === 0 };
  }

  private async cordonNode(name: string): Promise<ActuatorResult> {
    const node = await this.call(`node ${name}`, () => this.core.readNode({ name }));
    const before = {
      kind: 'node',
      name,
      labels: node.metadata?.labels ?? {},
      unschedulable: node.spec?.unschedulable === true,
    };
    const after = await this.call(`cordon node ${name}`, () =>
      this.core.patchNode({ name, body: { spec: { unschedulable: true } } }, merge()),
    );
    return {
      stateBefore: before,
      stateAfter: { name, unschedulable: after.spec?.unschedulable === true },
      verified: after.spec?.unschedulable === true,
    };
  }

  private async removeBindings(
    namespace: string,
    names: string[],
    before: Record<string, unknown>,
  ): Promise<ActuatorResult> {
    const removed: Record<string, unknown>[] = [];
    for (const name of names) {
      const rb = await this.call(`rolebinding ${namespace}/${name}`, () =>
        this.rbac.readNamespacedRoleBinding({ name, namespace }),
      );
      removed.push(
        recreatable({
          ...rb,
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
        }) as unknown as Record<string, unknown>,
      );
      await this.call(`delete rolebinding ${namespace}/${name}`, () =>
        this.rbac.deleteNamespacedRoleBinding({ name, namespace }),
      );
    }
    const left = await this.call(`list rolebindings in ${namespace}`, () =>
      this.rbac.listNamespacedRoleBinding({ namespace }),
    );
    const verified = names.every((n) => !left.items.some((i) => i.metadata?.name === n));
    return { stateBefore: { ...before, removedBindings: removed }, stateAfter: { removed: names }, verified };
  }

  // ---------------------------------------------------------------- rollback

  async rollback(record: ActionRecord): Promise<unknown> {
    const before = (record.stateBefore ?? {}) as Partial<PodSnapshot> & Record<string, any>;
    const notes: string[] = [];
    const t = record.target;
    switch (record.action) {
      case 'capture_evidence':
        return { restored: true, notes: ['evidence capture changed nothing'] };
      case 'label':
      case 'k8s_isolate': {
        const { namespace, name } = this.podRef(t);
        if (record.action === 'k8s_isolate') {
          const pol = isolationPolicyName(name);
          try {
            await this.call(`delete networkpolicy ${namespace}/${pol}`, () =>
              this.net.deleteNamespacedNetworkPolicy({ name: pol, namespace }),
            );
          } catch (err) {
            if (!(err instanceof KubeApiError && err.code === 404)) throw err;
            notes.push(`NetworkPolicy ${pol} was already gone`);
          }
        }
        const keys =
          record.action === 'label'
            ? { labels: [QUARANTINE_LABEL], annotations: [QUARANTINE_REASON, QUARANTINE_AT] }
            : { labels: [ISOLATE_LABEL], annotations: ['vigie.io/isolated-by'] };
        const labels: Record<string, string | null> = {};
        const annotations: Record<string, string | null> = {};
        for (const k of keys.labels) labels[k] = before.labels?.[k] ?? null;
        for (const k of keys.annotations) annotations[k] = before.annotations?.[k] ?? null;
        let pod: V1Pod;
        try {
          pod = await this.patchPodMeta(namespace, name, labels, annotations);
        } catch (err) {
          if (err instanceof KubeApiError && err.code === 404) {
            notes.push(`pod ${namespace}/${name} no longer exists; nothing left to restore on it`);
            return { state: { policyRemoved: record.action === 'k8s_isolate' }, restored: true, notes };
          }
          throw err;
        }
        const now = { labels: pod.metadata?.labels ?? {}, annotations: pod.metadata?.annotations ?? {} };
        const policyGone =
          record.action !== 'k8s_isolate' ||
          (await this.net.readNamespacedNetworkPolicy({ name: isolationPolicyName(name), namespace }).then(
            () => false,
            (err) => apiError(err).code === 404,
          ));
        const restored =
          policyGone &&
          keys.labels.every((k) => now.labels[k] === before.labels?.[k]) &&
          keys.annotations.every((k) => now.annotations[k] === before.annotations?.[k]);
        return { state: now, restored, notes };
      }
      case 'scale_zero': {
        const w = before.workload;
        if (!w || w.replicas === undefined)
          return { restored: false, notes: ['no workload replica count was recorded; nothing to restore'] };
        const ns = before.namespace ?? t.namespace ?? 'default';
        await this.setReplicas(w.kind, w.name, ns, w.replicas, {
          [SCALED_FROM]: w.annotations?.[SCALED_FROM] ?? null,
        });
        const now = await this.readScale(w.kind, w.name, ns);
        return { state: { workload: { ...w, replicas: now } }, restored: now === w.replicas, notes };
      }
      case 'k8s_limit': {
        const wr = before.workloadResources as
          { kind: string; name: string; containers: { name: string; resources: unknown }[] } | undefined;
        if (!wr)
          return { restored: false, notes: ['no previous resources were recorded; nothing to restore'] };
        const ns = before.namespace ?? t.namespace ?? 'default';
        const api = this.workloadApi(wr.kind);
        const ref = { name: wr.name, namespace: ns };
        const cur = await this.call(`${wr.kind} ${ns}/${wr.name}`, () => api.read(ref));
        const list = cur.spec?.template?.spec?.containers ?? [];
        // JSON patch by index, each guarded by a test of the container's name: exact previous value.
        const ops: Record<string, unknown>[] = [];
        for (const p of wr.containers) {
          const i = list.findIndex((c) => c.name === p.name);
          if (i < 0) {
            notes.push(`container ${p.name} no longer in ${wr.kind} ${wr.name}`);
            continue;
          }
          ops.push({ op: 'test', path: `/spec/template/spec/containers/${i}/name`, value: p.name });
          if (p.resources === null) {
            if (list[i].resources !== undefined)
              ops.push({ op: 'remove', path: `/spec/template/spec/containers/${i}/resources` });
          } else
            ops.push({
              op: 'add',
              path: `/spec/template/spec/containers/${i}/resources`,
              value: p.resources,
            });
        }
        if (ops.length)
          await this.call(`restore resources of ${wr.kind} ${ns}/${wr.name}`, () =>
            api.patch({ ...ref, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
          );
        const after = await api.read(ref);
        const same = wr.containers.every((p) => {
          const got = (after.spec?.template?.spec?.containers ?? []).find((c) => c.name === p.name);
          return !got || JSON.stringify(got.resources ?? null) === JSON.stringify(p.resources);
        });
        return {
          state: {
            containers: (after.spec?.template?.spec?.containers ?? []).map((c) => ({
              name: c.name,
              resources: c.resources,
            })),
          },
          restored: same,
          notes,
        };
      }
      case 'cordon': {
        const node = (before.node ?? before) as { name?: string; unschedulable?: boolean };
        const name = node.name ?? t.name ?? t.id;
        const after = await this.call(`uncordon node ${name}`, () =>
          this.core.patchNode(
            { name, body: { spec: { unschedulable: node.unschedulable ? true : null } } },
            merge(),
          ),
        );
        return {
          state: { name, unschedulable: after.spec?.unschedulable === true },
          restored: (after.spec?.unschedulable === true) === (node.unschedulable === true),
          notes,
        };
      }
      case 'remove_rolebinding': {
        const bindings = (before.removedBindings ??
          before.bindings ??
          (before.binding ? [before.binding] : [])) as V1RoleBinding[];
        const wanted = new Set(
          ((record.stateAfter as { removed?: string[] } | undefined)?.removed ??
            bindings.map((b) => b.metadata?.name)) as string[],
        );
        let ok = true;
        for (const b of bindings) {
          if (!wanted.has(b.metadata?.name ?? '')) continue;
          const ns = b.metadata?.namespace ?? t.namespace ?? 'default';
          try {
            await this.call(`recreate rolebinding ${ns}/${b.metadata?.name}`, () =>
              this.rbac.createNamespacedRoleBinding({ namespace: ns, body: recreatable(b) }),
            );
          } catch (err) {
            if (err instanceof KubeApiError && err.reason === 'AlreadyExists')
              notes.push(`RoleBinding ${b.metadata?.name} already exists`);
            else {
              ok = false;
              notes.push(String((err as Error).message));
            }
          }
        }
        if (bindings.length === 0)
          return { restored: false, notes: ['no RoleBinding was recorded; nothing to recreate'] };
        return { state: { recreated: [...wanted] }, restored: ok, notes };
      }
      case 'evict':
      case 'delete_pod': {
        const m = before.manifest as V1Pod | undefined;
        const ns = before.namespace ?? t.namespace ?? 'default';
        if (before.owner) {
          notes.push(
            `pod is managed by ${before.owner.kind} ${before.owner.name}, which replaces it; the deleted pod itself is not brought back`,
          );
          return { state: {}, restored: true, notes };
        }
        if (!m) return { restored: false, notes: ['no pod manifest was recorded; cannot recreate it'] };
        try {
          const created = await this.call(`recreate pod ${ns}/${m.metadata?.name}`, () =>
            this.core.createNamespacedPod({ namespace: ns, body: recreatable(m) }),
          );
          notes.push('bare pod recreated from its recorded spec (new uid; process state is not restored)');
          return { state: { uid: created.metadata?.uid }, restored: true, notes };
        } catch (err) {
          if (err instanceof KubeApiError && err.reason === 'AlreadyExists')
            return { state: {}, restored: true, notes: ['pod exists again'] };
          throw err;
        }
      }
      default:
        return { restored: false, notes: [`${record.action} is not a Kubernetes action`] };
    }
  }
}

/** Whether a NetworkPolicy's podSelector (matchLabels and matchExpressions) selects these labels. */
export function selects(p: V1NetworkPolicy, labels: Record<string, string>): boolean {
  const sel = p.spec?.podSelector;
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export function createKubernetesActuator(
  cfg: Record<string, unknown> | undefined,
): KubernetesActuator | undefined {
  if (!cfg) return undefined;
  const kubeConfig = cfg.kubeConfig instanceof KubeConfig ? cfg.kubeConfig : undefined;
  const kubeconfig = typeof cfg.kubeconfig === 'string' ? cfg.kubeconfig : undefined;
  if (!kubeConfig && !kubeconfig && cfg.inCluster !== true) return undefined;
  return new KubernetesActuator({
    kubeConfig,
    kubeconfig,
    ownNamespace: typeof cfg.namespace === 'string' ? cfg.namespace : undefined,
    protectedNamespaces: Array.isArray(cfg.protectedNamespaces)
      ? (cfg.protectedNamespaces as string[])
      : undefined,
  });
}
