/**
 * What checks derive from a scan's settings and from control parameters (compiled patterns, sets,
 * parsed images and quantities, the answers of costly tests), kept by the ScanContext for as long
 * as it lives: the same inputs come back for every object. Each check module reads and fills its
 * own fields; nothing here outlives the context that owns it.
 */
import { parseImage, parseQuantityString, type ImageRef, type PodSpecRef } from '../k8s.js';
import type { K8sObject } from '../types.js';
import type { AvailabilityIndex } from './availability.js';

/** A wanted permission: a rule grants it when it covers one of the verbs on one of the resources. */
export interface PermissionSpec {
  verbs: string[];
  resources: string[];
  apiGroups?: string[];
}

export interface AnnotationFlags {
  seccomp: boolean;
  apparmor: boolean;
}

export interface Directions {
  ingress: boolean;
  egress: boolean;
}

/** Bound of the value-keyed maps: dropped when full (a cluster has few distinct values). */
const VALUE_CACHE_MAX = 4096;
/** Bound of the sensitive-value answers (key and value pairs repeat less). */
export const SENSITIVE_CACHE_MAX = 8192;

export class CheckMemo {
  private readonly images = new Map<string, ImageRef>();
  private readonly quantities = new Map<string, number>();

  // pod security
  readonly capabilitySets = new WeakMap<object, ReadonlySet<string>>();
  readonly annotationFlags = new WeakMap<PodSpecRef, AnnotationFlags>();
  // host paths: a matcher per control's parameters
  readonly hostPathMatchers = new WeakMap<object, (hostPath: string) => boolean>();
  // resources: the settings' ranges, parsed, by setting name
  readonly ranges = new Map<string, number>();
  // images: floatingImageTags and "latest"
  floatingTags: ReadonlySet<string> | undefined;
  // credentials: compiled and lower-cased settings lists, answers by key and value
  readonly regexes = new WeakMap<readonly string[], RegExp[]>();
  readonly lowered = new WeakMap<readonly string[], string[]>();
  readonly sensitive = new Map<string, boolean>();
  // RBAC: a control's wanted permissions, and their part a RoleBinding can grant (null: none)
  readonly permissionSpecs = new WeakMap<object, PermissionSpec[]>();
  readonly namespacedSpecs = new WeakMap<PermissionSpec, PermissionSpec | null>();
  // exposure: per names list, whether an image contains one of them
  readonly imagesNaming = new WeakMap<readonly string[], Map<string, boolean>>();
  // NetworkPolicy: directions restricted by a set of policies (the context caches the sets)
  readonly directions = new WeakMap<K8sObject[], Directions>();
  // known-vulnerable components
  readonly imagePatterns = new WeakMap<object, RegExp>();
  subPathVulnerable: boolean | undefined;
  // availability: budgets and autoscalers of the context, indexed on first ask
  availability: AvailabilityIndex | undefined;
  // API versions: the target Kubernetes minor (the kubernetesVersion setting)
  kubernetesMinor: number | undefined;

  /**
   * Parsed image reference: a cluster runs few distinct images in many pods (a Deployment, its
   * ReplicaSets and their Pods carry the same ones), and several checks parse each. Read only.
   */
  image(image: string): ImageRef {
    let r = this.images.get(image);
    if (r === undefined) {
      if (this.images.size >= VALUE_CACHE_MAX) this.images.clear();
      r = Object.freeze(parseImage(image));
      this.images.set(image, r);
    }
    return r;
  }

  /** Kubernetes quantity to a number, NaN when unreadable ("100m", "256Mi" repeat across a cluster). */
  quantity(q: unknown): number {
    if (typeof q === 'number') return q;
    if (typeof q !== 'string') return NaN;
    let n = this.quantities.get(q);
    if (n === undefined) {
      if (this.quantities.size >= VALUE_CACHE_MAX) this.quantities.clear();
      n = parseQuantityString(q);
      this.quantities.set(q, n);
    }
    return n;
  }
}
