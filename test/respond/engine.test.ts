/**
 * Engine logic with an in-memory actuator (the Docker paths are in docker.test.ts): dry run,
 * approval, exclusions, replays, evidence before destructive steps, undo of a partial failure,
 * resumption of an approved action after a restart.
 */
import { describe, expect, it } from 'vitest';
import type { ActionRecord, ActionTarget, ActionType } from '../../src/model/action.js';
import { makeAlert } from '../../src/model/alert.js';
import { createResponder } from '../../src/respond/engine.js';
import { parsePolicy } from '../../src/respond/policy.js';
import type { Actuator, ActuatorResult } from '../../src/respond/types.js';
import { ActionStore } from '../../src/store/actions.js';
import { openStore } from '../../src/infra/db.js';

interface FakeState {
  id: string;
  name: string;
  labels: Record<string, string>;
  paused: boolean;
  cpus: number;
}

class FakeActuator implements Actuator {
  readonly name = 'fake';
  readonly platform = 'docker' as const;
  states = new Map<string, FakeState>();
  calls: string[] = [];
  failEvidence = false;
  /** Applies the change, then fails (as a Docker call failing half way would). */
  failAfterApply = false;
  supports(a: ActionType): boolean {
    return ['capture_evidence', 'pause', 'throttle', 'stop'].includes(a);
  }
  add(id: string, labels: Record<string, string> = {}): void {
    this.states.set(id, { id, name: id, labels, paused: false, cpus: 4 });
  }
  async inspect(t: ActionTarget): Promise<FakeState> {
    const s = this.states.get(t.id);
    if (!s) throw new Error(`container ${t.id} no longer exists`);
    return { ...s };
  }
  async execute(
    action: ActionType,
    t: ActionTarget,
    params: Record<string, unknown>,
  ): Promise<ActuatorResult> {
    const before = await this.inspect(t);
    this.calls.push(`${action}:${t.id}`);
    const s = this.states.get(t.id)!;
    if (action === 'capture_evidence') {
      if (this.failEvidence) throw new Error('logs unavailable');
      return { stateBefore: before, stateAfter: before, verified: true, evidence: { logs: 'x' } };
    }
    if (action === 'pause') s.paused = true;
    if (action === 'throttle') s.cpus = params.cpus as number;
    if (action === 'stop') s.paused = true;
    if (this.failAfterApply) throw new Error('daemon went away');
    return { stateBefore: before, stateAfter: { ...s }, verified: true };
  }
  async rollback(r: ActionRecord): Promise<unknown> {
    const b = r.stateBefore as FakeState;
    this.calls.push(`rollback-${r.action}:${b.id}`);
    this.states.set(b.id, { ...b });
    return { state: b, restored: true, notes: [] };
  }
}

/** A Kubernetes actuator double: the fake's states, keyed by pod id, with their namespace. */
class FakeK8s extends FakeActuator {
  override readonly platform = 'kubernetes' as unknown as 'docker';
  override supports(a: ActionType): boolean {
    return ['capture_evidence', 'label', 'k8s_isolate', 'evict', 'scale_zero'].includes(a);
  }
  override async inspect(t: ActionTarget): Promise<FakeState & { namespace: string }> {
    return { ...(await super.inspect(t)), namespace: t.namespace ?? 'default' };
  }
}

const alert = (id: string, rule = 'Terminal shell in container') =>
  makeAlert(
    {
      rule,
      priority: 'Critical',
      output: 'x',
      category: 'attack',
      detector: 'runtime',
      explanation: 'x',
      entities: { container: { id, name: id } },
    },
    'h',
  );

function setup(actions: string, extra = '', mode: 'monitor' | 'enforce' = 'enforce') {
  const fake = new FakeActuator();
  const db = openStore(':memory:');
  const policy = parsePolicy(
    `${extra}\nrules:\n  - name: r\n    match: { category: attack }\n    actions:\n${actions}`,
    't.yaml',
  );
  const r = createResponder({ db, hostname: 'h', mode, policy, actuators: [fake], selfIds: [] });
  return { fake, db, r };
}

