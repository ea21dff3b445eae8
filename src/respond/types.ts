import type { ActionRecord, ActionTarget, ActionType, Platform } from '../model/action.js';
import type { Alert } from '../model/alert.js';

export interface ActuatorResult {
  stateBefore: unknown;
  stateAfter: unknown;
  /** True when the platform's real state was read back and matches the intent. */
  verified: boolean;
  evidence?: unknown;
  /** Why the result differs from the plain intent (e.g. "already paused"). */
  note?: string;
}

/** What a rollback resolves with (see Actuator.rollback). */
export interface RollbackOutcome {
  state?: unknown;
  restored?: boolean;
  notes?: string[];
}

/**
 * An actuator applies actions to one platform. One file per actuator, registered in
 * respond/actuators/registry.ts. Every action it supports must be reversible or say it is not.
 */
export interface Actuator {
  readonly name: string;
  readonly platform: Platform;
  supports(action: ActionType): boolean;
  /**
   * Read-only view of the target, for evidence and guards. The engine reads `name`, `labels` and
   * `namespace` from it when present (protected workloads), and records it as the state before.
   */
  inspect(target: ActionTarget): Promise<unknown>;
  /**
   * Apply `action`. `before` is what inspect() just returned for this target, so that the target is
   * read once per action; without it the actuator reads the target itself.
   */
  execute(
    action: ActionType,
    target: ActionTarget,
    params: Record<string, unknown>,
    before?: unknown,
  ): Promise<ActuatorResult>;
  /**
   * Undo using the recorded state (`record.stateBefore`); must be idempotent, since it also resolves
   * actions interrupted by a crash. Resolves with the state after the rollback; when it resolves with
   * an object carrying `restored: false` (a RollbackOutcome), the engine records `rollback_failed`,
   * and `notes: string[]` say what could not be put back exactly.
   */
  rollback(record: ActionRecord): Promise<unknown>;
}

/** What an actuator factory is built with: each actuator reads its own section of `config`. */
export interface ActuatorContext {
  config: Record<string, Record<string, unknown> | undefined>;
}

/** Builds an actuator, or undefined when its platform is not configured. */
export type ActuatorFactory = (ctx: ActuatorContext) => Actuator | undefined | Promise<Actuator | undefined>;

/** Incident severity levels, least severe first (characterize/incidents.ts computes them). */
export const INCIDENT_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentLevel = (typeof INCIDENT_LEVELS)[number];

/** What the response is told of an alert's incident, as the characterize stage sees it now. */
export interface IncidentContext {
  incident?: string;
  /** The incident's severity level (it rises as the incident accumulates tactics). */
  incidentSeverity?: IncidentLevel;
  /** Why it is that severe, when it escalated ("escalated: Execution → Command and Control, …"). */
  incidentWhy?: string;
}

/**
 * The response stage as the engine sees it: alerts (and incidents) in, action records out.
 * Monitor mode plans and records; enforce mode also executes, within the guards.
 */
export interface Responder {
  onAlert(alert: Alert, ctx?: IncidentContext): Promise<ActionRecord[]>;
  /** Expire TTLs and resume or roll back interrupted actions. */
  tick(now?: Date): Promise<ActionRecord[]>;
  close(): Promise<void>;
}
