/** cordon: the pod's node (or a node target) marked unschedulable; rollback puts the flag back. */
import type { ActuatorResult } from '../../types.js';
import { recordedState, type KubernetesAction } from './action.js';
import { mergePatch, type KubeClient } from './client.js';

async function cordonNode(kube: KubeClient, name: string): Promise<ActuatorResult> {
  const node = await kube.call(`node ${name}`, () => kube.core.readNode({ name }));
  const before = {
    kind: 'node',
    name,
    labels: node.metadata?.labels ?? {},
    unschedulable: node.spec?.unschedulable === true,
  };
  const after = await kube.call(`cordon node ${name}`, () =>
    kube.core.patchNode({ name, body: { spec: { unschedulable: true } } }, mergePatch()),
  );
  return {
    stateBefore: before,
    stateAfter: { name, unschedulable: after.spec?.unschedulable === true },
    verified: after.spec?.unschedulable === true,
  };
}

export const cordon: KubernetesAction = {
  async onPod({ kube }, before, _params, { namespace, name }) {
    if (!before.nodeName)
      throw new Error(`pod ${namespace}/${name} is not scheduled on a node; nothing to cordon`);
    const res = await cordonNode(kube, before.nodeName);
    return { ...res, stateBefore: { ...before, node: res.stateBefore } };
  },

  direct: {
    kind: 'node',
    execute: ({ kube }, target) => cordonNode(kube, target.name ?? target.id),
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const t = record.target;
    const node = (before.node ?? before) as { name?: string; unschedulable?: boolean };
    const name = node.name ?? t.name ?? t.id;
    const after = await kube.call(`uncordon node ${name}`, () =>
      kube.core.patchNode(
        { name, body: { spec: { unschedulable: node.unschedulable ? true : null } } },
        mergePatch(),
      ),
    );
    return {
      state: { name, unschedulable: after.spec?.unschedulable === true },
      restored: (after.spec?.unschedulable === true) === (node.unschedulable === true),
      notes: [],
    };
  },
};
