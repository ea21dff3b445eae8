/**
 * Long fuzz run: `npm run fuzz -- NAME|all [--minutes N]`. Runs the target (or every target, in
 * turns) with random seeds until the time is up; each input that breaks a property is shrunk, stored
 * under test/fuzz/corpus/NAME/ (test/fuzz.test.ts replays it from then on) and reported. One case is
 * kept per distinct failure (target, property, error kind and first line of its message).
 */
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { saveCase } from './corpus.js';
import { FuzzFinding, TARGETS, type FuzzInput, type FuzzTarget } from './targets.js';

/** Time one target runs before the next one's turn, with `all`. */
const TURN_MS = 15_000;

interface Args {
  name: string;
  minutes: number;
}

function parseArgs(argv: string[]): Args {
  const names = TARGETS.map((t) => t.name);
  let name: string | undefined;
  let minutes = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') minutes = Number(argv[++i]);
    else name = argv[i];
  }
  if (!name || (name !== 'all' && !names.includes(name)) || !(minutes > 0)) {
    console.error(`usage: npm run fuzz -- <${names.join('|')}|all> [--minutes N]`);
    process.exit(2);
  }
  return { name, minutes };
}

/** What makes two failures the same: target, property or error kind, and the message's first line. */
function failureKey(target: string, e: unknown): string {
  if (e instanceof FuzzFinding) {
    const first = e.message.split('\n')[0];
    // A slow input's timings differ from run to run; the property is the failure.
    return e.property === 'time' ? `${target} time` : `${target} ${first.replace(/\d+/g, 'N')}`;
  }
  return `${target} ${e instanceof Error ? `${e.constructor.name}: ${e.message.split('\n')[0]}` : String(e)}`;
}

interface Totals {
  runs: number;
  ms: number;
  found: number;
}

function fuzzFor(t: FuzzTarget, ms: number, seen: Set<string>, totals: Map<string, Totals>): void {
  const until = Date.now() + ms;
  const tot = totals.get(t.name) ?? { runs: 0, ms: 0, found: 0 };
  totals.set(t.name, tot);
  while (Date.now() < until) {
    const seed = randomInt(2 ** 31);
    const started = Date.now();
    // Where a run that hangs is stuck: the target and the seed that reproduces it.
    if (process.env.FUZZ_TRACE) console.error(`[${t.name}] seed ${seed}`);
    const r = fc.check(
      fc.property(t.inputs, (input: FuzzInput) => t.run(input)),
      {
        seed,
        numRuns: Number.MAX_SAFE_INTEGER,
        interruptAfterTimeLimit: Math.max(1, until - Date.now()),
        markInterruptAsFailure: false,
      },
    );
    tot.runs += r.numRuns;
    tot.ms += Date.now() - started;
    if (!r.failed || r.counterexample === null) continue;
    const input = r.counterexample[0] as FuzzInput;
    const key = failureKey(t.name, r.errorInstance);
    if (seen.has(key)) continue;
    seen.add(key);
    tot.found++;
    const file = saveCase(t.name, input);
    const err = r.errorInstance;
    const msg = err instanceof Error ? err.message : String(err);
    console.log(
      `\n[${t.name}] FOUND (seed ${seed}, path ${r.counterexamplePath}): ${msg.split('\n').slice(0, 6).join('\n')}`,
    );
    console.log(
      `  input (${typeof input === 'string' ? input.length + ' chars' : input.byteLength + ' bytes'}) saved as ${file}`,
    );
  }
}

function main(): void {
  const { name, minutes } = parseArgs(process.argv.slice(2));
  const targets = name === 'all' ? TARGETS : TARGETS.filter((t) => t.name === name);
  const until = Date.now() + minutes * 60_000;
  const seen = new Set<string>();
  const totals = new Map<string, Totals>();
  // With several targets, turns of TURN_MS (shorter when the whole run is shorter) until the time is up.
  const turn = Math.min(TURN_MS, (minutes * 60_000) / targets.length);
  while (Date.now() < until) {
    for (const t of targets) {
      const left = until - Date.now();
      if (left <= 0) break;
      fuzzFor(t, targets.length === 1 ? left : Math.min(turn, left), seen, totals);
    }
  }
  console.log('\ntarget                 inputs   seconds  findings');
  let found = 0;
  for (const [n, tot] of totals) {
    found += tot.found;
    console.log(
      `${n.padEnd(22)} ${String(tot.runs).padStart(7)} ${(tot.ms / 1000).toFixed(1).padStart(9)} ${String(tot.found).padStart(9)}`,
    );
  }
  process.exitCode = found > 0 ? 1 : 0;
}

main();
