/**
 * API versions deprecated or no longer served at a target Kubernetes version, from the Kubernetes
 * deprecation guide (https://kubernetes.io/docs/reference/using-api/deprecation-guide/). The target
 * is the `kubernetesVersion` setting (`vigie scan --kubernetes-version 1.29`), by default the newest
 * release the table describes.
 */
import type { ScanContext } from '../context.js';
import type { Hit, K8sObject } from '../types.js';
import { NONE } from './helpers.js';
import type { Check } from './types.js';

export interface ApiChange {
  apiVersion: string;
  kind: string;
  /** Kubernetes 1.x minor in which the version was deprecated. */
  deprecatedIn: number;
  /** Minor from which the API server no longer serves it; none when no removal is planned. */
  removedIn?: number;
  /** What to use instead. */
  replacement: string;
}

type Row = [
  apiVersions: string[],
  kinds: string[],
  deprecatedIn: number,
  removedIn: number | undefined,
  use: string,
];

const WORKLOADS_APPS_V1 = 'apps/v1';
const PSA =
  'Pod Security admission (pod-security.kubernetes.io labels on namespaces); the API has no successor';

const ROWS: Row[] = [
  // Removed in 1.16
  [['extensions/v1beta1', 'apps/v1beta2'], ['DaemonSet', 'ReplicaSet'], 9, 16, WORKLOADS_APPS_V1],
  [['extensions/v1beta1', 'apps/v1beta1', 'apps/v1beta2'], ['Deployment'], 9, 16, WORKLOADS_APPS_V1],
  [['apps/v1beta1', 'apps/v1beta2'], ['StatefulSet', 'ControllerRevision'], 9, 16, WORKLOADS_APPS_V1],
  [['extensions/v1beta1'], ['NetworkPolicy'], 9, 16, 'networking.k8s.io/v1'],
  [['extensions/v1beta1'], ['PodSecurityPolicy'], 10, 16, PSA],
  // Removed in 1.22
  [['extensions/v1beta1'], ['Ingress'], 14, 22, 'networking.k8s.io/v1'],
  [['networking.k8s.io/v1beta1'], ['Ingress', 'IngressClass'], 19, 22, 'networking.k8s.io/v1'],
  [
    ['rbac.authorization.k8s.io/v1beta1', 'rbac.authorization.k8s.io/v1alpha1'],
    ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'],
    17,
    22,
    'rbac.authorization.k8s.io/v1',
  ],
  [
    ['scheduling.k8s.io/v1beta1', 'scheduling.k8s.io/v1alpha1'],
    ['PriorityClass'],
    14,
    22,
    'scheduling.k8s.io/v1',
  ],
  [['apiextensions.k8s.io/v1beta1'], ['CustomResourceDefinition'], 16, 22, 'apiextensions.k8s.io/v1'],
  [
    ['admissionregistration.k8s.io/v1beta1'],
    ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'],
    16,
    22,
    'admissionregistration.k8s.io/v1',
  ],
  [['apiregistration.k8s.io/v1beta1'], ['APIService'], 19, 22, 'apiregistration.k8s.io/v1'],
  [['authentication.k8s.io/v1beta1'], ['TokenReview'], 19, 22, 'authentication.k8s.io/v1'],
  [
    ['authorization.k8s.io/v1beta1'],
    ['SubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectAccessReview'],
    19,
    22,
    'authorization.k8s.io/v1',
  ],
  [['certificates.k8s.io/v1beta1'], ['CertificateSigningRequest'], 19, 22, 'certificates.k8s.io/v1'],
  [['coordination.k8s.io/v1beta1'], ['Lease'], 19, 22, 'coordination.k8s.io/v1'],
  [
    ['storage.k8s.io/v1beta1'],
    ['CSIDriver', 'StorageClass', 'VolumeAttachment'],
    19,
    22,
    'storage.k8s.io/v1',
  ],
  [['storage.k8s.io/v1beta1'], ['CSINode'], 17, 22, 'storage.k8s.io/v1'],
  // Removed in 1.25
  [['batch/v1beta1'], ['CronJob'], 21, 25, 'batch/v1'],
  [['discovery.k8s.io/v1beta1'], ['EndpointSlice'], 21, 25, 'discovery.k8s.io/v1'],
  [['events.k8s.io/v1beta1'], ['Event'], 19, 25, 'events.k8s.io/v1'],
  [['autoscaling/v2beta1'], ['HorizontalPodAutoscaler'], 22, 25, 'autoscaling/v2'],
  [['policy/v1beta1'], ['PodDisruptionBudget'], 21, 25, 'policy/v1'],
  [['policy/v1beta1'], ['PodSecurityPolicy'], 21, 25, PSA],
  [['node.k8s.io/v1beta1'], ['RuntimeClass'], 20, 25, 'node.k8s.io/v1'],
  // Removed in 1.26
  [
    ['flowcontrol.apiserver.k8s.io/v1beta1'],
    ['FlowSchema', 'PriorityLevelConfiguration'],
    23,
    26,
    'flowcontrol.apiserver.k8s.io/v1',
  ],
  [['autoscaling/v2beta2'], ['HorizontalPodAutoscaler'], 23, 26, 'autoscaling/v2'],
  // Removed in 1.27
  [['storage.k8s.io/v1beta1'], ['CSIStorageCapacity'], 24, 27, 'storage.k8s.io/v1'],
  // Removed in 1.29
  [
    ['flowcontrol.apiserver.k8s.io/v1beta2'],
    ['FlowSchema', 'PriorityLevelConfiguration'],
    26,
    29,
    'flowcontrol.apiserver.k8s.io/v1',
  ],
  // Removed in 1.32
  [
    ['flowcontrol.apiserver.k8s.io/v1beta3'],
    ['FlowSchema', 'PriorityLevelConfiguration'],
    29,
    32,
    'flowcontrol.apiserver.k8s.io/v1',
  ],
  // Deprecated in 1.33, no removal planned (the API server answers with a warning)
  [['v1'], ['Endpoints'], 33, undefined, 'discovery.k8s.io/v1 EndpointSlice'],
];

