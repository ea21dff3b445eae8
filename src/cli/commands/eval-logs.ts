/** `vigie eval logs --dataset loghub --data DIR [--output json|md|text] [--param k=v]` */
import type { Command } from 'commander';
import { evalLoghub, loghubJson, loghubMarkdown, loghubText } from '../../eval/loghub.js';
import { DEFAULT_MINER_CONFIG, type MinerConfig } from '../../detect/logs/template-miner.js';

/** `--param similarity=0.7` etc.: the miner's settings (docs/evaluation.md, "Log templates"). */
function minerParams(params: string[]): Partial<MinerConfig> {
  const out: Partial<MinerConfig> = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    const k = p.slice(0, eq) as keyof MinerConfig;
    if (eq < 1 || !(k in DEFAULT_MINER_CONFIG))
      throw new Error(
        `--param ${p}: expected k=v with k one of ${Object.keys(DEFAULT_MINER_CONFIG).join(', ')}`,
      );
    const v = Number(p.slice(eq + 1));
    if (!Number.isFinite(v)) throw new Error(`--param ${p}: not a number`);
    out[k] = v;
  }
  return out;
}

export function register(program: Command): void {
  const ev =
    program.commands.find((c) => c.name() === 'eval') ??
    program.command('eval').description('replay data sets through detectors and score them');
  ev.command('logs')
    .description('Score the log template miner on labelled log samples (grouping and parsing accuracy)')
    .requiredOption('--dataset <name>', 'loghub')
    .requiredOption('--data <dir>', 'folder of system folders (<System>/<System>_2k.log_structured.csv)')
    .option('--output <format>', 'json, md or text', 'text')
    .option(
      '--param <k=v>',
      'miner setting, repeatable (similarity, maxChildren, ...)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .action((o: { dataset: string; data: string; output: string; param: string[] }) => {
      if (o.dataset !== 'loghub') throw new Error(`--dataset ${o.dataset}: only "loghub" is supported`);
      if (o.output !== 'json' && o.output !== 'md' && o.output !== 'text')
        throw new Error(`--output ${o.output}: expected json, md or text`);
      const r = evalLoghub(o.data, minerParams(o.param));
      process.stdout.write(
        o.output === 'json' ? loghubJson(r) : o.output === 'md' ? loghubMarkdown(r) : loghubText(r),
      );
      const skipped = r.systems.reduce((a, s) => a + s.skipped.length, 0);
      if (skipped && o.output === 'json')
        process.stderr.write(`${skipped} input(s) skipped (listed per system)\n`);
    });
}
