/**
 * Kubernetes actuator (through @kubernetes/client-node): quarantine label, network isolation with a
 * deny-all NetworkPolicy, scale to zero, evict or delete a pod (forensics first), cordon a node,
 * remove a risky RoleBinding, resource limits on a workload. Every action reads the previous state
 * first and its rollback puts that exact state back (labels and annotations key by key, replicas, the
 * binding recreated, the policy removed). Rollback is idempotent, because the engine also uses it for
 * actions a restart interrupted.
 *
 * Each action is one module under kubernetes/ with its execute, verification and rollback side by
 * side; this file dispatches to them through one table. API calls and their retries: kubernetes/client.ts.
 */
import { KubeConfig } from '@kubernetes/client-node';
import {
  runsOn,
  type ActionRecord,
  type ActionTarget,
  type ActionType,
  type ActionsOn,
} from '../../model/action.js';
import type { Actuator, ActuatorResult, RollbackOutcome } from '../types.js';
import type { KubeActionContext, KubernetesAction } from './kubernetes/action.js';
import { KubeApiError, KubeClient, type ApiErrorInfo } from './kubernetes/client.js';
import { cordon } from './kubernetes/cordon.js';
import { deletePod } from './kubernetes/delete-pod.js';
import { evict } from './kubernetes/evict.js';
import { captureEvidence } from './kubernetes/evidence.js';
import { isolate } from './kubernetes/isolate.js';
import { label } from './kubernetes/label.js';
import { limit } from './kubernetes/limit.js';
import { inspectTarget, podRef, type PodSnapshot } from './kubernetes/pod.js';
import { removeRoleBinding } from './kubernetes/remove-rolebinding.js';
import { scaleZero } from './kubernetes/scale-zero.js';

export { KubeApiError, apiError } from './kubernetes/client.js';
export type { PodSnapshot } from './kubernetes/pod.js';
export { QUARANTINE_AT, QUARANTINE_LABEL, QUARANTINE_REASON } from './kubernetes/label.js';
export { ISOLATE_LABEL, isolationPolicyName, selects } from './kubernetes/isolate.js';

/** Every action the model gives to Kubernetes, and the module that carries it out. */
const ACTIONS: Readonly<Record<ActionsOn<'kubernetes'>, KubernetesAction>> = {
  capture_evidence: captureEvidence,
  label,
  k8s_isolate: isolate,
  scale_zero: scaleZero,
  evict,
  delete_pod: deletePod,
  cordon,
  remove_rolebinding: removeRoleBinding,
  k8s_limit: limit,
};

export interface KubernetesActuatorOptions {
  kubeconfig?: string;
  kubeConfig?: KubeConfig;
  /** Namespaces never acted on unless a policy step sets `allowProtectedNamespace: true`. */
  protectedNamespaces?: string[];
  /** Vigie's own namespace (protected too). Default $VIGIE_NAMESPACE or "vigie". */
  ownNamespace?: string;
  /** Retries for 409/429/5xx (default 4). */
  retries?: number;
  retryDelayMs?: number;
}

export class KubernetesActuator implements Actuator {
  readonly name = 'kubernetes';
  readonly platform = 'kubernetes' as const;
  private readonly kube: KubeClient;
  private readonly protectedNs: readonly string[];

  constructor(opts: KubernetesActuatorOptions) {
    const kc = opts.kubeConfig ?? new KubeConfig();
    if (!opts.kubeConfig) {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
    }
    this.kube = new KubeClient(kc, opts.retries ?? 4, opts.retryDelayMs ?? 100);
    const own = opts.ownNamespace ?? process.env.VIGIE_NAMESPACE ?? 'vigie';
    this.protectedNs = [...new Set([...(opts.protectedNamespaces ?? ['kube-system']), own])];
  }

  /** Every API error met, with its reason: visible in records and tests. */
  get errors(): readonly ApiErrorInfo[] {
    return this.kube.errors;
  }

  supports(action: ActionType): boolean {
    return runsOn(action, this.platform);
  }

  private handler(action: ActionType): KubernetesAction | undefined {
    return this.supports(action) ? ACTIONS[action as ActionsOn<'kubernetes'>] : undefined;
  }

  inspect(target: ActionTarget): Promise<PodSnapshot | Record<string, unknown>> {
    return inspectTarget(this.kube, target);
  }

  private context(params: Record<string, unknown>): KubeActionContext {
    return {
      kube: this.kube,
      guard: (namespace) => {
        if (namespace && this.protectedNs.includes(namespace) && params.allowProtectedNamespace !== true)
          throw new KubeApiError(
            `refused: namespace ${namespace} is protected (Kubernetes system or Vigie's own); a policy must set allowProtectedNamespace: true`,
            undefined,
            'Protected',
          );
      },
    };
  }

  async execute(
    action: ActionType,
    target: ActionTarget,
    params: Record<string, unknown>,
    state?: unknown,
  ): Promise<ActuatorResult> {
    const handler = this.handler(action);
    if (!handler) throw new Error(`kubernetes actuator does not support ${action}`);
    const c = this.context(params);
    if (target.kind === 'node' || target.kind === 'rolebinding') {
      if (handler.direct?.kind !== target.kind)
        throw new Error(`${action} needs a pod target, got a ${target.kind}`);
      return handler.direct.execute(c, target, state);
    }
    const ref = podRef(target);
    c.guard(ref.namespace);
    const before = (state ?? (await this.inspect(target))) as PodSnapshot;
    return handler.onPod(c, before, params, ref);
  }

  rollback(record: ActionRecord): Promise<RollbackOutcome> {
    const handler = this.handler(record.action);
    if (!handler)
      return Promise.resolve({ restored: false, notes: [`${record.action} is not a Kubernetes action`] });
    return handler.rollback(this.kube, record);
  }
}

export function createKubernetesActuator(
  cfg: Record<string, unknown> | undefined,
): KubernetesActuator | undefined {
  if (!cfg) return undefined;
  const kubeConfig = cfg.kubeConfig instanceof KubeConfig ? cfg.kubeConfig : undefined;
  const kubeconfig = typeof cfg.kubeconfig === 'string' ? cfg.kubeconfig : undefined;
  if (!kubeConfig && !kubeconfig && cfg.inCluster !== true) return undefined;
  return new KubernetesActuator({
    kubeConfig,
    kubeconfig,
    ownNamespace: typeof cfg.namespace === 'string' ? cfg.namespace : undefined,
    protectedNamespaces: Array.isArray(cfg.protectedNamespaces)
      ? (cfg.protectedNamespaces as string[])
      : undefined,
  });
}
