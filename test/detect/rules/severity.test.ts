/**
 * Vigie's evaluation of Falco-language rules: the alert's priority follows the ATT&CK tactic of the
 * rule's tags (credential access, command and control, exfiltration, container escape: Critical),
 * while the rule's own priority stays on record.
 */
import { describe, expect, it } from 'vitest';
import { loadRuleSources } from '../../../src/detect/rules/loader.js';
import { RuleEngine } from '../../../src/detect/rules/engine.js';
import type { VigieEvent } from '../../../src/model/event.js';

const RULES = `
- rule: Read shadow
  desc: a credential file read
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: shadow read (proc=%proc.name file=%fd.name)
  priority: WARNING
  tags: [container, filesystem, mitre_credential_access, T1003.008]
- rule: Exfil with curl
  desc: data sent out
  condition: evt.type = execve and proc.name = curl
  output: curl ran (cmdline=%proc.cmdline)
  priority: NOTICE
  tags: [container, mitre_exfiltration, T1041]
- rule: Escape with nsenter
  desc: container escape
  condition: evt.type = execve and proc.name = nsenter
  output: nsenter ran (cmdline=%proc.cmdline)
  priority: WARNING
  tags: [container, mitre_privilege_escalation, T1611]
- rule: Shell
  desc: a shell
  condition: evt.type = execve and proc.name = sh
  output: shell (cmdline=%proc.cmdline)
  priority: WARNING
  tags: [container, mitre_execution, T1059]
`;

const base = {
  ts: 1_700_000_000_000_000_000n,
  source: 'test',
  container: { id: 'abcdefabcdef', name: 'web', image: 'web:1' },
};
const exec = (name: string): VigieEvent => ({
  ...base,
  id: `x-${name}`,
  kind: 'process',
  proc: { pid: 5, name, exe: `/bin/${name}`, cmdline: name, pname: 'httpd' },
});
const shadow: VigieEvent = {
  ...base,
  id: 'x-shadow',
  kind: 'file',
  proc: { pid: 6, name: 'cat' },
  file: { op: 'open', path: '/etc/shadow', write: false },
};

describe('rule severity follows the technique', () => {
  const engine = new RuleEngine(loadRuleSources([{ name: 't.yaml', content: RULES }]), {
    ruleMatching: 'all',
  });
  const one = (ev: VigieEvent) => {
    const out = engine.alerts(ev, 'h');
    expect(out).toHaveLength(1);
    return out[0];
  };

  it('credential access, exfiltration and escape to host are Critical; execution keeps its priority', () => {
    const a = one(shadow);
    expect(a.priority).toBe('Critical');
    expect(a.output_fields['vigie.rule_priority']).toBe('Warning');
    expect(a.vigie.explanation).toMatch(/Credential Access/);
    expect(one(exec('curl')).priority).toBe('Critical');
    expect(one(exec('nsenter')).priority).toBe('Critical');
    expect(one(exec('sh')).priority).toBe('Warning');
  });
});
