/**
 * Incidents: alerts correlated by entity (workload, pod, container, node, identity) and time.
 * An alert joins the open incident that shares one of its entity keys and saw an alert within the
 * correlation window; otherwise it opens a new one. Performance alerts are held to a shorter window
 * around an incident's security activity (`perfWindowMs`): a CPU alert from ten minutes before an
 * attack is not part of the attack, and a security alert never joins an incident of performance
 * alerts alone. Each incident keeps a timeline, its ATT&CK
 * techniques, a severity that combines the alerts, the workload's posture findings and the blast
 * radius, and a short explanation. An incident that accumulates ATT&CK tactics escalates (Execution
 * then Command and Control is critical even when each alert is a Warning): the response policy can
 * act on the incident's severity. Stored in SQLite (tables owned here).
 */
import type { Statement } from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { priorityRank, type Alert, type MitreRef, type Priority } from '../model/alert.js';
import { migrate, type Db, type Migration } from '../infra/db.js';
import type { BlastRadius } from './blast.js';
import { mitreOf, tacticRank, TACTICS } from './mitre.js';

export const INCIDENTS_SCHEMA: readonly Migration[] = [
  {
    id: 'incidents_001',
    sql: `CREATE TABLE IF NOT EXISTS incidents (
     id TEXT PRIMARY KEY,
     first_seen TEXT NOT NULL,
     last_seen TEXT NOT NULL,
     status TEXT NOT NULL,
     level TEXT NOT NULL,
     score INTEGER NOT NULL,
     title TEXT NOT NULL,
     json TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS incidents_last ON incidents(last_seen DESC);
   CREATE TABLE IF NOT EXISTS incident_keys (
     key TEXT NOT NULL,
     incident_id TEXT NOT NULL,
     last_seen_ms INTEGER NOT NULL,
     PRIMARY KEY (key, incident_id)
   );
   CREATE INDEX IF NOT EXISTS incident_keys_key ON incident_keys(key, last_seen_ms DESC);
   CREATE TABLE IF NOT EXISTS incident_alerts (
     alert_uuid TEXT PRIMARY KEY,
     incident_id TEXT NOT NULL
   );`,
  },
];

export interface TimelineEntry {
  time: string;
  alert: string;
  rule: string;
  priority: Priority;
  category: string;
  output: string;
  techniques: string[];
}

export interface PostureFinding {
  control: string;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  message?: string;
  title?: string;
}

export type SeverityLevel = 'critical' | 'high' | 'medium' | 'low';

/** How severe the tactics an incident accumulated make it, whatever the priority of its alerts. */
export interface Escalation {
  priority: Priority;
  why: string;
}

export interface IncidentSeverity {
  score: number;
  level: SeverityLevel;
  factors: { factor: string; points: number; why: string }[];
}

export interface Incident {
  id: string;
  title: string;
  status: 'open' | 'closed';
  firstSeen: string;
  lastSeen: string;
  entities: {
    namespace?: string;
    workload?: string;
    pods: string[];
    containers: string[];
    /** Full container ids, for Docker blast radius and actions. */
    containerIds?: string[];
    nodes: string[];
    identities: string[];
    hosts: string[];
  };
  /** How many alerts the incident holds (authoritative; `alerts` lists those in the timeline). */
  alertCount: number;
  /** Uuids of the alerts in the timeline; `vigie incidents show` lists all from the store. */
  alerts: string[];
  timeline: TimelineEntry[];
  mitre: MitreRef[];
  tactics: string[];
  categories: string[];
  maxPriority: Priority;
  /** Set when the tactics it accumulated set a least severity for it (escalationOf). */
  escalation?: Escalation;
  posture: PostureFinding[];
  blastRadius?: BlastRadius;
  severity: IncidentSeverity;
  explanation: string;
}

export interface CorrelatorOptions {
  /** Alerts further apart than this on the same entity start a new incident (default 30 min). */
  windowMs?: number;
  /**
   * A performance alert joins an incident with security activity (any other category) only within
   * this much of that activity on a shared entity, either side (default 2 min); otherwise it joins or
   * opens an incident of performance alerts alone, correlated over `windowMs`.
   */
  perfWindowMs?: number;
  /** Posture findings of a workload (namespace, workload name), when the posture module provides them. */
  postureOf?: (namespace: string, workload: string) => PostureFinding[] | undefined;
  /** Timeline entries kept per incident: the first 20 and the most recent (default 200 in all). */
  maxTimeline?: number;
}

