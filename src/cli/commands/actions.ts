/**
 * `vigie actions`: list, show, approve and roll back response actions recorded in the store, lift
 * expired TTLs, and check a policy file.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { ActionRecord } from '../../model/action.js';
import { createResponder, type VigieResponder } from '../../respond/engine.js';
import { loadPolicy } from '../../respond/policy.js';
import { defaultDbPath, openStore } from '../../infra/db.js';
import { pageNotice, parsePage } from '../paging.js';

interface CommonOpts {
  db: string;
  output: string;
  policy?: string;
}

/** What a list shows: the record without its bulky states and evidence (see `show`). */
function brief(r: ActionRecord): Record<string, unknown> {
  const {
    stateBefore: _b,
    stateAfter: _a,
    evidence,
    ...rest
  } = r as ActionRecord & { stateRolledBack?: unknown };
  delete (rest as { stateRolledBack?: unknown }).stateRolledBack;
  return { ...rest, ...(evidence !== undefined ? { evidence: '(captured; see `vigie actions show`)' } : {}) };
}

function line(r: ActionRecord): string {
  const who = r.target.name ?? r.target.id.slice(0, 12);
  const params = r.params && Object.keys(r.params).length ? ` ${JSON.stringify(r.params)}` : '';
  const verified = r.verified === undefined ? '' : r.verified ? ' verified' : ' NOT-verified';
  const ttl = r.expiresAt && r.status === 'executed' ? ` until ${r.expiresAt}` : '';
  const err = r.error ? ` error: ${r.error}` : '';
  return `${r.id}  ${r.createdAt}  ${r.status.padEnd(11)} ${r.action.padEnd(16)} ${r.target.kind} ${who}${params} [${r.mode}${verified}]${ttl}  ${r.reason}${err}`;
}

function print(r: ActionRecord | ActionRecord[], o: CommonOpts, full = false): void {
  const list = Array.isArray(r) ? r : [r];
  for (const x of list) {
    if (o.output === 'json') process.stdout.write(JSON.stringify(full ? x : brief(x)) + '\n');
    else if (full) process.stdout.write(JSON.stringify(x, null, 2) + '\n');
    else process.stdout.write(line(x) + '\n');
  }
}

function open(o: CommonOpts, enforce = false): VigieResponder {
  const db = openStore(o.db);
  // A CLI call may run beside `vigie run`, which owns start-up recovery: never recover from here.
  return createResponder({
    db,
    hostname: hostname(),
    mode: enforce ? 'enforce' : 'monitor',
    policyFile: o.policy,
    recover: false,
  });
}

function fail(msg: string, exitCode = 1): never {
  throw Object.assign(new Error(msg), { exitCode });
}

export function register(program: Command): void {
  const actions = program
    .command('actions')
    .description('response actions: list, show, approve (run a planned action), roll back');
  const common = (c: Command): Command =>
    c
      .option('--db <file>', 'SQLite store', defaultDbPath())
      .option('--output <format>', 'text or json (one JSON object a line)', 'text')
      .option('--policy <file>', 'response policy (guards for approve)');

  common(
    actions
      .command('list', { isDefault: true })
      .description('recorded actions, newest first, a page at a time (stderr says when there are more)')
      .option('--status <status>', 'planned, executed, failed, skipped, rolled_back, expired, ...')
      .option('--action <type>', 'pause, throttle, isolate, ...')
      .option('--target <id|name>', 'container id or name')
      .option('--incident <id>', 'incident id')
      .option('--limit <n>', 'at most this many', '50')
      .option('--offset <n>', 'skip this many of the newest first (the next page)', '0'),
  ).action(
    async (
      o: CommonOpts & {
        status?: string;
        action?: string;
        target?: string;
        incident?: string;
        limit: string;
        offset: string;
      },
    ) => {
      const page = parsePage(o);
      const r = open(o);
      await r.ready;
      const filter = { status: o.status, action: o.action, target: o.target, incident: o.incident };
      const rows = r.list({ ...filter, ...page });
      const total = r.count(filter);
      if (total === 0 && o.output !== 'json') process.stderr.write('no actions recorded\n');
      print(rows, o);
      const notice = total > 0 ? pageNotice('actions', page, rows.length, total) : undefined;
      if (notice) process.stderr.write(notice + '\n');
      await r.close();
    },
  );

  common(
    actions.command('show <id>').description('one action with its states before/after and evidence'),
  ).action(async (id: string, o: CommonOpts) => {
    const r = open(o);
    await r.ready;
    const rec = r.get(id);
    if (!rec) fail(`action ${id} not found in ${o.db}`, 2);
    print(rec, o, true);
    await r.close();
  });

  common(
    actions.command('approve <id>').description('execute a planned action now (guards still apply)'),
  ).action(async (id: string, o: CommonOpts) => {
    const r = open(o, true);
    const rec = await r.approve(id).catch((err: Error) => fail(err.message, 2));
    print(rec, o);
    await r.close();
    if (rec.status !== 'executed') fail(`action ${rec.id} ${rec.status}${rec.error ? ': ' + rec.error : ''}`);
  });

  common(
    actions
      .command('rollback <id>')
      .description('undo an executed action (unpause, reconnect, restore limits)'),
  ).action(async (id: string, o: CommonOpts) => {
    const r = open(o);
    const rec = await r.rollback(id).catch((err: Error) => fail(err.message, 2));
    print(rec, o);
    await r.close();
    if (rec.status !== 'rolled_back')
      fail(`action ${rec.id} ${rec.status}${rec.error ? ': ' + rec.error : ''}`);
  });

  common(
    actions
      .command('expire')
      .description('lift actions whose TTL has passed (vigie run does it continuously)'),
  ).action(async (o: CommonOpts) => {
    const r = open(o);
    const lifted = await r.tick();
    print(lifted, o);
    await r.close();
  });

  actions
    .command('check-policy <file>')
    .description('validate a response policy file and show its rules')
    .action((file: string) => {
      const p = loadPolicy(file);
      process.stdout.write(
        `${file}: ok (${p.rules.length} rules, mode ${p.mode}${p.dryRun ? ', dry run' : ''})\n`,
      );
      for (const rule of p.rules) {
        const chain = rule.actions
          .map(
            (s) => s.action + (s.ttlMs ? `(ttl ${s.ttlMs / 1000}s)` : '') + (s.approval ? '[approval]' : ''),
          )
          .join(' → ');
        process.stdout.write(`  ${rule.name}: ${JSON.stringify(rule.match)} → ${chain}\n`);
      }
    });
}
