import type Docker from 'dockerode';
import type { Alert } from '../model/alert.js';
import type { ContainerRef, K8sRef, VigieEvent } from '../model/event.js';
import type { FilePositions } from './file-positions.js';

/** Where a source delivers events. Returns false when the event was dropped (bounded queue full). */
export type EventSink = (ev: VigieEvent) => boolean;

/**
 * Where a source delivers alerts that another tool already made (Falco's): they take the alert path
 * directly (exceptions, correlation, store, response), with their container's workload identity.
 * Returns false when the alert was not taken; true when it was stored, or a promise of that when its
 * container had to be looked up first (a source that acknowledges what it read waits for it).
 */
export type AlertSink = (a: Alert) => boolean | Promise<boolean>;

export interface SourceStats {
  /** Events emitted. */
  events: number;
  /** Malformed inputs counted and skipped. */
  malformed: number;
  /** Events lost before reaching Vigie (kernel buffer, sensor), when known. */
  lost: number;
  [k: string]: number | string | boolean;
}

/** A live source of events. One file per source, registered in sources/registry.ts. */
export interface Source {
  readonly name: string;
  /**
   * `alerts` is given by the engine; only sources of finished alerts (Falco) use it. `now` handles an
   * event at once (detectors run, any alert is stored) before it returns: a source that acknowledges
   * what it receives (a webhook's 200) uses it, so that an acknowledged event is never lost.
   */
  start(sink: EventSink, alerts?: AlertSink, now?: EventSink): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats;
}

/** A container as the sources know it: its reference plus what inspecting it tells. */
export interface ContainerEntry extends ContainerRef {
  pid?: number;
  /** CPU limit in cores (NanoCpus, quota/period, or the cpuset size), when the container has one. */
  cpuLimit?: number;
  running: boolean;
  /** ms since epoch of the last state change, to age out dead entries. */
  changedAt: number;
}

export type ContainerChangeListener = (e: ContainerEntry, action: 'start' | 'stop') => void;

/**
 * Container attribution: the container an event came from, by container id. A source that sees
 * tasks (the eBPF sensor) maps a task's cgroup id or pid to that id itself, then names the
 * container through this.
 */
export interface ContainerAttribution {
  /**
   * The container's reference when it is already known, without I/O (the hot path). The same
   * object is returned until the container's metadata changes, and callers never mutate it.
   */
  known(id: string): ContainerRef | undefined;
  /** The container's reference, looked up when unknown; undefined when there is no such container. */
  lookup(id: string): Promise<ContainerRef | undefined>;
  /** Calls `fn` whenever a container starts or stops. */
  onChange(fn: ContainerChangeListener): void;
}

/**
 * The containers of the local Docker Engine, shared by the sources that watch it: the Docker source
 * fills it from listings, inspections and events; the eBPF sensor names containers with it.
 */
export interface ContainerCatalogue extends ContainerAttribution {
  /** The Docker Engine client the catalogue inspects with (the Docker source uses the same one). */
  readonly docker: Docker;
  get(id: string): ContainerEntry | undefined;
  running(): ContainerEntry[];
  put(e: ContainerEntry): void;
  markStopped(id: string): void;
  /** Metadata for `id`, inspecting the container when unknown (concurrent calls share one inspect). */
  resolve(id: string): Promise<ContainerEntry | undefined>;
  /** Inspects the container now and records it; undefined when it does not exist. */
  inspect(id: string): Promise<ContainerEntry | undefined>;
}

/** What an event of a pod's container carries: the container and its pod. */
export interface PodContainer {
  container: ContainerRef;
  k8s: K8sRef;
}

/**
 * Pod attribution on a Kubernetes node: the pod of a container whose cgroup path names the pod's uid
 * (sources/pods.ts fills it from the Kubernetes watch and the runtime's CRI API).
 */
export interface PodAttribution {
  /** Without I/O (the hot path); the same object until the pod changes, never mutated by callers. */
  known(containerId: string, podUid: string): PodContainer | undefined;
  /** Asks the runtime or waits for the watch; undefined when nothing names the pod. */
  lookup(containerId: string, podUid: string): Promise<PodContainer | undefined>;
}

/** The pods a node's sources share: the Kubernetes watch fills it, the eBPF sensor reads it. */
export interface PodIndex extends PodAttribution {
  /** A pod as the watch sees it (wire form); false when it is not a pod with a uid. */
  put(pod: unknown): boolean;
  delete(pod: unknown): void;
}

/** What a source factory is given. */
export interface SourceContext {
  hostname: string;
  config: Record<string, Record<string, unknown> | undefined>;
  /**
   * The container catalogue the Docker source and the eBPF sensor share, owned by whoever composes
   * the sources; when absent, `createSources` creates one for the sources it creates.
   */
  containers?: ContainerCatalogue;
  /**
   * The node's pods, shared by the Kubernetes watch (fills it) and the eBPF sensor (names the pod of
   * a container from its cgroup path through it); when absent, `createSources` creates one.
   */
  pods?: PodIndex;
  /**
   * Where the followed files (Falco, Tetragon, audit log) were read up to, so that a restart resumes
   * after the last line handed on; without it a followed file is read from its start.
   */
  positions?: FilePositions;
}

export type SourceFactory = (ctx: SourceContext) => Source | undefined | Promise<Source | undefined>;
