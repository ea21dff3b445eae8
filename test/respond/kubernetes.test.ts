import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionRecord, ActionTarget, ActionType } from '../../src/model/action.js';
import {
  KubernetesActuator,
  ISOLATE_LABEL,
  QUARANTINE_LABEL,
  isolationPolicyName,
} from '../../src/respond/actuators/kubernetes.js';
import { startApiDouble, type ApiDouble } from '../utils/k8s-api-double.js';
import { shopCluster } from '../utils/k8s-fixtures.js';
import { VIGIE_SA, vigieRbacObjects } from '../utils/vigie-rbac.js';

let api: ApiDouble;
let act: KubernetesActuator;
const web: ActionTarget = {
  kind: 'pod',
  id: 'shop/web-7d9f-abcde',
  name: 'web-7d9f-abcde',
  namespace: 'shop',
  platform: 'kubernetes',
};
const bare: ActionTarget = {
  kind: 'pod',
  id: 'shop/debug',
  name: 'debug',
  namespace: 'shop',
  platform: 'kubernetes',
};

beforeEach(async () => {
  // Fixtures are stored as an admin; the actuator acts as Vigie's service account, under the shipped RBAC.
  api = await startApiDouble([...shopCluster(), ...vigieRbacObjects()]);
  act = new KubernetesActuator({
    kubeConfig: api.kubeConfigForServiceAccount(VIGIE_SA.namespace, VIGIE_SA.name),
    retryDelayMs: 5,
  });
});
afterEach(async () => {
  await api.close();
});

async function run(
  action: ActionType,
  target: ActionTarget,
  params: Record<string, unknown> = {},
): Promise<ActionRecord> {
  const res = await act.execute(action, target, params);
  return {
    id: `t-${action}`,
    action,
    target,
    status: res.verified ? 'executed' : 'failed',
    mode: 'enforce',
    reason: 'test',
    createdAt: new Date().toISOString(),
    params,
    stateBefore: res.stateBefore,
    stateAfter: res.stateAfter,
    verified: res.verified,
    evidence: res.evidence,
  };
}

