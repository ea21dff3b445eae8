/** Markdown report of an evaluation run, with SVG ROC curves and score timelines beside it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart } from './svg.js';
import type { EvalRun } from './types.js';

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** The results tables in Markdown (also what `--output md` prints). */
export function markdownTables(run: EvalRun): string {
  const out: string[] = [];
  const scenarios = [...new Set(run.output.algorithms.flatMap((a) => a.scenarios.map((s) => s.name)))];
  for (const sc of scenarios) {
    out.push(`### ${sc}`, '');
    out.push(
      '| algorithm | params | AUC | DR | DR @ FPR ≤ 5% | DR @ FPR ≤ 2% | FPR | CFA | precision | recall | F1 | latency ms | threshold |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const a of run.output.algorithms) {
      const s = a.scenarios.find((x) => x.name === sc);
      if (!s) continue;
      const d = run.details.find((x) => x.algorithm === a.name && x.scenario === sc);
      const params = Object.entries(a.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      out.push(
        `| ${a.name} | ${params || '–'} | ${fmt(s.auc)} | ${fmt(s.dr)} | ${fmt(d?.drAtFpr5)} | ${fmt(d?.drAtFpr2)} | ${fmt(s.fpr)} | ${s.cfa ?? '–'} | ${fmt(s.precision)} | ${fmt(s.recall)} | ${fmt(s.f1)} | ${fmt(s.latencyMs, 0)} | ${d ? `${fmt(d.threshold, 4)} (${d.thresholdPolicy})` : '–'} |`,
      );
    }
    out.push('');
  }
  const loo = run.output.algorithms.filter((a) => a.leaveOneOut);
  if (loo.length) {
    const attacks = loo[0].leaveOneOut!.map((r) => r.attack);
    out.push('### Leave one attack out (AUC / recall at FPR ≤ 2%)', '');
    out.push(`| algorithm | ${attacks.join(' | ')} | mean |`);
    out.push(`|---|${attacks.map(() => '---|').join('')}---|`);
    for (const a of loo) {
      const cells = attacks.map((at) => {
        const r = a.leaveOneOut!.find((x) => x.attack === at);
        return `${fmt(r?.auc)} / ${fmt(r?.recallAtFpr2)}`;
      });
      out.push(
        `| ${a.name} | ${cells.join(' | ')} | ${fmt(a.leaveOneOutMean?.auc)} / ${fmt(a.leaveOneOutMean?.recallAtFpr2)} |`,
      );
    }
    out.push('');
  }
  out.push('### Mean over scenarios', '');
  out.push('| algorithm | AUC | DR | FPR | CFA | precision | recall | F1 |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const a of run.output.algorithms) {
    const m = a.mean;
    out.push(
      `| ${a.name} | ${fmt(m.auc)} | ${fmt(m.dr)} | ${fmt(m.fpr)} | ${fmt(m.cfa, 1)} | ${fmt(m.precision)} | ${fmt(m.recall)} | ${fmt(m.f1)} |`,
    );
  }
  out.push('');
  return out.join('\n');
}

export function writeReport(run: EvalRun, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const md: string[] = [];
  md.push(`# Evaluation: ${run.output.dataset}`, '');
  md.push('Command:', '', '```', run.command, '```', '');
  md.push(`Run time: ${run.seconds.toFixed(1)} s.`, '');
  for (const n of run.notes) md.push(`- ${n}`);
  md.push('', '## Results', '', markdownTables(run));
  // Named attack units (ADFA-LD attack runs): which ones each model misses, on the pooled scenario.
  const missed = run.details.filter((d) => d.missed && d.scenario === run.details[0]?.scenario);
  if (missed.length) {
    md.push('## Attacks missed at the threshold', '');
    for (const d of missed)
      md.push(
        `- ${d.algorithm}: ${d.missed!.length ? d.missed!.join(', ') : 'none'} (of ${d.counts.positives})`,
      );
    md.push('');
  }

  md.push('## ROC curves', '');
  const scenarios = [...new Set(run.details.map((d) => d.scenario))];
  for (const sc of scenarios) {
    const ds = run.details.filter((d) => d.scenario === sc && d.thresholdPolicy !== 'trivial');
    if (ds.length === 0) continue;
    const file = `roc-${slug(sc)}.svg`;
    writeFileSync(
      join(dir, file),
      lineChart(
        ds.map((d) => ({
          label: `${d.algorithm} (AUC ${fmt(run.output.algorithms.find((a) => a.name === d.algorithm)?.scenarios.find((s) => s.name === sc)?.auc)})`,
          x: d.roc.map((p) => p.fpr),
          y: d.roc.map((p) => p.tpr),
        })),
        {
          title: `ROC, ${run.output.dataset} ${sc} (${ds[0].counts.negatives} normal, ${ds[0].counts.positives} attack)`,
          xLabel: 'false-positive rate',
          yLabel: 'true-positive rate',
          xRange: [0, 1],
          yRange: [0, 1],
          diagonal: true,
        },
      ),
    );
    md.push(`![ROC ${sc}](${file})`, '');
  }

  if (run.timelines.length) {
    md.push('## Score timelines', '');
    run.timelines.forEach((t, i) => {
      const file = `timeline-${i}-${slug(t.algorithm)}-${slug(t.scenario)}.svg`;
      writeFileSync(
        join(dir, file),
        lineChart([{ label: t.algorithm, x: t.t, y: t.score }], {
          title: `${t.algorithm}: ${t.scenario} / ${t.recording}`,
          xLabel: t.xLabel ?? 'seconds since the first call',
          yLabel: 'anomaly score',
          hlines: [{ y: t.threshold, label: 'threshold' }],
          vlines:
            t.exploitAt !== undefined
              ? [{ x: t.exploitAt, label: t.xLabel ? 'attack windows start' : 'exploit start' }]
              : [],
        }),
      );
      md.push(`![timeline ${t.algorithm} ${t.recording}](${file})`, '');
    });
  }

  md.push('## Skipped inputs', '');
  if (run.output.skipped.length === 0) md.push('None.', '');
  else {
    md.push(
      `${run.output.skipped.length} input(s) could not be read; they were skipped and the run went on.`,
      '',
    );
    for (const s of run.output.skipped)
      md.push(`- \`${s.file}${s.line !== null ? `:${s.line}` : ''}\`: ${s.error.replace(/\n/g, ' ')}`);
    md.push('');
  }
  md.push('## Reading the table', '');
  md.push(
    '- DR: share of attack items (exploit recordings for LID-DS) with an alarm (at or after the exploit time for LID-DS). CFA: runs of consecutive false alarms (LID-DS).',
    '- DR @ FPR ≤ 5% / 2%: best detection rate on the test set whose false-positive rate stays under the bound (from the test ROC; for LID-DS over recordings).',
    '- flag-everything and flag-nothing are the trivial detectors: any model must beat both on the figure that matters.',
    '',
  );
  const path = join(dir, 'report.md');
  writeFileSync(path, md.join('\n'));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(run.output, null, 2));
  return path;
}
