/**
 * Command registry: one file per command group, one line here each.
 * Each module exports `register(program)`.
 */
import type { Command } from 'commander';
import { register as actions } from './actions.js';
import { register as tokens } from './tokens.js';
import { register as serve } from './serve.js';
import { register as rules } from './rules.js';
import { register as evalMetrics } from './eval-metrics.js';
import { register as baseline } from './baseline.js';
import { register as run } from './run.js';
import { register as demo } from './demo.js';
import { register as scan } from './scan.js';
import { register as controls } from './controls.js';
import { register as admission } from './admission.js';
import { register as evalSyscalls } from './eval.js';
import { register as evalLogs } from './eval-logs.js';
import { register as alerts } from './alerts.js';
import { register as incidents } from './incidents.js';
import { register as harden } from './harden.js';
import { register as cluster } from './cluster.js';

type Register = (program: Command) => void;
const modules: Register[] = [
  run,
  demo,
  scan,
  controls,
  admission,
  baseline,
  actions,
  evalMetrics,
  evalSyscalls,
  evalLogs,
  tokens,
  serve,
  rules,
  alerts,
  incidents,
  harden,
  cluster,
];

export function registerAll(program: Command): void {
  for (const r of modules) r(program);
}
