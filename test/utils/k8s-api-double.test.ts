/**
 * The Kubernetes API double, driven by the real @kubernetes/client-node client.
 */
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  NetworkingV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  Watch,
  makeInformer,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  jsonPatch,
  mergePatch,
  parseLabelSelector,
  matchesSelector,
  startApiDouble,
  strategicMergePatch,
  type ApiDouble,
} from './k8s-api-double.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const pod = (
  name: string,
  namespace = 'shop',
  labels: Record<string, string> = { app: 'web' },
  node = 'node-1',
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: {
    nodeName: node,
    containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'A', value: '1' }] }],
  },
  status: { phase: 'Running' },
});

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}
function body(e: unknown): Record<string, any> {
  const b = (e as { body?: unknown }).body;
  return typeof b === 'string' ? JSON.parse(b) : (b as Record<string, any>);
}

let api: ApiDouble | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('patch helpers (hand-worked cases)', () => {
  it('merge patch follows RFC 7386', () => {
    expect(mergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({
      a: 'z',
      c: { d: 'e' },
    });
    expect(mergePatch({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });
  it('strategic merge merges containers by name and env by name, replaces other lists', () => {
    const base = {
      spec: {
        containers: [
          { name: 'a', image: 'x', env: [{ name: 'K', value: '1' }] },
          { name: 'b', image: 'y' },
        ],
        args: ['1'],
      },
    };
    const out = strategicMergePatch(base, {
      spec: {
        containers: [
          { name: 'a', image: 'x2', env: [{ name: 'L', value: '2' }] },
          { name: 'b', $patch: 'delete' },
        ],
        args: ['2'],
      },
    });
    expect(out).toEqual({
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x2',
            env: [
              { name: 'K', value: '1' },
              { name: 'L', value: '2' },
            ],
          },
        ],
        args: ['2'],
      },
    });
  });
  it('json patch add/remove/replace/test/move/copy with escaped pointers', () => {
    const doc = { metadata: { labels: { 'a/b': '1' } }, list: [1, 2] };
    const out = jsonPatch(doc, [
      { op: 'test', path: '/metadata/labels/a~1b', value: '1' },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'replace', path: '/list/0', value: 0 },
      { op: 'copy', from: '/list/2', path: '/x' },
      { op: 'move', from: '/x', path: '/y' },
      { op: 'remove', path: '/metadata/labels/a~1b' },
    ]);
    expect(out).toEqual({ metadata: { labels: {} }, list: [0, 2, 3], y: 3 });
    expect(() => jsonPatch(doc, [{ op: 'test', path: '/list/0', value: 9 }])).toThrow(/test failed/);
  });
  it('label selectors', () => {
    const sel = parseLabelSelector('app=web,tier!=db,env in (prod, staging),!legacy,team');
    expect(matchesSelector({ app: 'web', env: 'prod', team: 'x' }, sel)).toBe(true);
    expect(matchesSelector({ app: 'web', env: 'dev', team: 'x' }, sel)).toBe(false);
    expect(matchesSelector({ app: 'web', env: 'prod', team: 'x', legacy: '1' }, sel)).toBe(false);
    expect(() => parseLabelSelector('a b c')).toThrow();
  });
});

