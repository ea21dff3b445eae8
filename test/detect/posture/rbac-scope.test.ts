import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { ScanContext } from '../../../src/detect/posture/context.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { BUILTIN_CLUSTER_ROLES, isClusterScopedResource } from '../../../src/detect/posture/rbac-model.js';
import type { Finding } from '../../../src/detect/posture/types.js';

const controls = loadCatalogue().filter((c) => c.group === 'rbac');

function scan(text: string): Finding[] {
  const { objects, errors } = loadText(text, 'rbac.yaml');
  expect(errors).toEqual([]);
  return evaluate(objects, { controls }).findings;
}

/** Controls that fire on the binding named `name`. */
function firedOn(findings: Finding[], name: string): string[] {
  return [...new Set(findings.filter((f) => f.resource.name === name).map((f) => f.control))].sort();
}

const ROLE = (name: string, rules: string): string => `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}}
rules: ${rules}
`;

const BIND = (kind: 'RoleBinding' | 'ClusterRoleBinding', name: string, role: string, extra = ''): string => `
apiVersion: rbac.authorization.k8s.io/v1
kind: ${kind}
metadata: {name: ${name}${kind === 'RoleBinding' ? ', namespace: team' : ''}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${role}}
subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}${extra}]
`;

const CLUSTER_SCOPED_ONLY = ['VG-RBAC-015', 'VG-RBAC-017', 'VG-RBAC-018', 'VG-RBAC-019'];

