/**
 * A source fed from inside the process: the HTTP server's audit webhook pushes what it receives
 * here, so that webhook events go through the same bounded events queue, detectors and counters as
 * every other source's.
 */
import type { Alert } from '../model/alert.js';
import type { VigieEvent } from '../model/event.js';
import type { AlertSink, EventSink, Source, SourceStats } from './types.js';

export class PushSource implements Source {
  private sink?: EventSink;
  private alerts?: AlertSink;
  private st: SourceStats = { events: 0, malformed: 0, lost: 0 };

  constructor(readonly name: string) {}

  async start(sink: EventSink, alerts?: AlertSink): Promise<void> {
    this.sink = sink;
    this.alerts = alerts;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
    this.alerts = undefined;
  }

  /**
   * Alerts another tool made (Falco's): handed to the alert path, which stores them before this
   * returns. Returns how many were not taken (not started).
   */
  pushAlerts(alerts: Alert[]): number {
    let dropped = 0;
    for (const a of alerts) {
      if (this.alerts && this.alerts(a)) this.st.events++;
      else dropped++;
    }
    this.st.lost += dropped;
    return dropped;
  }

  /** Returns how many of the events were dropped (not started, or the events queue was full). */
  push(events: VigieEvent[]): number {
    let dropped = 0;
    for (const ev of events) {
      if (this.sink && this.sink(ev)) this.st.events++;
      else dropped++;
    }
    this.st.lost += dropped;
    return dropped;
  }

  stats(): SourceStats {
    return { ...this.st };
  }
}

/** Registered as 'k8s-audit-webhook': present when `config['k8s-audit-webhook'].enabled` is set. */
export function createAuditWebhookSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): PushSource | undefined {
  return ctx.config['k8s-audit-webhook']?.enabled ? new PushSource('k8s-audit-webhook') : undefined;
}

/** Registered as 'falco-webhook': present when `config['falco-webhook'].enabled` is set (POST /falco). */
export function createFalcoWebhookSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): PushSource | undefined {
  return ctx.config['falco-webhook']?.enabled ? new PushSource('falco-webhook') : undefined;
}
