/**
 * Where objects come from: files, folders and stdin (manifests, rendered Helm/Kustomize output,
 * `kubectl get -o yaml` dumps), or a live cluster through the sources stage's Kubernetes lister.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  KubernetesLister,
  makeKubeConfig,
  type ClusterObjectLister,
  type KindRef,
} from '../../sources/kubernetes.js';
import { loadText } from './load.js';
import type { K8sObject, LoadedObject, ScanError } from './types.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function walk(path: string, out: string[], errors: ScanError[], depth = 0): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    errors.push({
      file: path,
      message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    });
    return;
  }
  if (st.isDirectory()) {
    if (depth > 20) return;
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(path, name);
      try {
        if (statSync(p).isDirectory() || MANIFEST_EXT.test(name)) walk(p, out, errors, depth + 1);
      } catch {
        /* vanished or unreadable entry: skipped */
      }
    }
  } else out.push(path);
}

/** Reads every manifest under the given paths ('-' = stdin). Never throws on bad input. */
export async function readPaths(paths: string[]): Promise<{ objects: LoadedObject[]; errors: ScanError[] }> {
  const objects: LoadedObject[] = [];
  const errors: ScanError[] = [];
  for (const p of paths) {
    if (p === '-') {
      const r = loadText(await readStdin(), '-');
      objects.push(...r.objects);
      errors.push(...r.errors);
      continue;
    }
    const files: string[] = [];
    walk(p, files, errors);
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        errors.push({ file: f, message: `cannot read: ${(e as Error).message}` });
        continue;
      }
      const r = loadText(text, f);
      objects.push(...r.objects);
      errors.push(...r.errors);
    }
  }
  return { objects, errors };
}

/** Kinds a cluster scan lists (Secrets are left out on purpose: their values are never needed). */
export const CLUSTER_KINDS: readonly KindRef[] = [
  ['v1', 'Namespace'],
  ['v1', 'Node'],
  ['v1', 'Pod'],
  ['v1', 'Service'],
  ['v1', 'ServiceAccount'],
  ['v1', 'ConfigMap'],
  ['v1', 'ReplicationController'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['apps/v1', 'ReplicaSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
].map(([apiVersion, kind]) => ({ apiVersion, kind }));

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
  kinds?: readonly KindRef[];
  pageSize?: number;
  /** Lists through this instead of a client built from kubeconfig/context. */
  lister?: ClusterObjectLister;
}

/** Lists every relevant kind across all namespaces. A kind the server lacks is reported, not fatal. */
export async function readCluster(
  opts: ClusterOptions,
): Promise<{ objects: LoadedObject[]; errors: ScanError[] }> {
  const lister = opts.lister ?? new KubernetesLister(makeKubeConfig(opts), opts.pageSize);
  const listing = await lister.listAll(opts.kinds ?? CLUSTER_KINDS);
  const where = lister.where;
  return {
    objects: listing.objects.map((o) => ({ obj: o as K8sObject, source: { file: where } })),
    errors: listing.errors.map((e) => ({ file: where, message: e.message })),
  };
}
