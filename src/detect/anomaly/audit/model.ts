/**
 * Statistical detection on Kubernetes audit streams, for what rules miss:
 *
 *  - first-seen: an identity doing a verb on a resource in a namespace it never did while learning;
 *  - rare source IP: an identity with an established history calling from an address it never used;
 *  - bursts: in a sliding window, denied requests (401/403 or decision forbid) or secret reads by one
 *    identity above what learning saw (the learned per-window maximum times a margin, and never below
 *    an absolute floor).
 *
 * The model learns for a window of event time (nothing is reported meanwhile), then reports. Every
 * report carries an explanation (what deviated from what). State is bounded; overflow is counted.
 */
import { LONG_RUNNING_SUBRESOURCES } from '../../../sources/k8s-audit-file.js';
import type { VigieEvent } from '../../../model/event.js';

export interface AuditAnomalyConfig {
  /** Learning window in event time. */
  learnNs: bigint;
  /** Burst window. */
  windowNs: bigint;
  /** Minimum events of an identity while learning before its source IPs count as known. */
  minIdentityEvents: number;
  /** Burst threshold = max(floor, margin × the largest count per window seen while learning). */
  burstFloor: number;
  burstMargin: number;
  /** Bounds on remembered keys. */
  maxTuples: number;
  maxIdentities: number;
}

export const DEFAULT_AUDIT_ANOMALY: Readonly<AuditAnomalyConfig> = {
  learnNs: 3_600n * 1_000_000_000n,
  windowNs: 60n * 1_000_000_000n,
  minIdentityEvents: 20,
  burstFloor: 10,
  burstMargin: 3,
  maxTuples: 200_000,
  maxIdentities: 50_000,
};

export type AuditAnomalyKind = 'first-seen' | 'rare-source-ip' | 'denied-burst' | 'secret-read-burst';

export interface AuditAnomaly {
  kind: AuditAnomalyKind;
  identity: string;
  explanation: string;
  score: number;
  threshold: number;
  event: VigieEvent;
  details: Record<string, string | number>;
}

interface Burst {
  /** Event times in the current window (ring of bigint as numbers relative to window start). */
  times: bigint[];
  /** Largest count per window seen while learning. */
  learnedMax: number;
  /** Time until which this identity's burst was already reported (one report per episode). */
  reportedUntil: bigint;
}

type A = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface AuditFacts {
  identity: string;
  verb: string;
  resource: string;
  namespace: string;
  ips: string[];
  denied: boolean;
  secretRead: boolean;
}

/** Extracts what the model needs from one audit event; undefined for stages it ignores. */
export function auditFacts(ev: VigieEvent): AuditFacts | undefined {
  const a = ev.audit as A | undefined;
  if (!a) return undefined;
  const stage = str(a.stage);
  const ref = (a.objectRef ?? {}) as A;
  // One event per request: the completed response; for exec, attach and port-forward also the
  // started stream, which is all that some exports keep (GKE writes one entry, mapped to
  // ResponseStarted). Seeing both stages of one request learns the same tuple twice, which is harmless.
  const started = stage === 'ResponseStarted' && LONG_RUNNING_SUBRESOURCES.has(str(ref.subresource) ?? '');
  if (stage && stage !== 'ResponseComplete' && stage !== 'Panic' && !started) return undefined;
  const user = (a.user ?? {}) as A;
  const identity = str(user.username) ?? 'unknown';
  const resource = [str(ref.resource) ?? str(a.requestURI)?.split('?')[0] ?? '-', str(ref.subresource)]
    .filter(Boolean)
    .join('/');
  const code = Number(((a.responseStatus ?? {}) as A).code ?? 0);
  const decision = str(((a.annotations ?? {}) as A)['authorization.k8s.io/decision']);
  const verb = str(a.verb) ?? '-';
  return {
    identity,
    verb,
    resource,
    namespace: str(ref.namespace) ?? '',
    ips: Array.isArray(a.sourceIPs)
      ? (a.sourceIPs as unknown[]).filter((x): x is string => typeof x === 'string')
      : [],
    denied: code === 401 || code === 403 || decision === 'forbid',
    secretRead: str(ref.resource) === 'secrets' && (verb === 'get' || verb === 'list' || verb === 'watch'),
  };
}

export class AuditAnomalyModel {
  private start: bigint | undefined;
  private ready = false;
  private readonly tuples = new Set<string>();
  private readonly ips = new Map<string, Map<string, number>>();
  private readonly identityEvents = new Map<string, number>();
  private readonly reportedIps = new Set<string>();
  private readonly denied = new Map<string, Burst>();
  private readonly secrets = new Map<string, Burst>();
  readonly counters = { events: 0, learned: 0, reported: 0, overflow: 0 };

