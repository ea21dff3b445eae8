/**
 * k8s_isolate: a deny-all NetworkPolicy for the pod, and the label that makes it select that pod.
 * Rollback removes the policy and puts the label back as it was.
 */
import { createHash } from 'node:crypto';
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { recordedState, type KubernetesAction } from './action.js';
import { apiError, isAlreadyThere, isGone } from './client.js';
import { metaRestored, patchPodMeta, podRef, restorePodMeta, type PodSnapshot } from './pod.js';

export const ISOLATE_LABEL = 'vigie.io/isolated';
const ISOLATED_BY = 'vigie.io/isolated-by';
const KEYS = { labels: [ISOLATE_LABEL], annotations: [ISOLATED_BY] };

export function isolationPolicyName(pod: string): string {
  const base = `vigie-isolate-${pod}`;
  if (base.length <= 63) return base;
  return `${base.slice(0, 54)}-${createHash('sha256').update(pod).digest('hex').slice(0, 8)}`;
}
function isolationLabelValue(ns: string, pod: string): string {
  return createHash('sha256').update(`${ns}/${pod}`).digest('hex').slice(0, 16);
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

function isolationPolicy(before: PodSnapshot, params: Record<string, unknown>): V1NetworkPolicy {
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

export const isolate: KubernetesAction = {
  async onPod({ kube }, before, params) {
    const { namespace, name } = before;
    const value = isolationLabelValue(namespace, name);
    const policy = isolationPolicy(before, params);
    // Policy first, then the label that makes it select the pod: a crash in between leaves a policy
    // selecting nothing, which rollback removes.
    try {
      await kube.call(`create networkpolicy ${namespace}/${policy.metadata!.name}`, () =>
        kube.net.createNamespacedNetworkPolicy({ namespace, body: policy }),
      );
    } catch (err) {
      if (!isAlreadyThere(err)) throw err;
    }
    const pod = await patchPodMeta(
      kube,
      namespace,
      name,
      { [ISOLATE_LABEL]: value },
      {
        [ISOLATED_BY]: policy.metadata!.name!,
      },
    );
    // NetworkPolicies add up: other policies selecting the pod still allow what they allow.
    const others = (
      await kube.call(`list networkpolicies in ${namespace}`, () =>
        kube.net.listNamespacedNetworkPolicy({ namespace }),
      )
    ).items.filter(
      (p) => p.metadata?.name !== policy.metadata!.name && selects(p, pod.metadata?.labels ?? {}),
    );
    const readBack = await kube.call(`read networkpolicy ${namespace}/${policy.metadata!.name}`, () =>
      kube.net.readNamespacedNetworkPolicy({ name: policy.metadata!.name!, namespace }),
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
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const notes: string[] = [];
    const { namespace, name } = podRef(record.target);
    const pol = isolationPolicyName(name);
    try {
      await kube.call(`delete networkpolicy ${namespace}/${pol}`, () =>
        kube.net.deleteNamespacedNetworkPolicy({ name: pol, namespace }),
      );
    } catch (err) {
      if (!isGone(err)) throw err;
      notes.push(`NetworkPolicy ${pol} was already gone`);
    }
    const now = await restorePodMeta(kube, { namespace, name }, before, KEYS);
    if (!now) {
      notes.push(`pod ${namespace}/${name} no longer exists; nothing left to restore on it`);
      return { state: { policyRemoved: true }, restored: true, notes };
    }
    const policyGone = await kube.net.readNamespacedNetworkPolicy({ name: pol, namespace }).then(
      () => false,
      (err) => apiError(err).code === 404,
    );
    return { state: now, restored: policyGone && metaRestored(now, before, KEYS), notes };
  },
};