/** Entity keys of an alert. Node and host keys only when nothing narrower is known. */
export function entityKeys(a: Alert): string[] {
  const e = a.vigie.entities;
  const keys: string[] = [];
  const k = e.k8s;
  if (k?.namespace && k.workload) keys.push(`wl:${k.namespace}/${k.workload}`);
  if (k?.namespace && k.pod) keys.push(`pod:${k.namespace}/${k.pod}`);
  if (e.workload) keys.push(`wl:${e.workload}`);
  if (e.container?.id && e.container.id !== 'host') keys.push(`ctr:${e.container.id.slice(0, 12)}`);
  if (k?.serviceAccount) keys.push(`id:${k.namespace ?? 'default'}/${k.serviceAccount}`);
  if (e.user && keys.length === 0) keys.push(`user:${e.user}`);
  if (keys.length === 0 && k?.node) keys.push(`node:${k.node}`);
  if (keys.length === 0 && (e.host ?? a.hostname)) keys.push(`host:${e.host ?? a.hostname}`);
  return [...new Set(keys)];
}

/** Entity keys of performance activity are stored apart from security activity's, with this prefix. */
const PERF_KEY = 'perf|';
const isPerformance = (a: Alert): boolean => a.vigie.category === 'performance';

const PRIORITY_POINTS: Record<Priority, number> = {
  Emergency: 60,
  Alert: 55,
  Critical: 50,
  Error: 40,
  Warning: 30,
  Notice: 18,
  Informational: 8,
  Debug: 2,
};
const POSTURE_POINTS: Record<PostureFinding['severity'], number> = {
  critical: 6,
  high: 4,
  medium: 2,
  low: 1,
  info: 0,
};

/**
 * Tactics that mean an attack got past running code: it reaches out (command and control,
 * exfiltration), takes credentials, spreads, gains privileges or does harm. After an earlier stage
 * of the kill chain (a shell: Execution) one of these makes the incident containment-worthy.
 */
const OBJECTIVES: ReadonlySet<string> = new Set([
  'Privilege Escalation',
  'Credential Access',
  'Lateral Movement',
  'Collection',
  'Command and Control',
  'Exfiltration',
  'Impact',
]);

/**
 * Escalation by accumulated tactics (kill-chain order, whatever order the alerts came in):
 *   - an objective tactic after an earlier one (Execution → Command and Control): Critical;
 *   - three tactics or more: Critical;
 *   - two other tactics (Execution → Persistence): Error.
 * One tactic, however often, does not escalate.
 */
export function escalationOf(tactics: readonly string[]): Escalation | undefined {
  const known = [...new Set(tactics)]
    .filter((t) => tacticRank(t) < TACTICS.length)
    .sort((a, b) => tacticRank(a) - tacticRank(b));
  if (known.length < 2) return undefined;
  const goal = known.slice(1).find((t) => OBJECTIVES.has(t));
  if (goal)
    return {
      priority: 'Critical',
      why: `escalated: ${known[0]} → ${goal}, an attack that went past ${known[0].toLowerCase()} to ${goal.toLowerCase()}`,
    };
  const chain = known.join(' → ');
  if (known.length >= 3)
    return { priority: 'Critical', why: `escalated: ${known.length} ATT&CK tactics (${chain})` };
  return { priority: 'Error', why: `escalated: two ATT&CK tactics (${chain})` };
}

const LEVELS: readonly SeverityLevel[] = ['low', 'medium', 'high', 'critical'];
/** The level an escalation's priority stands for, and the points it adds to the score. */
function escalationLevel(p: Priority): { level: SeverityLevel; points: number } {
  const r = priorityRank(p);
  if (r <= priorityRank('Critical')) return { level: 'critical', points: 20 };
  if (r <= priorityRank('Error')) return { level: 'high', points: 10 };
  return { level: 'medium', points: 5 };
}

