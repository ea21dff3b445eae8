/**
 * ADFA-LD (Creech & Hu 2013): one trace per file, space-separated x86 (32-bit) system-call numbers.
 * The folder is the label: Training_Data_Master and Validation_Data_Master are normal,
 * Attack_Data_Master/<Type>_<n>/ holds the attacks.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';

export interface AdfaTrace {
  path: string;
  /** Training | Validation | Attack */
  group: 'training' | 'validation' | 'attack';
  /** Attack type (Adduser, Hydra_FTP, ...) for attack traces. */
  attackType?: string;
  /** Attack instance (the folder, e.g. Adduser_3): every process trace of one run of the attack. */
  instance?: string;
  label: 0 | 1;
}

/** The ADFA-LD folder: accepts the folder holding the three *_Data_Master folders or its parent. */
export function resolveAdfaRoot(dir: string): string {
  if (existsSync(join(dir, 'Training_Data_Master'))) return dir;
  if (existsSync(join(dir, 'ADFA-LD', 'Training_Data_Master'))) return join(dir, 'ADFA-LD');
  throw new Error(`${dir}: not an ADFA-LD folder (no Training_Data_Master inside it or in ADFA-LD/)`);
}

function txtFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => join(dir, f));
}

/** Lists every trace, sorted by path within each group (a stable order for documented splits). */
export function listAdfa(dir: string): AdfaTrace[] {
  const root = resolveAdfaRoot(dir);
  const out: AdfaTrace[] = [];
  for (const p of txtFiles(join(root, 'Training_Data_Master')))
    out.push({ path: p, group: 'training', label: 0 });
  for (const p of txtFiles(join(root, 'Validation_Data_Master')))
    out.push({ path: p, group: 'validation', label: 0 });
  const attackRoot = join(root, 'Attack_Data_Master');
  for (const d of readdirSync(attackRoot).sort()) {
    const full = join(attackRoot, d);
    if (!statSync(full).isDirectory()) continue;
    const attackType = d.replace(/_\d+$/, '');
    for (const p of txtFiles(full)) out.push({ path: p, group: 'attack', attackType, instance: d, label: 1 });
  }
  return out;
}

/** Parses one trace; a token that is not a non-negative integer is an error naming file and position. */
export function parseAdfaTrace(text: string, path: string): Int32Array {
  const out: number[] = [];
  let cur = -1;
  let line = 1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (c >= 48 && c <= 57) {
      cur = cur < 0 ? c - 48 : cur * 10 + (c - 48);
    } else if (c === 32 || c === 10 || c === 13 || c === 9) {
      if (cur >= 0) out.push(cur);
      cur = -1;
      if (c === 10) line++;
    } else {
      throw new Error(
        `${basename(path)}:${line}: unexpected character ${JSON.stringify(text[i])} in an ADFA-LD trace (${path})`,
      );
    }
  }
  return Int32Array.from(out);
}

export function readAdfaTrace(path: string): Int32Array {
  return parseAdfaTrace(readFileSync(path, 'latin1'), path);
}
