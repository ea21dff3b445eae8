import type { ActionRecord, ActionTarget, ActionType } from '../model/action.js';

export interface ActuatorResult {
  stateBefore: unknown;
  stateAfter: unknown;
  /** True when the platform's real state was read back and matches the intent. */
  verified: boolean;
  evidence?: unknown;
  /** Why the result differs from the plain intent (e.g. "already paused"). */
  note?: string;
}

/**
 * An actuator applies actions to one platform. One file per actuator, registered in
 * respond/actuators/registry.ts. Every action it supports must be reversible or say it is not.
 */
export interface Actuator {
  readonly name: string;
  readonly platform: ActionTarget['platform'];
  supports(action: ActionType): boolean;
  /**
   * Read-only view of the target, for evidence and guards. The engine reads `name`, `labels` and
   * `namespace` from it when present (protected workloads), and records it as the state before.
   */
  inspect(target: ActionTarget): Promise<unknown>;
  execute(action: ActionType, target: ActionTarget, params: Record<string, unknown>): Promise<ActuatorResult>;
  /**
   * Undo using the recorded state (`record.stateBefore`); must be idempotent, since it also resolves
   * actions interrupted by a crash. Resolves with the state after the rollback; when it resolves with
   * an object carrying `restored: false`, the engine records `rollback_failed`, and `notes: string[]`
   * say what could not be put back exactly.
   */
  rollback(record: ActionRecord): Promise<unknown>;
}

/**
 * The response stage as the engine sees it: alerts (and incidents) in, action records out.
 * Monitor mode plans and records; enforce mode also executes, within the guards.
 */
export interface Responder {
  onAlert(alert: import('../model/alert.js').Alert, ctx?: { incident?: string }): Promise<ActionRecord[]>;
  /** Expire TTLs and resume or roll back interrupted actions. */
  tick(now?: Date): Promise<ActionRecord[]>;
  close(): Promise<void>;
}
