import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import {
  API_CHANGES,
  apiChange,
  DEFAULT_KUBERNETES_VERSION,
  parseKubernetesMinor,
} from '../../../src/detect/posture/checks/api-versions.js';
import { PostureDetector } from '../../../src/detect/posture/detector.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { PostureIndex } from '../../../src/detect/posture/posture-index.js';
import type { K8sObject } from '../../../src/detect/posture/types.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { AdmissionReviewer } from '../../../src/server/admission.js';

const controls = loadCatalogue();
const run = (objs: K8sObject[], only: string[], settings: Record<string, string[]> = {}) =>
  evaluate(
    objs.map((obj) => ({ obj })),
    { controls, only, settings },
  ).findings.map((f) => `${f.control} ${f.resource.kind}/${f.resource.name} ${f.path}`);

function deployment(name: string, spec: Record<string, any> = {}, pod: Record<string, any> = {}): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'ns' },
    spec: {
      selector: { matchLabels: { app: name } },
      ...spec,
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }], ...pod },
      },
    },
  };
}

const service = (name: string, selector: Record<string, string>, targetPort: number | string): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns' },
  spec: { selector, ports: [{ port: 80, targetPort }] },
});

describe('readiness probes (VG-WL-011, VG-WL-015, VG-WL-016)', () => {
  const PROBES = ['VG-WL-011', 'VG-WL-015', 'VG-WL-016'];
  const twoContainers = deployment(
    'web',
    {},
    {
      containers: [
        { name: 'app', image: 'app:1.0', ports: [{ name: 'http', containerPort: 8080 }] },
        { name: 'log-shipper', image: 'shipper:1.0' },
      ],
      initContainers: [{ name: 'migrate', image: 'app:1.0' }],
    },
  );

  it('splits missing probes: the served container by VG-WL-015, the others by VG-WL-011, each once', () => {
    expect(run([twoContainers, service('web', { app: 'web' }, 'http')], PROBES).sort()).toEqual([
      'VG-WL-011 Deployment/web spec.template.spec.containers[1].readinessProbe',
      'VG-WL-015 Deployment/web spec.template.spec.containers[0].readinessProbe',
    ]);
    // no Service: both are VG-WL-011, as before; init containers never need one
    expect(run([twoContainers], PROBES).sort()).toEqual([
      'VG-WL-011 Deployment/web spec.template.spec.containers[0].readinessProbe',
      'VG-WL-011 Deployment/web spec.template.spec.containers[1].readinessProbe',
    ]);
    // a Service of another app does not count
    expect(run([twoContainers, service('other', { app: 'other' }, 'http')], PROBES)).toHaveLength(2);
  });

  it('treats every app container as served when none declares the targeted port', () => {
    const f = evaluate([{ obj: twoContainers }, { obj: service('web', { app: 'web' }, 9999) }], {
      controls,
      only: PROBES,
    }).findings;
    expect(f.map((x) => x.control)).toEqual(['VG-WL-015', 'VG-WL-015']);
    expect(f[0].message).toMatch(/Service ns\/web sends it traffic/);
    expect(f[0].related).toEqual([{ apiVersion: 'v1', kind: 'Service', namespace: 'ns', name: 'web' }]);
    expect(f[1].container).toBe('log-shipper');
  });

  it('compares probes with the API defaults applied', () => {
    const probe = (p: Record<string, any>) =>
      deployment('p', {}, { containers: [{ name: 'app', image: 'app:1.0', ...p }] });
    const exec = { exec: { command: ['/bin/check'] } };
    expect(
      run([probe({ livenessProbe: exec, readinessProbe: { ...exec, timeoutSeconds: 1 } })], PROBES),
    ).toEqual(['VG-WL-016 Deployment/p spec.template.spec.containers[0].livenessProbe']);
    expect(
      run([probe({ livenessProbe: { ...exec, failureThreshold: 6 }, readinessProbe: exec })], PROBES),
    ).toEqual([]);
    expect(
      run(
        [
          probe({
            livenessProbe: { httpGet: { path: '/livez', port: 8080 } },
            readinessProbe: { httpGet: { path: '/readyz', port: 8080 } },
          }),
        ],
        PROBES,
      ),
    ).toEqual([]);
  });
});

