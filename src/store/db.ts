/**
 * SQLite store (better-sqlite3). Each domain owns its tables through a migration registered with
 * `registerMigration`; `openStore` applies every registered migration once, in registration order.
 * Modules loaded after a store was opened (stages loaded lazily) register late: their migrations are
 * applied at once to every store still open, so no caller has to remember to.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

interface Migration {
  id: string;
  sql: string;
}
const migrations: Migration[] = [];
const openStores = new Set<Db>();

export function registerMigration(id: string, sql: string): void {
  if (migrations.some((m) => m.id === id)) return;
  migrations.push({ id, sql });
  for (const db of openStores) {
    if (db.open) applyMigrations(db);
    else openStores.delete(db);
  }
}

export function openStore(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  applyMigrations(db);
  openStores.add(db);
  const close = db.close.bind(db);
  db.close = () => {
    openStores.delete(db);
    return close();
  };
  return db;
}

/** Apply migrations registered after the store was opened (modules loaded lazily). */
export function applyMigrations(db: Db): void {
  const done = new Set(
    (db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id),
  );
  const ins = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      ins.run(m.id, new Date().toISOString());
    })();
  }
}

export function defaultDbPath(): string {
  return process.env.VIGIE_DB ?? '.vigie/vigie.db';
}
