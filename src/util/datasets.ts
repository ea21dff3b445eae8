import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the shared data sets live: $VIGIE_DATA, else ../shared/datasets beside the repository.
 */
export function datasetsRoot(): string {
  if (process.env.VIGIE_DATA) return resolve(process.env.VIGIE_DATA);
  const here = dirname(fileURLToPath(import.meta.url));
  // src/util or dist/util → repository root is two levels up.
  return resolve(here, '..', '..', '..', 'shared', 'datasets');
}

export function datasetPath(...parts: string[]): string {
  return resolve(datasetsRoot(), ...parts);
}

/**
 * For tests: returns the path when the data set is present. When absent it returns undefined
 * (the caller skips with a message), except under CI=true where absence is an error.
 */
export function requireDataset(...parts: string[]): string | undefined {
  const p = datasetPath(...parts);
  if (existsSync(p)) return p;
  if (process.env.CI === 'true') throw new Error(`data set missing in CI: ${p} (set VIGIE_DATA)`);
  console.warn(`skipping: data set not found at ${p} (set VIGIE_DATA to its folder)`);
  return undefined;
}
