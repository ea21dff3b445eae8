import { afterEach, describe, expect, it } from 'vitest';
import type { VigieEvent } from '../../src/model/event.js';
import { KubernetesSource } from '../../src/sources/kubernetes.js';
import { PostureDetector, PostureIndex } from '../../src/detect/posture/index.js';
import { Correlator } from '../../src/characterize/incidents.js';
import { makeAlert, type AlertInput } from '../../src/model/alert.js';
import { openStore } from '../../src/infra/db.js';
import { startApiDouble, type ApiDouble } from '../utils/k8s-api-double.js';
import { pod, shopCluster } from '../utils/k8s-fixtures.js';

let api: ApiDouble | undefined;
let src: KubernetesSource | undefined;
afterEach(async () => {
  await src?.stop();
  await api?.close();
});

async function waitFor(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Kubernetes watch source against the API double', () => {
  it('lists (SNAPSHOT), watches, reconnects from the last resourceVersion, relists after 410 Gone', async () => {
    api = await startApiDouble(shopCluster());
    src = new KubernetesSource({
      kubeConfig: api.kubeConfig,
      hostname: 'h',
      kinds: ['Pod', 'Secret', 'NetworkPolicy'],
      reconnectMs: 20,
    });
    const evs: VigieEvent[] = [];
    await src.start((e) => (evs.push(e), true));
    const names = (verb: string) =>
      evs
        .filter((e) => e.object!.verb === verb)
        .map((e) => `${e.object!.object.kind}/${(e.object!.object.metadata as { name: string }).name}`);
    await waitFor(() => api!.openWatches() === 3);
    expect(
      names('SNAPSHOT')
        .filter((n) => n.startsWith('Pod/'))
        .sort(),
    ).toEqual(
      [
        'Pod/cache-0',
        'Pod/coredns-1',
        'Pod/db-0',
        'Pod/debug',
        'Pod/web-7d9f-abcde',
        'Pod/web-7d9f-fghij',
      ].sort(),
    );
    // Secret values are never emitted.
    const secret = evs.find((e) => e.object!.object.kind === 'Secret')!;
    expect(secret.object!.object.data).toEqual({ password: '<redacted>' });
    // Pod events carry their Kubernetes entities.
    const web = evs.find((e) => e.k8s?.pod === 'web-7d9f-abcde')!;
    expect(web.k8s).toMatchObject({
      namespace: 'shop',
      workload: 'web-7d9f',
      node: 'node-1',
      serviceAccount: 'web',
    });

    api.put(pod('new-1', 'shop', { app: 'new' }, 'node-2', {}));
    await waitFor(() => names('ADDED').includes('Pod/new-1'));

    // A dropped watch resumes from the last resourceVersion: nothing is re-listed, nothing missed.
    const listsBefore = api.requests.filter((r) => r.verb === 'list').length;
    api.dropWatches();
    api.put({ ...pod('new-1', 'shop', { app: 'new', v: '2' }, 'node-2', {}) });
    await waitFor(() => names('MODIFIED').includes('Pod/new-1'));
    expect(api.requests.filter((r) => r.verb === 'list').length).toBe(listsBefore);
    expect(src.stats().reconnects).toBeGreaterThanOrEqual(1);

    // History compacted while disconnected: 410 → relist, and the changes missed come out as a diff.
    api.dropWatches();
    api.remove('Pod', 'shop', 'debug');
    api.put(pod('new-2', 'shop', { app: 'new' }, 'node-1', {}));
    api.compact();
    await waitFor(() => names('DELETED').includes('Pod/debug') && names('ADDED').includes('Pod/new-2'));
    expect(src.stats().gone410).toBeGreaterThanOrEqual(1);
    expect(api.requests.filter((r) => r.verb === 'list').length).toBeGreaterThan(listsBefore);
    expect(evs.every((e) => e.kind === 'k8s_object' && e.source === 'k8s')).toBe(true);
  });

  it('a forbidden kind is retried without stopping the others', async () => {
    api = await startApiDouble(shopCluster());
    api.fault({ verb: 'list', resource: 'secrets', status: 403, times: 2 });
    src = new KubernetesSource({
      kubeConfig: api.kubeConfig,
      hostname: 'h',
      kinds: ['Pod', 'Secret'],
      reconnectMs: 10,
    });
    const evs: VigieEvent[] = [];
    await src.start((e) => (evs.push(e), true));
    await waitFor(() => evs.some((e) => e.object!.object.kind === 'Secret'));
    expect(evs.some((e) => e.object!.object.kind === 'Pod')).toBe(true);
    expect(src.stats().errors).toBeGreaterThanOrEqual(2);
  });

  it('feeds live posture: a privileged workload seen through the watch raises its incident severity', async () => {
    api = await startApiDouble(shopCluster());
    src = new KubernetesSource({ kubeConfig: api.kubeConfig, hostname: 'h' });
    const index = new PostureIndex();
    const posture = new PostureDetector({ index });
    const raised: AlertInput[] = [];
    let n = 0;
    await src.start((e) => {
      posture.onEvent(e, (a) => raised.push(a));
      n++;
      return true;
    });
    await waitFor(() => api!.openWatches() >= 19 && n >= 20);
    posture.flush((a) => raised.push(a));
    const findings = index.findingsFor('shop', 'web');
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.some((f) => f.severity === 'critical' || f.severity === 'high')).toBe(true);
    const db = openStore(':memory:');
    const alert = () =>
      makeAlert(
        {
          rule: 'Terminal shell in container',
          priority: 'Warning',
          output: 'sh',
          category: 'attack',
          detector: 't',
          explanation: 'sh',
          entities: { k8s: { namespace: 'shop', pod: 'web-7d9f-abcde', workload: 'web' } },
        },
        'h',
      );
    const withPosture = new Correlator(db, { postureOf: (ns, wl) => index.findingsFor(ns, wl) }).add(alert());
    const without = new Correlator(openStore(':memory:')).add(alert());
    expect(withPosture.severity.score).toBeGreaterThan(without.severity.score);
    expect(withPosture.severity.factors.map((f) => f.factor)).toContain('posture');
  });
});
