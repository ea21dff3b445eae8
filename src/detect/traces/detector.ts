/**
 * The consumer of `span` events in a live engine: it feeds the engine's trace model (model.ts), the
 * service that trace detectors and the API read. It raises no alert itself; its tick moves the
 * model's clock (closing quiet traces, making windows final).
 */
import type { VigieEvent } from '../../model/event.js';
import type { Detector, DetectorContext } from '../types.js';
import { TraceModel } from './model.js';

export class TraceModelFeeder implements Detector {
  readonly name = 'trace-model';
  readonly kinds = ['span'] as const;

  constructor(readonly model: TraceModel) {}

  onEvent(ev: VigieEvent): void {
    if (ev.span) this.model.add(ev.span);
  }

  tick(nowNs: bigint): void {
    this.model.advance(nowNs);
  }

  close(): void {
    this.model.flush();
  }

  stats(): Record<string, number> {
    return { ...this.model.stats() };
  }
}

/** Registered as 'trace-model': feeds the engine's trace model (or a model of its own without one). */
export function createTraceModelDetector(ctx: DetectorContext): Detector {
  return new TraceModelFeeder(ctx.traces ?? new TraceModel());
}