export const API_CHANGES: readonly ApiChange[] = Object.freeze(
  ROWS.flatMap(([versions, kinds, deprecatedIn, removedIn, replacement]) =>
    versions.flatMap((apiVersion) =>
      kinds.map((kind) => Object.freeze({ apiVersion, kind, deprecatedIn, removedIn, replacement })),
    ),
  ),
);

/** The newest Kubernetes minor the table describes: the target when none is given. */
export const LATEST_KNOWN_MINOR = Math.max(
  ...API_CHANGES.map((c) => Math.max(c.deprecatedIn, c.removedIn ?? 0)),
);
export const DEFAULT_KUBERNETES_VERSION = `1.${LATEST_KNOWN_MINOR}`;

const BY_KEY: ReadonlyMap<string, ApiChange> = new Map(
  API_CHANGES.map((c) => [`${c.apiVersion}|${c.kind}`, c]),
);
const KINDS: readonly string[] = [...new Set(API_CHANGES.map((c) => c.kind))];

const VERSION = /^v?1\.(\d{1,3})(?:\.\d+)?(?:[-+].*)?$/;

/** "1.29", "v1.29", "1.29.3", "v1.29.3-eks-1" → 29; undefined when not a Kubernetes 1.x version. */
export function parseKubernetesMinor(v: string): number | undefined {
  const m = VERSION.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

/** The change that applies to an apiVersion and kind, if the table has one. */
export function apiChange(apiVersion: string, kind: string): ApiChange | undefined {
  return BY_KEY.get(`${apiVersion}|${kind}`);
}

/** The target minor; settings are fixed for the context's lifetime, so it is kept with its answers. */
export function targetMinor(ctx: ScanContext): number {
  let t = ctx.answers.kubernetesMinor;
  if (t === undefined) {
    const given = ctx.settings.kubernetesVersion?.[0];
    if (given === undefined || given === '') t = LATEST_KNOWN_MINOR;
    else {
      t = parseKubernetesMinor(String(given));
      if (t === undefined)
        throw new Error(`kubernetesVersion "${given}" is not a Kubernetes version (e.g. 1.29)`);
    }
    ctx.answers.kubernetesMinor = t;
  }
  return t;
}

/** params.state: "removed" (no longer served at the target) or "deprecated" (still served). */
const deprecatedApi: Check = {
  appliesTo: KINDS,
  fn: (o: K8sObject, ctx, params): Hit[] => {
    const c = apiChange(String(o.apiVersion ?? ''), String(o.kind ?? ''));
    if (!c) return NONE;
    const target = targetMinor(ctx);
    if (c.deprecatedIn > target) return NONE;
    const removed = c.removedIn !== undefined && c.removedIn <= target;
    if (removed !== (params.state === 'removed')) return NONE;
    const what = `${c.apiVersion} ${c.kind}`;
    return [
      {
        path: 'apiVersion',
        message: removed
          ? `${what} is no longer served as of Kubernetes 1.${c.removedIn} (target 1.${target}): use ${c.replacement}`
          : `${what} is deprecated since Kubernetes 1.${c.deprecatedIn}${
              c.removedIn !== undefined ? ` and no longer served from 1.${c.removedIn}` : ''
            } (target 1.${target}): use ${c.replacement}`,
      },
    ];
  },
};

export const apiVersionChecks: Readonly<Record<string, Check>> = { deprecatedApi };
