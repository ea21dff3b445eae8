/** Host path volumes: which host paths a pod template mounts, and whether writable. */
import type { ScanContext } from '../context.js';
import type { ContainerRef, PodSpecRef } from '../k8s.js';
import type { Hit } from '../types.js';
import { cname, hit, list, NONE, podCheck } from './helpers.js';
import type { Check } from './types.js';

function hostPathMounts(
  p: PodSpecRef,
  ctx: ScanContext,
  match: (path: string) => boolean,
): { vi: number; vol: any; mounts: { c: ContainerRef; mi: number; m: any }[] }[] {
  const out: { vi: number; vol: any; mounts: { c: ContainerRef; mi: number; m: any }[] }[] = [];
  list(p.spec.volumes).forEach((vol, vi) => {
    const hp = vol?.hostPath?.path;
    if (typeof hp !== 'string' || !match(hp)) return;
    const mounts: { c: ContainerRef; mi: number; m: any }[] = [];
    for (const c of ctx.memo.containersOf(p))
      list(c.c.volumeMounts).forEach((m, mi) => {
        if (m?.name === vol.name) mounts.push({ c, mi, m });
      });
    out.push({ vi, vol, mounts });
  });
  return out;
}

function normPath(s: string): string {
  return s.length > 1 ? s.replace(/\/+$/, '') : s;
}

/**
 * The paths of `params.providers` for the cloud provider the settings name (`cloudProvider`, as
 * Kubescape's dataControlInputs): none for a provider not listed.
 */
function providerPaths(ctx: ScanContext, params: Record<string, any>): string[] | undefined {
  const byProvider = params.providers as Record<string, string[]> | undefined;
  if (!byProvider) return undefined;
  const provider = String(ctx.settings.cloudProvider?.[0] ?? '')
    .trim()
    .toLowerCase();
  return Object.prototype.hasOwnProperty.call(byProvider, provider) ? byProvider[provider] : [];
}

/** The control's host path test, built once per parameters. */
function hostPathMatcher(ctx: ScanContext, params: Record<string, any>): (hp: string) => boolean {
  const matchers = ctx.answers.hostPathMatchers;
  let m = matchers.get(params);
  if (m) return m;
  const byProvider = providerPaths(ctx, params)?.map(normPath);
  if (byProvider) {
    // A provider's path, or a home directory's copy of its dot-folders (/root/.aws/credentials).
    const homeRelative = byProvider.filter((x) => x.startsWith('/.'));
    m = (hp: string): boolean => {
      const n = normPath(hp);
      return byProvider.includes(n) || homeRelative.some((x) => n.endsWith(x));
    };
    matchers.set(params, m);
    return m;
  }
  const paths = (params.paths as string[] | undefined)?.map(normPath);
  const prefixes = (params.prefixes as string[] | undefined)?.map(normPath);
  const contains = params.contains as string[] | undefined;
  m = (hp: string): boolean => {
    const n = normPath(hp);
    if (contains) return contains.some((x) => hp.includes(x));
    if (paths && paths.includes(n)) return true;
    if (
      prefixes &&
      prefixes.some((x) => n === x || n.startsWith(`${x}/`) || (x.endsWith('/') && n.startsWith(x)))
    )
      return true;
    return !paths && !prefixes && !contains;
  };
  matchers.set(params, m);
  return m;
}

const hostPath = podCheck((p, _o, ctx, params) => {
  const vols = p.spec.volumes;
  if (!Array.isArray(vols) || !vols.some((v) => v && v.hostPath)) return NONE;
  const match = hostPathMatcher(ctx, params);
  const out: Hit[] = [];
  for (const { vi, vol, mounts } of hostPathMounts(p, ctx, match)) {
    if (params.writableOnly) {
      for (const { c, mi, m } of mounts)
        if (m.readOnly !== true)
          out.push(
            hit(
              c,
              `volumeMounts[${mi}].readOnly`,
              `mounts host path ${vol.hostPath.path} writable; set volumeMounts[${mi}].readOnly to true`,
            ),
          );
      continue;
    }
    out.push({
      path: `${p.prefix}volumes[${vi}]`,
      message: `volume "${vol.name}" mounts host path ${vol.hostPath.path}${params.what ? `, a ${params.what}` : ' of the node'}; remove it or use a volume that is not on the node`,
      container: mounts[0] ? cname(mounts[0].c) : undefined,
    });
  }
  return out;
});

export const hostPathChecks: Readonly<Record<string, Check>> = { hostPath };
