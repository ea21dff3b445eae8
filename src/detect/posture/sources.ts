/**
 * Where objects come from: files, folders and stdin (manifests, rendered Helm/Kustomize output,
 * `kubectl get -o yaml` dumps), or a live cluster through the sources stage's Kubernetes lister.
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import {
  KubernetesLister,
  makeKubeConfig,
  type ClusterObjectLister,
  type KindRef,
} from '../../sources/kubernetes.js';
import { DEFAULT_LOAD_LIMITS, loadText, notText, type LoadLimits } from './load.js';
import type { K8sObject, LoadedObject, ScanError } from './types.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Bytes read over a whole run before further inputs are refused. */
export const MAX_RUN_BYTES = 128 * 1024 * 1024;

export interface ReadOptions extends Partial<LoadLimits> {
  /** Bytes of all inputs of the run together. */
  maxRunBytes?: number;
  /** Follow symbolic links that lead out of the given paths (each real path is still read once). */
  followLinks?: boolean;
}

export interface ReadResult {
  objects: LoadedObject[];
  errors: ScanError[];
  /** Inputs that were not read at all (missing, binary, over a size limit): the scan is partial. */
  unreadable: string[];
}

/** Reads at most `limit + 1` bytes: enough to tell that the input is over the limit. */
async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    if (size > limit) continue; // drained, not kept, so that the writer is not blocked
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    chunks.push(b);
    size += b.length;
  }
  return Buffer.concat(chunks);
}

function within(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false; // gone since the readdir: reported as unreadable by the caller
  }
}

/** One walk over the given paths: each real path once, links out of the roots only when asked. */
class ManifestWalk {
  readonly files: string[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly roots: readonly string[],
    private readonly followLinks: boolean,
    private readonly errors: ScanError[],
    private readonly unreadable: string[],
  ) {}

  visit(path: string, depth: number, explicit: boolean): void {
    let real: string;
    let st;
    try {
      real = realpathSync(path);
      st = statSync(real);
    } catch (e) {
      // A dangling link found in a folder is not an input anyone asked for.
      if (!explicit && isLink(path)) return;
      this.errors.push({
        file: path,
        message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      });
      this.unreadable.push(path);
      return;
    }
    if (this.seen.has(real)) return;
    if (!explicit && !this.followLinks && !within(real, this.roots)) {
      this.errors.push({
        file: path,
        message: `symbolic link to ${real}, outside the scanned paths: not followed (--follow-links to follow it)`,
      });
      return;
    }
    this.seen.add(real);
    if (!st.isDirectory()) {
      this.files.push(path);
      return;
    }
    if (depth > 20) return;
    for (const name of readdirSync(real).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(path, name);
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        // A dangling or looping link, or an unreadable entry: not a folder to enter; visit()
        // reports it when its name is a manifest's.
      }
      if (isDir || MANIFEST_EXT.test(name)) this.visit(p, depth + 1, false);
    }
  }
}

/** The bytes of a file, or why it was not read; a file over `limit` is refused before reading. */
function readBounded(file: string, limit: number): Buffer | string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    if (size > limit)
      return `input of ${size} bytes is over the ${limit}-byte limit, refused (--max-file-size)`;
    const buf = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const r = readSync(fd, buf, n, size - n, n);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } catch (e) {
    return `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Reads every manifest under the given paths ('-' = stdin). Never throws on bad input: an input
 * that cannot be read is named in `errors` and `unreadable`, and the others are still read.
 */
export async function readPaths(paths: string[], opts: ReadOptions = {}): Promise<ReadResult> {
  const limits: LoadLimits = {
    maxInputBytes: opts.maxInputBytes ?? DEFAULT_LOAD_LIMITS.maxInputBytes,
    maxDocumentBytes: opts.maxDocumentBytes ?? DEFAULT_LOAD_LIMITS.maxDocumentBytes,
  };
  const maxRunBytes = opts.maxRunBytes ?? MAX_RUN_BYTES;
  const objects: LoadedObject[] = [];
  const errors: ScanError[] = [];
  const unreadable: string[] = [];
  let runBytes = 0;
  const load = (bytes: Buffer | string, file: string): void => {
    const refuse = (message: string): void => {
      errors.push({ file, message });
      unreadable.push(file);
    };
    if (typeof bytes === 'string') return refuse(bytes);
    if (bytes.length > limits.maxInputBytes)
      return refuse(`input larger than ${limits.maxInputBytes} bytes, refused (--max-file-size)`);
    if (runBytes + bytes.length > maxRunBytes)
      return refuse(
        `refused: the run's inputs would exceed ${maxRunBytes} bytes together (--max-total-size)`,
      );
    runBytes += bytes.length;
    const why = notText(bytes);
    if (why) return refuse(why);
    const r = loadText(bytes.toString('utf8'), file, limits);
    for (const o of r.objects) objects.push(o);
    for (const e of r.errors) errors.push(e);
  };
  const roots: string[] = [];
  for (const p of paths) {
    if (p === '-') continue;
    try {
      roots.push(realpathSync(p));
    } catch {
      /* reported by the walk below */
    }
  }
  const walk = new ManifestWalk(roots, opts.followLinks ?? false, errors, unreadable);
  for (const p of paths) {
    if (p === '-') {
      load(await readStdin(limits.maxInputBytes), '-');
      continue;
    }
    const from = walk.files.length;
    walk.visit(p, 0, true);
    for (const f of walk.files.slice(from)) load(readBounded(f, limits.maxInputBytes), f);
  }
  return { objects, errors, unreadable };
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
  ['v1', 'PodTemplate'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['apps/v1', 'ReplicaSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
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
