/** Settings of the workload baseline (the `baseline` block of the configuration). */
import { z } from 'zod';

export interface BaselineConfig {
  /** Learning lasts at least this long (sum of the learning windows kept) ... */
  learnSec: number;
  /** ... and at least this many events were learned. Both must hold for `ready`. */
  minEvents: number;
  /**
   * Learning is committed window by window; a window that held a security alert about the workload
   * (category attack, or an anomaly) is thrown away. Performance and posture alerts do not count.
   */
  windowSec: number;
  /** After a security alert on a workload, its learning stays paused this long. */
  pauseSec: number;
  /** STIDE n-gram length and locality frame. */
  n: number;
  L: number;
  /** A thread whose share of unseen n-grams over the last L reaches this raises an alert. */
  mismatchRatio: number;
  /** The syscall dimension alerts only once this many calls were learned. */
  minSyscalls: number;
  /**
   * The syscall dimension alerts only once its n-gram set converged: a learning window of at least
   * convergeMinCalls calls added at most convergeShare × (set size) new n-grams. Until then it keeps
   * learning system calls, also after the baseline is ready.
   */
  convergeShare: number;
  convergeMinCalls: number;
  /** The resource envelope alerts only once this many samples were learned. */
  minResourceSamples: number;
  /** Caps that keep a workload's baseline small (memory ≤ 2 MB). */
  maxNgrams: number;
  maxItems: number;
  /** Syscalls held per workload while a learning window is open (8 bytes each). */
  bufferCalls: number;
  /** No event for this long: stale; events coming back restart learning on top of what is known. */
  staleIdleSec: number;
  /**
   * Drift is decided on benign evidence only: stale (drift) once this many new behaviours (a binary,
   * peer, port or folder never seen; unseen system-call sequences; a resource out of its envelope)
   * each persisted for driftPersistSec, recurred on driftReplicas containers of the workload, and came
   * with no security alert. A burst of anomalies that comes with security alerts is an incident.
   */
  driftItems: number;
  /** A new behaviour persists when it was seen over at least this span (first to last sighting). */
  driftPersistSec: number;
  /** ... on at least this many containers of the workload (all of them when it runs fewer). */
  driftReplicas: number;
  /**
   * A new behaviour seen within this long (before or after) of a security alert on the workload
   * belongs to the incident: it is never evidence of drift.
   */
  incidentSec: number;
  /**
   * While stale (drift) the baseline keeps alerting, at a higher threshold: the system-call mismatch
   * ratio and the resource bound are multiplied by this, and the new behaviours that made the drift
   * are not reported again; anything else never seen is.
   */
  staleFactor: number;
  /**
   * A stale (drift) baseline relearns (on top of what it knows) once an operator accepts it
   * (`vigie baseline accept`), or after this long without a security alert on the workload and
   * without an alert of its own. 0: only when accepted.
   */
  relearnQuietSec: number;
  /** The same novelty (binary, peer, file folder, listening port) in one container is not re-alerted for this long. */
  cooldownSec: number;
  /** At most one syscall-sequence alert per workload per this many seconds. */
  syscallCooldownSec: number;
  /** Listening/accepting ports at or above this are ephemeral and never alerted. */
  ephemeralPortMin: number;
  /** Resource bound = max(learned max × factor, p99 × 2) + floor, held for `resourceSustain` samples. */
  resourceFactor: number;
  resourceSustain: number;
  /**
   * A syscall-sequence alert waits this long and is dropped if lost events are reported meanwhile
   * (the sensor reports losses every few seconds, after the fact). 0 sends it at once.
   */
  syscallHoldSec: number;
  /** After a report of lost events, system-call sequence alerts hold off this long. */
  lossGraceSec: number;
  /** How often dirty baselines are written to SQLite. */
  saveIntervalSec: number;
}

export const defaultBaselineConfig: Readonly<BaselineConfig> = {
  learnSec: 600,
  minEvents: 5000,
  windowSec: 10,
  pauseSec: 60,
  n: 6,
  L: 32,
  mismatchRatio: 0.25,
  minSyscalls: 2000,
  convergeShare: 0.01,
  convergeMinCalls: 500,
  minResourceSamples: 10,
  maxNgrams: 16_000,
  maxItems: 4096,
  bufferCalls: 32_768,
  staleIdleSec: 7 * 86_400,
  driftItems: 3,
  driftPersistSec: 1800,
  driftReplicas: 2,
  incidentSec: 600,
  staleFactor: 2,
  relearnQuietSec: 86_400,
  cooldownSec: 3600,
  syscallCooldownSec: 60,
  ephemeralPortMin: 32768,
  resourceFactor: 1.5,
  resourceSustain: 3,
  saveIntervalSec: 30,
  lossGraceSec: 15,
  syscallHoldSec: 6,
};

const pos = z.number().positive();
const nonneg = z.number().nonnegative();
const int = z.number().int().positive();
const schema = z
  .object({
    learnSec: nonneg,
    minEvents: z.number().int().nonnegative(),
    windowSec: pos,
    pauseSec: nonneg,
    n: int.max(32),
    L: int.max(4096),
    mismatchRatio: z.number().gt(0).max(1),
    minSyscalls: z.number().int().nonnegative(),
    convergeShare: z.number().min(0).max(1),
    convergeMinCalls: z.number().int().nonnegative(),
    minResourceSamples: z.number().int().nonnegative(),
    maxNgrams: int,
    maxItems: int,
    bufferCalls: int,
    staleIdleSec: pos,
    driftItems: int,
    driftPersistSec: nonneg,
    driftReplicas: int,
    incidentSec: nonneg,
    staleFactor: z.number().min(1),
    relearnQuietSec: nonneg,
    cooldownSec: nonneg,
    syscallCooldownSec: nonneg,
    ephemeralPortMin: z.number().int().min(1).max(65536),
    resourceFactor: z.number().min(1),
    resourceSustain: int,
    saveIntervalSec: pos,
    lossGraceSec: nonneg,
    syscallHoldSec: nonneg,
  })
  .partial()
  .strict();

/** Validates the `baseline` block; an error names the bad key. */
export function parseBaselineConfig(raw: unknown): BaselineConfig {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`baseline config: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return { ...defaultBaselineConfig, ...r.data };
}
