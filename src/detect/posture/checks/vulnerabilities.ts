/** Known-vulnerable components: images below a fixed version, CVE-2021-25741 subPath mounts. */
import type { ScanContext } from '../context.js';
import type { Hit } from '../types.js';
import { list, NONE } from './helpers.js';
import type { Check } from './types.js';

function versionTuple(v: string): number[] {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [];
}

function lessThan(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/** Containers whose image matches a pattern, optionally only below a fixed version. */
const imageMatch: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    const patterns = ctx.answers.imagePatterns;
    let re = patterns.get(params);
    if (!re) patterns.set(params, (re = new RegExp(params.pattern, 'i')));
    let out: Hit[] | undefined;
    for (const p of ctx.memo.podSpecsOf(o)) {
      const cs = list(p.spec.containers);
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i];
        const image = String(c?.image ?? '');
        if (!re.test(image)) continue;
        if (params.fixedIn) {
          const tag = image.split('@')[0].split(':').pop() ?? '';
          const v = versionTuple(tag);
          if (v.length === 0) continue;
          const fixed = (params.fixedIn as string[]).map(versionTuple);
          // vulnerable when below the fix of its own minor line (or below the lowest fix)
          const line = fixed.find((f) => f[0] === v[0] && f[1] === v[1]);
          if (line ? !lessThan(v, line) : !lessThan(v, fixed[fixed.length - 1])) continue;
        }
        (out ??= []).push({
          path: `${p.prefix}containers[${i}].image`,
          message: `container "${c?.name}" runs ${image}, ${/^[aeiou]/i.test(String(params.what)) ? 'an' : 'a'} ${params.what}; ${params.fixedIn ? `upgrade it to ${(params.fixedIn as string[]).join(' or ')} or later` : 'replace it with a maintained release'}`,
          container: c?.name,
        });
      }
    }
    return out ?? NONE;
  },
};

/** Whether a node of the scan runs a kubelet vulnerable to CVE-2021-25741 (once per scan). */
function subPathVulnerable(ctx: ScanContext): boolean {
  const nodes = ctx.of('Node');
  if (nodes.length === 0) return false;
  let vulnerable = ctx.answers.subPathVulnerable;
  if (vulnerable === undefined) {
    vulnerable = nodes.some((n) => {
      const v = versionTuple(String(n.status?.nodeInfo?.kubeletVersion ?? ''));
      if (v.length === 0) return false;
      const fixes: Readonly<Record<string, number>> = { '1.19': 15, '1.20': 11, '1.21': 5, '1.22': 2 };
      const key = `${v[0]}.${v[1]}`;
      if (key in fixes) return v[2] < fixes[key];
      return v[0] === 1 && v[1] < 19;
    });
    ctx.answers.subPathVulnerable = vulnerable;
  }
  return vulnerable;
}

/** CVE-2021-25741: subPath mounts on nodes whose kubelet is in a vulnerable range. */
const subPathSymlink: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx) => {
    if (!subPathVulnerable(ctx)) return NONE;
    const out: Hit[] = [];
    for (const p of ctx.memo.podSpecsOf(o)) {
      for (const k of ['containers', 'initContainers'] as const) {
        list(p.spec[k]).forEach((c, i) =>
          list(c?.volumeMounts).forEach((m, j) => {
            if (m?.subPath)
              out.push({
                path: `${p.prefix}${k}[${i}].volumeMounts[${j}].subPath`,
                message: `container "${c?.name}" mounts a subPath on nodes whose kubelet is vulnerable to CVE-2021-25741; upgrade the kubelets or remove the subPath`,
                container: c?.name,
              });
          }),
        );
      }
    }
    return out;
  },
};

export const vulnerabilityChecks: Readonly<Record<string, Check>> = {
  imageMatch,
  subPathSymlink,
};
