/**
 * The one alert path every composition of Vigie runs:
 *
 *   detector input → alert (workload key set once, in the model) → filter (operator exceptions)
 *   → correlate (incident id set on the alert) → store once → print → feedback to detectors
 *   → publish (the responder, the WebSocket stream and a NATS forwarder subscribe to the bus)
 *
 * An alert that arrived already made (from an agent over NATS, or Falco's alerts) enters at `accept`
 * and takes the same steps; an alert whose uuid is already stored is a replay and stops there, so
 * at-least-once delivery never stores, correlates or acts twice.
 */
import { performance } from 'node:perf_hooks';
import type { Characterizer } from '../characterize/live.js';
import type { Detector } from '../detect/types.js';
import { makeAlert, type Alert, type AlertInput } from '../model/alert.js';
import { TOPICS, type Bus } from '../pipeline/bus.js';
import type { AlertStore } from '../store/alerts.js';
import { logger } from '../util/log.js';
import type { Output } from './output.js';

const log = logger('alerts');

export interface AlertPathOptions {
  hostname: string;
  output: Output;
  /** Where alerts are published once handled (and incidents as they change). */
  bus: Bus;
  /** Durable store; absent where alerts are only forwarded (an agent whose brain stores them). */
  store?: AlertStore;
  /** Detectors that take feedback (Detector.onAlert). */
  detectors: () => readonly Detector[];
  /** Observers of every handled alert (tests, the demo). */
  onAlert?: (a: Alert) => void;
}

export interface AlertPathCounts {
  alerts: number;
  suppressed: number;
  replays: number;
  feedbackErrors: number;
}

export class AlertPath {
  /** Event arrival (sensor delivered, parsed) → alert handled, ms. */
  readonly latencyMs: number[] = [];
  private readonly handledAt = new Map<string, number>();
  private readonly counts: AlertPathCounts = { alerts: 0, suppressed: 0, replays: 0, feedbackErrors: 0 };

  /** Exceptions and correlation; absent where another process correlates (an agent). */
  private characterizer?: Characterizer;

  constructor(private readonly o: AlertPathOptions) {}

  /** The characterize stage is composed after the path exists (it may need the detectors' services). */
  setCharacterizer(c: Characterizer | undefined): void {
    this.characterizer = c;
  }

  /** A detector's finding: made into an alert here, then handled. */
  raise(input: AlertInput, arrivedAt?: number): Alert | undefined {
    return this.accept(makeAlert(input, this.o.hostname), arrivedAt);
  }

  /** An alert made elsewhere (an agent, Falco) or just made by `raise`. */
  accept(a: Alert, arrivedAt?: number): Alert | undefined {
    const o = this.o;
    if (o.store?.has(a.uuid)) {
      this.counts.replays++;
      return undefined;
    }
    // Operator feedback: an alert matching an exception (a confirmed false positive) stops here.
    if (this.characterizer && !this.characterizer.filter(a)) {
      this.counts.suppressed++;
      return undefined;
    }
    if (this.characterizer) {
      try {
        const inc = this.characterizer.correlate(a);
        a.vigie.incident = inc.id;
        o.bus.publish(TOPICS.incidents, inc);
      } catch (err) {
        log.error('correlation failed', { alert: a.uuid, err: String(err) });
      }
    }
    try {
      o.store?.add(a);
    } catch (err) {
      log.error('alert store write failed', { err: String(err) });
    }
    this.counts.alerts++;
    o.output.alert(a);
    const now = performance.now();
    if (arrivedAt !== undefined) this.latencyMs.push(now - arrivedAt);
    this.handledAt.set(a.uuid, now);
    if (this.handledAt.size > 10_000) this.handledAt.delete(this.handledAt.keys().next().value as string);
    o.onAlert?.(a);
    for (const d of o.detectors()) {
      if (!d.onAlert) continue;
      try {
        d.onAlert(a);
      } catch (err) {
        this.counts.feedbackErrors++;
        log.error(`detector ${d.name} onAlert failed`, { err: String(err) });
      }
    }
    o.bus.publish(TOPICS.alerts, a);
    return a;
  }

  /** When (performance.now()) an alert was handled, for alert → containment latency. */
  handledTime(uuid: string): number | undefined {
    return this.handledAt.get(uuid);
  }

  stats(): AlertPathCounts {
    return { ...this.counts };
  }
}
