/**
 * The pods of a node, for attributing a container to its pod without a Docker daemon
 * (docs/kubernetes.md, "Pod attribution on nodes"). The eBPF sensor reads the pod's uid and the
 * container's id from the container's cgroup path (bpftrace/cgroups.ts); this directory names them:
 *
 * 1. From the Kubernetes watch, which puts every pod it sees here: the pod's uid (and a static pod's
 *    `kubernetes.io/config.hash`, which is the uid in its cgroup path) gives namespace, name, owner,
 *    node and service account; `status.containerStatuses[].containerID` (`containerd://<id>`,
 *    `cri-o://<id>`, `docker://<id>`) gives the container's name and image.
 * 2. From the container runtime's CRI API (cri.ts), when a socket is configured and answers: the
 *    kubelet's labels on the container name its pod and itself.
 * 3. Else the lookup waits for the watch (a pod's status names a new container a moment after it
 *    starts) up to `waitMs`, then names what it knows: the pod without the container's name, or nothing.
 *
 * One shared reference per container (events never mutate it): the sensor's hot path allocates
 * nothing. A pod's update drops its containers' references, so the next event takes the new ones.
 */
import { containerWorkload, podOwner } from '../model/event.js';
import { logger } from '../util/log.js';
import {
  CRI_CONTAINER_NAME,
  CRI_POD_NAME,
  CRI_POD_NAMESPACE,
  CRI_POD_UID,
  CriClient,
  type CriContainer,
} from './cri.js';
import type { PodContainer, PodIndex } from './types.js';

const log = logger('pods');

/** The runtime's view of a container, for the CRI fallback (a CriClient, or a double in tests). */
export interface CriContainers {
  containerStatus(id: string): Promise<CriContainer | undefined>;
}

interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  owner: string;
  node?: string;
  serviceAccount: string;
  labels?: Record<string, string>;
  /** container id → its name and image, from the pod's status. */
  containers: Map<string, { name: string; image?: string }>;
  /** Container ids whose reference was handed out (dropped on the pod's next update). */
  handedOut: Set<string>;
}

export interface PodDirectoryOptions {
  /** The runtime's CRI API; without it, only the watch names pods. */
  cri?: CriContainers;
  /** How long a lookup waits for the watch to name the pod or the container, ms (default 2000). */
  waitMs?: number;
}

export interface PodDirectoryStats {
  pods: number;
  /** Containers named by the pod watch, by the runtime's CRI API. */
  fromWatch: number;
  fromCri: number;
  /** Lookups that ended with the pod but not the container's name, or with nothing. */
  podOnly: number;
  unknown: number;
  criErrors: number;
}

type Obj = Record<string, any>;

/** The container id in a pod status' `containerID` (`<runtime>://<id>`). */
export function containerIdOfStatus(containerID: unknown): string | undefined {
  if (typeof containerID !== 'string') return undefined;
  const i = containerID.indexOf('://');
  const id = i >= 0 ? containerID.slice(i + 3) : containerID;
  return id || undefined;
}

export class PodDirectory implements PodIndex {
  /** Pod uid (and static pods' config hash) → pod. */
  private readonly byUid = new Map<string, PodInfo>();
  /** `namespace/name` → pod (a relist reports a pod deleted meanwhile by its name alone). */
  private readonly byName = new Map<string, PodInfo>();
  private readonly refs = new Map<string, PodContainer>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly inflight = new Map<string, Promise<PodContainer | undefined>>();
  private readonly waitMs: number;
  /** Until when the CRI API is taken as down after a failure (ms since epoch). */
  private criDownUntil = 0;
  private criWarned = false;
  private readonly st = { fromWatch: 0, fromCri: 0, podOnly: 0, unknown: 0, criErrors: 0 };

  constructor(private readonly opts: PodDirectoryOptions = {}) {
    this.waitMs = opts.waitMs ?? 2000;
  }

