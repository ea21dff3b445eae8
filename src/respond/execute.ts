/**
 * Execution: record `executing` with the state before → act → read back and verify; a failed action
 * is not left half applied. Approval of a planned action runs through the same path, after the
 * guards and the evidence a destructive step needs.
 *
 * The target is read once per action: the caller passes what it has just read for the guards (an
 * `Inspected`, for the first action it runs), or the action reads it here; the actuator then acts from
 * that state instead of reading it again.
 */
import { createHash } from 'node:crypto';
import {
  isDestructive,
  isReadOnly,
  type ActionRecord,
  type ActionTarget,
  type ActionType,
} from '../model/action.js';
import type { StoredAction } from '../store/actions.js';
import { logger } from '../util/log.js';
import type { Guards } from './guards.js';
import { errText, statusError, type ActionRecords } from './records.js';
import type { Actuator, RollbackOutcome } from './types.js';

const log = logger('respond');

/** A state just read from the platform (wrapped, since a state may itself be undefined). */
export interface Inspected {
  state: unknown;
}

export function actionId(...parts: string[]): string {
  return 'act-' + createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20);
}

/** The actuators the engine was given or built, found by platform and action. */
export class Actuators {
  private list: readonly Actuator[] = [];

  install(list: readonly Actuator[]): void {
    this.list = list;
  }

  for(target: ActionTarget, action: ActionType): Actuator | undefined {
    return this.list.find((a) => a.platform === target.platform && a.supports(action));
  }

  any(target: ActionTarget): Actuator | undefined {
    return this.list.find((a) => a.platform === target.platform);
  }
}

export class Executor {
  constructor(
    private readonly records: ActionRecords,
    private readonly actuators: Actuators,
    private readonly guards: Guards,
    private readonly now: () => Date,
  ) {}

  /** Inspect (unless `known`) → record `executing` with the state before → act → read back and verify. */
  async execute(r: StoredAction, known?: Inspected): Promise<StoredAction> {
    const actuator =
      this.actuators.for(r.target, r.action) ??
      (r.action === 'capture_evidence' ? this.actuators.any(r.target) : undefined);
    if (!actuator) {
      r.status = 'failed';
      r.error = `no ${r.target.platform} actuator supports ${r.action}`;
      return this.records.put(r);
    }
    try {
      const state = known ? known.state : await actuator.inspect(r.target);
      if (r.action === 'capture_evidence' && !actuator.supports('capture_evidence')) {
        // An actuator without its own evidence capture still gives its read-only view.
        Object.assign(r, {
          status: 'executed',
          stateBefore: state,
          stateAfter: state,
          evidence: { inspect: state },
          verified: true,
        });
        r.executedAt = this.now().toISOString();
        return this.records.put(r);
      }
      r.stateBefore = state;
      r.status = 'executing';
      this.records.put(r);
      const res = await actuator.execute(r.action, r.target, r.params ?? {}, state);
      r.stateBefore = res.stateBefore ?? r.stateBefore;
      r.stateAfter = res.stateAfter;
      r.verified = res.verified;
      if (res.evidence !== undefined) r.evidence = res.evidence;
      r.executedAt = this.now().toISOString();
      if (res.note) r.reason = `${res.note}; ${r.reason}`;
      if (res.verified) {
        r.status = 'executed';
        if (r.ttlMs) r.expiresAt = new Date(this.now().getTime() + r.ttlMs).toISOString();
      } else {
        r.status = 'failed';
        r.error = `${r.action} was applied but the platform's state does not show it`;
        await this.undoPartial(actuator, r);
      }
    } catch (err) {
      r.status = 'failed';
      r.error = errText(err);
      if (r.stateBefore !== undefined && !/no longer exists/.test(r.error))
        await this.undoPartial(actuator, r);
    }
    if (r.status === 'failed')
      log.warn('action failed', {
        id: r.id,
        action: r.action,
        target: r.target.name ?? r.target.id,
        error: r.error,
      });
    return this.records.put(r);
  }

  /** A failed action must not stay half applied (e.g. one network of two disconnected). */
  private async undoPartial(actuator: Actuator, r: StoredAction): Promise<void> {
    if (isReadOnly(r.action)) return;
    try {
      const out = (await actuator.rollback(r)) as RollbackOutcome | undefined;
      r.rollbackNote = ['partial effect undone', ...(out?.notes ?? [])].join('; ');
    } catch (err) {
      r.rollbackNote = `partial effect could not be undone: ${errText(err)}`;
    }
  }

  /**
   * Before a destructive action runs on approval, make sure evidence was taken: resolves with the
   * evidence record taken now, or undefined when none was needed.
   */
  private async ensureEvidence(r: StoredAction, known?: Inspected): Promise<StoredAction | undefined> {
    if (!isDestructive(r.action)) return undefined;
    const had = this.records.store
      .list({ target: r.target.id, action: 'capture_evidence', status: 'executed', limit: 1 })
      .find((e) => !r.corrKey || e.corrKey === r.corrKey);
    if (had) return undefined;
    const ev: StoredAction = {
      ...r,
      id: actionId(r.id, 'evidence'),
      action: 'capture_evidence',
      params: {},
      status: 'approved',
      reason: `evidence before ${r.action} (${r.id})`,
      createdAt: this.now().toISOString(),
      ttlMs: undefined,
      needsApproval: undefined,
    };
    return this.execute(this.records.put(ev), known);
  }

  /** A planned action, approved by a person: guards again, evidence first if needed, then execute. */
  async approve(id: string): Promise<ActionRecord> {
    const r = this.records.mustGet(id);
    if (r.status !== 'planned')
      throw statusError(`action ${r.id} is ${r.status}; only planned actions can be approved`, 409);
    const actuator = this.actuators.any(r.target);
    let known: Inspected | undefined;
    try {
      if (actuator) known = { state: await actuator.inspect(r.target) };
    } catch {
      // The failure is recorded by execute() below, which reads the target again for its reason.
    }
    const protectedBy = this.guards.protectedReason(
      r.target,
      known?.state,
      r.params?.allowProtectedNamespace === true,
    );
    r.reason = `approved; ${r.reason.replace(/^(monitor mode|dry run|awaiting approval)[^;]*; /, '')}`;
    r.mode = 'enforce';
    if (protectedBy) {
      r.status = 'skipped';
      r.reason = `${protectedBy} (${r.reason})`;
      return this.records.put(r);
    }
    const active = this.records.store.activeOn(r.target.id, r.action);
    if (active && active.id !== r.id && active.status !== 'planned') {
      r.status = 'skipped';
      r.reason = `already in effect as ${active.id} (${r.reason})`;
      return this.records.put(r);
    }
    const evidence = await this.ensureEvidence(r, known);
    if (evidence && evidence.status !== 'executed') {
      r.status = 'skipped';
      r.reason = `evidence could not be captured first (${evidence.error ?? evidence.status}); destructive step not taken`;
      return this.records.put(r);
    }
    r.status = 'approved';
    this.records.put(r);
    // The read above served the evidence capture if one ran; the action then reads the target anew.
    return this.execute(r, evidence ? undefined : known);
  }
}
