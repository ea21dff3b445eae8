/**
 * Live detectors, one line each. A factory returns undefined when its detector is disabled or cannot
 * run with the given context (it should log why).
 */
import type { Detector, DetectorContext, DetectorFactory } from './types.js';
import { createRulesDetector } from './rules/detector.js';
import { createAuditAnomalyDetector } from './anomaly/audit/detector.js';
import { createBaselineDetector } from './anomaly/baseline/detector.js';
import { createRuntimeDetector } from './runtime/detector.js';
import { createPerfDetector } from './perf/detector.js';
import { createPostureDetector } from './posture/detector.js';
import { createTraceModelDetector } from './traces/detector.js';

export type { DetectorContext, DetectorFactory } from './types.js';

const factories: [name: string, factory: DetectorFactory][] = [
  ['rules', createRulesDetector],
  ['audit-anomaly', createAuditAnomalyDetector],
  ['baseline', createBaselineDetector],
  ['runtime', createRuntimeDetector],
  ['perf', createPerfDetector],
  ['posture', createPostureDetector],
  ['trace-model', createTraceModelDetector],
];

export async function createDetectors(ctx: DetectorContext, only?: string[]): Promise<Detector[]> {
  const out: Detector[] = [];
  for (const [name, f] of factories) {
    if (only && !only.includes(name)) continue;
    const d = await f(ctx);
    if (d) out.push(d);
  }
  return out;
}

export function detectorNames(): string[] {
  return factories.map(([n]) => n);
}
