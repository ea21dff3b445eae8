/** Service accounts: token mounting, the deprecated field, accounts that do not exist. */
import type { ScanContext } from '../context.js';
import { LazyHit, type HitFormat } from '../finding.js';
import { nameOf, nsOf, type PodSpecRef } from '../k8s.js';
import type { K8sObject } from '../types.js';
import { NONE, podCheck } from './helpers.js';
import type { Check } from './types.js';

function saName(p: PodSpecRef): string {
  return String(p.spec.serviceAccountName ?? p.spec.serviceAccount ?? 'default');
}

export function tokenMounted(p: PodSpecRef, o: K8sObject, ctx: ScanContext): boolean {
  if (p.spec.automountServiceAccountToken === false) return false;
  if (p.spec.automountServiceAccountToken === true) return true;
  const sa = ctx.serviceAccount(nsOf(o) ?? 'default', saName(p));
  return !(sa && sa.automountServiceAccountToken === false);
}

/** Found on most workloads: strings built when read. */
const TOKEN_MOUNTED_FORMAT: HitFormat = {
  path: (p: PodSpecRef) => `${p.prefix}automountServiceAccountToken`,
  message: (p: PodSpecRef) =>
    `pods mount the API token of service account "${saName(p)}"; set automountServiceAccountToken to false unless they call the API`,
};

const automountToken = podCheck((p, o, ctx) => {
  if (!tokenMounted(p, o, ctx)) return NONE;
  return [new LazyHit(TOKEN_MOUNTED_FORMAT, p, undefined, undefined)];
});

const deprecatedSaField = podCheck((p) => {
  const dep = p.spec.serviceAccount;
  if (dep === undefined) return NONE;
  if (p.spec.serviceAccountName !== undefined && p.spec.serviceAccountName === dep) return NONE;
  return [
    {
      path: `${p.prefix}serviceAccount`,
      message: `pod names its service account in the deprecated serviceAccount field (${dep}); use serviceAccountName`,
    },
  ];
});

/** Found on most workloads of a partial dump (its service accounts are elsewhere): lazy strings. */
const MISSING_SA_FORMAT: HitFormat = {
  path: (p: PodSpecRef) =>
    `${p.prefix}${p.spec.serviceAccountName !== undefined ? 'serviceAccountName' : 'serviceAccount'}`,
  message: (_p: PodSpecRef, o: K8sObject, name: unknown) =>
    `service account "${name}" does not exist in namespace ${nsOf(o)}, so the pods will not be created; create it or fix the name`,
};

const missingSa = podCheck((p, o, ctx) => {
  const name = p.spec.serviceAccountName ?? p.spec.serviceAccount;
  if (name === undefined || name === '' || name === 'default') return NONE;
  if (ctx.serviceAccount(nsOf(o) ?? 'default', String(name))) return NONE;
  return [new LazyHit(MISSING_SA_FORMAT, p, o, name)];
});

const defaultSaAutomount: Check = {
  appliesTo: ['ServiceAccount'],
  fn: (o) =>
    nameOf(o) === 'default' && o.automountServiceAccountToken !== false
      ? [
          {
            path: 'automountServiceAccountToken',
            message: `default service account of ${nsOf(o)} gives its API token to every pod that does not opt out; set automountServiceAccountToken to false on it`,
          },
        ]
      : [],
};

export const serviceAccountChecks: Readonly<Record<string, Check>> = {
  automountToken,
  deprecatedSaField,
  missingSa,
  defaultSaAutomount,
};
