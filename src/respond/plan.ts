/**
 * Planning: alert → policy rule → chain of actions, each one guarded and recorded. Monitor mode (and
 * dry runs, and steps awaiting approval) stop at `planned`; read-only steps (observe,
 * capture_evidence) run in every mode because they touch nothing; the rest run now.
 *
 * Guard checks and the write of the record that reserves an action are synchronous (SQLite), with no
 * await between them, so concurrent alerts cannot both slip under the rate limit or the incident cap.
 */
import { isDestructive, isReadOnly, runsOn, type ActionTarget, type ActionType } from '../model/action.js';
import type { Alert } from '../model/alert.js';
import type { StoredAction } from '../store/actions.js';
import { logger } from '../util/log.js';
import { actionId, type Actuators, type Executor, type Inspected } from './execute.js';
import type { Guards } from './guards.js';
import type { IncidentContext } from './types.js';
import { platformOf, selectRule, type Mode, type Policy } from './policy.js';
import { errText, type ActionRecords } from './records.js';

const log = logger('respond');

/**
 * What an alert's actions act on. A container that belongs to a pod is acted on through Kubernetes
 * (its pod, its workload, its node): the kubelet and its runtime own it, not a Docker daemon, even
 * when a Docker daemon is reachable on the node. Only a container no pod owns is a Docker target.
 */
