/** Shapes of an evaluation run: the JSON printed by `vigie eval syscalls` and the plot data. */
import type { RocPoint } from './metrics.js';

export interface ScenarioResult {
  name: string;
  dr: number | null;
  cfa: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  fpr: number | null;
  auc: number | null;
  latencyMs: number | null;
}

export interface MeanResult {
  dr: number | null;
  cfa: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  fpr: number | null;
  auc: number | null;
}

/** One held-out attack type: scored against the normal test items, nothing learned from attacks. */
export interface LeaveOneOutRow {
  attack: string;
  auc: number | null;
  /** Recall at a false-positive rate ≤ 2% on the normal test items, from the ROC curve. */
  recallAtFpr2: number | null;
}

export interface AlgorithmResult {
  name: string;
  params: Record<string, string | number | boolean>;
  scenarios: ScenarioResult[];
  mean: MeanResult;
  /** Leave-one-attack-out protocol (KubAnomaly): one row per attack file, and their mean. */
  leaveOneOut?: LeaveOneOutRow[];
  leaveOneOutMean?: { auc: number | null; recallAtFpr2: number | null };
}

export interface SkippedInput {
  file: string;
  line: number | null;
  error: string;
}

export interface EvalOutput {
  dataset: string;
  algorithms: AlgorithmResult[];
  /** Inputs that could not be read (skipped and counted; the run went on). */
  skipped: SkippedInput[];
}

/** What the Markdown report needs beyond the JSON. */
export interface ScenarioDetail {
  algorithm: string;
  scenario: string;
  threshold: number;
  thresholdPolicy: string;
  /** Detection rate (recall) at a false-positive rate ≤ 5% on the test set, from its ROC curve. */
  drAtFpr5: number | null;
  /** Same at ≤ 2%. */
  drAtFpr2: number | null;
  roc: RocPoint[];
  /** Test items: negatives, positives. */
  counts: { negatives: number; positives: number };
  /** Named attack items (e.g. ADFA-LD attack runs) scoring at or under the threshold, when items are named. */
  missed?: string[];
}

export interface Timeline {
  algorithm: string;
  scenario: string;
  recording: string;
  /** Seconds from the first call. */
  t: number[];
  score: number[];
  threshold: number;
  /** Seconds from the first call; undefined for normal recordings. */
  exploitAt?: number;
  xLabel?: string;
}

export interface EvalRun {
  output: EvalOutput;
  details: ScenarioDetail[];
  timelines: Timeline[];
  notes: string[];
  command: string;
  seconds: number;
}

export function meanOf(scenarios: ScenarioResult[]): MeanResult {
  const keys = ['dr', 'cfa', 'precision', 'recall', 'f1', 'fpr', 'auc'] as const;
  const out = {} as MeanResult;
  for (const k of keys) {
    const vals = scenarios
      .map((s) => s[k])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    out[k] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  }
  return out;
}

/** Drops points of a ROC curve to at most `max`, keeping the ends (the plot needs no more). */
export function thinRoc(points: RocPoint[], max = 400): RocPoint[] {
  if (points.length <= max) return points;
  const out: RocPoint[] = [];
  const step = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)]);
  return out;
}
