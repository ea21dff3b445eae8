/**
 * Where each followed file was read up to, kept in the process's database so that a restart resumes
 * after the last line handed on instead of reading the file again (like Fluent Bit's tail database or
 * Promtail's positions file). A position names the file by device and inode: a file renamed away and
 * replaced (rotation) has another inode, and is then read from its start.
 */
import { migrate, type Db, type Migration } from '../infra/db.js';

export const FILE_POSITIONS_SCHEMA: readonly Migration[] = [
  {
    id: 'file_positions_001',
    sql: `CREATE TABLE IF NOT EXISTS file_positions (
     source TEXT NOT NULL,
     path TEXT NOT NULL,
     dev TEXT NOT NULL,
     ino TEXT NOT NULL,
     offset INTEGER NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (source, path)
   );`,
  },
];

/** A place in one file: its identity and the byte offset just after the last line handed on. */
export interface FilePosition {
  /** Device and inode, as decimal strings (an inode may not fit a double). */
  dev: string;
  ino: string;
  offset: number;
}

interface Row {
  dev: string;
  ino: string;
  offset: number;
}

/** The positions of the files the sources follow, one row per source and path. */
export class FilePositions {
  private readonly getStmt;
  private readonly putStmt;

  constructor(db: Db) {
    migrate(db, FILE_POSITIONS_SCHEMA);
    this.getStmt = db.prepare<[string, string], Row>(
      'SELECT dev, ino, offset FROM file_positions WHERE source = ? AND path = ?',
    );
    this.putStmt = db.prepare<[string, string, string, string, number, string]>(
      `INSERT INTO file_positions (source, path, dev, ino, offset, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, path) DO UPDATE SET
         dev = excluded.dev, ino = excluded.ino, offset = excluded.offset, updated_at = excluded.updated_at`,
    );
  }

  get(source: string, path: string): FilePosition | undefined {
    const r = this.getStmt.get(source, path);
    return r ? { dev: r.dev, ino: r.ino, offset: Number(r.offset) } : undefined;
  }

  save(source: string, path: string, p: FilePosition): void {
    this.putStmt.run(source, path, p.dev, p.ino, p.offset, new Date().toISOString());
  }
}
