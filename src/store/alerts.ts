import type Database from 'better-sqlite3';
import type { Alert } from '../model/alert.js';
import { migrate, type Db, type Migration } from '../infra/db.js';

export const ALERTS_SCHEMA: readonly Migration[] = [
  {
    id: '001_alerts',
    sql: `CREATE TABLE IF NOT EXISTS alerts (
     uuid TEXT PRIMARY KEY,
     time TEXT NOT NULL,
     rule TEXT NOT NULL,
     priority TEXT NOT NULL,
     category TEXT NOT NULL,
     detector TEXT NOT NULL,
     source TEXT NOT NULL,
     container_id TEXT,
     workload TEXT,
     namespace TEXT,
     incident TEXT,
     status TEXT NOT NULL DEFAULT 'open',
     json TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time DESC);
   CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule, time DESC);
   CREATE INDEX IF NOT EXISTS alerts_category ON alerts(category, time DESC);
   CREATE INDEX IF NOT EXISTS alerts_priority ON alerts(priority, time DESC);
   CREATE INDEX IF NOT EXISTS alerts_container ON alerts(container_id, time DESC);
   CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident);`,
  },
];

export interface AlertQuery {
  rule?: string;
  category?: string;
  priority?: string;
  container?: string;
  since?: string;
  limit?: number;
  offset?: number;
}

export class AlertStore {
  private ins;
  private stmts = new Map<string, Database.Statement>();
  private hasStmt?: Database.Statement;
  constructor(private readonly db: Db) {
    migrate(db, ALERTS_SCHEMA);
    this.ins = db.prepare(
      `INSERT OR IGNORE INTO alerts (uuid, time, rule, priority, category, detector, source, container_id, workload, namespace, incident, json)
       VALUES (@uuid, @time, @rule, @priority, @category, @detector, @source, @container_id, @workload, @namespace, @incident, @json)`,
    );
  }

  /** Idempotent by uuid: replays of at-least-once delivery never duplicate. */
  add(a: Alert): void {
    const r = this.ins.run({
      uuid: a.uuid,
      time: a.time,
      rule: a.rule,
      priority: a.priority,
      category: a.vigie.category,
      detector: a.vigie.detector,
      source: a.source,
      container_id: a.vigie.entities.container?.id ?? null,
      workload: a.vigie.entities.workload ?? a.vigie.entities.k8s?.workload ?? null,
      namespace: a.vigie.entities.k8s?.namespace ?? null,
      incident: a.vigie.incident ?? null,
      json: JSON.stringify(a),
    });
    if (this.counted) this.counted.n += r.changes;
  }

  get(uuid: string): Alert | undefined {
    const r = this.db.prepare('SELECT json FROM alerts WHERE uuid = ?').get(uuid) as
      { json: string } | undefined;
    return r ? (JSON.parse(r.json) as Alert) : undefined;
  }

  list(q: AlertQuery = {}): Alert[] {
    return this.rows(q).map((r) => JSON.parse(r.json) as Alert);
  }

  /** The stored JSON texts as one JSON array, without parsing them (the API's hot path). */
  listJson(q: AlertQuery = {}): string {
    return `[${this.rows(q)
      .map((r) => r.json)
      .join(',')}]`;
  }

  private rows(q: AlertQuery): { json: string }[] {
    const { where, params } = this.where(q);
    const sql = `SELECT json FROM alerts ${where}
                 ORDER BY time DESC LIMIT @limit OFFSET @offset`;
    params.limit = q.limit ?? 100;
    params.offset = q.offset ?? 0;
    let stmt = this.stmts.get(sql);
    if (!stmt) this.stmts.set(sql, (stmt = this.db.prepare(sql)));
    return stmt.all(params) as { json: string }[];
  }

  /**
   * How many stored alerts match the filters of `q` (its limit and offset aside): lists say what they
   * leave out. Without filters, the cached `count()`.
   */
  countMatching(q: AlertQuery = {}): number {
    const { where, params } = this.where(q);
    if (!where) return this.count();
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM alerts ${where}`).get(params) as { n: number }).n;
  }

  private where(q: AlertQuery): { where: string; params: Record<string, unknown> } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const filters: [keyof AlertQuery, string][] = [
      ['rule', 'rule = @rule'],
      ['category', 'category = @category'],
      ['priority', 'priority = @priority'],
      ['container', 'container_id = @container'],
      ['since', 'time >= @since'],
    ];
    for (const [key, clause] of filters) {
      if (q[key] === undefined) continue;
      where.push(clause);
      params[key] = q[key];
    }
    return { where: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
  }

  private counted?: { n: number; at: number };
  /**
   * Number of stored alerts. COUNT(*) walks an index (tens of ms at a million rows), so the figure
   * is cached for a second: list endpoints call it on every page.
   */
  count(maxAgeMs = 1000): number {
    const now = Date.now();
    if (!this.counted || now - this.counted.at > maxAgeMs) {
      this.counted = {
        n: (this.db.prepare('SELECT COUNT(*) AS n FROM alerts').get() as { n: number }).n,
        at: now,
      };
    }
    return this.counted.n;
  }

  setStatus(uuid: string, status: string): boolean {
    return this.db.prepare('UPDATE alerts SET status = ? WHERE uuid = ?').run(status, uuid).changes > 0;
  }

  /** For alerts stored before they were correlated (`vigie incidents build`); the live path stores once. */
  setIncident(uuid: string, incident: string): void {
    this.db
      .prepare("UPDATE alerts SET incident = ?, json = json_set(json, '$.vigie.incident', ?) WHERE uuid = ?")
      .run(incident, incident, uuid);
  }

  has(uuid: string): boolean {
    this.hasStmt ??= this.db.prepare('SELECT 1 FROM alerts WHERE uuid = ?');
    return this.hasStmt.get(uuid) !== undefined;
  }
}
