/**
 * Where each followed file was read up to, kept in the process's database so that a restart resumes
 * after the last line handed on instead of reading the file again (like Fluent Bit's tail database or
 * Promtail's positions file). A position names the file by device and inode, and by a digest of its
 * first bytes: a file renamed away and replaced (rotation) has another inode, and a file deleted and
 * recreated may get the same inode back but not the same first bytes; either is read from its start.
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
     head_length INTEGER NOT NULL,
     head_sha256 TEXT NOT NULL,
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
  /** How many of the file's first bytes `headSha256` covers (at most the offset). */
  headLength: number;
  /** SHA-256 (hex) of the file's first `headLength` bytes. */
  headSha256: string;
}

interface Row {
  dev: string;
  ino: string;
  offset: number;
  head_length: number;
  head_sha256: string;
}

/** The positions of the files the sources follow, one row per source and path. */
export class FilePositions {
  private readonly getStmt;
  private readonly putStmt;

  constructor(db: Db) {
    migrate(db, FILE_POSITIONS_SCHEMA);
    this.getStmt = db.prepare<[string, string], Row>(
      'SELECT dev, ino, offset, head_length, head_sha256 FROM file_positions WHERE source = ? AND path = ?',
    );
    this.putStmt = db.prepare<[string, string, string, string, number, number, string, string]>(
      `INSERT INTO file_positions (source, path, dev, ino, offset, head_length, head_sha256, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, path) DO UPDATE SET
         dev = excluded.dev, ino = excluded.ino, offset = excluded.offset, head_length = excluded.head_length,
         head_sha256 = excluded.head_sha256, updated_at = excluded.updated_at`,
    );
  }

  get(source: string, path: string): FilePosition | undefined {
    const r = this.getStmt.get(source, path);
    if (!r) return undefined;
    return {
      dev: r.dev,
      ino: r.ino,
      offset: Number(r.offset),
      headLength: Number(r.head_length),
      headSha256: r.head_sha256,
    };
  }

  save(source: string, path: string, p: FilePosition): void {
    this.putStmt.run(
      source,
      path,
      p.dev,
      p.ino,
      p.offset,
      p.headLength,
      p.headSha256,
      new Date().toISOString(),
    );
  }
}