  /** A pod as the watch sees it (wire form). Returns false when it is not a pod with a uid. */
  put(pod: unknown): boolean {
    const md = (pod as Obj | null)?.metadata as Obj | undefined;
    if (!md || typeof md.uid !== 'string' || typeof md.name !== 'string') return false;
    const spec = ((pod as Obj).spec ?? {}) as Obj;
    const status = ((pod as Obj).status ?? {}) as Obj;
    const ownerRefs = (md.ownerReferences ?? []) as Obj[];
    const owner = ownerRefs.find((o) => o.controller) ?? ownerRefs[0];
    const containers = new Map<string, { name: string; image?: string }>();
    for (const list of [
      status.initContainerStatuses,
      status.containerStatuses,
      status.ephemeralContainerStatuses,
    ])
      for (const cs of (Array.isArray(list) ? list : []) as Obj[]) {
        const id = containerIdOfStatus(cs?.containerID);
        if (id && typeof cs.name === 'string')
          containers.set(id, { name: cs.name, image: typeof cs.image === 'string' ? cs.image : undefined });
      }
    const keys = [md.uid as string];
    const hash = (md.annotations as Obj | undefined)?.['kubernetes.io/config.hash'];
    if (typeof hash === 'string' && hash !== md.uid) keys.push(hash);
    const prev = this.byUid.get(md.uid as string);
    const info: PodInfo = {
      uid: md.uid,
      namespace: typeof md.namespace === 'string' ? md.namespace : 'default',
      name: md.name,
      owner: typeof owner?.name === 'string' ? owner.name : podOwner(md.name),
      node: typeof spec.nodeName === 'string' ? spec.nodeName : undefined,
      serviceAccount: typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : 'default',
      labels: md.labels as Record<string, string> | undefined,
      containers,
      handedOut: new Set(),
    };
    if (prev) for (const id of prev.handedOut) this.refs.delete(id);
    const named = this.byName.get(`${info.namespace}/${info.name}`);
    // The same name with another uid: the pod was deleted and made again.
    if (named && named.uid !== info.uid) this.forget(named);
    this.byName.set(`${info.namespace}/${info.name}`, info);
    for (const k of keys) {
      this.byUid.set(k, info);
      this.wake(k);
    }
    return true;
  }

  /** A pod the watch saw deleted (by uid, or by namespace and name after a relist). */
  delete(pod: unknown): void {
    const md = (pod as Obj | null)?.metadata as Obj | undefined;
    const info =
      typeof md?.uid === 'string'
        ? this.byUid.get(md.uid)
        : this.byName.get(`${typeof md?.namespace === 'string' ? md.namespace : 'default'}/${md?.name}`);
    if (info) this.forget(info);
  }

  private forget(info: PodInfo): void {
    for (const id of info.handedOut) this.refs.delete(id);
    for (const [k, v] of this.byUid) if (v === info) this.byUid.delete(k);
    const key = `${info.namespace}/${info.name}`;
    if (this.byName.get(key) === info) this.byName.delete(key);
  }

  /** The container's reference when already known, without I/O (the hot path). */
  known(id: string, podUid: string): PodContainer | undefined {
    const ref = this.refs.get(id);
    if (ref !== undefined) return ref;
    const pod = this.byUid.get(podUid);
    const c = pod?.containers.get(id);
    if (pod === undefined || c === undefined) return undefined;
    this.st.fromWatch++;
    return this.remember(pod, id, c.name, c.image);
  }

