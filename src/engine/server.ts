/**
 * The API and dashboard beside a running engine: its alerts bus feeds the WebSocket stream, its
 * responder answers approve/rollback, its push sources receive the webhooks.
 */
import { ResourceHistory } from '../server/providers.js';
import type { ReadinessCheck } from '../server/readiness.js';
import { startApiServer, type RunningServer } from '../server/start.js';
import { PushSource } from '../sources/push.js';
import type { Db } from '../infra/db.js';
import type { Engine } from './engine.js';

export async function startServerFor(
  engine: Engine,
  db: Db,
  listen: string,
  readinessChecks: ReadinessCheck[] = [],
): Promise<RunningServer> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen must be host:port, not "${listen}"`);
  const r = engine.responder;
  const history = new ResourceHistory();
  engine.addEventObserver((ev) => history.observe(ev));
  const pushed = (name: string) =>
    engine.sources.find((s): s is PushSource => s instanceof PushSource && s.name === name);
  const actions =
    r && 'list' in r && 'get' in r && r.approve && r.rollback
      ? (r as unknown as Parameters<typeof startApiServer>[0]['actions'])
      : undefined;
  return startApiServer({
    db,
    bus: engine.bus,
    host: m[1].replace(/^\[|\]$/g, ''),
    port: Number(m[2]),
    actions,
    history,
    baselineManager: engine.baselines,
    postureIndex: engine.posture,
    auditWebhook: pushed('k8s-audit-webhook'),
    falcoWebhook: pushed('falco-webhook'),
    metrics: engine.metrics,
    stats: () => engine.stats(),
    readinessChecks,
  });
}
