import { afterAll, describe, expect, it } from 'vitest';
import type { AlertInput } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { PostureDetector } from '../../../src/detect/posture/detector.js';
import { PostureIndex } from '../../../src/detect/posture/posture-index.js';
import { KubernetesSource } from '../../../src/sources/kubernetes.js';
import { startApiDouble, type ApiDouble } from '../../utils/k8s-api-double.js';

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live posture over the Kubernetes watch source', () => {
  let api: ApiDouble | undefined;
  let src: KubernetesSource | undefined;
  afterAll(async () => {
    await src?.stop();
    await api?.close();
  });

  it('alerts on a workload that becomes privileged, once, and serves the posture index by ReplicaSet name', async () => {
    api = await startApiDouble([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'live' } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'live' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'web:1.0' }] },
          },
        },
      },
    ]);
    const posture = new PostureIndex();
    const det = new PostureDetector({ minSeverity: 'critical', index: posture });
    const alerts: AlertInput[] = [];
    const events: VigieEvent[] = [];
    src = new KubernetesSource({ kubeConfig: api.kubeConfig, hostname: 'test', reconnectMs: 100 });
    await src.start((ev) => {
      events.push(ev);
      det.onEvent(ev, (a) => alerts.push(a));
      return true;
    });
    await until(() => events.some((e) => (e.object?.object as any)?.metadata?.name === 'web'));
    det.flush((a) => alerts.push(a));
    expect(alerts).toHaveLength(0);

    const d = api.find('Deployment', 'live', 'web')!;
    d.spec.template.spec.containers[0].securityContext = { privileged: true };
    api.put(d);
    await until(() => events.filter((e) => (e.object?.object as any)?.metadata?.name === 'web').length >= 2);
    det.flush((a) => alerts.push(a));
    expect(alerts.map((a) => a.rule)).toEqual(['VG-POD-001 Privileged container']);
    expect(alerts[0].category).toBe('misconfiguration');
    expect(posture.findingsFor('live', 'web-5d8f9c7b6d').some((f) => f.control === 'VG-POD-001')).toBe(true);
    det.close();
  }, 60_000);
});
