import type { Command } from 'commander';
import { openStore, defaultDbPath } from '../../infra/db.js';
import { ROLES, TokenStore, type Role } from '../../server/auth.js';

export function register(program: Command): void {
  const t = program
    .command('tokens')
    .description('API tokens (viewer: read; responder: approve and roll back; admin: everything)');
  t.command('create')
    .description('create a token; its secret is printed once')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--name <name>', 'a label for the token', 'cli')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((o: { role: string; name: string; db: string }) => {
      if (!ROLES.includes(o.role as Role))
        throw new Error(`--role must be one of ${ROLES.join(', ')}, not "${o.role}"`);
      const db = openStore(o.db);
      const { token, info } = new TokenStore(db).create(o.name, o.role as Role);
      process.stdout.write(`${token}\n`);
      process.stderr.write(
        `created token ${info.id} (${info.role}); the secret above is not stored and cannot be shown again\n`,
      );
      db.close();
    });
  t.command('list')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((o: { db: string }) => {
      const db = openStore(o.db);
      for (const i of new TokenStore(db).list())
        process.stdout.write(
          `${i.id}  ${i.role.padEnd(9)} ${i.name.padEnd(16)} ${i.revoked ? 'revoked' : 'active'}  last used ${i.lastUsedAt ?? 'never'}\n`,
        );
      db.close();
    });
  t.command('revoke <id>')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((id: string, o: { db: string }) => {
      const db = openStore(o.db);
      const ok = new TokenStore(db).revoke(id);
      db.close();
      if (!ok) throw new Error(`no token ${id}`);
      process.stderr.write(`revoked ${id}\n`);
    });
}
