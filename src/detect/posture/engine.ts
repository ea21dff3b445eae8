/**
 * The evaluator: objects + catalogue (+ settings, exceptions) → findings, per-resource and overall
 * scores. No I/O once its catalogue is loaded: the CLI, the admission webhook and the live detector
 * share it. A PostureEngine keeps what it derives from its control list (the index by kind, the
 * resolved check functions) across evaluations; `evaluate()` is a one-off engine.
 */
import { CHECKS, indexControls, loadCatalogue, type CheckRegistry, type ControlIndex } from './catalogue.js';
import type { CheckFn } from './checks/types.js';
import { ScanContext, type Settings } from './context.js';
import { ExceptionMatcher, type ExceptionRule } from './exceptions.js';
import { FindingBase, PostureFinding } from './finding.js';
import { refKey, refOf } from './k8s.js';
import { ObjectMemo } from './memo.js';
import { notConfigured } from './settings.js';
import type {
  ControlDef,
  Finding,
  K8sObject,
  LoadedObject,
  NotConfigured,
  ResourceScore,
  ScanError,
  ScanResult,
  Severity,
} from './types.js';

export interface EvaluateOptions {
  /** The catalogue (default: loaded from controls/). */
  controls?: ControlDef[];
  /** The checks controls name (default: every built-in check). */
  checks?: CheckRegistry;
  settings?: Partial<Settings>;
  exceptions?: ExceptionRule[];
  /** The object set is a whole cluster: missing service accounts etc. are real. */
  complete?: boolean;
  now?: Date;
  /** Only these control ids. */
  only?: string[];
  errors?: ScanError[];
  /** Extra objects that give context (a cluster's RBAC, NetworkPolicies) without being reported on. */
  contextObjects?: K8sObject[];
  /** A prebuilt context (the live detector keeps one across ticks). */
  scanContext?: ScanContext;
}

export const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = {
  critical: 10,
  high: 7,
  medium: 4,
  low: 2,
  info: 1,
};

const NO_CONTROLS: ControlDef[] = Object.freeze([]) as unknown as ControlDef[];
const NO_PARAMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

interface CompiledControl {
  def: ControlDef;
  fn: CheckFn;
  params: Record<string, any>;
  weight: number;
}

export class PostureEngine {
  readonly controls: ControlDef[];
  readonly index: ControlIndex;
  private readonly checks: CheckRegistry;
  /** Per kind, its own controls followed by the pod-template ones, for kinds that carry a template. */
  private readonly combined = new Map<string, ControlDef[]>();
  /** Per applicable list (the index's lists are stable), check functions resolved once. */
  private readonly compiled = new Map<ControlDef[], CompiledControl[]>();
  /** Engines without the controls that some settings leave unconfigured, by the ids left out. */
  private readonly configured = new Map<string, PostureEngine>();

  constructor(controls: ControlDef[] = loadCatalogue(), checks: CheckRegistry = CHECKS) {
    this.controls = controls;
    this.checks = checks;
    this.index = indexControls(controls, checks);
  }

  /** Controls that apply to an object (by kind, and pod-template controls when it carries one). */
  controlsFor(o: K8sObject, memo: ObjectMemo = new ObjectMemo()): ControlDef[] {
    const ix = this.index;
    const kind = String(o.kind ?? '');
    const byKind = ix.byKind.get(kind) ?? NO_CONTROLS;
    if (memo.podSpecsOf(o).length === 0) return byKind;
    if (byKind.length === 0) return ix.podspec;
    let l = this.combined.get(kind);
    if (!l) this.combined.set(kind, (l = [...byKind, ...ix.podspec]));
    return l;
  }

  /** Control list → check functions resolved once (the scan loop runs them a million times). */
  private compile(list: ControlDef[]): CompiledControl[] {
    let c = this.compiled.get(list);
    if (!c) {
      c = list.map((def) => ({
        def,
        fn: this.checks[def.check].fn,
        params: def.params ?? NO_PARAMS,
        weight: SEVERITY_WEIGHT[def.severity],
      }));
      this.compiled.set(list, c);
    }
    return c;
  }

  evaluate(loaded: LoadedObject[], opts: Omit<EvaluateOptions, 'controls' | 'checks'> = {}): ScanResult {
    // Only some controls: a narrower engine for this evaluation.
    if (opts.only) {
      const only = new Set(opts.only);
      return new PostureEngine(
        this.controls.filter((c) => only.has(c.id)),
        this.checks,
      ).evaluate(loaded, { ...opts, only: undefined });
    }
    const objects = loaded.map((l) => l.obj);
    const ctx =
      opts.scanContext ??
      new ScanContext(
        opts.contextObjects ? [...objects, ...opts.contextObjects] : objects,
        opts.settings,
        opts.complete ?? false,
      );
    // A control whose inputs are not set is not guessed at: it is left out and reported.
    const missing = notConfigured(this.controls, ctx.settings);
    const engine = missing.length > 0 ? this.without(missing) : this;
    // Answers about objects last for this evaluation only (a kept context sees objects change).
    const memo = new ObjectMemo();
    ctx.memo = memo;
    try {
      const res = engine.evaluateAll(loaded, opts, ctx, memo);
      if (missing.length > 0) {
        res.notConfigured = missing;
        res.summary.notConfigured = missing.length;
      }
      return res;
    } finally {
      ctx.memo = new ObjectMemo();
    }
  }

