/**
 * Command registry: one file per command group, one line here each.
 * Each module exports `register(program)`.
 */
import type { Command } from 'commander';
import { register as actions } from './actions.js';
import { register as tokens } from './tokens.js';
import { register as serve } from './serve.js';
import { register as evalMetrics } from './eval-metrics.js';

type Register = (program: Command) => void;
const modules: Register[] = [
  actions,
  evalMetrics,
  tokens,
  serve,
];

export function registerAll(program: Command): void {
  for (const r of modules) r(program);
}
