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
  private now?: EventSink;
  private st: SourceStats = { events: 0, malformed: 0, lost: 0 };

  /**
   * `queued`: events go through the engine's bounded events queue even when a synchronous sink is
   * given (high-volume input, such as spans, whose sender does not need them handled before the answer).
   */
  constructor(
    readonly name: string,
    private readonly queued = false,
  ) {}

  async start(sink: EventSink, alerts?: AlertSink, now?: EventSink): Promise<void> {
    this.sink = sink;
    this.alerts = alerts;
    this.now = now;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
    this.alerts = undefined;
    this.now = undefined;
  }

  /**
   * Alerts another tool made (Falco's): handed to the alert path, which stores them (once their
   * container's identity is resolved) before this resolves. Resolves to how many were not taken
   * (not started).
   */
  async pushAlerts(alerts: Alert[]): Promise<number> {
    let dropped = 0;
    for (const a of alerts) {
      const taken = this.alerts ? this.alerts(a) : false;
      if (taken === true || (taken !== false && (await taken))) this.st.events++;
      else dropped++;
    }
    this.st.lost += dropped;
    return dropped;
  }

  /**
   * Returns how many of the events were dropped (not started, or the events queue was full). With the
   * engine's `now` sink the events are handled before this returns, so the webhook answers 200 only
   * for events already handled (their alerts stored).
   */
  push(events: VigieEvent[]): number {
    let dropped = 0;
    const sink = this.queued ? this.sink : (this.now ?? this.sink);
    for (const ev of events) {
      if (sink && sink(ev)) this.st.events++;
      else dropped++;
    }
    this.st.lost += dropped;
    return dropped;
  }

  /** Input the source's receiver could not read (an undecodable body), counted as the source's. */
  countMalformed(n = 1): void {
    this.st.malformed += n;
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