  /** This engine less some controls, kept for the next evaluation with the same settings. */
  private without(missing: NotConfigured[]): PostureEngine {
    const key = missing.map((m) => m.control).join(',');
    let e = this.configured.get(key);
    if (!e) {
      const skip = new Set(missing.map((m) => m.control));
      e = new PostureEngine(
        this.controls.filter((c) => !skip.has(c.id)),
        this.checks,
      );
      this.configured.set(key, e);
    }
    return e;
  }

  private evaluateAll(
    loaded: LoadedObject[],
    opts: EvaluateOptions,
    ctx: ScanContext,
    memo: ObjectMemo,
  ): ScanResult {
    const now = opts.now ?? new Date();
    const exceptions =
      opts.exceptions && opts.exceptions.length > 0 ? new ExceptionMatcher(opts.exceptions) : undefined;
    const findings: Finding[] = [];
    const resources: ResourceScore[] = [];
    const totals: Totals = { weight: 0, passed: 0 };

    for (let i = 0; i < loaded.length; i++) {
      const { obj, source } = loaded[i];
      const applicable = this.controlsFor(obj, memo);
      if (applicable.length === 0) continue;
      evaluateObject(
        obj,
        source,
        this.compile(applicable),
        ctx,
        exceptions,
        now,
        opts.errors,
        findings,
        resources,
        totals,
      );
    }
    const totalWeight = totals.weight;
    const passedWeight = totals.passed;

    const bySeverity: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
    let excepted = 0;
    for (let i = 0; i < findings.length; i++) {
      const f = findings[i];
      if (f.excepted) excepted++;
      else bySeverity[f.severity]++;
    }
    return {
      findings,
      resources,
      errors: opts.errors ?? [],
      summary: {
        objects: loaded.length,
        resources: resources.length,
        controls: this.controls.length,
        findings: findings.length - excepted,
        excepted,
        bySeverity,
        score: totalWeight === 0 ? 100 : Math.round((1000 * passedWeight) / totalWeight) / 10,
        errors: opts.errors?.length ?? 0,
      },
    };
  }
}

/** One evaluation with its own engine (callers that evaluate repeatedly keep a PostureEngine). */
export function evaluate(loaded: LoadedObject[], opts: EvaluateOptions = {}): ScanResult {
  return new PostureEngine(opts.controls, opts.checks).evaluate(loaded, opts);
}

interface Totals {
  weight: number;
  passed: number;
}

/** One object through its applicable controls: findings and its score appended to the lists. */
function evaluateObject(
  obj: K8sObject,
  source: LoadedObject['source'],
  compiled: CompiledControl[],
  ctx: ScanContext,
  exceptions: ExceptionMatcher | undefined,
  now: Date,
  errors: ScanError[] | undefined,
  findings: Finding[],
  resources: ResourceScore[],
  totals: Totals,
): void {
  const ref = refOf(obj);
  let weight = 0;
  let failedWeight = 0;
  let count = 0;
  for (let ci = 0; ci < compiled.length; ci++) {
    const { def: c, fn, params, weight: w } = compiled[ci];
    weight += w;
    let hits;
    try {
      hits = fn(obj, ctx, params);
    } catch (e) {
      // A check must never take the scan down on a strange object: record it and go on.
      errors?.push({
        file: source?.file ?? refKey(ref),
        line: source?.line,
        message: `control ${c.id} failed on ${ref.kind}/${ref.name}: ${(e as Error).message}`,
      });
      continue;
    }
    if (hits.length === 0) continue;
    let anyActive = false;
    for (let hi = 0; hi < hits.length; hi++) {
      const h = hits[hi];
      const f = h instanceof FindingBase && h.unbound ? h : new PostureFinding(h);
      f.def = c;
      f.resource = ref;
      f.source = source;
      const ex = exceptions?.match(f, now);
      if (ex) {
        f.excepted = true;
        f.exception = { reason: ex.reason, expires: ex.expires?.toISOString() };
      } else anyActive = true;
      findings.push(f);
      count++;
    }
    if (anyActive) failedWeight += w;
  }
  totals.weight += weight;
  totals.passed += weight - failedWeight;
  resources.push({
    resource: ref,
    score: weight === 0 ? 100 : Math.round((1000 * (weight - failedWeight)) / weight) / 10,
    findings: count,
  });
}
