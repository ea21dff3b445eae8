/** Reading a target (pod, node, RoleBinding) into the snapshot that guards read and rollbacks need. */
import type { V1Pod, V1RoleBinding } from '@kubernetes/client-node';
import type { ActionTarget } from '../../../model/action.js';
import { isGone, mergePatch, recreatable, type KubeClient } from './client.js';

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

export interface PodRef {
  namespace: string;
  name: string;
}

export function podRef(target: ActionTarget): PodRef {
  if (target.kind !== 'pod') throw new Error(`kubernetes actuator: target kind ${target.kind} is not a pod`);
  const [nsFromId, nameFromId] = target.id.includes('/') ? target.id.split('/', 2) : [undefined, target.id];
  return { namespace: target.namespace ?? nsFromId ?? 'default', name: target.name ?? nameFromId };
}

/** A RoleBinding as it can be created again. */
export function recreatableBinding(rb: V1RoleBinding): Record<string, unknown> {
  return recreatable({
    ...rb,
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
  }) as unknown as Record<string, unknown>;
}

export async function inspectTarget(
  kube: KubeClient,
  target: ActionTarget,
): Promise<PodSnapshot | Record<string, unknown>> {
  if (target.kind === 'node') {
    const node = await kube.call(`node ${target.id}`, () =>
      kube.core.readNode({ name: target.name ?? target.id }),
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
    const rb = await kube.call(`rolebinding ${target.id}`, () =>
      kube.rbac.readNamespacedRoleBinding({ name, namespace }),
    );
    return {
      kind: 'rolebinding',
      name,
      namespace,
      labels: rb.metadata?.labels ?? {},
      binding: recreatable(rb),
    };
  }
  const { namespace, name } = podRef(target);
  const pod = await kube.call(`pod ${namespace}/${name}`, () =>
    kube.core.readNamespacedPod({ name, namespace }),
  );
  return snapshot(kube, pod);
}

async function snapshot(kube: KubeClient, pod: V1Pod): Promise<PodSnapshot> {
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
      const rs = await kube.apps.readNamespacedReplicaSet({ name: owner.name, namespace });
      const dep = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment');
      if (dep) {
        const d = await kube.apps.readNamespacedDeployment({ name: dep.name, namespace });
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
      const s = await kube.apps.readNamespacedStatefulSet({ name: owner.name, namespace });
      snap.workload = {
        kind: 'StatefulSet',
        name: owner.name,
        replicas: s.spec?.replicas ?? 1,
        annotations: { ...(s.metadata?.annotations ?? {}) },
      };
    } else if (owner) snap.workload = { kind: owner.kind, name: owner.name, annotations: {} };
  } catch (err) {
    kube.remember(err);
  }
  if (snap.nodeName) {
    try {
      const node = await kube.core.readNode({ name: snap.nodeName });
      snap.node = { name: snap.nodeName, unschedulable: node.spec?.unschedulable === true };
    } catch (err) {
      kube.remember(err);
    }
  }
  try {
    const rbs = await kube.rbac.listNamespacedRoleBinding({ namespace });
    snap.bindings = rbs.items
      .filter((rb) =>
        rb.subjects?.some(
          (s) =>
            s.kind === 'ServiceAccount' &&
            s.name === snap.serviceAccount &&
            (s.namespace ?? namespace) === namespace,
        ),
      )
      .map(recreatableBinding);
  } catch (err) {
    kube.remember(err);
  }
  return snap;
}

export function patchPodMeta(
  kube: KubeClient,
  ns: string,
  name: string,
  labels: Record<string, string | null>,
  annotations: Record<string, string | null>,
): Promise<V1Pod> {
  const body: Record<string, unknown> = { metadata: { labels, annotations } };
  return kube.call(`patch pod ${ns}/${name}`, () =>
    kube.core.patchNamespacedPod({ name, namespace: ns, body }, mergePatch()),
  );
}

/**
 * Put the recorded value of each of these label and annotation keys back on the pod (removing the
 * ones it did not have). Resolves with the pod's labels and annotations now, or undefined when the
 * pod no longer exists.
 */
export async function restorePodMeta(
  kube: KubeClient,
  ref: PodRef,
  before: Partial<PodSnapshot>,
  keys: { labels: string[]; annotations: string[] },
): Promise<{ labels: Record<string, string>; annotations: Record<string, string> } | undefined> {
  const labels: Record<string, string | null> = {};
  const annotations: Record<string, string | null> = {};
  for (const k of keys.labels) labels[k] = before.labels?.[k] ?? null;
  for (const k of keys.annotations) annotations[k] = before.annotations?.[k] ?? null;
  let pod: V1Pod;
  try {
    pod = await patchPodMeta(kube, ref.namespace, ref.name, labels, annotations);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
  return { labels: pod.metadata?.labels ?? {}, annotations: pod.metadata?.annotations ?? {} };
}

/** Whether the pod's labels and annotations show the recorded value of each of these keys. */
export function metaRestored(
  now: { labels: Record<string, string>; annotations: Record<string, string> },
  before: Partial<PodSnapshot>,
  keys: { labels: string[]; annotations: string[] },
): boolean {
  return (
    keys.labels.every((k) => now.labels[k] === before.labels?.[k]) &&
    keys.annotations.every((k) => now.annotations[k] === before.annotations?.[k])
  );
}
