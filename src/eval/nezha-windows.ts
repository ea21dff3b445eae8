/**
 * The fault windows of a Nezha day, shared by every part of its evaluation: a fault's window runs
 * from its inject_time to 10 minutes later or to the next fault, whichever comes first.
 */
import type { NezhaFault } from '../sources/metrics/nezha.js';

/** One minute in nanoseconds, the step of Nezha's metric rows. */
export const MINUTE = 60_000_000_000n;
const WINDOW = 10n * MINUTE;

export function faultWindows(faults: NezhaFault[]): { start: bigint; end: bigint }[] {
  return faults.map((f, i) => {
    const next = faults[i + 1]?.injectNs;
    const end = f.injectNs + WINDOW;
    return { start: f.injectNs, end: next !== undefined && next < end ? next : end };
  });
}
