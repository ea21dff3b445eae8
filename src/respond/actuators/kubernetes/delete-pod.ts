/**
 * delete_pod (and, through `removePod`, evict): evidence first unless `forensics: false`, then the pod
 * removed and checked gone. A pod with a controller is replaced by it; a bare pod is recreated from
 * its recorded manifest on rollback when the caller may create pods (Vigie's shipped RBAC does not
 * allow it, and the rollback then says so).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ActuatorResult } from '../../types.js';
import { recordedState, type KubernetesAction } from './action.js';
import { apiError, isAlreadyThere, KubeApiError, recreatable, type KubeClient } from './client.js';
import { forensics } from './evidence.js';
import type { PodRef, PodSnapshot } from './pod.js';

/** Evidence, then `remove` (an eviction or a deletion), then read back whether the pod is gone. */
export async function removePod(
  kube: KubeClient,
  before: PodSnapshot,
  params: Record<string, unknown>,
  { namespace, name }: PodRef,
  remove: () => Promise<unknown>,
): Promise<ActuatorResult> {
  const evidence = params.forensics === false ? undefined : await forensics(kube, before);
  await remove();
  const gone = await kube.core.readNamespacedPod({ name, namespace }).then(
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

export const rollbackPodRemoval: KubernetesAction['rollback'] = async (kube, record) => {
  const before = recordedState(record);
  const m = before.manifest as V1Pod | undefined;
  const ns = before.namespace ?? record.target.namespace ?? 'default';
  if (before.owner)
    return {
      state: {},
      restored: true,
      notes: [
        `pod is managed by ${before.owner.kind} ${before.owner.name}, which replaces it; the deleted pod itself is not brought back`,
      ],
    };
  if (!m) return { restored: false, notes: ['no pod manifest was recorded; cannot recreate it'] };
  try {
    const created = await kube.call(`recreate pod ${ns}/${m.metadata?.name}`, () =>
      kube.core.createNamespacedPod({ namespace: ns, body: recreatable(m) }),
    );
    return {
      state: { uid: created.metadata?.uid },
      restored: true,
      notes: ['bare pod recreated from its recorded spec (new uid; process state is not restored)'],
    };
  } catch (err) {
    if (isAlreadyThere(err)) return { state: {}, restored: true, notes: ['pod exists again'] };
    // Vigie's ClusterRole does not grant `create pods` on purpose: whoever may create pods may run
    // any image with any host access, anywhere. The recorded spec stays in the record for a person.
    if (err instanceof KubeApiError && err.code === 403)
      return {
        restored: false,
        notes: [
          `bare pod ${ns}/${m.metadata?.name ?? ''} not recreated: Vigie may not create pods (${err.message}); its recorded spec is in the action's stateBefore.manifest`,
        ],
      };
    throw err;
  }
};

export const deletePod: KubernetesAction = {
  onPod({ kube }, before, params, ref) {
    const { namespace, name } = ref;
    const grace = typeof params.gracePeriodSeconds === 'number' ? params.gracePeriodSeconds : undefined;
    return removePod(kube, before, params, ref, () =>
      kube.call(`delete pod ${namespace}/${name}`, () =>
        kube.core.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: grace,
          body: { preconditions: { uid: before.uid } },
        }),
      ),
    );
  },
  rollback: rollbackPodRemoval,
};
