/** `vigie eval metrics --dataset nezha --data DIR [--output json|md] [--report DIR]` */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { datasetPath } from '../../util/datasets.js';
import { evalNezha } from '../../eval/nezha.js';
import { nezhaMarkdown } from '../../eval/nezha-markdown.js';

export function register(program: Command): void {
  const ev =
    program.commands.find((c) => c.name() === 'eval') ??
    program.command('eval').description('Replay data sets through the detectors and score them');
  ev.command('metrics')
    .description(
      'Score the perf detector (detection, false alarms, root-cause ranking) on a metrics data set',
    )
    .option('--dataset <name>', 'data set kind (nezha)', 'nezha')
    .option('--data <dir>', 'day folder (default: <datasets>/nezha-trainticket/2023-01-29)')
    .option('--output <fmt>', 'json | md', 'md')
    .option('--report <dir>', 'also write nezha-metrics.json and nezha-metrics.md there')
    .action((opts: { dataset: string; data?: string; output: string; report?: string }) => {
      if (opts.dataset !== 'nezha') throw new Error(`--dataset ${opts.dataset}: only "nezha" is supported`);
      if (opts.output !== 'json' && opts.output !== 'md')
        throw new Error(`--output ${opts.output}: expected json or md`);
      const dir = opts.data ?? datasetPath('nezha-trainticket', '2023-01-29');
      const r = evalNezha(dir);
      const json = JSON.stringify(r, null, 2);
      const md = nezhaMarkdown(r);
      if (opts.report) {
        mkdirSync(opts.report, { recursive: true });
        writeFileSync(join(opts.report, 'nezha-metrics.json'), json + '\n');
        writeFileSync(join(opts.report, 'nezha-metrics.md'), md);
      }
      process.stdout.write(opts.output === 'json' ? json + '\n' : md);
    });
}
