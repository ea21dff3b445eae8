/**
 * Characterization and Kubernetes containment figures:
 * - alerts correlated into incidents per second (SQLite file, WAL);
 * - blast radius time per pod on a synthetic 2,000-pod cluster with NetworkPolicies and RBAC;
 * - isolate + rollback latency through the real client against the in-process API double
 *   (local HTTP: the API server's own latency in a real cluster comes on top).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blastRadius, type Obj } from '../src/characterize/blast.js';
import { Correlator } from '../src/characterize/incidents.js';
import { makeAlert } from '../src/model/alert.js';
import { KubernetesActuator } from '../src/respond/actuators/kubernetes.js';
import { openStore } from '../src/infra/db.js';
import { startApiDouble } from '../test/utils/k8s-api-double.js';
import { VIGIE_SA, vigieRbacObjects } from '../test/utils/vigie-rbac.js';
import { fmt, hrms, percentile, row } from './util.js';

function syntheticCluster(pods: number, namespaces: number): Obj[] {
  const out: Obj[] = [];
  for (let n = 0; n < namespaces; n++) {
    const ns = `ns-${n}`;
    out.push({ kind: 'Namespace', metadata: { name: ns, labels: { team: `t${n % 5}` } } });
    out.push({
      kind: 'NetworkPolicy',
      metadata: { name: 'db-in', namespace: ns },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }],
      },
    });
    out.push({
      kind: 'NetworkPolicy',
      metadata: { name: 'egress', namespace: ns },
      spec: {
        podSelector: { matchLabels: { app: 'batch' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 't0' } } }] }],
      },
    });
    out.push({
      kind: 'Role',
      metadata: { name: 'reader', namespace: ns },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
    });
    out.push({
      kind: 'RoleBinding',
      metadata: { name: 'rb', namespace: ns },
      roleRef: { kind: 'Role', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: ns }],
    });
  }
  const apps = ['web', 'db', 'batch', 'cache'];
  for (let i = 0; i < pods; i++) {
    out.push({
      kind: 'Pod',
      metadata: { name: `p-${i}`, namespace: `ns-${i % namespaces}`, labels: { app: apps[i % apps.length] } },
      spec: {
        nodeName: `node-${i % 20}`,
        serviceAccountName: apps[i % apps.length],
        containers: [{ name: 'c' }],
        volumes: i % 7 === 0 ? [{ name: 'h', hostPath: { path: '/var/run/docker.sock' } }] : [],
      },
    });
  }
  return out;
}

export async function run(): Promise<void> {
  // 1. Correlation.
  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-char-'));
  const db = openStore(join(dir, 'b.db'));
  const c = new Correlator(db);
  const N = 20_000;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const alerts = Array.from({ length: N }, (_, i) =>
    makeAlert(
      {
        rule: ['Terminal shell in container', 'Read of /etc/shadow', 'Unusual outbound port'][i % 3],
        priority: 'Warning',
        output: 'x',
        category: 'attack',
        detector: 'bench',
        explanation: 'x',
        entities: {
          k8s: {
            namespace: `ns-${i % 20}`,
            workload: `w-${i % 200}`,
            pod: `w-${i % 200}-0`,
            node: `node-${i % 10}`,
          },
        },
        ts: BigInt(t0 + i * 100) * 1_000_000n,
      },
      'h',
    ),
  );
  let s = hrms();
  for (const a of alerts) c.add(a);
  const el = hrms() - s;
  row(
    'alerts correlated into incidents (SQLite file, 200 workloads)',
    `${fmt(N / (el / 1000))} alerts/s (${fmt(N)} in ${fmt(el)} ms, ${c.store.list(100_000).length} incidents)`,
  );
  db.close();
  rmSync(dir, { recursive: true, force: true });

  // 2. Blast radius.
  const objs = syntheticCluster(2000, 50);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    s = hrms();
    blastRadius(objs, `ns-${i % 50}`, `p-${i}`);
    times.push(hrms() - s);
  }
  times.sort((a, b) => a - b);
  row(
    'blast radius per pod, 2,000 pods / 50 namespaces / 100 policies',
    `p50 ${fmt(percentile(times, 50), 2)} ms, p99 ${fmt(percentile(times, 99), 2)} ms`,
  );

  // 3. Containment through the client against the API double.
  const seed: Obj[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }];
  for (let i = 0; i < 30; i++)
    seed.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p-${i}`, namespace: 'shop', labels: { app: 'web' } },
      spec: { nodeName: 'n', containers: [{ name: 'c' }] },
    });
  // Vigie acts as its service account, under the RBAC shipped in deploy/kubernetes/vigie.yaml.
  const api = await startApiDouble([...seed, ...vigieRbacObjects()]);
  const act = new KubernetesActuator({
    kubeConfig: api.kubeConfigForServiceAccount(VIGIE_SA.namespace, VIGIE_SA.name),
  });
  const iso: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < 30; i++) {
    const target = {
      kind: 'pod' as const,
      id: `shop/p-${i}`,
      name: `p-${i}`,
      namespace: 'shop',
      platform: 'kubernetes' as const,
    };
    s = hrms();
    const res = await act.execute('k8s_isolate', target, {});
    iso.push(hrms() - s);
    s = hrms();
    await act.rollback({
      id: 'b',
      action: 'k8s_isolate',
      target,
      status: 'executed',
      mode: 'enforce',
      reason: '',
      createdAt: '',
      stateBefore: res.stateBefore,
    });
    rb.push(hrms() - s);
  }
  await api.close();
  iso.sort((a, b) => a - b);
  rb.sort((a, b) => a - b);
  row(
    'k8s_isolate via client → API double (inspect+policy+label+verify)',
    `p50 ${fmt(percentile(iso, 50), 1)} ms, p99 ${fmt(percentile(iso, 99), 1)} ms`,
  );
  row(
    'k8s_isolate rollback via client → API double',
    `p50 ${fmt(percentile(rb, 50), 1)} ms, p99 ${fmt(percentile(rb, 99), 1)} ms`,
  );
}