export function computeSeverity(
  inc: Pick<Incident, 'maxPriority' | 'timeline' | 'tactics' | 'posture' | 'blastRadius' | 'categories'> &
    Partial<Pick<Incident, 'escalation'>>,
): IncidentSeverity {
  const factors: IncidentSeverity['factors'] = [];
  factors.push({
    factor: 'alerts',
    points: PRIORITY_POINTS[inc.maxPriority],
    why: `most severe alert is ${inc.maxPriority}`,
  });
  const rules = new Set(inc.timeline.map((t) => t.rule)).size;
  if (rules > 1)
    factors.push({
      factor: 'distinct detections',
      points: Math.min(10, (rules - 1) * 4),
      why: `${rules} different rules fired`,
    });
  if (inc.tactics.length > 1)
    factors.push({
      factor: 'attack progression',
      points: Math.min(12, (inc.tactics.length - 1) * 4),
      why: `${inc.tactics.length} ATT&CK tactics: ${inc.tactics.join(' → ')}`,
    });
  if (inc.categories.includes('attack'))
    factors.push({
      factor: 'attack',
      points: 5,
      why: 'at least one alert is an attack, not only an anomaly',
    });
  const posturePts = Math.min(
    12,
    inc.posture.reduce((s, f) => s + POSTURE_POINTS[f.severity], 0),
  );
  if (posturePts > 0) {
    const worst = inc.posture
      .filter((f) => f.severity === 'critical' || f.severity === 'high')
      .map((f) => f.control);
    factors.push({
      factor: 'posture',
      points: posturePts,
      why: `workload misconfigurations: ${inc.posture.length} findings${worst.length ? ` (${worst.slice(0, 4).join(', ')})` : ''}`,
    });
  }
  if (inc.blastRadius) {
    const pts = Math.round(inc.blastRadius.score * 0.2);
    if (pts > 0)
      factors.push({
        factor: 'blast radius',
        points: pts,
        why: `blast radius score ${inc.blastRadius.score}/100`,
      });
  }
  const esc = inc.escalation ? escalationLevel(inc.escalation.priority) : undefined;
  if (inc.escalation && esc)
    factors.push({ factor: 'escalation', points: esc.points, why: inc.escalation.why });
  const score = Math.min(
    100,
    factors.reduce((s, f) => s + f.points, 0),
  );
  const byScore: SeverityLevel =
    score >= 80 ? 'critical' : score >= 60 ? 'high' : score >= 35 ? 'medium' : 'low';
  // The tactics make it at least as severe as the escalation says, whatever the score adds up to.
  const level = esc && LEVELS.indexOf(esc.level) > LEVELS.indexOf(byScore) ? esc.level : byScore;
  return { score, level, factors };
}

function fmtDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

export function explain(inc: Incident): string {
  const where = inc.entities.workload
    ? `${inc.entities.namespace ? inc.entities.namespace + '/' : ''}${inc.entities.workload}`
    : (inc.entities.pods[0] ?? inc.entities.containers[0] ?? inc.entities.hosts[0] ?? 'an unknown entity');
  const span = Date.parse(inc.lastSeen) - Date.parse(inc.firstSeen);
  const rules: string[] = [];
  for (const t of inc.timeline) if (!rules.includes(t.rule)) rules.push(t.rule);
  const parts = [
    `${inc.alertCount} alert${inc.alertCount === 1 ? '' : 's'} on ${where}${inc.entities.nodes.length ? ` (node ${inc.entities.nodes.join(', ')})` : ''} over ${fmtDuration(span)}: ${rules.slice(0, 6).join(' → ')}${rules.length > 6 ? ` (+${rules.length - 6} other rules)` : ''}.`,
  ];
  if (inc.mitre.length)
    parts.push(
      `ATT&CK: ${inc.mitre.map((m) => `${m.tactic} (${m.technique}${m.name ? ' ' + m.name : ''})`).join(', ')}.`,
    );
  parts.push(
    `Severity ${inc.severity.level} (${inc.severity.score}/100): ${inc.severity.factors.map((f) => f.why).join('; ')}.`,
  );
  const b = inc.blastRadius;
  if (b) {
    // Docker containers are containers; pods are Kubernetes'.
    const noun = b.target.platform === 'docker' ? 'container' : 'pod';
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
    const bits: string[] = [];
    if (b.coLocated.length) bits.push(`${n(b.coLocated.length, `co-located ${noun}`)}`);
    bits.push(`${n(b.reachable.length, noun)} reachable over the network`);
    const risky = b.permissions.filter((p) => p.risky);
    if (risky.length) bits.push(`risky RBAC via ${[...new Set(risky.map((p) => p.via))].join(', ')}`);
    if (b.secrets.length) bits.push(`secrets: ${b.secrets.join(', ')}`);
    if (b.hostPaths.length) bits.push(`host paths: ${b.hostPaths.join(', ')}`);
    if (b.hostAccess.length) bits.push(`host access: ${b.hostAccess.join(', ')}`);
    const who =
      (b.targets?.length ?? 1) > 1
        ? `If any of its ${n(b.targets.length, noun)} is compromised, it`
        : 'If compromised it';
    parts.push(`${who} can reach: ${bits.join('; ')}.`);
  }
  return parts.join(' ');
}

