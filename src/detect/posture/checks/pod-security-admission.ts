/** Cluster-level pod security: namespaces' Pod Security admission labels, PodSecurityPolicies. */
import { nameOf } from '../k8s.js';
import { list } from './helpers.js';
import type { Check } from './types.js';

const PSA_LEVELS: readonly string[] = ['privileged', 'baseline', 'restricted'];
const psaLabel: Check = {
  appliesTo: ['Namespace'],
  fn: (o, _ctx, params) => {
    const labels = o.metadata?.labels ?? {};
    const level: string = params.level ?? 'baseline';
    const min = PSA_LEVELS.indexOf(level);
    const modes: string[] = params.modes ?? ['enforce'];
    const set: string[] = [];
    for (const m of modes) {
      const v = labels[`pod-security.kubernetes.io/${m}`];
      if (v !== undefined) set.push(`${m}=${v}`);
      if (PSA_LEVELS.indexOf(String(v ?? '')) >= min) return [];
    }
    const label = `pod-security.kubernetes.io/${modes[0]}`;
    // "privileged" is the lowest level: failing it means no level is set at all.
    const message =
      level === 'privileged'
        ? `namespace ${nameOf(o)} has no ${modes.map((m) => `pod-security.kubernetes.io/${m}`).join(' or ')} label, so it admits any pod; label it ${label}=baseline or restricted`
        : `namespace ${nameOf(o)} does not ${modes.join(' or ')} Pod Security ${level}${set.length > 0 ? ` (${set.join(', ')})` : ''}; label it ${label}=${level === 'restricted' ? 'restricted' : 'baseline or restricted'}`;
    return [{ path: `metadata.labels[${label}]`, message }];
  },
};

// ---- PodSecurityPolicy (clusters that still serve it) ----

/** What a PodSecurityPolicy field lets through, and its fix. */
const PSP_TEXT: Readonly<Record<string, string>> = {
  privileged: 'allows privileged pods; set spec.privileged to false',
  hostPID: "allows pods in the node's PID namespace; set spec.hostPID to false",
  hostIPC: "allows pods in the node's IPC namespace; set spec.hostIPC to false",
  hostNetwork: "allows pods on the node's network; set spec.hostNetwork to false",
  allowPrivilegeEscalation:
    'allows privilege escalation (allowPrivilegeEscalation is not false); set spec.allowPrivilegeEscalation to false',
  runAsUser: 'allows pods to run as root; set spec.runAsUser.rule to MustRunAsNonRoot',
  allowedCapabilities: 'allows pods to add capabilities; empty spec.allowedCapabilities',
  requiredDropCapabilities:
    'lets pods keep NET_RAW (it requires dropping neither ALL nor NET_RAW); add ALL to spec.requiredDropCapabilities',
};

const pspAllows: Check = {
  appliesTo: ['PodSecurityPolicy'],
  fn: (o, _ctx, params) => {
    const spec = o.spec ?? {};
    const f: string = params.field;
    let bad = false;
    if (f === 'allowedCapabilities') bad = list(spec.allowedCapabilities).length > 0;
    else if (f === 'requiredDropCapabilities')
      bad = !list(spec.requiredDropCapabilities).some((c) =>
        ['ALL', 'NET_RAW'].includes(String(c).toUpperCase()),
      );
    else if (f === 'runAsUser')
      bad =
        spec.runAsUser?.rule === 'RunAsAny' ||
        (spec.runAsUser?.rule === 'MustRunAs' && list(spec.runAsUser?.ranges).some((r) => r?.min === 0));
    else if (f === 'allowPrivilegeEscalation') bad = spec.allowPrivilegeEscalation !== false;
    else bad = spec[f] === true;
    return bad
      ? [{ path: `spec.${f}`, message: `PodSecurityPolicy ${nameOf(o)} ${PSP_TEXT[f] ?? `allows ${f}`}` }]
      : [];
  },
};

export const podSecurityAdmissionChecks: Readonly<Record<string, Check>> = {
  psaLabel,
  pspAllows,
};
