/**
 * Action records (respond/): one row per planned or executed action, the full record as JSON beside
 * the columns the guards and the API filter on. Ids are derived from the alert, the policy step and
 * the target, so a replayed alert (at-least-once delivery) finds its records instead of adding new ones.
 */
import type { ActionRecord, ActionStatus } from '../model/action.js';
import { migrate, type Db, type Migration } from '../infra/db.js';

export const ACTIONS_SCHEMA: readonly Migration[] = [
  {
    id: 'actions_001',
    sql: `CREATE TABLE IF NOT EXISTS actions (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     action TEXT NOT NULL,
     status TEXT NOT NULL,
     mode TEXT NOT NULL,
     platform TEXT NOT NULL,
     target_id TEXT NOT NULL,
     target_name TEXT,
     incident TEXT,
     corr_key TEXT,
     alert TEXT,
     policy TEXT,
     expires_at TEXT,
     json TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS actions_created ON actions(created_at DESC);
   CREATE INDEX IF NOT EXISTS actions_status ON actions(status, expires_at);
   CREATE INDEX IF NOT EXISTS actions_target ON actions(target_id, action, status);
   CREATE INDEX IF NOT EXISTS actions_corr ON actions(corr_key);`,
  },
];

/** What the engine stores beside the public record. */
export interface StoredAction extends ActionRecord {
  /** Incident id, or container+rule+time-window when the alert has no incident. */
  corrKey?: string;
  dryRun?: boolean;
  /** Set when approval is required before an enforce-mode action runs. */
  needsApproval?: boolean;
  /** Docker cannot always put back what was there (e.g. unset a memory limit); said here. */
  rollbackNote?: string;
  /** TTL of the policy step; expiresAt is set from it when the action is executed. */
  ttlMs?: number;
  /** State read back after a rollback or TTL expiry. */
  stateRolledBack?: unknown;
}

export interface ActionQuery {
  status?: string;
  action?: string;
  target?: string;
  incident?: string;
  alert?: string;
  limit?: number;
  offset?: number;
}

export class ActionStore {
  private readonly upsertStmt;
  private readonly getStmt;

  constructor(private readonly db: Db) {
    migrate(db, ACTIONS_SCHEMA);
    this.upsertStmt = db.prepare(
      `INSERT INTO actions (id, created_at, updated_at, action, status, mode, platform, target_id, target_name,
                            incident, corr_key, alert, policy, expires_at, json)
       VALUES (@id, @created_at, @updated_at, @action, @status, @mode, @platform, @target_id, @target_name,
               @incident, @corr_key, @alert, @policy, @expires_at, @json)
       ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, status = excluded.status,
         mode = excluded.mode, expires_at = excluded.expires_at, json = excluded.json`,
    );
    this.getStmt = db.prepare('SELECT json FROM actions WHERE id = ?');
  }

  put(r: StoredAction): void {
    this.upsertStmt.run({
      id: r.id,
      created_at: r.createdAt,
      updated_at: new Date().toISOString(),
      action: r.action,
      status: r.status,
      mode: r.mode,
      platform: r.target.platform,
      target_id: r.target.id,
      target_name: r.target.name ?? null,
      incident: r.incident ?? null,
      corr_key: r.corrKey ?? null,
      alert: r.alert ?? null,
      policy: r.policy ?? null,
      expires_at: r.expiresAt ?? null,
      json: JSON.stringify(r),
    });
  }

