/** The engine's options and statistics, and the responder as the engine drives it. */
import type { Characterizer } from '../characterize/live.js';
import type { BaselineManager } from '../detect/anomaly/baseline/manager.js';
import type { TraceModel } from '../detect/traces/model.js';
import type { PostureIndex } from '../detect/posture/posture-index.js';
import type { Detector } from '../detect/types.js';
import type { ActionRecord } from '../model/action.js';
import type { Alert } from '../model/alert.js';
import type { VigieEvent } from '../model/event.js';
import type { Responder } from '../respond/types.js';
import type { ContainerCatalogue, Source } from '../sources/types.js';
import type { Db } from '../infra/db.js';
import type { MetricsRegistry } from '../pipeline/metrics.js';
import type { WorkloadIdentityStats } from './identity.js';
import type { Output } from './output.js';

/** The responder as the engine can drive it (respond/engine.ts adds approve and rollback). */
export interface LiveResponder extends Responder {
  approve?(id: string): Promise<ActionRecord>;
  rollback?(id: string): Promise<ActionRecord>;
  ready?: Promise<unknown>;
}

/** Per-name settings handed to the source, detector and actuator factories. */
export type StageConfig = Record<string, Record<string, unknown> | undefined>;

export interface EngineOptions {
  db: Db;
  hostname: string;
  output: Output;
  mode?: 'monitor' | 'enforce';
  policyFile?: string;
  /** Sources to run; default: every registered source (optionally only `sourceNames`). */
  sources?: Source[];
  sourceNames?: string[];
  /**
   * The container catalogue the sources share and through which every event's workload identity is
   * resolved before it is scored (docs/architecture.md, "Workload identity"). Default: one on the
   * local Docker Engine when the engine composes its sources; with `sources` given and no catalogue,
   * events keep the identity their sources gave them.
   */
  containers?: ContainerCatalogue;
  /** Detectors; default: every registered detector (optionally only `detectorNames`). */
  detectors?: Detector[];
  detectorNames?: string[];
  config?: StageConfig;
  /**
   * Workload baselines for the 'baseline' and 'runtime' detectors; default: one over the store when
   * either of them runs. The API serves the same one (`Engine.baselines`).
   */
  baselines?: BaselineManager;
  /** The posture findings index shared by the posture detector, incidents and the API; default: new. */
  posture?: PostureIndex;
  /** The trace model the trace-model detector feeds (spans from the OTLP receiver); default: new. */
  traces?: TraceModel;
  /** Responder; default: the response stage under the policy. `null` disables the response stage. */
  responder?: LiveResponder | null;
  /**
   * Characterize stage: operator exceptions, correlation into incidents, blast radius. Default: one
   * built over the store (with the cluster when `config.kubernetes.kubeConfig` is set). `null`: none.
   */
  characterizer?: Characterizer | null;
  /** false: alerts are not stored here (an agent: its brain stores and correlates them). */
  storeAlerts?: boolean;
  /** Observers (the demo uses these). */
  onEvent?: (ev: VigieEvent) => void;
  onAlert?: (a: Alert) => void;
  onAction?: (r: ActionRecord) => void;
  /** Where the engine's series are recorded (the API serves them at /metrics); default: its own. */
  metrics?: MetricsRegistry;
  eventQueueCapacity?: number;
  tickMs?: number;
}

export interface EngineStats {
  events: number;
  eventsByKind: Record<string, number>;
  alerts: number;
  actions: number;
  detectorErrors: number;
  /** Alerts suppressed by operator exceptions (confirmed false positives). */
  suppressed: number;
  /** Alerts received again (same uuid) and not handled twice. */
  replays: number;
  responderErrors: number;
  drops: Record<string, number>;
  /** Workload identity resolution (absent when the engine has no container catalogue). */
  identity?: WorkloadIdentityStats;
  sources: Record<string, Record<string, unknown>>;
  detectors: Record<string, Record<string, unknown>>;
  queues: { name: string; size: number; dropped: number; highWater: number }[];
}
