/**
 * vigie rules check|replay|serve: Falco rule files against recorded or posted events.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import Fastify from 'fastify';
import { makeAlert } from '../../model/alert.js';
import { parseEvent, jsonReplacer, type VigieEvent } from '../../model/event.js';
import { loadRuleFiles, RuleLoadError, type LoadResult } from '../../detect/rules/loader.js';
import { RuleEngine, alertInput, type RuleMatching } from '../../detect/rules/engine.js';
import { auditToEvent, parseAuditText } from '../../sources/k8s-audit-file.js';
import { tetragonToEvents } from '../../sources/tetragon.js';
import { registerK8sAuditRoute } from '../../server/routes/k8s-audit.js';

interface CommonOpts {
  rules: string[];
  skipUnknown?: boolean;
  matching?: RuleMatching;
  disable?: string[];
}

function load(o: CommonOpts, sources?: string[]): LoadResult {
  try {
    const r = loadRuleFiles(o.rules, { skipUnknown: o.skipUnknown, sources, disable: o.disable });
    for (const w of r.warnings)
      process.stderr.write(
        `warning: ${w.where.file}:${w.where.line}:${w.where.col}: ${w.item ? `${w.item}: ` : ''}${w.message}\n`,
      );
    return r;
  } catch (e) {
    if (e instanceof RuleLoadError) {
      const err = new Error(
        `${e.message}${o.skipUnknown ? '' : '\n(use --skip-unknown to load the other rules)'}`,
      ) as Error & { exitCode: number };
      err.exitCode = 2;
      throw err;
    }
    throw e;
  }
}

/** Reads events of one file: audit logs for k8s_audit, Vigie JSON lines or Tetragon export for syscall. */
export function readEventsFile(
  path: string,
  source: 'k8s_audit' | 'syscall' | undefined,
): { events: VigieEvent[]; errors: string[] } {
  // '-' is standard input (kubectl logs ... | vigie rules replay ... -).
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  let audit: ReturnType<typeof parseAuditText> | undefined;
  if (source !== 'syscall') {
    audit = parseAuditText(text, path);
    if (audit.events.length > 0 || source === 'k8s_audit')
      return { events: audit.events.map((x) => auditToEvent(x)), errors: audit.errors };
  }
  const events: VigieEvent[] = [];
  const errors: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      errors.push(`${path}:${i + 1}: invalid JSON: ${(e as Error).message}`);
      continue;
    }
    const o = obj as Record<string, unknown>;
    if (
      o &&
      typeof o === 'object' &&
      ('process_exec' in o || 'process_kprobe' in o || 'process_exit' in o || 'process_tracepoint' in o)
    ) {
      events.push(...tetragonToEvents(o));
      continue;
    }
    try {
      events.push(parseEvent(obj));
    } catch (e) {
      const issues = (e as { issues?: { path: (string | number)[]; message: string }[] }).issues;
      const why = issues
        ? issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ')
        : (e as Error).message;
      errors.push(`${path}:${i + 1}: not a Vigie event (${why.slice(0, 200)})`);
    }
  }
  // Neither format: the audit reader's reasons say more about JSON that looks like an audit event.
  if (events.length === 0 && audit && audit.errors.length > 0) return { events, errors: audit.errors };
  return { events, errors };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  const rules = program
    .command('rules')
    .description('Falco-compatible rules: check rule files, replay events, serve the audit webhook');

  rules
    .command('check')
    .description(
      'load rule files and list loaded, inactive and skipped rules with the fields Vigie cannot provide',
    )
    .requiredOption('--rules <file>', 'rules file (repeatable; later files override earlier ones)', collect)
    .option('--skip-unknown', 'skip rules with unknown fields or errors instead of stopping')
    .option('--json', 'print the report as JSON')
    .action((o: CommonOpts & { json?: boolean }) => {
      const r = load(o);
      const rows = r.rules.map((x) => ({
        rule: x.name,
        source: x.source,
        status: x.active
          ? 'active'
          : x.reason?.startsWith('skipped')
            ? 'skipped'
            : x.enabled
              ? 'inactive'
              : 'disabled',
        reason: x.reason,
        where: `${x.where.file}:${x.where.line}:${x.where.col}`,
        unprovided: x.unprovided,
      }));
      if (o.json) {
        process.stdout.write(JSON.stringify({ rules: rows, skipped: r.skipped }, null, 2) + '\n');
        return;
      }
      for (const x of rows)
        process.stdout.write(
          `${x.status.padEnd(8)} ${x.source.padEnd(9)} ${x.rule}${x.reason && x.status !== 'active' ? `  (${x.reason})` : ''}\n`,
        );
      const count = (s: string) => rows.filter((x) => x.status === s).length;
      const fields = new Map<string, number>();
      for (const x of r.rules)
        if (x.enabled) for (const f of x.unprovided) fields.set(f, (fields.get(f) ?? 0) + 1);
      process.stdout.write(
        `\n${rows.length} rules: ${count('active')} active, ${count('inactive')} inactive, ${count('disabled')} disabled, ${count('skipped')} skipped\n`,
      );
      if (fields.size)
        process.stdout.write(
          `fields Vigie cannot provide (rules needing them): ${[...fields].map(([f, n]) => `${f} (${n})`).join(', ')}\n`,
        );
    });

  rules
    .command('replay')
    .description(
      'evaluate recorded events (audit logs, Vigie JSON lines, Tetragon export) and print alerts as JSON lines',
    )
    .requiredOption('--rules <file>', 'rules file (repeatable)', collect)
    .option('--source <source>', 'k8s_audit or syscall (default: guessed per file)')
    .option('--skip-unknown', 'skip rules with unknown fields or errors instead of stopping')
    .option('--matching <mode>', "rule matching: 'first' (Falco's default) or 'all'", 'first')
    .option('-D, --disable <rule>', 'disable a rule by name (repeatable)', collect)
    .argument('<files...>', "event files ('-' for standard input)")
    .action((files: string[], o: CommonOpts & { source?: string }) => {
      if (o.source && o.source !== 'k8s_audit' && o.source !== 'syscall')
        throw new Error(`--source must be k8s_audit or syscall, not "${o.source}"`);
      const engine = new RuleEngine(load(o, o.source ? [o.source] : undefined), { ruleMatching: o.matching });
      const host = hostname();
      let events = 0;
      let alerts = 0;
      let bad = 0;
      for (const f of files) {
        const r = readEventsFile(f, o.source as 'k8s_audit' | 'syscall' | undefined);
        bad += r.errors.length;
        for (const e of r.errors) process.stderr.write(`skipped: ${e}\n`);
        for (const ev of r.events) {
          events++;
          engine.evaluate(ev, (rule) => {
            alerts++;
            process.stdout.write(JSON.stringify(makeAlert(alertInput(rule, ev), host), jsonReplacer) + '\n');
          });
        }
      }
      process.stderr.write(`${events} events, ${alerts} alerts, ${bad} malformed inputs skipped\n`);
    });

  rules
    .command('serve')
    .description(
      'serve POST /k8s-audit standalone and print alerts as JSON lines (bearer token required unless --no-auth)',
    )
    .requiredOption('--rules <file>', 'rules file (repeatable)', collect)
    .option('--port <port>', 'port', '9765')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--token <token>', 'require this bearer token (other local users see it in the process list)')
    .option('--token-file <file>', 'require the bearer token in this file (first line; keep it mode 0600)')
    .option('--no-auth', 'accept requests without a token: anyone who can reach the address may post events')
    .option('--skip-unknown', 'skip rules with unknown fields or errors instead of stopping')
    .option('--matching <mode>', "'first' or 'all'", 'first')
    .option('--body-limit <bytes>', 'largest accepted request body', String(4 << 20))
    .action(
      async (
        o: CommonOpts & {
          port: string;
          host: string;
          token?: string;
          tokenFile?: string;
          auth: boolean;
          bodyLimit: string;
        },
      ) => {
        if (o.token !== undefined && o.tokenFile !== undefined)
          throw new Error('give --token or --token-file, not both');
        if (!o.auth && (o.token !== undefined || o.tokenFile !== undefined))
          throw new Error('--no-auth contradicts --token and --token-file');
        let token: string | undefined;
        let generated = false;
        if (o.tokenFile !== undefined) token = readFileSync(o.tokenFile, 'utf8').split('\n')[0].trim();
        else if (o.token !== undefined) token = o.token.trim();
        else if (o.auth) {
          // No token given: one for this run only, 192 random bits, printed once below.
          token = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
          generated = true;
        }
        if (token === '') throw new Error(`empty token${o.tokenFile ? ` in ${o.tokenFile}` : ''}`);

        const engine = new RuleEngine(load(o, ['k8s_audit']), { ruleMatching: o.matching });
        const host = hostname();
        const app = Fastify({ logger: false });
        let stopping = false;
        const stop = async () => {
          if (stopping) return;
          stopping = true;
          await app.close();
          process.exit(0);
        };
        // When the reader of the alerts goes away (`... | head`), nothing more can be delivered:
        // stop quietly instead of dying on an EPIPE stack trace.
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EPIPE' || stopping) void stop();
          else throw e;
        });
        await registerK8sAuditRoute(app, {
          bodyLimit: Number(o.bodyLimit),
          token,
          onEvents: (events) => {
            for (const ev of events) {
              engine.evaluate(ev, (rule) => {
                if (!stopping)
                  process.stdout.write(
                    JSON.stringify(makeAlert(alertInput(rule, ev), host), jsonReplacer) + '\n',
                  );
              });
            }
          },
        });
        const addr = await app.listen({ port: Number(o.port), host: o.host });
        process.stderr.write(
          `listening on ${addr}/k8s-audit (${engine.activeRules().length} active rules)\n`,
        );
        if (generated)
          process.stderr.write(
            `no --token or --token-file given: requests need "Authorization: Bearer ${token}" (generated for this run, shown once)\n`,
          );
        if (!o.auth)
          process.stderr.write(
            `WARNING: --no-auth: anyone who can reach ${addr} may post audit events and read /k8s-audit/stats\n`,
          );
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      },
    );
}
