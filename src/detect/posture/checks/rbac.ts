/** RBAC: what roles grant, to which subjects, and which workloads carry those permissions in their token. */
import type { PolicyRule, RoleBindingView, ScanContext } from '../context.js';
import { nameOf, nsOf, refOf } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { list, NONE } from './helpers.js';
import type { PermissionSpec } from './memo.js';
import { tokenMounted } from './service-accounts.js';
import type { Check } from './types.js';

export type { PermissionSpec } from './memo.js';

function covers(have: string[], want: string[]): number {
  for (let i = 0; i < have.length; i++) if (have[i] === '*' || want.includes(have[i])) return i;
  return -1;
}

function resourceCovers(have: string[], want: string[]): number {
  for (let i = 0; i < have.length; i++) {
    const h = have[i];
    if (h === '*' || want.includes(h)) return i;
    // "pods/*" covers "pods/exec"
    if (h.endsWith('/*') && want.some((w) => w.startsWith(h.slice(0, -1)))) return i;
  }
  return -1;
}

/** The first rule (and indices) granting one of the wanted verbs on one of the wanted resources. */
export function grants(
  rules: PolicyRule[],
  spec: PermissionSpec,
): { rule: number; verb: number; resource: number } | undefined {
  const groups = spec.apiGroups ?? ['', '*'];
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    if (rule.resources.length === 0) continue;
    if (covers(rule.apiGroups, groups) < 0 && !(rule.apiGroups.length === 0 && groups.includes(''))) continue;
    const v = covers(rule.verbs, spec.verbs);
    if (v < 0) continue;
    const res = resourceCovers(rule.resources, spec.resources);
    if (res < 0) continue;
    return { rule: r, verb: v, resource: res };
  }
  return undefined;
}

function anyGrant(
  rules: PolicyRule[],
  specs: PermissionSpec[],
): { spec: PermissionSpec; at: { rule: number; verb: number; resource: number } } | undefined {
  for (const spec of specs) {
    const at = grants(rules, spec);
    if (at) return { spec, at };
  }
  return undefined;
}

/** The control's wanted permissions: its `any` list, or its parameters as the one permission. */
function specsOf(ctx: ScanContext, params: Record<string, any>): PermissionSpec[] {
  if (params.any) return params.any as PermissionSpec[];
  const m = ctx.answers.permissionSpecs;
  let s = m.get(params);
  if (!s) m.set(params, (s = [params as PermissionSpec]));
  return s;
}

function subjectHits(v: RoleBindingView, what: string): Hit[] {
  const out: Hit[] = [];
  list(v.binding.subjects).forEach((s, i) => {
    if (!s || typeof s.name !== 'string') return;
    out.push({
      path: `subjects[${i}]`,
      message: `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name} ${what} (through ${v.role?.kind ?? v.binding.roleRef?.kind ?? 'role'} ${v.roleRefName})`,
      subject: { kind: String(s.kind), name: s.name, namespace: s.namespace },
      related: v.role ? [refOf(v.role)] : undefined,
    });
  });
  return out;
}

function viewFor(o: K8sObject, ctx: ScanContext): RoleBindingView | undefined {
  return ctx.bindingView(o);
}

/** A binding whose role grants the permission: one hit per subject. */
const rbacPermission: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o, ctx, params) => {
    const v = viewFor(o, ctx);
    if (!v) return [];
    const g = anyGrant(v.rules, specsOf(ctx, params));
    if (!g) return [];
    const r = v.rules[g.at.rule];
    return subjectHits(v, `can ${r.verbs[g.at.verb]} ${r.resources[g.at.resource]}`);
  },
};

const clusterAdminBinding: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o) =>
    o.roleRef?.kind === 'ClusterRole' && o.roleRef?.name === 'cluster-admin'
      ? subjectHits(
          { binding: o, role: undefined, roleRefName: 'cluster-admin', rules: [] },
          'is bound to cluster-admin',
        )
      : [],
};

/** Roles themselves: wildcards in verbs, resources or apiGroups. */
const roleWildcard: Check = {
  appliesTo: ['Role', 'ClusterRole'],
  fn: (o) => {
    const out: Hit[] = [];
    list(o.rules).forEach((r, i) => {
      for (const f of ['verbs', 'resources', 'apiGroups'] as const) {
        const j = list(r?.[f]).indexOf('*');
        if (j >= 0) out.push({ path: `rules[${i}].${f}[${j}]`, message: `rule ${i} grants "*" ${f}` });
      }
    });
    return out;
  },
};

/** A workload whose mounted service-account token carries the permission. */
const workloadPermission: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    let out: Hit[] | undefined;
    const ns = nsOf(o) ?? 'default';
    for (const p of ctx.memo.podSpecsOf(o)) {
      const sa = String(p.spec.serviceAccountName ?? p.spec.serviceAccount ?? 'default');
      const views = ctx.bindingsOfServiceAccount(ns, sa);
      // No binding grants this account anything: nothing to find, whatever the token does.
      if (views.length === 0 || !tokenMounted(p, o, ctx)) continue;
      for (const v of views) {
        if (v.binding.kind === 'RoleBinding' && params.clusterWideOnly) continue;
        const g = anyGrant(v.rules, specsOf(ctx, params));
        if (!g) continue;
        const r = v.rules[g.at.rule];
        (out ??= []).push({
          path: `${p.prefix}serviceAccountName`,
          message: `service account ${ns}/${sa} can ${r.verbs[g.at.verb]} ${r.resources[g.at.resource]} through ${v.binding.kind} ${nameOf(v.binding)} → ${v.binding.roleRef?.kind} ${v.roleRefName}`,
          related: [refOf(v.binding), ...(v.role ? [refOf(v.role)] : [])],
        });
        break;
      }
    }
    return out ?? NONE;
  },
};

export const rbacChecks: Readonly<Record<string, Check>> = {
  rbacPermission,
  clusterAdminBinding,
  roleWildcard,
  workloadPermission,
};
