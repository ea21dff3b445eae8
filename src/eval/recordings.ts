/** Finds the recordings of a LID-DS (2021, 2019) or Vigie data folder, grouped by scenario. */
import { basename } from 'node:path';
import {
  findScenarios,
  listLidDs2021,
  openLidDs2021Recording,
  type LidDs2021Reader,
} from '../sources/datasets/lidds2021.js';
import { listLidDs2019 } from '../sources/datasets/lidds2019.js';
import { listVigieRecordings } from '../sources/datasets/vigie-jsonl.js';
import { DatasetError, type SyscallRecording } from '../sources/datasets/types.js';
import type { ParamMap } from './params.js';
import type { SkippedInput } from './types.js';

export async function loadRecordings(
  dataset: string,
  dir: string,
  params: ParamMap,
  skipped: SkippedInput[],
  /** Reads LID-DS 2021 recordings (one reader worker for the whole evaluation). */
  reader?: LidDs2021Reader,
): Promise<Map<string, SyscallRecording[]>> {
  const out = new Map<string, SyscallRecording[]>();
  const skip = (file: string, e: unknown): void => {
    const err = e as Error;
    skipped.push({
      file: err instanceof DatasetError ? err.file : file,
      line: err instanceof DatasetError ? (err.line ?? null) : null,
      error: err.message,
    });
  };
  if (dataset === 'lidds2021') {
    for (const sdir of findScenarios(dir, 'training')) {
      const recs: SyscallRecording[] = [];
      for (const f of listLidDs2021(sdir)) {
        try {
          recs.push(await openLidDs2021Recording(f.path, basename(sdir), f.split, reader));
        } catch (e) {
          skip(f.path, e);
        }
      }
      out.set(basename(sdir), recs);
    }
  } else if (dataset === 'lidds2019') {
    const train = params.trainFraction !== undefined ? Number(params.trainFraction) : undefined;
    const val = params.validationFraction !== undefined ? Number(params.validationFraction) : undefined;
    for (const sdir of findScenarios(dir, 'runs.csv')) {
      try {
        out.set(basename(sdir), listLidDs2019(sdir, { trainFraction: train, validationFraction: val }));
      } catch (e) {
        skip(sdir, e);
      }
    }
  } else if (dataset === 'vigie') {
    for (const sdir of findScenarios(dir, 'training')) out.set(basename(sdir), listVigieRecordings(sdir));
  } else throw new Error(`unknown recording data set ${dataset}`);
  return out;
}
