/** `vigie controls`: the posture control catalogue. */
import { Command, Option } from 'commander';
import { loadCatalogue } from '../../detect/posture/catalogue.js';

export function register(program: Command): void {
  program
    .command('controls')
    .description('list the misconfiguration controls (id, severity, title, Kubescape mapping)')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action((opts: { output: string }) => {
      const controls = loadCatalogue();
      if (opts.output === 'json') {
        process.stdout.write(
          `${JSON.stringify(
            controls.map(({ check: _c, params: _p, ...rest }) => rest),
            null,
            2,
          )}\n`,
        );
        return;
      }
      for (const c of controls) {
        process.stdout.write(
          `${c.id.padEnd(12)} ${c.severity.padEnd(9)} ${c.title.padEnd(60)} ${c.kubescape.join(',')}\n`,
        );
      }
      process.stdout.write(`${controls.length} controls\n`);
    });
}
