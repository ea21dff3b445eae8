import type { ActionRecord } from '../model/action.js';
import type { Alert, AlertInput } from '../model/alert.js';
import type { EventKind, VigieEvent } from '../model/event.js';
import type { Db } from '../infra/db.js';
import type { BaselineManager } from './anomaly/baseline/manager.js';
import type { PostureIndex } from './posture/posture-index.js';
import type { TraceModel } from './traces/model.js';

export type AlertEmitter = (a: AlertInput) => void;

/**
 * A live detector: sees events of the kinds it declares, emits alert inputs.
 * Detectors never call actuators (docs/architecture.md, "Layering"). One file per detector, registered in detect/registry.ts.
 */
export interface Detector {
  readonly name: string;
  readonly kinds: readonly EventKind[];
  onEvent(ev: VigieEvent, emit: AlertEmitter): void;
  /**
   * Periodic work (stale baselines, window closing). `nowNs` is on the event clock: the engine passes
   * the latest event time it has seen, advanced by the monotonic time elapsed since (never the wall
   * clock beside event times), so a replay keeps its own time.
   */
  tick?(nowNs: bigint, emit: AlertEmitter): void;
  /**
   * Every alert the engine raised (from any detector), after it is stored: the feedback a detector
   * may need (a baseline pauses its learning on its workload's security alerts).
   */
  onAlert?(a: Alert): void;
  /**
   * Every action record the engine prints (planned, executed, rolled back, expired): a detector that
   * remembers evidence about a workload forgets it when that workload's containment is rolled back,
   * and may note that Vigie paused it.
   */
  onAction?(r: ActionRecord): void;
  close?(): void | Promise<void>;
  stats?(): Record<string, number | string>;
}

/** What a detector factory is given. */
export interface DetectorContext {
  db: Db;
  hostname: string;
  /** Free-form settings from the CLI / config file, by detector name. */
  config: Record<string, Record<string, unknown> | undefined>;
  /**
   * The learned workload baselines, one service for the 'baseline' detector (which learns into it)
   * and the 'runtime' detector (its unusual-port rule asks it); the caller creates it once and may
   * hand it to the API too. Without it the 'baseline' detector opens its own over `db` and the
   * 'runtime' rules go without workload baselines.
   */
  baselines?: BaselineManager;
  /** Where the posture detector publishes the cluster's current findings (readers get the same one). */
  posture?: PostureIndex;
  /** The live trace model (call graph, per-operation windows): the trace-model detector feeds it. */
  traces?: TraceModel;
}

export type DetectorFactory = (ctx: DetectorContext) => Detector | undefined | Promise<Detector | undefined>;
