/**
 * remove_rolebinding: the risky RoleBindings of the pod's service account (or one named binding, or a
 * binding target) deleted; rollback recreates them from their recorded objects. A binding that
 * Vigie could not recreate (no `bind` on its role) is refused before anything is deleted.
 */
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { ActuatorResult } from '../../types.js';
import { recordedState, type KubernetesAction } from './action.js';
import { isAlreadyThere, KubeApiError, recreatable, type KubeClient } from './client.js';
import { inspectTarget, recreatableBinding } from './pod.js';

/** ClusterRoles whose binding to a workload identity is a risk on its own. */
const RISKY_ROLES: ReadonlySet<string> = new Set(['cluster-admin', 'admin', 'edit', 'system:masters']);

/**
 * Refuse to remove a binding that rollback could not put back. Recreating a RoleBinding passes the
 * API server's escalation check only with `bind` on the role it references (or holding all of that
 * role's permissions): a dry-run create of the same binding asks exactly that, and answers
 * "already exists" when it would be allowed.
 */
async function checkRecreatable(kube: KubeClient, namespace: string, rb: V1RoleBinding): Promise<void> {
  const body = recreatable({ ...rb, apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' });
  try {
    await kube.call(`check that rolebinding ${namespace}/${rb.metadata?.name} can be recreated`, () =>
      kube.rbac.createNamespacedRoleBinding({ namespace, body, dryRun: 'All' }),
    );
  } catch (err) {
    if (isAlreadyThere(err)) return;
    if (err instanceof KubeApiError && err.code === 403)
      throw new KubeApiError(
        `refused: RoleBinding ${namespace}/${rb.metadata?.name} (to ${rb.roleRef.kind} ${rb.roleRef.name}) would not be recreated on rollback, so it is not removed: ${err.message}`,
        403,
        err.reason,
      );
    throw err;
  }
}

async function removeBindings(
  kube: KubeClient,
  namespace: string,
  names: string[],
  before: Record<string, unknown>,
): Promise<ActuatorResult> {
  const bindings: V1RoleBinding[] = [];
  for (const name of names) {
    const rb = await kube.call(`rolebinding ${namespace}/${name}`, () =>
      kube.rbac.readNamespacedRoleBinding({ name, namespace }),
    );
    await checkRecreatable(kube, namespace, rb);
    bindings.push(rb);
  }
  const removed: Record<string, unknown>[] = [];
  for (const rb of bindings) {
    const name = rb.metadata!.name!;
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
