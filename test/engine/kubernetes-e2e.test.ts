/**
 * The live-cluster path end to end, against the API double through the real client:
 * runtime alert → incident (with blast radius) → plan → isolation NetworkPolicy created →
 * TTL expiry or rollback → policy gone, labels restored; and an action interrupted by a restart
 * is rolled back at start-up.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { makeAlert, type Alert } from '../../src/model/alert.js';
import { blastRadius, loadClusterObjects } from '../../src/characterize/blast.js';
import { Correlator } from '../../src/characterize/incidents.js';
import { FeedbackStore } from '../../src/characterize/feedback.js';
import { createCharacterizer } from '../../src/characterize/live.js';
import { AlertStore } from '../../src/store/alerts.js';
import {
  KubernetesActuator,
  ISOLATE_LABEL,
  isolationPolicyName,
} from '../../src/respond/actuators/kubernetes.js';
import { createResponder } from '../../src/respond/engine.js';
import { parsePolicy } from '../../src/respond/policy.js';
import { ActionStore } from '../../src/store/actions.js';
import { openStore, type Db } from '../../src/infra/db.js';
import { startApiDouble, type ApiDouble } from '../utils/k8s-api-double.js';
import { shopCluster } from '../utils/k8s-fixtures.js';
import { VIGIE_SA, vigieRbacObjects } from '../utils/vigie-rbac.js';

const POLICY = `
name: k8s-contain
mode: enforce
guards:
  protect:
    namespaces: [kube-system, vigie]
rules:
  - name: isolate-shell
    match: { category: attack, minPriority: Warning }
    actions:
      - action: label
        params: { reason: "runtime attack" }
        ttl: 10m
      - action: k8s_isolate
        params: { allowDns: true }
        ttl: 10m
`;

function runtimeAlert(rule: string, at: Date, pod = 'web-7d9f-abcde', namespace = 'shop'): Alert {
  return makeAlert(
    {
      rule,
      priority: 'Critical',
      source: 'syscall',
      output: `${rule} (pod=${pod})`,
      category: 'attack',
      detector: 'runtime',
      explanation: `${rule} in ${namespace}/${pod}`,
      tags: ['container', 'shell'],
      mitre: rule.includes('shadow') ? [{ tactic: 'Credential Access', technique: 'T1552' }] : [],
      entities: { k8s: { namespace, pod, workload: 'web', node: 'node-1', serviceAccount: 'web' } },
      ts: BigInt(at.getTime()) * 1_000_000n,
    },
    'node-1',
  );
}

let api: ApiDouble;
let db: Db;
/** Vigie's credentials: its service account, under the RBAC of deploy/kubernetes/vigie.yaml. */
let vigie: KubeConfig;
beforeEach(async () => {
  api = await startApiDouble([...shopCluster(), ...vigieRbacObjects()]);
  vigie = api.kubeConfigForServiceAccount(VIGIE_SA.namespace, VIGIE_SA.name);
  db = openStore(':memory:');
});
afterEach(async () => {
  await api.close();
  db.close();
});

