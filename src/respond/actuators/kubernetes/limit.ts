/**
 * k8s_limit: resource limits on the pod's workload (its pods are replaced with the new limits), a
 * strategic merge patch with containers merged by name. `params.cpu` / `params.memory` ("200m",
 * "128Mi"); `params.container` to limit one container only. Rollback puts each container's previous
 * resources back exactly.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { recordedState, type KubernetesAction } from './action.js';
import { mergePatch, type KubeClient } from './client.js';

interface WorkloadApi {
  read: (a: { name: string; namespace: string }) => Promise<{
    spec?: { template?: { spec?: { containers?: { name: string; resources?: unknown }[] } } };
  }>;
  patch: (
    a: { name: string; namespace: string; body: unknown },
    o: ReturnType<typeof mergePatch>,
  ) => Promise<unknown>;
}

function workloadApi(kube: KubeClient, kind: string): WorkloadApi {
  const apps = kube.apps;
  const m: Record<string, WorkloadApi> = {
    Deployment: {
      read: (a) => apps.readNamespacedDeployment(a),
      patch: (a, o) => apps.patchNamespacedDeployment(a, o),
    },
    StatefulSet: {
      read: (a) => apps.readNamespacedStatefulSet(a),
      patch: (a, o) => apps.patchNamespacedStatefulSet(a, o),
    },
    DaemonSet: {
      read: (a) => apps.readNamespacedDaemonSet(a),
      patch: (a, o) => apps.patchNamespacedDaemonSet(a, o),
    },
    ReplicaSet: {
      read: (a) => apps.readNamespacedReplicaSet(a),
      patch: (a, o) => apps.patchNamespacedReplicaSet(a, o),
    },
  };
  const api = m[kind];
  if (!api)
    throw new Error(
      `resource limits can only be set on a Deployment, StatefulSet, DaemonSet or ReplicaSet, not a ${kind}`,
    );
  return api;
}

export const limit: KubernetesAction = {
  async onPod({ kube }, before, params) {
    const w = before.workload;
    if (!w)
      throw new Error(
        `pod ${before.namespace}/${before.name} has no controller; a running pod's limits cannot be changed in place here`,
      );
    const limits: Record<string, string> = {};
    if (typeof params.cpu === 'string' || typeof params.cpu === 'number') limits.cpu = String(params.cpu);
    if (typeof params.memory === 'string' || typeof params.memory === 'number')
      limits.memory = String(params.memory);
    if (!Object.keys(limits).length)
      throw new Error('k8s_limit needs params.cpu and/or params.memory (e.g. cpu: "200m", memory: "128Mi")');
    const api = workloadApi(kube, w.kind);
    const ref = { name: w.name, namespace: before.namespace };
    const cur = await kube.call(`${w.kind} ${before.namespace}/${w.name}`, () => api.read(ref));
    const containers = (cur.spec?.template?.spec?.containers ?? []).filter(
      (c) => !params.container || c.name === params.container,
    );
    if (!containers.length)
      throw new Error(
        `no container${params.container ? ` named ${String(params.container)}` : ''} in ${w.kind} ${w.name}`,
      );
    const previous = containers.map((c) => ({ name: c.name, resources: c.resources ?? null }));
    const body = {
      spec: {
        template: { spec: { containers: containers.map((c) => ({ name: c.name, resources: { limits } })) } },
      },
    };
    await kube.call(`limit ${w.kind} ${before.namespace}/${w.name}`, () =>
      api.patch({ ...ref, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
    );
    const after = await api.read(ref);
    const verified = containers.every((c) => {
      const got = (after.spec?.template?.spec?.containers ?? []).find((x) => x.name === c.name)?.resources as
        { limits?: Record<string, string> } | undefined;
      return Object.entries(limits).every(([k, v]) => got?.limits?.[k] === v);
    });
    return {
      stateBefore: { ...before, workloadResources: { kind: w.kind, name: w.name, containers: previous } },
      stateAfter: { workload: `${w.kind}/${w.name}`, limits, containers: containers.map((c) => c.name) },
      verified,
    };
  },

  async rollback(kube, record) {
    const before = recordedState(record);
    const notes: string[] = [];
    const wr = before.workloadResources as
      { kind: string; name: string; containers: { name: string; resources: unknown }[] } | undefined;
    if (!wr) return { restored: false, notes: ['no previous resources were recorded; nothing to restore'] };
    const ns = before.namespace ?? record.target.namespace ?? 'default';
    const api = workloadApi(kube, wr.kind);
    const ref = { name: wr.name, namespace: ns };
    const cur = await kube.call(`${wr.kind} ${ns}/${wr.name}`, () => api.read(ref));
    const list = cur.spec?.template?.spec?.containers ?? [];
    // JSON patch by index, each guarded by a test of the container's name: exact previous value.
    const ops: Record<string, unknown>[] = [];
    for (const p of wr.containers) {
      const i = list.findIndex((c) => c.name === p.name);
      if (i < 0) {
        notes.push(`container ${p.name} no longer in ${wr.kind} ${wr.name}`);
        continue;
      }
      ops.push({ op: 'test', path: `/spec/template/spec/containers/${i}/name`, value: p.name });
      if (p.resources === null) {
        if (list[i].resources !== undefined)
          ops.push({ op: 'remove', path: `/spec/template/spec/containers/${i}/resources` });
      } else
        ops.push({
          op: 'add',
          path: `/spec/template/spec/containers/${i}/resources`,
          value: p.resources,
        });
    }
    if (ops.length)
      await kube.call(`restore resources of ${wr.kind} ${ns}/${wr.name}`, () =>
        api.patch({ ...ref, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
      );
    const after = await api.read(ref);
    const same = wr.containers.every((p) => {
      const got = (after.spec?.template?.spec?.containers ?? []).find((c) => c.name === p.name);
      return !got || JSON.stringify(got.resources ?? null) === JSON.stringify(p.resources);
    });
    return {
      state: {
        containers: (after.spec?.template?.spec?.containers ?? []).map((c) => ({
          name: c.name,
          resources: c.resources,
        })),
      },
      restored: same,
      notes,
    };
  },
};
