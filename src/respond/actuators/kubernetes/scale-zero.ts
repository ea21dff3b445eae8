/**
 * scale_zero: the pod's workload scaled to zero replicas through its `scale` subresource; rollback
 * restores the recorded count through the same subresource. Only `get`/`patch` on
 * `deployments/scale`, `statefulsets/scale` and `replicasets/scale` are needed: the workload object
 * itself is never written (its previous count is kept in the action's record, not on the workload).
 */
import type { V1Scale } from '@kubernetes/client-node';
import { recordedState, type KubernetesAction } from './action.js';
import { mergePatch, type KubeClient } from './client.js';

interface ScaleApi {
  read(a: { name: string; namespace: string }): Promise<V1Scale>;
  patch(a: { name: string; namespace: string; body: unknown }): Promise<V1Scale>;
}

function scaleApi(kube: KubeClient, kind: string): ScaleApi {
  const apps = kube.apps;
  if (kind === 'Deployment')
    return {
      read: (a) => apps.readNamespacedDeploymentScale(a),
      patch: (a) => apps.patchNamespacedDeploymentScale(a, mergePatch()),
    };
  if (kind === 'StatefulSet')
    return {
      read: (a) => apps.readNamespacedStatefulSetScale(a),
      patch: (a) => apps.patchNamespacedStatefulSetScale(a, mergePatch()),
    };
  if (kind === 'ReplicaSet')
    return {
      read: (a) => apps.readNamespacedReplicaSetScale(a),
      patch: (a) => apps.patchNamespacedReplicaSetScale(a, mergePatch()),
    };
  throw new Error(`a ${kind} cannot be scaled to zero (only Deployments, StatefulSets and ReplicaSets)`);
}

async function setReplicas(
  kube: KubeClient,
  kind: string,
  name: string,
  namespace: string,
  replicas: number,
): Promise<number | undefined> {
  const api = scaleApi(kube, kind);
  await kube.call(`scale ${kind} ${namespace}/${name} to ${replicas}`, () =>
    api.patch({ name, namespace, body: { spec: { replicas } } }),
  );
  const now = await kube.call(`scale of ${kind} ${namespace}/${name}`, () => api.read({ name, namespace }));
  return now.spec?.replicas;
}

export const scaleZero: KubernetesAction = {
  async onPod({ kube }, before) {
    const w = before.workload;
    if (!w)
      throw new Error(
        `pod ${before.namespace}/${before.name} has no controller to scale; use delete_pod or evict`,
      );
    if (w.replicas === undefined)
      throw new Error(
        `a ${w.kind} cannot be scaled to zero (only Deployments, StatefulSets and ReplicaSets)`,
      );
    const now = await setReplicas(kube, w.kind, w.name, before.namespace, 0);
    return { stateBefore: before, stateAfter: { workload: { ...w, replicas: now } }, verified: now === 0 };
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const w = before.workload;
    if (!w || w.replicas === undefined)
      return { restored: false, notes: ['no workload replica count was recorded; nothing to restore'] };
    const ns = before.namespace ?? record.target.namespace ?? 'default';
    const now = await setReplicas(kube, w.kind, w.name, ns, w.replicas);
    return { state: { workload: { ...w, replicas: now } }, restored: now === w.replicas, notes: [] };
  },
};