describe('availability (VG-AVL-*)', () => {
  const AVL = ['VG-AVL-001', 'VG-AVL-002', 'VG-AVL-003', 'VG-AVL-004'];
  const pdb = (name: string, spec: Record<string, any>): K8sObject => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, namespace: 'ns' },
    spec,
  });

  it('reads the replica count from the autoscaler when one scales the workload', () => {
    const hpa = (min?: number): K8sObject => ({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'ns' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: min,
        maxReplicas: 9,
      },
    });
    // spec.replicas 5 but the autoscaler may go down to 1: not reported as replicated
    expect(run([deployment('web', { replicas: 5 }), hpa(1)], ['VG-AVL-001', 'VG-AVL-002'])).toEqual([]);
    expect(run([deployment('web'), hpa(3)], AVL).sort()).toEqual([
      'VG-AVL-001 Deployment/web spec.template.metadata.labels',
      'VG-AVL-002 Deployment/web spec.template.spec.affinity',
    ]);
    expect(run([deployment('web', { replicas: 5 }), hpa()], ['VG-AVL-004'])).toEqual([
      'VG-AVL-004 Deployment/web spec.replicas',
    ]);
  });

  it('counts a budget only when its selector matches the pod labels in the same namespace', () => {
    const web = deployment('web', { replicas: 2 });
    expect(
      run([web, pdb('web', { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } })], AVL),
    ).toEqual(['VG-AVL-002 Deployment/web spec.template.spec.affinity']);
    // policy/v1: the empty selector selects every pod of the namespace; a missing one selects none
    expect(run([web, pdb('all', { maxUnavailable: 1, selector: {} })], ['VG-AVL-001'])).toEqual([]);
    expect(run([web, pdb('none', { maxUnavailable: 1 })], ['VG-AVL-001'])).toHaveLength(1);
    expect(
      run(
        [web, pdb('x', { maxUnavailable: 1, selector: { matchLabels: { app: 'web', tier: 'db' } } })],
        ['VG-AVL-001'],
      ),
    ).toHaveLength(1);
  });

  it('reports a budget that keeps every selected pod, counting the replicas of all it selects', () => {
    const shared = (n: number) =>
      pdb('shared', {
        minAvailable: n,
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] },
      });
    const objs = [deployment('a', { replicas: 2 }), deployment('b', { replicas: 3 })];
    expect(run([...objs, shared(4)], ['VG-AVL-003'])).toEqual([]);
    const f = evaluate(
      [...objs, shared(5)].map((obj) => ({ obj })),
      { controls, only: ['VG-AVL-003'] },
    ).findings;
    expect(f.map((x) => x.message)).toEqual([
      'minAvailable 5 with at least 5 selected pods (Deployment a, Deployment b): no pod may be evicted, so node drains block',
    ]);
    expect(f[0].related?.map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('indexes budgets: 20,000 workloads against 20,000 budgets in one namespace stay linear', () => {
    const objs: K8sObject[] = [];
    for (let i = 0; i < 20_000; i++) {
      objs.push(deployment(`w${i}`, { replicas: 3 }));
      if (i % 2 === 0)
        objs.push(pdb(`w${i}`, { maxUnavailable: 1, selector: { matchLabels: { app: `w${i}` } } }));
      else
        objs.push(pdb(`p${i}`, { maxUnavailable: 1, selector: { matchLabels: { app: `unrelated-${i}` } } }));
    }
    const t0 = Date.now();
    const f = evaluate(
      objs.map((obj) => ({ obj })),
      { controls, only: ['VG-AVL-001', 'VG-AVL-003'] },
    ).findings;
    expect(f.filter((x) => x.control === 'VG-AVL-001')).toHaveLength(10_000);
    expect(f.filter((x) => x.control === 'VG-AVL-003')).toHaveLength(0);
    // 4·10^8 selector tests would take minutes; the index makes it a few hundred milliseconds
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('admission without a cluster view leaves budget coverage to the scanner', () => {
    const r = new AdmissionReviewer({ controls });
    const d = r.review({ uid: 'u', operation: 'CREATE', object: deployment('web', { replicas: 3 }) });
    const ids = d.findings.map((f) => f.control);
    expect(ids).not.toContain('VG-AVL-001');
    expect(ids).toContain('VG-AVL-002');
  });

  it('live: a budget that arrives later clears the finding', () => {
    const index = new PostureIndex();
    const det = new PostureDetector({ controls, index, minSeverity: 'info' });
    let n = 0;
    const ev = (object: K8sObject): VigieEvent => ({
      id: `e${++n}`,
      kind: 'k8s_object',
      ts: 1n,
      source: 'k8s',
      object: { verb: 'ADDED', object },
    });
    const emit = (): void => {};
    det.onEvent(ev(deployment('web', { replicas: 3 })), emit);
    det.tick(1n, emit);
    expect(index.findingsFor('ns', 'web').map((f) => f.control)).toContain('VG-AVL-001');
    det.onEvent(ev(pdb('web', { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } })), emit);
    det.tick(2n, emit);
    expect(index.findingsFor('ns', 'web').map((f) => f.control)).not.toContain('VG-AVL-001');
  });
});