describe('Kubernetes containment end to end (API double)', () => {
  it('alert → incident → isolation policy → TTL expiry → policy gone, labels restored', async () => {
    const t0 = new Date('2026-11-27T10:00:00Z');
    let clock = t0;
    const actuator = new KubernetesActuator({ kubeConfig: vigie, retryDelayMs: 5 });
    const responder = createResponder({
      db,
      hostname: 'node-1',
      mode: 'monitor',
      policy: parsePolicy(POLICY),
      actuators: [actuator],
      now: () => clock,
      selfIds: [],
    });
    const correlator = new Correlator(db);
    const labelsBefore = api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels;

    // Two alerts on the same pod a minute apart form one incident.
    const a1 = runtimeAlert('Terminal shell in container', t0);
    const a2 = runtimeAlert('Read of /etc/shadow', new Date(t0.getTime() + 60_000));
    const inc1 = correlator.add(a1);
    const inc = correlator.add(a2);
    expect(inc.id).toBe(inc1.id);
    expect(inc.timeline.map((t) => t.rule)).toEqual(['Terminal shell in container', 'Read of /etc/shadow']);
    expect(inc.tactics).toEqual(['Execution', 'Credential Access']);
    // An audit alert about the same pod (someone exec'd into it) joins the incident.
    const audit = makeAlert(
      {
        rule: 'Attach/Exec Pod',
        priority: 'Notice',
        source: 'k8s_audit',
        output: 'kubectl exec into shop/web-7d9f-abcde by user mallory',
        category: 'attack',
        detector: 'k8s_audit',
        explanation: 'pods/exec create',
        mitre: [{ tactic: 'Execution', technique: 'T1609' }],
        entities: { k8s: { namespace: 'shop', pod: 'web-7d9f-abcde' }, user: 'mallory' },
        ts: BigInt(t0.getTime() - 30_000) * 1_000_000n,
      },
      'api',
    );
    expect(correlator.add(audit).id).toBe(inc.id);
    expect(correlator.store.get(inc.id)!.timeline[0].rule).toBe('Attach/Exec Pod');
    expect(correlator.store.get(inc.id)!.entities.identities).toContain('user mallory');

    const objects = await loadClusterObjects(vigie);
    const blast = blastRadius(objects, 'shop', 'web-7d9f-abcde')!;
    const scoreBefore = correlator.store.get(inc.id)!.severity.score;
    const enriched = correlator.setBlastRadius(inc.id, blast)!;
    expect(enriched.blastRadius!.hostPaths).toEqual(['/var/run/docker.sock']);
    expect(enriched.severity.score).toBeGreaterThan(scoreBefore);

    const records = await responder.onAlert(a2, { incident: inc.id });
    expect(records.map((r) => [r.action, r.status])).toEqual([
      ['label', 'executed'],
      ['k8s_isolate', 'executed'],
    ]);
    expect(records.every((r) => r.incident === inc.id && r.verified)).toBe(true);
    const polName = isolationPolicyName('web-7d9f-abcde');
    const pol = api.find('NetworkPolicy', 'shop', polName)!;
    expect(pol.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const podNow = api.find('Pod', 'shop', 'web-7d9f-abcde')!;
    expect(podNow.metadata!.labels['vigie.io/quarantine']).toBe('true');
    expect(pol.spec.podSelector.matchLabels[ISOLATE_LABEL]).toBe(podNow.metadata!.labels[ISOLATE_LABEL]);
    // The isolated pod now reaches nothing (only DNS in kube-system, through a selector on k8s-app).
    const isolated = blastRadius(await loadClusterObjects(vigie), 'shop', 'web-7d9f-abcde')!;
    expect(isolated.reachable).toEqual(['kube-system/coredns-1']);

    // Before the TTL nothing is lifted; after it, everything is.
    clock = new Date(t0.getTime() + 5 * 60_000);
    expect(await responder.tick()).toEqual([]);
    clock = new Date(t0.getTime() + 11 * 60_000);
    const expired = await responder.tick();
    expect(expired.map((r) => r.status).sort()).toEqual(['expired', 'expired']);
    expect(api.find('NetworkPolicy', 'shop', polName)).toBeUndefined();
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels).toEqual(labelsBefore);
    await responder.close();
  });

  it('rollback on request, with 409 conflicts and a vanished pod recorded', async () => {
    const actuator = new KubernetesActuator({ kubeConfig: vigie, retryDelayMs: 5 });
    const responder = createResponder({
      db,
      hostname: 'node-1',
      mode: 'enforce',
      policy: parsePolicy(POLICY),
      actuators: [actuator],
      selfIds: [],
    });
    api.fault({ verb: 'patch', resource: 'pods', status: 409, times: 1 });
    const recs = await responder.onAlert(runtimeAlert('Terminal shell in container', new Date()));
    const iso = recs.find((r) => r.action === 'k8s_isolate')!;
    expect(iso.status).toBe('executed');
    expect(actuator.errors.some((e) => e.code === 409)).toBe(true);
    const rolled = await responder.rollback(iso.id);
    expect(rolled.status).toBe('rolled_back');
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeUndefined();
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels[ISOLATE_LABEL]).toBeUndefined();

    // A pod that vanished: the action fails with the API's reason, nothing half done.
    api.remove('Pod', 'shop', 'db-0');
    const gone = await responder.onAlert(runtimeAlert('Terminal shell in container', new Date(), 'db-0'));
    expect(gone.every((r) => r.status === 'failed' || r.status === 'skipped')).toBe(true);
    expect(gone.map((r) => r.error ?? r.reason).join(' ')).toMatch(/404|no longer exists|not found/);

    // Forbidden: recorded with the reason.
    api.fault({ verb: 'create', resource: 'networkpolicies', status: 403, times: Infinity });
    const denied = await responder.onAlert(
      runtimeAlert('Terminal shell in container', new Date(), 'cache-0'),
    );
    const d = denied.find((r) => r.action === 'k8s_isolate')!;
    expect(d.status).toBe('failed');
    expect(d.error).toMatch(/forbidden \(403/);
    // The label step before it succeeded and stays; the failed isolation left no label behind.
    expect(api.find('Pod', 'shop', 'cache-0')!.metadata!.labels[ISOLATE_LABEL]).toBeUndefined();
    // Protected namespace: skipped by the guard, nothing created.
    const sys = await responder.onAlert(
      runtimeAlert('Terminal shell in container', new Date(), 'coredns-1', 'kube-system'),
    );
    expect(sys.every((r) => r.status === 'skipped' && /protected namespace/.test(r.reason))).toBe(true);
    await responder.close();
  });

  it('an isolation interrupted by a restart is rolled back at start-up', async () => {
    const actuator = new KubernetesActuator({ kubeConfig: vigie, retryDelayMs: 5 });
    const target = {
      kind: 'pod' as const,
      id: 'shop/web-7d9f-abcde',
      name: 'web-7d9f-abcde',
      namespace: 'shop',
      platform: 'kubernetes' as const,
    };
    const before = await actuator.inspect(target);
    // The process got as far as applying the isolation, then died before recording the outcome.
    await actuator.execute('k8s_isolate', target, {});
    new ActionStore(db).put({
      id: 'act-interrupted',
      action: 'k8s_isolate',
      target,
      status: 'executing',
      mode: 'enforce',
      reason: 'test',
      createdAt: new Date().toISOString(),
      stateBefore: before,
    });
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeDefined();
    const responder = createResponder({
      db,
      hostname: 'node-1',
      mode: 'enforce',
      policy: parsePolicy(POLICY),
      actuators: [actuator],
      selfIds: [],
    });
    const recovered = await responder.ready;
    expect(recovered.map((r) => [r.id, r.status])).toEqual([['act-interrupted', 'rolled_back']]);
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeUndefined();
    expect(api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels).toEqual({
      app: 'web',
      tier: 'front',
    });
    await responder.close();
  });

  it('an isolation approved but not started before a restart is resumed at start-up', async () => {
    const actuator = new KubernetesActuator({ kubeConfig: vigie, retryDelayMs: 5 });
    const target = {
      kind: 'pod' as const,
      id: 'shop/web-7d9f-abcde',
      name: 'web-7d9f-abcde',
      namespace: 'shop',
      platform: 'kubernetes' as const,
    };
    new ActionStore(db).put({
      id: 'act-approved',
      action: 'k8s_isolate',
      target,
      status: 'approved',
      mode: 'enforce',
      reason: 'test',
      createdAt: new Date().toISOString(),
      params: {},
    });
    const responder = createResponder({
      db,
      hostname: 'node-1',
      mode: 'enforce',
      policy: parsePolicy(POLICY),
      actuators: [actuator],
      selfIds: [],
    });
    const recovered = await responder.ready;
    expect(recovered.map((r) => [r.id, r.status, r.verified])).toEqual([['act-approved', 'executed', true]]);
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeDefined();
    await responder.rollback('act-approved');
    expect(api.find('NetworkPolicy', 'shop', isolationPolicyName('web-7d9f-abcde'))).toBeUndefined();
    await responder.close();
  });

  it('the live characterizer: exceptions filter, correlation, blast radius from the cluster', async () => {
    const ch = await createCharacterizer({
      db,
      kubeConfig: vigie,
      postureOf: () => [{ control: 'VG-PRIV', severity: 'critical' }],
    });
    const a = runtimeAlert('Terminal shell in container', new Date());
    expect(ch.filter(a)).toBe(true);
    const inc = ch.correlate(a);
    // As the alert path does: the incident is on the alert when it is stored, once.
    a.vigie.incident = inc.id;
    new AlertStore(db).add(a);
    await ch.settled();
    const stored = ch.correlator.store.get(inc.id)!;
    expect(stored.blastRadius?.target).toMatchObject({
      namespace: 'shop',
      pod: 'web-7d9f-abcde',
      node: 'node-1',
    });
    expect(stored.posture).toHaveLength(1);
    expect(stored.explanation).toMatch(/host paths: \/var\/run\/docker.sock/);
    expect(new AlertStore(db).get(a.uuid)!.vigie.incident).toBe(inc.id);
    new FeedbackStore(db).falsePositive(a.uuid, 'workload');
    await new Promise((r) => setTimeout(r, 1100));
    expect(ch.filter(runtimeAlert('Terminal shell in container', new Date()))).toBe(false);
    expect(ch.stats()).toMatchObject({ suppressed: 1, incidents: 1, enriched: 1 });
  });
});
