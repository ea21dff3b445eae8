/**
 * What GET /readyz checks: the database takes a write (one row rewritten in its own table: a full
 * disk, a read-only or vanished volume, a lock held past the busy timeout all fail it), and whatever
 * the process adds (the brain: its NATS consumer is attached). Each failed check is one reason.
 */
import { migrate, type Db, type Migration } from '../infra/db.js';

export const READINESS_MIGRATIONS: readonly Migration[] = [
  {
    id: 'server-readiness-1',
    sql: 'CREATE TABLE readiness_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT NOT NULL)',
  },
];

/** Reasons the process is not ready; empty when it is. */
export type ReadinessCheck = () => Promise<string[]>;

export function databaseWritable(db: Db): ReadinessCheck {
  let write: (() => void) | undefined;
  return async () => {
    try {
      if (!write) {
        migrate(db, READINESS_MIGRATIONS);
        const stmt = db.prepare(
          'INSERT INTO readiness_probe (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at',
        );
        write = () => void stmt.run(new Date().toISOString());
      }
      write();
      return [];
    } catch (e) {
      return [`database not writable: ${(e as Error).message}`];
    }
  };
}

/** All checks' reasons, in order; a check that throws is a reason too. */
export function allOf(checks: readonly ReadinessCheck[]): ReadinessCheck {
  return async () => {
    const out: string[] = [];
    for (const c of checks) {
      try {
        out.push(...(await c()));
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return out;
  };
}
