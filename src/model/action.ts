/** Response actions and their records (docs/architecture.md, "respond/"). */

/** Platforms an actuator acts on. */
export const PLATFORMS = ['docker', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * What executing an action does to its target:
 * - `read-only`: reads only (evidence). Runs in every mode, never counts against the guards, and
 *   leaves nothing to roll back.
 * - `marks`: marks the workload (a label) without changing how it runs.
 * - `revokes`: takes permissions away from the workload's identity without changing how it runs.
 * - `contains`: changes how the workload runs (resources, network, processes, scheduling).
 */
export type ActionEffect = 'read-only' | 'marks' | 'revokes' | 'contains';

/**
 * How a rollback brings the target back:
 * - `nothing`: nothing was changed.
 * - `exact`: the recorded state is put back while the workload keeps running.
 * - `restart`: the workload's running state is lost when the action executes (evidence is captured
 *   before it); rollback can only restart or recreate it.
 */
export type ActionUndo = 'nothing' | 'exact' | 'restart';

export interface ActionFacts {
  /** Platforms whose actuator executes it; empty when the engine records it without an actuator. */
  readonly platforms: readonly Platform[];
  readonly effect: ActionEffect;
  readonly undo: ActionUndo;
}

/** The action vocabulary: every action's facts, once. Everything else is derived from this table. */
export const ACTIONS = {
  observe: { platforms: [], effect: 'read-only', undo: 'nothing' },
  capture_evidence: { platforms: ['docker', 'kubernetes'], effect: 'read-only', undo: 'nothing' },
  throttle: { platforms: ['docker'], effect: 'contains', undo: 'exact' },
  isolate: { platforms: ['docker'], effect: 'contains', undo: 'exact' },
  pause: { platforms: ['docker'], effect: 'contains', undo: 'exact' },
  stop: { platforms: ['docker'], effect: 'contains', undo: 'restart' },
  kill: { platforms: ['docker'], effect: 'contains', undo: 'restart' },
  label: { platforms: ['kubernetes'], effect: 'marks', undo: 'exact' },
  k8s_isolate: { platforms: ['kubernetes'], effect: 'contains', undo: 'exact' },
  scale_zero: { platforms: ['kubernetes'], effect: 'contains', undo: 'restart' },
  evict: { platforms: ['kubernetes'], effect: 'contains', undo: 'restart' },
  delete_pod: { platforms: ['kubernetes'], effect: 'contains', undo: 'restart' },
  cordon: { platforms: ['kubernetes'], effect: 'contains', undo: 'exact' },
  remove_rolebinding: { platforms: ['kubernetes'], effect: 'revokes', undo: 'exact' },
  k8s_limit: { platforms: ['kubernetes'], effect: 'contains', undo: 'exact' },
} as const satisfies Record<string, ActionFacts>;

export type ActionType = keyof typeof ACTIONS;

/** The actions an actuator of platform P executes, as a type (e.g. to key a dispatch table). */
export type ActionsOn<P extends Platform> = {
  [A in ActionType]: P extends (typeof ACTIONS)[A]['platforms'][number] ? A : never;
}[ActionType];

/** Every action name, in the table's order. */
export const ACTION_TYPES = Object.keys(ACTIONS) as [ActionType, ...ActionType[]];

const actionsWhere = (f: (facts: ActionFacts) => boolean): ReadonlySet<ActionType> =>
  new Set(ACTION_TYPES.filter((a) => f(ACTIONS[a])));

/** Actions that only read: they run even in monitor mode and never count against guards. */
export const READ_ONLY_ACTIONS = actionsWhere((f) => f.effect === 'read-only');
/** Actions that change how the workload runs. */
export const CONTAINMENT_ACTIONS = actionsWhere((f) => f.effect === 'contains');
/** Actions after which the workload's running state is lost: evidence is captured before them. */
export const DESTRUCTIVE_ACTIONS = actionsWhere((f) => f.undo === 'restart');

export const isReadOnly = (a: ActionType): boolean => READ_ONLY_ACTIONS.has(a);
export const isContainment = (a: ActionType): boolean => CONTAINMENT_ACTIONS.has(a);
export const isDestructive = (a: ActionType): boolean => DESTRUCTIVE_ACTIONS.has(a);
/** A rollback puts the recorded state back while the workload keeps running. */
export const undoesExactly = (a: ActionType): boolean => ACTIONS[a].undo === 'exact';

/** Whether an actuator of `platform` executes `action`. */
export function runsOn(action: ActionType, platform: Platform): boolean {
  return (ACTIONS[action].platforms as readonly Platform[]).includes(platform);
}

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
  platform: Platform;
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
