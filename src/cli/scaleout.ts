/**
 * Scale-out roles (docs/architecture.md, "Scale-out"): an agent per node runs sources and local
 * detectors and publishes its alerts to NATS JetStream; the brain consumes them with a durable
 * consumer and runs the one alert path on them (exceptions, correlation, store once by uuid,
 * response). Both are the same engine composed differently; `vigie run` is both in one process.
 */
import { hostname as osHostname } from 'node:os';
import type { Alert } from '../model/alert.js';
import { TOPICS } from '../pipeline/bus.js';
import { NatsBus } from '../pipeline/nats.js';
import type { Detector } from '../detect/types.js';
import type { Source } from '../sources/types.js';
import type { Db } from '../infra/db.js';
import { logger } from '../util/log.js';
import { Engine, type LiveResponder } from '../engine/engine.js';
import type { Output } from '../engine/output.js';

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
    // Agents detect and forward. Exceptions, correlation, storage and containment are the brain's,
    // once for the whole cluster, so that an attack that spans nodes is one incident.
    responder: null,
    characterizer: null,
    storeAlerts: false,
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
  const bus = await NatsBus.connect({ servers: o.nats, stream: o.stream });
  let received = 0;
  bus.subscribe<Alert>(
    TOPICS.alerts,
    (a) => {
      received++;
      // At-least-once delivery: the alert path stops a uuid it has already stored.
      engine.accept(a);
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
