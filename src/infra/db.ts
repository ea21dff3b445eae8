/**
 * SQLite (better-sqlite3), the ground floor of storage. A table belongs to the module that uses it:
 * that module exports its migrations and applies them (`migrate`) when its store is constructed, so a
 * database opened anywhere gets exactly the tables of the stores built on it, and no registry is
 * shared between modules. Migrations are recorded by id in `schema_migrations` and applied once.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/** How long a write waits for another process's transaction on the same database. */
export const BUSY_TIMEOUT_MS = 10_000;

export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export function openStore(path: string): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    // The database holds alerts, evidence and token hashes: readable by its owner only. SQLite gives
    // its -wal and -shm files the database file's mode.
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // WAL with NORMAL sync: a commit survives the process being killed (not a power cut).
  db.pragma('synchronous = NORMAL');
  // Several Vigie processes may share one database (`vigie serve` beside `vigie run`, a CLI call):
  // a writer waits for another's transaction instead of failing with "database is locked".
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  return db;
}

/** Apply, in order, the migrations of `migrations` that this database has not seen yet. */
export function migrate(db: Db, migrations: readonly Migration[]): void {
  const seen = db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?');
  const ins = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  for (const m of migrations) {
    if (seen.get(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      ins.run(m.id, new Date().toISOString());
    })();
  }
}

export function defaultDbPath(): string {
  return process.env.VIGIE_DB ?? '.vigie/vigie.db';
}
