/** `vigie agent` and `vigie brain`: the two halves of `vigie run` when nodes and the brain run apart. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { defaultDbPath, openStore } from '../../infra/db.js';
import { natsAuthOptions, type NatsAuth } from '../../pipeline/nats.js';
import { logger } from '../../util/log.js';
import { createOutput } from '../../engine/output.js';
import { startAgent, startBrain } from '../scaleout.js';
import {
  addAuditOptions,
  addNodeFileOptions,
  addRulesOption,
  parseList,
  parseOutputFormat,
  stageConfig,
  startServerFor,
  type RunFlags,
} from './run.js';
import { detectorNames as registeredDetectors } from '../../detect/registry.js';

const log = logger('cluster');

/** The NATS flags common to `vigie agent` and `vigie brain`, each with its environment variable. */
export interface NatsFlags {
  nats: string;
  natsTokenFile?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsCreds?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

function addNatsOptions(cmd: Command, what: string): Command {
  const opt = (flags: string, description: string, env: string) =>
    cmd.addOption(new Option(flags, description).env(env));
  cmd.addOption(
    new Option('--nats <url>', `NATS server ${what}, e.g. nats://nats.vigie:4222`)
      .env('VIGIE_NATS')
      .makeOptionMandatory(),
  );
  opt(
    '--nats-token-file <file>',
    'authenticate to NATS with the token in this file (first line)',
    'VIGIE_NATS_TOKEN_FILE',
  );
  opt(
    '--nats-user <name>',
    'authenticate to NATS as this user (with --nats-password-file)',
    'VIGIE_NATS_USER',
  );
  opt(
    '--nats-password-file <file>',
    "the NATS user's password, first line of this file",
    'VIGIE_NATS_PASSWORD_FILE',
  );
  opt(
    '--nats-creds <file>',
    'authenticate to NATS with this credentials file (user JWT and nkey seed)',
    'VIGIE_NATS_CREDS',
  );
  opt(
    '--nats-ca <file>',
    "speak TLS to NATS and verify the server's certificate against this CA (PEM)",
    'VIGIE_NATS_CA',
  );
  opt(
    '--nats-cert <file>',
    'speak TLS to NATS with this client certificate (PEM, with --nats-key)',
    'VIGIE_NATS_CERT',
  );
  opt('--nats-key <file>', "the client certificate's private key (PEM)", 'VIGIE_NATS_KEY');
  return cmd;
}

function usage(msg: string): never {
  const e = new Error(msg) as Error & { exitCode: number };
  e.exitCode = 2;
  throw e;
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    return usage(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** A secret kept on the first line of a file (a Kubernetes Secret mounted as a file has no newline). */
function firstLine(flag: string, file: string): string {
  const v = readFlagFile(flag, file).toString('utf8').split(/\r?\n/)[0].trim();
  if (v === '') usage(`${flag}: ${file} is empty`);
  return v;
}

/** Reads the files the NATS flags name; throws a usage error (exit 2) on a missing or bad one. */
export function natsAuthFromFlags(o: NatsFlags): NatsAuth | undefined {
  const auth: NatsAuth = {};
  if (o.natsTokenFile !== undefined) auth.token = firstLine('--nats-token-file', o.natsTokenFile);
  if (o.natsUser !== undefined) auth.user = o.natsUser;
  if (o.natsPasswordFile !== undefined) auth.password = firstLine('--nats-password-file', o.natsPasswordFile);
  if (o.natsCreds !== undefined) auth.creds = new Uint8Array(readFlagFile('--nats-creds', o.natsCreds));
  if (o.natsCa !== undefined || o.natsCert !== undefined || o.natsKey !== undefined)
    auth.tls = {
      ca: o.natsCa !== undefined ? readFlagFile('--nats-ca', o.natsCa).toString('utf8') : undefined,
      cert: o.natsCert !== undefined ? readFlagFile('--nats-cert', o.natsCert).toString('utf8') : undefined,
      key: o.natsKey !== undefined ? readFlagFile('--nats-key', o.natsKey).toString('utf8') : undefined,
    };
  try {
    natsAuthOptions(auth);
  } catch (e) {
    usage((e as Error).message.replace(/^NATS: /, 'NATS flags: '));
  }
  if (!auth.token && !auth.user && !auth.creds && !auth.tls?.cert)
    log.warn(
      `no NATS credentials given (--nats-token-file, --nats-user, --nats-creds, --nats-cert): whoever reaches ${o.nats} can publish alerts to the brain and read them`,
    );
  return Object.keys(auth).length > 0 ? auth : undefined;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * What the brain runs itself: the cluster-wide inputs it was given (Kubernetes watch, audit events
 * pushed or tailed, Falco's webhook) and the detectors that read them.
 */
export function brainStages(config: Record<string, Record<string, unknown>>): {
  sourceNames: string[];
  detectorNames: string[];
} {
  const sourceNames = ['kubernetes', 'k8s-audit-webhook', 'k8s-audit-file', 'falco-webhook'].filter(
    (n) => config[n] !== undefined,
  );
  const audit = config['k8s-audit-webhook'] !== undefined || config['k8s-audit-file'] !== undefined;
  const detectorNames = [
    ...(config.kubernetes ? ['posture'] : []),
    ...(config.rules ? ['rules'] : []),
    ...(audit || config.rules ? ['audit-anomaly'] : []),
  ];
  return { sourceNames, detectorNames };
}

export function register(program: Command): void {
  const agent = program
    .command('agent')
    .description('per-node agent: sources and local detectors, alerts published to NATS JetStream');
  addNatsOptions(agent, 'to publish to')
    .option('--node <name>', 'node name reported with every alert')
    .option('--db <file>', "SQLite database for this node's baselines", defaultDbPath())
    .option('--sources <names>', 'only these sources (comma-separated)')
    .option('--detectors <names>', 'only these detectors (comma-separated)')
    .option('--output <format>', 'text or json', 'text')
    .option('--kubeconfig <file>', 'watch this cluster to name the pod of each container')
    .option('--in-cluster', "use the pod's service account to reach the API server");
  addRulesOption(agent, 'syscall events');
  addNodeFileOptions(agent).action(
    async (
      o: NatsFlags &
        Pick<RunFlags, 'kubeconfig' | 'inCluster' | 'rules' | 'falcoFile' | 'tetragonFile' | 'criSocket'> & {
          node?: string;
          db: string;
          sources?: string;
          detectors?: string;
          output: string;
        },
    ) => {
      const natsAuth = natsAuthFromFlags(o);
      const db = openStore(o.db);
      const output = createOutput(parseOutputFormat(o.output));
      const agent = await startAgent({
        nats: o.nats,
        natsAuth,
        db,
        node: o.node,
        output,
        sourceNames: parseList(o.sources),
        // Posture is cluster-wide: the brain evaluates it once, not every node.
        detectorNames: parseList(o.detectors) ?? registeredDetectors().filter((d) => d !== 'posture'),
        config: stageConfig(o),
      });
      output.notice(`vigie agent: publishing to ${o.nats}`);
      await untilSignal();
      await agent.stop();
      db.close();
    },
  );

  const brain = program
    .command('brain')
    .description("brain: consumes agents' alerts from NATS, stores, correlates, responds, serves the API");
  addNatsOptions(brain, 'to consume from')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--policy <file>', 'response policy (YAML)')
    .option('--enforce', 'execute containment actions (default: monitor)')
    .option('--kubeconfig <file>', 'watch this cluster (posture, blast radius, Kubernetes actions)')
    .option('--in-cluster', "use the pod's service account to reach the API server")
    .option('--listen <host:port>', 'API and dashboard address', '127.0.0.1:7070')
    .option(
      '--protect-namespaces <list>',
      "namespaces containment never acts in, comma-separated, besides Vigie's own ($VIGIE_NAMESPACE, default vigie)",
      'kube-system',
    )
    .option('--output <format>', 'text or json', 'text');
  addRulesOption(brain, 'audit events');
  addAuditOptions(brain).action(
    async (
      o: NatsFlags &
        Pick<
          RunFlags,
          'kubeconfig' | 'inCluster' | 'rules' | 'auditWebhook' | 'auditFile' | 'falcoWebhook'
        > & {
          db: string;
          policy?: string;
          enforce?: boolean;
          listen: string;
          protectNamespaces: string;
          output: string;
        },
    ) => {
      const natsAuth = natsAuthFromFlags(o);
      const db = openStore(o.db);
      const output = createOutput(parseOutputFormat(o.output));
      const config = stageConfig(o);
      // The Kubernetes actuator's own guard, below the policy's guards.protect.namespaces.
      if (config.kubernetes) config.kubernetes.protectedNamespaces = parseList(o.protectNamespaces) ?? [];
      const { sourceNames, detectorNames } = brainStages(config);
      const brain = await startBrain({
        nats: o.nats,
        natsAuth,
        db,
        output,
        mode: o.enforce ? 'enforce' : 'monitor',
        policyFile: o.policy,
        sourceNames,
        detectorNames,
        config,
      });
      const server = await startServerFor(brain.engine, db, o.listen, [() => brain.bus.readiness()]);
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
