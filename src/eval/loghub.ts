/**
 * `vigie eval logs --dataset loghub`: the template miner on Loghub's labelled samples, scored as the
 * Loghub benchmark scores log parsers (Zhu et al., ICSE-SEIP 2019; logpai/loghub):
 *  - grouping accuracy: a line counts when the set of lines given its template is exactly the set of
 *    lines of its true event (`EventId`);
 *  - parsing accuracy: the line's template (as it stands once every line was read) equals the true
 *    `EventTemplate`, both with white-space runs made one space and the ends trimmed (the miner splits
 *    on white space and joins with one space); nothing else is normalised (`<*>` must sit where the
 *    truth has it, `blk_<*>` is not `<*>`).
 * Beside the miner: Drain's published grouping accuracy, the naive regex-masking baseline, and the
 * two trivial parsers (one template for every line; one template per distinct line).
 */
import { TemplateMiner, type MinerConfig } from '../detect/logs/template-miner.js';
import { NaiveMaskingParser } from '../detect/logs/naive-masking.js';
import { listLoghub, readLoghubSystem } from '../sources/datasets/loghub.js';

/** Drain's grouping accuracy on loghub-2k as published (Zhu et al. 2019, Table; Loghub's benchmark). */
export const DRAIN_GROUPING_ACCURACY: ReadonlyMap<string, number> = new Map([
  ['HDFS', 0.998],
  ['Hadoop', 0.948],
  ['Spark', 0.92],
  ['Zookeeper', 0.967],
  ['BGL', 0.963],
  ['HPC', 0.887],
  ['Thunderbird', 0.955],
  ['Windows', 0.997],
  ['Linux', 0.69],
  ['Mac', 0.787],
  ['Android', 0.911],
  ['HealthApp', 0.78],
  ['Apache', 1],
  ['OpenSSH', 0.788],
  ['OpenStack', 0.733],
  ['Proxifier', 0.527],
]);

export interface Scores {
  groupingAccuracy: number;
  parsingAccuracy: number;
}

export interface LogSystemResult extends Scores {
  name: string;
  lines: number;
  templates: number;
  /** Lines per second of the miner's learning pass over this system's messages (best of SPEED_RUNS fresh runs, from an empty state: templates are created as they appear; the steady rate is `npm run bench -- log-parse`'s). */
  linesPerSecond: number;
  /** Events in the ground truth. */
  trueEvents: number;
  /** Drain's published grouping accuracy, null for a system it was not published on. */
  drainGroupingAccuracy: number | null;
  baselines: {
    naiveMasking: Scores & { templates: number };
    oneTemplate: Scores;
    distinctLines: Scores & { templates: number };
  };
  /** Input that could not be read (file and line), skipped. */
  skipped: string[];
}

export interface LoghubEvaluation {
  systems: LogSystemResult[];
  mean: Scores & { drainGroupingAccuracy: number | null; naiveMaskingGroupingAccuracy: number };
  command?: string;
}

/**
 * Grouping accuracy exactly as Loghub's evaluator computes it: for each parsed group, when all its
 * lines share one true event and that event has no other line, all its lines count as correct.
 */
export function groupingAccuracy(truth: readonly string[], parsed: readonly (string | number)[]): number {
  if (truth.length !== parsed.length) throw new Error(`${truth.length} true labels, ${parsed.length} parsed`);
  if (truth.length === 0) return 0;
  const truthSize = new Map<string, number>();
  for (const t of truth) truthSize.set(t, (truthSize.get(t) ?? 0) + 1);
  const groups = new Map<string | number, { event: string | undefined; mixed: boolean; size: number }>();
  for (let i = 0; i < truth.length; i++) {
    const g = groups.get(parsed[i]);
    if (!g) groups.set(parsed[i], { event: truth[i], mixed: false, size: 1 });
    else {
      g.size++;
      if (g.event !== truth[i]) g.mixed = true;
    }
  }
  let correct = 0;
  for (const g of groups.values()) if (!g.mixed && truthSize.get(g.event!) === g.size) correct += g.size;
  return correct / truth.length;
}

export const normalizeTemplate = (t: string): string => t.trim().replace(/\s+/g, ' ');

export function parsingAccuracy(truth: readonly string[], parsed: readonly string[]): number {
  if (truth.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < truth.length; i++)
    if (normalizeTemplate(parsed[i]) === normalizeTemplate(truth[i])) ok++;
  return ok / truth.length;
}

