/**
 * Control inputs (`--settings`) in the shapes Kubescape writes them, so that the same file carries
 * over: its configuration file (`default-config-inputs.json`: `{settings: {postureControlInputs}}`),
 * a rule test's `data.json` (`{postureControlInputs, dataControlInputs}`), or the map itself.
 * `dataControlInputs` holds what Kubescape learns from the cluster (`cloudProvider`); here it is
 * given by hand. Every value becomes a list of strings.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Settings } from './context.js';
import type { ControlDef, NotConfigured } from './types.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as a list of strings: a list, a single string or number, nothing for null. */
function values(name: string, v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v))
    return v
      .filter((x) => x !== null && x !== undefined)
      .map((x) => {
        if (isRecord(x) || Array.isArray(x)) throw new Error(`${name}: expected strings, found an object`);
        return String(x);
      });
  if (isRecord(v)) throw new Error(`${name}: expected a list of strings, found an object`);
  return [String(v)];
}

/** The blocks of a settings document that hold inputs, in the order later ones override. */
function blocks(raw: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const nested = isRecord(raw.settings) ? raw.settings : undefined;
  for (const holder of nested ? [nested, raw] : [raw]) {
    if (isRecord(holder.postureControlInputs)) out.push(holder.postureControlInputs);
    if (isRecord(holder.dataControlInputs)) out.push(holder.dataControlInputs);
  }
  // The map itself: no known block at all.
  if (out.length === 0 && !nested) out.push(raw);
  return out;
}

/** Settings from a parsed settings document (JSON or YAML), in any of the shapes above. */
export function settingsFromDocument(raw: unknown): Settings {
  if (raw === null || raw === undefined) return {};
  if (!isRecord(raw)) throw new Error('expected a map of control inputs');
  const out: Settings = {};
  for (const b of blocks(raw)) for (const [k, v] of Object.entries(b)) out[k] = values(k, v);
  return out;
}

/** Whether an input is set: a list with at least one non-blank entry. */
export function isSet(settings: Readonly<Settings>, name: string): boolean {
  const v = settings[name];
  return Array.isArray(v) && v.some((x) => String(x).trim() !== '');
}

/** Controls whose required inputs are all unset: they are reported as not configured, not run. */
export function notConfigured(
  controls: readonly ControlDef[],
  settings: Readonly<Settings>,
): NotConfigured[] {
  const out: NotConfigured[] = [];
  for (const c of controls)
    if (c.requires && !c.requires.some((n) => isSet(settings, n)))
      out.push({ control: c.id, title: c.title, inputs: [...c.requires] });
  return out;
}

/** A settings file (JSON or YAML; aliases bounded as for manifests). */
export function loadSettings(path: string): Settings {
  return settingsFromDocument(parse(readFileSync(path, 'utf8'), { maxAliasCount: 100 }));
}
