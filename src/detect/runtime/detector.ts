/**
 * The 'runtime' detector: runs the built-in rules of runtime/rules.ts over process, file, network and
 * metric events, keeps the per-container state they need, and aggregates duplicates (the same fact:
 * rule, container and what distinguishes the fact, within `dedupSec`) into one follow-up alert that
 * carries a count. It hears of containers paused and unpaused (Docker events, a frozen cgroup) and of
 * containment rolled back (the engine's action records), and its alerts' priority follows what the
 * matched technique means (model/mitre-tags.ts#techniqueSeverity).
 */
import { z } from 'zod';
import { isContainment, type ActionRecord } from '../../model/action.js';
import type { AlertInput } from '../../model/alert.js';
import type { EventKind, VigieEvent } from '../../model/event.js';
import { techniqueSeverity } from '../../model/mitre-tags.js';
import type { AlertEmitter, Detector, DetectorContext } from '../types.js';
import {
  ContainerState,
  defaultRuntimeConfig,
  RUNTIME_RULES,
  type PortOracle,
  type RuleHit,
  type RuntimeConfig,
  type RuntimeRule,
} from './rules.js';

const ports = z.array(z.number().int().min(0).max(65535));
const configSchema = z
  .object({
    allowedPorts: ports,
    dedupSec: z.number().nonnegative(),
    minerCpuShare: z.number().positive(),
    defaultCpuLimitCores: z.number().positive(),
    minerSustainSec: z.number().nonnegative(),
    minerWindowSec: z.number().positive(),
    minerPorts: ports,
    forkPidsJump: z.number().positive(),
    forkPidsAbs: z.number().positive(),
    forkPidsLimitShare: z.number().positive(),
    forkExecCount: z.number().int().positive(),
    forkExecWindowSec: z.number().positive(),
    /** Rule ids to leave out. */
    disabled: z.array(z.string()),
  })
  .partial()
  .strict();

export type RuntimeOptions = Partial<RuntimeConfig> & { disabled?: string[] };