describe('response engine', () => {
  it('dry run plans with the state before and touches nothing', async () => {
    const { fake, r } = setup('      - pause', 'dryRun: true');
    fake.add('c1');
    const [rec] = await r.onAlert(alert('c1'));
    expect(rec.status).toBe('planned');
    expect(rec.reason).toMatch(/^dry run/);
    expect((rec.stateBefore as FakeState).paused).toBe(false);
    expect(fake.calls).toEqual([]);
  });

  it('actions that require approval wait in enforce mode, then run when approved', async () => {
    const { fake, r } = setup(
      '      - { action: throttle, params: { cpus: 1 } }\n      - { action: pause, approval: true }',
    );
    fake.add('c1');
    const recs = await r.onAlert(alert('c1'));
    expect(recs.map((x) => x.status)).toEqual(['executed', 'planned']);
    expect(recs[1].reason).toMatch(/awaiting approval/);
    expect(fake.states.get('c1')!.paused).toBe(false);
    const ok = await r.approve(recs[1].id.slice(0, 10));
    expect(ok.status).toBe('executed');
    expect(fake.states.get('c1')!.paused).toBe(true);
    await expect(r.approve(recs[1].id)).rejects.toThrow(/only planned actions/);
    // Two rollbacks at once (two clicks): one runs, the other is refused.
    const both = await Promise.allSettled([r.rollback(recs[1].id), r.rollback(recs[1].id)]);
    expect(both.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(fake.calls.filter((c) => c.startsWith('rollback-pause'))).toHaveLength(1);
  });

  it('excluded alerts produce nothing; replays produce the same records', async () => {
    const { fake, r } = setup('      - pause', "exclusions:\n  - rule: 'Benign*'");
    fake.add('c1');
    expect(await r.onAlert(alert('c1', 'Benign thing'))).toEqual([]);
    const a = alert('c1');
    const first = await r.onAlert(a);
    const again = await r.onAlert(a);
    expect(again.map((x) => [x.id, x.status])).toEqual(first.map((x) => [x.id, x.status]));
    expect(fake.calls).toEqual(['pause:c1']);
    // Another alert while the pause is in effect does not pause again over its own recorded state.
    const [dup] = await r.onAlert(alert('c1'));
    expect(dup.status).toBe('skipped');
    expect(dup.reason).toMatch(/already in effect/);
  });

  it('no destructive step without evidence first', async () => {
    const { fake, r } = setup('      - stop');
    fake.add('c1');
    fake.failEvidence = true;
    const recs = await r.onAlert(alert('c1'));
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['capture_evidence', 'failed'],
      ['stop', 'skipped'],
    ]);
    expect(recs[1].reason).toMatch(/evidence could not be captured/);
    expect(fake.states.get('c1')!.paused).toBe(false);
  });

  it('a failure after a partial change is undone and recorded', async () => {
    const { fake, r } = setup('      - { action: throttle, params: { cpus: 0.5 } }');
    fake.add('c1');
    fake.failAfterApply = true;
    const [rec] = await r.onAlert(alert('c1'));
    expect(rec.status).toBe('failed');
    expect(rec.error).toBe('daemon went away');
    expect((rec as { rollbackNote?: string }).rollbackNote).toMatch(/partial effect undone/);
    expect(fake.states.get('c1')!.cpus).toBe(4);
  });

  it('monitor mode still captures evidence (read-only) and plans the rest', async () => {
    const { fake, r } = setup('      - capture_evidence\n      - pause', '', 'monitor');
    fake.add('c1');
    const recs = await r.onAlert(alert('c1'));
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['capture_evidence', 'executed'],
      ['pause', 'planned'],
    ]);
    expect(fake.calls).toEqual(['capture_evidence:c1']);
    // The same alert again on the same container: evidence is not taken twice, the pause not planned twice.
    const again = await r.onAlert(alert('c1'));
    expect(again.map((x) => x.status)).toEqual(['skipped', 'skipped']);
    expect(again[0].reason).toMatch(/evidence already captured/);
    expect(again[1].reason).toMatch(/already planned/);
    expect(fake.calls).toEqual(['capture_evidence:c1']);
  });

  it('an action approved but not started before a restart is executed at start-up', async () => {
    const fake = new FakeActuator();
    fake.add('c1');
    const db = openStore(':memory:');
    new ActionStore(db).put({
      id: 'act-approved-1',
      action: 'pause',
      target: { kind: 'container', id: 'c1', platform: 'docker' },
      status: 'approved',
      mode: 'enforce',
      reason: 'approved',
      createdAt: new Date().toISOString(),
    });
    const r = createResponder({
      db,
      hostname: 'h',
      mode: 'monitor',
      policy: parsePolicy('rules: []', 'x'),
      actuators: [fake],
      selfIds: [],
    });
    const out = await r.ready;
    expect(out.map((x) => x.status)).toEqual(['executed']);
    expect(fake.states.get('c1')!.paused).toBe(true);
  });

  it('protected namespaces are skipped unless a step explicitly allows them', async () => {
    const fake = new FakeK8s();
    fake.add('kube-system/coredns-1');
    const podAlert = makeAlert(
      {
        rule: 'Shell in pod',
        priority: 'Critical',
        output: 'x',
        category: 'attack',
        detector: 'runtime',
        explanation: 'x',
        entities: { k8s: { namespace: 'kube-system', pod: 'coredns-1' } },
      },
      'h',
    );
    const mk = (params: string) =>
      createResponder({
        db: openStore(':memory:'),
        hostname: 'h',
        mode: 'enforce',
        policy: parsePolicy(
          `rules:\n  - name: r\n    actions:\n      - { action: label${params} }\n`,
          'k.yaml',
        ),
        actuators: [fake],
        selfIds: [],
      });
    const [skipped] = await mk('').onAlert(podAlert);
    expect(skipped.status).toBe('skipped');
    expect(skipped.reason).toMatch(/protected namespace kube-system/);
    expect(skipped.target).toMatchObject({
      kind: 'pod',
      id: 'kube-system/coredns-1',
      namespace: 'kube-system',
      platform: 'kubernetes',
    });
    const [allowed] = await mk(', params: { allowProtectedNamespace: true }').onAlert(podAlert);
    expect(allowed.status).toBe('executed');
  });

  it("a pod's container gets the Kubernetes actions; pause and throttle are refused with a reason, never sent to Docker", async () => {
    const docker = new FakeActuator();
    const k8s = new FakeK8s();
    const cid = 'c0ffee'.padEnd(64, '0');
    docker.add(cid);
    docker.add('bead'.padEnd(64, '0'));
    k8s.add('shop/web-1');
    const responder = createResponder({
      db: openStore(':memory:'),
      hostname: 'h',
      mode: 'enforce',
      policy: parsePolicy(
        'rules:\n  - name: r\n    actions:\n      - capture_evidence\n      - { action: pause }\n      - { action: throttle, params: { cpus: 0.2 } }\n      - label\n',
        'k.yaml',
      ),
      actuators: [docker, k8s],
      selfIds: [],
    });
    const alert = (entities: Record<string, unknown>) =>
      makeAlert(
        {
          rule: 'Shell in container',
          priority: 'Critical',
          output: 'x',
          category: 'attack',
          detector: 'runtime',
          explanation: 'x',
          entities,
        },
        'h',
      );
    const inPod = await responder.onAlert(
      alert({ container: { id: cid, name: 'web' }, k8s: { namespace: 'shop', pod: 'web-1' } }),
    );
    expect(inPod.map((r) => `${r.action}:${r.status}:${r.target.platform}`)).toEqual([
      'capture_evidence:executed:kubernetes',
      'pause:skipped:kubernetes',
      'throttle:skipped:kubernetes',
      'label:executed:kubernetes',
    ]);
    expect(inPod[1].reason).toMatch(
      /^refused: pause acts on a container through Docker, but container web belongs to pod shop\/web-1, .*no CRI client is configured; it is not sent to Docker/,
    );
    expect(docker.calls).toEqual([]);
    expect(k8s.calls).toEqual(['capture_evidence:shop/web-1', 'label:shop/web-1']);

    // A container that no pod owns is Docker's: its actions run there, and the pod-only ones are refused.
    const alone = await responder.onAlert(alert({ container: { id: 'bead'.padEnd(64, '0'), name: 'tool' } }));
    expect(alone.map((r) => `${r.action}:${r.status}:${r.target.platform}`)).toEqual([
      'capture_evidence:executed:docker',
      'pause:executed:docker',
      'throttle:executed:docker',
      'label:skipped:docker',
    ]);
    expect(alone[3].reason).toMatch(/^label acts on pods, and container tool belongs to no pod/);
    expect(k8s.calls).toHaveLength(2);
  });

  it('the shipped default policy: Kubernetes actions for a pod, Docker actions for a lone container, monitor mode, kube-system and vigie protected', async () => {
    const docker = new (class extends FakeActuator {
      override supports(a: ActionType): boolean {
        return a === 'isolate' || super.supports(a);
      }
    })();
    const k8s = new FakeK8s();
    docker.add('c0ffee'.padEnd(64, '0'));
    docker.add('bead'.padEnd(64, '0'));
    for (const id of ['shop/web-1', 'kube-system/coredns-1', 'vigie/vigie-brain-1']) k8s.add(id);
    const responder = createResponder({
      db: openStore(':memory:'),
      hostname: 'h',
      // Not --enforce: the policy's own mode (monitor) decides.
      mode: 'monitor',
      policyFile: 'policies/default.yaml',
      actuators: [docker, k8s],
      selfIds: [],
    });
    const critical = (entities: Record<string, unknown>) =>
      makeAlert(
        {
          rule: 'Reverse shell',
          priority: 'Critical',
          output: 'x',
          category: 'attack',
          detector: 'runtime',
          explanation: 'x',
          entities,
        },
        'h',
      );
    const summary = (rs: { action: string; status: string }[]) => rs.map((r) => `${r.action}:${r.status}`);
    const pod = await responder.onAlert(
      critical({
        container: { id: 'c0ffee'.padEnd(64, '0'), name: 'web' },
        k8s: { namespace: 'shop', pod: 'web-1' },
      }),
    );
    expect(summary(pod)).toEqual([
      'capture_evidence:executed',
      'label:planned',
      'k8s_isolate:planned',
      'evict:planned',
    ]);
    expect(pod[1].reason).toMatch(/^monitor mode/);
    expect((pod[3] as { needsApproval?: boolean }).needsApproval).toBe(true);
    const lone = await responder.onAlert(
      critical({ container: { id: 'bead'.padEnd(64, '0'), name: 'tool' } }),
    );
    expect(summary(lone)).toEqual([
      'capture_evidence:executed',
      'throttle:planned',
      'isolate:planned',
      'pause:planned',
    ]);
    for (const [ns, name] of [
      ['kube-system', 'coredns-1'],
      ['vigie', 'vigie-brain-1'],
    ]) {
      const recs = await responder.onAlert(critical({ k8s: { namespace: ns, pod: name } }));
      expect(
        recs.every((r) => r.status === 'skipped' && r.reason?.startsWith(`protected namespace ${ns}`)),
      ).toBe(true);
    }
    expect(docker.calls).toEqual([`capture_evidence:${'bead'.padEnd(64, '0')}`]);
  });
});
