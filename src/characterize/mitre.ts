/**
 * MITRE ATT&CK for Containers: the techniques Vigie's detections map to, their tactics, and an
 * inference from rule names and tags for alerts that carry no technique of their own.
 */
import type { Alert, MitreRef } from '../model/alert.js';
import { tacticName } from '../model/mitre-tags.js';

/** Tactics in kill-chain order (the order a timeline reads in). */
export const TACTICS = [
  'Initial Access',
  'Execution',
  'Persistence',
  'Privilege Escalation',
  'Defense Evasion',
  'Credential Access',
  'Discovery',
  'Lateral Movement',
  'Collection',
  'Command and Control',
  'Exfiltration',
  'Impact',
] as const;

/** ATT&CK for Containers techniques: id → [name, tactics]. */
export const TECHNIQUES: Record<string, [string, string[]]> = {
  T1190: ['Exploit Public-Facing Application', ['Initial Access']],
  T1133: ['External Remote Services', ['Initial Access', 'Persistence']],
  T1078: ['Valid Accounts', ['Initial Access', 'Persistence', 'Privilege Escalation', 'Defense Evasion']],
  T1609: ['Container Administration Command', ['Execution']],
  T1610: ['Deploy Container', ['Execution', 'Defense Evasion']],
  T1053: ['Scheduled Task/Job', ['Execution', 'Persistence', 'Privilege Escalation']],
  T1204: ['User Execution', ['Execution']],
  T1059: ['Command and Scripting Interpreter', ['Execution']],
  T1525: ['Implant Internal Image', ['Persistence']],
  T1098: ['Account Manipulation', ['Persistence', 'Privilege Escalation']],
  T1136: ['Create Account', ['Persistence']],
  T1543: ['Create or Modify System Process', ['Persistence', 'Privilege Escalation']],
  T1611: ['Escape to Host', ['Privilege Escalation']],
  T1068: ['Exploitation for Privilege Escalation', ['Privilege Escalation']],
  T1612: ['Build Image on Host', ['Defense Evasion']],
  T1562: ['Impair Defenses', ['Defense Evasion']],
  T1070: ['Indicator Removal', ['Defense Evasion']],
  T1036: ['Masquerading', ['Defense Evasion']],
  T1027: ['Obfuscated Files or Information', ['Defense Evasion']],
  T1550: ['Use Alternate Authentication Material', ['Defense Evasion', 'Lateral Movement']],
  T1110: ['Brute Force', ['Credential Access']],
  T1528: ['Steal Application Access Token', ['Credential Access']],
  T1552: ['Unsecured Credentials', ['Credential Access']],
  T1003: ['OS Credential Dumping', ['Credential Access']],
  T1613: ['Container and Resource Discovery', ['Discovery']],
  T1046: ['Network Service Discovery', ['Discovery']],
  T1069: ['Permission Groups Discovery', ['Discovery']],
  T1083: ['File and Directory Discovery', ['Discovery']],
  T1021: ['Remote Services', ['Lateral Movement']],
  T1105: ['Ingress Tool Transfer', ['Command and Control']],
  T1071: ['Application Layer Protocol', ['Command and Control']],
  T1095: ['Non-Application Layer Protocol', ['Command and Control']],
  T1571: ['Non-Standard Port', ['Command and Control']],
  T1041: ['Exfiltration Over C2 Channel', ['Exfiltration']],
  T1485: ['Data Destruction', ['Impact']],
  T1490: ['Inhibit System Recovery', ['Impact']],
  T1496: ['Resource Hijacking', ['Impact']],
  T1498: ['Network Denial of Service', ['Impact']],
  T1499: ['Endpoint Denial of Service', ['Impact']],
};

/** Patterns over "rule name + tags" → technique, for alerts that do not say which one. */
const INFERENCE: [RegExp, string][] = [
  [/\b(shell|terminal|bash|sh -c|interpreter)\b/i, 'T1059'],
  [/\b(exec|attach|kubectl exec|pods\/exec)\b/i, 'T1609'],
  [/(shadow|passwd|credential|token|secret|ssh key|kubeconfig)/i, 'T1552'],
  [/(privileged|hostpid|hostnetwork|hostpath|docker\.sock|escape|nsenter|mount)/i, 'T1611'],
  [/(miner|mining|crypto|stratum|resource hijack)/i, 'T1496'],
  [/(fork bomb|pid spike|dos\b|denial)/i, 'T1499'],
  [/(unusual (outbound )?port|non-standard port|reverse shell)/i, 'T1571'],
  [/(drop|download|wget|curl|ingress tool|binary (written|dropped)|executed from)/i, 'T1105'],
  [/(package manager|apt|apk |yum|pip install)/i, 'T1105'],
  [/(write below \/etc|binary dir|modify system)/i, 'T1543'],
  [/(rolebinding|clusterrolebinding|cluster-admin|escalate|impersonate|bind\b)/i, 'T1098'],
  [/(create pod|deploy container|new container|privileged pod created)/i, 'T1610'],
  [/(discovery|scan|enumerat|list secrets|list pods)/i, 'T1613'],
  [/(delete|log.*clear|history)/i, 'T1070'],
];

export function techniqueRef(id: string): MitreRef | undefined {
  const base = id.split('.')[0];
  const t = TECHNIQUES[base];
  if (!t) return undefined;
  return { tactic: t[1][0], technique: id, name: t[0] };
}

/**
 * The techniques of an alert: its own (normalized: tactics by their ATT&CK name however the source
 * spelt them, "command-and-control" from Falco's tags included), or inferred from its rule name and
 * tags.
 */
export function mitreOf(alert: Alert): MitreRef[] {
  const own = alert.vigie.mitre ?? [];
  if (own.length > 0) {
    return own.map((m) => {
      const ref = techniqueRef(m.technique);
      return {
        tactic: tacticName(m.tactic || ref?.tactic || 'Unknown'),
        technique: m.technique,
        name: m.name ?? ref?.name,
      };
    });
  }
  const text = `${alert.rule} ${alert.tags.join(' ')} ${alert.output}`;
  const out: MitreRef[] = [];
  const seen = new Set<string>();
  for (const [re, id] of INFERENCE) {
    if (seen.has(id) || !re.test(text)) continue;
    seen.add(id);
    const ref = techniqueRef(id);
    if (ref) out.push(ref);
  }
  // Tags like "mitre_execution" or "T1059" in Falco rules.
  for (const tag of alert.tags) {
    const m = /^(T\d{4}(?:\.\d{3})?)$/i.exec(tag);
    if (m && !seen.has(m[1].toUpperCase())) {
      const ref = techniqueRef(m[1].toUpperCase());
      if (ref) {
        seen.add(m[1].toUpperCase());
        out.push(ref);
      }
    }
  }
  return out;
}

export function tacticRank(t: string): number {
  const i = (TACTICS as readonly string[]).indexOf(t);
  return i < 0 ? TACTICS.length : i;
}