describe('Kubernetes actuator against the API double', () => {
  it('inspect gives labels, workload, node and the bindings of the service account', async () => {
    const s = (await act.inspect(web)) as Record<string, any>;
    expect(s.labels).toEqual({ app: 'web', tier: 'front' });
    expect(s.workload).toMatchObject({ kind: 'Deployment', name: 'web', replicas: 3 });
    expect(s.node).toEqual({ name: 'node-1', unschedulable: false });
    expect(s.bindings.map((b: any) => b.metadata.name).sort()).toEqual(['web-admin', 'web-secrets']);
  });

  it('quarantine label and annotation, rollback restores labels and annotations exactly', async () => {
    const before = api.find('Pod', 'shop', 'web-7d9f-abcde')!;
    const rec = await run('label', web, { reason: 'shell in container' });
    expect(rec.verified).toBe(true);
    const after = api.find('Pod', 'shop', 'web-7d9f-abcde')!;
    expect(after.metadata!.labels[QUARANTINE_LABEL]).toBe('true');
    expect(after.metadata!.annotations['vigie.io/quarantine-reason']).toBe('shell in container');
    const rb = (await act.rollback(rec)) as { restored: boolean };
    expect(rb.restored).toBe(true);
    const restored = api.find('Pod', 'shop', 'web-7d9f-abcde')!;
    expect(restored.metadata!.labels).toEqual(before.metadata!.labels);
    expect(restored.metadata!.annotations).toEqual(before.metadata!.annotations);
    // Idempotent: a second rollback (as after a crash) changes nothing and still reports restored.
    expect(((await act.rollback(rec)) as { restored: boolean }).restored).toBe(true);
  });

  it('isolation: deny-all NetworkPolicy selecting only the pod; rollback removes it and the label', async () => {
    const before = api.find('Pod', 'shop', 'web-7d9f-abcde')!;
    const rec = await run('k8s_isolate', web, { allowDns: true });
    expect(rec.verified).toBe(true);
    const pol = api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))!;
    expect(pol.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(pol.spec.ingress).toEqual([]);
    expect(pol.spec.egress[0].ports.map((p: any) => p.port)).toEqual([53, 53]);
    const selector = pol.spec.podSelector.matchLabels as Record<string, string>;
    const selected = api
      .objects()
      .filter((o) => o.kind === 'Pod' && o.metadata?.namespace === 'shop')
      .filter((o) => Object.entries(selector).every(([k, v]) => o.metadata!.labels?.[k] === v))
      .map((o) => o.metadata!.name);
    expect(selected).toEqual(['web-7d9f-abcde']);
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels[ISOLATE_LABEL]).toBeDefined();

    await act.rollback(rec);
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeUndefined();
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels).toEqual(before.metadata!.labels);
  });

  it('scale to zero and back to the exact replica count, through the scale subresource only', async () => {
    const rec = await run('scale_zero', web);
    expect(rec.verified).toBe(true);
    expect(api.find('Deployment', 'shop', 'web')!.spec.replicas).toBe(0);
    const rb = (await act.rollback(rec)) as { restored: boolean };
    expect(rb.restored).toBe(true);
    const d = api.find('Deployment', 'shop', 'web')!;
    expect(d.spec.replicas).toBe(3);
    expect(d.metadata!.annotations).toBeUndefined();
    const writes = api.requests.filter((r) => r.verb === 'patch' || r.verb === 'update');
    expect(writes.map((r) => `${r.verb} ${r.resource} ${r.path.split('/').pop()}`)).toEqual([
      'patch deployments scale',
      'patch deployments scale',
    ]);
  });

  it('evict keeps spec, status and logs for forensics first; delete of a bare pod is undone by recreating it', async () => {
    api.setPodLog('shop', 'web-7d9f-abcde', 'GET / 200\nsh -c id\n');
    const rec = await run('evict', web);
    expect(rec.verified).toBe(true);
    const ev = rec.evidence as any;
    expect(ev.logs.main).toContain('sh -c id');
    expect(ev.pod.spec.nodeName).toBe('node-1');
    expect(ev.pod.status.phase).toBe('Running');
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')).toBeUndefined();
    const rb = (await act.rollback(rec)) as { notes: string[] };
    expect(rb.notes.join(' ')).toMatch(/managed by ReplicaSet web-7d9f/);

    const del = await run('delete_pod', bare);
    expect(del.verified).toBe(true);
    expect(api.find('Pod', 'shop', 'debug')).toBeUndefined();
    // Vigie may not create pods: the rollback says so and the spec stays in the record.
    const r2 = (await act.rollback(del)) as { restored: boolean; notes: string[] };
    expect(r2.restored).toBe(false);
    expect(r2.notes.join(' ')).toMatch(
      /not recreated: Vigie may not create pods .*cannot create resource "pods"/,
    );
    expect((del.stateBefore as any).manifest.spec.nodeName).toBe('node-1');

    // An identity that may create pods (here an admin) gets the bare pod back from its recorded spec.
    const admin = new KubernetesActuator({ kubeConfig: api.kubeConfig, retryDelayMs: 5 });
    const r3 = (await admin.rollback(del)) as { restored: boolean };
    expect(r3.restored).toBe(true);
    const back = api.find('Pod', 'shop', 'debug')!;
    expect(back.metadata!.labels).toEqual({ app: 'debug' });
    expect(back.spec.nodeName).toBe('node-1');
  });

  it('k8s_limit: limits on the workload by strategic merge (containers by name), exact previous resources on rollback', async () => {
    const rec = await run('k8s_limit', web, { cpu: '200m', memory: '128Mi' });
    expect(rec.verified).toBe(true);
    const d = api.find('Deployment', 'shop', 'web')!;
    expect(d.spec.template.spec.containers).toHaveLength(1);
    expect(d.spec.template.spec.containers[0]).toMatchObject({
      name: 'web',
      image: 'shop/web:1.0',
      resources: { limits: { cpu: '200m', memory: '128Mi' } },
    });
    expect(
      api.requests.some(
        (r) => r.verb === 'patch' && r.contentType === 'application/strategic-merge-patch+json',
      ),
    ).toBe(true);
    await act.rollback(rec);
    expect(api.find('Deployment', 'shop', 'web')!.spec.template.spec.containers[0].resources).toBeUndefined();

    // With resources already set: the previous ones come back exactly (no leftover cpu limit).
    const dep = api.find('Deployment', 'shop', 'web')!;
    dep.spec.template.spec.containers[0].resources = {
      limits: { memory: '256Mi' },
      requests: { cpu: '100m' },
    };
    api.put(dep);
    const rec2 = await run('k8s_limit', web, { cpu: '50m', memory: '64Mi' });
    expect(api.find('Deployment', 'shop', 'web')!.spec.template.spec.containers[0].resources).toEqual({
      limits: { cpu: '50m', memory: '64Mi' },
      requests: { cpu: '100m' },
    });
    const rb = (await act.rollback(rec2)) as { restored: boolean };
    expect(rb.restored).toBe(true);
    expect(api.find('Deployment', 'shop', 'web')!.spec.template.spec.containers[0].resources).toEqual({
      limits: { memory: '256Mi' },
      requests: { cpu: '100m' },
    });
    await expect(act.execute('k8s_limit', bare, { cpu: '1' })).rejects.toThrow(/no controller/);
  });

  it('cordon the node, uncordon on rollback', async () => {
    const rec = await run('cordon', web);
    expect(api.find('Node', undefined, 'node-1')!.spec.unschedulable).toBe(true);
    await act.rollback(rec);
    expect(api.find('Node', undefined, 'node-1')!.spec.unschedulable).toBeUndefined();
  });

  it('removes the risky RoleBinding (admin), keeps the others, recreates it identically on rollback', async () => {
    const before = api.find('RoleBinding', 'shop', 'web-admin')!;
    const rec = await run('remove_rolebinding', web);
    expect(rec.verified).toBe(true);
    expect(api.find('RoleBinding', 'shop', 'web-admin')).toBeUndefined();
    expect(api.find('RoleBinding', 'shop', 'web-secrets')).toBeDefined();
    const rb = (await act.rollback(rec)) as { restored: boolean; notes: string[] };
    expect(rb).toMatchObject({ restored: true, notes: [] });
    const again = api.find('RoleBinding', 'shop', 'web-admin')!;
    expect(again.roleRef).toEqual(before.roleRef);
    expect(again.subjects).toEqual(before.subjects);
    expect(again.metadata!.labels).toEqual(before.metadata!.labels);
  });

  it('refuses to remove a binding it could not recreate (no bind on its Role), before deleting anything', async () => {
    await expect(run('remove_rolebinding', web, { name: 'web-secrets' })).rejects.toThrow(
      /refused: RoleBinding shop\/web-secrets \(to Role secret-reader\) would not be recreated on rollback.*attempting to grant RBAC permissions not currently held/s,
    );
    expect(api.find('RoleBinding', 'shop', 'web-secrets')).toBeDefined();
    expect(api.requests.some((r) => r.verb === 'delete')).toBe(false);
  });

  it('409 is retried, 403 and 404 are reported with the reason', async () => {
    api.fault({ verb: 'patch', resource: 'pods', status: 409, times: 2 });
    const rec = await run('label', web);
    expect(rec.verified).toBe(true);
    expect(act.errors.filter((e) => e.code === 409)).toHaveLength(2);

    api.fault({ verb: 'create', resource: 'networkpolicies', status: 403, times: Infinity });
    await expect(act.execute('k8s_isolate', web, {})).rejects.toThrow(
      /forbidden \(403: .*cannot create resource "networkpolicies"/,
    );

    api.remove('Pod', 'shop', 'debug');
    await expect(act.execute('label', bare, {})).rejects.toThrow(/no longer exists \(404/);
  });

  it('refuses kube-system and its own namespace unless the policy allows it', async () => {
    const dns: ActionTarget = {
      kind: 'pod',
      id: 'kube-system/coredns-1',
      name: 'coredns-1',
      namespace: 'kube-system',
      platform: 'kubernetes',
    };
    await expect(act.execute('k8s_isolate', dns, {})).rejects.toThrow(/namespace kube-system is protected/);
    expect(api.find('NetworkPolicy', 'kube-system', isolationPolicyName('coredns-1'))).toBeUndefined();
    const ok = await act.execute('label', dns, { allowProtectedNamespace: true });
    expect(ok.verified).toBe(true);
  });
});