export class IncidentStore {
  private readonly stmts = new Map<string, Statement>();
  constructor(readonly db: Db) {
    migrate(db, INCIDENTS_SCHEMA);
  }

  /** Prepared once per SQL text: correlation runs these for every alert. */
  private st(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare<unknown[]>(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  save(inc: Incident): void {
    this.st(
      `INSERT INTO incidents (id, first_seen, last_seen, status, level, score, title, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen, status = excluded.status, level = excluded.level,
           score = excluded.score, title = excluded.title, json = excluded.json`,
    ).run(
      inc.id,
      inc.firstSeen,
      inc.lastSeen,
      inc.status,
      inc.severity.level,
      inc.severity.score,
      inc.title,
      JSON.stringify(inc),
    );
  }

  /** By id, or by a unique id prefix. */
  get(id: string): Incident | undefined {
    const exact = this.st('SELECT json FROM incidents WHERE id = ?').get(id) as { json: string } | undefined;
    if (exact) return JSON.parse(exact.json) as Incident;
    const rows = this.st("SELECT json FROM incidents WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(
      `${id.replace(/[%_\\]/g, '\\$&')}%`,
    ) as { json: string }[];
    return rows.length === 1 ? (JSON.parse(rows[0].json) as Incident) : undefined;
  }

  list(limit = 50, status?: string): Incident[] {
    const rows = (
      status
        ? this.st('SELECT json FROM incidents WHERE status = ? ORDER BY last_seen DESC LIMIT ?').all(
            status,
            limit,
          )
        : this.st('SELECT json FROM incidents ORDER BY last_seen DESC LIMIT ?').all(limit)
    ) as { json: string }[];
    return rows.map((r) => JSON.parse(r.json) as Incident);
  }

  incidentOfAlert(uuid: string): string | undefined {
    return (
      this.st('SELECT incident_id FROM incident_alerts WHERE alert_uuid = ?').get(uuid) as
        { incident_id: string } | undefined
    )?.incident_id;
  }

  /**
   * The open incident sharing one of `keys` whose activity on it is nearest to `atMs`, within
   * `windowMs` either side (alerts may arrive out of order).
   */
  findByKeys(keys: string[], atMs: number, windowMs: number, performanceOnly = false): string | undefined {
    if (keys.length === 0) return undefined;
    // performanceOnly: incidents with no security activity (every key of theirs is a performance key).
    const only = performanceOnly
      ? `AND NOT EXISTS (SELECT 1 FROM incident_keys s WHERE s.incident_id = k.incident_id AND substr(s.key, 1, ${PERF_KEY.length}) <> '${PERF_KEY}')`
      : '';
    const q = `SELECT k.incident_id AS id FROM incident_keys k JOIN incidents i ON i.id = k.incident_id
               WHERE k.key IN (${keys.map(() => '?').join(',')}) AND k.last_seen_ms BETWEEN ? AND ? AND i.status = 'open' ${only}
               ORDER BY ABS(k.last_seen_ms - ?) ASC LIMIT 1`;
    return (this.st(q).get(...keys, atMs - windowMs, atMs + windowMs, atMs) as { id: string } | undefined)
      ?.id;
  }

  touchKeys(id: string, keys: string[], ms: number): void {
    const st = this.st(
      `INSERT INTO incident_keys (key, incident_id, last_seen_ms) VALUES (?, ?, ?)
       ON CONFLICT(key, incident_id) DO UPDATE SET last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)`,
    );
    for (const k of keys) st.run(k, id, ms);
  }

  /** Every alert uuid of an incident, in the order they were correlated. */
  alertsOf(id: string): string[] {
    return (
      this.st('SELECT alert_uuid FROM incident_alerts WHERE incident_id = ? ORDER BY rowid').all(id) as {
        alert_uuid: string;
      }[]
    ).map((r) => r.alert_uuid);
  }

  linkAlert(uuid: string, id: string): void {
    this.st('INSERT OR IGNORE INTO incident_alerts (alert_uuid, incident_id) VALUES (?, ?)').run(uuid, id);
  }

  setStatus(id: string, status: 'open' | 'closed'): boolean {
    const inc = this.get(id);
    if (!inc) return false;
    inc.status = status;
    this.save(inc);
    return true;
  }
}

export class Correlator {
  readonly store: IncidentStore;
  private readonly windowMs: number;
  private readonly perfWindowMs: number;
  private readonly maxTimeline: number;
  /** Recently touched incidents, so a burst of alerts does not re-parse the same JSON each time. */
  private readonly cache = new Map<string, Incident>();

  constructor(
    db: Db,
    private readonly opts: CorrelatorOptions = {},
  ) {
    this.store = new IncidentStore(db);
    this.windowMs = opts.windowMs ?? 30 * 60_000;
    this.perfWindowMs = Math.min(opts.perfWindowMs ?? 2 * 60_000, this.windowMs);
    this.maxTimeline = Math.max(30, opts.maxTimeline ?? 200);
  }

  /** An incident by id, from the recently touched ones first. */
  get(id: string): Incident | undefined {
    return this.cache.get(id) ?? this.store.get(id);
  }

  /**
   * Correlate one alert; returns its incident (created or updated). Idempotent by alert uuid, so an
   * alert delivered twice is counted once. Sets `alert.vigie.incident`.
   */
  add(alert: Alert): Incident {
    const known = this.store.incidentOfAlert(alert.uuid);
    if (known) {
      alert.vigie.incident = known;
      return this.store.get(known)!;
    }
    const ms = Date.parse(alert.time);
    const at = Number.isFinite(ms) ? ms : Date.now();
    const keys = entityKeys(alert);
    const perf = isPerformance(alert);
    const perfKeys = perf ? keys.map((k) => PERF_KEY + k) : [];
    const run = this.store.db.transaction((): Incident => {
      // Security alerts join security activity; performance alerts join it only when close to it,
      // else other performance alerts.
      const existingId = perf
        ? (this.store.findByKeys(keys, at, this.perfWindowMs) ??
          this.store.findByKeys(perfKeys, at, this.windowMs, true))
        : this.store.findByKeys(keys, at, this.windowMs);
      let inc = existingId ? (this.cache.get(existingId) ?? this.store.get(existingId)) : undefined;
      if (!inc) inc = this.open(alert, keys, at);
      this.merge(inc, alert);
      this.store.save(inc);
      this.store.touchKeys(inc.id, perf ? perfKeys : keys, at);
      this.store.linkAlert(alert.uuid, inc.id);
      return inc;
    });
    let inc: Incident;
    try {
      // IMMEDIATE: the write lock is taken before the read, so another process writing the same
      // database makes this wait (busy_timeout) instead of failing when the read turns into a write.
      inc = run.immediate();
    } catch (err) {
      this.cache.clear(); // the transaction rolled back: cached copies may be ahead of the store
      throw err;
    }
    this.cache.delete(inc.id);
    this.cache.set(inc.id, inc);
    if (this.cache.size > 256) this.cache.delete(this.cache.keys().next().value as string);
    alert.vigie.incident = inc.id;
    return inc;
  }

  private open(alert: Alert, keys: string[], at: number): Incident {
    const id =
      'inc-' +
      createHash('sha256')
        .update(`${keys.join('|')}\u0000${alert.uuid}\u0000${at}`)
        .digest('hex')
        .slice(0, 16);
    const t = new Date(at).toISOString();
    return {
      id,
      title: '',
      status: 'open',
      firstSeen: t,
      lastSeen: t,
      entities: { pods: [], containers: [], nodes: [], identities: [], hosts: [] },
      alertCount: 0,
      alerts: [],
      timeline: [],
      mitre: [],
      tactics: [],
      categories: [],
      maxPriority: alert.priority,
      posture: [],
      severity: { score: 0, level: 'low', factors: [] },
      explanation: '',
    };
  }

  private merge(inc: Incident, a: Alert): void {
    const e = a.vigie.entities;
    const push = (list: string[], v: string | undefined) => {
      if (v && !list.includes(v)) list.push(v);
    };
    if (e.k8s?.namespace) inc.entities.namespace ??= e.k8s.namespace;
    if (e.k8s?.workload ?? e.workload) inc.entities.workload ??= e.k8s?.workload ?? e.workload;
    if (e.k8s?.pod) push(inc.entities.pods, `${e.k8s.namespace ?? 'default'}/${e.k8s.pod}`);
    if (e.container?.id && e.container.id !== 'host')
      push((inc.entities.containerIds ??= []), e.container.id);
    if (e.container?.id && e.container.id !== 'host')
      push(
        inc.entities.containers,
        e.container.name
          ? `${e.container.name} (${e.container.id.slice(0, 12)})`
          : e.container.id.slice(0, 12),
      );
    push(inc.entities.nodes, e.k8s?.node);
    if (e.k8s?.serviceAccount)
      push(inc.entities.identities, `serviceaccount ${e.k8s.namespace ?? 'default'}/${e.k8s.serviceAccount}`);
    if (e.user) push(inc.entities.identities, `user ${e.user}`);
    push(inc.entities.hosts, e.host ?? a.hostname);

    const techniques = mitreOf(a);
    const entry: TimelineEntry = {
      time: a.time,
      alert: a.uuid,
      rule: a.rule,
      priority: a.priority,
      category: a.vigie.category,
      output: a.output.slice(0, 500),
      techniques: techniques.map((m) => m.technique),
    };
    inc.alertCount = (inc.alertCount ?? inc.alerts.length) + 1;
    // Alerts mostly arrive in order: insert from the end.
    let at = inc.timeline.length;
    while (at > 0 && inc.timeline[at - 1].time > entry.time) at--;
    inc.timeline.splice(at, 0, entry);
    if (inc.timeline.length > this.maxTimeline) {
      // Keep how it started and what happens now; the middle is in the store (incident_alerts).
      inc.timeline.splice(20, inc.timeline.length - this.maxTimeline);
    }
    inc.alerts = inc.timeline.map((t) => t.alert);
    for (const m of techniques)
      if (!inc.mitre.some((x) => x.technique === m.technique && x.tactic === m.tactic)) inc.mitre.push(m);
    inc.mitre.sort((x, y) => tacticRank(x.tactic) - tacticRank(y.tactic));
    inc.tactics = [...new Set(inc.mitre.map((m) => m.tactic))];
    if (!inc.categories.includes(a.vigie.category)) inc.categories.push(a.vigie.category);
    if (priorityRank(a.priority) < priorityRank(inc.maxPriority)) inc.maxPriority = a.priority;
    if (a.time < inc.firstSeen) inc.firstSeen = a.time;
    if (a.time > inc.lastSeen) inc.lastSeen = a.time;
    if (this.opts.postureOf && inc.entities.namespace && inc.entities.workload && inc.posture.length === 0) {
      try {
        inc.posture = this.opts.postureOf(inc.entities.namespace, inc.entities.workload) ?? [];
      } catch {
        inc.posture = [];
      }
    }
    this.refresh(inc);
  }

  private refresh(inc: Incident): void {
    const esc = inc.categories.includes('attack') ? escalationOf(inc.tactics) : undefined;
    if (esc) inc.escalation = esc;
    else delete inc.escalation;
    inc.severity = computeSeverity(inc);
    const first = inc.timeline.find((t) => t.priority === inc.maxPriority) ?? inc.timeline[0];
    const where =
      inc.entities.workload ??
      inc.entities.pods[0] ??
      inc.entities.containers[0] ??
      inc.entities.hosts[0] ??
      '?';
    inc.title = `${first?.rule ?? 'alert'} on ${where}${inc.alertCount > 1 ? ` (+${inc.alertCount - 1} more)` : ''}`;
    inc.explanation = explain(inc);
  }

  /** Attach a blast radius (computed asynchronously from the cluster) and recompute severity. */
  setBlastRadius(id: string, blast: BlastRadius): Incident | undefined {
    const inc = this.store.get(id);
    if (!inc) return undefined;
    inc.blastRadius = blast;
    this.refresh(inc);
    this.store.save(inc);
    this.cache.delete(id);
    return inc;
  }

  setPosture(id: string, findings: PostureFinding[]): Incident | undefined {
    const inc = this.store.get(id);
    if (!inc) return undefined;
    inc.posture = findings;
    this.refresh(inc);
    this.store.save(inc);
    this.cache.delete(id);
    return inc;
  }
}