  get(id: string): StoredAction | undefined {
    const row = this.getStmt.get(id) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredAction) : undefined;
  }

  /** Ids are unique; a prefix of at least 6 characters is accepted as a convenience for the CLI. */
  resolve(idOrPrefix: string): StoredAction | undefined {
    const exact = this.get(idOrPrefix);
    if (exact || idOrPrefix.length < 6) return exact;
    const rows = this.db
      .prepare("SELECT json FROM actions WHERE id LIKE ? ESCAPE '\\' LIMIT 2")
      .all(idOrPrefix.replace(/[%_\\]/g, (c) => '\\' + c) + '%') as { json: string }[];
    return rows.length === 1 ? (JSON.parse(rows[0].json) as StoredAction) : undefined;
  }

  list(q: ActionQuery = {}): StoredAction[] {
    const { where, params } = this.where(q);
    params.limit = q.limit ?? 100;
    params.offset = q.offset ?? 0;
    const sql = `SELECT json FROM actions ${where}
                 ORDER BY created_at DESC, id LIMIT @limit OFFSET @offset`;
    return (this.db.prepare(sql).all(params) as { json: string }[]).map(
      (r) => JSON.parse(r.json) as StoredAction,
    );
  }

  /** How many records match the filters of `q` (its limit and offset aside): lists say what they leave out. */
  count(q: ActionQuery = {}): number {
    const { where, params } = this.where(q);
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM actions ${where}`).get(params) as { n: number }).n;
  }

  private where(q: ActionQuery): { where: string; params: Record<string, unknown> } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const filters: [keyof ActionQuery, string][] = [
      ['status', 'status = @status'],
      ['action', 'action = @action'],
      ['target', '(target_id = @target OR target_name = @target)'],
      ['incident', 'incident = @incident'],
      ['alert', 'alert = @alert'],
    ];
    for (const [key, clause] of filters) {
      if (q[key] === undefined) continue;
      where.push(clause);
      params[key] = q[key];
    }
    return { where: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
  }

  byStatus(statuses: ActionStatus[]): StoredAction[] {
    const marks = statuses.map(() => '?').join(',');
    return (
      this.db
        .prepare(`SELECT json FROM actions WHERE status IN (${marks}) ORDER BY created_at`)
        .all(...statuses) as {
        json: string;
      }[]
    ).map((r) => JSON.parse(r.json) as StoredAction);
  }

  /** Executed actions whose TTL has passed. */
  expired(nowIso: string): StoredAction[] {
    return (
      this.db
        .prepare(
          "SELECT json FROM actions WHERE status = 'executed' AND expires_at IS NOT NULL AND expires_at <= ?",
        )
        .all(nowIso) as { json: string }[]
    ).map((r) => JSON.parse(r.json) as StoredAction);
  }

  /** State-changing actions created since `sinceIso` that counted (not skipped), for the rate limit. */
  countActingSince(sinceIso: string, excluded: string[]): number {
    const marks = excluded.map(() => '?').join(',');
    return (
      this.db
        .prepare(
          `SELECT COUNT(*) AS n FROM actions WHERE created_at >= ? AND status NOT IN ('skipped')
           AND action NOT IN (${marks})`,
        )
        .get(sinceIso, ...excluded) as { n: number }
    ).n;
  }

  /** Actions (not skipped) and distinct targets already spent under one correlation key. */
  spentFor(corrKey: string, excluded: string[]): { actions: number; targets: string[] } {
    const marks = excluded.map(() => '?').join(',');
    const rows = this.db
      .prepare(
        `SELECT target_id FROM actions WHERE corr_key = ? AND status NOT IN ('skipped')
         AND action NOT IN (${marks})`,
      )
      .all(corrKey, ...excluded) as { target_id: string }[];
    return { actions: rows.length, targets: [...new Set(rows.map((r) => r.target_id))] };
  }

  /** The latest action of this type on the target under one correlation key, with one of `statuses`. */
  latestFor(corrKey: string, targetId: string, action: string, statuses: string[]): StoredAction | undefined {
    const marks = statuses.map(() => '?').join(',');
    const row = this.db
      .prepare(
        `SELECT json FROM actions WHERE corr_key = ? AND target_id = ? AND action = ? AND status IN (${marks})
         ORDER BY created_at DESC LIMIT 1`,
      )
      .get(corrKey, targetId, action, ...statuses) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredAction) : undefined;
  }

  /** An action of this type currently in effect on the target (executed, not yet lifted). */
  activeOn(targetId: string, action: string): StoredAction | undefined {
    const row = this.db
      .prepare(
        `SELECT json FROM actions WHERE target_id = ? AND action = ? AND status IN ('executed', 'executing', 'approved', 'planned')
         ORDER BY created_at DESC LIMIT 1`,
      )
      .get(targetId, action) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredAction) : undefined;
  }
}
