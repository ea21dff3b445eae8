/**
 * The API double's authentication and RBAC authorization, checked request by request against what
 * the API server's RBAC authorizer decides and answers.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiDouble, type ApiDouble, type K8sObject } from './k8s-api-double.js';

const RBAC = 'rbac.authorization.k8s.io/v1';
const ns = (name: string): K8sObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const pod = (namespace: string, name: string): K8sObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});
const clusterRole = (name: string, rules: unknown[], extra: Record<string, unknown> = {}): K8sObject => ({
  apiVersion: RBAC,
  kind: 'ClusterRole',
  metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
  rules,
  ...(extra.aggregationRule ? { aggregationRule: extra.aggregationRule } : {}),
});
const role = (namespace: string, name: string, rules: unknown[]): K8sObject => ({
  apiVersion: RBAC,
  kind: 'Role',
  metadata: { name, namespace },
  rules,
});
const binding = (
  namespace: string | undefined,
  name: string,
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string },
  subjects: Record<string, string>[],
): K8sObject => ({
  apiVersion: RBAC,
  kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
  metadata: { name, ...(namespace ? { namespace } : {}) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects,
});
const sa = (namespace: string, name: string, withNs = true): Record<string, string> => ({
  kind: 'ServiceAccount',
  name,
  ...(withNs ? { namespace } : {}),
});

let api: ApiDouble;
beforeEach(async () => {
  api = await startApiDouble([ns('a'), ns('b'), pod('a', 'x'), pod('a', 'y'), pod('b', 'x')]);
});
afterEach(async () => {
  await api.close();
});

/** A request as service account `a/<name>`; resolves with status and parsed body. */
async function as(
  name: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: any }> {
  const token = api.kubeConfigForServiceAccount('a', name).getCurrentUser()!.token!;
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

const user = (name: string) => `system:serviceaccount:a:${name}`;

describe('API double: authentication', () => {
  it('an unknown or missing token is 401; the default kubeconfig is an admin that RBAC lets do anything', async () => {
    expect((await fetch(api.url + '/api/v1/namespaces/a/pods')).status).toBe(401);
    const bad = await fetch(api.url + '/api/v1/namespaces/a/pods', {
      headers: { authorization: 'Bearer nope' },
    });
    expect(bad.status).toBe(401);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    expect((await core.listPodForAllNamespaces()).items).toHaveLength(3);
    // With no role at all, a service account may only use discovery.
    expect((await as('nobody', 'GET', '/api/v1')).status).toBe(200);
    expect((await as('nobody', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(403);
  });
});

describe('API double: RBAC authorization', () => {
  it("refuses with the API server's Status and message, at namespace and cluster scope", async () => {
    api.put(role('a', 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]));
    api.put(binding('a', 'r', { kind: 'Role', name: 'pod-reader' }, [sa('a', 'reader')]));
    expect((await as('reader', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(200);
    expect((await as('reader', 'GET', '/api/v1/namespaces/a/pods')).status).toBe(200);
    const other = await as('reader', 'GET', '/api/v1/namespaces/b/pods/x');
    expect(other.status).toBe(403);
    expect(other.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `pods "x" is forbidden: User "${user('reader')}" cannot get resource "pods" in API group "" in the namespace "b"`,
      reason: 'Forbidden',
      details: { name: 'x', kind: 'pods' },
      code: 403,
    });
    const all = await as('reader', 'GET', '/api/v1/pods');
    expect(all.body.message).toBe(
      `pods is forbidden: User "${user('reader')}" cannot list resource "pods" in API group "" at the cluster scope`,
    );
    const del = await as('reader', 'DELETE', '/api/v1/namespaces/a/pods/x');
    expect(del.body.message).toMatch(/cannot delete resource "pods"/);
    const coll = await as('reader', 'DELETE', '/api/v1/namespaces/a/pods');
    expect(coll.body.message).toMatch(
      /cannot deletecollection resource "pods" in API group "" in the namespace "a"/,
    );
    const watch = await as('reader', 'GET', '/api/v1/namespaces/a/pods?watch=true');
    expect(watch.body.message).toMatch(/cannot watch resource "pods"/);

    // The real client sees the same Status in its error.
    const core = api.kubeConfigForServiceAccount('a', 'reader').makeApiClient(CoreV1Api);
    const err = (await core.deleteNamespacedPod({ name: 'x', namespace: 'a' }).catch((e: unknown) => e)) as {
      code: number;
      body: string;
    };
    expect(err.code).toBe(403);
    expect(JSON.parse(err.body).message).toMatch(
      /^pods "x" is forbidden: User "system:serviceaccount:a:reader"/,
    );
  });

  it('resourceNames: get of a named object matches; list, watch and create do not (a metadata.name field selector does)', async () => {
    api.put(
      role('a', 'one-pod', [
        {
          apiGroups: [''],
          resources: ['pods'],
          resourceNames: ['x'],
          verbs: ['get', 'list', 'watch', 'create'],
        },
      ]),
    );
    api.put(binding('a', 'r', { kind: 'Role', name: 'one-pod' }, [sa('a', 'one')]));
    expect((await as('one', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(200);
    expect((await as('one', 'GET', '/api/v1/namespaces/a/pods/y')).status).toBe(403);
    expect((await as('one', 'GET', '/api/v1/namespaces/a/pods')).status).toBe(403);
    expect((await as('one', 'GET', '/api/v1/namespaces/a/pods?watch=true')).status).toBe(403);
    expect((await as('one', 'POST', '/api/v1/namespaces/a/pods', pod('a', 'x'))).status).toBe(403);
    const only = await as('one', 'GET', '/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Dx');
    expect(only.status).toBe(200);
    expect(only.body.items.map((p: any) => p.metadata.name)).toEqual(['x']);
  });

  it('subresources are separate resources; */sub, wildcards and API groups match as the API server does', async () => {
    api.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'a' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'd' } }, template: { spec: { containers: [] } } },
    });
    api.put(
      role('a', 'scaler', [
        { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
        // The core group, not apps: grants nothing on Deployments.
        { apiGroups: [''], resources: ['deployments'], verbs: ['*'] },
      ]),
    );
    api.put(binding('a', 'r', { kind: 'Role', name: 'scaler' }, [sa('a', 'scaler')]));
    const merge = 'application/merge-patch+json';
    expect((await as('scaler', 'GET', '/apis/apps/v1/namespaces/a/deployments/d/scale')).status).toBe(200);
    const p = await as(
      'scaler',
      'PATCH',
      '/apis/apps/v1/namespaces/a/deployments/d/scale',
      { spec: { replicas: 0 } },
      merge,
    );
    expect(p.status).toBe(200);
    const whole = await as(
      'scaler',
      'PATCH',
      '/apis/apps/v1/namespaces/a/deployments/d',
      { spec: { replicas: 1 } },
      merge,
    );
    expect(whole.body.message).toBe(
      `deployments.apps "d" is forbidden: User "${user('scaler')}" cannot patch resource "deployments" in API group "apps" in the namespace "a"`,
    );
    const upd = await as('scaler', 'PUT', '/apis/apps/v1/namespaces/a/deployments/d/scale', {
      spec: { replicas: 1 },
    });
    expect(upd.body.message).toMatch(/cannot update resource "deployments\/scale" in API group "apps"/);
    const log = await as('scaler', 'GET', '/api/v1/namespaces/a/pods/x/log');
    expect(log.body.message).toMatch(/cannot get resource "pods\/log" in API group ""/);
    const ev = await as('scaler', 'POST', '/api/v1/namespaces/a/pods/y/eviction', {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'y', namespace: 'a' },
    });
    expect(ev.status).toBe(201);

    api.put(
      clusterRole('any-scale', [
        { apiGroups: ['*'], resources: ['*/scale'], verbs: ['update'] },
        { apiGroups: ['*'], resources: ['*'], verbs: ['list'] },
      ]),
    );
    api.put(binding('a', 'w', { kind: 'ClusterRole', name: 'any-scale' }, [sa('a', 'wild')]));
    expect(
      (await as('wild', 'PUT', '/apis/apps/v1/namespaces/a/deployments/d/scale', { spec: { replicas: 1 } }))
        .status,
    ).toBe(200);
    expect((await as('wild', 'GET', '/apis/apps/v1/namespaces/a/deployments')).status).toBe(200);
    expect((await as('wild', 'GET', '/api/v1/namespaces/a/pods')).status).toBe(200);
    expect((await as('wild', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(403);
  });

  it('a RoleBinding to a ClusterRole grants in its namespace only; a ClusterRoleBinding everywhere; subjects by SA (namespace defaulted), group, user', async () => {
    api.put(clusterRole('pods', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]));
    api.put(binding('a', 'local', { kind: 'ClusterRole', name: 'pods' }, [sa('a', 'local', false)]));
    expect((await as('local', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(200);
    expect((await as('local', 'GET', '/api/v1/namespaces/b/pods/x')).status).toBe(403);
    // A subject naming the SA in another namespace does not match it.
    api.put(binding('b', 'elsewhere', { kind: 'ClusterRole', name: 'pods' }, [sa('b', 'local')]));
    expect((await as('local', 'GET', '/api/v1/namespaces/b/pods/x')).status).toBe(403);

    api.put(binding(undefined, 'everywhere', { kind: 'ClusterRole', name: 'pods' }, [sa('a', 'global')]));
    expect((await as('global', 'GET', '/api/v1/namespaces/b/pods/x')).status).toBe(200);

    api.put(
      binding('b', 'group', { kind: 'ClusterRole', name: 'pods' }, [
        { kind: 'Group', name: 'system:serviceaccounts:a', apiGroup: 'rbac.authorization.k8s.io' },
      ]),
    );
    expect((await as('anyone', 'GET', '/api/v1/namespaces/b/pods/x')).status).toBe(200);
    const u = api.kubeConfigFor({ user: 'alice', groups: ['system:authenticated'] });
    api.put(binding('a', 'alice', { kind: 'ClusterRole', name: 'pods' }, [{ kind: 'User', name: 'alice' }]));
    await expect(
      u.makeApiClient(CoreV1Api).readNamespacedPod({ name: 'x', namespace: 'a' }),
    ).resolves.toBeDefined();
    // A binding to a role that does not exist grants nothing.
    api.put(binding('a', 'ghost', { kind: 'Role', name: 'missing' }, [sa('a', 'ghost')]));
    expect((await as('ghost', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(403);
  });

  it('an aggregated ClusterRole has the rules of the ClusterRoles its selectors match', async () => {
    api.put(
      clusterRole('parent', [], {
        aggregationRule: {
          clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-parent': 'true' } }],
        },
      }),
    );
    api.put(
      clusterRole('child', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], {
        labels: { 'example.com/aggregate-to-parent': 'true' },
      }),
    );
    api.put(clusterRole('unrelated', [{ apiGroups: [''], resources: ['pods'], verbs: ['delete'] }]));
    api.put(binding('a', 'agg', { kind: 'ClusterRole', name: 'parent' }, [sa('a', 'agg')]));
    expect((await as('agg', 'GET', '/api/v1/namespaces/a/pods/x')).status).toBe(200);
    expect((await as('agg', 'DELETE', '/api/v1/namespaces/a/pods/x')).status).toBe(403);
  });
});

describe('API double: RBAC escalation prevention', () => {
  const rbPath = '/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings';
  const toAdmin = (name: string) =>
    binding('a', name, { kind: 'ClusterRole', name: 'admin' }, [sa('a', 'web')]);

  beforeEach(() => {
    api.put(clusterRole('admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]));
    api.put(role('a', 'reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]));
    api.put(
      clusterRole('binder', [
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: ['create'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      ]),
    );
    api.put(binding(undefined, 'binder', { kind: 'ClusterRole', name: 'binder' }, [sa('a', 'binder')]));
  });

  it('a RoleBinding needs bind on its role, or every permission the role grants', async () => {
    const refused = await as('binder', 'POST', rbPath, toAdmin('web-admin'));
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(
      `rolebindings.rbac.authorization.k8s.io "web-admin" is forbidden: user "${user('binder')}" (groups=["system:serviceaccounts" "system:serviceaccounts:a" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`,
    );
    expect(api.find('RoleBinding', 'a', 'web-admin')).toBeUndefined();
    // Holding every permission of the referenced role is enough.
    const held = binding('a', 'web-reader', { kind: 'Role', name: 'reader' }, [sa('a', 'web')]);
    expect((await as('binder', 'POST', rbPath, held)).status).toBe(201);

    // bind, scoped to the role by name: allowed for admin, not for another ClusterRole.
    api.put(clusterRole('other', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]));
    api.put(
      clusterRole('bind-admin', [
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterroles'],
          resourceNames: ['admin'],
          verbs: ['bind'],
        },
      ]),
    );
    api.put(
      binding(undefined, 'bind-admin', { kind: 'ClusterRole', name: 'bind-admin' }, [sa('a', 'binder')]),
    );
    expect((await as('binder', 'POST', rbPath, toAdmin('web-admin'))).status).toBe(201);
    const toOther = binding('a', 'web-other', { kind: 'ClusterRole', name: 'other' }, [sa('a', 'web')]);
    expect((await as('binder', 'POST', rbPath, toOther)).status).toBe(403);
    // The check comes before "already exists": a dry run of an existing binding tells whether it could be made.
    const again = await as('binder', 'POST', `${rbPath}?dryRun=All`, toAdmin('web-admin'));
    expect(again.body.reason).toBe('AlreadyExists');
    const otherAgain = await as('binder', 'POST', `${rbPath}?dryRun=All`, toOther);
    expect(otherAgain.status).toBe(403);
  });

  it('a Role needs escalate, or every permission it lists', async () => {
    const path = '/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles';
    const wide = role('a', 'wide', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]);
    const r1 = await as('binder', 'POST', path, wide);
    expect(r1.status).toBe(403);
    expect(r1.body.message).toMatch(
      /attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["secrets"\], Verbs:\["list"\]\}/,
    );
    expect(
      (
        await as(
          'binder',
          'POST',
          path,
          role('a', 'narrow', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]),
        )
      ).status,
    ).toBe(201);
    api.put(
      clusterRole('escalator', [
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'] },
      ]),
    );
    api.put(binding('a', 'esc', { kind: 'ClusterRole', name: 'escalator' }, [sa('a', 'binder')]));
    expect((await as('binder', 'POST', path, wide)).status).toBe(201);
  });
});
