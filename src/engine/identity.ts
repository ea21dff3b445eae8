/**
 * Workload identity, resolved once per container before anything is scored (docs/architecture.md,
 * "Workload identity"). Every event and every alert made elsewhere (Falco's) that names a container
 * passes here on its way in: its container reference is replaced by the container catalogue's, which
 * carries the workload key computed from the container's own metadata (image and command from
 * `docker inspect`, or the Kubernetes owner from the kubelet's labels). So a cgroup metric, a system
 * call and a Falco alert of one container all have one workload key, whichever arrives first, and
 * whatever the source happened to know.
 *
 * A container the catalogue does not know yet is looked up (one inspection, shared); its events wait
 * meanwhile, in order, and go on with their own fields when the lookup finds nothing or takes longer
 * than `timeoutMs` (such an id is not looked up again for `missTtlMs`). Alerts keep their order too:
 * while one waits for a lookup, the next ones wait behind it.
 */
import type { Alert } from '../model/alert.js';
import type { ContainerRef, VigieEvent } from '../model/event.js';
import type { ContainerAttribution } from '../sources/types.js';

export interface WorkloadIdentityOptions {
  /** Longest wait for a container's lookup, ms (default 2000). */
  timeoutMs?: number;
  /** How long a container no lookup found is taken as unknown without asking again, ms (default 30 000). */
  missTtlMs?: number;
  /** Events held per container while it is looked up (default 10 000); more are dropped and counted. */
  maxHeld?: number;
}

export interface WorkloadIdentityStats {
  /** Events and alerts given their container's identity. */
  resolved: number;
  /** Lookups started (containers the catalogue did not know). */
  lookups: number;
  /** Lookups that found nothing, failed or timed out: the events went on with their own fields. */
  unresolved: number;
  /** Events dropped because too many were held for one container. */
  dropped: number;
  /** Events held now. */
  held: number;
}

const NO_CONTAINER = (id: string | undefined): boolean => !id || id === 'host';

export class WorkloadIdentity {
  private readonly held = new Map<string, VigieEvent[]>();
  private readonly misses = new Map<string, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** The alerts' queue: resolves when every alert handed in so far was delivered. */
  private alertsDone: Promise<void> = Promise.resolve();
  private alertsWaiting = 0;
  private readonly st = { resolved: 0, lookups: 0, unresolved: 0, dropped: 0 };
  private readonly timeoutMs: number;
  private readonly missTtlMs: number;
  private readonly maxHeld: number;

  constructor(
    private readonly containers: ContainerAttribution,
    opts: WorkloadIdentityOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.missTtlMs = opts.missTtlMs ?? 30_000;
    this.maxHeld = opts.maxHeld ?? 10_000;
  }

  /**
   * Hands `ev` to `deliver` with its container's identity: now when the container is known (or the
   * event names none, or is already resolved), else once it is looked up. Returns what `deliver`
   * returned, or true when the event is held (false when it is dropped).
   */
  event(ev: VigieEvent, deliver: (ev: VigieEvent) => boolean): boolean {
    const c = ev.container;
    if (c === undefined || c === null || c.workload !== undefined || NO_CONTAINER(c.id)) return deliver(ev);
    const id = c.id;
    const queue = this.held.get(id);
    if (queue !== undefined) {
      // Behind the events of the same container already waiting: order is kept.
      if (queue.length >= this.maxHeld) {
        this.st.dropped++;
        return false;
      }
      queue.push(ev);
      return true;
    }
    const ref = this.containers.known(id);
    if (ref !== undefined) return deliver(this.apply(ev, ref));
    if (this.missed(id)) return deliver(ev);
    this.held.set(id, [ev]);
    this.track(
      this.lookup(id).then((found) => {
        const list = this.held.get(id) ?? [];
        this.held.delete(id);
        for (const e of list) deliver(found ? this.apply(e, found) : e);
      }),
    );
    return true;
  }

  /**
   * The event with its container's identity when the catalogue knows the container already; never
   * waits (for events handled at once, such as a webhook's, which the sender waits for).
   */
  known(ev: VigieEvent): VigieEvent {
    const c = ev.container;
    if (c === undefined || c === null || c.workload !== undefined || NO_CONTAINER(c.id)) return ev;
    const ref = this.containers.known(c.id);
    return ref === undefined ? ev : this.apply(ev, ref);
  }

  /**
   * Hands `a` to `deliver` with its container's workload key and full id, in the order alerts came.
   * Returns true when it was delivered now, else a promise resolved (true) once it was.
   */
  alert(a: Alert, deliver: (a: Alert) => void): boolean | Promise<boolean> {
    const c = a.vigie.entities.container;
    const known = c === undefined || NO_CONTAINER(c.id) ? null : this.containers.known(c.id);
    if (this.alertsWaiting === 0 && (known !== undefined || this.missed(c!.id))) {
      if (known) this.applyAlert(a, known);
      deliver(a);
      return true;
    }
    this.alertsWaiting++;
    const lookedUp = known === undefined && !this.missed(c!.id) ? this.lookup(c!.id) : Promise.resolve(known);
    const done = this.alertsDone.then(async () => {
      const ref = await lookedUp;
      if (ref) this.applyAlert(a, ref);
      this.alertsWaiting--;
      deliver(a);
      return true;
    });
    this.alertsDone = done.then(
      () => undefined,
      () => undefined,
    );
    this.track(done);
    return done;
  }

  /** Resolves when nothing is held or waiting any more (the engine's stop waits for it). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  stats(): WorkloadIdentityStats {
    let held = 0;
    for (const q of this.held.values()) held += q.length;
    return { ...this.st, held };
  }

  private apply(ev: VigieEvent, ref: ContainerRef): VigieEvent {
    this.st.resolved++;
    ev.container = ref;
    return ev;
  }

  private applyAlert(a: Alert, ref: ContainerRef): void {
    this.st.resolved++;
    const e = a.vigie.entities;
    e.container = { id: ref.id, name: ref.name ?? e.container?.name, image: ref.image ?? e.container?.image };
    if (ref.workload !== undefined) e.workload = ref.workload;
  }

  private missed(id: string): boolean {
    const until = this.misses.get(id);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.misses.delete(id);
    return false;
  }

  /** The container's reference, or undefined (noted as a miss) when none came in time. */
  private async lookup(id: string): Promise<ContainerRef | undefined> {
    this.st.lookups++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.timeoutMs);
    });
    const ref = await Promise.race([this.containers.lookup(id).catch(() => undefined), timeout]).finally(() =>
      clearTimeout(timer),
    );
    if (ref === undefined) {
      this.st.unresolved++;
      if (this.misses.size >= 10_000) this.misses.clear();
      this.misses.set(id, Date.now() + this.missTtlMs);
    }
    return ref;
  }

  private track(p: Promise<unknown>): void {
    const q = p.finally(() => this.inflight.delete(q));
    q.catch(() => undefined);
    this.inflight.add(q);
  }
}
