/**
 * Response policy: a YAML file that maps alerts (category, rule name, minimum priority, detector,
 * tags, container, image, and the severity of the alert's incident) to a chain of actions, with a
 * mode, exclusions and guards.
 * Loading is two stages: YAML → zod validation (errors name file:line:column of the offending node)
 * → normalization (durations to ms, sizes to bytes, evidence inserted before destructive steps).
 * Matching is pure (no I/O) so the engine and the tests share it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { lineColAt, tooDeepMessage, yamlTooDeep } from '../util/yaml-depth.js';
import { z } from 'zod';
import { ACTION_TYPES, isDestructive, PLATFORMS, type ActionType, type Platform } from '../model/action.js';
import {
  CATEGORIES,
  PRIORITIES,
  parsePriority,
  priorityRank,
  type Alert,
  type Category,
  type Priority,
} from '../model/alert.js';
import { INCIDENT_LEVELS, type IncidentLevel } from './types.js';

export type Mode = 'monitor' | 'enforce';

export interface MatchSpec {
  category?: Category[];
  /** Rule names, exact or glob (`*`, `?`). */
  rule?: string[];
  /** Alerts at this priority or more severe. */
  minPriority?: Priority;
  /**
   * Alerts whose incident is at this severity or more (low, medium, high, critical): an incident
   * that accumulated tactics escalates, whatever the priority of each of its alerts.
   */
  minIncidentSeverity?: IncidentLevel;
  detector?: string[];
  /** Any of these tags (globs allowed). */
  tags?: string[];
  /** Container names, globs. */
  container?: string[];
  image?: string[];
  namespace?: string[];
  /**
   * Where the alert's actions would run: `kubernetes` for a container that a pod owns (or a pod),
   * `docker` for a container that no pod owns (see platformOf).
   */
  platform?: Platform[];
}

export interface ActionStep {
  action: ActionType;
  params: Record<string, unknown>;
  ttlMs?: number;
  approval: boolean;
  /** True when the loader inserted it (evidence before a destructive step). */
  implicit?: boolean;
}

export interface PolicyRule {
  name: string;
  match: MatchSpec;
  mode?: Mode;
  dryRun?: boolean;
  actions: ActionStep[];
}

export interface Guards {
  protectLabels: Record<string, string>;
  protectNames: string[];
  protectNamespaces: string[];
  rateLimitPerMinute: number;
  maxActionsPerIncident: number;
  maxWorkloadsPerIncident: number;
  /** Window that groups alerts of one container and rule when there is no incident id. */
  correlationWindowMs: number;
  requireApproval: ActionType[];
}

export interface Policy {
  name: string;
  mode: Mode;
  dryRun: boolean;
  guards: Guards;
  exclusions: MatchSpec[];
  rules: PolicyRule[];
  source?: string;
}

export class PolicyError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(line !== undefined ? `${file}:${line}:${column ?? 1}: ${message}` : `${file}: ${message}`);
    this.name = 'PolicyError';
  }
}

// ---- schema (raw YAML shape)

const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]);
const duration = z.union([
  z.number().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'a duration like 30s, 10m, 1h (or seconds as a number)'),
]);
const modeSchema = z.enum(['monitor', 'enforce']);

const matchSchema = z
  .object({
    category: z.union([z.enum(CATEGORIES), z.array(z.enum(CATEGORIES)).min(1)]).optional(),
    rule: stringList.optional(),
    minPriority: z
      .string()
      .refine(
        (s) =>
          PRIORITIES.some((p) => p.toLowerCase() === s.toLowerCase()) ||
          ['info', 'warn'].includes(s.toLowerCase()),
        {
          message: `a priority (${PRIORITIES.join(', ')})`,
        },
      )
      .optional(),
    minIncidentSeverity: z.enum(INCIDENT_LEVELS).optional(),
    detector: stringList.optional(),
    tags: stringList.optional(),
    container: stringList.optional(),
    image: stringList.optional(),
    namespace: stringList.optional(),
    platform: z.union([z.enum(PLATFORMS), z.array(z.enum(PLATFORMS)).min(1)]).optional(),
  })
  .strict();

const size = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, 'a size like 64m, 512MiB, 1g (or bytes as a number)'),
]);

