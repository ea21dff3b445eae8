import { describe, expect, it } from 'vitest';
import {
  ACTION_TYPES,
  CONTAINMENT_ACTIONS,
  DESTRUCTIVE_ACTIONS,
  READ_ONLY_ACTIONS,
  runsOn,
  undoesExactly,
  type ActionRecord,
  type ActionTarget,
  type ActionType,
} from '../../src/model/action.js';
import { makeAlert } from '../../src/model/alert.js';
import { createResponder } from '../../src/respond/engine.js';
import { parsePolicy } from '../../src/respond/policy.js';
import type { Actuator, ActuatorResult } from '../../src/respond/types.js';
import { openStore } from '../../src/infra/db.js';

describe('action vocabulary', () => {
  it('derives every list from the one table', () => {
    expect(ACTION_TYPES).toEqual([
      'observe',
      'capture_evidence',
      'throttle',
      'isolate',
      'pause',
      'stop',
      'kill',
      'label',
      'k8s_isolate',
      'scale_zero',
      'evict',
      'delete_pod',
      'cordon',
      'remove_rolebinding',
      'k8s_limit',
    ]);
    expect([...READ_ONLY_ACTIONS]).toEqual(['observe', 'capture_evidence']);
    expect([...DESTRUCTIVE_ACTIONS].sort()).toEqual(['delete_pod', 'evict', 'kill', 'scale_zero', 'stop']);
    expect([...CONTAINMENT_ACTIONS].sort()).toEqual(
      [
        'throttle',
        'isolate',
        'pause',
        'stop',
        'kill',
        'k8s_isolate',
        'scale_zero',
        'evict',
        'delete_pod',
        'k8s_limit',
        'cordon',
      ].sort(),
    );
    expect(ACTION_TYPES.filter((a) => runsOn(a, 'docker'))).toEqual([
      'capture_evidence',
      'throttle',
      'isolate',
      'pause',
      'stop',
      'kill',
    ]);
    expect(ACTION_TYPES.filter((a) => runsOn(a, 'kubernetes'))).toEqual([
      'capture_evidence',
      'label',
      'k8s_isolate',
      'scale_zero',
      'evict',
      'delete_pod',
      'cordon',
      'remove_rolebinding',
      'k8s_limit',
    ]);
    expect(
      ACTION_TYPES.filter((a) => runsOn(a, 'docker') && CONTAINMENT_ACTIONS.has(a) && undoesExactly(a)),
    ).toEqual(['throttle', 'isolate', 'pause']);
  });
});

/** Counts reads of the target, and acts from the state the engine passes when it passes one. */
class CountingActuator implements Actuator {
  readonly name = 'counting';
  readonly platform = 'docker' as const;
  inspects = 0;
  paused = false;
  cpus = 4;
  readonly passed: boolean[] = [];
  supports(a: ActionType): boolean {
    return ['capture_evidence', 'pause', 'throttle'].includes(a);
  }
  async inspect(t: ActionTarget) {
    this.inspects++;
    return { id: t.id, name: t.id, labels: {}, paused: this.paused, cpus: this.cpus };
  }
  async execute(
    action: ActionType,
    t: ActionTarget,
    params: Record<string, unknown>,
    before?: unknown,
  ): Promise<ActuatorResult> {
    this.passed.push(before !== undefined);
    const b = before ?? (await this.inspect(t));
    if (action === 'pause') this.paused = true;
    if (action === 'throttle') this.cpus = params.cpus as number;
    return { stateBefore: b, stateAfter: { paused: this.paused, cpus: this.cpus }, verified: true };
  }
  async rollback(r: ActionRecord): Promise<unknown> {
    return { state: r.stateBefore, restored: true, notes: [] };
  }
}

describe('one read of the target per action', () => {
  it('the alert read serves the first action; each later action reads once, as the target is then', async () => {
    const act = new CountingActuator();
    const policy = parsePolicy(
      `rules:\n  - name: r\n    match: { category: attack }\n    actions:\n` +
        `      - capture_evidence\n      - { action: throttle, params: { cpus: 1 } }\n      - pause\n`,
      't.yaml',
    );
    const r = createResponder({
      db: openStore(':memory:'),
      hostname: 'h',
      mode: 'enforce',
      policy,
      actuators: [act],
      selfIds: [],
    });
    const recs = await r.onAlert(
      makeAlert(
        {
          rule: 'Terminal shell in container',
          priority: 'Critical',
          output: 'x',
          category: 'attack',
          detector: 'runtime',
          explanation: 'x',
          entities: { container: { id: 'c1', name: 'c1' } },
        },
        'h',
      ),
    );
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['capture_evidence', 'executed'],
      ['throttle', 'executed'],
      ['pause', 'executed'],
    ]);
    // One read for the alert (guards, and the evidence), one each for throttle and pause.
    expect(act.inspects).toBe(3);
    expect(act.passed).toEqual([true, true, true]);
    // Pause recorded the state as throttle left it.
    expect((recs[2].stateBefore as { cpus: number }).cpus).toBe(1);
    await r.close();
  });
});
