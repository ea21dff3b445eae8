/**
 * Scale-out roles (DESIGN.md, "Scale-out"): an agent per node runs sources and local detectors and
 * publishes alerts to NATS JetStream; the brain consumes them with a durable consumer, stores them
 * (idempotent by uuid), correlates, responds and serves the API. `vigie run` is both in one process.
 */
import { hostname as osHostname } from 'node:os';
import type { Alert } from '../model/alert.js';
import { TOPICS } from '../pipeline/bus.js';
import { NatsBus } from '../pipeline/nats.js';
import type { Detector } from '../detect/types.js';
import type { Source } from '../sources/types.js';
import type { Db } from '../store/db.js';
import { AlertStore } from '../store/alerts.js';
import { logger } from '../util/log.js';
import { Engine, type LiveResponder } from './engine.js';
import type { Output } from './output.js';

const log = logger('scaleout');

export interface AgentOptions {
  nats: string;
  db: Db;
  node?: string;
  output: Output;
  sources?: Source[];
  sourceNames?: string[];
  detectors?: Detector[];
  detectorNames?: string[];
  config?: Record<string, Record<string, unknown> | undefined>;
  stream?: string;
}

export interface Agent {
  engine: Engine;
  bus: NatsBus;
  stop(): Promise<void>;
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const bus = await NatsBus.connect({
    servers: o.nats,
    stream: o.stream,
    onDrop: (n) => log.warn(`NATS outbound queue full: ${n.dropped} alerts dropped so far`),
  });
  const engine = new Engine({
    db: o.db,
    hostname: o.node ?? osHostname(),
    output: o.output,
    sources: o.sources,
    sourceNames: o.sourceNames,
    detectors: o.detectors,
    detectorNames: o.detectorNames,
    config: o.config,
    // Agents never act: containment is the brain's, under its policy and guards.
    responder: null,
    onAlert: (a) => bus.publish(TOPICS.alerts, a),
  });
  await engine.start();
  return {
    engine,
    bus,
    async stop() {
      await engine.stop();
      await bus.close();
    },
  };
}

export interface BrainOptions {
  nats: string;
  db: Db;
  output: Output;
  mode: 'monitor' | 'enforce';
  policyFile?: string;
  /** Cluster-level sources (Kubernetes watch) and detectors (posture, rules) the brain runs itself. */
  sourceNames?: string[];
  detectorNames?: string[];
  config?: Record<string, Record<string, unknown> | undefined>;
  responder?: LiveResponder | null;
  stream?: string;
}

export interface Brain {
  engine: Engine;
  bus: NatsBus;
  received(): number;
  stop(): Promise<void>;
}

export async function startBrain(o: BrainOptions): Promise<Brain> {
  const engine = new Engine({
    db: o.db,
    hostname: osHostname(),
    output: o.output,
    mode: o.mode,
    policyFile: o.policyFile,
    sourceNames: o.sourceNames ?? [],
    detectorNames: o.detectorNames ?? [],
    config: o.config,
    responder: o.responder,
  });
  await engine.start();
  const store = new AlertStore(o.db);
  const bus = await NatsBus.connect({ servers: o.nats, stream: o.stream });
  let received = 0;
  const seen = new Set<string>();
  bus.subscribe<Alert>(
    TOPICS.alerts,
    (a) => {
      received++;
      // At-least-once delivery: an alert seen before (same uuid) is neither stored nor acted on twice.
      if (seen.has(a.uuid) || store.get(a.uuid)) return;
      seen.add(a.uuid);
      if (seen.size > 100_000) seen.delete(seen.values().next().value as string);
      store.add(a);
      o.output.alert(a);
      engine.bus.publish(TOPICS.alerts, a);
    },
    { name: 'brain', capacity: 10_000 },
  );
  return {
    engine,
    bus,
    received: () => received,
    async stop() {
      await bus.close();
      await engine.stop();
    },
  };
}
