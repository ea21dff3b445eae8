/**
 * Every Kubernetes action and its rollback, and every reader of the cluster (watch source, blast
 * radius, metrics), run as Vigie's service account against the RBAC-enforcing API double with the
 * RBAC of deploy/kubernetes/vigie.yaml as shipped:
 *
 * - each passes with the manifest's permissions only;
 * - each permission it declares it needs, taken away from a copy of the manifest, makes it fail on a
 *   403 for exactly that permission;
 * - every permission the manifest grants is used by one of them (no grant that nothing needs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClusterObjects } from '../../src/characterize/blast.js';
import type { ActionRecord, ActionTarget, ActionType } from '../../src/model/action.js';
import type { VigieEvent } from '../../src/model/event.js';
import { KubernetesActuator, QUARANTINE_LABEL } from '../../src/respond/actuators/kubernetes.js';
import { KubernetesSource, WATCHED_KINDS } from '../../src/sources/kubernetes.js';
import { K8sMetricsSource } from '../../src/sources/metrics/k8s-metrics.js';
import {
  startApiDouble,
  type ApiDouble,
  type K8sObject,
  type RequestLogEntry,
} from '../utils/k8s-api-double.js';
import { pod, shopCluster } from '../utils/k8s-fixtures.js';
import { ruleAllows, type RequestAttributes } from '../utils/k8s-rbac.js';
import {
  grantedRules,
  grantsOf,
  grantText,
  VIGIE_SA,
  vigieRbacObjects,
  withoutGrant,
  type Grant,
} from '../utils/vigie-rbac.js';

const VIGIE_USER = `system:serviceaccount:${VIGIE_SA.namespace}:${VIGIE_SA.name}`;

interface Env {
  api: ApiDouble;
  act: KubernetesActuator;
  kc: KubeConfig;
  kubeconfigPath: string;
}

/** Pods with each kind of controller, beside the shop's Deployment-managed and bare pods. */
function cluster(): K8sObject[] {
  const owner = (kind: string, name: string) => ({
    apiVersion: 'apps/v1',
    kind,
    name,
    uid: `${kind}-${name}`,
    controller: true,
  });
  const template = (app: string) => ({
    metadata: { labels: { app } },
    spec: { containers: [{ name: 'main', image: `${app}:1` }] },
  });
  const workload = (kind: string, name: string, replicas?: number): K8sObject => ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: 'shop', uid: `${kind}-${name}` },
    spec: {
      ...(replicas !== undefined ? { replicas } : {}),
      selector: { matchLabels: { app: name } },
      template: template(name),
    },
  });
  return [
    ...shopCluster(),
    workload('StatefulSet', 'queue', 2),
    pod('queue-0', 'shop', { app: 'queue' }, 'node-1', { owner: owner('StatefulSet', 'queue') }),
    workload('DaemonSet', 'agent'),
    pod('agent-x1', 'shop', { app: 'agent' }, 'node-1', { owner: owner('DaemonSet', 'agent') }),
    workload('ReplicaSet', 'batch', 4),
    pod('batch-x1', 'shop', { app: 'batch' }, 'node-2', { owner: owner('ReplicaSet', 'batch') }),
    {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web-started', namespace: 'shop' },
      involvedObject: { kind: 'Pod', name: 'web-7d9f-abcde', namespace: 'shop' },
      reason: 'Started',
      message: 'Started container web',
    },
    {
      apiVersion: 'metrics.k8s.io/v1beta1',
      kind: 'PodMetrics',
      metadata: { name: 'web-7d9f-abcde', namespace: 'shop' },
      timestamp: '2026-01-01T00:00:00Z',
      window: '30s',
      containers: [{ name: 'web', usage: { cpu: '250m', memory: '64Mi' } }],
    },
    {
      apiVersion: 'metrics.k8s.io/v1beta1',
      kind: 'NodeMetrics',
      metadata: { name: 'node-1' },
      timestamp: '2026-01-01T00:00:00Z',
      window: '30s',
      usage: { cpu: '1500m', memory: '2Gi' },
    },
  ];
}

const target = (name: string): ActionTarget => ({
  kind: 'pod',
  id: `shop/${name}`,
  name,
  namespace: 'shop',
  platform: 'kubernetes',
});

