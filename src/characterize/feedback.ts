/**
 * Operator feedback on alerts: acknowledge, or mark as a false positive. A false positive becomes an
 * exception so the same alert does not return: scoped to the workload (this rule never alerts on this
 * workload again) or, for `baseline` scope, to the one novelty it reported (this value is now part of
 * what is normal for the workload). Every exception is recorded with who/why/when and can be undone.
 *
 * The live pipeline applies them through `createAlertFilter(db)`: `(alert) => boolean`, false when an
 * active exception suppresses the alert.
 */
import { createHash } from 'node:crypto';
import type { Alert } from '../model/alert.js';
import { workloadKey, type ContainerRef } from '../model/event.js';
import { AlertStore } from '../store/alerts.js';
import { migrate, type Db, type Migration } from '../infra/db.js';

export const FEEDBACK_SCHEMA: readonly Migration[] = [
  {
    id: 'alert_exceptions_001',
    sql: `CREATE TABLE IF NOT EXISTS alert_exceptions (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     alert_uuid TEXT NOT NULL,
     rule TEXT NOT NULL,
     workload TEXT NOT NULL,
     scope TEXT NOT NULL,
     detail TEXT,
     reason TEXT,
     active INTEGER NOT NULL DEFAULT 1,
     removed_at TEXT
   );
   CREATE INDEX IF NOT EXISTS alert_exceptions_active ON alert_exceptions(active, rule);`,
  },
];

export type ExceptionScope = 'workload' | 'baseline';

export interface AlertException {
  id: string;
  createdAt: string;
  alertUuid: string;
  rule: string;
  workload: string;
  scope: ExceptionScope;
  /** For baseline scope: the novelty (binary, n-gram, peer, ...) that is now accepted. */
  detail?: string;
  reason?: string;
  active: boolean;
  removedAt?: string;
}

/**
 * The workload an alert belongs to: the key the model computed when the alert was made
 * (model/event.ts#workloadKey: namespace/owner in Kubernetes, image+command in Docker), or the same
 * function over the alert's entities for alerts made elsewhere.
 */
export function alertWorkload(a: Alert): string {
  const e = a.vigie.entities;
  const fromDetector = a.output_fields['vigie.workload'];
  if (typeof fromDetector === 'string' && fromDetector) return fromDetector;
  if (e.workload) return e.workload;
  if ((e.k8s?.namespace && e.k8s.workload) || e.container?.image)
    return workloadKey({ container: e.container as ContainerRef | undefined, k8s: e.k8s })!;
  if (e.container?.name) return `container:${e.container.name.replace(/^\//, '')}`;
  if (e.container?.id) return `container:${e.container.id.slice(0, 12)}`;
  return `host:${e.host ?? a.hostname}`;
}

/** What a baseline alert reported as new; the exception accepts exactly that. */
export function noveltyOf(a: Alert): string {
  const f = a.output_fields;
  for (const k of [
    'vigie.never_seen',
    'vigie.novelty',
    'value',
    'proc.exepath',
    'fd.name',
    'peer',
    'ngram',
  ]) {
    const v = f[k];
    if (v !== undefined && v !== null && v !== '') return `${k}=${String(v)}`;
  }
  return `output=${a.output}`;
}

interface Row {
  id: string;
  created_at: string;
  alert_uuid: string;
  rule: string;
  workload: string;
  scope: string;
  detail: string | null;
  reason: string | null;
  active: number;
  removed_at: string | null;
}

const fromRow = (r: Row): AlertException => ({
  id: r.id,
  createdAt: r.created_at,
  alertUuid: r.alert_uuid,
  rule: r.rule,
  workload: r.workload,
  scope: r.scope as ExceptionScope,
  detail: r.detail ?? undefined,
  reason: r.reason ?? undefined,
  active: r.active === 1,
  removedAt: r.removed_at ?? undefined,
});

export class FeedbackStore {
  readonly alerts: AlertStore;
  constructor(private readonly db: Db) {
    migrate(db, FEEDBACK_SCHEMA);
    this.alerts = new AlertStore(db);
  }

  /** An alert by uuid or unique uuid prefix. */
  resolveAlert(id: string): Alert | undefined {
    const exact = this.alerts.get(id);
    if (exact) return exact;
    const rows = this.db
      .prepare('SELECT uuid FROM alerts WHERE uuid LIKE ? LIMIT 2')
      .all(`${id.replace(/[%_]/g, '')}%`) as { uuid: string }[];
    return rows.length === 1 ? this.alerts.get(rows[0].uuid) : undefined;
  }

