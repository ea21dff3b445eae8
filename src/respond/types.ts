import type { ActionRecord, ActionTarget, ActionType } from '../model/action.js';

export interface ActuatorResult {
  stateBefore: unknown;
  stateAfter: unknown;
  /** True when the platform's real state was read back and matches the intent. */
  verified: boolean;
  evidence?: unknown;
}

/**
 * An actuator applies actions to one platform. One file per actuator, registered in
 * respond/actuators/registry.ts. Every action it supports must be reversible or say it is not.
 */
export interface Actuator {
  readonly name: string;
  readonly platform: ActionTarget['platform'];
  supports(action: ActionType): boolean;
  /** Read-only view of the target, for evidence and guards. */
  inspect(target: ActionTarget): Promise<unknown>;
  execute(action: ActionType, target: ActionTarget, params: Record<string, unknown>): Promise<ActuatorResult>;
  /** Undo using the recorded state; resolves with the state after the rollback. */
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
