/**
 * The OTLP receiver's source: spans that the OTLP/HTTP route (server/otlp.ts) decoded become `span`
 * events and go through the engine's bounded events queue (a full queue drops and counts them; the
 * route tells the sender). Present when `config.otlp.enabled` is set (`vigie run --otlp`).
 */
import { EventIds, type VigieEvent } from '../../model/event.js';
import type { SpanBody } from '../../model/span.js';
import { PushSource } from '../push.js';

export const OTLP_SOURCE = 'otlp';

export class OtlpSource extends PushSource {
  private readonly ids = new EventIds();

  constructor() {
    super(OTLP_SOURCE, true);
  }

  /** Pushes the spans as events; returns how many were dropped. */
  pushSpans(spans: readonly SpanBody[]): number {
    return this.push(spans.map((s) => spanEvent(s, this.ids.next())));
  }
}

/** A span as an event: at its start time, of its pod and service when known. */
export function spanEvent(span: SpanBody, id: string, source = OTLP_SOURCE): VigieEvent {
  return {
    id,
    kind: 'span',
    ts: span.startNs,
    source,
    k8s: span.pod ? { pod: span.pod, workload: span.service } : undefined,
    span,
  };
}

export function createOtlpSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): OtlpSource | undefined {
  return ctx.config.otlp?.enabled ? new OtlpSource() : undefined;
}
