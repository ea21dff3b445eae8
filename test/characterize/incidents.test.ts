import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { blastRadius, canReach } from '../../src/characterize/blast.js';
import { dockerBlastRadius } from '../../src/characterize/blast-docker.js';
import { createCharacterizer } from '../../src/characterize/live.js';
import { Correlator, computeSeverity, entityKeys } from '../../src/characterize/incidents.js';
import { PostureIndex } from '../../src/detect/posture/posture-index.js';
import { mitreOf } from '../../src/characterize/mitre.js';
import { makeAlert, type Alert, type Priority } from '../../src/model/alert.js';
import { openStore } from '../../src/infra/db.js';
import { startApiDouble } from '../utils/k8s-api-double.js';
import { VIGIE_SA, vigieRbacObjects } from '../utils/vigie-rbac.js';
import { shopCluster } from '../utils/k8s-fixtures.js';

function alert(
  rule: string,
  at: number,
  e: Partial<{ pod: string; workload: string; ns: string; container: string; priority: Priority }> = {},
): Alert {
  return makeAlert(
    {
      rule,
      priority: e.priority ?? 'Warning',
      output: rule,
      category: 'attack',
      detector: 'test',
      explanation: rule,
      entities: e.container
        ? { container: { id: e.container } }
        : {
            k8s: {
              namespace: e.ns ?? 'shop',
              pod: e.pod ?? 'web-1',
              workload: e.workload ?? 'web',
              node: 'node-1',
            },
          },
      ts: BigInt(at) * 1_000_000n,
    },
    'h',
  );
}

describe('correlation into incidents', () => {
  it('groups by shared entity within the window, splits by entity and by time, is idempotent', () => {
    const db = openStore(':memory:');
    const c = new Correlator(db, { windowMs: 10 * 60_000 });
    const t = Date.parse('2026-11-27T10:00:00Z');
    const i1 = c.add(alert('Terminal shell in container', t));
    // Another pod of the same workload: same incident (workload key).
    const i2 = c.add(alert('Package manager run', t + 60_000, { pod: 'web-2' }));
    // Another workload: new incident.
    const i3 = c.add(alert('Terminal shell in container', t + 90_000, { pod: 'db-0', workload: 'db' }));
    // Same workload but after the window: new incident.
    const i4 = c.add(alert('Terminal shell in container', t + 30 * 60_000));
    expect(i2.id).toBe(i1.id);
    expect(i3.id).not.toBe(i1.id);
    expect(i4.id).not.toBe(i1.id);
    const again = alert('x', t + 120_000);
    c.add(again);
    c.add(again);
    const inc = c.store.get(i1.id)!;
    expect(inc.alerts).toHaveLength(3);
    expect(inc.entities.pods).toEqual(['shop/web-1', 'shop/web-2']);
    expect(again.vigie.incident).toBe(i1.id);
    expect(c.store.list().length).toBe(3);
    // Prefix lookup.
    expect(c.store.get(i1.id.slice(0, 10))?.id).toBe(i1.id);
  });

  it('entity keys: node and host only when nothing narrower is known', () => {
    expect(entityKeys(alert('a', 0))).toEqual(['wl:shop/web', 'pod:shop/web-1']);
    expect(entityKeys(alert('a', 0, { container: 'abcdef0123456789' }))).toEqual(['ctr:abcdef012345']);
  });

  it('MITRE techniques from the alert or inferred from the rule', () => {
    expect(mitreOf(alert('Terminal shell in container', 0)).map((m) => m.technique)).toEqual(['T1059']);
    expect(mitreOf(alert('Crypto miner behaviour', 0)).map((m) => `${m.tactic}/${m.technique}`)).toEqual([
      'Impact/T1496',
    ]);
  });

  it('severity adds up alerts, progression, posture and blast radius (hand-worked)', () => {
    const s = computeSeverity({
      maxPriority: 'Critical',
      timeline: [
        {
          time: '',
          alert: 'a',
          rule: 'r1',
          priority: 'Critical',
          category: 'attack',
          output: '',
          techniques: [],
        },
        {
          time: '',
          alert: 'b',
          rule: 'r2',
          priority: 'Warning',
          category: 'attack',
          output: '',
          techniques: [],
        },
      ],
      tactics: ['Execution', 'Credential Access'],
      categories: ['attack'],
      posture: [{ control: 'VG-PRIV', severity: 'critical' }],
      blastRadius: { score: 50 } as never,
    });
    // 50 (Critical) + 4 (2 rules) + 4 (2 tactics) + 5 (attack) + 6 (critical finding) + 10 (blast 50 * 0.2)
    expect(s.score).toBe(79);
    expect(s.level).toBe('high');
  });

  it('the posture index answers empty for an unknown workload', () => {
    expect(new PostureIndex().findingsFor('shop', 'never-seen-workload')).toEqual([]);
  });

  it('posture findings raise the severity of an incident on that workload', () => {
    const db = openStore(':memory:');
    const plain = new Correlator(db).add(alert('Terminal shell in container', 0));
    const db2 = openStore(':memory:');
    const withPosture = new Correlator(db2, {
      postureOf: (ns, wl) =>
        ns === 'shop' && wl === 'web'
          ? [{ control: 'VG-001', severity: 'critical', message: 'privileged' }]
          : [],
    }).add(alert('Terminal shell in container', 0));
    expect(withPosture.severity.score).toBe(plain.severity.score + 6);
    expect(withPosture.explanation).toMatch(/VG-001/);
  });
});

