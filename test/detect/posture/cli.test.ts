import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vigie } from './run-vigie.js';
import { startApiDouble, type ApiDouble } from '../../utils/k8s-api-double.js';

describe('vigie scan / vigie controls', () => {
  let api: ApiDouble;
  beforeAll(async () => {
    api = await startApiDouble([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: 'prod' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'builder-secrets' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'builder', namespace: 'prod' }],
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'builder', namespace: 'prod' },
        spec: {
          selector: { matchLabels: { app: 'b' } },
          template: {
            metadata: { labels: { app: 'b' } },
            spec: {
              serviceAccountName: 'builder',
              containers: [{ name: 'b', image: 'builder:1.0', securityContext: { privileged: true } }],
            },
          },
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'prod' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'web:1.0' }] },
          },
        },
      },
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'web', namespace: 'prod' },
        spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } },
      },
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'web', namespace: 'prod' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
          minReplicas: 3,
          maxReplicas: 6,
        },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'np', namespace: 'prod' },
        spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] },
      },
    ]);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('scans files, stdin and a cluster; exit codes follow --fail-on; bad input is reported with file:line:column', async () => {
    const [files, stdin, bad, cluster, controls] = await Promise.all([
      vigie(['scan', join(__dirname, 'fixtures'), '--output', 'json', '--fail-on', 'critical']),
      vigie(
        ['scan', '-', '--output', 'sarif', '--fail-on', 'critical'],
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\n',
      ),
      vigie(['scan', '-'], 'kind: Pod\nmetadata:\n  name: [oops\n'),
      vigie(['scan', '--cluster', '--kubeconfig', api.kubeconfigPath, '--output', 'json']),
      vigie(['controls', '--output', 'json']),
    ]);
    expect(files.code).toBe(1);
    const j = JSON.parse(files.out);
    expect(j.summary.objects).toBeGreaterThanOrEqual(30);
    expect(j.findings.some((f: any) => f.control === 'VG-POD-001' && f.resource.name === 'log-shipper')).toBe(
      true,
    );

    expect(stdin.code).toBe(0);
    expect(JSON.parse(stdin.out).version).toBe('2.1.0');

    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/-:[34]:\d+: /);

    expect(cluster.code).toBe(0);
    const c = JSON.parse(cluster.out);
    const get = (id: string) =>
      c.findings
        .filter((f: any) => f.control === id)
        .map((f: any) => `${f.resource.kind}/${f.resource.name}`);
    expect(get('VG-POD-001')).toEqual(['Deployment/builder']);
    expect(get('VG-RBAC-013')).toEqual(['Deployment/builder']);
    expect(get('VG-RBAC-003')).toEqual(['ClusterRoleBinding/builder-secrets']);
    // ingress-only policy selects the pod: no "no NetworkPolicy" finding, but egress stays open
    expect(get('VG-NET-001')).toEqual([]);
    expect(get('VG-NET-002').sort()).toEqual(['Deployment/builder', 'Deployment/web']);
    // the budget and the autoscaler are listed: web is covered, and its spec.replicas fights the HPA
    expect(get('VG-AVL-001')).toEqual([]);
    expect(get('VG-AVL-004')).toEqual(['Deployment/web']);
    const listed = new Set(api.requests.filter((r) => r.verb === 'list').map((r) => r.resource));
    for (const r of [
      'pods',
      'deployments',
      'clusterrolebindings',
      'networkpolicies',
      'serviceaccounts',
      'poddisruptionbudgets',
      'horizontalpodautoscalers',
    ])
      expect(listed.has(r), r).toBe(true);

    expect(controls.code).toBe(0);
    const list = JSON.parse(controls.out);
    expect(list.length).toBeGreaterThanOrEqual(90);
    expect(list[0]).toHaveProperty('kubescape');
  }, 120_000);

  it('--kubernetes-version sets the release whose removed and deprecated API versions are reported', async () => {
    const cronJob =
      'apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: x}\n' +
      'spec: {schedule: "@daily", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: c:1.0}]}}}}}\n';
    const [k124, kbad] = await Promise.all([
      vigie(
        [
          'scan',
          '-',
          '--kubernetes-version',
          'v1.24.3',
          '--control',
          'VG-API-001',
          'VG-API-002',
          '-o',
          'json',
        ],
        cronJob,
      ),
      vigie(['scan', '-', '--kubernetes-version', 'latest'], cronJob),
    ]);
    // batch/v1beta1 CronJob: deprecated in 1.21, no longer served from 1.25
    const f = JSON.parse(k124.out).findings;
    expect(f.map((x: any) => x.control)).toEqual(['VG-API-002']);
    expect(f[0].message).toMatch(/deprecated since Kubernetes 1\.21 .*1\.25.*target 1\.24.*batch\/v1/);
    expect(kbad.code).toBe(2);
    expect(kbad.err).toMatch(/not a Kubernetes version: latest/);
  }, 120_000);
});
