import { describe, expect, it } from 'vitest';
import { migrate, openStore } from '../src/infra/db.js';
import { AlertStore } from '../src/store/alerts.js';

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
