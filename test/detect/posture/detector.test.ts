import { describe, expect, it } from 'vitest';
import type { AlertInput } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { PostureDetector, workloadNameOf } from '../../../src/detect/posture/detector.js';
import { PostureIndex } from '../../../src/detect/posture/posture-index.js';

let n = 0;
const ev = (
  verb: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SNAPSHOT',
  object: Record<string, unknown>,
): VigieEvent => ({ id: `e${++n}`, kind: 'k8s_object', ts: 1n, source: 'k8s', object: { verb, object } });

const deploy = (privileged: boolean) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'web:1.0', securityContext: { privileged } }] },
    },
  },
});

describe('posture detector', () => {
  it('raises misconfiguration alerts only for new findings and serves the posture index', () => {
    const posture = new PostureIndex();
    const d = new PostureDetector({ minSeverity: 'high', index: posture });
    const alerts: AlertInput[] = [];
    const emit = (a: AlertInput) => alerts.push(a);
    d.onEvent(ev('ADDED', deploy(false)), emit);
    d.tick(1n, emit);
    expect(alerts.filter((a) => a.rule.startsWith('VG-POD-001'))).toHaveLength(0);
    const before = alerts.length;

    d.onEvent(ev('MODIFIED', deploy(true)), emit);
    d.tick(2n, emit);
    const priv = alerts.slice(before).filter((a) => a.rule.startsWith('VG-POD-001'));
    expect(priv).toHaveLength(1);
    expect(priv[0].category).toBe('misconfiguration');
    expect(priv[0].detector).toBe('posture');
    expect(priv[0].priority).toBe('Critical');
    expect(priv[0].entities?.k8s?.workload).toBe('web');
    expect(priv[0].mitre?.[0].technique).toBe('T1611');

    // same state again: nothing new
    const count = alerts.length;
    d.onEvent(ev('MODIFIED', deploy(true)), emit);
    d.tick(3n, emit);
    expect(alerts.length).toBe(count);

    // the runtime side's lookup; pods of the Deployment map to it
    expect(posture.severityOf('shop', 'web')).toBe('critical');
    expect(posture.findingsFor('shop', 'web').some((f) => f.control === 'VG-POD-001')).toBe(true);
    expect(posture.findingsFor('shop', 'nothing')).toEqual([]);
    expect(
      workloadNameOf({
        kind: 'Pod',
        metadata: {
          name: 'web-7d9c8b6f5-x2x9q',
          labels: { 'pod-template-hash': '7d9c8b6f5' },
          ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9c8b6f5', controller: true }],
        },
      }),
    ).toBe('web');

    // a cross-object change re-evaluates: a binding that gives the default SA secret access
    d.onEvent(
      ev('ADDED', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'r' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      }),
      emit,
    );
    d.onEvent(
      ev('ADDED', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'b' },
        roleRef: { kind: 'ClusterRole', name: 'r' },
        subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }],
      }),
      emit,
    );
    d.tick(4n, emit);
    expect(alerts.some((a) => a.rule.startsWith('VG-RBAC-013') && a.entities?.k8s?.workload === 'web')).toBe(
      true,
    );

    // deletion clears the lookup; a malformed event is counted, not fatal
    d.onEvent(ev('DELETED', deploy(true)), emit);
    d.onEvent(
      {
        id: 'bad',
        kind: 'k8s_object',
        ts: 1n,
        source: 'k8s',
        object: { verb: 'ADDED', object: { kind: 5 } },
      } as unknown as VigieEvent,
      emit,
    );
    d.tick(5n, emit);
    expect(posture.findingsFor('shop', 'web')).toEqual([]);
    expect(d.stats().malformed).toBe(1);
    d.close();
  });

  it("summarizes the cluster's initial listing per control instead of one alert per finding", () => {
    const posture = new PostureIndex();
    const d = new PostureDetector({ minSeverity: 'critical', index: posture });
    const alerts: AlertInput[] = [];
    const emit = (a: AlertInput) => alerts.push(a);
    for (let i = 0; i < 20; i++)
      d.onEvent(ev('SNAPSHOT', { ...deploy(true), metadata: { name: `w${i}`, namespace: 'big' } }), emit);
    d.tick(1n, emit);
    const priv = alerts.filter((a) => a.rule.startsWith('VG-POD-001'));
    expect(priv).toHaveLength(1);
    expect(priv[0].output).toMatch(/20 findings on 20 resources/);
    expect(priv[0].tags).toContain('initial-state');
    expect(posture.findingsFor('big', 'w7')[0].control).toBe('VG-POD-001');
    // a change after the listing alerts on its own
    d.onEvent(ev('ADDED', { ...deploy(true), metadata: { name: 'late', namespace: 'big' } }), emit);
    d.tick(2n, emit);
    expect(alerts.filter((a) => a.rule.startsWith('VG-POD-001'))).toHaveLength(2);
    expect(alerts[alerts.length - 1].output).toMatch(/Deployment big\/late/);
    d.close();
  });
});
