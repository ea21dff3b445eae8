import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHECKS, loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import type { Check } from '../../../src/detect/posture/checks/types.js';
import { evaluate, PostureEngine } from '../../../src/detect/posture/engine.js';
import type { ControlDef, Hit, K8sObject } from '../../../src/detect/posture/types.js';

/** A control backed by a spy check, so a test sees which objects the engine hands to it. */
function spyControl(id: string, appliesTo: string[]): { def: ControlDef; seen: () => string[] } {
  const fn = vi.fn((o: K8sObject): Hit[] => [{ path: 'metadata.name', message: `saw ${o.kind}` }]);
  spyChecks[`test-${id}`] = { appliesTo, fn };
  const def: ControlDef = {
    id,
    title: id,
    description: id,
    severity: 'low',
    remediation: 'none',
    check: `test-${id}`,
    kubescape: [],
    group: 'test',
  };
  return { def, seen: () => fn.mock.calls.map(([o]) => `${o.kind}/${o.metadata?.name}`) };
}
/** The built-in checks plus the spies of the current test. */
let spyChecks: Record<string, Check> = {};
const checks = () => ({ ...CHECKS, ...spyChecks });
afterEach(() => {
  spyChecks = {};
});

const podSpec = { containers: [{ name: 'c', image: 'x:1' }] };
const template = { metadata: { labels: { app: 'a' } }, spec: podSpec };
const meta = (name: string) => ({ name, namespace: 'ns' });
/** One object of each kind that carries a pod template, CRDs included. */
const WORKLOADS: K8sObject[] = [
  { apiVersion: 'v1', kind: 'Pod', metadata: meta('pod'), spec: podSpec },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('deploy'), spec: { template } },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta('sts'), spec: { template } },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('ds'), spec: { template } },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('rs'), spec: { template } },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: meta('job'), spec: { template } },
  {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta('cron'),
    spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } },
  },
  { apiVersion: 'v1', kind: 'ReplicationController', metadata: meta('rc'), spec: { template } },
  { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: meta('rollout'), spec: { template } },
  // A PodTemplate carries its template at the top level, with no spec.
  { apiVersion: 'v1', kind: 'PodTemplate', metadata: meta('pt'), template },
];
const OTHERS: K8sObject[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('cm'), data: { a: 'b' } },
  { apiVersion: 'v1', kind: 'Service', metadata: meta('svc'), spec: { selector: { app: 'a' } } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
];
const loaded = (objs: K8sObject[]) => objs.map((obj) => ({ obj }));
const names = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata?.name}`);

describe('controls indexed by the kinds they apply to', () => {
  it('does not evaluate a Deployment control on a ConfigMap (or any other kind)', () => {
    const deploy = spyControl('VG-TST-001', ['Deployment']);
    const res = evaluate(loaded([...OTHERS, ...WORKLOADS]), { controls: [deploy.def], checks: checks() });
    expect(deploy.seen()).toEqual(['Deployment/deploy']);
    expect(res.findings.map((f) => `${f.resource.kind}/${f.resource.name}`)).toEqual(['Deployment/deploy']);
    // objects no control applies to get no score either
    expect(res.resources.map((r) => r.resource.kind)).toEqual(['Deployment']);
  });

  it('evaluates a control for all workloads on each workload kind, once, and on nothing else', () => {
    const all = spyControl('VG-TST-002', ['podspec']);
    const deploy = spyControl('VG-TST-003', ['Deployment']);
    const res = evaluate(loaded([...OTHERS, ...WORKLOADS]), {
      controls: [all.def, deploy.def],
      checks: checks(),
    });
    expect(all.seen()).toEqual(names(WORKLOADS));
    expect(deploy.seen()).toEqual(['Deployment/deploy']);
    // the Deployment is scored on both controls, every other workload on the pod-template one
    expect(res.findings.filter((f) => f.resource.kind === 'Deployment').map((f) => f.control)).toEqual([
      'VG-TST-003',
      'VG-TST-002',
    ]);
    expect(res.resources).toHaveLength(WORKLOADS.length);
  });

  it('gives the catalogue controls by kind: pod-template controls on every workload, none on a ConfigMap', () => {
    const catalogue = loadCatalogue();
    const engine = new PostureEngine(catalogue);
    const podspec = catalogue.filter((c) => CHECKS[c.check].appliesTo.includes('podspec'));
    expect(podspec.length).toBeGreaterThan(20);
    for (const w of WORKLOADS) {
      const ids = new Set(engine.controlsFor(w).map((c) => c.id));
      for (const c of podspec) expect(ids.has(c.id), `${c.id} on ${w.kind}`).toBe(true);
      for (const c of engine.controlsFor(w)) {
        const kinds = CHECKS[c.check].appliesTo;
        expect(kinds.includes('podspec') || kinds.includes(String(w.kind)), `${c.id} on ${w.kind}`).toBe(
          true,
        );
      }
    }
    const cm = engine.controlsFor(OTHERS[0]);
    expect(cm.length).toBeGreaterThan(0);
    for (const c of cm) expect(CHECKS[c.check].appliesTo).toContain('ConfigMap');
  });

  it('finds a privileged container in a PodTemplate (template at the top level)', () => {
    const pt: K8sObject = {
      apiVersion: 'v1',
      kind: 'PodTemplate',
      metadata: meta('priv'),
      template: {
        spec: { containers: [{ name: 'c', image: 'x:1', securityContext: { privileged: true } }] },
      },
    };
    const res = evaluate(loaded([pt]), { controls: loadCatalogue() });
    const priv = res.findings.filter((f) => /privileged/i.test(f.title));
    expect(priv.length).toBeGreaterThan(0);
    expect(priv[0].resource.kind).toBe('PodTemplate');
  });
});