const paramsByAction: Readonly<Partial<Record<ActionType, z.ZodType>>> = {
  throttle: z
    .object({ cpus: z.number().positive().max(1024).optional(), memory: size.optional() })
    .strict()
    .refine((p) => p.cpus !== undefined || p.memory !== undefined, {
      message: 'throttle needs cpus and/or memory',
    }),
  stop: z.object({ timeout: z.number().int().min(0).max(300).optional() }).strict(),
  kill: z
    .object({
      signal: z
        .string()
        .regex(/^(SIG)?[A-Z0-9]+$/)
        .optional(),
    })
    .strict(),
  capture_evidence: z
    .object({ tail: z.number().int().min(0).max(100000).optional(), since: duration.optional() })
    .strict(),
  isolate: z.object({}).strict(),
  pause: z.object({}).strict(),
  observe: z.object({}).strict(),
};

const stepSchema = z
  .object({
    action: z.enum(ACTION_TYPES),
    params: z.record(z.string(), z.unknown()).optional(),
    ttl: duration.optional(),
    approval: z.boolean().optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    name: z.string().min(1),
    match: matchSchema.optional(),
    mode: modeSchema.optional(),
    dryRun: z.boolean().optional(),
    enabled: z.boolean().optional(),
    actions: z.array(z.union([z.enum(ACTION_TYPES), stepSchema])).min(1),
  })
  .strict();

const policySchema = z
  .object({
    version: z.literal(1).optional(),
    name: z.string().optional(),
    mode: modeSchema.optional(),
    dryRun: z.boolean().optional(),
    guards: z
      .object({
        protect: z
          .object({
            labels: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).optional(),
            names: stringList.optional(),
            namespaces: stringList.optional(),
          })
          .strict()
          .optional(),
        rateLimit: z
          .object({ perMinute: z.number().int().min(0) })
          .strict()
          .optional(),
        maxActionsPerIncident: z.number().int().min(0).optional(),
        maxWorkloadsPerIncident: z.number().int().min(0).optional(),
        correlationWindow: duration.optional(),
        requireApproval: z.array(z.enum(ACTION_TYPES)).optional(),
      })
      .strict()
      .optional(),
    exclusions: z.array(matchSchema).optional(),
    rules: z.array(ruleSchema),
  })
  .strict();

type RawPolicy = z.infer<typeof policySchema>;
type RawMatch = z.infer<typeof matchSchema>;

// ---- conversions

