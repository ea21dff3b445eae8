/**
 * The attack-instance evaluation unit for ADFA-LD. Each Attack_Data_Master/<Type>_<n>/ folder holds
 * every process trace of one run of an attack; the LID-DS framework's ADFA-LD loader reads such a
 * folder as one recording, and an operator counts an attack as detected when any of its processes
 * raises an alarm. A unit's score is therefore the maximum of its traces' scores.
 *
 * The normal side of the test set comes in two forms:
 * - `single`: each normal trace is a unit of its own (the LID-DS framework's choice). A maximum over
 *   the 5 to 28 traces of an attack run, set against one normal trace, favours the attack side.
 * - `matched` (default): consecutive normal traces (file-name order) are grouped into runs whose sizes
 *   repeat the attack instances' sizes, and scored the same way, so both sides take a maximum over
 *   as many traces. The tuning traces are grouped the same way, so the threshold is set on units of
 *   the same kind as the ones it is applied to.
 */

export type NormalUnits = 'single' | 'matched';

export interface UnitPlan {
  /** Member trace indices (into the tuning scores) of each tuning unit. */
  tune: Int32Array[];
  /** Member trace indices (into the test scores) of each test unit. */
  test: Int32Array[];
  /** 1 for an attack instance, 0 for a normal unit. */
  labels: Uint8Array;
  /** Attack type of each test unit ('' for normal units). */
  groups: string[];
  /** Attack instance name of each test unit ('' for normal units). */
  names: string[];
}

/** Cuts `indices` into consecutive runs of the given sizes (repeated); a shorter remainder is kept. */
export function chunkBySizes(indices: readonly number[], sizes: readonly number[]): Int32Array[] {
  if (sizes.length === 0 || sizes.some((s) => !(s >= 1))) throw new Error('chunk sizes must be ≥ 1');
  const out: Int32Array[] = [];
  let at = 0;
  for (let j = 0; at < indices.length; j++) {
    const size = sizes[j % sizes.length];
    out.push(Int32Array.from(indices.slice(at, at + size)));
    at += size;
  }
  return out;
}

export function planAttackUnits(
  tuneCount: number,
  test: { labels: Uint8Array; groups: readonly string[]; instances: readonly string[] },
  normals: NormalUnits,
): UnitPlan {
  if (normals !== 'single' && normals !== 'matched')
    throw new Error(`parameter normals must be single or matched, got ${String(normals)}`);
  const byInstance = new Map<string, number[]>();
  const normalIdx: number[] = [];
  for (let i = 0; i < test.labels.length; i++) {
    if (test.labels[i] === 0) {
      normalIdx.push(i);
      continue;
    }
    const name = test.instances[i];
    let members = byInstance.get(name);
    if (!members) byInstance.set(name, (members = []));
    members.push(i);
  }
  if (byInstance.size === 0) throw new Error('unit=attack needs attack traces in the test set');
  const sizes = [...byInstance.values()].map((m) => m.length);
  const tuneIdx = Array.from({ length: tuneCount }, (_, i) => i);
  const single = (xs: number[]): Int32Array[] => xs.map((i) => Int32Array.of(i));
  const normalUnits = normals === 'single' ? single(normalIdx) : chunkBySizes(normalIdx, sizes);
  const tuneUnits = normals === 'single' ? single(tuneIdx) : chunkBySizes(tuneIdx, sizes);
  const testUnits: Int32Array[] = [...normalUnits];
  const labels: number[] = normalUnits.map(() => 0);
  const groups: string[] = normalUnits.map(() => '');
  const names: string[] = normalUnits.map(() => '');
  for (const [name, members] of byInstance) {
    testUnits.push(Int32Array.from(members));
    labels.push(1);
    groups.push(test.groups[members[0]]);
    names.push(name);
  }
  return { tune: tuneUnits, test: testUnits, labels: Uint8Array.from(labels), groups, names };
}

/** The score of each unit: the highest score among its traces. */
export function maxOverUnits(scores: Float64Array, units: readonly Int32Array[]): Float64Array {
  const out = new Float64Array(units.length);
  for (let u = 0; u < units.length; u++) {
    const m = units[u];
    let best = -Infinity;
    for (let k = 0; k < m.length; k++) if (scores[m[k]] > best) best = scores[m[k]];
    out[u] = best;
  }
  return out;
}
