/**
 * The API server's authentication and RBAC authorization, as the API double applies them: who a
 * bearer token is, and whether the Roles, ClusterRoles and bindings stored in the double allow a
 * request. Follows the API server's RBAC authorizer (plugin/pkg/auth/authorizer/rbac and
 * pkg/registry/rbac/validation): rules matched by verb, API group, resource (with the `*`
 * wildcard, a star-slash-subresource form and `res/*`), resourceName; RoleBindings grant in their namespace only; ServiceAccount subjects
 * default to the binding's namespace; aggregated ClusterRoles take the rules of the ClusterRoles
 * their selectors match; and the escalation checks on RoleBindings and Roles (`bind`, `escalate`, or
 * holding every permission granted).
 */

export interface Identity {
  user: string;
  groups: readonly string[];
}

export const ADMIN: Identity = { user: 'system:admin', groups: ['system:masters', 'system:authenticated'] };

/** A service account's identity, as the API server authenticates its token. */
export function serviceAccountIdentity(namespace: string, name: string): Identity {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

/** The request attributes the authorizer decides on. */
export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  /** Empty for list, watch (without a metadata.name field selector), create and deletecollection. */
  name?: string;
}

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

type Obj = Record<string, any>;

/** Where the authorizer reads RBAC objects from (the double's store). */
export interface RbacObjects {
  list(plural: 'roles' | 'clusterroles' | 'rolebindings' | 'clusterrolebindings'): Obj[];
}

const has = (list: readonly string[] | undefined, v: string): boolean => !!list?.includes(v);

function verbMatches(r: PolicyRule, verb: string): boolean {
  return has(r.verbs, '*') || has(r.verbs, verb);
}
function groupMatches(r: PolicyRule, group: string): boolean {
  return has(r.apiGroups, '*') || has(r.apiGroups, group);
}
function resourceMatches(r: PolicyRule, combined: string, subresource: string | undefined): boolean {
  for (const res of r.resources ?? []) {
    if (res === '*') return true;
    if (res === combined) return true;
    // "*/scale" grants the scale subresource of every resource.
    if (subresource && res === `*/${subresource}`) return true;
  }
  return false;
}
function nameMatches(r: PolicyRule, name: string | undefined): boolean {
  if (!r.resourceNames?.length) return true;
  return !!name && r.resourceNames.includes(name);
}

/** Whether one rule allows the request (RuleAllows in the API server). */
export function ruleAllows(a: RequestAttributes, r: PolicyRule): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return (
    verbMatches(r, a.verb) &&
    groupMatches(r, a.apiGroup) &&
    resourceMatches(r, combined, a.subresource) &&
    nameMatches(r, a.name)
  );
}

function appliesTo(id: Identity, subject: Obj, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === id.user;
    case 'Group':
      return id.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || bindingNamespace;
      return !!ns && id.user === `system:serviceaccount:${ns}:${subject.name}`;
    }
    default:
      return false;
  }
}