export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) throw new Error(`bad duration "${v}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(m[1]) * unit);
}

export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i.exec(v.trim());
  if (!m) throw new Error(`bad size "${v}"`);
  const exp = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * 1024 ** exp);
}

const list = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v];

function normMatch(m: RawMatch | undefined): MatchSpec {
  if (!m) return {};
  return {
    category:
      m.category === undefined
        ? undefined
        : ((Array.isArray(m.category) ? m.category : [m.category]) as Category[]),
    rule: list(m.rule),
    minPriority: m.minPriority ? parsePriority(m.minPriority) : undefined,
    minIncidentSeverity: m.minIncidentSeverity,
    detector: list(m.detector),
    tags: list(m.tags),
    container: list(m.container),
    image: list(m.image),
    namespace: list(m.namespace),
    platform: m.platform === undefined ? undefined : Array.isArray(m.platform) ? m.platform : [m.platform],
  };
}

/** Where in the YAML a zod issue points: the deepest node of its path that exists. */
function positionOf(
  doc: Document,
  lc: LineCounter,
  path: PropertyKey[],
  atKey = false,
): { line: number; col: number } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (!(atKey && n === path.length) && isNode(node) && node.range) return lc.linePos(node.range[0]);
    if (n === path.length && n > 0) {
      // A key that is not allowed: point at the key itself.
      const parent = doc.getIn(path.slice(0, n - 1) as (string | number)[], true) as
        { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | undefined;
      const pair = parent?.items?.find((p) => p.key?.value === path[n - 1]);
      if (pair?.key?.range) return lc.linePos(pair.key.range[0]);
    }
  }
  return undefined;
}

export function parsePolicy(text: string, file = '<policy>'): Policy {
  const deep = yamlTooDeep(text);
  if (deep) {
    const at = lineColAt(text, deep.offset);
    throw new PolicyError(tooDeepMessage(), file, at.line, at.col);
  }
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  } catch (e) {
    // The yaml package's parser recurses per nesting level: thousands of `- - -` exhaust the stack
    // before it can report a position.
    throw new PolicyError(`cannot parse YAML: ${(e as Error).message}`, file);
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    throw new PolicyError(e.message.split('\n')[0], file, pos.line, pos.col);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    // An alias bomb: the yaml package refuses to expand more aliases than its budget.
    const pos = lc.linePos(doc.contents?.range?.[0] ?? 0);
    throw new PolicyError(`document refused: ${(e as Error).message}`, file, pos.line, pos.col);
  }
  const parsed = policySchema.safeParse(value);
  if (!parsed.success) {
    let issue = parsed.error.issues[0];
    let path = issue.path;
    // A union (e.g. `- pause` or `- { action: ... }`) fails as a whole; the branch that got deepest
    // says what is actually wrong.
    while (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const deepest = issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0];
      if (!deepest) break;
      path = [...path, ...deepest.path];
      issue = { ...deepest, path } as typeof issue;
    }
    // Unknown keys: zod reports them on the parent object; point at the key.
    if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path = [...path, issue.keys[0]];
    const pos = positionOf(doc, lc, path, issue.code === 'unrecognized_keys');
    const where = path.length ? path.join('.') : '(top level)';
    const msg =
      issue.code === 'unrecognized_keys'
        ? `unknown key "${issue.keys.join('", "')}" at ${issue.path.join('.') || '(top level)'}`
        : `${where}: ${issue.message}`;
    throw new PolicyError(msg, file, pos?.line, pos?.col);
  }
  const raw: RawPolicy = parsed.data;
  const requireApproval = raw.guards?.requireApproval ?? [];
  const rules: PolicyRule[] = [];
  for (const [ri, r] of raw.rules.entries()) {
    if (r.enabled === false) continue;
    const steps: ActionStep[] = [];
    for (const [si, s] of r.actions.entries()) {
      const step = typeof s === 'string' ? { action: s } : s;
      const paramsSchema = paramsByAction[step.action];
      const params = step.params ?? {};
      // Common to every action: reach into a protected namespace on purpose (Kubernetes).
      const { allowProtectedNamespace, ...own } = params;
      if (allowProtectedNamespace !== undefined && typeof allowProtectedNamespace !== 'boolean') {
        const pos = positionOf(doc, lc, ['rules', ri, 'actions', si, 'params', 'allowProtectedNamespace']);
        throw new PolicyError('allowProtectedNamespace must be true or false', file, pos?.line, pos?.col);
      }
      if (paramsSchema) {
        const p = paramsSchema.safeParse(own);
        if (!p.success) {
          const path = ['rules', ri, 'actions', si, 'params', ...p.error.issues[0].path];
          const pos = positionOf(doc, lc, path);
          throw new PolicyError(`${path.join('.')}: ${p.error.issues[0].message}`, file, pos?.line, pos?.col);
        }
      }
      const norm: Record<string, unknown> = { ...params };
      if (step.action === 'throttle' && norm.memory !== undefined) {
        norm.memory = parseSize(norm.memory as string | number);
        // Docker refuses memory limits under 6 MiB.
        if ((norm.memory as number) < 6 * 1024 * 1024) {
          const pos = positionOf(doc, lc, ['rules', ri, 'actions', si, 'params', 'memory']);
          throw new PolicyError(
            'throttle memory must be at least 6m (Docker minimum)',
            file,
            pos?.line,
            pos?.col,
          );
        }
      }
      if (step.action === 'capture_evidence' && norm.since !== undefined) {
        norm.since = parseDuration(norm.since as string | number);
      }
      if (isDestructive(step.action) && !steps.some((x) => x.action === 'capture_evidence')) {
        steps.push({ action: 'capture_evidence', params: {}, approval: false, implicit: true });
      }
      steps.push({
        action: step.action,
        params: norm,
        ttlMs: step.ttl !== undefined ? parseDuration(step.ttl) : undefined,
        approval: step.approval ?? requireApproval.includes(step.action),
      });
    }
    rules.push({ name: r.name, match: normMatch(r.match), mode: r.mode, dryRun: r.dryRun, actions: steps });
  }
  const g = raw.guards ?? {};
  return {
    name: raw.name ?? file,
    mode: raw.mode ?? 'monitor',
    dryRun: raw.dryRun ?? false,
    guards: {
      protectLabels: Object.fromEntries(
        Object.entries(g.protect?.labels ?? { 'vigie.protect': 'true' }).map(([k, v]) => [k, String(v)]),
      ),
      protectNames: list(g.protect?.names) ?? [],
      protectNamespaces: list(g.protect?.namespaces) ?? ['kube-system', 'vigie', 'vigie-system'],
      rateLimitPerMinute: g.rateLimit?.perMinute ?? 30,
      maxActionsPerIncident: g.maxActionsPerIncident ?? 10,
      maxWorkloadsPerIncident: g.maxWorkloadsPerIncident ?? 3,
      correlationWindowMs: g.correlationWindow !== undefined ? parseDuration(g.correlationWindow) : 600_000,
      requireApproval,
    },
    exclusions: (raw.exclusions ?? []).map(normMatch),
    rules,
    source: file,
  };
}

export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy: ${(err as Error).message}`, file);
  }
  return parsePolicy(text, file);
}

// ---- matching

