/** Response actions and their records (DESIGN.md, "Response"). */
export const ACTION_TYPES = [
  'observe',
  'capture_evidence',
  'throttle',
  'isolate',
  'pause',
  'stop',
  'kill',
  // Kubernetes
  'label',
  'k8s_isolate',
  'scale_zero',
  'evict',
  'delete_pod',
  'cordon',
  'remove_rolebinding',
  'k8s_limit',
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export type ActionStatus =
  | 'planned'
  | 'approved'
  | 'executing'
  | 'executed'
  | 'failed'
  | 'skipped'
  | 'rolled_back'
  | 'rollback_failed'
  | 'expired';

export interface ActionTarget {
  kind: 'container' | 'pod' | 'workload' | 'node' | 'rolebinding' | 'namespace';
  id: string;
  name?: string;
  namespace?: string;
  platform: 'docker' | 'kubernetes';
}

export interface ActionRecord {
  id: string;
  action: ActionType;
  target: ActionTarget;
  status: ActionStatus;
  mode: 'monitor' | 'enforce';
  policy?: string;
  incident?: string;
  alert?: string;
  params?: Record<string, unknown>;
  reason: string;
  createdAt: string;
  executedAt?: string;
  expiresAt?: string;
  rolledBackAt?: string;
  stateBefore?: unknown;
  stateAfter?: unknown;
  /** Verified against the platform's real state after executing. */
  verified?: boolean;
  error?: string;
  evidence?: unknown;
}
