/** scale_zero: the pod's workload scaled to zero replicas; rollback restores the recorded count. */
import { recordedState, type KubernetesAction } from './action.js';
import { mergePatch, type KubeClient } from './client.js';

export const SCALED_FROM = 'vigie.io/scaled-from';

async function readScale(
  kube: KubeClient,
  kind: string,
  name: string,
  namespace: string,
): Promise<number | undefined> {
  if (kind === 'Deployment')
    return (await kube.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;
  if (kind === 'StatefulSet')
    return (await kube.apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas;
  if (kind === 'ReplicaSet')
    return (await kube.apps.readNamespacedReplicaSet({ name, namespace })).spec?.replicas;
  throw new Error(`a ${kind} cannot be scaled`);
}

async function setReplicas(
  kube: KubeClient,
  kind: string,
  name: string,
  namespace: string,
  replicas: number,
  annotations: Record<string, string | null>,
): Promise<void> {
  const body = { metadata: { annotations }, spec: { replicas } };
  const what = `scale ${kind} ${namespace}/${name} to ${replicas}`;
  if (kind === 'Deployment')
    await kube.call(what, () => kube.apps.patchNamespacedDeployment({ name, namespace, body }, mergePatch()));
  else if (kind === 'StatefulSet')
    await kube.call(what, () =>
      kube.apps.patchNamespacedStatefulSet({ name, namespace, body }, mergePatch()),
    );
  else if (kind === 'ReplicaSet')
    await kube.call(what, () => kube.apps.patchNamespacedReplicaSet({ name, namespace, body }, mergePatch()));
  else throw new Error(`a ${kind} cannot be scaled to zero (only Deployments, StatefulSets and ReplicaSets)`);
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
    await setReplicas(kube, w.kind, w.name, before.namespace, 0, { [SCALED_FROM]: String(w.replicas) });
    const now = await readScale(kube, w.kind, w.name, before.namespace);
    return { stateBefore: before, stateAfter: { workload: { ...w, replicas: now } }, verified: now === 0 };
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const w = before.workload;
    if (!w || w.replicas === undefined)
      return { restored: false, notes: ['no workload replica count was recorded; nothing to restore'] };
    const ns = before.namespace ?? record.target.namespace ?? 'default';
    await setReplicas(kube, w.kind, w.name, ns, w.replicas, {
      [SCALED_FROM]: w.annotations?.[SCALED_FROM] ?? null,
    });
    const now = await readScale(kube, w.kind, w.name, ns);
    return { state: { workload: { ...w, replicas: now } }, restored: now === w.replicas, notes: [] };
  },
};
