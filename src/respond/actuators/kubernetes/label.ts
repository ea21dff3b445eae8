/** label: the quarantine label (and why and when, as annotations) on the pod. */
import type { KubernetesAction } from './action.js';
import { recordedState } from './action.js';
import { metaRestored, patchPodMeta, podRef, restorePodMeta } from './pod.js';

export const QUARANTINE_LABEL = 'vigie.io/quarantine';
export const QUARANTINE_REASON = 'vigie.io/quarantine-reason';
export const QUARANTINE_AT = 'vigie.io/quarantined-at';

const KEYS = { labels: [QUARANTINE_LABEL], annotations: [QUARANTINE_REASON, QUARANTINE_AT] };

export const label: KubernetesAction = {
  async onPod({ kube }, before, params) {
    const reason = String(params.reason ?? 'quarantined by Vigie').slice(0, 1000);
    const after = await patchPodMeta(
      kube,
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
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const { namespace, name } = podRef(record.target);
    const now = await restorePodMeta(kube, { namespace, name }, before, KEYS);
    if (!now)
      return {
        state: { policyRemoved: false },
        restored: true,
        notes: [`pod ${namespace}/${name} no longer exists; nothing left to restore on it`],
      };
    return { state: now, restored: metaRestored(now, before, KEYS), notes: [] };
  },
};