/** Fresh learning passes timed per system (the best is reported: the first ones run unoptimised code). */
const SPEED_RUNS = 20;

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function evalLoghubSystem(
  dir: string,
  name: string,
  config: Partial<MinerConfig> = {},
): LogSystemResult {
  const s = readLoghubSystem(dir, name);
  const lines = s.contents;
  const miner = new TemplateMiner(config);
  const ids = new Array<number>(lines.length);
  for (let i = 0; i < lines.length; i++) ids[i] = miner.add(lines[i]).templateId;
  // The template of each line is its template once every line was read (as Loghub scores parsers).
  const parsedTemplates = ids.map((id) => miner.template(id)?.tokens.join(' ') ?? '');
  let bestMs = Infinity;
  for (let r = 0; r < SPEED_RUNS; r++) {
    const m = new TemplateMiner(config);
    const t0 = performance.now();
    for (let i = 0; i < lines.length; i++) m.add(lines[i]);
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  const naive = new NaiveMaskingParser();
  const naiveOut = lines.map((l) => naive.add(l));
  const distinct = new Map<string, number>();
  const distinctIds = lines.map((l) => {
    const k = normalizeTemplate(l);
    let id = distinct.get(k);
    if (id === undefined) distinct.set(k, (id = distinct.size + 1));
    return id;
  });
  return {
    name,
    lines: lines.length,
    templates: miner.stats().templates,
    groupingAccuracy: groupingAccuracy(s.eventIds, ids),
    parsingAccuracy: parsingAccuracy(s.templates, parsedTemplates),
    linesPerSecond: Math.round(lines.length / (Math.max(bestMs, 1e-3) / 1000)),
    trueEvents: new Set(s.eventIds).size,
    drainGroupingAccuracy: DRAIN_GROUPING_ACCURACY.get(name) ?? null,
    baselines: {
      naiveMasking: {
        groupingAccuracy: groupingAccuracy(
          s.eventIds,
          naiveOut.map((o) => o.templateId),
        ),
        parsingAccuracy: parsingAccuracy(
          s.templates,
          naiveOut.map((o) => o.template),
        ),
        templates: naive.templates,
      },
      oneTemplate: {
        groupingAccuracy: groupingAccuracy(
          s.eventIds,
          lines.map(() => 1),
        ),
        parsingAccuracy: parsingAccuracy(
          s.templates,
          lines.map(() => '<*>'),
        ),
      },
      distinctLines: {
        groupingAccuracy: groupingAccuracy(s.eventIds, distinctIds),
        parsingAccuracy: parsingAccuracy(s.templates, lines),
        templates: distinct.size,
      },
    },
    skipped: s.skipped.map((e) => e.message),
  };
}

/** Every system found in `dir` (a folder per system); throws a DatasetError when there is none. */
export function evalLoghub(dir: string, config: Partial<MinerConfig> = {}): LoghubEvaluation {
  const names = listLoghub(dir);
  if (names.length === 0)
    throw new Error(`${dir}: no Loghub system folder (<System>/<System>_2k.log_structured.csv)`);
  const systems = names.map((n) => evalLoghubSystem(dir, n, config));
  const drains = systems.map((s) => s.drainGroupingAccuracy);
  return {
    systems,
    mean: {
      groupingAccuracy: mean(systems.map((s) => s.groupingAccuracy)),
      parsingAccuracy: mean(systems.map((s) => s.parsingAccuracy)),
      drainGroupingAccuracy: drains.every((d) => d !== null) ? mean(drains as number[]) : null,
      naiveMaskingGroupingAccuracy: mean(systems.map((s) => s.baselines.naiveMasking.groupingAccuracy)),
    },
  };
}

const f3 = (x: number | null): string => (x === null ? '–' : x.toFixed(3));
const int = (x: number): string => x.toLocaleString('en-US');

export function loghubMarkdown(r: LoghubEvaluation): string {
  const out = [
    '| system | lines | true events | templates | grouping accuracy | Drain (published) | parsing accuracy | naive masking GA (PA) | one template GA | distinct lines GA | lines/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of r.systems) {
    const b = s.baselines;
    out.push(
      `| ${s.name} | ${int(s.lines)} | ${s.trueEvents} | ${s.templates} | **${f3(s.groupingAccuracy)}** | ${f3(s.drainGroupingAccuracy)} | ${f3(s.parsingAccuracy)} | ${f3(b.naiveMasking.groupingAccuracy)} (${f3(b.naiveMasking.parsingAccuracy)}) | ${f3(b.oneTemplate.groupingAccuracy)} | ${f3(b.distinctLines.groupingAccuracy)} | ${int(s.linesPerSecond)} |`,
    );
  }
  const m = r.mean;
  out.push(
    `| mean | | | | **${f3(m.groupingAccuracy)}** | ${f3(m.drainGroupingAccuracy)} | ${f3(m.parsingAccuracy)} | ${f3(m.naiveMaskingGroupingAccuracy)} | | | |`,
  );
  const skipped = r.systems.flatMap((s) => s.skipped);
  if (skipped.length) out.push('', `Skipped input: ${skipped.length}`, ...skipped.map((e) => `- ${e}`));
  return out.join('\n') + '\n';
}

export function loghubText(r: LoghubEvaluation): string {
  const rows = r.systems.map(
    (s) =>
      `${s.name.padEnd(12)} GA ${f3(s.groupingAccuracy)}  Drain ${f3(s.drainGroupingAccuracy)}  PA ${f3(s.parsingAccuracy)}  naive GA ${f3(s.baselines.naiveMasking.groupingAccuracy)}  templates ${s.templates}/${s.trueEvents}  ${int(s.linesPerSecond)} lines/s`,
  );
  rows.push(
    `${'mean'.padEnd(12)} GA ${f3(r.mean.groupingAccuracy)}  Drain ${f3(r.mean.drainGroupingAccuracy)}  PA ${f3(r.mean.parsingAccuracy)}  naive GA ${f3(r.mean.naiveMaskingGroupingAccuracy)}`,
  );
  for (const s of r.systems) for (const e of s.skipped) rows.push(`skipped: ${e}`);
  return rows.join('\n') + '\n';
}

/** The JSON contract: `{systems: [{name, lines, templates, groupingAccuracy, parsingAccuracy, linesPerSecond, ...}], mean}`. */
export function loghubJson(r: LoghubEvaluation): string {
  return JSON.stringify(r, null, 2) + '\n';
}
