import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { readPaths } from '../../../src/detect/posture/sources.js';

/**
 * A chart rendered by `helm template storefront ./storefront -n storefront`: three Deployments, two
 * Services, an Ingress with TLS, service accounts, a leader-election Role and binding, a ConfigMap,
 * two PodDisruptionBudgets, an HPA and a release-wide NetworkPolicy. Configured as a maintained chart
 * is (non-root, read-only root, drop ALL, RuntimeDefault seccomp, resources, probes, spread), with the
 * mistakes such charts really ship: the worker on `:latest` with IfNotPresent, no budget and no
 * spread for the worker, spec.replicas rendered beside the HPA, the same probe for liveness and
 * readiness. The scan must say that, once each, and little else.
 */
describe('scan of a Helm-rendered application', () => {
  it('gives a short report without repeats', async () => {
    const dir = join(__dirname, 'fixtures', 'helm-app');
    const { objects, errors } = await readPaths([dir]);
    expect(errors).toEqual([]);
    expect(objects).toHaveLength(15);
    const res = evaluate(objects, { controls: loadCatalogue() });
    const report = res.findings.map((f) => `${f.control} ${f.resource.kind}/${f.resource.name}`).sort();
    expect(report).toEqual([
      // the worker: replicated with no budget and nothing spreading it, a floating tag not re-pulled
      'VG-AVL-001 Deployment/storefront-worker',
      'VG-AVL-002 Deployment/storefront-worker',
      // the api: spec.replicas rendered although the HPA scales it
      'VG-AVL-004 Deployment/storefront-api',
      'VG-IMG-001 Deployment/storefront-worker',
      'VG-IMG-002 Deployment/storefront-worker',
      'VG-IMG-005 Deployment/storefront-worker',
      // reachable from the Ingress, as a web application is
      'VG-NET-004 Deployment/storefront-api',
      'VG-NET-004 Deployment/storefront-web',
      // informational: no SELinux options on any container
      'VG-POD-028 Deployment/storefront-api',
      'VG-POD-028 Deployment/storefront-web',
      'VG-POD-028 Deployment/storefront-worker',
      // the api mounts its token for leader election
      'VG-SA-001 Deployment/storefront-api',
      // the worker has no readiness probe (no Service sends it traffic: the low-severity control)
      'VG-WL-011 Deployment/storefront-worker',
      // the api's liveness probe is its readiness probe
      'VG-WL-016 Deployment/storefront-api',
    ]);
    expect(new Set(res.findings.map((f) => f.control))).toEqual(
      new Set([
        'VG-AVL-001',
        'VG-AVL-002',
        'VG-AVL-004',
        'VG-IMG-001',
        'VG-IMG-002',
        'VG-IMG-005',
        'VG-NET-004',
        'VG-POD-028',
        'VG-SA-001',
        'VG-WL-011',
        'VG-WL-016',
      ]),
    );
    const keys = res.findings.map(
      (f) => `${f.control}|${f.resource.kind}/${f.resource.namespace}/${f.resource.name}|${f.path}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    expect(res.findings.length).toBeLessThan(25);
    // nothing on the objects that are right: budgets, HPA, Services, Ingress, RBAC, NetworkPolicy
    expect(new Set(res.findings.map((f) => f.resource.kind))).toEqual(new Set(['Deployment']));
    // every finding points at its document in the rendered file
    for (const f of res.findings) {
      expect(f.source?.file).toMatch(/storefront\.yaml$/);
      expect(f.source?.line).toBeGreaterThan(0);
    }
    expect(res.summary.score).toBeGreaterThan(90);
  });
});
