/**
 * Response engine: alert → policy rule → chain of actions, each one guarded, recorded and, in enforce
 * mode, executed and verified against the platform's real state. Monitor mode (the default) plans and
 * records; read-only steps (observe, capture_evidence) run in every mode because they touch nothing.
 *
 * Guard checks and the write of the record that reserves an action are synchronous (SQLite), with no
 * await between them, so concurrent alerts cannot both slip under the rate limit or the incident cap.
 * An action is written as `executing` with its state before BEFORE the platform is touched, so that a
 * crash leaves enough behind to restore it at start-up.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { ActionRecord, ActionTarget, ActionType } from '../model/action.js';
import type { Alert } from '../model/alert.js';
import type { Db } from '../infra/db.js';
import { ActionStore, type ActionQuery, type StoredAction } from '../store/actions.js';
import { logger } from '../util/log.js';
import { createActuators } from './actuators/registry.js';
import {
  DESTRUCTIVE_ACTIONS,
  READ_ONLY_ACTIONS,
  builtinPolicy,
  globMatch,
  loadPolicy,
  selectRule,
  type ActionStep,
  type Mode,
  type Policy,
} from './policy.js';
import type { Actuator, Responder } from './types.js';

const log = logger('respond');

export interface ResponderOptions {
  db: Db;
  hostname: string;
  /** 'enforce' overrides every policy and rule mode (the `--enforce` flag). */
  mode: Mode;
  policyFile?: string;
  policy?: Policy;
  /** Defaults to the registered actuators, built with `config` (e.g. `config.kubernetes.kubeConfig`). */
  actuators?: Actuator[];
  config?: Record<string, Record<string, unknown> | undefined>;
  onRecord?: (r: ActionRecord) => void;
  /** Clock, for tests of TTLs and windows. */
  now?: () => Date;
  /** Container ids of Vigie itself (default: read from /proc/self). */
  selfIds?: string[];
  /**
   * Resolve actions left executing by a crash (default true). Only the long-running owner of the
   * store (`vigie run`) should: a CLI call beside it must not roll back what it is doing.
   */
  recover?: boolean;
}

export interface VigieResponder extends Responder {
  readonly policy: Policy;
  /** Resolves once start-up recovery has run. */
  readonly ready: Promise<ActionRecord[]>;
  approve(id: string): Promise<ActionRecord>;
  rollback(id: string): Promise<ActionRecord>;
  list(filter?: ActionQuery): ActionRecord[];
  get(id: string): ActionRecord | undefined;
}

/** Ids of the container this process runs in, if any: it must never be acted on. */
export function selfContainerIds(): string[] {
  const ids = new Set<string>();
  for (const f of ['/proc/self/cgroup', '/proc/self/mountinfo']) {
    try {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:docker[-/]|containers\/)([0-9a-f]{64})/g)) ids.add(m[1]);
    } catch {
      // Not Linux or not readable: nothing to add.
    }
  }
  return [...ids];
}