describe('k8s API double with @kubernetes/client-node', () => {
  it('CRUD, metadata, 404/409 Status objects, conflicts on update', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const got = await core.readNamespacedPod({ name: 'web-1', namespace: 'shop' });
    expect(got.metadata?.uid).toMatch(/[0-9a-f-]{36}/);
    expect(got.metadata?.generation).toBe(1);
    expect(got.metadata?.creationTimestamp).toBeInstanceOf(Date);

    const err404 = await core.readNamespacedPod({ name: 'nope', namespace: 'shop' }).catch((e) => e);
    expect(code(err404)).toBe(404);
    expect(body(err404)).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });

    const err409 = await core
      .createNamespacedPod({ namespace: 'shop', body: pod('web-1') as V1Pod })
      .catch((e) => e);
    expect(code(err409)).toBe(409);
    expect(body(err409).reason).toBe('AlreadyExists');

    const noNs = await core
      .createNamespacedPod({ namespace: 'ghost', body: pod('x', 'ghost') as V1Pod })
      .catch((e) => e);
    expect(code(noNs)).toBe(404);

    // Update with a stale resourceVersion conflicts; with the current one it succeeds.
    const stale = { ...got, metadata: { ...got.metadata, resourceVersion: '1' } };
    const conflict = await core
      .replaceNamespacedPod({ name: 'web-1', namespace: 'shop', body: stale })
      .catch((e) => e);
    expect(code(conflict)).toBe(409);
    expect(body(conflict).reason).toBe('Conflict');
    got.spec!.containers[0].image = 'nginx:1.28';
    const upd = await core.replaceNamespacedPod({ name: 'web-1', namespace: 'shop', body: got });
    expect(upd.metadata?.generation).toBe(2);
    expect(Number(upd.metadata?.resourceVersion)).toBeGreaterThan(Number(got.metadata?.resourceVersion));
    expect(upd.metadata?.uid).toBe(got.metadata?.uid);

    await core.deleteNamespacedPod({ name: 'web-1', namespace: 'shop' });
    const gone = await core.deleteNamespacedPod({ name: 'web-1', namespace: 'shop' }).catch((e) => e);
    expect(code(gone)).toBe(404);
  });

  it('patch: merge, strategic merge (containers by name) and JSON patch; label-only patch keeps generation', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const p1 = await core.patchNamespacedPod(
      { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { 'vigie.io/quarantine': 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(p1.metadata?.labels).toEqual({ app: 'web', 'vigie.io/quarantine': 'true' });
    expect(p1.metadata?.generation).toBe(1);
    const p2 = await core.patchNamespacedPod(
      {
        name: 'web-1',
        namespace: 'shop',
        body: { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '2' }] }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(p2.spec?.containers).toHaveLength(1);
    expect(p2.spec?.containers[0].image).toBe('nginx:1.27');
    expect(p2.spec?.containers[0].env?.map((e) => e.name)).toEqual(['A', 'B']);
    const p3 = await core.patchNamespacedPod(
      {
        name: 'web-1',
        namespace: 'shop',
        body: [{ op: 'remove', path: '/metadata/labels/vigie.io~1quarantine' }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(p3.metadata?.labels).toEqual({ app: 'web' });
    const bad = await core
      .patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: [{ op: 'test', path: '/metadata/labels/app', value: 'db' }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )
      .catch((e) => e);
    expect(code(bad)).toBe(422);
    expect(api.requests.filter((r) => r.verb === 'patch').map((r) => r.contentType)).toEqual([
      'application/merge-patch+json',
      'application/strategic-merge-patch+json',
      'application/json-patch+json',
      'application/json-patch+json',
    ]);
  });

  it('list with labelSelector/fieldSelector, apps and networking groups, scale via patch', async () => {
    api = await startApiDouble([
      ns('shop'),
      pod('web-1'),
      pod('web-2', 'shop', { app: 'web' }, 'node-2'),
      pod('db-1', 'shop', { app: 'db' }),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx' }] },
          },
        },
      },
    ]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const web = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=web' });
    expect(web.items.map((p) => p.metadata?.name)).toEqual(['web-1', 'web-2']);
    expect(Number(web.metadata?.resourceVersion)).toBe(api.resourceVersion());
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-1' });
    expect(onNode.items.map((p) => p.metadata?.name).sort()).toEqual(['db-1', 'web-1']);

    const apps = api.kubeConfig.makeApiClient(AppsV1Api);
    const d = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'shop', body: { spec: { replicas: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(d.spec?.replicas).toBe(0);
    expect(d.metadata?.generation).toBe(2);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'shop' });
    expect(scale.spec?.replicas).toBe(0);

    const net = api.kubeConfig.makeApiClient(NetworkingV1Api);
    await net.createNamespacedNetworkPolicy({
      namespace: 'shop',
      body: {
        metadata: { name: 'deny' },
        spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] },
      },
    });
    const pols = await net.listNamespacedNetworkPolicy({ namespace: 'shop' });
    expect(pols.items.map((p) => p.metadata?.name)).toEqual(['deny']);
    expect(api.find('NetworkPolicy', 'shop', 'deny')?.apiVersion).toBe('networking.k8s.io/v1');
  });

  it('eviction subresource deletes the pod, honours a PodDisruptionBudget, 404 for a missing pod', async () => {
    api = await startApiDouble([
      ns('shop'),
      pod('web-1'),
      pod('db-1', 'shop', { app: 'db' }),
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'db', namespace: 'shop' },
        spec: { selector: { matchLabels: { app: 'db' } } },
        status: { disruptionsAllowed: 0 },
      },
    ]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedPodEviction({
      name: 'web-1',
      namespace: 'shop',
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1', namespace: 'shop' } },
    });
    expect(api.find('Pod', 'shop', 'web-1')).toBeUndefined();
    const blocked = await core
      .createNamespacedPodEviction({
        name: 'db-1',
        namespace: 'shop',
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'db-1' } },
      })
      .catch((e) => e);
    expect(code(blocked)).toBe(429);
    const missing = await core
      .createNamespacedPodEviction({
        name: 'web-1',
        namespace: 'shop',
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1' } },
      })
      .catch((e) => e);
    expect(code(missing)).toBe(404);
  });

  it('RBAC objects and discovery through KubernetesObjectApi', async () => {
    api = await startApiDouble([ns('shop')]);
    const objApi = KubernetesObjectApi.makeApiClient(api.kubeConfig);
    await objApi.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }],
    } as any);
    const rbac = api.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const rb = await rbac.readNamespacedRoleBinding({ name: 'rb', namespace: 'shop' });
    expect(rb.roleRef.name).toBe('admin');
    const read = await objApi.read({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb', namespace: 'shop' },
    });
    expect(read.metadata?.uid).toBe(rb.metadata?.uid);
    await rbac.deleteNamespacedRoleBinding({ name: 'rb', namespace: 'shop' });
    expect(api.find('RoleBinding', 'shop', 'rb')).toBeUndefined();
  });

  it('fault injection: 403 for a verb/resource, 409 once', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const off = api.fault({ verb: 'patch', resource: 'pods', status: 403, times: Infinity });
    const denied = await core
      .patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { a: 'b' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
      .catch((e) => e);
    expect(code(denied)).toBe(403);
    expect(body(denied).message).toMatch(/forbidden/);
    off();
    api.fault({ verb: 'patch', resource: 'pods', status: 409 });
    const once = await core
      .patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { a: 'b' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
      .catch((e) => e);
    expect(code(once)).toBe(409);
    const ok = await core.patchNamespacedPod(
      { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { a: 'b' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(ok.metadata?.labels?.a).toBe('b');
  });

  it('watch streams ADDED/MODIFIED/DELETED from a resourceVersion, 410 for a compacted one, and can be dropped', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedPod({ namespace: 'shop' });
    const seen: string[] = [];
    let doneErr: unknown = 'not done';
    const watch = new Watch(api.kubeConfig);
    await watch.watch(
      '/api/v1/namespaces/shop/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
      (err) => (doneErr = err),
    );
    await core.createNamespacedPod({ namespace: 'shop', body: pod('web-2') as V1Pod });
    await core.patchNamespacedPod(
      { name: 'web-2', namespace: 'shop', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedPod({ name: 'web-2', namespace: 'shop' });
    await waitFor(() => seen.length >= 3);
    expect(seen).toEqual(['ADDED web-2', 'MODIFIED web-2', 'DELETED web-2']);
    expect(api.dropWatches()).toBe(1);
    await waitFor(() => doneErr !== 'not done');

    // Resume from an old resourceVersion replays what was missed.
    const replay: string[] = [];
    await watch.watch(
      '/api/v1/namespaces/shop/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (t, o) => replay.push(`${t} ${o.metadata.name}`),
      () => {},
    );
    await waitFor(() => replay.length >= 3);
    expect(replay).toEqual(seen);
    api.dropWatches();

    api.compact();
    const errs: { type: string; code?: number }[] = [];
    await watch.watch(
      '/api/v1/namespaces/shop/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (t, o) => errs.push({ type: t, code: o.code }),
      () => {},
    );
    await waitFor(() => errs.length >= 1);
    expect(errs[0]).toEqual({ type: 'ERROR', code: 410 });
  });

  it('a label-filtered watch sees an object leaving the selector as DELETED and entering it as ADDED', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const seen: string[] = [];
    await new Watch(api.kubeConfig).watch(
      '/api/v1/namespaces/shop/pods',
      { labelSelector: 'app=web' },
      (t, o) => seen.push(`${t} ${o.metadata.name}`),
      () => {},
    );
    const relabel = (app: string) =>
      core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { app } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await relabel('db');
    await relabel('db2');
    await relabel('web');
    await waitFor(() => seen.length >= 3);
    expect(seen).toEqual(['ADDED web-1', 'DELETED web-1', 'ADDED web-1']);
  });

  it('an informer lists, watches and relists after a 410', async () => {
    api = await startApiDouble([ns('shop'), pod('web-1')]);
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const informer = makeInformer(api.kubeConfig, '/api/v1/namespaces/shop/pods', () =>
      core.listNamespacedPod({ namespace: 'shop' }),
    );
    const added: string[] = [];
    informer.on('add', (p: V1Pod) => added.push(p.metadata!.name!));
    informer.on('error', () => setTimeout(() => void informer.start(), 50));
    await informer.start();
    await waitFor(() => added.includes('web-1'));
    await core.createNamespacedPod({ namespace: 'shop', body: pod('web-2') as V1Pod });
    await waitFor(() => added.includes('web-2'));
    expect(
      informer
        .list()
        .map((p) => p.metadata?.name)
        .sort(),
    ).toEqual(['web-1', 'web-2']);
    // Connection lost while the history the informer would resume from is compacted away:
    // it gets 410 Gone, relists, and learns about the change it missed.
    const deleted: string[] = [];
    informer.on('delete', (p: V1Pod) => deleted.push(p.metadata!.name!));
    const listsBefore = api.requests.filter((r) => r.verb === 'list').length;
    api.dropWatches();
    api.remove('Pod', 'shop', 'web-1');
    api.put(pod('web-3'));
    api.compact();
    await waitFor(() => deleted.includes('web-1') && added.includes('web-3'));
    expect(api.requests.filter((r) => r.verb === 'list').length).toBeGreaterThan(listsBefore);
    expect(api.requests.some((r) => r.verb === 'watch' && r.status === 200)).toBe(true);
    expect(
      informer
        .list()
        .map((p) => p.metadata?.name)
        .sort(),
    ).toEqual(['web-2', 'web-3']);
    await informer.stop();
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