  status(uuid: string): string | undefined {
    return (
      this.db.prepare('SELECT status FROM alerts WHERE uuid = ?').get(uuid) as { status: string } | undefined
    )?.status;
  }

  ack(id: string): Alert {
    const a = this.mustAlert(id);
    this.alerts.setStatus(a.uuid, 'acked');
    return a;
  }

  falsePositive(id: string, scope: ExceptionScope = 'workload', reason?: string): AlertException {
    const a = this.mustAlert(id);
    const workload = alertWorkload(a);
    const detail = scope === 'baseline' ? noveltyOf(a) : undefined;
    const exId =
      'exc-' +
      createHash('sha256')
        .update(`${a.rule}\u0000${workload}\u0000${scope}\u0000${detail ?? ''}`)
        .digest('hex')
        .slice(0, 12);
    const now = new Date().toISOString();
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO alert_exceptions (id, created_at, alert_uuid, rule, workload, scope, detail, reason, active)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
           ON CONFLICT(id) DO UPDATE SET active = 1, removed_at = NULL, reason = excluded.reason, alert_uuid = excluded.alert_uuid`,
          )
          .run(exId, now, a.uuid, a.rule, workload, scope, detail ?? null, reason ?? null);
        this.alerts.setStatus(a.uuid, 'false_positive');
      })
      .immediate();
    return this.getException(exId)!;
  }

  /** Undo: by exception id, or by the alert it was made from. The alert returns to `open`. */
  unexcept(id: string): AlertException[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM alert_exceptions WHERE active = 1 AND (id = ? OR alert_uuid = ? OR alert_uuid LIKE ?)',
      )
      .all(id, id, `${id.replace(/[%_]/g, '')}%`) as Row[];
    if (rows.length === 0)
      throw new Error(`no active exception for "${id}" (an exception id or the alert it was made from)`);
    const now = new Date().toISOString();
    for (const r of rows) {
      this.db.prepare('UPDATE alert_exceptions SET active = 0, removed_at = ? WHERE id = ?').run(now, r.id);
      if (this.status(r.alert_uuid) === 'false_positive') this.alerts.setStatus(r.alert_uuid, 'open');
    }
    return rows.map((r) => ({ ...fromRow(r), active: false, removedAt: now }));
  }

  getException(id: string): AlertException | undefined {
    const r = this.db.prepare('SELECT * FROM alert_exceptions WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  exceptions(all = false): AlertException[] {
    return (
      this.db
        .prepare(`SELECT * FROM alert_exceptions ${all ? '' : 'WHERE active = 1'} ORDER BY created_at DESC`)
        .all() as Row[]
    ).map(fromRow);
  }

  private mustAlert(id: string): Alert {
    const a = this.resolveAlert(id);
    if (!a) throw new Error(`no alert "${id}" (give its uuid or a unique prefix; see \`vigie alerts list\`)`);
    return a;
  }
}

/**
 * The live engine's filter: `(alert) => boolean`, false when an active exception suppresses it.
 * Active exceptions are re-read at most every `refreshMs` (a small indexed query), so an exception
 * added from the CLI while Vigie runs applies within that delay.
 */
export function createAlertFilter(db: Db, refreshMs = 1000): (alert: Alert) => boolean {
  migrate(db, FEEDBACK_SCHEMA);
  const stmt = db.prepare('SELECT * FROM alert_exceptions WHERE active = 1');
  let byRule = new Map<string, AlertException[]>();
  let loadedAt = -Infinity;
  return (alert: Alert) => {
    const now = Date.now();
    if (now - loadedAt >= refreshMs) {
      const m = new Map<string, AlertException[]>();
      for (const r of stmt.all() as Row[]) {
        const e = fromRow(r);
        const l = m.get(e.rule) ?? [];
        l.push(e);
        m.set(e.rule, l);
      }
      byRule = m;
      loadedAt = now;
    }
    const list = byRule.get(alert.rule);
    if (!list) return true;
    const wl = alertWorkload(alert);
    for (const e of list) {
      if (e.workload !== wl) continue;
      if (e.scope === 'workload') return false;
      if (e.scope === 'baseline' && e.detail === noveltyOf(alert)) return false;
    }
    return true;
  };
}
