/** Entry point of an evaluation: picks the protocol for the data set and runs every algorithm. */
import { evalAdfa } from './adfa-eval.js';
import { evalKubAnomaly } from './kubanomaly-eval.js';
import { TRIVIAL, type ParamMap } from './params.js';
import { evalRecordings } from './recording-eval.js';
import { LidDs2021Reader } from '../sources/datasets/lidds2021.js';
import { ScWorkerHost } from '../sources/datasets/sc-worker-client.js';
import { loadRecordings } from './recordings.js';
import type { EvalRun, SkippedInput } from './types.js';

export const DATASETS = ['lidds2021', 'lidds2019', 'adfa', 'kubanomaly', 'vigie'] as const;

export interface RunOptions {
  dataset: string;
  data: string;
  algos: string[];
  params: ParamMap;
  /** Leave out the trivial detectors. */
  noTrivial?: boolean;
  command?: string;
}

export async function runEvaluation(o: RunOptions): Promise<EvalRun> {
  const t0 = Date.now();
  const algos = [...o.algos.filter((a) => !(TRIVIAL as readonly string[]).includes(a))];
  if (!o.noTrivial) algos.push(...TRIVIAL);
  let run: Omit<EvalRun, 'command' | 'seconds'>;
  switch (o.dataset) {
    case 'adfa':
      run = await evalAdfa(o.data, algos, o.params, {
        limit: o.params.subset ? Number(o.params.subset) : undefined,
      });
      break;
    case 'kubanomaly':
      run = evalKubAnomaly(o.data, algos, o.params);
      break;
    case 'lidds2021':
    case 'lidds2019':
    case 'vigie': {
      const skipped: SkippedInput[] = [];
      // The evaluation owns its reader (and so the reader worker it starts), and closes it. One
      // model reads, learns and scores on this thread: a reader thread beside it takes less wall
      // time on two free cores but more CPU time (each batch crosses threads, and both threads
      // wait on each other), and the model's work per call is smaller than the reading. Several
      // models together take longer per call than reading, and a reader thread lets them run on.
      const models = algos.filter((a) => !(TRIVIAL as readonly string[]).includes(a)).length;
      const reader = new LidDs2021Reader(models > 1 ? new ScWorkerHost() : null);
      try {
        const scenarios = await loadRecordings(o.dataset, o.data, o.params, skipped, reader);
        run = await evalRecordings(scenarios, {
          dataset: o.dataset,
          algos,
          params: o.params,
          timelines: o.params.timelines ? Number(o.params.timelines) : 1,
        });
      } finally {
        await reader.close();
      }
      run.output.skipped.unshift(...skipped);
      break;
    }
    default:
      throw new Error(`unknown data set ${o.dataset} (use ${DATASETS.join(', ')})`);
  }
  return { ...run, command: o.command ?? '', seconds: (Date.now() - t0) / 1000 };
}
