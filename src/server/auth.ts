/**
 * Bearer tokens with roles (viewer < responder < admin), stored hashed in SQLite.
 * A token is shown once, at creation; only its SHA-256 is kept, so a leaked database leaks no token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { migrate, type Db, type Migration } from '../infra/db.js';

export const ROLES = ['viewer', 'responder', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export const TOKENS_SCHEMA: readonly Migration[] = [
  {
    id: '010_api_tokens',
    sql: `CREATE TABLE IF NOT EXISTS api_tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     hash TEXT NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT,
     revoked INTEGER NOT NULL DEFAULT 0
   );`,
  },
];

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  lastUsedAt?: string;
  revoked: boolean;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class TokenStore {
  constructor(private readonly db: Db) {
    migrate(db, TOKENS_SCHEMA);
  }

  /** Returns the clear token; it is not retrievable later. */
  create(name: string, role: Role): { token: string; info: TokenInfo } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const token = `vg_${id}_${secret}`;
    const createdAt = new Date().toISOString();
    this.db
      .prepare('INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, role, sha256(token).toString('hex'), createdAt);
    return { token, info: { id, name, role, createdAt, revoked: false } };
  }

  verify(token: string | undefined): TokenInfo | undefined {
    if (!token) return undefined;
    const m = /^vg_([0-9a-f]{12})_[A-Za-z0-9_-]+$/.exec(token);
    if (!m) return undefined;
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ? AND revoked = 0').get(m[1]) as
      | {
          id: string;
          name: string;
          role: Role;
          hash: string;
          created_at: string;
          last_used_at: string | null;
        }
      | undefined;
    if (!row) return undefined;
    const want = Buffer.from(row.hash, 'hex');
    const got = sha256(token);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    this.db
      .prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?')
      .run(new Date().toISOString(), row.id);
    return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at, revoked: false };
  }

  list(): TokenInfo[] {
    return (
      this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at').all() as {
        id: string;
        name: string;
        role: Role;
        created_at: string;
        last_used_at: string | null;
        revoked: number;
      }[]
    ).map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at ?? undefined,
      revoked: r.revoked === 1,
    }));
  }

  revoke(id: string): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked = 1 WHERE id = ?').run(id).changes > 0;
  }

  /** Whether token `id` exists and is not revoked; read on every call, so it sees another process's revocation. */
  isActive(id: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM api_tokens WHERE id = ? AND revoked = 0').get(id);
  }

  hasAdmin(): boolean {
    return !!this.db.prepare("SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked = 0").get();
  }
}
