/**
 * An incident that accumulates ATT&CK tactics escalates: Execution followed by Command and Control
 * is containment-worthy even when each alert alone is a Warning (Falco's own alerts keep Falco's
 * priority). The response policy acts on the incident's severity: the alert that escalates its
 * incident gets containment planned.
 */
import { describe, expect, it } from 'vitest';
import { createCharacterizer } from '../../src/characterize/live.js';
import { Correlator } from '../../src/characterize/incidents.js';
import { Engine } from '../../src/engine/engine.js';
import type { ActionRecord, ActionTarget, ActionType } from '../../src/model/action.js';
import { makeAlert, type Alert } from '../../src/model/alert.js';
import { mitreFromTags } from '../../src/model/mitre-tags.js';
import { openStore } from '../../src/infra/db.js';
import { createResponder } from '../../src/respond/engine.js';
import { builtinPolicy, matches, parsePolicy } from '../../src/respond/policy.js';
import type { Actuator, ActuatorResult } from '../../src/respond/types.js';
import { discardedOutput, waitFor } from '../utils/live.js';

const CID = 'ab12cd34ef56' + '7'.repeat(52);
const T = Date.parse('2026-11-27T10:00:00Z');

/** Alerts as Falco writes them: a Warning each, tactics in Falco's tag spelling. */
function falco(rule: string, tags: string[], atMs: number): Alert {
  return makeAlert(
    {
      rule,
      priority: 'Warning',
      output: rule,
      category: 'attack',
      detector: 'falco',
      explanation: rule,
      tags,
      mitre: mitreFromTags(tags),
      entities: { container: { id: CID, name: 'web', image: 'web:1' } },
      ts: BigInt(atMs) * 1_000_000n,
    },
    'h',
  );
}
const shell = (at: number) =>
  falco('Run shell untrusted', ['container', 'shell', 'mitre_execution', 'T1059.004'], at);
const c2 = (at: number) =>
  falco(
    'Outbound Connection to C2 Servers',
    ['container', 'network', 'mitre_command_and_control', 'TA0011'],
    at,
  );

class FakeDocker implements Actuator {
  readonly name = 'fake';
  readonly platform = 'docker' as const;
  supports(a: ActionType): boolean {
    return ['capture_evidence', 'throttle', 'isolate', 'pause'].includes(a);
  }
  async inspect(t: ActionTarget): Promise<unknown> {
    return { id: CID, name: 'web', labels: {}, target: t.id };
  }
  async execute(): Promise<ActuatorResult> {
    return { stateBefore: {}, stateAfter: {}, verified: true };
  }
  async rollback(): Promise<unknown> {
    return { restored: true };
  }
}

describe('incident escalation', () => {
  it('Execution then Command and Control escalates a Warning-only incident to critical', () => {
    const c = new Correlator(openStore(':memory:'));
    const first = c.add(shell(T));
    expect(first.severity.level).not.toBe('critical');
    const inc = c.add(c2(T + 20_000));
    expect(inc.id).toBe(first.id);
    expect(inc.maxPriority).toBe('Warning');
    expect(inc.tactics).toEqual(['Execution', 'Command and Control']);
    expect(inc.severity.level).toBe('critical');
    expect(inc.escalation?.priority).toBe('Critical');
    expect(inc.escalation?.why).toMatch(/Execution → Command and Control/);
    expect(inc.explanation).toMatch(/escalat/i);
  });

  it('one tactic repeated does not escalate', () => {
    const c = new Correlator(openStore(':memory:'));
    c.add(shell(T));
    const inc = c.add(shell(T + 5_000));
    expect(inc.escalation).toBeUndefined();
    expect(inc.severity.level).not.toBe('critical');
  });

  it('the policy matches on the incident severity', () => {
    const p = parsePolicy(
      'rules:\n  - name: r\n    match: { category: attack, minIncidentSeverity: critical }\n    actions: [observe]\n',
      't.yaml',
    );
    const a = shell(T);
    expect(matches(p.rules[0].match, a)).toBe(false);
    expect(matches(p.rules[0].match, a, { severity: 'high' })).toBe(false);
    expect(matches(p.rules[0].match, a, { severity: 'critical' })).toBe(true);
    expect(() =>
      parsePolicy('rules:\n  - name: r\n    match: { minIncidentSeverity: huge }\n    actions: [observe]\n'),
    ).toThrow(/minIncidentSeverity/);
  });

  it('through the engine: the alert that escalates its incident gets containment planned by the default policy', async () => {
    const db = openStore(':memory:');
    const actions: ActionRecord[] = [];
    const responder = createResponder({
      db,
      hostname: 'h',
      mode: 'monitor',
      policy: builtinPolicy(),
      actuators: [new FakeDocker()],
      selfIds: [],
    });
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources: [],
      detectors: [],
      responder,
      characterizer: await createCharacterizer({ db }),
      onAction: (r) => actions.push(r),
    });
    await engine.start();
    try {
      const now = Date.now();
      engine.accept(shell(now));
      await new Promise((r) => setTimeout(r, 200));
      const contain = (r: ActionRecord) => ['throttle', 'isolate', 'pause'].includes(r.action);
      expect(actions.filter(contain)).toEqual([]);
      const second = c2(now + 10_000);
      engine.accept(second);
      const planned = await waitFor(
        () => {
          const l = actions.filter((r) => contain(r) && r.alert === second.uuid);
          return l.length > 0 ? l : undefined;
        },
        5_000,
        'containment planned for the escalated incident',
      );
      expect(planned.every((r) => r.status === 'planned' && r.target.id === CID)).toBe(true);
      expect(planned[0].incident).toBe(second.vigie.incident);
      expect(planned[0].reason).toMatch(/incident/i);
    } finally {
      await engine.stop();
      db.close();
    }
  });
});
