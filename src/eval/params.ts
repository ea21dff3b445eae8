/**
 * `--param k=v` handling: a key applies to every algorithm, `algo.key=v` only to that algorithm
 * (e.g. `stide.n=6`), and a few keys steer the harness itself (threshold, agg, ...).
 */
export type ParamMap = Record<string, string>;

export function parseParams(list: string[]): ParamMap {
  const out: ParamMap = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`--param expects key=value, got "${item}"`);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  return out;
}

/** Parameters seen by algorithm `algo`: global keys, overridden by `algo.`-prefixed keys. */
export function paramsFor(all: ParamMap, algo: string): ParamMap {
  const out: ParamMap = {};
  for (const [k, v] of Object.entries(all)) if (!k.includes('.')) out[k] = v;
  const prefix = `${algo}.`;
  for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

export function intOf(p: ParamMap, key: string, def: number): number {
  const v = p[key];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`parameter ${key} must be a positive integer, got ${v}`);
  return n;
}

export function boolOf(p: ParamMap, key: string, def: boolean): boolean {
  const v = p[key];
  if (v === undefined) return def;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new Error(`parameter ${key} must be true or false, got ${v}`);
}

/** Trivial detectors printed beside every model. */
export const TRIVIAL = ['flag-everything', 'flag-nothing'] as const;
