/** Consistency: references that lead nowhere (backends, selectors, scale targets). */
import { controllerSelectorOf, nsOf, selectorMatches } from '../k8s.js';
import type { Hit } from '../types.js';
import { list } from './helpers.js';
import type { Check } from './types.js';

const danglingIngressBackend: Check = {
  appliesTo: ['Ingress'],
  fn: (o, ctx) => {
    const ns = nsOf(o) ?? 'default';
    const out: Hit[] = [];
    const check = (b: any, path: string): void => {
      const n = b?.service?.name ?? b?.serviceName;
      if (typeof n !== 'string') return;
      if (!ctx.find('Service', ns, n))
        out.push({
          path: `${path}.${b?.service ? 'service.name' : 'serviceName'}`,
          message: `backend Service ${ns}/${n} does not exist, so the route fails; point it at an existing Service or remove it`,
        });
    };
    const spec = o.spec ?? {};
    if (spec.defaultBackend) check(spec.defaultBackend, 'spec.defaultBackend');
    else if (spec.backend) check(spec.backend, 'spec.backend');
    list(spec.rules).forEach((r, i) =>
      list(r?.http?.paths).forEach((p, j) => check(p?.backend, `spec.rules[${i}].http.paths[${j}].backend`)),
    );
    return out;
  },
};

const serviceWithoutWorkload: Check = {
  appliesTo: ['Service'],
  fn: (o, ctx) => {
    const sel = o.spec?.selector;
    if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.selectedByTemplates().services.has(o)) return [];
    return [
      {
        path: 'spec.selector',
        message: `selector ${JSON.stringify(sel)} matches no workload in ${ns}; fix the selector or remove the Service`,
      },
    ];
  },
};

const danglingNetworkPolicy: Check = {
  appliesTo: ['NetworkPolicy'],
  fn: (o, ctx) => {
    const sel = o.spec?.podSelector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && list(sel.matchExpressions).length === 0))
      return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.selectedByTemplates().policies.has(o)) return [];
    return [
      {
        path: 'spec.podSelector',
        message: `podSelector matches no pod in ${ns}, so the policy protects nothing; fix the selector or remove the policy`,
      },
    ];
  },
};

const mismatchingSelector: Check = {
  appliesTo: [
    'Deployment',
    'StatefulSet',
    'DaemonSet',
    'ReplicaSet',
    'Job',
    'CronJob',
    'ReplicationController',
  ],
  fn: (o, ctx) => {
    const sel = controllerSelectorOf(o);
    if (!sel) return [];
    const pod = ctx.memo.podSpecsOf(o)[0];
    if (selectorMatches(sel.selector, pod?.labels ?? {})) return [];
    return [
      {
        path: sel.path,
        message:
          'selector does not match the pod template labels, so the controller never owns its pods; make it match the template labels',
      },
    ];
  },
};

/**
 * Built-in kinds an HPA can scale. A custom resource with a scale subresource (Argo Rollout, ...)
 * may live outside the scanned objects: its absence proves nothing, so it is not judged.
 */
const SCALABLE_KINDS: ReadonlySet<string> = new Set([
  'Deployment',
  'StatefulSet',
  'ReplicaSet',
  'ReplicationController',
]);

const hpaTarget: Check = {
  appliesTo: ['HorizontalPodAutoscaler'],
  fn: (o, ctx) => {
    const ref = o.spec?.scaleTargetRef;
    if (!ref || typeof ref.name !== 'string' || !SCALABLE_KINDS.has(String(ref.kind))) return [];
    const ns = nsOf(o) ?? 'default';
    if (ctx.find(String(ref.kind), ns, ref.name)) return [];
    return [
      {
        path: 'spec.scaleTargetRef.name',
        message: `scale target ${ref.kind} ${ns}/${ref.name} does not exist, so nothing is scaled; point scaleTargetRef at an existing workload`,
      },
    ];
  },
};

export const consistencyChecks: Readonly<Record<string, Check>> = {
  danglingIngressBackend,
  serviceWithoutWorkload,
  danglingNetworkPolicy,
  mismatchingSelector,
  hpaTarget,
};
