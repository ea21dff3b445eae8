/**
 * `vigie run`: the main job. Watches the local Docker (events, stats, eBPF sensor), runs every
 * registered detector, stores and prints alerts, and hands them to the response stage under a policy
 * (monitor by default, `--enforce` to act). Stops cleanly on SIGINT/SIGTERM, flushing what it holds.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { defaultDbPath, openStore } from '../../infra/db.js';
import { logger } from '../../util/log.js';
import { KubeConfig } from '@kubernetes/client-node';
import { Engine, percentileOf } from '../../engine/engine.js';
import { sourceNames as registeredSources } from '../../sources/registry.js';
import { startServerFor } from '../../engine/server.js';
import { startOtlpFor } from '../../engine/otlp.js';
import { createOutput, type OutputFormat } from '../../engine/output.js';

const log = logger('run');

export interface RunFlags {
  policy?: string;
  enforce?: boolean;
  db: string;
  output: string;
  sources?: string;
  detectors?: string;
  sensor: boolean;
  duration?: string;
  listen?: string;
  serve: boolean;
  kubeconfig?: string;
  inCluster?: boolean;
  rules?: string[];
  auditWebhook?: boolean;
  falcoFile?: string;
  falcoWebhook?: boolean;
  tetragonFile?: string;
  auditFile?: string;
  criSocket?: string;
  /** `--otlp` alone (true) or `--otlp [HOST:]PORT`. */
  otlp?: string | boolean;
}

/** Settings for the sources, detectors and actuators that need them (cluster, rule files, webhook). */
export function stageConfig(
  o: Pick<
    RunFlags,
    | 'kubeconfig'
    | 'inCluster'
    | 'rules'
    | 'auditWebhook'
    | 'falcoFile'
    | 'falcoWebhook'
    | 'tetragonFile'
    | 'auditFile'
    | 'criSocket'
    | 'otlp'
  >,
): Record<string, Record<string, unknown>> {
  const config: Record<string, Record<string, unknown>> = {};
  if (o.kubeconfig || o.inCluster) {
    const kc = new KubeConfig();
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromCluster();
    config.kubernetes = { kubeConfig: kc };
  }
  // The container runtime's CRI socket, for naming the pod of a container on this node.
  if (o.criSocket)
    config.kubernetes = { ...config.kubernetes, criSocket: o.criSocket === 'none' ? false : o.criSocket };
  const rules = (o.rules ?? []).flatMap((r) => parseList(r) ?? []);
  if (rules.length) config.rules = { files: rules };
  if (o.auditWebhook) config['k8s-audit-webhook'] = { enabled: true };
  // Other tools' output files are tailed: what they write while Vigie runs comes in as it is written.
  if (o.falcoFile) config.falco = { path: o.falcoFile, follow: true };
  if (o.falcoWebhook) config['falco-webhook'] = { enabled: true };
  if (o.tetragonFile) config.tetragon = { path: o.tetragonFile, follow: true };
  if (o.auditFile) config['k8s-audit-file'] = { path: o.auditFile, follow: true };
  if (o.otlp) config.otlp = { enabled: true };
  return config;
}

export function parseOutputFormat(s: string): OutputFormat {
  if (s === 'json' || s === 'text') return s;
  throw new Error(`--output must be "json" or "text", not "${s}"`);
}

export function parseList(s: string | undefined): string[] | undefined {
  return s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;
}

export { startServerFor } from '../../engine/server.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `--rules`: Falco rule files, comma-separated and repeatable (run, agent, brain). */
export function addRulesOption(cmd: Command, what: string): Command {
  return cmd.option('--rules <files>', `Falco rule files (comma-separated, repeatable) for ${what}`, collect);
}

/**
 * Node inputs (run, agent): files other tools write on a node, tailed and resumed where they stopped,
 * and the container runtime's CRI socket.
 */
export function addNodeFileOptions(cmd: Command): Command {
  return cmd
    .option(
      '--falco-file <file>',
      "tail Falco's JSON alerts file (json_output + file_output): its alerts become Vigie alerts",
    )
    .option('--tetragon-file <file>', "tail Tetragon's JSON export: its events go through every detector")
    .option(
      '--cri-socket <path>',
      "container runtime's CRI socket for naming pods on this node (default: containerd's or CRI-O's where present; none: do not use one)",
    );
}

