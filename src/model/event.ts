/**
 * The one event envelope every source produces (docs/architecture.md, "Data flow").
 *
 * Time: `ts` is nanoseconds since the Unix epoch as a `bigint`. A double cannot hold
 * nanosecond timestamps exactly (2^53 ns is about 104 days), and ordering within one
 * syscall burst matters to sequence models. On the wire (JSON) it is a decimal string.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SpanBody } from './span.js';

export const EVENT_KINDS = [
  'syscall',
  'process',
  'network',
  'file',
  'k8s_audit',
  'k8s_object',
  'metric',
  'container',
  'internal',
  'span',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface ContainerRef {
  id: string;
  name?: string;
  image?: string;
  /** Image command, part of the workload key in Docker. */
  command?: string;
  labels?: Record<string, string>;
  /**
   * The container's workload key, resolved once from its metadata (`containerWorkload`) by whoever
   * knows the container (the container catalogue). When set, it is the workload key of every event
   * of the container, whatever else the event carries.
   */
  workload?: string;
}

export interface K8sRef {
  namespace?: string;
  pod?: string;
  workload?: string;
  node?: string;
  serviceAccount?: string;
  labels?: Record<string, string>;
}

export interface ProcInfo {
  pid?: number;
  tid?: number;
  ppid?: number;
  name?: string;
  exe?: string;
  cmdline?: string;
  uid?: number;
  /** Parent process name, when the source knows it. */
  pname?: string;
  /** Ancestor names, nearest first (parent, grandparent, ...). */
  anames?: string[];
  /** cwd, when known. */
  cwd?: string;
  tty?: number;
}

export interface SyscallBody {
  name: string;
  /** '>' enter, '<' exit (sysdig / LID-DS convention). */
  dir?: '>' | '<';
  args?: Record<string, string>;
  ret?: number;
  /** Syscall number, when the source gives one (ADFA-LD, raw tracepoints). */
  nr?: number;
}

export interface NetworkBody {
  op: 'connect' | 'accept' | 'listen' | 'send' | 'recv';
  proto?: 'tcp' | 'udp' | 'unix' | string;
  srcIp?: string;
  srcPort?: number;
  dstIp?: string;
  dstPort?: number;
  ret?: number;
}

export interface FileBody {
  op: 'open' | 'write' | 'unlink' | 'rename' | 'chmod' | 'mkdir' | string;
  path: string;
  flags?: number;
  /** true when opened for writing (O_WRONLY|O_RDWR|O_CREAT|O_TRUNC). */
  write?: boolean;
  ret?: number;
}

export interface MetricBody {
  /** CPU in cores (1.0 = one full core). */
  cpu?: number;
  /** CPU throttled time fraction or throttled periods delta, see source docs. */
  cpuThrottled?: number;
  /** Resident memory in bytes. */
  memory?: number;
  memoryLimit?: number;
  netRx?: number;
  netTx?: number;
  blkRead?: number;
  blkWrite?: number;
  pids?: number;
  /** Request latency in milliseconds, for services that report it. */
  latencyMs?: number;
  /** Success rate 0..1 */
  successRate?: number;
  [extra: string]: number | undefined;
}

export interface ContainerLifecycleBody {
  action: string;
  attributes?: Record<string, string>;
  exitCode?: number;
}

export interface InternalBody {
  type: string;
  message: string;
  counts?: Record<string, number>;
}

export interface K8sObjectBody {
  verb: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SNAPSHOT';
  object: Record<string, unknown>;
}