async function run(
  env: Env,
  action: ActionType,
  name: string,
  params: Record<string, unknown> = {},
): Promise<ActionRecord> {
  const t = target(name);
  const res = await env.act.execute(action, t, params);
  expect(res.verified, `${action} on ${name} verified`).toBe(true);
  return {
    id: `t-${action}`,
    action,
    target: t,
    status: 'executed',
    mode: 'enforce',
    reason: 'test',
    createdAt: new Date().toISOString(),
    params,
    stateBefore: res.stateBefore,
    stateAfter: res.stateAfter,
    verified: true,
    evidence: res.evidence,
  };
}

async function rollback(env: Env, rec: ActionRecord): Promise<{ restored: boolean; notes: string[] }> {
  return (await env.act.rollback(rec)) as { restored: boolean; notes: string[] };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Scenario {
  name: string;
  /** Permissions (as grantKey writes them) without which the scenario must fail on a 403. */
  needs: string[];
  /** 403s the scenario meets on purpose under the shipped manifest (as grantKey of the request). */
  refusedOnPurpose?: string[];
  run(env: Env): Promise<void>;
}

const grantKey = (g: Pick<Grant, 'verb' | 'group' | 'resource'>): string =>
  `${g.verb} ${g.group ? `${g.group}/` : ''}${g.resource}`;
const attrsKey = (a: RequestAttributes): string =>
  grantKey({
    verb: a.verb,
    group: a.apiGroup,
    resource: a.subresource ? `${a.resource}/${a.subresource}` : a.resource,
  });

const limitScenario = (kind: string, pod: string, workload: string, needs: string[]): Scenario => ({
  name: `k8s_limit on a ${kind}`,
  needs,
  async run(env) {
    const rec = await run(env, 'k8s_limit', pod, { cpu: '200m', memory: '128Mi' });
    expect(env.api.find(kind, 'shop', workload)!.spec.template.spec.containers[0].resources).toEqual({
      limits: { cpu: '200m', memory: '128Mi' },
    });
    expect((await rollback(env, rec)).restored).toBe(true);
    expect(env.api.find(kind, 'shop', workload)!.spec.template.spec.containers[0].resources).toBeUndefined();
  },
});

const scaleScenario = (
  kind: string,
  pod: string,
  workload: string,
  from: number,
  needs: string[],
): Scenario => ({
  name: `scale_zero on a ${kind}`,
  needs,
  async run(env) {
    const rec = await run(env, 'scale_zero', pod);
    expect(env.api.find(kind, 'shop', workload)!.spec.replicas).toBe(0);
    expect((await rollback(env, rec)).restored).toBe(true);
    expect(env.api.find(kind, 'shop', workload)!.spec.replicas).toBe(from);
  },
});

const SCENARIOS: Scenario[] = [
  {
    name: 'label',
    needs: ['get pods', 'patch pods'],
    async run(env) {
      const before = env.api.find('Pod', 'shop', 'web-7d9f-abcde')!;
      const rec = await run(env, 'label', 'web-7d9f-abcde', { reason: 'shell' });
      expect(env.api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels[QUARANTINE_LABEL]).toBe('true');
      expect((await rollback(env, rec)).restored).toBe(true);
      expect(env.api.find('Pod', 'shop', 'web-7d9f-abcde')!.metadata!.labels).toEqual(
        before.metadata!.labels,
      );
    },
  },
  {
    name: 'k8s_isolate',
    needs: [
      'create networking.k8s.io/networkpolicies',
      'list networking.k8s.io/networkpolicies',
      'get networking.k8s.io/networkpolicies',
      'delete networking.k8s.io/networkpolicies',
      'patch pods',
    ],
    async run(env) {
      const rec = await run(env, 'k8s_isolate', 'web-7d9f-abcde');
      expect(env.api.find('NetworkPolicy', 'shop', 'vigie-isolate-web-7d9f-abcde')).toBeDefined();
      expect((await rollback(env, rec)).restored).toBe(true);
      expect(env.api.find('NetworkPolicy', 'shop', 'vigie-isolate-web-7d9f-abcde')).toBeUndefined();
    },
  },
  scaleScenario('Deployment', 'web-7d9f-abcde', 'web', 3, [
    'get apps/replicasets',
    'get apps/deployments',
    'get apps/deployments/scale',
    'patch apps/deployments/scale',
  ]),
  scaleScenario('StatefulSet', 'queue-0', 'queue', 2, [
    'get apps/statefulsets',
    'get apps/statefulsets/scale',
    'patch apps/statefulsets/scale',
  ]),
  scaleScenario('ReplicaSet', 'batch-x1', 'batch', 4, [
    'get apps/replicasets/scale',
    'patch apps/replicasets/scale',
  ]),
  limitScenario('Deployment', 'web-7d9f-abcde', 'web', ['patch apps/deployments']),
  limitScenario('StatefulSet', 'queue-0', 'queue', ['patch apps/statefulsets']),
  limitScenario('DaemonSet', 'agent-x1', 'agent', ['get apps/daemonsets', 'patch apps/daemonsets']),
  limitScenario('ReplicaSet', 'batch-x1', 'batch', ['patch apps/replicasets']),
  {
    name: 'capture_evidence',
    needs: ['get pods/log', 'list events'],
    async run(env) {
      env.api.setPodLog('shop', 'web-7d9f-abcde', 'sh -c id\n');
      const rec = await run(env, 'capture_evidence', 'web-7d9f-abcde');
      const ev = rec.evidence as { logs: Record<string, string>; events: { reason?: string }[] };
      expect(ev.logs.main).toContain('sh -c id');
      expect(ev.events.map((e) => e.reason)).toEqual(['Started']);
    },
  },
  {
    name: 'evict',
    needs: ['create pods/eviction'],
    async run(env) {
      const rec = await run(env, 'evict', 'web-7d9f-abcde');
      expect(env.api.find('Pod', 'shop', 'web-7d9f-abcde')).toBeUndefined();
      const rb = await rollback(env, rec);
      expect(rb.notes.join(' ')).toMatch(/managed by ReplicaSet web-7d9f/);
    },
  },
  {
    name: 'delete_pod',
    needs: ['delete pods'],
    // Recreating a bare pod needs `create pods`, which Vigie is not given: the rollback says so.
    refusedOnPurpose: ['create pods'],
    async run(env) {
      const rec = await run(env, 'delete_pod', 'debug');
      expect(env.api.find('Pod', 'shop', 'debug')).toBeUndefined();
      const rb = await rollback(env, rec);
      expect(rb.restored).toBe(false);
      expect(rb.notes.join(' ')).toMatch(/Vigie may not create pods/);
    },
  },
  {
    name: 'cordon',
    needs: ['get nodes', 'patch nodes'],
    async run(env) {
      const rec = await run(env, 'cordon', 'web-7d9f-abcde');
      expect(env.api.find('Node', undefined, 'node-1')!.spec.unschedulable).toBe(true);
      expect((await rollback(env, rec)).restored).toBe(true);
      expect(env.api.find('Node', undefined, 'node-1')!.spec.unschedulable).toBeUndefined();
    },
  },
  {
    name: 'remove_rolebinding',
    needs: [
      'list rbac.authorization.k8s.io/rolebindings',
      'get rbac.authorization.k8s.io/rolebindings',
      'delete rbac.authorization.k8s.io/rolebindings',
      'create rbac.authorization.k8s.io/rolebindings',
      'bind rbac.authorization.k8s.io/clusterroles',
    ],
    async run(env) {
      const before = env.api.find('RoleBinding', 'shop', 'web-admin')!;
      const rec = await run(env, 'remove_rolebinding', 'web-7d9f-abcde');
      expect(env.api.find('RoleBinding', 'shop', 'web-admin')).toBeUndefined();
      const rb = await rollback(env, rec);
      expect(rb).toEqual({ state: { recreated: ['web-admin'] }, restored: true, notes: [] });
      expect(env.api.find('RoleBinding', 'shop', 'web-admin')!.roleRef).toEqual(before.roleRef);
    },
  },
  {
    name: 'watch source (list then watch of every kind it may read)',
    needs: [],
    // The source also watches Secrets (values redacted), which the manifest does not grant: it goes on without them.
    refusedOnPurpose: ['list secrets'],
    async run(env) {
      const src = new KubernetesSource({ kubeConfig: env.kc, hostname: 'h', reconnectMs: 5_000 });
      const evs: VigieEvent[] = [];
      await src.start((e) => (evs.push(e), true));
      try {
        await waitFor(
          () => env.api.openWatches() === WATCHED_KINDS.length - 1,
          8000,
          'every watch but Secrets',
        );
        expect(evs.some((e) => e.object?.object.kind === 'RoleBinding')).toBe(true);
      } finally {
        await src.stop();
      }
    },
  },
  {
    name: 'blast radius',
    needs: [
      'list rbac.authorization.k8s.io/rolebindings',
      'list rbac.authorization.k8s.io/clusterrolebindings',
    ],
    async run(env) {
      const objs = await loadClusterObjects(env.kc);
      const names = objs.map((o) => `${String(o.kind)}/${String(o.metadata?.name)}`);
      expect(names).toContain('RoleBinding/web-admin');
      expect(names).toContain('ClusterRoleBinding/vigie-brain');
    },
  },
  {
    name: 'metrics source',
    needs: ['list metrics.k8s.io/pods', 'list metrics.k8s.io/nodes'],
    async run(env) {
      const evs = await new K8sMetricsSource({ kubeconfig: env.kubeconfigPath }).poll();
      expect(evs.length).toBeGreaterThanOrEqual(2);
    },
  },
];

/** Every request and RBAC check made as Vigie under the shipped manifest, over all scenarios. */
const seen: RequestLogEntry[] = [];
const dir = mkdtempSync(join(tmpdir(), 'vigie-rbac-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function withEnv<T>(
  rbac: K8sObject[],
  f: (env: Env) => Promise<T>,
): Promise<{ api: ApiDouble; out: T }> {
  const api = await startApiDouble([...cluster(), ...rbac]);
  const kc = api.kubeConfigForServiceAccount(VIGIE_SA.namespace, VIGIE_SA.name);
  const kubeconfigPath = join(dir, `kc-${Math.random().toString(36).slice(2)}`);
  writeFileSync(kubeconfigPath, kc.exportConfig());
  const act = new KubernetesActuator({ kubeConfig: kc, retries: 0, retryDelayMs: 1 });
  try {
    return { api, out: await f({ api, act, kc, kubeconfigPath }) };
  } finally {
    await api.close();
  }
}

const vigieRequests = (api: ApiDouble) => api.requests.filter((r) => r.user === VIGIE_USER);
const refusals = (reqs: RequestLogEntry[]): string[] =>
  reqs.flatMap((r) => [
    ...(r.authz && !r.authz.allowed ? [attrsKey(r.authz)] : []),
    ...(r.escalation && !r.escalation.allowed ? [attrsKey(r.escalation)] : []),
  ]);

describe("Kubernetes actions under Vigie's shipped RBAC (deploy/kubernetes/vigie.yaml)", () => {
  const shipped = vigieRbacObjects();
  const granted = grantsOf(grantedRules(shipped));

  it('the manifest binds its ClusterRole to the brain service account, and grants each permission once', () => {
    expect(granted.length).toBeGreaterThan(20);
    const keys = granted.map(grantKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  for (const s of SCENARIOS)
    it(`${s.name}: passes, and its rollback, as ${VIGIE_USER} with the shipped permissions only`, async () => {
      const { api } = await withEnv(shipped, s.run);
      const reqs = vigieRequests(api);
      seen.push(...reqs);
      expect(reqs.length).toBeGreaterThan(0);
      expect([...new Set(refusals(reqs))].sort()).toEqual([...(s.refusedOnPurpose ?? [])].sort());
      for (const need of s.needs) expect(granted.map(grantKey), `${need} is granted`).toContain(need);
    });

  it('every permission the manifest grants is used by an action, its rollback or a reader of the cluster', () => {
    expect(seen.length, 'the scenarios above ran').toBeGreaterThan(0);
    const used = seen.flatMap((r) => [
      ...(r.authz?.allowed ? [r.authz] : []),
      ...(r.escalation?.allowed ? [r.escalation] : []),
    ]);
    const unused = granted.filter(
      (g) =>
        !used.some((a) =>
          ruleAllows(a, {
            verbs: [g.verb],
            apiGroups: [g.group],
            resources: [g.resource],
            ...(g.resourceNames ? { resourceNames: g.resourceNames } : {}),
          }),
        ),
    );
    expect(unused.map(grantText)).toEqual([]);
  });

  it('taking away one needed permission from a copy of the manifest makes its action fail with a 403 for it', async () => {
    let checked = 0;
    for (const s of SCENARIOS)
      for (const need of s.needs) {
        const g = granted.find((x) => grantKey(x) === need);
        if (!g) throw new Error(`${s.name} needs ${need}, which the manifest does not grant`);
        const { api, out } = await withEnv(withoutGrant(shipped, g), (env) =>
          s.run(env).then(
            () => undefined,
            (e: unknown) => e,
          ),
        );
        expect(out, `${s.name} without ${need} fails`).toBeInstanceOf(Error);
        expect(refusals(vigieRequests(api)), `${s.name} without ${need}: a 403 for it`).toContain(need);
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(30);
  }, 120_000);
});
