/**
 * Vigie's RBAC as shipped: the ServiceAccounts, Roles, ClusterRoles and bindings of
 * deploy/kubernetes/vigie.yaml, read from the file itself (so a change to the manifest changes what
 * the tests allow), and edits of a copy of them for tests that take one permission away.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s-api-double.js';
import type { PolicyRule } from './k8s-rbac.js';

export const MANIFEST_PATH = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes', 'vigie.yaml');

/** The brain's service account, which every Kubernetes action runs as. */
export const VIGIE_SA = { namespace: 'vigie', name: 'vigie-brain' } as const;

const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

/** Every object of the manifest (parsed with the project's YAML library). */
export function manifestObjects(path = MANIFEST_PATH): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${path}: ${d.errors[0].message}`);
    const o = d.toJS() as K8sObject | null;
    if (o) out.push(o);
  }
  return out;
}

/** The manifest's RBAC objects (and the namespace they live in), to seed the API double with. */
export function vigieRbacObjects(path = MANIFEST_PATH): K8sObject[] {
  return manifestObjects(path).filter((o) => RBAC_KINDS.has(String(o.kind)));
}

/** The rules granted to Vigie's brain service account by the manifest's (Cluster)Roles through its bindings. */
export function grantedRules(objects: K8sObject[] = vigieRbacObjects()): PolicyRule[] {
  const user = `system:serviceaccount:${VIGIE_SA.namespace}:${VIGIE_SA.name}`;
  const rules: PolicyRule[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const ns = b.metadata?.namespace as string | undefined;
    const bound = ((b.subjects ?? []) as Record<string, string>[]).some(
      (s) => s.kind === 'ServiceAccount' && `system:serviceaccount:${s.namespace ?? ns}:${s.name}` === user,
    );
    if (!bound) continue;
    const role = objects.find(
      (o) =>
        o.kind === b.roleRef?.kind &&
        o.metadata?.name === b.roleRef?.name &&
        (o.kind === 'ClusterRole' || o.metadata?.namespace === ns),
    );
    rules.push(...((role?.rules ?? []) as PolicyRule[]));
  }
  return rules;
}

/** One permission: a verb on a resource (or subresource) of an API group, maybe for named objects only. */
export interface Grant {
  group: string;
  resource: string;
  verb: string;
  resourceNames?: string[];
}

export const grantText = (g: Grant): string =>
  `${g.verb} ${g.group ? `${g.group}/` : ''}${g.resource}${g.resourceNames ? ` [${g.resourceNames.join(',')}]` : ''}`;

/** Each (group, resource, verb) of the rules, one by one. */
export function grantsOf(rules: readonly PolicyRule[]): Grant[] {
  const out: Grant[] = [];
  for (const r of rules)
    for (const group of r.apiGroups ?? [])
      for (const resource of r.resources ?? [])
        for (const verb of r.verbs ?? [])
          out.push({
            group,
            resource,
            verb,
            ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}),
          });
  return out;
}

/** A copy of the RBAC objects in which Vigie's ClusterRoles no longer grant `g` (other grants untouched). */
export function withoutGrant(objects: K8sObject[], g: Grant): K8sObject[] {
  return objects.map((o) => {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') return o;
    const rules: PolicyRule[] = [];
    for (const r of (o.rules ?? []) as PolicyRule[]) {
      const hit =
        (r.apiGroups ?? []).includes(g.group) &&
        (r.resources ?? []).includes(g.resource) &&
        (r.verbs ?? []).includes(g.verb);
      if (!hit) {
        rules.push(r);
        continue;
      }
      const otherResources = (r.resources ?? []).filter((x) => x !== g.resource);
      const otherVerbs = (r.verbs ?? []).filter((v) => v !== g.verb);
      if (otherResources.length) rules.push({ ...r, resources: otherResources });
      if (otherVerbs.length) rules.push({ ...r, resources: [g.resource], verbs: otherVerbs });
    }
    return { ...o, rules };
  });
}
