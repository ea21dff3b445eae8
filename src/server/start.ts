/**
 * Starts the API and dashboard for a running Vigie (or over an existing database), on 127.0.0.1 by
 * default. At first start (no admin token yet) it creates one and prints it once, to stderr.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../infra/db.js';
import { AlertStore } from '../store/alerts.js';
import type { Bus } from '../pipeline/bus.js';
import { MetricsRegistry } from '../pipeline/metrics.js';
import { TokenStore } from './auth.js';
import { registerK8sAuditRoute } from './routes/k8s-audit.js';
import { registerFalcoRoute } from './routes/falco.js';
import type { PushSource } from '../sources/push.js';
import { PostureIndex } from '../detect/posture/posture-index.js';
import { createBaselineManager, type BaselineManager } from '../detect/anomaly/baseline/manager.js';
import { createServer, type ServerDeps } from './app.js';
import { allOf, databaseWritable, type ReadinessCheck } from './readiness.js';
import {
  baselinesProvider,
  incidentsProvider,
  postureFindingsProvider,
  type ResourceHistory,
} from './providers.js';

export function defaultWebDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', 'web'), resolve(here, '..', '..', 'dist', 'web')];
  return candidates.find((c) => existsSync(resolve(c, 'index.html'))) ?? candidates[0];
}

export interface StartOptions extends Partial<Omit<ServerDeps, 'alerts' | 'tokens'>> {
  db: Db;
  bus?: Bus;
  host?: string;
  port?: number;
  metrics?: MetricsRegistry;
  /** Recent resource samples per workload, for the dashboard's sparklines. */
  history?: ResourceHistory;
  /** The live workload baselines (`vigie run`); default: a manager over the store. */
  baselineManager?: BaselineManager;
  /** The live posture findings (`vigie run`); default: an empty index (`vigie serve` runs no detector). */
  postureIndex?: PostureIndex;
  /** When set, POST /k8s-audit feeds Kubernetes audit events into this source (responder token). */
  auditWebhook?: PushSource;
  /** When set, POST /falco feeds Falco's alerts (Falcosidekick's webhook) into this source (responder token). */
  falcoWebhook?: PushSource;
  /** Checks GET /readyz runs after the database write (the brain: its NATS consumer). */
  readinessChecks?: ReadinessCheck[];
  /** Where to print the first admin token (stderr by default). */
  announce?: (line: string) => void;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Set only when this start created the first admin token. */
  adminToken?: string;
  /** Dashboard link carrying the token in the fragment (never sent to the server, never logged). */
  dashboardUrl: string;
  close(): Promise<void>;
}

export async function startApiServer(opts: StartOptions): Promise<RunningServer> {
  const tokens = new TokenStore(opts.db);
  let adminToken: string | undefined;
  if (!tokens.hasAdmin()) adminToken = tokens.create('initial-admin', 'admin').token;
  const app = await createServer({
    ...opts,
    alerts: new AlertStore(opts.db),
    tokens,
    readiness: allOf([databaseWritable(opts.db), ...(opts.readinessChecks ?? [])]),
    metrics: opts.metrics ?? new MetricsRegistry(),
    incidents: opts.incidents ?? incidentsProvider(opts.db),
    baselines:
      opts.baselines ??
      baselinesProvider(opts.baselineManager ?? createBaselineManager(opts.db, undefined), opts.history),
    posture: opts.posture ?? postureFindingsProvider(opts.postureIndex ?? new PostureIndex()),
    webDir: opts.webDir ?? defaultWebDir(),
    reportsDir: opts.reportsDir ?? resolve('reports'),
    plugins: [
      ...(opts.plugins ?? []),
      async (app) => {
        // Webhooks that inject events are declared responder routes (a viewer must not be able to
        // inject events); the server's route-level hook checks the token on the matched route.
        const audit = opts.auditWebhook;
        if (audit) await registerK8sAuditRoute(app, { onEvents: (events) => audit.push(events) });
        const falco = opts.falcoWebhook;
        if (falco) await registerFalcoRoute(app, { onAlerts: (alerts) => falco.pushAlerts(alerts) });
      },
    ],
  });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 7070 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const dashboardUrl = adminToken ? `${url}/#token=${adminToken}` : url;
  const say = opts.announce ?? ((l: string) => process.stderr.write(l + '\n'));
  say(`vigie: API and dashboard on ${url}`);
  if (adminToken) {
    say(`vigie: first start: admin token (shown once, keep it): ${adminToken}`);
    say(`vigie: open ${dashboardUrl}`);
  }
  return { app, url, adminToken, dashboardUrl, close: () => app.close() };
}
