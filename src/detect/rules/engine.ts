/**
 * The rule engine: compiled rules indexed by source and by an index key (evt.type for syscall events,
 * ka.verb for audit events), so that an event meets only the rules that can match it. No I/O.
 */
import { mitreFromTags, techniqueSeverity } from '../../model/mitre-tags.js';
import { makeAlert, type Alert, type AlertInput } from '../../model/alert.js';
import type { VigieEvent } from '../../model/event.js';
import type { SyscallFieldState } from './fields/syscall.js';
import type { CompiledRule, LoadResult } from './load/types.js';

export type RuleMatching = 'first' | 'all';

const NONE: readonly CompiledRule[] = [];

interface SourceIndex {
  byKey: Map<string, CompiledRule[]>;
  /** Rules without an index constraint, for keys absent from byKey. */
  any: CompiledRule[];
}

/** Which rule source an event belongs to. */
export function sourceOf(ev: VigieEvent): 'syscall' | 'k8s_audit' | undefined {
  if (ev.kind === 'k8s_audit') return 'k8s_audit';
  if (ev.kind === 'syscall' || ev.kind === 'process' || ev.kind === 'file' || ev.kind === 'network')
    return 'syscall';
  return undefined;
}

/** The index key of an audit event: its verb. */
function auditIndexKey(ev: VigieEvent): string | undefined {
  const v = (ev.audit as Record<string, unknown> | undefined)?.verb;
  return typeof v === 'string' ? v : undefined;
}

export interface EngineOptions {
  /** Falco's rule_matching: 'first' (Falco's default) stops at the first matching rule per event. */
  ruleMatching?: RuleMatching;
}

export class RuleEngine {
  readonly rules: CompiledRule[];
  private readonly index = new Map<string, SourceIndex>();
  private readonly matching: RuleMatching;
  /** Shared with the compiled rules: the engine numbers the events they see (evt.num). */
  private readonly fieldState: SyscallFieldState;
  private counter = 0;
  readonly matchCounts = new Map<string, number>();

  constructor(loaded: Pick<LoadResult, 'rules' | 'fieldState'>, opts: EngineOptions = {}) {
    this.rules = loaded.rules;
    this.fieldState = loaded.fieldState;
    this.matching = opts.ruleMatching ?? 'first';
    const active = this.rules.filter((r) => r.active).sort((a, b) => a.order - b.order);
    const sources = new Set(active.map((r) => r.source));
    for (const source of sources) {
      const rs = active.filter((r) => r.source === source);
      const keys = new Set<string>();
      for (const r of rs) if (r.keys) for (const k of r.keys) keys.add(k);
      const byKey = new Map<string, CompiledRule[]>();
      // Each key's list keeps load order, mixing keyed rules and unconstrained ones.
      for (const k of keys)
        byKey.set(
          k,
          rs.filter((r) => r.keys === null || r.keys.has(k)),
        );
      this.index.set(source, { byKey, any: rs.filter((r) => r.keys === null) });
    }
    this.syscallIdx = this.index.get('syscall');
    this.auditIdx = this.index.get('k8s_audit');
  }

  private syscallIdx: SourceIndex | undefined;
  private auditIdx: SourceIndex | undefined;

  activeRules(): CompiledRule[] {
    return this.rules.filter((r) => r.active);
  }

  /** The rules an event meets after indexing. */
  candidates(ev: VigieEvent): readonly CompiledRule[] {
    let idx: SourceIndex | undefined;
    let k: string | undefined;
    if (ev.kind === 'k8s_audit') {
      idx = this.auditIdx;
      k = auditIndexKey(ev);
    } else {
      idx = this.syscallIdx;
      k = this.fieldState.eventType(ev);
      if (k === undefined) return NONE;
    }
    if (!idx) return NONE;
    return (k !== undefined ? idx.byKey.get(k) : undefined) ?? idx.any;
  }

  /**
   * Evaluates an event; calls onMatch for each matching rule (only the first with 'first').
   * Returns the number of matches.
   */
  evaluate(ev: VigieEvent, onMatch?: (rule: CompiledRule, ev: VigieEvent) => void): number {
    const rs = this.candidates(ev);
    const len = rs.length;
    if (len === 0) return 0;
    this.fieldState.eventNumber = ++this.counter;
    let n = 0;
    for (let i = 0; i < len; i++) {
      const r = rs[i];
      if (r.pred(ev)) {
        n++;
        this.matchCounts.set(r.name, (this.matchCounts.get(r.name) ?? 0) + 1);
        onMatch?.(r, ev);
        if (this.matching === 'first') break;
      }
    }
    return n;
  }

  /** Evaluates and builds alerts. */
  alerts(ev: VigieEvent, hostname: string): Alert[] {
    const out: Alert[] = [];
    this.evaluate(ev, (r) => out.push(makeAlert(alertInput(r, ev), hostname)));
    return out;
  }
}

/** Tags to ATT&CK references: one reading of tags for Vigie's rules and Falco's alerts. */
export const mitreOf = mitreFromTags;

/** Falco prefixes the rendered output with the event time and priority. */
function timePrefix(ts: bigint): string {
  const d = new Date(Number(ts / 1_000_000n));
  const frac = (ts % 1_000_000_000n).toString().padStart(9, '0');
  return `${d.toISOString().slice(11, 19)}.${frac}`;
}

/**
 * The alert of a matched rule. An attack's priority follows what its ATT&CK tags mean (credential
 * access, command and control, exfiltration, escape to host: Critical; model/mitre-tags.ts); the
 * rule's own priority stays in the rendered output, as Falco writes it, and in
 * `vigie.rule_priority` when it was raised.
 */
export function alertInput(r: CompiledRule, ev: VigieEvent): AlertInput {
  const { text, fields } = r.output.render(ev);
  const category = r.tags.includes('misconfiguration') ? 'misconfiguration' : 'attack';
  const mitre = mitreOf(r.tags);
  const sev = category === 'attack' ? techniqueSeverity(r.priority, mitre, r.tags) : { priority: r.priority };
  const desc = r.desc ? `: ${r.desc.replace(/\s+/g, ' ').trim()}` : '';
  const raised = sev.raisedBy
    ? ` Priority ${sev.priority}, not the rule's ${r.priority}: ${sev.raisedBy}.`
    : '';
  return {
    rule: r.name,
    priority: sev.priority,
    source: r.source,
    output: `${timePrefix(ev.ts)}: ${r.priority} ${text}`,
    tags: r.tags,
    output_fields: sev.raisedBy ? { ...fields, 'vigie.rule_priority': r.priority } : fields,
    category,
    detector: 'rules',
    explanation: `rule "${r.name}" matched${desc}${raised}`,
    mitre,
    event: ev,
  };
}
