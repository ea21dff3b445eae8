/**
 * MITRE ATT&CK references read from rule tags, as Falco's rule files write them: a tactic tag
 * (`mitre_execution`) and technique ids (`T1059`, `T1059.004`). Used by Vigie's rule engine and for
 * Falco's own alerts, so both read tags the same way.
 */
import { priorityRank, type MitreRef, type Priority } from './alert.js';

const TACTICS: Readonly<Record<string, string>> = {
  mitre_initial_access: 'initial-access',
  mitre_execution: 'execution',
  mitre_persistence: 'persistence',
  mitre_privilege_escalation: 'privilege-escalation',
  mitre_defense_evasion: 'defense-evasion',
  mitre_credential_access: 'credential-access',
  mitre_discovery: 'discovery',
  mitre_lateral_movement: 'lateral-movement',
  mitre_collection: 'collection',
  mitre_command_and_control: 'command-and-control',
  mitre_exfiltration: 'exfiltration',
  mitre_impact: 'impact',
  mitre_resource_development: 'resource-development',
  mitre_reconnaissance: 'reconnaissance',
};

export function mitreFromTags(tags: readonly string[]): MitreRef[] {
  const tactics = tags.map((t) => TACTICS[t]).filter((t): t is string => t !== undefined);
  const techniques = tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t));
  const out: MitreRef[] = [];
  for (const technique of techniques) out.push({ tactic: tactics[0] ?? 'unknown', technique });
  if (out.length === 0) for (const tactic of tactics) out.push({ tactic, technique: '' });
  return out;
}

/** ATT&CK tactics by name, in kill-chain order, with their ids. */
const TACTIC_IDS: Readonly<Record<string, string>> = {
  TA0043: 'Reconnaissance',
  TA0042: 'Resource Development',
  TA0001: 'Initial Access',
  TA0002: 'Execution',
  TA0003: 'Persistence',
  TA0004: 'Privilege Escalation',
  TA0005: 'Defense Evasion',
  TA0006: 'Credential Access',
  TA0007: 'Discovery',
  TA0008: 'Lateral Movement',
  TA0009: 'Collection',
  TA0011: 'Command and Control',
  TA0010: 'Exfiltration',
  TA0040: 'Impact',
};
const TACTIC_BY_KEY: ReadonlyMap<string, string> = new Map(
  Object.values(TACTIC_IDS).map((name) => [name.toLowerCase().replace(/[^a-z]+/g, ''), name]),
);

/**
 * The canonical name of a tactic however it is spelt: "Command and Control", "command-and-control"
 * (tags read by `mitreFromTags`), "mitre_command_and_control" (a rule tag), "TA0011". Unknown
 * spellings are returned as they are.
 */
export function tacticName(t: string): string {
  const id = TACTIC_IDS[t.toUpperCase()];
  if (id) return id;
  const key = t
    .toLowerCase()
    .replace(/^mitre_/, '')
    .replace(/[^a-z]+/g, '');
  return TACTIC_BY_KEY.get(key) ?? t;
}

/**
 * What an attack technique means sets the least severity of its alert, whatever the rule's own
 * priority (docs/detectors.md, "Severity"): command and control, credential access, exfiltration
 * and an escape to the host are Critical; privilege escalation and lateral movement are Error.
 */
const TACTIC_PRIORITY: Readonly<Record<string, Priority>> = {
  'Command and Control': 'Critical',
  'Credential Access': 'Critical',
  Exfiltration: 'Critical',
  'Privilege Escalation': 'Error',
  'Lateral Movement': 'Error',
};
const TECHNIQUE_PRIORITY: Readonly<Record<string, Priority>> = {
  T1611: 'Critical', // Escape to Host
};

export interface TechniqueSeverity {
  priority: Priority;
  /** What raised it above the rule's priority ("Credential Access (T1003.008)"), when something did. */
  raisedBy?: string;
}

/**
 * The priority of an attack alert: the rule's, raised to what its techniques mean. `refs` are the
 * techniques that matched; `tags` (a rule file's tags) add their tactics and technique ids.
 */
export function techniqueSeverity(
  rulePriority: Priority,
  refs: readonly MitreRef[],
  tags: readonly string[] = [],
): TechniqueSeverity {
  let best: TechniqueSeverity = { priority: rulePriority };
  const consider = (p: Priority | undefined, why: string) => {
    if (p && priorityRank(p) < priorityRank(best.priority)) best = { priority: p, raisedBy: why };
  };
  const items: { tactic?: string; technique?: string }[] = [
    ...refs,
    ...tags.filter((t) => TACTICS[t] !== undefined).map((t) => ({ tactic: t })),
    ...tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t)).map((t) => ({ technique: t })),
  ];
  for (const m of items) {
    const tactic = m.tactic ? tacticName(m.tactic) : undefined;
    const technique = m.technique || undefined;
    const label = [tactic, technique && `(${technique})`].filter(Boolean).join(' ');
    if (technique) consider(TECHNIQUE_PRIORITY[technique.split('.')[0]], label || technique);
    if (tactic) consider(TACTIC_PRIORITY[tactic], label);
  }
  return best;
}
