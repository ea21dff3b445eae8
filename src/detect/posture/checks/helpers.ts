/** What the pod-template checks share: iteration over templates and containers, hits, accessors. */
import type { ScanContext } from '../context.js';
import { LazyHit, type HitFormat } from '../finding.js';
import type { ContainerRef, PodSpecRef } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import type { Check } from './types.js';

export type PodFn = (p: PodSpecRef, o: K8sObject, ctx: ScanContext, params: Record<string, any>) => Hit[];
export type ContainerFn = (
  c: ContainerRef,
  p: PodSpecRef,
  o: K8sObject,
  ctx: ScanContext,
  params: Record<string, any>,
) => Hit[] | Hit | undefined;

const PODSPEC = ['podspec'] as const;

/** Shared empty result: most checks pass on most objects, and an array per call adds up. */
export const NONE: Hit[] = Object.freeze([]) as unknown as Hit[];

export function podCheck(fn: PodFn): Check {
  return {
    appliesTo: PODSPEC,
    fn: (o, ctx, params) => {
      const specs = ctx.memo.podSpecsOf(o);
      if (specs.length === 1) return fn(specs[0], o, ctx, params);
      let out: Hit[] | undefined;
      for (let i = 0; i < specs.length; i++) {
        const r = fn(specs[i], o, ctx, params);
        if (r.length > 0) out = append(out, r);
      }
      return out ?? NONE;
    },
  };
}

/** out + hits, reusing whichever list exists (lists returned by a check belong to the caller). */
export function append(out: Hit[] | undefined, r: Hit[]): Hit[] {
  if (out === undefined) return r;
  for (let i = 0; i < r.length; i++) out.push(r[i]);
  return out;
}

export function containerCheck(fn: ContainerFn, withEphemeral = true): Check {
  return podCheck((p, o, ctx, params) => {
    let out: Hit[] | undefined;
    const cs = ctx.memo.containersOf(p, withEphemeral);
    for (let i = 0; i < cs.length; i++) {
      const r = fn(cs[i], p, o, ctx, params);
      if (r === undefined) continue;
      if (Array.isArray(r)) {
        if (r.length > 0) out = append(out, r);
      } else if (out === undefined) out = [r];
      else out.push(r);
    }
    return out ?? NONE;
  });
}

export function cname(c: ContainerRef): string {
  return String(c.c.name ?? `${c.kind}[${c.index}]`);
}

/** A container hit: strings built when read (scans make one per finding, most never printed). */
const CONTAINER_FORMAT: HitFormat = {
  path: (c: ContainerRef, rel: string) => c.path + rel,
  message: (c: ContainerRef, _rel: string, msg: string) => `container "${cname(c)}" ${msg}`,
  container: (c: ContainerRef) => cname(c),
};

/**
 * A finding on one container at `rel` under it. The message goes on from `container "name" `: what
 * is wrong, then the fix ("runs privileged; set securityContext.privileged to false").
 */
export function hit(c: ContainerRef, rel: string, message: string): Hit {
  return new LazyHit(CONTAINER_FORMAT, c, rel, message);
}

/** Stands in for a missing securityContext: read only, shared (one object per call added up). */
export const NO_CONTEXT: Record<string, any> = Object.freeze({});
export const sc = (c: ContainerRef): Record<string, any> =>
  c.c.securityContext && typeof c.c.securityContext === 'object' ? c.c.securityContext : NO_CONTEXT;
export const psc = (p: PodSpecRef): Record<string, any> =>
  p.spec.securityContext && typeof p.spec.securityContext === 'object' ? p.spec.securityContext : NO_CONTEXT;
export const EMPTY: any[] = Object.freeze([]) as unknown as any[];
export const list = (v: unknown): any[] => (Array.isArray(v) ? v : EMPTY);
export const upper = (s: unknown): string => {
  const u = String(s).toUpperCase();
  return u.startsWith('CAP_') ? u.slice(4) : u;
};
