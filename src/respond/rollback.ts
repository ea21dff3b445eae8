/**
 * Undoing actions: on request, when their TTL expires, and at start-up for actions a restart
 * interrupted (rolled back to their recorded state, never left half done).
 */
import { isReadOnly, type ActionRecord } from '../model/action.js';
import type { StoredAction } from '../store/actions.js';
import { logger } from '../util/log.js';
import type { Actuators, Executor } from './execute.js';
import { errText, statusError, type ActionRecords } from './records.js';
import type { RollbackOutcome } from './types.js';

const log = logger('respond');

export class Rollbacks {
  constructor(
    private readonly records: ActionRecords,
    private readonly actuators: Actuators,
    private readonly executor: Executor,
    private readonly now: () => Date,
  ) {}

  private async undo(
    r: StoredAction,
    success: 'rolled_back' | 'expired',
    why: string,
  ): Promise<StoredAction> {
    const actuator = this.actuators.for(r.target, r.action) ?? this.actuators.any(r.target);
    if (!actuator) {
      r.status = 'rollback_failed';
      r.error = `no ${r.target.platform} actuator to roll back ${r.action}`;
      return this.records.put(r);
    }
    try {
      const out = (await actuator.rollback(r)) as RollbackOutcome | undefined;
      const restored = out?.restored !== false;
      r.status = restored ? success : 'rollback_failed';
      r.rolledBackAt = this.now().toISOString();
      r.stateRolledBack = out?.state ?? out;
      if (out?.notes?.length) r.rollbackNote = out.notes.join('; ');
      if (!restored) r.error = 'rollback ran but the platform does not show the previous state';
      r.reason = `${why}; ${r.reason}`;
    } catch (err) {
      r.status = 'rollback_failed';
      r.error = errText(err);
      r.reason = `${why}; ${r.reason}`;
    }
    if (r.status === 'rollback_failed') log.warn('rollback failed', { id: r.id, error: r.error });
    return this.records.put(r);
  }

  /** A rollback a person asked for. */
  async request(id: string): Promise<ActionRecord> {
    const r = this.records.mustGet(id);
    if (isReadOnly(r.action))
      throw statusError(`action ${r.id} (${r.action}) changed nothing; nothing to roll back`, 409);
    if (r.status !== 'executed' && r.status !== 'rollback_failed')
      throw statusError(`action ${r.id} is ${r.status}; only executed actions can be rolled back`, 409);
    return this.undo(r, 'rolled_back', 'rollback requested');
  }

  /** Lift every action whose TTL has passed at `at`. */
  async expire(at: Date): Promise<ActionRecord[]> {
    const out: ActionRecord[] = [];
    for (const r of this.records.store.expired(at.toISOString())) {
      out.push(await this.undo(r, 'expired', `TTL expired at ${r.expiresAt}`));
    }
    return out;
  }

  /**
   * Start-up: an action left `executing` was interrupted between its recorded state and its
   * verification. It is rolled back to that state (rollback is idempotent), never left half done.
   * An action left `approved` never started: it is executed now.
   */
  async recover(): Promise<ActionRecord[]> {
    const out: ActionRecord[] = [];
    for (const r of this.records.store.byStatus(['executing', 'approved'])) {
      if (r.status === 'approved') {
        log.info('resuming an approved action interrupted before it ran', { id: r.id });
        out.push(await this.executor.execute(r));
        continue;
      }
      if (r.stateBefore === undefined || isReadOnly(r.action)) {
        r.status = 'failed';
        r.error = 'interrupted by a restart before anything was changed';
        out.push(this.records.put(r));
        continue;
      }
      log.info('rolling back an action interrupted while executing', { id: r.id, action: r.action });
      const done = await this.undo(
        r,
        'rolled_back',
        'interrupted by a restart while executing; restoring the recorded state',
      );
      if (done.status === 'rollback_failed' && /no longer exists/.test(done.error ?? '')) {
        done.status = 'failed';
        this.records.put(done);
      }
      out.push(done);
    }
    return out;
  }
}