/** Cluster-level inputs: the API server's audit events, pushed or written to a file (run, brain). */
export function addAuditOptions(cmd: Command): Command {
  return cmd
    .option('--audit-webhook', 'accept Kubernetes audit events on POST /k8s-audit (responder token)')
    .option(
      '--audit-file <file>',
      "tail a Kubernetes audit log (the API server's --audit-log-path, or a managed cluster's export)",
    )
    .option(
      '--falco-webhook',
      "accept Falco's alerts on POST /falco (Falcosidekick's webhook output; responder token)",
    );
}

export function register(program: Command): void {
  const run = program
    .command('run')
    .description('watch the local Docker: sense, detect, alert and (with --enforce) contain')
    .option('--policy <file>', 'response policy (YAML); default: the built-in policy')
    .option('--enforce', 'execute containment actions (default: monitor mode, actions are only planned)')
    .option('--db <file>', 'SQLite database', defaultDbPath())
    .option('--output <format>', 'text or json (one JSON object a line)', 'text')
    .option('--sources <names>', 'only these sources (comma-separated: docker,bpftrace)')
    .option('--detectors <names>', 'only these detectors (comma-separated)')
    .option('--no-sensor', 'do not start the eBPF sensor')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until SIGINT/SIGTERM)')
    .option('--listen <host:port>', 'API and dashboard address', '127.0.0.1:7070')
    .option('--no-serve', 'do not start the API and dashboard')
    .option('--kubeconfig <file>', 'also watch this cluster: posture, blast radius, Kubernetes containment')
    .option('--in-cluster', "use the pod's service account to reach the API server");
  addRulesOption(run, 'syscall and audit events');
  addAuditOptions(run);
  addNodeFileOptions(run)
    .option(
      '--otlp [host:port]',
      'receive OpenTelemetry traces (OTLP/HTTP POST /v1/traces, protobuf or JSON; responder token) ' +
        'on their own port (default 127.0.0.1:4318)',
    )
    .action(async (o: RunFlags) => {
      const format = parseOutputFormat(o.output);
      const duration = o.duration === undefined ? undefined : Number(o.duration);
      if (duration !== undefined && !(duration > 0))
        throw new Error(`--duration must be a number of seconds > 0, not "${o.duration}"`);
      const output = createOutput(format);
      const db = openStore(o.db);
      let sourceNames = parseList(o.sources);
      if (!o.sensor) sourceNames = (sourceNames ?? registeredSources()).filter((n) => n !== 'bpftrace');
      if (o.otlp && sourceNames && !sourceNames.includes('otlp')) sourceNames = [...sourceNames, 'otlp'];
      const engine = new Engine({
        db,
        hostname: hostname(),
        output,
        mode: o.enforce ? 'enforce' : 'monitor',
        policyFile: o.policy,
        sourceNames,
        detectorNames: parseList(o.detectors),
        config: stageConfig(o),
      });
      await engine.start();
      const server = o.serve
        ? await startServerFor(engine, db, o.listen ?? '127.0.0.1:7070').catch((err: unknown) => {
            log.warn(`API server not started: ${(err as Error).message}`);
            return undefined;
          })
        : undefined;
      const otlp = o.otlp
        ? await startOtlpFor(engine, db, o.otlp).catch((err: unknown) => {
            log.warn(`OTLP receiver not started: ${(err as Error).message}`);
            return undefined;
          })
        : undefined;
      if (otlp) output.notice(`vigie: OTLP/HTTP traces on ${otlp.url}/v1/traces`);
      output.notice(
        `vigie: watching (${engine.mode} mode; sources: ${engine.sources.map((s) => s.name).join(', ') || 'none'}; ` +
          `detectors: ${engine.detectors.map((d) => d.name).join(', ') || 'none'}; responder: ${engine.responder ? 'yes' : 'none'})`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
        if (duration) setTimeout(resolve, duration * 1000).unref();
      });
      output.notice('vigie: stopping (flushing queues)');
      await otlp?.close();
      await server?.close();
      await engine.stop();
      const st = engine.stats();
      output.notice(
        `vigie: ${st.events} events, ${st.alerts} alerts, ${st.actions} action records; ` +
          `alert latency p50 ${percentileOf(engine.alertLatencyMs, 50).toFixed(2)} ms p99 ${percentileOf(engine.alertLatencyMs, 99).toFixed(2)} ms; ` +
          `drops ${JSON.stringify(st.drops)}; sources ${JSON.stringify(st.sources)}`,
      );
      db.close();
    });
}
