/**
 * Where objects come from: files, folders and stdin (manifests, rendered Helm/Kustomize output,
 * `kubectl get -o yaml` dumps), or a live cluster through @kubernetes/client-node.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
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
export const CLUSTER_KINDS: [apiVersion: string, kind: string][] = [
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
];

/**
 * The typed client renames fields that clash with JavaScript words (`from` → `_from`) and turns
 * timestamps into Dates; bring objects back to their wire form so checks see what kubectl shows.
 */
export function toWire(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      out[k.startsWith('_') ? k.slice(1) : k] = toWire(x);
    }
    return out;
  }
  return v;
}

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
  kinds?: [string, string][];
  pageSize?: number;
}

export function makeKubeConfig(opts: { kubeconfig?: string; context?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return kc;
}

/** Lists every relevant kind across all namespaces, page by page. A kind the server lacks is reported, not fatal. */
export async function readCluster(
  opts: ClusterOptions,
): Promise<{ objects: LoadedObject[]; errors: ScanError[] }> {
  const kc = makeKubeConfig(opts);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const objects: LoadedObject[] = [];
  const errors: ScanError[] = [];
  const where = `cluster:${kc.getCurrentContext() || kc.getCurrentCluster()?.server || 'default'}`;
  for (const [apiVersion, kind] of opts.kinds ?? CLUSTER_KINDS) {
    let cont: string | undefined;
    try {
      do {
        const list = await api.list(
          apiVersion,
          kind,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          opts.pageSize ?? 500,
          cont,
        );
        for (const it of list.items ?? []) {
          const o = toWire(it) as K8sObject;
          o.apiVersion = apiVersion;
          o.kind = kind;
          objects.push({ obj: o, source: { file: where } });
        }
        cont =
          list.metadata?._continue ??
          (list.metadata as { continue?: string } | undefined)?.continue ??
          undefined;
      } while (cont);
    } catch (e) {
      const code = (e as { code?: number }).code;
      errors.push({
        file: where,
        message: `listing ${kind} (${apiVersion}) failed${code ? ` with HTTP ${code}` : ''}: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }
  return { objects, errors };
}
