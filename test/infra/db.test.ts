import { describe, expect, it } from 'vitest';
import { migrate, openStore } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';

describe('store migrations', () => {
  it('applies each migration once, in order, and records it', () => {
    const db = openStore(':memory:');
    const schema = [
      { id: 'test_001', sql: 'CREATE TABLE t (x INTEGER)' },
      { id: 'test_002', sql: 'ALTER TABLE t ADD COLUMN y INTEGER' },
    ];
    migrate(db, schema);
    migrate(db, schema); // a second run applies nothing (the ALTER would fail if run twice)
    expect(() => db.prepare('INSERT INTO t (x, y) VALUES (1, 2)').run()).not.toThrow();
    const applied = db.prepare("SELECT id FROM schema_migrations WHERE id LIKE 'test_%' ORDER BY id").all();
    expect(applied).toEqual([{ id: 'test_001' }, { id: 'test_002' }]);
    db.close();
  });

  it('a store creates the tables it owns when it is built on a database', () => {
    const db = openStore(':memory:');
    expect(() => db.prepare('SELECT COUNT(*) FROM alerts').get()).toThrow(/no such table/);
    new AlertStore(db);
    expect(db.prepare('SELECT COUNT(*) AS n FROM alerts').get()).toEqual({ n: 0 });
    db.close();
  });

  it('a failing migration leaves no trace and names itself', () => {
    const db = openStore(':memory:');
    expect(() => migrate(db, [{ id: 'bad_001', sql: 'CREATE TABLE broken (' }])).toThrow();
    expect(db.prepare("SELECT id FROM schema_migrations WHERE id = 'bad_001'").get()).toBeUndefined();
    db.close();
  });
});

describe('a database shared between processes', () => {
  it('waits for another process holding the write lock instead of failing with "database is locked"', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { spawn } = await import('node:child_process');
    const path = join(mkdtempSync(join(tmpdir(), 'vigie-db-')), 'shared.db');
    const db = openStore(path);
    const alerts = new AlertStore(db);
    // Another process takes the write lock for 700 ms.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D=require('better-sqlite3');const d=new D(${JSON.stringify(path)});d.exec('BEGIN IMMEDIATE');` +
          `process.stdout.write('locked\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,700);d.exec('COMMIT');d.close();`,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => holder.once('exit', r));
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
    const t0 = Date.now();
    expect(() => alerts.setStatus('none', 'acknowledged')).not.toThrow();
    expect(Date.now() - t0).toBeGreaterThan(300);
    await exited;
    db.close();
  });
});

describe('a new database file', () => {
  it('is created readable and writable by its owner only, and so are its WAL files', async () => {
    const { mkdtempSync, statSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = join(mkdtempSync(join(tmpdir(), 'vigie-mode-')), 'sub', 'v.db');
    const old = process.umask(0o022);
    try {
      const db = openStore(path);
      new AlertStore(db);
      for (const f of [path, `${path}-wal`, `${path}-shm`])
        if (existsSync(f)) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      db.close();
    } finally {
      process.umask(old);
    }
  });
});
