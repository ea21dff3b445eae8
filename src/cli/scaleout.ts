/**
 * Scale-out roles (docs/architecture.md, "Scale-out"): an agent per node runs sources and local
 * detectors and publishes its alerts to NATS JetStream; the brain consumes them with a durable
 * consumer and runs the one alert path on them (exceptions, correlation, store once by uuid,
 * response). Both are the same engine composed differently; `vigie run` is both in one process.
 */
import { hostname as osHostname } from 'node:os';
import { parseAlert } from '../model/alert.js';
import { TOPICS } from '../pipeline/bus.js';
import { NatsBus, type NatsAuth } from '../pipeline/nats.js';
import type { Detector } from '../detect/types.js';
import type { Source } from '../sources/types.js';
import type { Db } from '../infra/db.js';
import { logger } from '../util/log.js';
import { Engine, type LiveResponder } from '../engine/engine.js';
import type { Output } from '../engine/output.js';

const log = logger('scaleout');

export interface AgentOptions {
  nats: string;
  /** Credentials and TLS for the NATS connection. */
  natsAuth?: NatsAuth;
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
    auth: o.natsAuth,
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
  /** Credentials and TLS for the NATS connection. */
  natsAuth?: NatsAuth;
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
  /** Messages on the alerts subject that were skipped: too large, not JSON, or not an alert. */
  invalid(): number;
  stop(): Promise<void>;
}

/** Invalid alerts logged one by one before the log falls back to one line every this many. */
const INVALID_LOGGED = 20;
const INVALID_LOG_EVERY = 1000;

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
  // Whoever can publish on the alerts subject reaches the alert path (store, incidents, response):
  // every message is checked against the alert schema first; the others are counted and skipped.
  const invalidSeries = engine.metrics.counter(
    'vigie_brain_alerts_invalid_total',
    'Messages on the NATS alerts subject skipped by the brain (too large, not JSON, not an alert)',
    ['reason'],
  );
  let invalid = 0;
  const skip = (reason: 'size' | 'json' | 'schema', detail: string): void => {
    invalid++;
    invalidSeries.inc({ reason });
    // The detail quotes the sender's keys and parser messages: the logger escapes control characters.
    if (invalid <= INVALID_LOGGED || invalid % INVALID_LOG_EVERY === 0)
      log.warn(
        `invalid alert from NATS skipped (${reason}): ${detail.slice(0, 500)}${invalid === INVALID_LOGGED ? ` (logging one in ${INVALID_LOG_EVERY} from now on)` : ''}`,
        { invalidTotal: invalid },
      );
  };
  const bus = await NatsBus.connect({
    servers: o.nats,
    auth: o.natsAuth,
    stream: o.stream,
    onMalformed: (topic, reason, detail) => {
      if (topic === TOPICS.alerts) skip(reason, detail);
    },
  });
  let received = 0;
  bus.subscribe<unknown>(
    TOPICS.alerts,
    (msg) => {
      received++;
      const r = parseAlert(msg);
      if (!r.ok) return skip('schema', r.reason);
      // At-least-once delivery: the alert path stops a uuid it has already stored.
      engine.accept(r.alert);
    },
    { name: 'brain', capacity: 10_000 },
  );
  return {
    engine,
    bus,
    received: () => received,
    invalid: () => invalid,
    async stop() {
      await bus.close();
      await engine.stop();
    },
  };
}
