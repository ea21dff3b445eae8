/**
 * `vigie alerts`: list, show, acknowledge, mark false positive (an exception scoped to the workload,
 * or to the one baseline novelty), and undo an exception.
 */
import type { Command } from 'commander';
import { alertToLine, type Alert } from '../../model/alert.js';
import { defaultDbPath, openStore } from '../../infra/db.js';
import { FeedbackStore, createAlertFilter, type ExceptionScope } from '../../characterize/feedback.js';
import { pageNotice, parsePage } from '../paging.js';

export { createAlertFilter };

function withStore<T>(db: string, fn: (s: FeedbackStore) => T): T {
  const d = openStore(db);
  try {
    return fn(new FeedbackStore(d));
  } finally {
    d.close();
  }
}

const out = (s: string): void => {
  process.stdout.write(s + '\n');
};

export function register(program: Command): void {
  const g = program
    .command('alerts')
    .description('stored alerts: list, show, ack, false-positive (exception), unexcept');
  const list = (o: {
    db: string;
    output?: string;
    limit: string;
    offset: string;
    rule?: string;
    category?: string;
  }) =>
    withStore(o.db, (s) => {
      const page = parsePage(o);
      const filter = { rule: o.rule, category: o.category };
      const alerts = s.alerts.list({ ...filter, ...page });
      for (const a of alerts) {
        if (o.output === 'json') out(JSON.stringify({ ...a, status: s.status(a.uuid) }));
        else out(`${a.uuid.slice(0, 8)} ${(s.status(a.uuid) ?? '').padEnd(14)} ${alertToLine(a)}`);
      }
      const total = s.alerts.countMatching(filter);
      if (o.output !== 'json' && total === 0) process.stderr.write('no alerts\n');
      const notice = total > 0 ? pageNotice('alerts', page, alerts.length, total) : undefined;
      if (notice) process.stderr.write(notice + '\n');
    });
  const addListOpts = (c: Command) =>
    c
      .option('--db <file>', 'SQLite database', defaultDbPath())
      .option('--output <fmt>', 'text or json (one object a line)', 'text')
      .option('--limit <n>', 'at most N alerts, newest first', '50')
      .option('--offset <n>', 'skip this many of the newest first (the next page)', '0')
      .option('--rule <name>', 'only this rule')
      .option('--category <c>', 'only this category');
  // Default subcommand: `vigie alerts` alone lists.
  addListOpts(g.command('list', { isDefault: true }).description('newest alerts first')).action(list);

  g.command('show <id>')
    .description('one alert (uuid or unique prefix) as JSON')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((id: string, o: { db: string }) =>
      withStore(o.db, (s) => {
        const a = s.resolveAlert(id);
        if (!a) throw new Error(`no alert "${id}"`);
        out(JSON.stringify({ ...a, status: s.status(a.uuid) }, null, 2));
      }),
    );

  g.command('ack <id>')
    .description('acknowledge an alert (it stays, marked acked)')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((id: string, o: { db: string }) =>
      withStore(o.db, (s) => {
        const a: Alert = s.ack(id);
        process.stderr.write(`acked ${a.uuid} (${a.rule})\n`);
      }),
    );

  g.command('false-positive <id>')
    .description('mark as a false positive: the same alert on the same workload is suppressed from now on')
    .option(
      '--scope <scope>',
      'workload (this rule on this workload) or baseline (only this novelty becomes normal)',
      'workload',
    )
    .option('--reason <text>', 'why, recorded with the exception')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((id: string, o: { db: string; scope: string; reason?: string }) =>
      withStore(o.db, (s) => {
        if (o.scope !== 'workload' && o.scope !== 'baseline')
          throw new Error(`--scope must be workload or baseline, not "${o.scope}"`);
        const e = s.falsePositive(id, o.scope as ExceptionScope, o.reason);
        out(JSON.stringify(e));
        process.stderr.write(
          `exception ${e.id}: rule "${e.rule}" suppressed on ${e.workload}${e.detail ? ` for ${e.detail}` : ''}; undo with \`vigie alerts unexcept ${e.id}\`\n`,
        );
      }),
    );

  g.command('unexcept <id>')
    .description('remove an exception (by exception id or by the alert it came from)')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((id: string, o: { db: string }) =>
      withStore(o.db, (s) => {
        for (const e of s.unexcept(id))
          process.stderr.write(`exception ${e.id} removed (rule "${e.rule}" on ${e.workload})\n`);
      }),
    );

  g.command('exceptions')
    .description('list exceptions made from false positives')
    .option('--all', 'include removed ones')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .action((o: { db: string; all?: boolean }) =>
      withStore(o.db, (s) => {
        for (const e of s.exceptions(o.all)) out(JSON.stringify(e));
      }),
    );
}
