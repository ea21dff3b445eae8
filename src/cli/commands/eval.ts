/**
 * `vigie eval syscalls`: replays a data set through the anomaly models and scores them.
 * The `eval` parent is shared with other evaluations: get it or create it.
 */
import type { Command } from 'commander';
import { markdownTables, writeReport } from '../../eval/report.js';
import { parseParams } from '../../eval/params.js';
import { DATASETS, runEvaluation } from '../../eval/run.js';

export function register(program: Command): void {
  const ev =
    program.commands.find((c) => c.name() === 'eval') ??
    program.command('eval').description('replay data sets through detectors and score them');
  ev.command('syscalls')
    .description('Evaluate the system-call and behaviour-window anomaly models on a data set')
    .requiredOption('--dataset <name>', `one of ${DATASETS.join(', ')}`)
    .requiredOption('--data <dir>', 'data folder (LID-DS: the folder of scenario folders, or one scenario)')
    .option(
      '--algo <names>',
      'comma-separated: stide, ngram-lm, neural-lm (ADFA-LD), iforest, knn, lof (KubAnomaly), ensemble ' +
        '(default: stide; for KubAnomaly lof,knn,iforest,ensemble)',
    )
    .option(
      '--param <k=v>',
      'model or protocol parameter, repeatable; prefix with algo. to target one algorithm (stide.n=6); ' +
        'e.g. threshold=q0.95|max, unit=trace|attack and normals=matched|single (ADFA-LD); all in docs/evaluation.md',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--output <format>', 'json or md', 'json')
    .option('--report <dir>', 'write a Markdown report with SVG plots to this folder')
    .option('--no-trivial', 'leave out the flag-everything / flag-nothing rows')
    .action(
      async (o: {
        dataset: string;
        data: string;
        algo?: string;
        param: string[];
        output: string;
        report?: string;
        trivial: boolean;
      }) => {
        if (o.output !== 'json' && o.output !== 'md')
          throw new Error(`--output must be json or md, got ${o.output}`);
        // The count-window data set has no system-call sequences for stide to read.
        const algo = o.algo ?? (o.dataset === 'kubanomaly' ? 'lof,knn,iforest,ensemble' : 'stide');
        const command = `vigie eval syscalls --dataset ${o.dataset} --data ${o.data} --algo ${algo}${o.param.map((p) => ` --param ${p}`).join('')}`;
        const run = await runEvaluation({
          dataset: o.dataset,
          data: o.data,
          algos: algo
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          params: parseParams(o.param),
          noTrivial: !o.trivial,
          command,
        });
        if (o.output === 'json') process.stdout.write(JSON.stringify(run.output, null, 2) + '\n');
        else process.stdout.write(markdownTables(run) + '\n');
        if (run.output.skipped.length)
          process.stderr.write(
            `${run.output.skipped.length} input(s) skipped:\n${run.output.skipped.map((s) => `  ${s.error}`).join('\n')}\n`,
          );
        if (o.report) process.stderr.write(`report: ${writeReport(run, o.report)}\n`);
      },
    );
}
