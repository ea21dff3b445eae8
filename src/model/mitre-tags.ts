/**
 * MITRE ATT&CK references read from rule tags, as Falco's rule files write them: a tactic tag
 * (`mitre_execution`) and technique ids (`T1059`, `T1059.004`). Used by Vigie's rule engine and for
 * Falco's own alerts, so both read tags the same way.
 */
import type { MitreRef } from './alert.js';

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
