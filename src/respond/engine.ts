/**
 * Response engine: alert → policy rule → chain of actions, each one guarded, recorded and, in enforce
 * mode, executed and verified against the platform's real state. Monitor mode (the default) plans and
 * records; read-only steps (observe, capture_evidence) run in every mode because they touch nothing.
 *
 * An action is written as `executing` with its state before BEFORE the platform is touched, so that a
 * crash leaves enough behind to restore it at start-up.
 *
 * This file puts the parts together: planning (plan.ts) and its guards (guards.ts), execution and
 * approval (execute.ts), rollback, TTL expiry and start-up recovery (rollback.ts), the record store
 * (records.ts).
 */
import { hostname as osHostname } from 'node:os';
import type { ActionRecord } from '../model/action.js';
import type { Alert } from '../model/alert.js';
import type { Db } from '../infra/db.js';
import type { ActionQuery } from '../store/actions.js';
import { logger } from '../util/log.js';
import { createActuators } from './actuators/registry.js';
import { Actuators, Executor } from './execute.js';
import { Guards, selfContainerIds } from './guards.js';
import { Planner } from './plan.js';
import { builtinPolicy, loadPolicy, type ActionStep, type Mode, type Policy } from './policy.js';
import { ActionRecords, errText, statusError } from './records.js';
import { Rollbacks } from './rollback.js';
import type { Actuator, IncidentContext, Responder } from './types.js';

export { selfContainerIds } from './guards.js';
export { targetOf } from './plan.js';
export type { ActionStep };

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
  /** How many records match `filter` (its limit and offset aside). */
  count(filter?: ActionQuery): number;
  get(id: string): ActionRecord | undefined;
}

class ResponseEngine implements VigieResponder {
  readonly policy: Policy;
  readonly ready: Promise<ActionRecord[]>;
  private readonly records: ActionRecords;
  private readonly actuators = new Actuators();
  private readonly planner: Planner;
  private readonly executor: Executor;
  private readonly rollbacks: Rollbacks;
  private readonly now: () => Date;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly busy = new Set<string>();

  constructor(private readonly opts: ResponderOptions) {
    this.policy = opts.policy ?? (opts.policyFile ? loadPolicy(opts.policyFile) : builtinPolicy());
    this.records = new ActionRecords(opts.db, opts.onRecord);
    this.now = opts.now ?? (() => new Date());
    const guards = new Guards(
      this.policy,
      this.records.store,
      new Set(opts.selfIds ?? selfContainerIds()),
      this.now,
    );
    this.executor = new Executor(this.records, this.actuators, guards, this.now);
    this.planner = new Planner(
      this.policy,
      opts.mode,
      this.records,
      this.actuators,
      guards,
      this.executor,
      this.now,
    );
    this.rollbacks = new Rollbacks(this.records, this.actuators, this.executor, this.now);
    this.ready = this.start();
    // Failures of recovery are recorded per action; this only keeps an unexpected one visible.
    this.ready.catch((err) => log.error('start-up recovery failed', { error: errText(err) }));
  }

  private async start(): Promise<ActionRecord[]> {
    this.actuators.install(
      this.opts.actuators ?? (await createActuators({ config: this.opts.config ?? {} })),
    );
    return this.opts.recover === false ? [] : this.rollbacks.recover();
  }

  onAlert(alert: Alert, ctx?: IncidentContext): Promise<ActionRecord[]> {
    return this.track(
      (async () => {
        await this.ready;
        if (this.closed) return [];
        return this.planner.onAlert(alert, ctx);
      })(),
    );
  }

  approve(id: string): Promise<ActionRecord> {
    return this.track(
      this.exclusive(id, async () => {
        await this.ready;
        return this.executor.approve(id);
      }),
    );
  }

  rollback(id: string): Promise<ActionRecord> {
    return this.track(
      this.exclusive(id, async () => {
        await this.ready;
        return this.rollbacks.request(id);
      }),
    );
  }

  tick(now?: Date): Promise<ActionRecord[]> {
    return this.track(
      (async () => {
        await this.ready;
        return this.rollbacks.expire(now ?? this.now());
      })(),
    );
  }

  /** One approve or rollback at a time per action: two clicks must not act twice. */
  private async exclusive<T>(id: string, f: () => Promise<T>): Promise<T> {
    const key = this.records.get(id)?.id ?? id;
    if (this.busy.has(key)) throw statusError(`action ${key} is already being approved or rolled back`, 409);
    this.busy.add(key);
    try {
      return await f();
    } finally {
      this.busy.delete(key);
    }
  }

  list(filter: ActionQuery = {}): ActionRecord[] {
    return this.records.list(filter);
  }

  count(filter: ActionQuery = {}): number {
    return this.records.count(filter);
  }

  get(id: string): ActionRecord | undefined {
    return this.records.get(id);
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
  return new ResponseEngine({ ...opts, hostname: opts.hostname || osHostname() });
}
