/** `vigie agent` and `vigie brain`: the two halves of `vigie run` when nodes and the brain run apart. */
import type { Command } from 'commander';
import { defaultDbPath, openStore } from '../../infra/db.js';
import { createOutput } from '../../engine/output.js';
import { startAgent, startBrain } from '../scaleout.js';
import { parseList, parseOutputFormat, stageConfig, startServerFor } from './run.js';

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('per-node agent: sources and local detectors, alerts published to NATS JetStream')
    .requiredOption('--nats <url>', 'NATS server, e.g. nats://nats.vigie:4222')
    .option('--node <name>', 'node name reported with every alert')
    .option('--db <file>', "SQLite database for this node's baselines", defaultDbPath())
    .option('--sources <names>', 'only these sources (comma-separated)')
    .option('--detectors <names>', 'only these detectors (comma-separated)')
    .option('--output <format>', 'text or json', 'text')
    .action(
      async (o: {
        nats: string;
        node?: string;
        db: string;
        sources?: string;
        detectors?: string;
        output: string;
      }) => {
        const db = openStore(o.db);
        const output = createOutput(parseOutputFormat(o.output));
        const agent = await startAgent({
          nats: o.nats,
          db,
          node: o.node,
          output,
          sourceNames: parseList(o.sources),
          detectorNames: parseList(o.detectors),
        });
        output.notice(`vigie agent: publishing to ${o.nats}`);
        await untilSignal();
        await agent.stop();
        db.close();
      },
    );

  program
    .command('brain')
    .description("brain: consumes agents' alerts from NATS, stores, correlates, responds, serves the API")
    .requiredOption('--nats <url>', 'NATS server')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--policy <file>', 'response policy (YAML)')
    .option('--enforce', 'execute containment actions (default: monitor)')
    .option('--kubeconfig <file>', 'watch this cluster (posture, blast radius, Kubernetes actions)')
    .option('--in-cluster', "use the pod's service account to reach the API server")
    .option('--rules <files>', 'Falco rule files (comma-separated) for audit events')
    .option('--listen <host:port>', 'API and dashboard address', '127.0.0.1:7070')
    .option('--output <format>', 'text or json', 'text')
    .action(
      async (o: {
        nats: string;
        db: string;
        policy?: string;
        enforce?: boolean;
        kubeconfig?: string;
        inCluster?: boolean;
        rules?: string;
        listen: string;
        output: string;
      }) => {
        const db = openStore(o.db);
        const output = createOutput(parseOutputFormat(o.output));
        const config = stageConfig({
          kubeconfig: o.kubeconfig,
          inCluster: o.inCluster,
          rules: o.rules ? [o.rules] : undefined,
        });
        const sourceNames = config.kubernetes ? ['kubernetes'] : [];
        const detectorNames = [
          ...(config.kubernetes ? ['posture'] : []),
          ...(config.rules ? ['rules', 'audit-anomaly'] : []),
        ];
        const brain = await startBrain({
          nats: o.nats,
          db,
          output,
          mode: o.enforce ? 'enforce' : 'monitor',
          policyFile: o.policy,
          sourceNames,
          detectorNames,
          config,
        });
        const server = await startServerFor(brain.engine, db, o.listen);
        output.notice(
          `vigie brain: consuming from ${o.nats}${server ? `; dashboard ${server.dashboardUrl}` : ''}`,
        );
        await untilSignal();
        await server?.close();
        await brain.stop();
        db.close();
      },
    );
}
