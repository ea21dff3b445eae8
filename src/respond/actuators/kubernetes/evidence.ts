/** capture_evidence: the pod object, recent logs of each container and the events about it. */
import type { KubernetesAction } from './action.js';
import { apiError, type KubeClient } from './client.js';
import type { PodSnapshot } from './pod.js';

const LOG_BYTES = 64 * 1024;

export async function forensics(kube: KubeClient, snap: PodSnapshot): Promise<Record<string, unknown>> {
  const { namespace, name } = snap;
  const pod = await kube.call(`pod ${namespace}/${name}`, () =>
    kube.core.readNamespacedPod({ name, namespace }),
  );
  const logs: Record<string, string> = {};
  for (const c of pod.spec?.containers ?? []) {
    try {
      const text = await kube.core.readNamespacedPodLog({
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
    const ev = await kube.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    events = ev.items;
  } catch {
    // Some servers do not index involvedObject; fall back to filtering a plain list.
    try {
      const ev = await kube.core.listNamespacedEvent({ namespace });
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

export const captureEvidence: KubernetesAction = {
  async onPod({ kube }, before) {
    const evidence = await forensics(kube, before);
    return { stateBefore: before, stateAfter: before, verified: true, evidence };
  },
  rollback: async () => ({ restored: true, notes: ['evidence capture changed nothing'] }),
};
