/** RBAC: what roles grant, to which subjects, and which workloads carry those permissions in their token. */
import type { PolicyRule, RoleBindingView, ScanContext } from '../context.js';
import { nameOf, nsOf, refOf } from '../k8s.js';
import { isClusterScopedResource } from '../rbac-model.js';
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

/**
 * The part of a wanted permission a RoleBinding can grant: its cluster-scoped resources dropped
 * (null when none is left). A RoleBinding grants nothing cluster-scoped (nodes, namespaces,
 * PersistentVolumes, ClusterRoles, webhook configurations, CSRs, ...), even when the role it
 * references is a ClusterRole that lists them. Once per spec and context.
 */
function inNamespace(ctx: ScanContext, spec: PermissionSpec): PermissionSpec | null {
  const m = ctx.answers.namespacedSpecs;
  let s = m.get(spec);
  if (s === undefined) {
    const resources = spec.resources.filter((r) => !isClusterScopedResource(r));
    s =
      resources.length === 0
        ? null
        : resources.length === spec.resources.length
          ? spec
          : { ...spec, resources };
    m.set(spec, s);
  }
  return s;
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

interface Grant {
  /** The wanted permission the rule grants, in words: "get secrets", "do anything to any resource". */
  what: string;
  rule: number;
}

/** What the rules grant of the wanted permissions; `namespaced`: they come through a RoleBinding. */
function anyGrant(
  ctx: ScanContext,
  rules: PolicyRule[],
  specs: PermissionSpec[],
  namespaced: boolean,
): Grant | undefined {
  for (const wanted of specs) {
    const want = namespaced ? inNamespace(ctx, wanted) : wanted;
    if (!want) continue;
    const at = grants(rules, want);
    if (!at) continue;
    const r = rules[at.rule];
    // A wildcard in the rule grants what the control asks about: say that, not "* *".
    const rv = r.verbs[at.verb];
    const rr = r.resources[at.resource];
    const verb = rv === '*' ? want.verbs[0] : rv;
    const resource =
      rr === '*'
        ? (want.resources.find((w) => w !== '*') ?? rr)
        : rr.endsWith('/*')
          ? (want.resources.find((w) => w.startsWith(rr.slice(0, -1))) ?? rr)
          : rr;
    return { what: permissionText(verb, resource), rule: at.rule };
  }
  return undefined;
}

function permissionText(verb: string, resource: string): string {
  if (verb === '*') return resource === '*' ? 'do anything to any resource' : `do anything to ${resource}`;
  return resource === '*' ? `${verb} any resource` : `${verb} ${resource}`;
}

/** The control's wanted permissions: its `any` list, or its parameters as the one permission. */
function specsOf(ctx: ScanContext, params: Record<string, any>): PermissionSpec[] {
  if (params.any) return params.any as PermissionSpec[];
  const m = ctx.answers.permissionSpecs;
  let s = m.get(params);
  if (!s) m.set(params, (s = [params as PermissionSpec]));
  return s;
}

/** Where a binding's grant applies: its namespace, or everywhere. */
function scopeOf(binding: K8sObject): string {
  return binding.kind === 'RoleBinding' ? `in namespace ${nsOf(binding) ?? 'default'}` : 'cluster-wide';
}

function roleText(v: RoleBindingView): string {
  const kind = v.role?.kind ?? v.binding.roleRef?.kind ?? 'role';
  return `${kind} ${v.roleRefName}`;
}

/** One hit per named subject: "<subject> <what>" then the end of the sentence. */
function subjectHits(v: RoleBindingView, what: (subject: string) => string): Hit[] {
  const out: Hit[] = [];
  list(v.binding.subjects).forEach((s, i) => {
    if (!s || typeof s.name !== 'string') return;
    out.push({
      path: `subjects[${i}]`,
      message: what(`${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`),
      subject: { kind: String(s.kind), name: s.name, namespace: s.namespace },
      related: v.role ? [refOf(v.role)] : undefined,
    });
  });
  return out;
}

/** A binding whose role grants the permission: one hit per subject. */
const rbacPermission: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o, ctx, params) => {
    const v = ctx.bindingView(o);
    if (!v) return [];
    const g = anyGrant(ctx, v.rules, specsOf(ctx, params), o.kind === 'RoleBinding');
    if (!g) return [];
    return subjectHits(
      v,
      (who) =>
        `${who} can ${g.what} ${scopeOf(o)} through ${roleText(v)}; bind a role without this permission instead`,
    );
  },
};

const clusterAdminBinding: Check = {
  appliesTo: ['RoleBinding', 'ClusterRoleBinding'],
  fn: (o) =>
    o.roleRef?.kind === 'ClusterRole' && o.roleRef?.name === 'cluster-admin'
      ? subjectHits(
          { binding: o, role: undefined, roleRefName: 'cluster-admin', rules: [] },
          (who) =>
            `${who} is bound to cluster-admin ${scopeOf(o)}, so it can do anything ${o.kind === 'RoleBinding' ? 'there' : 'anywhere'}; bind a narrower role instead`,
        )
      : [],
};

const WILDCARD_FIELDS = [
  ['verbs', 'verb'],
  ['resources', 'resource'],
  ['apiGroups', 'API group'],
] as const;

/** Roles themselves: wildcards in verbs, resources or apiGroups, one finding per rule. */
const roleWildcard: Check = {
  appliesTo: ['Role', 'ClusterRole'],
  fn: (o) => {
    const out: Hit[] = [];
    list(o.rules).forEach((r, i) => {
      const nouns: string[] = [];
      let path: string | undefined;
      for (const [f, noun] of WILDCARD_FIELDS) {
        const j = list(r?.[f]).indexOf('*');
        if (j < 0) continue;
        nouns.push(noun);
        path ??= `rules[${i}].${f}[${j}]`;
      }
      if (!path) return;
      const and = (l: string[]): string =>
        l.length === 1 ? l[0] : `${l.slice(0, -1).join(', ')} and ${l[l.length - 1]}`;
      out.push({
        path,
        message: `rule ${i} grants "*" for every ${and(nouns)}, those added to the API later included; list the ${and(nouns.map((n) => `${n}s`))} it needs instead`,
      });
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
        const namespaced = v.binding.kind === 'RoleBinding';
        if (namespaced && params.clusterWideOnly) continue;
        const g = anyGrant(ctx, v.rules, specsOf(ctx, params), namespaced);
        if (!g) continue;
        (out ??= []).push({
          path: `${p.prefix}serviceAccountName`,
          message: `the pods mount the token of service account ${ns}/${sa}, which can ${g.what} ${scopeOf(v.binding)} through ${v.binding.kind} ${nameOf(v.binding)} → ${roleText(v)}; give the workload its own service account without this permission, or do not mount the token`,
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