describe('blast radius (hand-worked on the shop fixture)', () => {
  const objs = shopCluster();
  it('co-located pods, network reach under NetworkPolicies, RBAC, secrets and host paths', () => {
    const b = blastRadius(objs, 'shop', 'web-7d9f-abcde')!;
    // node-1 also runs db-0, debug and coredns-1.
    expect(b.coLocated).toEqual(['kube-system/coredns-1', 'shop/db-0', 'shop/debug']);
    // cache-0 denies all ingress; db-0 admits app=web (the source is app=web); others have no policy.
    expect(b.reachable).toEqual(['kube-system/coredns-1', 'shop/db-0', 'shop/debug', 'shop/web-7d9f-fghij']);
    expect(b.exposedBy).toEqual(['web (NodePort)']);
    expect(b.secrets).toEqual(['web-db-creds', 'service account token (shop/web)']);
    expect(b.hostPaths).toEqual(['/var/run/docker.sock']);
    expect(b.hostAccess).toEqual(['privileged container main', 'runtime socket /var/run/docker.sock']);
    const risky = b.permissions
      .filter((p) => p.risky)
      .map((p) => p.via)
      .sort();
    expect(risky).toEqual([
      'RoleBinding web-admin → ClusterRole admin',
      'RoleBinding web-secrets → Role secret-reader',
    ]);
    expect(b.graph.edges.length).toBe(b.items.length);
    expect(b.mermaid.split('\n')[0]).toBe('graph LR');
    expect(b.dot).toMatch(/^digraph blast \{/);
    // db-0 is not reachable from debug (db admits only app=web).
    const db = objs.find((o) => o.metadata?.name === 'db-0')!;
    const debug = objs.find((o) => o.metadata?.name === 'debug')!;
    expect(
      canReach(
        debug,
        db,
        objs.filter((o) => o.kind === 'NetworkPolicy'),
        () => ({}),
      ),
    ).toBe(false);
    // A quiet pod has a smaller blast radius than the privileged one.
    expect(blastRadius(objs, 'shop', 'cache-0')!.score).toBeLessThan(b.score);
  });
});

/** A Docker client over fixed `docker inspect` answers (what the live characterizer reads). */
function dockerOf(containers: Record<string, unknown>[]): Docker {
  return {
    listContainers: async () => containers.map((c) => ({ Id: c.Id })),
    getContainer: (id: string) => ({
      inspect: async () => {
        const c = containers.find((x) => x.Id === id);
        if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return c;
      },
    }),
  } as unknown as Docker;
}

function inspected(name: string, hostConfig: Record<string, unknown> = {}, mounts: unknown[] = []) {
  return {
    Id: name.padEnd(64, '0'),
    Name: `/${name}`,
    State: { Running: true },
    Config: { Image: 'shop:1', Env: [] },
    HostConfig: { NetworkMode: 'bridge', ...hostConfig },
    NetworkSettings: { Networks: { bridge: {} }, Ports: {} },
    Mounts: mounts,
  };
}

const WORKLOAD = 'docker:shop:1|/bin/httpd -f';
function onContainer(rule: string, at: number, c: { Id: string; Name: string }, category = 'attack'): Alert {
  return makeAlert(
    {
      rule,
      priority: category === 'performance' ? 'Warning' : 'Critical',
      output: rule,
      category: category as Alert['vigie']['category'],
      detector: 'test',
      explanation: rule,
      entities: { container: { id: c.Id, name: c.Name.slice(1) }, workload: WORKLOAD },
      ts: BigInt(at) * 1_000_000n,
    },
    'h',
  );
}

describe('incident blast radius: the union over its entities', () => {
  it('Docker: host reach of every container of the incident, from its configuration; containers, not pods', async () => {
    const sock = inspected('web-sock', {}, [
      { Type: 'bind', Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock' },
    ]);
    const pid = inspected('web-pid', { PidMode: 'host', CapAdd: ['CAP_SYS_ADMIN'] });
    const plain = inspected('web-plain');
    const other = inspected('db');
    const db = openStore(':memory:');
    const ch = await createCharacterizer({ db, docker: dockerOf([sock, pid, plain, other]) });
    const t = Date.parse('2026-11-27T10:00:00Z');
    ch.correlate(onContainer('Docker socket use', t, sock));
    ch.correlate(onContainer('Namespace escape', t + 1000, pid));
    const inc = ch.correlate(onContainer('Terminal shell in container', t + 2000, plain));
    await ch.settled();
    const b = ch.correlator.store.get(inc.id)!.blastRadius!;
    expect(b.hostAccess).toEqual([
      'runtime socket /var/run/docker.sock (web-sock)',
      'hostPID (web-pid)',
      'capability SYS_ADMIN (web-pid)',
    ]);
    expect(b.targets.map((x) => x.name)).toEqual(['web-sock', 'web-pid', 'web-plain']);
    expect(b.hostPaths).toEqual(['/var/run/docker.sock']);
    // Peers are the other containers, never the incident's own.
    expect(b.coLocated).toEqual(['db']);
    expect(b.items.some((i) => i.kind === 'pod')).toBe(false);
    expect(b.items.filter((i) => i.kind === 'host').map((i) => i.from)).toEqual([
      'web-sock',
      'web-pid',
      'web-pid',
    ]);
    expect(b.graph.nodes.filter((n) => n.kind === 'container').map((n) => n.label)).toEqual(
      expect.arrayContaining(['web-sock', 'web-pid', 'web-plain', 'db']),
    );
    // Host reach dominates the score: far more than the one plain container's.
    const alone = dockerBlastRadius([sock, pid, plain, other] as never, plain.Id, 'h')!;
    expect(alone.hostAccess).toEqual([]);
    expect(b.score).toBeGreaterThan(alone.score + 15);
    const text = ch.correlator.store.get(inc.id)!.explanation;
    expect(text).toMatch(/1 co-located container;/);
    expect(text).toMatch(/If any of its 3 containers is compromised, it can reach/);
    expect(text).toMatch(
      /host access: runtime socket \/var\/run\/docker\.sock \(web-sock\), hostPID \(web-pid\)/,
    );
    expect(text).not.toMatch(/\bpods?\b/);
    db.close();
  });

  it('Kubernetes: the union over the pods of the incident, not its first pod only', async () => {
    const api = await startApiDouble([...shopCluster(), ...vigieRbacObjects()]);
    try {
      const db = openStore(':memory:');
      const ch = await createCharacterizer({
        db,
        kubeConfig: api.kubeConfigForServiceAccount(VIGIE_SA.namespace, VIGIE_SA.name),
      });
      const t = Date.now();
      // The plain replica alerts first; the privileged one (Docker socket mounted) next.
      ch.correlate(alert('Terminal shell in container', t, { pod: 'web-7d9f-fghij', workload: 'web-7d9f' }));
      const inc = ch.correlate(
        alert('Read of sensitive file', t + 1000, { pod: 'web-7d9f-abcde', workload: 'web-7d9f' }),
      );
      await ch.settled();
      const b = ch.correlator.store.get(inc.id)!.blastRadius!;
      expect(b.hostAccess).toEqual([
        'privileged container main (shop/web-7d9f-abcde)',
        'runtime socket /var/run/docker.sock (shop/web-7d9f-abcde)',
      ]);
      expect(b.targets.map((x) => x.name)).toEqual(['shop/web-7d9f-fghij', 'shop/web-7d9f-abcde']);
      // Both nodes' pods are co-located with one of them; the replicas are not each other's peers.
      expect(b.coLocated).toContain('shop/db-0');
      expect(b.coLocated).toContain('shop/cache-0');
      expect(b.coLocated).not.toContain('shop/web-7d9f-abcde');
      expect(ch.correlator.store.get(inc.id)!.explanation).toMatch(/If any of its 2 pods is compromised/);
      db.close();
    } finally {
      await api.close();
    }
  });
});

describe('performance alerts and security activity', () => {
  it('a performance alert joins an attack only within the bounded window around it', () => {
    const db = openStore(':memory:');
    const c = new Correlator(db);
    const ctr = inspected('web-1');
    const t = Date.parse('2026-11-27T10:00:00Z');
    // CPU alerts ten minutes before the attack: their own incident.
    const cpu = c.add(onContainer('CPU above baseline', t - 10 * 60_000, ctr, 'performance'));
    const attack = c.add(onContainer('Terminal shell in container', t, ctr));
    expect(attack.id).not.toBe(cpu.id);
    expect(c.store.get(attack.id)!.categories).toEqual(['attack']);
    // A miner's CPU a minute after the shell: part of the attack.
    const miner = c.add(onContainer('CPU above baseline', t + 60_000, ctr, 'performance'));
    expect(miner.id).toBe(attack.id);
    // Twenty minutes later, with no security activity since: not the attack's.
    const later = c.add(onContainer('CPU above baseline', t + 20 * 60_000, ctr, 'performance'));
    expect(later.id).not.toBe(attack.id);
    // A security alert does not join an incident of performance alerts alone.
    const again = c.add(onContainer('Read of sensitive file', t + 21 * 60_000, ctr));
    expect(again.id).toBe(attack.id);
    expect(again.id).not.toBe(later.id);
    expect(c.store.get(attack.id)!.alertCount).toBe(3);
    db.close();
  });
});
