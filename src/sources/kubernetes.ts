/**
 * Kubernetes objects, read two ways:
 * - `KubernetesLister`: every object of some kinds, page by page, in wire form (what kubectl shows).
 *   The one way Vigie lists a cluster: the watch source below, `vigie scan --cluster` and blast
 *   radius all go through it (the latter two through the small `ClusterObjectLister` interface).
 * - `KubernetesSource` (`vigie run --kubeconfig F`): lists, then watches, the kinds Vigie reasons
 * about and emits `k8s_object` events ({verb, object}). Initial list items come as SNAPSHOT. A dropped
 * watch reconnects from the last resourceVersion seen; a 410 Gone (history compacted) triggers a
 * relist, diffed against what was known so that changes missed meanwhile still come out as
 * ADDED/MODIFIED/DELETED. Secret values are never emitted (keys kept, values redacted).
 */
import { KubeConfig, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import { EventIds, nowNs, type VigieEvent } from '../model/event.js';
import { logger } from '../util/log.js';
import type { EventSink, PodIndex, Source, SourceStats } from './types.js';

const log = logger('k8s-source');

export interface KindRef {
  apiVersion: string;
  kind: string;
}

export interface WatchedKind extends KindRef {
  plural: string;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  ['v1', 'Pod', 'pods'],
  ['v1', 'Service', 'services'],
  ['v1', 'Namespace', 'namespaces'],
  ['v1', 'Node', 'nodes'],
  ['v1', 'ServiceAccount', 'serviceaccounts'],
  ['v1', 'ConfigMap', 'configmaps'],
  ['v1', 'Secret', 'secrets'],
  ['v1', 'ReplicationController', 'replicationcontrollers'],
  ['v1', 'PodTemplate', 'podtemplates'],
  ['apps/v1', 'Deployment', 'deployments'],
  ['apps/v1', 'ReplicaSet', 'replicasets'],
  ['apps/v1', 'StatefulSet', 'statefulsets'],
  ['apps/v1', 'DaemonSet', 'daemonsets'],
  ['batch/v1', 'Job', 'jobs'],
  ['batch/v1', 'CronJob', 'cronjobs'],
  ['networking.k8s.io/v1', 'Ingress', 'ingresses'],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings'],
].map(([apiVersion, kind, plural]) => ({ apiVersion, kind, plural }));

export interface KubernetesSourceOptions {
  kubeconfig?: string;
  kubeConfig?: KubeConfig;
  hostname: string;
  kinds?: string[];
  /** Delay before reconnecting a dropped watch (doubles up to 30 s on repeated failures). */
  reconnectMs?: number;
  /** Where the pods seen go, for naming the pod of a container on this node (the eBPF sensor's). */
  pods?: PodIndex;
}

type Obj = Record<string, any>;

export function makeKubeConfig(opts: { kubeconfig?: string; context?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return kc;
}

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

/** A kind that could not be listed (forbidden, unknown to the server, unreachable). */
export interface ListFailure extends KindRef {
  /** HTTP status, when the server answered. */
  code?: number;
  message: string;
}

export interface ClusterListing {
  /** Wire-form objects with apiVersion and kind set, in the order of the kinds asked for. */
  objects: Obj[];
  errors: ListFailure[];
}

/** What the cluster readers (posture scan, blast radius) need: the objects of some kinds. */
export interface ClusterObjectLister {
  /** Where the objects come from, for messages ("cluster:<context>"). */
  readonly where: string;
  /** Every object of the kinds; a kind that cannot be listed is reported, not fatal. */
  listAll(kinds: readonly KindRef[]): Promise<ClusterListing>;
}

export class KubernetesLister implements ClusterObjectLister {
  private readonly api: KubernetesObjectApi;
  readonly where: string;

  constructor(
    kc: KubeConfig,
    private readonly pageSize = 500,
  ) {
    this.api = KubernetesObjectApi.makeApiClient(kc);
    this.where = `cluster:${kc.getCurrentContext() || kc.getCurrentCluster()?.server || 'default'}`;
  }

  /** One kind across all namespaces, page by page; throws when the server refuses it. */
  async listKind(k: KindRef): Promise<{ items: Obj[]; resourceVersion?: string }> {
    const items: Obj[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const list = await this.api.list(
        k.apiVersion,
        k.kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        this.pageSize,
        cont,
      );
      for (const it of list.items ?? []) {
        const o = toWire(it) as Obj;
        o.apiVersion = k.apiVersion;
        o.kind = k.kind;
        items.push(o);
      }
      resourceVersion = list.metadata?.resourceVersion ?? resourceVersion;
      cont =
        list.metadata?._continue ??
        (list.metadata as { continue?: string } | undefined)?.continue ??
        undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  async listAll(kinds: readonly KindRef[]): Promise<ClusterListing> {
    const results = await Promise.all(
      kinds.map(async (k): Promise<Obj[] | ListFailure> => {
        try {
          return (await this.listKind(k)).items;
        } catch (e) {
          const code = (e as { code?: number }).code;
          return {
            apiVersion: k.apiVersion,
            kind: k.kind,
            code,
            message: `listing ${k.kind} (${k.apiVersion}) failed${code ? ` with HTTP ${code}` : ''}: ${(e as Error).message.split('\n')[0]}`,
          };
        }
      }),
    );
    const objects: Obj[] = [];
    const errors: ListFailure[] = [];
    for (const r of results) {
      if (Array.isArray(r)) for (const o of r) objects.push(o);
      else errors.push(r);
    }
    return { objects, errors };
  }
}

function redact(o: Obj): Obj {
  if (o.kind !== 'Secret') return o;
  const c: Obj = { ...o };
  for (const f of ['data', 'stringData']) {
    if (c[f] && typeof c[f] === 'object')
      c[f] = Object.fromEntries(Object.keys(c[f] as object).map((k) => [k, '<redacted>']));
  }
  if (c.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']) {
    c.metadata = {
      ...c.metadata,
      annotations: {
        ...c.metadata.annotations,
        'kubectl.kubernetes.io/last-applied-configuration': '<redacted>',
      },
    };
  }
  return c;
}

class KindWatcher {
  rv: string | undefined;
  known = new Map<string, string>();
  controller: AbortController | undefined;
  failures = 0;
  timer: NodeJS.Timeout | undefined;
  constructor(readonly k: WatchedKind) {}
  get path(): string {
    return this.k.apiVersion === 'v1'
      ? `/api/v1/${this.k.plural}`
      : `/apis/${this.k.apiVersion}/${this.k.plural}`;
  }
}

export class KubernetesSource implements Source {
  readonly name = 'kubernetes';
  /** Ids of the events it emits, unique across sources and processes. */
  private readonly ids = new EventIds();
  private readonly kc: KubeConfig;
  private readonly lister: KubernetesLister;
  private readonly watch: Watch;
  private readonly watchers: KindWatcher[];
  private sink: EventSink | undefined;
  private stopped = false;
  private readonly st = {
    events: 0,
    malformed: 0,
    lost: 0,
    dropped: 0,
    reconnects: 0,
    relists: 0,
    gone410: 0,
    errors: 0,
  };

  constructor(private readonly opts: KubernetesSourceOptions) {
    this.kc = opts.kubeConfig ?? new KubeConfig();
    if (!opts.kubeConfig) {
      if (opts.kubeconfig) this.kc.loadFromFile(opts.kubeconfig);
      else this.kc.loadFromDefault();
    }
    this.lister = new KubernetesLister(this.kc);
    this.watch = new Watch(this.kc);
    const kinds = opts.kinds
      ? WATCHED_KINDS.filter((k) => opts.kinds!.includes(k.kind) || opts.kinds!.includes(k.plural))
      : WATCHED_KINDS;
    this.watchers = kinds.map((k) => new KindWatcher(k));
  }

  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
    // Initial lists in parallel; a kind that cannot be listed (403) is logged and retried later.
    await Promise.all(this.watchers.map((w) => this.cycle(w)));
  }

  private emit(w: KindWatcher, verb: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SNAPSHOT', raw: unknown): void {
    if (!raw || typeof raw !== 'object' || !(raw as Obj).metadata?.name) {
      this.st.malformed++;
      return;
    }
    const obj = redact({ apiVersion: w.k.apiVersion, kind: w.k.kind, ...(raw as Obj) });
    const md = obj.metadata as Obj;
    const key = `${md.namespace ?? ''}/${md.name}`;
    if (verb === 'DELETED') w.known.delete(key);
    else w.known.set(key, String(md.resourceVersion ?? ''));
    if (w.k.kind === 'Pod' && this.opts.pods) {
      if (verb === 'DELETED') this.opts.pods.delete(obj);
      else this.opts.pods.put(obj);
    }
    const owner =
      (md.ownerReferences as Obj[] | undefined)?.find((o) => o.controller) ??
      (md.ownerReferences as Obj[] | undefined)?.[0];
    const ev: VigieEvent = {
      id: this.ids.next(),
      kind: 'k8s_object',
      ts: nowNs(),
      source: 'k8s',
      host: this.opts.hostname,
      k8s: {
        namespace: md.namespace,
        pod: w.k.kind === 'Pod' ? md.name : undefined,
        workload: w.k.kind === 'Pod' ? owner?.name : md.name,
        node: w.k.kind === 'Pod' ? obj.spec?.nodeName : w.k.kind === 'Node' ? md.name : undefined,
        serviceAccount: w.k.kind === 'Pod' ? (obj.spec?.serviceAccountName ?? 'default') : undefined,
        labels: md.labels,
      },
      object: { verb, object: obj },
    };
    this.st.events++;
    if (this.sink && !this.sink(ev)) this.st.dropped++;
  }

  /** List (when no resourceVersion is held), then watch from it. */
  private async cycle(w: KindWatcher): Promise<void> {
    if (this.stopped) return;
    try {
      if (!w.rv) {
        const first = w.known.size === 0 && this.st.relists === 0 && w.failures === 0;
        const list = await this.lister.listKind(w.k);
        const seen = new Set<string>();
        for (const it of list.items) {
          const md = (it.metadata ?? {}) as Obj;
          const key = `${md.namespace ?? ''}/${md.name}`;
          seen.add(key);
          const prev = w.known.get(key);
          if (first) this.emit(w, 'SNAPSHOT', it);
          else if (prev === undefined) this.emit(w, 'ADDED', it);
          else if (prev !== String(md.resourceVersion ?? '')) this.emit(w, 'MODIFIED', it);
        }
        for (const key of [...w.known.keys()]) {
          if (seen.has(key)) continue;
          const [namespace, name] = key.split('/');
          this.emit(w, 'DELETED', { metadata: { name, namespace: namespace || undefined } });
        }
        w.rv = list.resourceVersion;
      }
      w.controller = await this.watch.watch(
        w.path,
        { resourceVersion: w.rv, allowWatchBookmarks: true },
        (type: string, obj: Obj) => {
          if (type === 'ERROR') {
            if (obj?.code === 410) {
              this.st.gone410++;
              w.rv = undefined;
            } else this.st.errors++;
            return;
          }
          if (type === 'BOOKMARK') {
            w.rv = obj?.metadata?.resourceVersion ?? w.rv;
            return;
          }
          if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') {
            this.st.malformed++;
            return;
          }
          w.failures = 0;
          this.emit(w, type, obj);
          w.rv = obj?.metadata?.resourceVersion ?? w.rv;
        },
        (err: unknown) => this.onDone(w, err),
      );
    } catch (err) {
      this.onDone(w, err);
    }
  }

  private onDone(w: KindWatcher, err: unknown): void {
    if (this.stopped) return;
    const code =
      (err as { code?: number; statusCode?: number } | null)?.code ??
      (err as { statusCode?: number } | null)?.statusCode;
    if (code === 410) {
      this.st.gone410++;
      w.rv = undefined;
    }
    if (!w.rv) this.st.relists++;
    else this.st.reconnects++;
    if (err) {
      w.failures++;
      this.st.errors++;
      log.warn('kubernetes watch ended', {
        kind: w.k.kind,
        error: (err as Error)?.message ?? String(err),
        code,
      });
    }
    const base = this.opts.reconnectMs ?? 200;
    const delay = err ? Math.min(30_000, base * 2 ** Math.min(w.failures, 8)) : base;
    w.timer = setTimeout(() => void this.cycle(w), delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watchers) {
      if (w.timer) clearTimeout(w.timer);
      w.controller?.abort();
    }
  }

  stats(): SourceStats {
    return { ...this.st, kinds: this.watchers.length };
  }
}

export function createKubernetesSource(ctx: {
  hostname: string;
  config: Record<string, Record<string, unknown> | undefined>;
  pods?: PodIndex;
}): KubernetesSource | undefined {
  const cfg = ctx.config.kubernetes;
  const kubeconfig = typeof cfg?.kubeconfig === 'string' ? cfg.kubeconfig : undefined;
  const kubeConfig = cfg?.kubeConfig instanceof KubeConfig ? cfg.kubeConfig : undefined;
  if (!kubeconfig && !kubeConfig) return undefined;
  return new KubernetesSource({
    kubeconfig,
    kubeConfig,
    hostname: ctx.hostname,
    kinds: Array.isArray(cfg?.kinds) ? (cfg.kinds as string[]) : undefined,
    pods: ctx.pods,
  });
}
