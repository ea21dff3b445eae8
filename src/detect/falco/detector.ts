/**
 * Falco's own detections as Vigie alerts: each Falco alert that a source brought in (the `falco`
 * file source; events of kind 'internal', type 'falco_alert') becomes an alert with Falco's rule,
 * priority, output, tags and fields, its MITRE references read from the tags as for Vigie's own
 * Falco rules, and the container, pod and process as entities. From there it is correlated into
 * incidents and can trigger response policies like any other alert: Falco detects, Vigie contains.
 */
import { parsePriority, type Category, type Priority } from '../../model/alert.js';
import type { VigieEvent } from '../../model/event.js';
import type { FalcoAlert } from '../../sources/falco.js';
import { mitreOf } from '../rules/engine.js';
import type { AlertEmitter, Detector } from '../types.js';

type Field = string | number | boolean | null;

export class FalcoAlertsDetector implements Detector {
  readonly name = 'falco';
  readonly kinds = ['internal'] as const;
  private alerts = 0;
  private unknownPriority = 0;

  onEvent(ev: VigieEvent, emit: AlertEmitter): void {
    if (ev.internal?.type !== 'falco_alert') return;
    const a = (ev as VigieEvent & { falco?: FalcoAlert }).falco;
    if (!a) return;
    let priority: Priority;
    try {
      priority = parsePriority(a.priority);
    } catch {
      this.unknownPriority++;
      priority = 'Warning';
    }
    const tags = (a.tags ?? []).filter((t): t is string => typeof t === 'string');
    const mitre = mitreOf(tags);
    const fields: Record<string, Field> = {};
    for (const [k, v] of Object.entries(a.output_fields ?? {}))
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v as Field;
    // Falco's rules are threat detections unless their tags say otherwise.
    const category: Category = tags.some((t) => t === 'k8s' || t === 'cis' || t === 'compliance')
      ? 'misconfiguration'
      : 'attack';
    this.alerts++;
    emit({
      rule: a.rule,
      priority,
      source: a.source ?? 'syscall',
      output: a.output,
      tags,
      output_fields: fields,
      category: mitre.length > 0 ? 'attack' : category,
      detector: this.name,
      explanation: `reported by Falco${a.hostname ? ` on ${a.hostname}` : ''}`,
      mitre,
      event: ev,
    });
  }

  stats(): Record<string, number> {
    return { alerts: this.alerts, unknownPriority: this.unknownPriority };
  }
}

/** Always on: it only sees events that a Falco source brought in. */
export function createFalcoAlertsDetector(): FalcoAlertsDetector {
  return new FalcoAlertsDetector();
}