describe('RBAC follows what Kubernetes grants', () => {
  it('knows which resources are cluster-scoped, subresources included', () => {
    for (const r of [
      'nodes',
      'nodes/proxy',
      'namespaces',
      'persistentvolumes',
      'clusterroles',
      'clusterrolebindings',
      'certificatesigningrequests/approval',
      'validatingwebhookconfigurations',
      'users',
    ])
      expect(isClusterScopedResource(r), r).toBe(true);
    for (const r of ['*', 'pods', 'pods/exec', 'secrets', 'roles', 'rolebindings', 'serviceaccounts'])
      expect(isClusterScopedResource(r), r).toBe(false);
  });

  it('a RoleBinding to a ClusterRole grants nothing cluster-scoped; a ClusterRoleBinding to it does', () => {
    const text = [
      ROLE(
        'cluster-ops',
        `[{apiGroups: [''], resources: [nodes/proxy, persistentvolumes], verbs: [get, create]},
          {apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [update]},
          {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}]`,
      ),
      BIND('RoleBinding', 'ns-ops', 'cluster-ops'),
      BIND('ClusterRoleBinding', 'all-ops', 'cluster-ops'),
    ].join('---');
    const f = scan(text);
    expect(firedOn(f, 'ns-ops')).toEqual([]);
    expect(firedOn(f, 'all-ops')).toEqual(CLUSTER_SCOPED_ONLY);
  });

  it('a wildcard role through a RoleBinding is namespace-admin, not cluster-admin', () => {
    const text = [
      ROLE('everything', `[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]`),
      BIND('RoleBinding', 'team-all', 'everything'),
      BIND('ClusterRoleBinding', 'all', 'everything'),
    ].join('---');
    const f = scan(text);
    const inNs = firedOn(f, 'team-all');
    expect(inNs).toContain('VG-RBAC-001');
    expect(inNs).toContain('VG-RBAC-003');
    for (const id of CLUSTER_SCOPED_ONLY) expect(inNs).not.toContain(id);
    for (const id of CLUSTER_SCOPED_ONLY) expect(firedOn(f, 'all')).toContain(id);
    const admin = f.find((x) => x.resource.name === 'team-all' && x.control === 'VG-RBAC-001')!;
    expect(admin.message).toBe(
      'User jane can do anything to any resource in namespace team through ClusterRole everything; bind a role without this permission instead',
    );
    const secrets = f.find((x) => x.resource.name === 'all' && x.control === 'VG-RBAC-003')!;
    expect(secrets.message).toMatch(
      /^User jane can get secrets cluster-wide through ClusterRole everything;/,
    );
  });

  it('impersonating service accounts is namespaced; impersonating users and groups is not', () => {
    const text = [
      ROLE('imp-users', `[{apiGroups: [''], resources: [users, groups], verbs: [impersonate]}]`),
      ROLE('imp-sa', `[{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}]`),
      BIND('RoleBinding', 'ns-users', 'imp-users'),
      BIND('RoleBinding', 'ns-sa', 'imp-sa'),
      BIND('ClusterRoleBinding', 'all-users', 'imp-users'),
    ].join('---');
    const f = scan(text);
    expect(firedOn(f, 'ns-users')).toEqual([]);
    expect(firedOn(f, 'ns-sa')).toEqual(['VG-RBAC-006']);
    expect(firedOn(f, 'all-users')).toEqual(['VG-RBAC-006']);
  });

  it("a workload's token carries only the namespaced part of a RoleBinding", () => {
    const text = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-admin}
rules: [{apiGroups: [''], resources: [nodes], verbs: [create, delete]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-nodes, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-admin}
subjects: [{kind: ServiceAccount, name: bot, namespace: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bot2-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-admin}
subjects: [{kind: ServiceAccount, name: bot2, namespace: team}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: uses-bot, namespace: team}
spec: {template: {spec: {serviceAccountName: bot, containers: [{name: c, image: x:1}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: uses-bot2, namespace: team}
spec: {template: {spec: {serviceAccountName: bot2, containers: [{name: c, image: x:1}]}}}
`;
    const f = scan(text);
    expect(firedOn(f, 'uses-bot')).toEqual([]);
    expect(firedOn(f, 'uses-bot2')).toEqual(['VG-RBAC-014']);
    expect(f.find((x) => x.resource.name === 'uses-bot2')!.message).toMatch(
      /service account team\/bot2, which can create nodes cluster-wide through ClusterRoleBinding bot2-nodes → ClusterRole node-admin;/,
    );
  });

  it('knows the built-in ClusterRoles without their being listed', () => {
    const f = scan(
      [
        BIND('RoleBinding', 'to-edit', 'edit'),
        BIND('RoleBinding', 'to-view', 'view'),
        BIND('RoleBinding', 'to-admin', 'admin'),
        BIND('RoleBinding', 'to-cluster-admin', 'cluster-admin'),
        BIND('ClusterRoleBinding', 'everywhere-cluster-admin', 'cluster-admin'),
        BIND('RoleBinding', 'to-unknown', 'no-such-role'),
      ].join('---'),
    );
    expect(firedOn(f, 'to-edit')).toEqual([
      'VG-RBAC-003',
      'VG-RBAC-004',
      'VG-RBAC-006',
      'VG-RBAC-007',
      'VG-RBAC-008',
      'VG-RBAC-009',
      'VG-RBAC-010',
      'VG-RBAC-011',
      'VG-RBAC-016',
    ]);
    expect(firedOn(f, 'to-view')).toEqual([]);
    // admin aggregates edit, which aggregates view
    expect(firedOn(f, 'to-admin')).toEqual(firedOn(f, 'to-edit'));
    const nsAdmin = firedOn(f, 'to-cluster-admin');
    expect(nsAdmin).toContain('VG-RBAC-001');
    expect(nsAdmin).toContain('VG-RBAC-002');
    for (const id of CLUSTER_SCOPED_ONLY) expect(nsAdmin).not.toContain(id);
    for (const id of CLUSTER_SCOPED_ONLY) expect(firedOn(f, 'everywhere-cluster-admin')).toContain(id);
    expect(firedOn(f, 'to-unknown')).toEqual([]);
    expect(
      f.find((x) => x.control === 'VG-RBAC-002' && x.resource.name === 'to-cluster-admin')!.message,
    ).toBe(
      'User jane is bound to cluster-admin in namespace team, so it can do anything there; bind a narrower role instead',
    );
  });

  it("the input's own ClusterRoles win over the built-in ones of the same name", () => {
    const f = scan(
      [
        ROLE('edit', `[{apiGroups: [''], resources: [configmaps], verbs: [get]}]`),
        BIND('RoleBinding', 'to-edit', 'edit'),
      ].join('---'),
    );
    expect(firedOn(f, 'to-edit')).toEqual([]);
  });

  it('resolves aggregated ClusterRoles, the built-in ones extended by labels included', () => {
    const f = scan(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: platform}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {example.com/platform: 'true'}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: platform-nodes, labels: {example.com/platform: 'true'}}
rules: [{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view-secrets, labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}}
rules: [{apiGroups: [''], resources: [secrets], verbs: [list]}]
---
${BIND('ClusterRoleBinding', 'platform-all', 'platform')}
---
${BIND('RoleBinding', 'platform-ns', 'platform')}
---
${BIND('RoleBinding', 'to-view', 'view')}
---
${BIND('RoleBinding', 'to-admin', 'admin')}
`);
    expect(firedOn(f, 'platform-all')).toEqual(['VG-RBAC-018']);
    expect(firedOn(f, 'platform-ns')).toEqual([]);
    // view gathers the new role, and so do edit and admin, which gather view
    expect(firedOn(f, 'to-view')).toEqual(['VG-RBAC-003']);
    expect(firedOn(f, 'to-admin')).toContain('VG-RBAC-003');
  });

  it('ends on aggregation cycles', () => {
    const { objects } = loadText(
      `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: a, labels: {agg: a}}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {agg: b}}]}
rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: b, labels: {agg: b}}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {agg: a}}]}
rules: [{apiGroups: [''], resources: [pods/exec], verbs: [create]}]
`,
      'cycle.yaml',
    );
    const ctx = new ScanContext(objects.map((o) => o.obj));
    const rules = ctx.rulesOf(objects[0].obj);
    expect(rules.map((r) => r.resources[0]).sort()).toEqual(['pods/exec', 'secrets']);
  });

  it('keeps the built-in roles read only', () => {
    expect(Object.isFrozen(BUILTIN_CLUSTER_ROLES)).toBe(true);
    for (const r of BUILTIN_CLUSTER_ROLES) {
      expect(Object.isFrozen(r)).toBe(true);
      for (const rule of r.rules) expect(Object.isFrozen(rule)).toBe(true);
    }
    expect(BUILTIN_CLUSTER_ROLES.map((r) => r.metadata?.name)).toEqual(
      expect.arrayContaining(['cluster-admin', 'admin', 'edit', 'view']),
    );
  });
});
