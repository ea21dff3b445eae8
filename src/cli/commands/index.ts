/**
 * Command registry: one file per command group, one line here each.
 * Each module exports `register(program)`.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;
const modules: Register[] = [];

export function registerAll(program: Command): void {
  for (const r of modules) r(program);
}