/** Validates the `runtime` block of the configuration; errors name the bad key. */
export function parseRuntimeConfig(raw: unknown): RuntimeOptions {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`runtime detector config: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return r.data;
}

interface Pending {
  cid: string;
  rule: RuntimeRule;
  hit: RuleHit;
  ev: VigieEvent;
  firstMs: number;
  lastMs: number;
  suppressed: number;
}

const MAX_CONTAINERS = 10_000;
/** Open de-duplication windows (one per fact); past this the oldest is closed early. */
const MAX_PENDING = 50_000;
const CONTAINER_IDLE_MS = 3_600_000;

/**
 * Called for every rule hit, also those folded into a later summary alert: the workload baselines
 * pause that workload's learning, and what it does around the hit is an incident, never drift.
 */
export type AlertObserver = (ev: VigieEvent) => void;

export class RuntimeDetector implements Detector {
  readonly name = 'runtime';
  readonly kinds: readonly EventKind[] = ['process', 'file', 'network', 'metric', 'container'];
  readonly cfg: RuntimeConfig;
  private readonly byKind = new Map<EventKind, RuntimeRule[]>();
  private readonly containers = new Map<string, ContainerState>();
  private readonly pending = new Map<string, Pending>();
  private counters = {
    events: 0,
    malformed: 0,
    alerts: 0,
    suppressed: 0,
    aggregated: 0,
    pausedSamples: 0,
    resets: 0,
  };
  private readonly hits = new Map<string, number>();
  private lastNowMs = 0;

  constructor(
    opts: RuntimeOptions = {},
    private readonly ports?: PortOracle,
    private readonly observer?: AlertObserver,
  ) {
    const { disabled = [], ...rest } = opts;
    this.cfg = { ...defaultRuntimeConfig, ...rest };
    const unknown = disabled.filter((d) => !RUNTIME_RULES.some((r) => r.id === d));
    if (unknown.length) {
      throw new Error(
        `runtime detector config: disabled: unknown rule id(s) ${unknown.join(', ')}; known: ${RUNTIME_RULES.map((r) => r.id).join(', ')}`,
      );
    }
    for (const rule of RUNTIME_RULES) {
      if (disabled.includes(rule.id)) continue;
      for (const k of rule.kinds) {
        const list = this.byKind.get(k) ?? [];
        list.push(rule);
        this.byKind.set(k, list);
      }
    }
  }

  onEvent(ev: VigieEvent, emit: AlertEmitter): void {
    this.counters.events++;
    try {
      if (ev === null || typeof ev !== 'object' || (typeof ev.ts !== 'bigint' && typeof ev.ts !== 'number')) {
        this.counters.malformed++;
        return;
      }
      const nowMs = Number(ev.ts) / 1e6;
      if (!Number.isFinite(nowMs)) {
        this.counters.malformed++;
        return;
      }
      this.lastNowMs = Math.max(this.lastNowMs, nowMs);
      const cid = ev.container && typeof ev.container.id === 'string' ? ev.container.id : '';
      if (ev.kind === 'container') {
        const action = ev.lifecycle?.action ?? '';
        if (cid && (action === 'destroy' || action === 'die' || action === 'stop')) this.forget(cid);
        else if (cid && action === 'pause') this.stateOf(cid, nowMs).pause();
        else if (cid && action === 'unpause') this.stateOf(cid, nowMs).unpause();
        return;
      }
      const rules = this.byKind.get(ev.kind);
      if (!rules) return;
      if (!this.bodyOk(ev)) {
        this.counters.malformed++;
        return;
      }
      const state = this.stateOf(cid, nowMs);
      // The container's clock: windows and durations are measured on event time, never backwards.
      const now = state.advance(nowMs);
      if (ev.kind === 'metric') {
        // The cgroup freezer says whether it is paused, where the source reads it.
        const frozen = ev.metric?.frozen;
        if (frozen === 1 && !state.paused) state.pause();
        else if (frozen === 0 && state.paused) state.unpause();
        if (state.paused) {
          this.counters.pausedSamples++;
          return;
        }
      }
      const ctx = { cfg: this.cfg, state, nowMs: now, ports: this.ports };
      for (const rule of rules) {
        const hit = rule.match(ev, ctx);
        if (hit) this.raise(rule, hit, ev, cid, now, emit);
      }
    } catch {
      // A rule tripping over an odd event must not take the pipeline down: count it and go on.
      this.counters.malformed++;
    }
  }

  /**
   * The engine's action records. A pause Vigie executed marks the container paused; a containment
   * action rolled back (or expired) on a container resets what the rules remember of it, so that
   * evidence from before the containment cannot contain it again, and closes its open
   * de-duplication windows without a follow-up (a new occurrence after the rollback is a new alert).
   */
  onAction(r: ActionRecord): void {
    if (r.target.kind !== 'container' || !isContainment(r.action)) return;
    const ids = this.containerIds(r.target.id);
    if (r.status === 'executed' && r.action === 'pause') {
      for (const id of ids) this.containers.get(id)?.pause();
      return;
    }
    if (r.status !== 'rolled_back' && r.status !== 'expired') return;
    for (const id of ids) {
      const st = this.containers.get(id);
      st?.resetWindows();
      if (r.action === 'pause') st?.unpause();
      for (const [key, p] of this.pending) if (p.cid === id) this.pending.delete(key);
    }
    this.counters.resets++;
  }

  /** Known container ids that `id` names (a record may carry a short or a full id). */
  private containerIds(id: string): string[] {
    if (!id) return [];
    const out = new Set<string>();
    if (this.containers.has(id)) out.add(id);
    for (const k of this.containers.keys()) if (k && (k.startsWith(id) || id.startsWith(k))) out.add(k);
    for (const p of this.pending.values())
      if (p.cid && (p.cid.startsWith(id) || id.startsWith(p.cid))) out.add(p.cid);
    return [...out];
  }

  private forget(cid: string): void {
    this.containers.delete(cid);
  }

  /** The kind-specific body the rules read must be there and be an object. */
  private bodyOk(ev: VigieEvent): boolean {
    switch (ev.kind) {
      case 'process':
        return typeof ev.proc === 'object' && ev.proc !== null;
      case 'file':
        return typeof ev.file === 'object' && ev.file !== null && typeof ev.file.path === 'string';
      case 'network':
        return typeof ev.network === 'object' && ev.network !== null;
      case 'metric':
        return typeof ev.metric === 'object' && ev.metric !== null;
      default:
        return true;
    }
  }

  private stateOf(cid: string, nowMs: number): ContainerState {
    let st = this.containers.get(cid);
    if (!st) {
      if (this.containers.size >= MAX_CONTAINERS) this.evictIdle(nowMs, true);
      st = new ContainerState(this.cfg.forkExecCount);
      this.containers.set(cid, st);
    }
    st.lastSeenMs = nowMs;
    return st;
  }

  private evictIdle(nowMs: number, force: boolean): void {
    for (const [id, st] of this.containers) {
      if (nowMs - st.lastSeenMs > CONTAINER_IDLE_MS) this.containers.delete(id);
    }
    if (force && this.containers.size >= MAX_CONTAINERS) {
      const first = this.containers.keys().next().value;
      if (first !== undefined) this.containers.delete(first);
    }
  }

  private raise(
    rule: RuntimeRule,
    hit: RuleHit,
    ev: VigieEvent,
    cid: string,
    nowMs: number,
    emit: AlertEmitter,
  ): void {
    this.hits.set(rule.id, (this.hits.get(rule.id) ?? 0) + 1);
    // One fact, one window: a different file, peer or process is a different alert, at once.
    const key = `${rule.id}|${cid}|${hit.fact}`;
    const p = this.pending.get(key);
    const win = this.cfg.dedupSec * 1000;
    if (p && nowMs - p.firstMs < win) {
      if (this.observer) this.observer(ev);
      p.suppressed++;
      p.lastMs = Math.max(p.lastMs, nowMs);
      p.hit = hit;
      p.ev = ev;
      this.counters.suppressed++;
      return;
    }
    if (p) this.flush(key, p, emit);
    if (this.pending.size >= MAX_PENDING) {
      const [oldest, q] = this.pending.entries().next().value as [string, Pending];
      this.flush(oldest, q, emit);
    }
    this.pending.set(key, { cid, rule, hit, ev, firstMs: nowMs, lastMs: nowMs, suppressed: 0 });
    this.emitAlert(rule, hit, ev, emit, 0, 0);
  }

  /** `repeats` > 0: the follow-up alert of a dedup window, counting the duplicates it swallowed. */
  private emitAlert(
    rule: RuntimeRule,
    hit: RuleHit,
    ev: VigieEvent,
    emit: AlertEmitter,
    repeats: number,
    spanSec: number,
  ): void {
    const output =
      repeats > 0
        ? `${hit.output} (repeated ${repeats} more time${repeats === 1 ? '' : 's'} within ${spanSec.toFixed(0)}s)`
        : hit.output;
    const mitre = hit.mitre ?? rule.mitre;
    const declared = hit.priority ?? rule.priority;
    // What the matched technique means sets the least severity (credential access, C2: Critical).
    const sev = techniqueSeverity(declared, mitre);
    const tacticTags = mitre.map((m) => `mitre_${m.tactic.toLowerCase().replace(/[^a-z]+/g, '_')}`);
    const raised = sev.raisedBy
      ? ` Priority ${sev.priority}, not the rule's ${declared}: ${sev.raisedBy}.`
      : '';
    const a: AlertInput = {
      rule: rule.rule,
      priority: sev.priority,
      source: ev.kind,
      output,
      tags: [...new Set([...rule.tags, ...tacticTags, ...mitre.map((m) => m.technique)])],
      output_fields: {
        ...hit.fields,
        'vigie.count': repeats > 0 ? repeats : 1,
        ...(sev.raisedBy ? { 'vigie.rule_priority': declared } : {}),
      },
      category: 'attack',
      detector: this.name,
      explanation: `${rule.description} Matched: ${output}${raised}`,
      mitre,
      event: ev,
    };
    this.counters.alerts++;
    if (this.observer) this.observer(ev);
    emit(a);
  }

  private flush(key: string, p: Pending, emit: AlertEmitter): void {
    this.pending.delete(key);
    if (p.suppressed === 0) return;
    this.counters.aggregated++;
    this.emitAlert(p.rule, p.hit, p.ev, emit, p.suppressed, (p.lastMs - p.firstMs) / 1000);
  }

  /** Closes dedup windows: a window that swallowed duplicates ends with one alert carrying their count. */
  tick(nowNs: bigint, emit: AlertEmitter): void {
    const nowMs = Number(nowNs) / 1e6;
    const win = this.cfg.dedupSec * 1000;
    for (const [key, p] of this.pending) {
      if (nowMs - p.firstMs >= win) this.flush(key, p, emit);
    }
    this.evictIdle(Math.max(nowMs, this.lastNowMs), false);
  }

  close(): void {
    this.pending.clear();
    this.containers.clear();
  }

  stats(): Record<string, number | string> {
    const out: Record<string, number | string> = { ...this.counters, containers: this.containers.size };
    for (const [id, n] of this.hits) out[`hits.${id}`] = n;
    return out;
  }
}

/**
 * Registry factory. The unusual-port rule asks the workload baselines of the context (which also hear
 * of this detector's alerts, so that the alerting workload's learning pauses); without them it
 * judges by the allowlist alone.
 */
export function createRuntimeDetector(ctx: Pick<DetectorContext, 'config' | 'baselines'>): RuntimeDetector {
  const cfg = parseRuntimeConfig(ctx.config.runtime);
  const baselines = ctx.baselines;
  if (baselines === undefined) return new RuntimeDetector(cfg);
  return new RuntimeDetector(cfg, baselines, (ev) => baselines.noteSecurityAlert(ev));
}
