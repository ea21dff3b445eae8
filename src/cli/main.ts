#!/usr/bin/env node
import { Command } from 'commander';
import { registerAll } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vigie')
    .description('Watch Docker and Kubernetes, detect what goes wrong, explain it, contain it.')
    .version('0.1.0')
    .showHelpAfterError();
  registerAll(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`vigie: ${msg}\n`);
    process.exit(
      typeof (err as { exitCode?: number })?.exitCode === 'number'
        ? (err as { exitCode: number }).exitCode
        : 1,
    );
  });