  constructor(readonly cfg: AuditAnomalyConfig = DEFAULT_AUDIT_ANOMALY) {}

  get state(): 'learning' | 'ready' {
    return this.ready ? 'ready' : 'learning';
  }

  /** Learning ends by event time, so replays behave like live streams. */
  advance(now: bigint): void {
    if (this.start === undefined) this.start = now;
    if (!this.ready && now - this.start >= this.cfg.learnNs) this.ready = true;
  }

  observe(ev: VigieEvent): AuditAnomaly[] {
    const f = auditFacts(ev);
    if (!f) return [];
    this.counters.events++;
    this.advance(ev.ts);
    const out: AuditAnomaly[] = [];
    const tuple = `${f.identity}\u0000${f.verb}\u0000${f.resource}\u0000${f.namespace}`;
    const where = f.namespace ? `in namespace ${f.namespace}` : 'cluster-wide';

    if (!this.ready) {
      this.counters.learned++;
      this.remember(tuple);
      this.identityEvents.set(f.identity, (this.identityEvents.get(f.identity) ?? 0) + 1);
      let m = this.ips.get(f.identity);
      if (!m) {
        if (this.ips.size >= this.cfg.maxIdentities) this.counters.overflow++;
        else this.ips.set(f.identity, (m = new Map()));
      }
      if (m) for (const ip of f.ips) m.set(ip, (m.get(ip) ?? 0) + 1);
    } else {
      if (!this.tuples.has(tuple)) {
        this.remember(tuple);
        out.push({
          kind: 'first-seen',
          identity: f.identity,
          score: 1,
          threshold: 1,
          event: ev,
          details: { verb: f.verb, resource: f.resource, namespace: f.namespace },
          explanation: `${f.identity} did "${f.verb} ${f.resource}" ${where} for the first time: never seen among the ${this.tuples.size - 1} identity/verb/resource/namespace combinations learned`,
        });
      }
      const known = this.ips.get(f.identity);
      const n = this.identityEvents.get(f.identity) ?? 0;
      if (known && n >= this.cfg.minIdentityEvents) {
        for (const ip of f.ips) {
          const key = `${f.identity}\u0000${ip}`;
          if (known.has(ip) || this.reportedIps.has(key)) continue;
          this.reportedIps.add(key);
          out.push({
            kind: 'rare-source-ip',
            identity: f.identity,
            score: 0,
            threshold: 1,
            event: ev,
            details: { ip, knownIps: known.size, learnedEvents: n },
            explanation: `${f.identity} called the API server from ${ip}, an address it never used in ${n} learned requests (known: ${[...known.keys()].slice(0, 5).join(', ')}${known.size > 5 ? ', ...' : ''})`,
          });
        }
      }
    }
    if (f.denied) this.burst(this.denied, f, ev, 'denied-burst', 'denied requests', out);
    if (f.secretRead) this.burst(this.secrets, f, ev, 'secret-read-burst', 'secret reads', out);
    this.counters.reported += out.length;
    return out;
  }

  private remember(tuple: string): void {
    if (this.tuples.size >= this.cfg.maxTuples) {
      this.counters.overflow++;
      return;
    }
    this.tuples.add(tuple);
  }

  private burst(
    map: Map<string, Burst>,
    f: AuditFacts,
    ev: VigieEvent,
    kind: AuditAnomalyKind,
    what: string,
    out: AuditAnomaly[],
  ): void {
    let b = map.get(f.identity);
    if (!b) {
      if (map.size >= this.cfg.maxIdentities) {
        this.counters.overflow++;
        return;
      }
      b = { times: [], learnedMax: 0, reportedUntil: -1n };
      map.set(f.identity, b);
    }
    const t = ev.ts;
    b.times.push(t);
    const from = t - this.cfg.windowNs;
    let drop = 0;
    while (drop < b.times.length && b.times[drop] <= from) drop++;
    if (drop) b.times.splice(0, drop);
    const count = b.times.length;
    if (!this.ready) {
      if (count > b.learnedMax) b.learnedMax = count;
      return;
    }
    const threshold = Math.max(this.cfg.burstFloor, Math.ceil(b.learnedMax * this.cfg.burstMargin));
    if (count >= threshold && t > b.reportedUntil) {
      b.reportedUntil = t + this.cfg.windowNs;
      const secs = Number(this.cfg.windowNs / 1_000_000_000n);
      out.push({
        kind,
        identity: f.identity,
        score: count,
        threshold,
        event: ev,
        details: { count, windowSeconds: secs, learnedMax: b.learnedMax },
        explanation: `${count} ${what} by ${f.identity} within ${secs}s, above the threshold ${threshold} (learned maximum ${b.learnedMax} per ${secs}s, margin ×${this.cfg.burstMargin}, floor ${this.cfg.burstFloor})`,
      });
    }
  }
}