export interface VigieEvent {
  /**
   * Unique within a run. A live source names its events with its own `EventIds`; a source that reads
   * input with its own identity derives the id from it (an audit event's auditID, a followed file's
   * `<source>:<dev>:<ino>:<offset>`, a dataset's line number), so that input read twice is recognizable.
   */
  id: string;
  kind: EventKind;
  ts: bigint;
  /** Which source produced it: 'bpftrace', 'docker', 'k8s', 'falco', 'tetragon', 'lidds', ... */
  source: string;
  host?: string;
  container?: ContainerRef;
  k8s?: K8sRef;
  proc?: ProcInfo;
  syscall?: SyscallBody;
  network?: NetworkBody;
  file?: FileBody;
  audit?: Record<string, unknown>;
  object?: K8sObjectBody;
  metric?: MetricBody;
  lifecycle?: ContainerLifecycleBody;
  internal?: InternalBody;
  /** A trace span (OTLP receiver, Nezha traces); model/span.ts. */
  span?: SpanBody;
}

/** Something that hands out event ids: a source's own generator, or the position of an input line. */
export interface EventIdSource {
  next(): string;
}

/**
 * The event ids of one producer (a source instance, a reader): a short random prefix drawn once, so
 * that ids stay unique across sources and processes, and a counter. Each id costs a counter increment
 * and a string concatenation (no randomness per id).
 */
export class EventIds implements EventIdSource {
  readonly prefix: string;
  private seq = 0;

  constructor(prefix: string = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0')) {
    this.prefix = prefix;
  }

  next(): string {
    this.seq++;
    return `${this.prefix}-${this.seq.toString(36)}`;
  }
}

