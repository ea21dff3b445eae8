/**
 * `vigie incidents`: list, show (timeline, ATT&CK, severity, blast radius), and build incidents from
 * stored alerts (optionally with a live cluster's blast radius through --kubeconfig).
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import Docker from 'dockerode';
import { Correlator, type Incident } from '../../characterize/incidents.js';
import { escapeControl } from '../../model/text.js';
import { createCharacterizer } from '../../characterize/live.js';
import { AlertStore } from '../../store/alerts.js';
import { defaultDbPath, openStore } from '../../infra/db.js';

const out = (s: string): void => {
  process.stdout.write(s + '\n');
};

function line(i: Incident): string {
  return `${i.id}  ${i.severity.level.padEnd(8)} ${String(i.severity.score).padStart(3)}  ${i.status.padEnd(6)} ${i.lastSeen}  ${i.alertCount ?? i.alerts.length} alerts  ${escapeControl(i.title)}`;
}

export function register(program: Command): void {
  const g = program
    .command('incidents')
    .description('alerts correlated into incidents: timeline, ATT&CK, severity, blast radius');
  const list = (o: { db: string; output: string; limit: string; status?: string }) => {
    const db = openStore(o.db);
    try {
      const c = new Correlator(db);
      const items = c.store.list(Number(o.limit) || 50, o.status);
      for (const i of items) out(o.output === 'json' ? JSON.stringify(i) : line(i));
      if (o.output !== 'json' && items.length === 0)
        process.stderr.write('no incidents (run `vigie incidents build` to correlate stored alerts)\n');
    } finally {
      db.close();
    }
  };
  const listOpts = (c: Command) =>
    c
      .option('--db <file>', 'SQLite database', defaultDbPath())
      .option('--output <fmt>', 'text or json', 'text')
      .option('--limit <n>', 'at most N incidents, most recent first', '50')
      .option('--status <s>', 'open or closed');
  // Default subcommand: `vigie incidents` alone lists.
  listOpts(g.command('list', { isDefault: true }).description('most recent first')).action(list);

  g.command('show <id>')
    .description('one incident (id or unique prefix)')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--output <fmt>', 'text, json, mermaid or dot (the blast radius graph)', 'text')
    .action((id: string, o: { db: string; output: string }) => {
      const db = openStore(o.db);
      try {
        const inc = new Correlator(db).store.get(id);
        if (!inc) throw new Error(`no incident "${id}" (see \`vigie incidents list\`)`);
        if (o.output === 'json')
          return out(JSON.stringify({ ...inc, alerts: new Correlator(db).store.alertsOf(inc.id) }, null, 2));
        if (o.output === 'mermaid' || o.output === 'dot') {
          if (!inc.blastRadius)
            throw new Error(`incident ${inc.id} has no blast radius (build it with --kubeconfig)`);
          return out(o.output === 'mermaid' ? inc.blastRadius.mermaid : inc.blastRadius.dot);
        }
        out(line(inc));
        out('');
        out(inc.explanation);
        out('');
        out('Timeline:');
        for (const t of inc.timeline)
          out(
            `  ${t.time}  ${t.priority.padEnd(9)} ${t.rule}${t.techniques.length ? ` [${t.techniques.join(',')}]` : ''}  ${t.output}`,
          );
        if (inc.blastRadius) {
          out('');
          out('Blast radius:');
          for (const it of inc.blastRadius.items)
            out(
              `  ${it.risk.padEnd(6)} ${it.relation.padEnd(11)} ${it.kind}: ${it.name}${it.detail ? ` (${it.detail})` : ''}`,
            );
        }
      } finally {
        db.close();
      }
    });

  g.command('build')
    .description(
      "correlate stored alerts not yet in an incident; with --kubeconfig, add each pod incident's blast radius",
    )
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--kubeconfig <file>', 'compute blast radius from this cluster')
    .option('--no-docker', 'do not compute the blast radius of container incidents from the local Docker')
    .option('--window <minutes>', 'correlation window', '30')
    .option('--limit <n>', 'alerts to read, newest first', '10000')
    .action(
      async (o: { db: string; kubeconfig?: string; docker: boolean; window: string; limit: string }) => {
        const db = openStore(o.db);
        try {
          const kubeConfig = o.kubeconfig ? new KubeConfig() : undefined;
          kubeConfig?.loadFromFile(o.kubeconfig!);
          // The same characterize stage as the live engine: correlation, posture, blast radius.
          const ch = await createCharacterizer({
            db,
            windowMs: Number(o.window) * 60_000,
            kubeConfig,
            docker: o.docker ? new Docker() : undefined,
            onEnrichError: (inc, err) =>
              process.stderr.write(`${inc}: no blast radius: ${(err as Error).message ?? String(err)}\n`),
          });
          const c = ch.correlator;
          const alerts = new AlertStore(db);
          const list = alerts.list({ limit: Number(o.limit) }).reverse();
          const touched = new Set<string>();
          for (const a of list) {
            if (c.store.incidentOfAlert(a.uuid)) continue;
            const inc = ch.correlate(a);
            alerts.setIncident(a.uuid, inc.id);
            touched.add(inc.id);
          }
          await ch.settled();
          process.stderr.write(`${list.length} alerts read, ${touched.size} incidents created or updated\n`);
          for (const id of touched) out(line(c.store.get(id)!));
        } finally {
          db.close();
        }
      },
    );
}
