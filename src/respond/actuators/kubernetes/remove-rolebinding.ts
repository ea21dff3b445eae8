/**
 * remove_rolebinding: the risky RoleBindings of the pod's service account (or one named binding, or a
 * binding target) deleted; rollback recreates them from their recorded objects.
 */
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { ActuatorResult } from '../../types.js';
import { recordedState, type KubernetesAction } from './action.js';
import { isAlreadyThere, recreatable, type KubeClient } from './client.js';
import { inspectTarget, recreatableBinding } from './pod.js';

/** ClusterRoles whose binding to a workload identity is a risk on its own. */
const RISKY_ROLES: ReadonlySet<string> = new Set(['cluster-admin', 'admin', 'edit', 'system:masters']);

async function removeBindings(
  kube: KubeClient,
  namespace: string,
  names: string[],
  before: Record<string, unknown>,
): Promise<ActuatorResult> {
  const removed: Record<string, unknown>[] = [];
  for (const name of names) {
    const rb = await kube.call(`rolebinding ${namespace}/${name}`, () =>
      kube.rbac.readNamespacedRoleBinding({ name, namespace }),
    );
    removed.push(recreatableBinding(rb));
    await kube.call(`delete rolebinding ${namespace}/${name}`, () =>
      kube.rbac.deleteNamespacedRoleBinding({ name, namespace }),
    );
  }
  const left = await kube.call(`list rolebindings in ${namespace}`, () =>
    kube.rbac.listNamespacedRoleBinding({ namespace }),
  );
  const verified = names.every((n) => !left.items.some((i) => i.metadata?.name === n));
  return { stateBefore: { ...before, removedBindings: removed }, stateAfter: { removed: names }, verified };
}

export const removeRoleBinding: KubernetesAction = {
  onPod({ kube }, before, params, { namespace }) {
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
    return removeBindings(kube, namespace, names, before as unknown as Record<string, unknown>);
  },

  direct: {
    kind: 'rolebinding',
    async execute(c, target, before) {
      const [namespace, name] = target.id.split('/', 2);
      c.guard(namespace);
      const state = before ?? (await inspectTarget(c.kube, target));
      return removeBindings(c.kube, namespace, [name], state as Record<string, unknown>);
    },
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const notes: string[] = [];
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
      const ns = b.metadata?.namespace ?? record.target.namespace ?? 'default';
      try {
        await kube.call(`recreate rolebinding ${ns}/${b.metadata?.name}`, () =>
          kube.rbac.createNamespacedRoleBinding({ namespace: ns, body: recreatable(b) }),
        );
      } catch (err) {
        if (isAlreadyThere(err)) notes.push(`RoleBinding ${b.metadata?.name} already exists`);
        else {
          ok = false;
          notes.push(String((err as Error).message));
        }
      }
    }
    if (bindings.length === 0)
      return { restored: false, notes: ['no RoleBinding was recorded; nothing to recreate'] };
    return { state: { recreated: [...wanted] }, restored: ok, notes };
  },
};
