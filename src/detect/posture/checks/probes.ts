/**
 * Readiness probes as kube-score weighs them: missing on a container a Service sends traffic to (a
 * stronger finding than missing elsewhere), and identical to the liveness probe.
 */
import type { ExposingService } from '../context.js';
import { nsOf, refOf, type ContainerRef } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { cname, containerCheck, hit, list, NONE, podCheck } from './helpers.js';
import type { Check } from './types.js';

/** The container ports a Service's ports lead to: numbers and names (targetPort defaults to port). */
function servicePortTargets(svcs: ExposingService[]): { numbers: Set<number>; names: Set<string> } {
  const numbers = new Set<number>();
  const names = new Set<string>();
  for (const { service } of svcs)
    for (const sp of list(service.spec?.ports)) {
      const t = sp?.targetPort ?? sp?.port;
      if (typeof t === 'number') numbers.add(t);
      else if (typeof t === 'string') {
        if (/^\d+$/.test(t)) numbers.add(Number(t));
        else names.add(t);
      }
    }
  return { numbers, names };
}

function servesPort(c: ContainerRef, t: { numbers: Set<number>; names: Set<string> }): boolean {
  for (const port of list(c.c.ports)) {
    if (typeof port?.containerPort === 'number' && t.numbers.has(port.containerPort)) return true;
    if (typeof port?.name === 'string' && t.names.has(port.name)) return true;
  }
  return false;
}

/**
 * The app containers the Services send traffic to: those declaring a port a Service targets, or
 * every app container when none declares one (ports need not be declared to be served).
 */
function targetedContainers(cs: ContainerRef[], svcs: ExposingService[]): Set<ContainerRef> {
  const t = servicePortTargets(svcs);
  const out = new Set<ContainerRef>();
  for (const c of cs) if (c.kind === 'containers' && servesPort(c, t)) out.add(c);
  if (out.size === 0) for (const c of cs) if (c.kind === 'containers') out.add(c);
  return out;
}

/**
 * App containers without a readiness probe. params.behindService true: only those a Service sends
 * traffic to (named in the finding); false: only the others. The two controls split the same
 * findings, so each missing probe is reported once, by the weightier control when it applies.
 */
const readinessProbe: Check = podCheck((p, o: K8sObject, ctx, params) => {
  const cs = ctx.memo.containersOf(p, false);
  let missing = false;
  for (const c of cs) if (c.kind === 'containers' && !c.c.readinessProbe) missing = true;
  if (!missing) return NONE;
  const svcs = ctx.servicesExposing(nsOf(o) ?? 'default', p.labels);
  const behind = params.behindService === true;
  if (svcs.length === 0 && behind) return NONE;
  const targeted = svcs.length > 0 ? targetedContainers(cs, svcs) : undefined;
  let out: Hit[] | undefined;
  for (const c of cs) {
    if (c.kind !== 'containers' || c.c.readinessProbe) continue;
    const isTargeted = targeted?.has(c) ?? false;
    if (isTargeted !== behind) continue;
    if (!behind) {
      (out ??= []).push(hit(c, 'readinessProbe', 'no readinessProbe'));
      continue;
    }
    const names = svcs.map((s) => `${nsOf(s.service) ?? 'default'}/${String(s.service.metadata?.name)}`);
    (out ??= []).push({
      path: `${c.path}readinessProbe`,
      message: `container "${cname(c)}": no readinessProbe, and Service ${names.join(', ')} sends it traffic: requests reach it before it is ready and while it cannot serve`,
      container: cname(c),
      related: svcs.map((s) => refOf(s.service)),
    });
  }
  return out ?? NONE;
});

const TIMING_DEFAULTS: Readonly<Record<string, number>> = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
};

/** Deep equality of JSON values, key order ignored. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => same(x, bb[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && same(ra[k], rb[k]))
  );
}

/** Same handler and same timing once the API server's defaults are applied. */
function sameProbe(r: Record<string, unknown>, l: Record<string, unknown>): boolean {
  for (const k in TIMING_DEFAULTS)
    if ((r[k] ?? TIMING_DEFAULTS[k]) !== (l[k] ?? TIMING_DEFAULTS[k])) return false;
  const handler = (p: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const k in p) if (!(k in TIMING_DEFAULTS) && k !== 'terminationGracePeriodSeconds') out[k] = p[k];
    return out;
  };
  return same(handler(r), handler(l));
}

const identicalProbes = containerCheck((c) => {
  if (c.kind !== 'containers') return undefined;
  const r = c.c.readinessProbe;
  const l = c.c.livenessProbe;
  if (!r || !l || typeof r !== 'object' || typeof l !== 'object') return undefined;
  if (!sameProbe(r, l)) return undefined;
  return hit(
    c,
    'livenessProbe',
    'livenessProbe is the same as readinessProbe: a container that is only busy or waiting on a dependency is restarted instead of taken out of rotation, and restarts can cascade',
  );
});

export const probeChecks: Readonly<Record<string, Check>> = { readinessProbe, identicalProbes };