describe('API versions (VG-API-001, VG-API-002)', () => {
  const API = ['VG-API-001', 'VG-API-002'];
  const at = (version: string | undefined, objs: K8sObject[]) =>
    run(objs, API, version ? { kubernetesVersion: [version] } : {});
  const old = (apiVersion: string, kind: string): K8sObject => ({
    apiVersion,
    kind,
    metadata: { name: 'x', namespace: 'ns' },
  });

  it('parses versions and knows the deprecation guide', () => {
    expect(parseKubernetesMinor('1.29')).toBe(29);
    expect(parseKubernetesMinor('v1.29.3-eks-1')).toBe(29);
    expect(parseKubernetesMinor('2.0')).toBeUndefined();
    expect(parseKubernetesMinor('latest')).toBeUndefined();
    expect(apiChange('policy/v1beta1', 'PodSecurityPolicy')).toMatchObject({
      deprecatedIn: 21,
      removedIn: 25,
    });
    expect(apiChange('autoscaling/v2beta1', 'HorizontalPodAutoscaler')?.replacement).toBe('autoscaling/v2');
    expect(apiChange('apps/v1', 'Deployment')).toBeUndefined();
    expect(new Set(API_CHANGES.map((c) => `${c.apiVersion}|${c.kind}`)).size).toBe(API_CHANGES.length);
    for (const c of API_CHANGES)
      if (c.removedIn !== undefined) expect(c.removedIn).toBeGreaterThan(c.deprecatedIn);
    expect(DEFAULT_KUBERNETES_VERSION).toBe('1.33');
  });

  it('reports by the target version: nothing before deprecation, deprecated, then removed', () => {
    const hpa = old('autoscaling/v2beta2', 'HorizontalPodAutoscaler'); // deprecated 1.23, removed 1.26
    expect(at('1.22', [hpa])).toEqual([]);
    expect(at('1.23', [hpa])).toEqual(['VG-API-002 HorizontalPodAutoscaler/x apiVersion']);
    expect(at('1.25', [hpa])).toEqual(['VG-API-002 HorizontalPodAutoscaler/x apiVersion']);
    expect(at('1.26', [hpa])).toEqual(['VG-API-001 HorizontalPodAutoscaler/x apiVersion']);
    expect(at(undefined, [hpa])).toEqual(['VG-API-001 HorizontalPodAutoscaler/x apiVersion']);
    const flow = old('flowcontrol.apiserver.k8s.io/v1beta3', 'FlowSchema'); // deprecated 1.29, removed 1.32
    expect(at('1.29', [flow])).toEqual(['VG-API-002 FlowSchema/x apiVersion']);
    expect(at('1.32', [flow])).toEqual(['VG-API-001 FlowSchema/x apiVersion']);
    expect(
      at('1.29', [old('extensions/v1beta1', 'Ingress'), old('networking.k8s.io/v1', 'Ingress')]),
    ).toEqual(['VG-API-001 Ingress/x apiVersion']);
  });
});
