import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { parseExceptions } from '../../../src/detect/posture/exceptions.js';
import { reportedFindings } from '../../../src/detect/posture/grouping.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { failsAt, toJson, toJunit, toSarif, toTable } from '../../../src/detect/posture/output.js';
import { checkSarif } from './sarif-check.js';

const controls = loadCatalogue();
const load = (text: string) => loadText(text, 'inline.yaml').objects;

describe('posture engine', () => {
  it('reports the failing path, fix and Kubescape ids', () => {
    const res = evaluate(
      load(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
        - {name: a, image: x:1, securityContext: {privileged: false}}
        - {name: b, image: x:1, securityContext: {privileged: true}}
`),
    );
    const f = res.findings.filter((x) => x.control === 'VG-POD-001');
    expect(f).toHaveLength(1);
    expect(f[0].path).toBe('spec.template.spec.containers[1].securityContext.privileged');
    expect(f[0].kubescape).toEqual(['C-0057']);
    expect(f[0].resource).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
    });
    expect(f[0].fix).toMatch(/privileged/);
    expect(f[0].container).toBe('b');
  });

  it('follows workload → service account → binding → role', () => {
    const text = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-maker}
rules: [{apiGroups: [""], resources: [pods], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bot-pods}
roleRef: {kind: ClusterRole, name: pod-maker, apiGroup: rbac.authorization.k8s.io}
subjects: [{kind: ServiceAccount, name: bot, namespace: a}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: uses-bot, namespace: a}
spec: {template: {spec: {serviceAccountName: bot, containers: [{name: c, image: x:1}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: no-token, namespace: a}
spec: {template: {spec: {serviceAccountName: bot, automountServiceAccountToken: false, containers: [{name: c, image: x:1}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other-sa, namespace: a}
spec: {template: {spec: {containers: [{name: c, image: x:1}]}}}
`;
    const res = evaluate(load(text));
    const takeover = res.findings.filter((f) => f.control === 'VG-RBAC-013');
    expect(takeover.map((f) => f.resource.name)).toEqual(['uses-bot']);
    expect(takeover[0].message).toMatch(/can create pods cluster-wide through ClusterRoleBinding bot-pods/);
    expect(takeover[0].related?.map((r) => r.kind)).toEqual(['ClusterRoleBinding', 'ClusterRole']);
    // the binding itself is reported per subject
    const create = res.findings.filter((f) => f.control === 'VG-RBAC-011');
    expect(create[0].subject).toEqual({ kind: 'ServiceAccount', name: 'bot', namespace: 'a' });
  });

  it('knows which Services expose which pods and which NetworkPolicies select them', () => {
    const text = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec: {template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c, image: x:1}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: a}
spec: {template: {metadata: {labels: {app: worker}}, spec: {containers: [{name: c, image: x:1}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: api-lb, namespace: a}
spec: {type: LoadBalancer, selector: {app: api}, ports: [{port: 443}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: worker, namespace: a}
spec: {podSelector: {matchLabels: {app: worker}}, policyTypes: [Ingress, Egress]}
`;
    const res = evaluate(load(text));
    const names = (id: string) =>
      res.findings
        .filter((f) => f.control === id)
        .map((f) => f.resource.name)
        .sort();
    expect(names('VG-NET-004')).toEqual(['api']);
    expect(names('VG-NET-001')).toEqual(['api']);
    expect(names('VG-NET-002')).toEqual(['api']);
    expect(res.findings.find((f) => f.control === 'VG-NET-004')?.related?.[0].name).toBe('api-lb');
  });

  it('marks excepted findings instead of hiding them, and ignores expired exceptions', () => {
    const objs = load(`
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec: {template: {spec: {containers: [{name: calico, image: calico/node:3.27, securityContext: {privileged: true}}, {name: other, image: x:1, securityContext: {privileged: true}}]}}}
`);
    const exceptions = parseExceptions(`
exceptions:
  - control: VG-POD-001
    namespace: kube-system
    kind: DaemonSet
    name: "calico-*"
    container: calico
    reason: CNI agent needs privileged
    expires: 2999-01-01
  - control: "VG-POD-*"
    name: calico-node
    container: other
    reason: expired one
    expires: 2000-01-01
`);
    const res = evaluate(objs, { exceptions });
    const priv = res.findings.filter((f) => f.control === 'VG-POD-001');
    expect(priv).toHaveLength(2);
    const calico = priv.find((f) => f.container === 'calico')!;
    expect(calico.excepted).toBe(true);
    expect(calico.exception?.reason).toBe('CNI agent needs privileged');
    expect(priv.find((f) => f.container === 'other')!.excepted).toBe(false);
    expect(res.summary.excepted).toBeGreaterThanOrEqual(1);
    expect(() => parseExceptions('- control: VG-POD-001\n')).toThrow(/reason/);
  });

  it('scores resources and the whole set; --fail-on thresholds', () => {
    const res = evaluate(
      load(`
apiVersion: v1
kind: ConfigMap
metadata: {name: clean, namespace: a}
data: {LOG_LEVEL: info}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: leaky, namespace: a}
data: {password: hunter2hunter2}
`),
    );
    const clean = res.resources.find((r) => r.resource.name === 'clean')!;
    const leaky = res.resources.find((r) => r.resource.name === 'leaky')!;
    expect(clean.score).toBe(100);
    // the only ConfigMap control (high) fails: 0 / 1
    expect(leaky.score).toBe(0);
    expect(res.summary.score).toBe(50);
    expect(failsAt(res, 'high')).toBe(true);
    expect(failsAt(res, 'critical')).toBe(false);
    expect(failsAt(res, undefined)).toBe(false);
  });

  describe('a chart-sized application', () => {
    const file = join(__dirname, 'fixtures', 'shop.yaml');
    const { objects, errors } = loadText(readFileSync(file, 'utf8'), file);
    const res = evaluate(objects, { controls, errors: [...errors] });

    it('loads every object and finds the planted problems', () => {
      expect(errors).toEqual([]);
      expect(objects.length).toBeGreaterThanOrEqual(30);
      const has = (id: string, name: string) =>
        res.findings.some((f) => f.control === id && f.resource.name === name && !f.excepted);
      expect(has('VG-POD-001', 'log-shipper')).toBe(true);
      expect(has('VG-POD-024', 'log-shipper')).toBe(true);
      expect(has('VG-IMG-001', 'cart')).toBe(true);
      expect(has('VG-CRED-001', 'cart')).toBe(true);
      expect(has('VG-CRED-003', 'payments-config')).toBe(true);
      expect(has('VG-NET-004', 'payments')).toBe(true);
      expect(has('VG-NET-006', 'admin')).toBe(true);
      expect(has('VG-NET-006', 'shop')).toBe(false);
      expect(has('VG-RBAC-003', 'ops-bot')).toBe(true);
      expect(has('VG-RBAC-013', 'log-shipper')).toBe(true);
      // frontend is the hardened one
      const frontend = res.findings
        .filter((f) => f.resource.name === 'frontend' && f.resource.kind === 'Deployment')
        .map((f) => f.control);
      for (const id of [
        'VG-POD-001',
        'VG-POD-002',
        'VG-POD-003',
        'VG-POD-004',
        'VG-WL-001',
        'VG-WL-002',
        'VG-SA-001',
        'VG-IMG-002',
        'VG-NET-001',
      ])
        expect(frontend).not.toContain(id);
      const fscore = res.resources.find(
        (r) => r.resource.kind === 'Deployment' && r.resource.name === 'frontend',
      )!.score;
      const lscore = res.resources.find((r) => r.resource.name === 'log-shipper')!.score;
      expect(fscore).toBeGreaterThan(lscore);
    });

    it('emits SARIF 2.1.0 that passes the structural schema check', () => {
      const sarif = toSarif(res, controls);
      expect(checkSarif(sarif)).toEqual([]);
      const run = (sarif.runs as any[])[0];
      // one result per finding as reports group them (by root cause)
      expect(run.results.length).toBe(reportedFindings(res.findings).length);
      expect(run.results.length).toBeLessThan(res.findings.length);
      expect(run.results[0].locations[0].physicalLocation.artifactLocation.uri).toContain('shop.yaml');
      expect(run.results[0].locations[0].physicalLocation.region.startLine).toBeGreaterThan(1);
      // the checker does reject broken logs
      expect(checkSarif({ version: '2.0', runs: [{ tool: {} }] }).length).toBeGreaterThan(0);
      expect(
        checkSarif({
          version: '2.1.0',
          runs: [
            {
              tool: { driver: { name: 'x', rules: [{ id: 'A' }] } },
              results: [{ ruleId: 'B', ruleIndex: 0 }],
            },
          ],
        }).length,
      ).toBeGreaterThanOrEqual(2);
    });

    it('emits JSON with the documented shape, JUnit and a table', () => {
      const j = JSON.parse(toJson(res));
      expect(j.summary.findings).toBe(res.summary.findings);
      const f = j.findings[0];
      for (const k of ['control', 'kubescape', 'severity', 'resource', 'path', 'message', 'excepted'])
        expect(f).toHaveProperty(k);
      expect(j.findings[0].severity).toBe('critical');
      const xml = toJunit(res, controls);
      expect(xml).toMatch(/^<\?xml/);
      expect((xml.match(/<failure /g) ?? []).length).toBe(res.summary.findings);
      expect((xml.match(/<testsuite /g) ?? []).length).toBe(controls.length);
      expect(toTable(res)).toMatch(/Score \d+(\.\d)?\/100/);
    });
  });
});
