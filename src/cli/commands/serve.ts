import type { Command } from 'commander';
import { openStore, defaultDbPath } from '../../infra/db.js';
import { startApiServer } from '../../server/start.js';

/** `vigie serve`: the API and dashboard over an existing database, without live monitoring. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the API and dashboard over an existing database (vigie run serves them too)')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7070')
    .option('--reports <dir>', 'folder of evaluation reports', 'reports')
    .action(async (o: { db: string; listen: string; reports: string }) => {
      const m = /^(.*):(\d+)$/.exec(o.listen);
      if (!m) throw new Error(`--listen must be host:port, not "${o.listen}"`);
      const db = openStore(o.db);
      const srv = await startApiServer({
        db,
        host: m[1].replace(/^\[|\]$/g, ''),
        port: Number(m[2]),
        reportsDir: o.reports,
      });
      const stop = async () => {
        await srv.close();
        db.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
