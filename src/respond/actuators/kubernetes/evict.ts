/** evict: the pod evicted through the Eviction API (which honours PodDisruptionBudgets). */
import type { KubernetesAction } from './action.js';
import { removePod, rollbackPodRemoval } from './delete-pod.js';

export const evict: KubernetesAction = {
  onPod({ kube }, before, params, ref) {
    const { namespace, name } = ref;
    return removePod(kube, before, params, ref, () =>
      kube.call(`evict pod ${namespace}/${name}`, () =>
        kube.core.createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
        }),
      ),
    );
  },
  rollback: rollbackPodRemoval,
};
