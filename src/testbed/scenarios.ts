/**
 * Scenario registry for `vigie demo [scenario]`. A scenario is one file exporting a `ScenarioRun`,
 * plus one line in the `builtins` list below.
 */
import type Docker from 'dockerode';
import type { Engine } from '../engine/engine.js';
import type { Output } from '../engine/output.js';
import type { Alert } from '../model/alert.js';
import type { ActionRecord } from '../model/action.js';
import type { VigieEvent } from '../model/event.js';
import { runIntrusion } from './intrusion.js';
import { noisyNeighbourScenario } from './noisy-neighbour.js';

export interface DemoOptions {
  enforce: boolean;
  /** Seconds of normal traffic before the baseline may be ready (the baseline's learnSec). */
  learnSeconds: number;
  /** Events the baseline must have learnt (its minEvents). */
  learnEvents: number;
  /** Seconds of normal traffic watched once the baseline is ready (false-alert measurement). */
  normalSeconds: number;
  /** Only the normal phase (a longer false-alert measurement), no intrusion. */
  normalOnly: boolean;
  /** Requests per second of normal traffic. */
  rate: number;
  /** CPU the victim and the neighbour share (cpuset), so contention is visible. */
  cpuset: string;
  /** CPU limit of the victim, in cores. */
  victimCpus: number;
}

export interface ScenarioContext {
  docker: Docker;
  engine: Engine;
  image: string;
  out: Output;
  options: DemoOptions;
  /** Aborted on SIGINT/SIGTERM: sleeps reject, the scenario unwinds, containers are removed. */
  signal: AbortSignal;
  runId: string;
  /** Containers created by the scenario, removed at the end whatever happens. */
  track(containerId: string): void;
  sleep(ms: number): Promise<void>;
  /** Everything the engine produced so far, in order. */
  alerts: Alert[];
  actions: ActionRecord[];
  /** Latest metric samples per container id (newest last, bounded). */
  metrics: Map<string, { at: number; ev: VigieEvent }[]>;
}

export interface ScenarioResult {
  /** Figures for the summary (printed, and returned to tests). */
  summary: Record<string, unknown>;
  /** What the scenario expected and did not see (empty when all went as planned). */
  problems: string[];
}

export type ScenarioRun = (ctx: ScenarioContext) => Promise<ScenarioResult>;

interface Entry {
  run: ScenarioRun;
  description: string;
}

const builtins: readonly (readonly [name: string, run: ScenarioRun, description: string])[] = [
  [
    'noisy-neighbour',
    noisyNeighbourScenario,
    'CPU hog pinned beside a web service: detect, name the neighbour, cap it, victim recovers',
  ],
  [
    'intrusion',
    runIntrusion,
    'web service attacked through a CGI injection: shell, /etc/shadow, dropped miner, pool port',
  ],
];

const registry: ReadonlyMap<string, Entry> = new Map(
  builtins.map(([n, run, description]) => [n, { run, description }]),
);

export function getScenario(name: string): ScenarioRun {
  const e = registry.get(name);
  if (!e) throw new Error(`unknown scenario "${name}" (available: ${[...registry.keys()].join(', ')})`);
  return e.run;
}

export function scenarioNames(): { name: string; description: string }[] {
  return [...registry.entries()].map(([name, e]) => ({ name, description: e.description }));
}
