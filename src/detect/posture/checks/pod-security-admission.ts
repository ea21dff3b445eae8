/** Cluster-level pod security: namespaces' Pod Security admission labels, PodSecurityPolicies. */
import { nameOf } from '../k8s.js';
import { list } from './helpers.js';
import type { Check } from './types.js';

const PSA_LEVELS: readonly string[] = ['privileged', 'baseline', 'restricted'];
const psaLabel: Check = {
  appliesTo: ['Namespace'],
  fn: (o, _ctx, params) => {
    const labels = o.metadata?.labels ?? {};
    const min = PSA_LEVELS.indexOf(params.level ?? 'baseline');
    const modes: string[] = params.modes ?? ['enforce'];
    for (const m of modes) {
      const lvl = PSA_LEVELS.indexOf(String(labels[`pod-security.kubernetes.io/${m}`] ?? ''));
      if (lvl >= min) return [];
    }
    return [
      {
        path: 'metadata.labels[pod-security.kubernetes.io/enforce]',
        message: `namespace ${nameOf(o)} does not ${modes.join('/')} Pod Security "${params.level ?? 'baseline'}"`,
      },
    ];
  },
};

// ---- PodSecurityPolicy (clusters that still serve it) ----

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
    return bad ? [{ path: `spec.${f}`, message: `PodSecurityPolicy ${nameOf(o)} allows ${f}` }] : [];
  },
};

export const podSecurityAdmissionChecks: Readonly<Record<string, Check>> = {
  psaLabel,
  pspAllows,
};
