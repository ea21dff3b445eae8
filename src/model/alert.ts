/**
 * Alert envelope: a superset of Falco's JSON output (docs/architecture.md, "The alert path"), so that
 * Falcosidekick, Falco Talon and SIEM parsers read it as is, plus the `vigie` block.
 * Only this module and the output code know the wire shape.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { escapeControl } from './text.js';
import { nsToIso, workloadKey, type VigieEvent } from './event.js';

export const PRIORITIES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Lower number = more severe (syslog order). */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** Falco accepts several spellings in rule files ("INFO", "warning", ...). */
export function parsePriority(s: string): Priority {
  const t = s.trim().toLowerCase();
  const alias: Record<string, Priority> = {
    emergency: 'Emergency',
    alert: 'Alert',
    critical: 'Critical',
    error: 'Error',
    warning: 'Warning',
    warn: 'Warning',
    notice: 'Notice',
    informational: 'Informational',
    info: 'Informational',
    debug: 'Debug',
  };
  const p = alias[t];
  if (!p) throw new Error(`unknown priority "${s}" (expected one of ${PRIORITIES.join(', ')})`);
  return p;
}

export const CATEGORIES = ['attack', 'misconfiguration', 'flaw', 'performance', 'anomaly'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface MitreRef {
  tactic: string;
  technique: string;
  name?: string;
}

export interface AlertEntities {
  host?: string;
  container?: { id: string; name?: string; image?: string };
  k8s?: { namespace?: string; pod?: string; workload?: string; node?: string; serviceAccount?: string };
  workload?: string;
  process?: { pid?: number; name?: string; cmdline?: string };
  user?: string;
}

export interface VigieBlock {
  category: Category;
  detector: string;
  score?: number;
  threshold?: number;
  explanation: string;
  entities: AlertEntities;
  mitre: MitreRef[];
  evidence: string[];
  /** Incident this alert was correlated into, when known. */
  incident?: string;
}

export interface Alert {
  uuid: string;
  time: string;
  rule: string;
  priority: Priority;
  source: string;
  hostname: string;
  output: string;
  tags: string[];
  output_fields: Record<string, string | number | boolean | null>;
  vigie: VigieBlock;
}

export interface AlertInput {
  rule: string;
  priority: Priority;
  source?: string;
  output: string;
  tags?: string[];
  output_fields?: Record<string, string | number | boolean | null>;
  category: Category;
  detector: string;
  score?: number;
  threshold?: number;
  explanation: string;
  mitre?: MitreRef[];
  /** The event that triggered it, used for time, entities and evidence. */
  event?: VigieEvent;
  evidence?: string[];
  entities?: AlertEntities;
  ts?: bigint;
}

export function entitiesOf(ev: VigieEvent | undefined): AlertEntities {
  if (!ev) return {};
  const e: AlertEntities = {};
  if (ev.host) e.host = ev.host;
  if (ev.container) e.container = { id: ev.container.id, name: ev.container.name, image: ev.container.image };
  if (ev.k8s) e.k8s = { ...ev.k8s };
  if (ev.proc) e.process = { pid: ev.proc.pid, name: ev.proc.name, cmdline: ev.proc.cmdline };
  return e;
}

export function makeAlert(input: AlertInput, hostname: string): Alert {
  const ts = input.ts ?? input.event?.ts ?? BigInt(Date.now()) * 1_000_000n;
  const entities = { ...entitiesOf(input.event), ...(input.entities ?? {}) };
  // The workload key is computed here, once, from the event's container or Kubernetes owner.
  if (!entities.workload && input.event) {
    const w = workloadKey(input.event);
    if (w) entities.workload = w;
  }
  return {
    uuid: randomUUID(),
    time: nsToIso(ts),
    rule: input.rule,
    priority: input.priority,
    source: input.source ?? input.event?.kind ?? 'syscall',
    hostname: input.event?.host ?? hostname,
    output: input.output,
    tags: [...(input.tags ?? [])].sort(),
    output_fields: input.output_fields ?? {},
    vigie: {
      category: input.category,
      detector: input.detector,
      score: input.score,
      threshold: input.threshold,
      explanation: input.explanation,
      entities,
      mitre: input.mitre ?? [],
      evidence: input.evidence ?? (input.event ? [input.event.id] : []),
    },
  };
}

/**
 * Bounds of an alert received from outside the process (the brain's NATS consumer): every field
 * Vigie reads has its type, and every string and list a size, so that a peer that publishes on the
 * alerts subject can neither crash the alert path nor make it store megabytes per alert.
 */
export const ALERT_LIMITS = {
  /** Identifiers and names: uuid, rule, source, hostname, detector, tags, entity names. */
  name: 1024,
  /** Free text: output, explanation, command lines, output field values. */
  text: 64 * 1024,
  /** Keys of output_fields. */
  fieldKey: 256,
  fields: 256,
  tags: 64,
  mitre: 64,
  evidence: 256,
} as const;

const L = ALERT_LIMITS;
const name = z.string().max(L.name);
const text = z.string().max(L.text);

const entitiesSchema = z.object({
  host: name.optional(),
  container: z.object({ id: name, name: name.optional(), image: name.optional() }).optional(),
  k8s: z
    .object({
      namespace: name.optional(),
      pod: name.optional(),
      workload: name.optional(),
      node: name.optional(),
      serviceAccount: name.optional(),
    })
    .optional(),
  // The workload key carries an image and a command (`docker:<image>|<command>`).
  workload: z
    .string()
    .max(L.name * 4)
    .optional(),
  process: z
    .object({ pid: z.number().int().optional(), name: name.optional(), cmdline: text.optional() })
    .optional(),
  user: name.optional(),
});

/** The alert envelope with its bounds (ALERT_LIMITS). Unknown keys are dropped. */
export const alertSchema = z.object({
  uuid: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only'),
  time: z
    .string()
    .max(64)
    .refine((t) => !Number.isNaN(Date.parse(t)), 'not a date'),
  rule: name.min(1),
  priority: z.enum(PRIORITIES),
  source: name,
  hostname: name,
  output: text,
  tags: z.array(name).max(L.tags),
  output_fields: z
    .record(z.string().max(L.fieldKey), z.union([text, z.number(), z.boolean(), z.null()]))
    .refine((o) => Object.keys(o).length <= L.fields, `more than ${L.fields} fields`),
  vigie: z.object({
    category: z.enum(CATEGORIES),
    detector: name,
    score: z.number().optional(),
    threshold: z.number().optional(),
    explanation: text,
    entities: entitiesSchema,
    mitre: z.array(z.object({ tactic: name, technique: name, name: name.optional() })).max(L.mitre),
    evidence: z.array(name).max(L.evidence),
    incident: name.optional(),
  }),
});

/**
 * An alert from outside the process, checked against `alertSchema`: the alert (unknown keys
 * dropped), or why it is not one (at most three problems, each path cut to 64 characters: the
 * keys are the sender's).
 */
export function parseAlert(x: unknown): { ok: true; alert: Alert } | { ok: false; reason: string } {
  const r = alertSchema.safeParse(x);
  if (r.success) return { ok: true, alert: r.data as Alert };
  const issues = r.error.issues;
  const shown = issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.') || '(root)';
    return `${path.length > 64 ? `${path.slice(0, 61)}...` : path}: ${i.message}`;
  });
  return {
    ok: false,
    reason: `${shown.join('; ')}${issues.length > 3 ? `; and ${issues.length - 3} more` : ''}`,
  };
}

/** One human line, Falco-style: "time priority rule: output". */
export function alertToLine(a: Alert): string {
  // Rule names and outputs carry text from the workload: escaped so that it cannot forge a line.
  return `${a.time} ${a.priority} [${a.vigie.category}] ${escapeControl(a.rule)}: ${escapeControl(a.output)}`;
}