export function nowNs(): bigint {
  // Date.now() has ms resolution; hrtime gives sub-ms monotonic offset.
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/**
 * The event clock of a live engine: the latest event time seen, advanced by the monotonic time that
 * has passed since it was seen (never by the wall clock, which can differ from the sources' clocks or
 * jump). Before any event it is the wall clock. Periodic work (closing windows, expiring state)
 * measures on it, so it agrees with event times whether events are live or replayed.
 */
export class EventClock {
  private latest = -1n;
  private seenAt = 0n;

  constructor(private readonly monotonic: () => bigint = () => process.hrtime.bigint()) {}

  /**
   * An event's time: the clock moves forward to it, never back. A time more than a day past the
   * wall clock is implausible (a corrupt input) and is not followed.
   */
  observe(ts: bigint): void {
    if (typeof ts !== 'bigint' || ts > nowNs() + 86_400_000_000_000n) return;
    const now = this.monotonic();
    if (this.latest < 0n || ts >= this.now(now)) {
      this.latest = ts;
      this.seenAt = now;
    }
  }

  now(at: bigint = this.monotonic()): bigint {
    if (this.latest < 0n) return nowNs();
    return this.latest + (at - this.seenAt);
  }
}

export function nsToIso(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const rest = (ns % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.123Z
  return `${iso.slice(0, 19)}.${rest}Z`;
}

export function isoToNs(iso: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(iso);
  if (!m) return BigInt(Date.parse(iso)) * 1_000_000n;
  const base = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(base) * 1_000_000n + BigInt(frac);
}

/**
 * The workload key, computed here only: namespace + owner in Kubernetes, image + command in Docker
 * (docs/architecture.md, "Workload identity"). Baselines, exceptions and incidents all use it. An
 * event whose container was resolved (`container.workload`, set from the container's own metadata)
 * has that key; the fields an event happens to carry are the fallback for containers nobody could
 * resolve (a data set, a runtime Vigie does not watch).
 */
export function workloadKey(ev: Pick<VigieEvent, 'container' | 'k8s'>): string | undefined {
  if (ev.container?.workload) return ev.container.workload;
  if (ev.k8s?.namespace && ev.k8s.workload) return `k8s:${ev.k8s.namespace}/${ev.k8s.workload}`;
  if (ev.container?.image) return `docker:${ev.container.image}|${ev.container.command ?? ''}`;
  if (ev.container?.id) return `container:${ev.container.id}`;
  return undefined;
}

/** Labels the kubelet puts on the containers it runs (dockershim, cri-dockerd). */
export const K8S_POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const K8S_POD_NAME_LABEL = 'io.kubernetes.pod.name';

/**
 * The owner of a pod from its name, as its controller named it: a ReplicaSet, DaemonSet or Job pod
 * is `<owner>-<5 random characters>` (the generateName alphabet), a StatefulSet pod `<owner>-<ordinal>`.
 * A name with neither suffix is its own owner (a bare pod). The Kubernetes source reads the owner from
 * the pod's ownerReferences; this gives the same name for containers known only by their labels.
 */
export function podOwner(pod: string): string {
  const m = /^(.+)-(?:[bcdfghjklmnpqrstvwxz2456789]{5}|\d+)$/.exec(pod);
  return m ? m[1] : pod;
}

/**
 * The service (Deployment) of a pod from its name: without the ReplicaSet's template hash and the
 * pod's own suffix (`ts-order-service-6d5f8b7c9-x2k4q` → `ts-order-service`). Metrics, logs and
 * traces of one data set name a service with this one function, so that they join on it.
 */
export function serviceOfPod(pod: string): string {
  return pod.replace(/-[a-z0-9]{6,10}-[a-z0-9]{5}$/, '');
}

/**
 * The workload key of a container from its own metadata, once per container: the Kubernetes
 * namespace and owner when the kubelet's labels name its pod, else its image and its command
 * (entrypoint and arguments, as the runtime starts it). Replicas (same image, same command) share it;
 * two commands on one image do not. Undefined when the metadata names neither.
 */
export function containerWorkload(c: {
  image?: string;
  command?: string;
  labels?: Record<string, string>;
}): string | undefined {
  const ns = c.labels?.[K8S_POD_NAMESPACE_LABEL];
  const pod = c.labels?.[K8S_POD_NAME_LABEL];
  if (ns && pod) return `k8s:${ns}/${podOwner(pod)}`;
  if (c.image) return `docker:${c.image}|${c.command ?? ''}`;
  return undefined;
}

// ---- Boundary validation (zod). Used where events enter from outside (bus, files, HTTP). ----

const tsSchema = z
  .union([z.bigint(), z.string().regex(/^\d+$/), z.number().int().nonnegative()])
  .transform((v) => (typeof v === 'bigint' ? v : BigInt(v)));

export const eventSchema = z
  .object({
    id: z.string().min(1),
    kind: z.enum(EVENT_KINDS),
    ts: tsSchema,
    source: z.string().min(1),
    host: z.string().optional(),
    container: z
      .object({
        id: z.string(),
        name: z.string().optional(),
        image: z.string().optional(),
        command: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
        workload: z.string().optional(),
      })
      .optional(),
    k8s: z
      .object({
        namespace: z.string().optional(),
        pod: z.string().optional(),
        workload: z.string().optional(),
        node: z.string().optional(),
        serviceAccount: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    proc: z.record(z.string(), z.unknown()).optional(),
    syscall: z
      .object({
        name: z.string(),
        dir: z.enum(['>', '<']).optional(),
        args: z.record(z.string(), z.string()).optional(),
        ret: z.number().optional(),
        nr: z.number().optional(),
      })
      .optional(),
    network: z.record(z.string(), z.unknown()).optional(),
    file: z.record(z.string(), z.unknown()).optional(),
    audit: z.record(z.string(), z.unknown()).optional(),
    object: z.record(z.string(), z.unknown()).optional(),
    metric: z.record(z.string(), z.number().optional()).optional(),
    lifecycle: z.record(z.string(), z.unknown()).optional(),
    internal: z.record(z.string(), z.unknown()).optional(),
    span: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** Parse an event from untrusted input; throws a ZodError naming the bad fields. */
export function parseEvent(input: unknown): VigieEvent {
  return eventSchema.parse(input) as unknown as VigieEvent;
}

/** JSON.stringify replacer: bigint → decimal string. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function eventToJson(ev: VigieEvent): string {
  return JSON.stringify(ev, jsonReplacer);
}