function matchesLabelSelector(labels: Record<string, string> | undefined, sel: Obj | undefined): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries((sel.matchLabels ?? {}) as Record<string, string>))
    if (l[k] !== v) return false;
  for (const e of (sel.matchExpressions ?? []) as Obj[]) {
    const present = e.key in l;
    if (e.operator === 'In' && !(present && has(e.values, l[e.key]))) return false;
    if (e.operator === 'NotIn' && present && has(e.values, l[e.key])) return false;
    if (e.operator === 'Exists' && !present) return false;
    if (e.operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

export class RbacAuthorizer {
  constructor(private readonly objects: RbacObjects) {}

  /** A ClusterRole's rules; an aggregated one has the rules of every ClusterRole its selectors match. */
  private clusterRoleRules(name: string): PolicyRule[] {
    const all = this.objects.list('clusterroles');
    const role = all.find((r) => r.metadata?.name === name);
    if (!role) return [];
    const selectors = (role.aggregationRule?.clusterRoleSelectors ?? []) as Obj[];
    if (!selectors.length) return (role.rules ?? []) as PolicyRule[];
    const rules: PolicyRule[] = [...((role.rules ?? []) as PolicyRule[])];
    for (const other of all) {
      if (other.metadata?.name === name) continue;
      if (selectors.some((s) => matchesLabelSelector(other.metadata?.labels, s)))
        rules.push(...((other.rules ?? []) as PolicyRule[]));
    }
    return rules;
  }

  /** The rules a role reference resolves to (a missing role grants nothing). */
  roleRefRules(roleRef: Obj, bindingNamespace: string | undefined): PolicyRule[] {
    if (roleRef?.kind === 'ClusterRole') return this.clusterRoleRules(String(roleRef.name));
    if (roleRef?.kind === 'Role' && bindingNamespace) {
      const role = this.objects
        .list('roles')
        .find((r) => r.metadata?.name === roleRef.name && r.metadata?.namespace === bindingNamespace);
      return (role?.rules ?? []) as PolicyRule[];
    }
    return [];
  }

  /** Every rule that applies to `id` in `namespace` (cluster-wide ones always; RoleBindings of that namespace). */
  rulesFor(id: Identity, namespace: string | undefined): PolicyRule[] {
    const out: PolicyRule[] = [];
    for (const b of this.objects.list('clusterrolebindings'))
      if (((b.subjects ?? []) as Obj[]).some((s) => appliesTo(id, s, undefined)))
        out.push(...this.roleRefRules(b.roleRef, undefined));
    if (namespace)
      for (const b of this.objects.list('rolebindings')) {
        if (b.metadata?.namespace !== namespace) continue;
        if (((b.subjects ?? []) as Obj[]).some((s) => appliesTo(id, s, namespace)))
          out.push(...this.roleRefRules(b.roleRef, namespace));
      }
    return out;
  }

  /** The API server's decision: system:masters is allowed everything; otherwise some rule must allow it. */
  allows(id: Identity, a: RequestAttributes): boolean {
    if (id.groups.includes('system:masters')) return true;
    return this.rulesFor(id, a.namespace).some((r) => ruleAllows(a, r));
  }

  /**
   * Rules in `requested` that `owner` does not cover (Covers in the API server): each requested rule
   * is broken into single (group, resource, verb, name) permissions, each of which some owner rule
   * must hold.
   */
  static missing(owner: readonly PolicyRule[], requested: readonly PolicyRule[]): PolicyRule[] {
    const out: PolicyRule[] = [];
    for (const r of requested) {
      if (r.nonResourceURLs?.length) {
        for (const url of r.nonResourceURLs)
          for (const verb of r.verbs ?? [])
            if (
              !owner.some(
                (o) =>
                  (has(o.verbs, '*') || has(o.verbs, verb)) &&
                  (has(o.nonResourceURLs, '*') ||
                    has(o.nonResourceURLs, url) ||
                    (o.nonResourceURLs ?? []).some((p) => p.endsWith('*') && url.startsWith(p.slice(0, -1)))),
              )
            )
              out.push({ verbs: [verb], nonResourceURLs: [url] });
        continue;
      }
      const names = r.resourceNames?.length ? r.resourceNames : [undefined];
      for (const group of r.apiGroups ?? [])
        for (const res of r.resources ?? [])
          for (const verb of r.verbs ?? [])
            for (const name of names) {
              const held = owner.some(
                (o) =>
                  (has(o.verbs, '*') || has(o.verbs, verb)) &&
                  (has(o.apiGroups, '*') || has(o.apiGroups, group)) &&
                  (has(o.resources, '*') ||
                    has(o.resources, res) ||
                    (res.includes('/') && has(o.resources, `*/${res.split('/')[1]}`)) ||
                    (o.resources ?? []).some((p) => p.endsWith('/*') && res.startsWith(p.slice(0, -1)))) &&
                  (!o.resourceNames?.length || (name !== undefined && o.resourceNames.includes(name))),
              );
              if (!held)
                out.push({
                  apiGroups: [group],
                  resources: [res],
                  verbs: [verb],
                  ...(name !== undefined ? { resourceNames: [name] } : {}),
                });
            }
    }
    return out;
  }
}

/** The API server's text for a refused request (forbiddenMessage + NewForbidden). */
export function forbiddenMessage(id: Identity, a: RequestAttributes): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const why = `User "${id.user}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
  const gr = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  return a.name ? `${gr} "${a.name}" is forbidden: ${why}` : `${gr} is forbidden: ${why}`;
}

/** Text of one rule as the API server prints missing permissions. */
export function ruleText(r: PolicyRule): string {
  const q = (l: readonly string[]) => `[${l.map((s) => JSON.stringify(s)).join(' ')}]`;
  if (r.nonResourceURLs?.length)
    return `{NonResourceURLs:${q(r.nonResourceURLs)}, Verbs:${q(r.verbs ?? [])}}`;
  return `{APIGroups:${q(r.apiGroups ?? [])}, Resources:${q(r.resources ?? [])}${
    r.resourceNames?.length ? `, ResourceNames:${q(r.resourceNames)}` : ''
  }, Verbs:${q(r.verbs ?? [])}}`;
}
