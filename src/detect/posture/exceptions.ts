/**
 * Exceptions: accepted risks, matched by control, namespace, kind, name glob and container, each
 * with a reason and an optional expiry. Matching findings stay in the report, marked excepted.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Finding } from './types.js';

const one = z.union([z.string(), z.array(z.string())]).optional();
const ruleSchema = z.object({
  control: one,
  namespace: one,
  kind: one,
  name: one,
  container: one,
  reason: z.string().min(1, 'an exception needs a reason'),
  expires: z.union([z.string(), z.date()]).optional(),
});
const fileSchema = z.object({ exceptions: z.array(ruleSchema) });

export interface ExceptionRule {
  control?: string[];
  namespace?: string[];
  kind?: string[];
  name?: string[];
  container?: string[];
  reason: string;
  expires?: Date;
}

function arr(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

export function parseExceptions(text: string, file = 'exceptions'): ExceptionRule[] {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const r = fileSchema.safeParse(Array.isArray(raw) || raw == null ? { exceptions: raw ?? [] } : raw);
  if (!r.success)
    throw new Error(`${file}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const list = r.data.exceptions;
  return list.map((e, i) => {
    let expires: Date | undefined;
    if (e.expires !== undefined) {
      expires = e.expires instanceof Date ? e.expires : new Date(e.expires);
      if (Number.isNaN(expires.getTime()))
        throw new Error(`${file}: exceptions[${i}].expires: not a date: ${String(e.expires)}`);
    }
    return {
      control: arr(e.control),
      namespace: arr(e.namespace),
      kind: arr(e.kind),
      name: arr(e.name),
      container: arr(e.container),
      reason: e.reason,
      expires,
    };
  });
}

export function loadExceptions(file: string): ExceptionRule[] {
  return parseExceptions(readFileSync(file, 'utf8'), file);
}

/** Glob (`*`, `?`) to an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

/** Matches findings against exception rules; one per evaluation keeps the compiled globs. */
export class ExceptionMatcher {
  private readonly globs = new Map<string, RegExp>();

  constructor(readonly rules: ExceptionRule[]) {}

  globMatch(pattern: string, value: string): boolean {
    let re = this.globs.get(pattern);
    if (!re) this.globs.set(pattern, (re = globToRegExp(pattern)));
    return re.test(value);
  }

  private field(patterns: string[] | undefined, value: string | undefined): boolean {
    if (!patterns) return true;
    if (value === undefined) return false;
    return patterns.some((p) => this.globMatch(p, value));
  }

  /** The first rule in force at `now` that matches the finding. */
  match(f: Finding, now: Date): ExceptionRule | undefined {
    for (const r of this.rules) {
      if (r.expires && r.expires.getTime() < now.getTime()) continue;
      if (!this.field(r.control, f.control)) continue;
      if (!this.field(r.namespace, f.resource.namespace)) continue;
      if (!this.field(r.kind, f.resource.kind)) continue;
      if (!this.field(r.name, f.resource.name)) continue;
      if (!this.field(r.container, f.container)) continue;
      return r;
    }
    return undefined;
  }
}

/** One finding against the rules (a scan uses one ExceptionMatcher for all its findings). */
export function matchException(rules: ExceptionRule[], f: Finding, now: Date): ExceptionRule | undefined {
  return new ExceptionMatcher(rules).match(f, now);
}
