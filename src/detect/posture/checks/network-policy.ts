/** NetworkPolicy coverage: pod templates and namespaces no policy restricts. */
import { ciliumSpecs, policyDirections, type ScanContext } from '../context.js';
import { LazyHit, PATH_FORMAT } from '../finding.js';
import { nameOf, nsOf, selectorMatches } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { list, NONE } from './helpers.js';
import type { Directions } from './memo.js';
import type { Check } from './types.js';

const networkPolicy: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    const ns = nsOf(o) ?? 'default';
    let out: Hit[] | undefined;
    for (const p of ctx.memo.podSpecsOf(o)) {
      const pols = ctx.networkPoliciesSelecting(ns, p.labels);
      if (params.both) {
        const { ingress, egress } = directionsOf(ctx, pols);
        if (!ingress || !egress)
          (out ??= []).push(
            new LazyHit(
              PATH_FORMAT,
              p.metaPrefix,
              'metadata.labels',
              !ingress && !egress
                ? 'no NetworkPolicy restricts ingress or egress for these pods; add a policy with ingress and egress rules'
                : !ingress
                  ? 'no NetworkPolicy restricts ingress for these pods; add a policy with ingress rules'
                  : 'no NetworkPolicy restricts egress for these pods; add a policy with egress rules',
            ),
          );
      } else if (pols.length === 0)
        (out ??= []).push(
          new LazyHit(
            PATH_FORMAT,
            p.metaPrefix,
            'metadata.labels',
            'no NetworkPolicy selects these pods, so any pod can reach them; add one that allows only the traffic they need',
          ),
        );
    }
    return out ?? NONE;
  },
};

/** Directions restricted by a set of policies, once per set (the context caches the sets). */
const NO_DIRECTIONS: Directions = Object.freeze({ ingress: false, egress: false });
function directionsOf(ctx: ScanContext, pols: K8sObject[]): Directions {
  if (pols.length === 0) return NO_DIRECTIONS;
  const directionsCache = ctx.answers.directions;
  let d = directionsCache.get(pols);
  if (!d) {
    let ingress = false;
    let egress = false;
    for (const pol of pols) {
      const x = policyDirections(pol);
      ingress ||= x.ingress;
      egress ||= x.egress;
    }
    directionsCache.set(pols, (d = { ingress, egress }));
  }
  return d;
}

const namespaceNetworkPolicy: Check = {
  appliesTo: ['Namespace'],
  fn: (o, ctx) => {
    const ns = nameOf(o);
    if (ctx.networkPoliciesIn(ns).length > 0) return [];
    for (const p of ctx.clusterwidePolicies()) {
      for (const s of ciliumSpecs(p)) {
        const sel = s.endpointSelector;
        if (!sel) continue;
        const ml = sel.matchLabels ?? {};
        const keys = Object.keys(ml);
        const nsKeys = keys.filter((k) => k.includes('io.kubernetes.pod.namespace'));
        if (keys.length === 0 && !sel.matchExpressions) return [];
        if (nsKeys.length > 0 && nsKeys.every((k) => ml[k] === ns) && keys.length === nsKeys.length)
          return [];
        const exprs = list(sel.matchExpressions).filter((e) =>
          String(e.key).includes('io.kubernetes.pod.namespace'),
        );
        if (
          exprs.length > 0 &&
          keys.length === 0 &&
          exprs.length === list(sel.matchExpressions).length &&
          selectorMatches({ matchExpressions: exprs.map((e) => ({ ...e, key: 'ns' })) }, { ns })
        )
          return [];
      }
    }
    return [
      {
        path: 'metadata.name',
        message: `namespace ${ns} has no NetworkPolicy; add a default-deny policy and allow what its pods need`,
      },
    ];
  },
};

export const networkPolicyChecks: Readonly<Record<string, Check>> = {
  networkPolicy,
  namespaceNetworkPolicy,
};
