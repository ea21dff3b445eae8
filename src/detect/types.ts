import type { AlertInput } from '../model/alert.js';
import type { EventKind, VigieEvent } from '../model/event.js';

export type AlertEmitter = (a: AlertInput) => void;

/**
 * A live detector: sees events of the kinds it declares, emits alert inputs.
 * Detectors never call actuators (DESIGN.md). One file per detector, registered in detect/registry.ts.
 */
export interface Detector {
  readonly name: string;
  readonly kinds: readonly EventKind[];
  onEvent(ev: VigieEvent, emit: AlertEmitter): void;
  /** Periodic work (stale baselines, window closing). `nowNs` is the event clock where replaying. */
  tick?(nowNs: bigint, emit: AlertEmitter): void;
  close?(): void | Promise<void>;
  stats?(): Record<string, number | string>;
}
