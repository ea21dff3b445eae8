/**
 * The control catalogue: data files in controls/*.json (one per group), each control naming the
 * check that implements it. Read and validated on each load (whoever evaluates repeatedly keeps
 * the list: the live detector, the admission reviewer, a PostureEngine), and indexed by the kinds
 * each check reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CHECKS, type CheckRegistry } from './checks/index.js';
import { SEVERITIES, type ControlDef } from './types.js';

export { CHECKS, type CheckRegistry } from './checks/index.js';

const controlSchema = z.object({
  id: z.string().regex(/^VG-[A-Z]+-\d{3}$/),
  title: z.string().min(1),
  description: z.string().min(1),
  severity: z.enum(SEVERITIES),
  remediation: z.string().min(1),
  check: z.string(),
  params: z.record(z.string(), z.unknown()).optional(),
  mitre: z
    .array(z.object({ tactic: z.string(), technique: z.string(), name: z.string().optional() }))
    .optional(),
  kubescape: z.array(z.string()),
  rules: z.array(z.string()).optional(),
  pss: z.enum(['baseline', 'restricted']).optional(),
  requires: z.array(z.string().min(1)).min(1).optional(),
  cause: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/)
    .optional(),
});

const fileSchema = z.object({ group: z.string(), description: z.string(), controls: z.array(controlSchema) });

/** controls/ beside this module, in src/ and in dist/ alike (the build copies the data files). */
export function controlsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'controls');
}

export function loadCatalogue(dir = controlsDir(), checks: CheckRegistry = CHECKS): ControlDef[] {
  const out: ControlDef[] = [];
  const seen = new Set<string>();
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    const path = join(dir, f);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success)
      throw new Error(
        `${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    for (const c of parsed.data.controls) {
      if (seen.has(c.id)) throw new Error(`${path}: duplicate control id ${c.id}`);
      if (!checks[c.check]) throw new Error(`${path}: control ${c.id} names unknown check "${c.check}"`);
      seen.add(c.id);
      out.push({ ...c, group: parsed.data.group } as ControlDef);
    }
  }
  return out;
}

export interface ControlIndex {
  byKind: Map<string, ControlDef[]>;
  podspec: ControlDef[];
  all: ControlDef[];
}

export function indexControls(controls: ControlDef[], checks: CheckRegistry = CHECKS): ControlIndex {
  const byKind = new Map<string, ControlDef[]>();
  const podspec: ControlDef[] = [];
  for (const c of controls) {
    for (const k of checks[c.check].appliesTo) {
      if (k === 'podspec') podspec.push(c);
      else {
        let l = byKind.get(k);
        if (!l) byKind.set(k, (l = []));
        l.push(c);
      }
    }
  }
  return { byKind, podspec, all: controls };
}
