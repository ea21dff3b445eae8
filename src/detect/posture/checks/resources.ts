/** Container resources: requests and limits set, and within the configured ranges. */
import type { ScanContext } from '../context.js';
import type { ContainerRef } from '../k8s.js';
import type { Hit } from '../types.js';
import { containerCheck, hit } from './helpers.js';
import type { Check } from './types.js';

/** A range setting (memory_limit_max, ...) parsed, once per context; NaN when unset. */
function rangeOf(ctx: ScanContext, key: string): number {
  const m = ctx.answers.ranges;
  let r = m.get(key);
  if (r === undefined) {
    const v = ctx.settings[key]?.[0];
    r = v === undefined || v === '' ? NaN : ctx.answers.quantity(v);
    m.set(key, r);
  }
  return r;
}

const RESOURCE_STRINGS: Readonly<Record<string, Record<string, readonly [string, string]>>> = {
  memory: {
    limits: ['resources.limits.memory', 'has no memory limit; set resources.limits.memory'],
    requests: ['resources.requests.memory', 'has no memory request; set resources.requests.memory'],
  },
  cpu: {
    limits: ['resources.limits.cpu', 'has no CPU limit; set resources.limits.cpu'],
    requests: ['resources.requests.cpu', 'has no CPU request; set resources.requests.cpu'],
  },
};

/** Both missing, for the controls that ask for both: one finding, not two. */
const BOTH_MISSING: Readonly<Record<string, string>> = {
  memory: 'has no memory limit or request; set resources.limits.memory and resources.requests.memory',
  cpu: 'has no CPU limit or request; set resources.limits.cpu and resources.requests.cpu',
};

const SINGULAR: Readonly<Record<string, string>> = { limits: 'limit', requests: 'request' };

function missing(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

const RANGE_KEYS: Readonly<Record<string, Record<string, readonly [string, string]>>> = {
  memory: {
    limits: ['memory_limit_max', 'memory_limit_min'],
    requests: ['memory_request_max', 'memory_request_min'],
  },
  cpu: { limits: ['cpu_limit_max', 'cpu_limit_min'], requests: ['cpu_request_max', 'cpu_request_min'] },
};

function resourceHit(
  c: ContainerRef,
  ctx: ScanContext,
  res: string,
  which: 'limits' | 'requests',
): Hit | undefined {
  const v = c.c.resources?.[which]?.[res];
  const at = `resources.${which}.${res}`;
  const what = `${res === 'cpu' ? 'CPU' : res} ${SINGULAR[which] ?? which}`;
  if (missing(v)) {
    const s = RESOURCE_STRINGS[res]?.[which];
    return s ? hit(c, s[0], s[1]) : hit(c, at, `has no ${what}; set ${at}`);
  }
  const q = ctx.answers.quantity(v);
  const base = RANGE_KEYS[res]?.[which];
  const max = base ? rangeOf(ctx, base[0]) : NaN;
  const min = base ? rangeOf(ctx, base[1]) : NaN;
  if (Number.isNaN(q)) return hit(c, at, `has an unreadable ${what} (${v}); set ${at} to a quantity`);
  if (!Number.isNaN(max) && q > max)
    return hit(c, at, `has a ${what} of ${v}, above the allowed ${ctx.settings[base![0]][0]}; lower ${at}`);
  if (!Number.isNaN(min) && min > 0 && q < min)
    return hit(c, at, `has a ${what} of ${v}, below the allowed ${ctx.settings[base![1]][0]}; raise ${at}`);
  return undefined;
}

const resources = containerCheck((c, _p, _o, ctx, params) => {
  const res: string = params.resource;
  const whichList = params.which as ('limits' | 'requests')[];
  if (whichList.length === 1) return resourceHit(c, ctx, res, whichList[0]);
  const r = c.c.resources;
  if (BOTH_MISSING[res] && whichList.every((w) => missing(r?.[w]?.[res])))
    return hit(c, `resources.${whichList[0]}.${res}`, BOTH_MISSING[res]);
  let out: Hit[] | undefined;
  for (const which of whichList) {
    const h = resourceHit(c, ctx, res, which);
    if (h) (out ??= []).push(h);
  }
  return out;
}, false);

export const resourceChecks: Readonly<Record<string, Check>> = { resources };
