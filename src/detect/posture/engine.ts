/**
 * The evaluator: objects + catalogue (+ settings, exceptions) → findings, per-resource and overall
 * scores. A library with no I/O: the CLI, the admission webhook and the live detector share it.
 */
import { CHECKS, indexControls, loadCatalogue, type ControlIndex } from './catalogue.js';
import { ScanContext, type Settings } from './context.js';
import { matchException, type ExceptionRule } from './exceptions.js';
import { FindingBase, PostureFinding } from './finding.js';
import { podSpecsOf, refKey, refOf, withScanCaches } from './k8s.js';
import type {
  ControlDef,
  Finding,
  K8sObject,
  LoadedObject,
  ResourceScore,
  ScanError,
  ScanResult,
  Severity,
} from './types.js';

export interface EvaluateOptions {
  controls?: ControlDef[];
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

export const SEVERITY_WEIGHT: Record<Severity, number> = {
  critical: 10,
  high: 7,
  medium: 4,
  low: 2,
  info: 1,
};

const indexCache = new WeakMap<ControlDef[], ControlIndex>();

function indexFor(controls: ControlDef[]): ControlIndex {
  let ix = indexCache.get(controls);
  if (!ix) indexCache.set(controls, (ix = indexControls(controls)));
  return ix;
}

/** Controls that apply to an object (by kind, and pod-template controls when it carries one). */
const combinedCache = new WeakMap<ControlIndex, Map<string, ControlDef[]>>();
const NO_CONTROLS: ControlDef[] = [];

export function controlsFor(o: K8sObject, ix: ControlIndex): ControlDef[] {
  const kind = String(o.kind ?? '');
  const byKind = ix.byKind.get(kind) ?? NO_CONTROLS;
  if (podSpecsOf(o).length === 0) return byKind;
  if (byKind.length === 0) return ix.podspec;
  let m = combinedCache.get(ix);
  if (!m) combinedCache.set(ix, (m = new Map()));
  let l = m.get(kind);
  if (!l) m.set(kind, (l = [...byKind, ...ix.podspec]));
  return l;
}

const NO_PARAMS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

interface CompiledControl {
  def: ControlDef;
  fn: (typeof CHECKS)[string]['fn'];
  params: Record<string, any>;
  weight: number;
}
const compiledCache = new WeakMap<ControlDef[], CompiledControl[]>();

/** Control list → check functions resolved once (the scan loop runs them a million times). */
function compile(list: ControlDef[]): CompiledControl[] {
  let c = compiledCache.get(list);
  if (!c) {
    c = list.map((def) => ({
      def,
      fn: CHECKS[def.check].fn,
      params: def.params ?? NO_PARAMS,
      weight: SEVERITY_WEIGHT[def.severity],
    }));
    compiledCache.set(list, c);
  }
  return c;
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
  exceptions: ExceptionRule[],
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
      const ex = exceptions.length > 0 ? matchException(exceptions, f, now) : undefined;
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

export function evaluate(loaded: LoadedObject[], opts: EvaluateOptions = {}): ScanResult {
  return withScanCaches(() => evaluateAll(loaded, opts));
}

function evaluateAll(loaded: LoadedObject[], opts: EvaluateOptions): ScanResult {
  let controls = opts.controls ?? loadCatalogue();
  if (opts.only) {
    const only = new Set(opts.only);
    controls = controls.filter((c) => only.has(c.id));
  }
  const ix = indexFor(controls);
  const objects = loaded.map((l) => l.obj);
  const ctx =
    opts.scanContext ??
    new ScanContext(
      opts.contextObjects ? [...objects, ...opts.contextObjects] : objects,
      opts.settings,
      opts.complete ?? false,
    );
  const now = opts.now ?? new Date();
  const exceptions = opts.exceptions ?? [];
  const findings: Finding[] = [];
  const resources: ResourceScore[] = [];
  const totals: Totals = { weight: 0, passed: 0 };

  for (let i = 0; i < loaded.length; i++) {
    const { obj, source } = loaded[i];
    const applicable = controlsFor(obj, ix);
    if (applicable.length === 0) continue;
    evaluateObject(
      obj,
      source,
      compile(applicable),
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
      controls: controls.length,
      findings: findings.length - excepted,
      excepted,
      bySeverity,
      score: totalWeight === 0 ? 100 : Math.round((1000 * passedWeight) / totalWeight) / 10,
      errors: opts.errors?.length ?? 0,
    },
  };
}
