import { describe, expect, it } from 'vitest';
import { openStore, registerMigration } from '../src/store/db.js';

describe('store migrations', () => {
  it('applies a migration registered after the store was opened', () => {
    const db = openStore(':memory:');
    registerMigration('test_late_table', 'CREATE TABLE late_table (x INTEGER)');
    expect(() => db.prepare('INSERT INTO late_table (x) VALUES (1)').run()).not.toThrow();
    const applied = db.prepare("SELECT id FROM schema_migrations WHERE id = 'test_late_table'").all();
    expect(applied).toHaveLength(1);
    db.close();
    // A closed store is forgotten, not written to.
    expect(() => registerMigration('test_after_close', 'CREATE TABLE t2 (x INTEGER)')).not.toThrow();
  });
});
