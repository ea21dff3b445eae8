/**
 * The regression corpus: test/fuzz/corpus/<target>/<hash>, one file per input that once broke a
 * property, stored as the raw bytes the target was given. test/fuzz.test.ts replays every file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzInput } from './targets.js';

export const CORPUS_DIR = fileURLToPath(new URL('./corpus', import.meta.url));

export interface CorpusCase {
  target: string;
  file: string;
  input: Uint8Array;
}

/** Every stored case, by target folder; an empty list when there is no corpus yet. */
export function corpusCases(): CorpusCase[] {
  if (!existsSync(CORPUS_DIR)) return [];
  const out: CorpusCase[] = [];
  for (const target of readdirSync(CORPUS_DIR).sort()) {
    const dir = join(CORPUS_DIR, target);
    for (const file of readdirSync(dir).sort()) {
      if (file.startsWith('.')) continue;
      out.push({ target, file: join(dir, file), input: new Uint8Array(readFileSync(join(dir, file))) });
    }
  }
  return out;
}

/** Stores `input` as a case of `target`; returns its path (the same input gives the same file). */
export function saveCase(target: string, input: FuzzInput): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, createHash('sha256').update(bytes).digest('hex').slice(0, 16));
  writeFileSync(file, bytes);
  return file;
}
