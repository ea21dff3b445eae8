/** Workload hygiene: probes, controllers, namespaces, duplicate env, sudo, runtime classes. */
import { nameOf, nsOf } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { containerCheck, hit, list, podCheck } from './helpers.js';
import type { Check } from './types.js';

const probe = containerCheck((c, _p, _o, _ctx, params) => {
  if (c.kind !== 'containers') return undefined;
  return c.c[params.probe]
    ? undefined
    : hit(
        c,
        params.probe,
        params.probe === 'livenessProbe'
          ? 'has no liveness probe, so a hung process is never restarted; add a livenessProbe'
          : 'has no readiness probe, so it gets traffic before it is ready; add a readinessProbe',
      );
});

const nakedPod = {
  appliesTo: ['Pod'],
  fn: (o: K8sObject): Hit[] =>
    Array.isArray(o.metadata?.ownerReferences) && o.metadata.ownerReferences.length > 0
      ? []
      : [
          {
            path: 'metadata.ownerReferences',
            message: `pod ${nameOf(o)} has no controller to recreate it; run it from a Deployment, StatefulSet or Job`,
          },
        ],
} satisfies Check;

const defaultNamespace: Check = {
  appliesTo: ['podspec'],
  fn: (o) =>
    nsOf(o) === 'default'
      ? [
          {
            path: 'metadata.namespace',
            message: `${o.kind} runs in the default namespace; move it to a namespace of its own`,
          },
        ]
      : [],
};

const SUDO = /(^|[\s/;&|])sudo(\s|$)/;
const ENTRYPOINT_FIELDS: readonly string[] = ['command', 'args'];
const sudoEntrypoint = containerCheck((c) => {
  for (const f of ENTRYPOINT_FIELDS) {
    const i = list(c.c[f]).findIndex((x) => typeof x === 'string' && SUDO.test(x));
    if (i >= 0)
      return hit(
        c,
        `${f}[${i}]`,
        'runs sudo in its entrypoint; run the container as the user it needs instead',
      );
  }
  return undefined;
});

const runtimeClass = podCheck((p, _o, _ctx, params) => {
  const allowed = (params.classes as string[]) ?? [];
  const rc = p.spec.runtimeClassName;
  return typeof rc === 'string' && allowed.includes(rc)
    ? []
    : [
        {
          path: `${p.prefix}runtimeClassName`,
          message: `pod runs ${typeof rc === 'string' ? `with runtime class ${rc}` : 'with no runtime class'}, not a hardened sandbox; set runtimeClassName to ${allowed.length > 0 ? allowed.join(' or ') : 'a sandboxed runtime class'}`,
        },
      ];
});

const duplicateEnv = containerCheck((c) => {
  const env = list(c.c.env);
  if (env.length < 2) return undefined;
  let out: Hit[] | undefined;
  // Names seen so far; a linear scan beats a Set for the few entries a container has.
  for (let i = 1; i < env.length; i++) {
    const e = env[i];
    if (!e || typeof e.name !== 'string') continue;
    let dup = false;
    for (let j = 0; j < i && !dup; j++) dup = env[j]?.name === e.name;
    if (dup)
      (out ??= []).push(
        hit(
          c,
          `env[${i}].name`,
          `defines env ${e.name} twice (the last one wins); remove the other definition`,
        ),
      );
  }
  return out;
});

export const hygieneChecks: Readonly<Record<string, Check>> = {
  probe,
  nakedPod,
  defaultNamespace,
  sudoEntrypoint,
  runtimeClass,
  duplicateEnv,
};