export function targetOf(a: Alert): ActionTarget | undefined {
  const platform = platformOf(a);
  const k = a.vigie.entities.k8s;
  if (platform === 'kubernetes' && k?.pod)
    return {
      kind: 'pod',
      id: `${k.namespace ?? 'default'}/${k.pod}`,
      name: k.pod,
      namespace: k.namespace,
      platform,
    };
  const c = a.vigie.entities.container;
  if (platform === 'docker' && c)
    return { kind: 'container', id: c.id, name: c.name?.replace(/^\//, ''), platform };
  return undefined;
}

/**
 * Why a step cannot run on this target's platform. Container-runtime actions (pause, throttle, stop,
 * kill, network disconnect) on a pod's container would need the node's CRI (UpdateContainerResources
 * and the like), which Vigie has no client for: they are refused, never sent to a Docker daemon that
 * does not own the container.
 */
export function unsupportedReason(action: ActionType, target: ActionTarget, a: Alert): string {
  if (target.platform === 'kubernetes' && runsOn(action, 'docker')) {
    const c = a.vigie.entities.container;
    const which =
      c?.id && c.id !== 'host' ? `container ${c.name?.replace(/^\//, '') ?? c.id.slice(0, 12)} ` : '';
    return `refused: ${action} acts on a container through Docker, but ${which}belongs to pod ${target.id}, which the kubelet's runtime owns, and no CRI client is configured; it is not sent to Docker (use the Kubernetes actions: label, k8s_isolate, evict, scale_zero)`;
  }
  if (target.platform === 'docker' && runsOn(action, 'kubernetes'))
    return `${action} acts on pods, and container ${target.name ?? target.id.slice(0, 12)} belongs to no pod`;
  return `no ${target.platform} actuator supports ${action}`;
}

export class Planner {
  constructor(
    private readonly policy: Policy,
    /** 'enforce' overrides every policy and rule mode (the `--enforce` flag). */
    private readonly mode: Mode,
    private readonly records: ActionRecords,
    private readonly actuators: Actuators,
    private readonly guards: Guards,
    private readonly executor: Executor,
    private readonly now: () => Date,
  ) {}

  async onAlert(alert: Alert, ctx?: IncidentContext): Promise<StoredAction[]> {
    const target = targetOf(alert);
    if (!target) return [];
    const { rule, excludedBy } = selectRule(this.policy, alert, { severity: ctx?.incidentSeverity });
    if (excludedBy !== undefined) {
      log.debug('alert excluded by policy', { alert: alert.uuid, exclusion: excludedBy });
      return [];
    }
    if (!rule) return [];
    const mode: Mode = this.mode === 'enforce' ? 'enforce' : (rule.mode ?? this.policy.mode);
    const dryRun = rule.dryRun ?? this.policy.dryRun;
    const incident = ctx?.incident ?? alert.vigie.incident;
    const alertMs = Date.parse(alert.time);
    const bucket = Math.floor(
      (Number.isFinite(alertMs) ? alertMs : this.now().getTime()) / this.policy.guards.correlationWindowMs,
    );
    const corrKey = incident ? `incident:${incident}` : `${target.id}|${alert.rule}|${bucket}`;

    // One read of the target serves the protection guard, the monitor-mode "state before" and the
    // first action executed; each later action reads the target again, as it is by then.
    let state: unknown;
    let inspectError: string | undefined;
    const actuator = this.actuators.any(target);
    if (actuator) {
      try {
        state = await actuator.inspect(target);
      } catch (err) {
        inspectError = errText(err);
      }
    }
    let current: Inspected | undefined = actuator && !inspectError ? { state } : undefined;
    const protectedBy = this.guards.protectedReason(target, state);
    // Alerts may name a container by short id or name: key the records by the full id.
    const fullId = (state as { id?: unknown } | undefined)?.id;
    if (
      target.platform === 'docker' &&
      typeof fullId === 'string' &&
      fullId.startsWith(target.id.slice(0, 12))
    )
      target.id = fullId;

    const out: StoredAction[] = [];
    let evidenceFailed: string | undefined;
    for (const [i, step] of rule.actions.entries()) {
      const id = actionId(alert.uuid, this.policy.name, rule.name, String(i), step.action, target.id);
      const existing = this.records.store.get(id);
      if (existing) {
        out.push(existing); // replayed alert: its actions were already decided
        continue;
      }
      const r: StoredAction = {
        id,
        action: step.action,
        target: { ...target, name: target.name ?? (state as { name?: string } | undefined)?.name },
        status: 'planned',
        mode,
        policy: `${this.policy.name}#${rule.name}`,
        incident,
        alert: alert.uuid,
        params: step.params,
        reason: `${alert.priority} ${alert.vigie.category} alert "${alert.rule}"${
          ctx?.incidentSeverity
            ? ` in a ${ctx.incidentSeverity} incident${ctx.incidentWhy ? ` (${ctx.incidentWhy})` : ''}`
            : ''
        } matched rule "${rule.name}"`,
        createdAt: this.now().toISOString(),
        corrKey,
        ttlMs: step.ttlMs,
        dryRun: dryRun || undefined,
      };
      const readOnly = isReadOnly(step.action);
      const skip = (why: string): void => {
        r.status = 'skipped';
        r.reason = `${why} (${r.reason})`;
        out.push(this.records.put(r));
      };
      const stepProtectedBy =
        step.params.allowProtectedNamespace === true
          ? this.guards.protectedReason(target, state, true)
          : protectedBy;
      if (stepProtectedBy) {
        skip(stepProtectedBy);
        continue;
      }
      if (step.action !== 'observe' && !runsOn(step.action, target.platform)) {
        skip(unsupportedReason(step.action, target, alert));
        continue;
      }
      if (!actuator || (!readOnly && !this.actuators.for(target, step.action))) {
        skip(`no ${target.platform} actuator supports ${step.action}`);
        continue;
      }
      if (inspectError) {
        if (mode === 'enforce' && !dryRun) {
          r.status = 'failed';
          r.error = inspectError;
          out.push(this.records.put(r));
        } else skip(`target unavailable: ${inspectError}`);
        continue;
      }
      if (isDestructive(step.action) && evidenceFailed) {
        skip(`evidence could not be captured first (${evidenceFailed}); destructive step not taken`);
        continue;
      }
      if (step.action === 'capture_evidence') {
        // An alert storm on one container must not take the same evidence a hundred times.
        const had = this.records.store.latestFor(corrKey, target.id, 'capture_evidence', [
          'executed',
          'approved',
          'executing',
        ]);
        if (had) {
          skip(`evidence already captured as ${had.id}`);
          continue;
        }
      }
      if (!readOnly) {
        const why = this.guards.budgetReason(r);
        if (why) {
          skip(why);
          continue;
        }
      }
      if (step.action === 'observe') {
        r.status = 'executed';
        r.executedAt = this.now().toISOString();
        r.verified = true;
        out.push(this.records.put(r));
        continue;
      }
      if (!readOnly && (mode === 'monitor' || dryRun || step.approval)) {
        r.stateBefore = state;
        r.needsApproval = step.approval || undefined;
        r.reason =
          mode === 'monitor'
            ? `monitor mode: planned, not executed; ${r.reason}`
            : dryRun
              ? `dry run: planned, not executed; ${r.reason}`
              : `awaiting approval; ${r.reason}`;
        out.push(this.records.put(r));
        continue;
      }
      // Reserve synchronously (the guards above counted the store as it is now), then execute.
      r.status = 'approved';
      this.records.put(r);
      const done = await this.executor.execute(r, current);
      current = undefined;
      if (step.action === 'capture_evidence' && done.status !== 'executed')
        evidenceFailed = done.error ?? done.status;
      out.push(done);
    }
    return out;
  }
}
