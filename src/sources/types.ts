import type { VigieEvent } from '../model/event.js';

/** Where a source delivers events. Returns false when the event was dropped (bounded queue full). */
export type EventSink = (ev: VigieEvent) => boolean;

export interface SourceStats {
  /** Events emitted. */
  events: number;
  /** Malformed inputs counted and skipped. */
  malformed: number;
  /** Events lost before reaching Vigie (kernel buffer, sensor), when known. */
  lost: number;
  [k: string]: number | string | boolean;
}

/** A live source of events. One file per source, registered in sources/registry.ts. */
export interface Source {
  readonly name: string;
  start(sink: EventSink): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats;
}

/** What a source factory is given. */
export interface SourceContext {
  hostname: string;
  config: Record<string, Record<string, unknown> | undefined>;
}

export type SourceFactory = (ctx: SourceContext) => Source | undefined | Promise<Source | undefined>;
