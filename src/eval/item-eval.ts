/**
 * Evaluation of item-level scores (a trace of ADFA-LD, a window of KubAnomaly): threshold from the
 * normal tuning scores, then per scenario (all attacks pooled, and each attack group against the same
 * normal test items) AUC, DR/recall, precision, F1, FPR at that threshold, and DR at FPR ≤ 5% / 2%.
 */
import { confusionAt, rocAuc, rocCurve, thresholdFrom, tprAtFpr } from './metrics.js';
import { meanOf, thinRoc, type AlgorithmResult, type ScenarioDetail, type ScenarioResult } from './types.js';

export interface ItemScores {
  /** Scores of the normal items held out to set the threshold. */
  tune: Float64Array;
  /** Scores of the test items. */
  test: Float64Array;
}

export interface ItemTestSet {
  labels: Uint8Array;
  /** Attack group of each positive test item ('' for negatives). */
  groups: string[];
  /** Name of each positive test item, when attacks are named units (lists the missed ones). */
  names?: string[];
}

export function evaluateItems(
  algorithm: string,
  params: Record<string, string | number | boolean>,
  scores: ItemScores,
  set: ItemTestSet,
  policy: string,
  allName: string,
): { result: AlgorithmResult; details: ScenarioDetail[] } {
  const threshold = policy === 'trivial' ? 0.5 : thresholdFrom(scores.tune, policy);
  const groupNames = [...new Set(set.groups.filter((g) => g !== ''))].sort();
  const scenarios: ScenarioResult[] = [];
  const details: ScenarioDetail[] = [];
  const missedNames = (keep: (i: number) => boolean): string[] => {
    const out: string[] = [];
    for (let i = 0; i < set.labels.length; i++)
      if (keep(i) && set.labels[i] === 1 && !(scores.test[i] > threshold)) out.push(set.names![i]);
    return out;
  };
  const run = (name: string, keep: (i: number) => boolean): void => {
    const s: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < set.labels.length; i++) {
      if (!keep(i)) continue;
      s.push(scores.test[i]);
      y.push(set.labels[i]);
    }
    const m = confusionAt(s, y, threshold);
    const auc = rocAuc(s, y);
    scenarios.push({
      name,
      dr: m.recall,
      cfa: null,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
      fpr: m.fpr,
      auc: Number.isFinite(auc) ? auc : null,
      latencyMs: null,
    });
    details.push({
      algorithm,
      scenario: name,
      threshold,
      thresholdPolicy: policy,
      drAtFpr5: tprAtFpr(s, y, 0.05),
      drAtFpr2: tprAtFpr(s, y, 0.02),
      roc: thinRoc(rocCurve(s, y)),
      counts: { negatives: m.tn + m.fp, positives: m.tp + m.fn },
      ...(set.names && policy !== 'trivial' ? { missed: missedNames(keep) } : {}),
    });
  };
  run(allName, () => true);
  for (const g of groupNames) run(g, (i) => set.labels[i] === 0 || set.groups[i] === g);
  // The mean is over the attack groups (the pooled row would count every item twice).
  const perGroup = scenarios.slice(1);
  return {
    result: { name: algorithm, params, scenarios, mean: meanOf(perGroup.length ? perGroup : scenarios) },
    details,
  };
}