export function targetOf(a: Alert): ActionTarget | undefined {
  const c = a.vigie.entities.container;
  if (c?.id && c.id !== 'host')
    return { kind: 'container', id: c.id, name: c.name?.replace(/^\//, ''), platform: 'docker' };
  const k = a.vigie.entities.k8s;
  if (k?.pod)
    return {
      kind: 'pod',
      id: `${k.namespace ?? 'default'}/${k.pod}`,
      name: k.pod,
      namespace: k.namespace,
      platform: 'kubernetes',
    };
  return undefined;
}

function actionId(...parts: string[]): string {
  return 'act-' + createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20);
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

interface RollbackOutcome {
  state?: unknown;
  restored?: boolean;
  notes?: string[];
}

class Engine implements VigieResponder {
  readonly policy: Policy;
  readonly ready: Promise<ActionRecord[]>;
  private readonly store: ActionStore;
  private actuators: Actuator[] = [];
  private readonly now: () => Date;
  private readonly selfIds: Set<string>;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly busy = new Set<string>();

  constructor(private readonly opts: ResponderOptions) {
    this.policy = opts.policy ?? (opts.policyFile ? loadPolicy(opts.policyFile) : builtinPolicy());
    this.store = new ActionStore(opts.db);
    this.now = opts.now ?? (() => new Date());
    this.selfIds = new Set(opts.selfIds ?? selfContainerIds());
    this.ready = this.start();
    // Failures of recovery are recorded per action; this only keeps an unexpected one visible.
    this.ready.catch((err) => log.error('start-up recovery failed', { error: errText(err) }));
  }

  private async start(): Promise<ActionRecord[]> {
    this.actuators = this.opts.actuators ?? (await createActuators({ config: this.opts.config ?? {} }));
    return this.opts.recover === false ? [] : this.recover();
  }

  private put(r: StoredAction): StoredAction {
    this.store.put(r);
    try {
      this.opts.onRecord?.(r);
    } catch (err) {
      log.warn('onRecord callback failed', { error: errText(err) });
    }
    return r;
  }

  private actuatorFor(target: ActionTarget, action: ActionType): Actuator | undefined {
    return this.actuators.find((a) => a.platform === target.platform && a.supports(action));
  }
  private anyActuator(target: ActionTarget): Actuator | undefined {
    return this.actuators.find((a) => a.platform === target.platform);
  }

  // ---- guards

  /** Why this target must never be touched, or undefined. */
  private protectedReason(
    target: ActionTarget,
    state: unknown,
    allowProtectedNamespace = false,
  ): string | undefined {
    const s = (state ?? {}) as {
      id?: string;
      name?: string;
      labels?: Record<string, string>;
      namespace?: string;
    };
    const id = s.id ?? target.id;
    for (const self of this.selfIds) {
      if (id === self || (id.length >= 12 && self.startsWith(id))) return 'target is Vigie itself';
    }
    const labels = s.labels ?? {};
    if (labels['vigie.component'] !== undefined)
      return `target is a Vigie component (label vigie.component=${labels['vigie.component']})`;
    for (const [k, v] of Object.entries(this.policy.guards.protectLabels)) {
      if (labels[k] !== undefined && (v === '*' || labels[k] === v))
        return `protected by label ${k}=${labels[k]}`;
    }
    const names = [target.name, s.name].filter((n): n is string => !!n);
    for (const g of this.policy.guards.protectNames) {
      const n = names.find((x) => globMatch(g, x));
      if (n) return `protected by name (${n} matches "${g}")`;
    }
    const ns = s.namespace ?? target.namespace;
    // A policy step may explicitly reach into a protected namespace (`allowProtectedNamespace: true`).
    if (ns && !allowProtectedNamespace) {
      const g = this.policy.guards.protectNamespaces.find((p) => globMatch(p, ns));
      if (g) return `protected namespace ${ns}`;
    }
    return undefined;
  }

  /** Rate limit, incident cap, action already in effect: checked and reserved synchronously. */
  private budgetReason(r: StoredAction): string | undefined {
    const g = this.policy.guards;
    const nowMs = this.now().getTime();
    const active = this.store.activeOn(r.target.id, r.action);
    if (
      active &&
      (active.status !== 'planned' || Date.parse(active.createdAt) >= nowMs - g.correlationWindowMs)
    ) {
      return `already ${active.status === 'planned' ? 'planned' : 'in effect'} as ${active.id}`;
    }
    const recent = this.store.countActingSince(new Date(nowMs - 60_000).toISOString(), [
      ...READ_ONLY_ACTIONS,
    ]);
    if (recent >= g.rateLimitPerMinute)
      return `rate limit: ${recent} actions in the last minute (max ${g.rateLimitPerMinute})`;
    if (r.corrKey) {
      const spent = this.store.spentFor(r.corrKey, [...READ_ONLY_ACTIONS]);
      if (spent.actions >= g.maxActionsPerIncident)
        return `incident cap: ${spent.actions} actions already taken for ${r.corrKey} (max ${g.maxActionsPerIncident})`;
      if (!spent.targets.includes(r.target.id) && spent.targets.length >= g.maxWorkloadsPerIncident)
        return `incident cap: ${spent.targets.length} workloads already touched for ${r.corrKey} (max ${g.maxWorkloadsPerIncident})`;
    }
    return undefined;
  }

  // ---- alerts

  onAlert(alert: Alert, ctx?: { incident?: string }): Promise<ActionRecord[]> {
    return this.track(this.handleAlert(alert, ctx));
  }

  private async handleAlert(alert: Alert, ctx?: { incident?: string }): Promise<ActionRecord[]> {
    await this.ready;
    if (this.closed) return [];
    const target = targetOf(alert);
    if (!target) return [];
    const { rule, excludedBy } = selectRule(this.policy, alert);
    if (excludedBy !== undefined) {
      log.debug('alert excluded by policy', { alert: alert.uuid, exclusion: excludedBy });
      return [];
    }
    if (!rule) return [];
    const mode: Mode = this.opts.mode === 'enforce' ? 'enforce' : (rule.mode ?? this.policy.mode);
    const dryRun = rule.dryRun ?? this.policy.dryRun;
    const incident = ctx?.incident ?? alert.vigie.incident;
    const alertMs = Date.parse(alert.time);
    const bucket = Math.floor(
      (Number.isFinite(alertMs) ? alertMs : this.now().getTime()) / this.policy.guards.correlationWindowMs,
    );
    const corrKey = incident ? `incident:${incident}` : `${target.id}|${alert.rule}|${bucket}`;

    // One read of the target serves the protection guard and the monitor-mode "state before".
    let state: unknown;
    let inspectError: string | undefined;
    const actuator = this.anyActuator(target);
    if (actuator) {
      try {
        state = await actuator.inspect(target);
      } catch (err) {
        inspectError = errText(err);
      }
    }
    const protectedBy = this.protectedReason(target, state);
    // Alerts may name a container by short id or name: key the records by the full id.
    const fullId = (state as { id?: unknown } | undefined)?.id;
    if (
      target.platform === 'docker' &&
      typeof fullId === 'string' &&
      fullId.startsWith(target.id.slice(0, 12))
    )
      target.id = fullId;

    const out: StoredAction[] = [];
    let evidenceFailed: string | undefined;
    for (const [i, step] of rule.actions.entries()) {
      const id = actionId(alert.uuid, this.policy.name, rule.name, String(i), step.action, target.id);
      const existing = this.store.get(id);
      if (existing) {
        out.push(existing); // replayed alert: its actions were already decided
        continue;
      }
      const r: StoredAction = {
        id,
        action: step.action,
        target: { ...target, name: target.name ?? (state as { name?: string } | undefined)?.name },
        status: 'planned',
        mode,
        policy: `${this.policy.name}#${rule.name}`,
        incident,
        alert: alert.uuid,
        params: step.params,
        reason: `${alert.priority} ${alert.vigie.category} alert "${alert.rule}" matched rule "${rule.name}"`,
        createdAt: this.now().toISOString(),
        corrKey,
        ttlMs: step.ttlMs,
        dryRun: dryRun || undefined,
      };
      const readOnly = READ_ONLY_ACTIONS.includes(step.action);
      const skip = (why: string): void => {
        r.status = 'skipped';
        r.reason = `${why} (${r.reason})`;
        out.push(this.put(r));
      };
      const stepProtectedBy =
        step.params.allowProtectedNamespace === true
          ? this.protectedReason(target, state, true)
          : protectedBy;
      if (stepProtectedBy) {
        skip(stepProtectedBy);
        continue;
      }
      if (!actuator || (!readOnly && !this.actuatorFor(target, step.action))) {
        skip(`no ${target.platform} actuator supports ${step.action}`);
        continue;
      }
      if (inspectError) {
        if (mode === 'enforce' && !dryRun) {
          r.status = 'failed';
          r.error = inspectError;
          out.push(this.put(r));
        } else skip(`target unavailable: ${inspectError}`);
        continue;
      }
      if (DESTRUCTIVE_ACTIONS.includes(step.action) && evidenceFailed) {
        skip(`evidence could not be captured first (${evidenceFailed}); destructive step not taken`);
        continue;
      }
      if (step.action === 'capture_evidence') {
        // An alert storm on one container must not take the same evidence a hundred times.
        const had = this.store.latestFor(corrKey, target.id, 'capture_evidence', [
          'executed',
          'approved',
          'executing',
        ]);
        if (had) {
          skip(`evidence already captured as ${had.id}`);
          continue;
        }
      }
      if (!readOnly) {
        const why = this.budgetReason(r);
        if (why) {
          skip(why);
          continue;
        }
      }
      if (step.action === 'observe') {
        r.status = 'executed';
        r.executedAt = this.now().toISOString();
        r.verified = true;
        out.push(this.put(r));
        continue;
      }
      if (!readOnly && (mode === 'monitor' || dryRun || step.approval)) {
        r.stateBefore = state;
        r.needsApproval = step.approval || undefined;
        r.reason =
          mode === 'monitor'
            ? `monitor mode: planned, not executed; ${r.reason}`
            : dryRun
              ? `dry run: planned, not executed; ${r.reason}`
              : `awaiting approval; ${r.reason}`;
        out.push(this.put(r));
        continue;
      }
      // Reserve synchronously (the guards above counted the store as it is now), then execute.
      r.status = 'approved';
      this.put(r);
      const done = await this.execute(r);
      if (step.action === 'capture_evidence' && done.status !== 'executed')
        evidenceFailed = done.error ?? done.status;
      out.push(done);
    }
    return out;
  }

  /** Inspect → record `executing` with the state before → act → read back and verify. */
  private async execute(r: StoredAction): Promise<StoredAction> {
    const actuator =
      this.actuatorFor(r.target, r.action) ??
      (r.action === 'capture_evidence' ? this.anyActuator(r.target) : undefined);
    if (!actuator) {
      r.status = 'failed';
      r.error = `no ${r.target.platform} actuator supports ${r.action}`;
      return this.put(r);
    }
    try {
      if (r.action === 'capture_evidence' && !actuator.supports('capture_evidence')) {
        // An actuator without its own evidence capture still gives its read-only view.
        const state = await actuator.inspect(r.target);
        Object.assign(r, {
          status: 'executed',
          stateBefore: state,
          stateAfter: state,
          evidence: { inspect: state },
          verified: true,
        });
        r.executedAt = this.now().toISOString();
        return this.put(r);
      }
      r.stateBefore = await actuator.inspect(r.target);
      r.status = 'executing';
      this.put(r);
      const res = await actuator.execute(r.action, r.target, r.params ?? {});
      r.stateBefore = res.stateBefore ?? r.stateBefore;
      r.stateAfter = res.stateAfter;
      r.verified = res.verified;
      if (res.evidence !== undefined) r.evidence = res.evidence;
      r.executedAt = this.now().toISOString();
      if (res.note) r.reason = `${res.note}; ${r.reason}`;
      if (res.verified) {
        r.status = 'executed';
        if (r.ttlMs) r.expiresAt = new Date(this.now().getTime() + r.ttlMs).toISOString();
      } else {
        r.status = 'failed';
        r.error = `${r.action} was applied but the platform's state does not show it`;
        await this.undoPartial(actuator, r);
      }
    } catch (err) {
      r.status = 'failed';
      r.error = errText(err);
      if (r.stateBefore !== undefined && !/no longer exists/.test(r.error))
        await this.undoPartial(actuator, r);
    }
    if (r.status === 'failed')
      log.warn('action failed', {
        id: r.id,
        action: r.action,
        target: r.target.name ?? r.target.id,
        error: r.error,
      });
    return this.put(r);
  }

  /** A failed action must not stay half applied (e.g. one network of two disconnected). */
  private async undoPartial(actuator: Actuator, r: StoredAction): Promise<void> {
    if (READ_ONLY_ACTIONS.includes(r.action)) return;
    try {
      const out = (await actuator.rollback(r)) as RollbackOutcome | undefined;
      r.rollbackNote = ['partial effect undone', ...(out?.notes ?? [])].join('; ');
    } catch (err) {
      r.rollbackNote = `partial effect could not be undone: ${errText(err)}`;
    }
  }

  /** Before a destructive action runs on approval, make sure evidence was taken. */
  private async ensureEvidence(r: StoredAction): Promise<string | undefined> {
    if (!DESTRUCTIVE_ACTIONS.includes(r.action)) return undefined;
    const had = this.store
      .list({ target: r.target.id, action: 'capture_evidence', status: 'executed', limit: 1 })
      .find((e) => !r.corrKey || e.corrKey === r.corrKey);
    if (had) return undefined;
    const ev: StoredAction = {
      ...r,
      id: actionId(r.id, 'evidence'),
      action: 'capture_evidence',
      params: {},
      status: 'approved',
      reason: `evidence before ${r.action} (${r.id})`,
      createdAt: this.now().toISOString(),
      ttlMs: undefined,
      needsApproval: undefined,
    };
    const done = await this.execute(this.put(ev));
    return done.status === 'executed' ? undefined : (done.error ?? done.status);
  }

  private mustGet(id: string): StoredAction {
    const r = this.store.resolve(id);
    if (!r) throw Object.assign(new Error(`action ${id} not found`), { statusCode: 404 });
    return r;
  }

  approve(id: string): Promise<ActionRecord> {
    return this.track(this.exclusive(id, () => this.doApprove(id)));
  }

  /** One approve or rollback at a time per action: two clicks must not act twice. */
  private async exclusive<T>(id: string, f: () => Promise<T>): Promise<T> {
    const key = this.store.resolve(id)?.id ?? id;
    if (this.busy.has(key)) {
      throw Object.assign(new Error(`action ${key} is already being approved or rolled back`), {
        statusCode: 409,
      });
    }
    this.busy.add(key);
    try {
      return await f();
    } finally {
      this.busy.delete(key);
    }
  }

  private async doApprove(id: string): Promise<ActionRecord> {
    await this.ready;
    const r = this.mustGet(id);
    if (r.status !== 'planned') {
      throw Object.assign(new Error(`action ${r.id} is ${r.status}; only planned actions can be approved`), {
        statusCode: 409,
      });
    }
    const actuator = this.anyActuator(r.target);
    let state: unknown;
    try {
      state = await actuator?.inspect(r.target);
    } catch {
      // The failure is recorded by execute() below with the actuator's reason.
    }
    const protectedBy = this.protectedReason(r.target, state, r.params?.allowProtectedNamespace === true);
    r.reason = `approved; ${r.reason.replace(/^(monitor mode|dry run|awaiting approval)[^;]*; /, '')}`;
    r.mode = 'enforce';
    if (protectedBy) {
      r.status = 'skipped';
      r.reason = `${protectedBy} (${r.reason})`;
      return this.put(r);
    }
    const active = this.store.activeOn(r.target.id, r.action);
    if (active && active.id !== r.id && active.status !== 'planned') {
      r.status = 'skipped';
      r.reason = `already in effect as ${active.id} (${r.reason})`;
      return this.put(r);
    }
    const noEvidence = await this.ensureEvidence(r);
    if (noEvidence) {
      r.status = 'skipped';
      r.reason = `evidence could not be captured first (${noEvidence}); destructive step not taken`;
      return this.put(r);
    }
    r.status = 'approved';
    this.put(r);
    return this.execute(r);
  }

  private async undo(
    r: StoredAction,
    success: 'rolled_back' | 'expired',
    why: string,
  ): Promise<StoredAction> {
    const actuator = this.actuatorFor(r.target, r.action) ?? this.anyActuator(r.target);
    if (!actuator) {
      r.status = 'rollback_failed';
      r.error = `no ${r.target.platform} actuator to roll back ${r.action}`;
      return this.put(r);
    }
    try {
      const out = (await actuator.rollback(r)) as RollbackOutcome | undefined;
      const restored = out?.restored !== false;
      r.status = restored ? success : 'rollback_failed';
      r.rolledBackAt = this.now().toISOString();
      r.stateRolledBack = out?.state ?? out;
      if (out?.notes?.length) r.rollbackNote = out.notes.join('; ');
      if (!restored) r.error = 'rollback ran but the platform does not show the previous state';
      r.reason = `${why}; ${r.reason}`;
    } catch (err) {
      r.status = 'rollback_failed';
      r.error = errText(err);
      r.reason = `${why}; ${r.reason}`;
    }
    if (r.status === 'rollback_failed') log.warn('rollback failed', { id: r.id, error: r.error });
    return this.put(r);
  }

  rollback(id: string): Promise<ActionRecord> {
    return this.track(this.exclusive(id, () => this.doRollback(id)));
  }

  private async doRollback(id: string): Promise<ActionRecord> {
    await this.ready;
    const r = this.mustGet(id);
    if (READ_ONLY_ACTIONS.includes(r.action)) {
      throw Object.assign(new Error(`action ${r.id} (${r.action}) changed nothing; nothing to roll back`), {
        statusCode: 409,
      });
    }
    if (r.status !== 'executed' && r.status !== 'rollback_failed') {
      throw Object.assign(
        new Error(`action ${r.id} is ${r.status}; only executed actions can be rolled back`),
        { statusCode: 409 },
      );
    }
    return this.undo(r, 'rolled_back', 'rollback requested');
  }

  tick(now?: Date): Promise<ActionRecord[]> {
    return this.track(this.doTick(now));
  }

  private async doTick(now?: Date): Promise<ActionRecord[]> {
    await this.ready;
    const at = now ?? this.now();
    const out: ActionRecord[] = [];
    for (const r of this.store.expired(at.toISOString())) {
      out.push(await this.undo(r, 'expired', `TTL expired at ${r.expiresAt}`));
    }
    return out;
  }

  /**
   * Start-up: an action left `executing` was interrupted between its recorded state and its
   * verification. It is rolled back to that state (rollback is idempotent), never left half done.
   * An action left `approved` never started: it is executed now.
   */
  private async recover(): Promise<ActionRecord[]> {
    const out: ActionRecord[] = [];
    for (const r of this.store.byStatus(['executing', 'approved'])) {
      if (r.status === 'approved') {
        log.info('resuming an approved action interrupted before it ran', { id: r.id });
        out.push(await this.execute(r));
        continue;
      }
      if (r.stateBefore === undefined || READ_ONLY_ACTIONS.includes(r.action)) {
        r.status = 'failed';
        r.error = 'interrupted by a restart before anything was changed';
        out.push(this.put(r));
        continue;
      }
      log.info('rolling back an action interrupted while executing', { id: r.id, action: r.action });
      const done = await this.undo(
        r,
        'rolled_back',
        'interrupted by a restart while executing; restoring the recorded state',
      );
      if (done.status === 'rollback_failed' && /no longer exists/.test(done.error ?? '')) {
        done.status = 'failed';
        this.put(done);
      }
      out.push(done);
    }
    return out;
  }

  /** Records without their evidence body (see get()): lists stay small for the API and the CLI. */
  list(filter: ActionQuery = {}): ActionRecord[] {
    return this.store
      .list(filter)
      .map((r) =>
        r.evidence === undefined
          ? r
          : { ...r, evidence: { captured: true, bytes: JSON.stringify(r.evidence).length } },
      );
  }

  get(id: string): ActionRecord | undefined {
    return this.store.resolve(id);
  }

  /** Keep track of work in progress so that close() lets it finish instead of cutting it half way. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready.catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

export function createResponder(opts: ResponderOptions): VigieResponder {
  return new Engine({ ...opts, hostname: opts.hostname || osHostname() });
}

export type { ActionStep };
