/** What one Kubernetes action module provides: its execute (with its verification) and its rollback. */
import type { ActionRecord, ActionTarget } from '../../../model/action.js';
import type { ActuatorResult, RollbackOutcome } from '../../types.js';
import type { KubeClient } from './client.js';
import type { PodRef, PodSnapshot } from './pod.js';

export interface KubeActionContext {
  readonly kube: KubeClient;
  /** Throws when `namespace` is protected and the step does not reach into it on purpose. */
  guard(namespace: string | undefined): void;
}

export interface KubernetesAction {
  /** Apply to a pod target (`ref` names it as the target does), read back and verify. */
  onPod(
    c: KubeActionContext,
    before: PodSnapshot,
    params: Record<string, unknown>,
    ref: PodRef,
  ): Promise<ActuatorResult>;
  /** A target of another kind that the action takes directly (cordon a node, remove one binding). */
  direct?: {
    kind: 'node' | 'rolebinding';
    execute(c: KubeActionContext, target: ActionTarget, before?: unknown): Promise<ActuatorResult>;
  };
  /** Put `record.stateBefore` back; idempotent. */
  rollback(kube: KubeClient, record: ActionRecord): Promise<RollbackOutcome>;
}

/** The recorded state before, as the rollbacks read it (a pod snapshot, or a node or binding). */
export type RecordedState = Partial<PodSnapshot> & Record<string, any>;

export const recordedState = (record: ActionRecord): RecordedState =>
  (record.stateBefore ?? {}) as RecordedState;