/** Glob match: `*` any run of characters, `?` any one character, everything else literal. */
export function globMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  let p = 0;
  let v = 0;
  // Where the last `*` was and the value position it currently stands for, to backtrack to.
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

const anyGlob = (patterns: string[], value: string | undefined): boolean =>
  value !== undefined && patterns.some((p) => globMatch(p, value));

/** The alert's incident as matching sees it. */
export interface IncidentView {
  severity?: IncidentLevel;
}

/**
 * Every field that is set must match (AND); inside a field, any value matches (OR). An alert whose
 * incident is unknown does not match `minIncidentSeverity`.
 */
/**
 * The platform an alert's actions run on: Kubernetes when it names a pod (a container that a pod
 * owns belongs to the kubelet's runtime, not to a Docker daemon), Docker for a container no pod owns.
 */
export function platformOf(a: Alert): Platform | undefined {
  if (a.vigie.entities.k8s?.pod) return 'kubernetes';
  const c = a.vigie.entities.container;
  if (c?.id && c.id !== 'host') return 'docker';
  return undefined;
}

export function matches(m: MatchSpec, a: Alert, incident?: IncidentView): boolean {
  if (m.category && !m.category.includes(a.vigie.category)) return false;
  if (m.rule && !anyGlob(m.rule, a.rule)) return false;
  if (m.minPriority && priorityRank(a.priority) > priorityRank(m.minPriority)) return false;
  if (m.minIncidentSeverity) {
    const sev = incident?.severity;
    if (!sev || INCIDENT_LEVELS.indexOf(sev) < INCIDENT_LEVELS.indexOf(m.minIncidentSeverity)) return false;
  }
  if (m.detector && !anyGlob(m.detector, a.vigie.detector)) return false;
  if (m.tags && !a.tags.some((t) => anyGlob(m.tags!, t))) return false;
  const c = a.vigie.entities.container;
  if (m.container && !anyGlob(m.container, c?.name?.replace(/^\//, ''))) return false;
  if (m.image && !anyGlob(m.image, c?.image)) return false;
  if (m.namespace && !anyGlob(m.namespace, a.vigie.entities.k8s?.namespace)) return false;
  if (m.platform) {
    const p = platformOf(a);
    if (!p || !m.platform.includes(p)) return false;
  }
  return true;
}

/** The first rule that matches (rules are ordered, most specific first), or undefined. */
export function selectRule(
  p: Policy,
  a: Alert,
  incident?: IncidentView,
): { rule?: PolicyRule; excludedBy?: number } {
  const ex = p.exclusions.findIndex((m) => matches(m, a, incident));
  if (ex >= 0) return { excludedBy: ex };
  return { rule: p.rules.find((r) => matches(r.match, a, incident)) };
}

/** The policy used when none is given: monitor mode, attacks contained, nothing destructive. */
export const BUILTIN_POLICY_YAML = `
name: builtin
mode: monitor
guards:
  protect:
    namespaces: [kube-system, vigie]
rules:
  - name: contain-attacks-in-pods
    match: { platform: kubernetes, category: attack, minPriority: Error }
    actions:
      - capture_evidence
      - { action: label, params: { reason: runtime attack }, ttl: 30m }
      - { action: k8s_isolate, params: { allowDns: true }, ttl: 30m }
  - name: contain-escalated-incidents
    match: { category: attack, minIncidentSeverity: critical }
    actions:
      - capture_evidence
      - { action: throttle, params: { cpus: 0.2 }, ttl: 30m }
      - { action: isolate, ttl: 30m }
  - name: contain-attacks
    match: { category: attack, minPriority: Error }
    actions:
      - capture_evidence
      - { action: throttle, params: { cpus: 0.2 }, ttl: 30m }
      - { action: isolate, ttl: 30m }
`;

/**
 * The shipped default policy: dist/policies/default.yaml beside the build (the build copies it
 * there, so a dist/ without the source tree has it), else the repository's policies/default.yaml
 * when running from src/.
 */
export const DEFAULT_POLICY_FILE =
  [
    fileURLToPath(new URL('../policies/default.yaml', import.meta.url)),
    fileURLToPath(new URL('../../policies/default.yaml', import.meta.url)),
  ].find((f) => existsSync(f)) ?? fileURLToPath(new URL('../../policies/default.yaml', import.meta.url));

/** The shipped default policy when it is installed, else the minimal one above. */
export function builtinPolicy(): Policy {
  if (existsSync(DEFAULT_POLICY_FILE)) return loadPolicy(DEFAULT_POLICY_FILE);
  return parsePolicy(BUILTIN_POLICY_YAML, '<builtin policy>');
}