  /**
   * The container's reference, asking the runtime's CRI API or waiting for the watch when it is not
   * known yet; the pod without the container's name when only the pod is known; undefined when
   * neither is. Concurrent lookups of one container share one.
   */
  lookup(id: string, podUid: string): Promise<PodContainer | undefined> {
    const hit = this.known(id, podUid);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(id);
    if (!p) {
      p = this.find(id, podUid).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  stats(): PodDirectoryStats {
    return { pods: new Set(this.byUid.values()).size, ...this.st };
  }

  private async find(id: string, podUid: string): Promise<PodContainer | undefined> {
    const fromCri = await this.askCri(id, podUid);
    if (fromCri) return fromCri;
    const end = Date.now() + this.waitMs;
    for (;;) {
      const hit = this.known(id, podUid);
      if (hit) return hit;
      const left = end - Date.now();
      if (left <= 0) break;
      await this.waitFor(podUid, left);
    }
    const pod = this.byUid.get(podUid);
    if (!pod) {
      this.st.unknown++;
      return undefined;
    }
    // The pod is known, its status does not name the container (yet): not remembered, so that the
    // pod's next update names it.
    this.st.podOnly++;
    return this.make(pod, id, undefined, undefined);
  }

  private async askCri(id: string, podUid: string): Promise<PodContainer | undefined> {
    const cri = this.opts.cri;
    if (!cri || Date.now() < this.criDownUntil) return undefined;
    let c: CriContainer | undefined;
    try {
      c = await cri.containerStatus(id);
    } catch (err) {
      this.st.criErrors++;
      // Not asked again for a minute (a socket without the CRI service, such as Docker's own
      // containerd, answers every call the same); said once.
      this.criDownUntil = Date.now() + 60_000;
      if (!this.criWarned)
        log.warn(
          `container runtime CRI API unavailable; pods are named by the Kubernetes watch alone: ${(err as Error).message}`,
        );
      this.criWarned = true;
      return undefined;
    }
    const ns = c?.labels[CRI_POD_NAMESPACE];
    const name = c?.labels[CRI_POD_NAME];
    if (!c || !ns || !name) return undefined;
    const uid = c.labels[CRI_POD_UID] ?? podUid;
    // The watch's pod, when it has it, knows more (owner, node, service account).
    const pod: PodInfo = this.byUid.get(uid) ?? {
      uid,
      namespace: ns,
      name,
      owner: podOwner(name),
      serviceAccount: 'default',
      containers: new Map(),
      handedOut: new Set(),
    };
    if (!this.byUid.has(uid)) this.byUid.set(uid, pod);
    this.st.fromCri++;
    return this.remember(pod, id, c.labels[CRI_CONTAINER_NAME] ?? c.name, c.image);
  }

  private remember(
    pod: PodInfo,
    id: string,
    name: string | undefined,
    image: string | undefined,
  ): PodContainer {
    const ref = this.make(pod, id, name, image);
    this.refs.set(id, ref);
    pod.handedOut.add(id);
    return ref;
  }

  private make(pod: PodInfo, id: string, name: string | undefined, image: string | undefined): PodContainer {
    // The kubelet's labels, as the runtime holds them: the workload key is the one the Docker
    // catalogue computes for a kubelet's container (model/event.ts#containerWorkload).
    const labels: Record<string, string> = {
      [CRI_POD_NAMESPACE]: pod.namespace,
      [CRI_POD_NAME]: pod.name,
      [CRI_POD_UID]: pod.uid,
    };
    if (name) labels[CRI_CONTAINER_NAME] = name;
    return {
      container: { id, name, image, labels, workload: containerWorkload({ image, labels }) },
      k8s: {
        namespace: pod.namespace,
        pod: pod.name,
        workload: pod.owner,
        node: pod.node,
        serviceAccount: pod.serviceAccount,
        labels: pod.labels,
      },
    };
  }

  private waitFor(podUid: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(podUid);
      if (!set) {
        set = new Set();
        this.waiters.set(podUid, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(podUid) === set) this.waiters.delete(podUid);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private wake(podUid: string): void {
    const set = this.waiters.get(podUid);
    if (set) for (const fn of [...set]) fn();
  }
}

/**
 * The node's pod directory from the configuration: `kubernetes.criSocket` names the runtime's CRI
 * socket (`false` for none); by default containerd's, where it exists, else CRI-O's.
 */
export function createPodDirectory(
  config: Record<string, Record<string, unknown> | undefined>,
  exists: (path: string) => boolean,
): PodDirectory {
  const cfg = config.kubernetes?.criSocket;
  const socket =
    cfg === false
      ? undefined
      : typeof cfg === 'string'
        ? cfg
        : ['/run/containerd/containerd.sock', '/run/crio/crio.sock'].find(exists);
  return new PodDirectory({ cri: socket ? new CriClient(socket) : undefined });
}
