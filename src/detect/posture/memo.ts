/**
 * Answers about the objects of one evaluation (their pod templates and containers), kept while it
 * runs: every applicable control asks again about the object at hand. The engine gives its
 * ScanContext a fresh ObjectMemo for each evaluation, so answers about objects that have since
 * changed or gone (the live detector keeps its context across ticks) are not kept.
 *
 * Plain maps, not WeakMaps: a scan asks for every object's answer, and ten thousand WeakMap entries
 * cost the garbage collector more than the answers themselves; the maps go with the evaluation.
 */
import { containerListsOf, podSpecsOf, type ContainerRef, type PodSpecRef } from './k8s.js';
import type { K8sObject } from './types.js';

const NO_CONTAINERS: [ContainerRef[], ContainerRef[]] = [[], []];

export class ObjectMemo {
  private readonly pods = new Map<object, PodSpecRef[]>();
  private readonly containers = new Map<PodSpecRef, [ContainerRef[], ContainerRef[]]>();
  // The engine runs every applicable control on one object before the next: the last answer is
  // asked for again dozens of times in a row, and a compare is cheaper than a map lookup.
  private lastObj: object | undefined;
  private lastSpecs: PodSpecRef[] = [];
  private lastPod: PodSpecRef | undefined;
  private lastContainers = NO_CONTAINERS;

  /** Pod templates of an object (callers must not mutate the list). */
  podSpecsOf(o: K8sObject): PodSpecRef[] {
    if (o === this.lastObj) return this.lastSpecs;
    let r = this.pods.get(o);
    if (!r) {
      r = podSpecsOf(o);
      this.pods.set(o, r);
    }
    this.lastObj = o;
    this.lastSpecs = r;
    return r;
  }

  /** Containers of a pod template (callers must not mutate the list). */
  containersOf(p: PodSpecRef, withEphemeral = true): ContainerRef[] {
    let c: [ContainerRef[], ContainerRef[]] | undefined;
    if (p === this.lastPod) c = this.lastContainers;
    else {
      c = this.containers.get(p);
      if (!c) {
        c = containerListsOf(p);
        this.containers.set(p, c);
      }
      this.lastPod = p;
      this.lastContainers = c;
    }
    return withEphemeral ? c[0] : c[1];
  }
}
