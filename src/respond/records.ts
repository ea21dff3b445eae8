/** The action records as the response engine keeps them: stored, announced, looked up. */
import type { ActionRecord } from '../model/action.js';
import type { Db } from '../infra/db.js';
import { ActionStore, type ActionQuery, type StoredAction } from '../store/actions.js';
import { logger } from '../util/log.js';

const log = logger('respond');

export const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An error the API and the CLI report with this HTTP status. */
export const statusError = (message: string, statusCode: number): Error =>
  Object.assign(new Error(message), { statusCode });

export class ActionRecords {
  readonly store: ActionStore;

  constructor(
    db: Db,
    private readonly onRecord?: (r: ActionRecord) => void,
  ) {
    this.store = new ActionStore(db);
  }

  /** Store the record as it is now and tell the listener. */
  put(r: StoredAction): StoredAction {
    this.store.put(r);
    try {
      this.onRecord?.(r);
    } catch (err) {
      log.warn('onRecord callback failed', { error: errText(err) });
    }
    return r;
  }

  mustGet(id: string): StoredAction {
    const r = this.store.resolve(id);
    if (!r) throw statusError(`action ${id} not found`, 404);
    return r;
  }

  get(id: string): StoredAction | undefined {
    return this.store.resolve(id);
  }

  /** How many records match `filter` (its limit and offset aside). */
  count(filter: ActionQuery = {}): number {
    return this.store.count(filter);
  }

  /** Records without their evidence body (see get()): lists stay small for the API and the CLI. */
  list(filter: ActionQuery = {}): ActionRecord[] {
    return this.store
      .list(filter)
      .map((r) =>
        r.evidence === undefined
          ? r
          : { ...r, evidence: { captured: true, bytes: JSON.stringify(r.evidence).length } },
      );
  }
}
