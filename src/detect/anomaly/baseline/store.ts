/**
 * SQLite persistence of workload baselines (own table and migrations, applied when the store is built), and the
 * export/import file format: {"format": "vigie-baselines", "version": 1, "workloads": [...]}.
 */
import { z } from 'zod';
import { migrate, type Db, type Migration } from '../../../infra/db.js';
import type { WorkloadBaselineJSON } from './workload.js';

export const BASELINE_SCHEMA: readonly Migration[] = [
  {
    id: 'baseline_001_workloads',
    sql: `CREATE TABLE IF NOT EXISTS baseline_workloads (
     workload TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     learned_events INTEGER NOT NULL,
     updated_at TEXT NOT NULL,
     json TEXT NOT NULL
   );`,
  },
  {
    // Operators' acceptances (`vigie baseline accept`): the latest per workload, read by every process
    // that shares the store, each applying it once to its own copy.
    id: 'baseline_002_accepts',
    sql: `CREATE TABLE IF NOT EXISTS baseline_accepts (
     workload TEXT PRIMARY KEY,
     requested_ms INTEGER NOT NULL
   );`,
  },
];

const reservoir = z.object({ seen: z.number().int().nonnegative(), samples: z.array(z.number()) });
export const workloadBaselineSchema = z.object({
  workload: z.string().min(1),
  state: z.enum(['learning', 'ready', 'stale']),
  staleReason: z.string().optional(),
  staleSinceMs: z.number().optional(),
  drift: z
    .object({
      items: z.array(
        z.object({
          dimension: z.enum(['binary', 'syscalls', 'peer', 'listen', 'file', 'resource']),
          item: z.string(),
        }),
      ),
      replicas: z.number().int().nonnegative(),
      of: z.number().int().nonnegative(),
    })
    .optional(),
  lastSecurityMs: z.number().optional(),
  acceptedMs: z.number().optional(),
  createdMs: z.number(),
  learnStartMs: z.number(),
  readyMs: z.number(),
  lastEventMs: z.number(),
  learnedEvents: z.number().int().nonnegative(),
  learnedMs: z.number().nonnegative(),
  windowsKept: z.number().int().nonnegative(),
  windowsDiscarded: z.number().int().nonnegative(),
  syscallsLearned: z.number().int().nonnegative(),
  syscallConverged: z.boolean().optional(),
  binaries: z.array(z.string()),
  peers: z.array(z.string()),
  connectPorts: z.array(z.number().int().min(0).max(65535)),
  listenPorts: z.array(z.number().int().min(0).max(65535)),
  fileDirs: z.array(z.string()),
  syscalls: z.object({
    n: z.number().int().min(1).max(32),
    L: z.number().int().positive(),
    ngrams: z.array(z.string()),
  }),
  resources: z.object({ cpu: reservoir, memory: reservoir, pids: reservoir }),
});

export const baselineFileSchema = z.object({
  format: z.literal('vigie-baselines'),
  version: z.literal(1),
  exportedAt: z.string().optional(),
  workloads: z.array(workloadBaselineSchema),
});
export type BaselineFile = z.infer<typeof baselineFileSchema>;

/** Parses an export file; errors name the file and the bad field. */
export function parseBaselineFile(text: string, where: string): BaselineFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = baselineFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${where}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

export function toBaselineFile(workloads: WorkloadBaselineJSON[]): BaselineFile {
  return { format: 'vigie-baselines', version: 1, exportedAt: new Date().toISOString(), workloads };
}

export interface StoredBaselineRow {
  workload: string;
  state: string;
  learned_events: number;
  updated_at: string;
}

export class BaselineStore {
  constructor(private readonly db: Db) {
    migrate(db, BASELINE_SCHEMA);
  }

  save(j: WorkloadBaselineJSON): void {
    this.db
      .prepare(
        `INSERT INTO baseline_workloads (workload, state, learned_events, updated_at, json) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(workload) DO UPDATE SET state = excluded.state, learned_events = excluded.learned_events,
           updated_at = excluded.updated_at, json = excluded.json`,
      )
      .run(j.workload, j.state, j.learnedEvents, new Date().toISOString(), JSON.stringify(j));
  }

  saveAll(list: WorkloadBaselineJSON[]): void {
    this.db
      .transaction(() => {
        for (const j of list) this.save(j);
      })
      .immediate();
  }

  /** Every stored baseline; a row that does not parse is reported and skipped. */
  loadAll(onBad?: (workload: string, err: string) => void): WorkloadBaselineJSON[] {
    const rows = this.db.prepare('SELECT workload, json FROM baseline_workloads ORDER BY workload').all() as {
      workload: string;
      json: string;
    }[];
    const out: WorkloadBaselineJSON[] = [];
    for (const r of rows) {
      try {
        const parsed = workloadBaselineSchema.safeParse(JSON.parse(r.json));
        if (parsed.success) out.push(parsed.data as WorkloadBaselineJSON);
        else
          onBad?.(r.workload, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      } catch (err) {
        onBad?.(r.workload, err instanceof Error ? err.message : String(err));
      }
    }
    return out;
  }

  get(workload: string): WorkloadBaselineJSON | undefined {
    const r = this.db.prepare('SELECT json FROM baseline_workloads WHERE workload = ?').get(workload) as
      { json: string } | undefined;
    return r ? (workloadBaselineSchema.parse(JSON.parse(r.json)) as WorkloadBaselineJSON) : undefined;
  }

  rows(): StoredBaselineRow[] {
    return this.db
      .prepare('SELECT workload, state, learned_events, updated_at FROM baseline_workloads ORDER BY workload')
      .all() as StoredBaselineRow[];
  }

  delete(workload: string): boolean {
    this.db.prepare('DELETE FROM baseline_accepts WHERE workload = ?').run(workload);
    return this.db.prepare('DELETE FROM baseline_workloads WHERE workload = ?').run(workload).changes > 0;
  }

  deleteAll(): number {
    this.db.prepare('DELETE FROM baseline_accepts').run();
    return this.db.prepare('DELETE FROM baseline_workloads').run().changes;
  }

  /** Records an operator's acceptance of a workload (the latest one counts). */
  requestAccept(workload: string, atMs: number): void {
    this.db
      .prepare(
        `INSERT INTO baseline_accepts (workload, requested_ms) VALUES (?, ?)
         ON CONFLICT(workload) DO UPDATE SET requested_ms = max(requested_ms, excluded.requested_ms)`,
      )
      .run(workload, Math.round(atMs));
  }

  acceptRequests(): { workload: string; requestedMs: number }[] {
    return (
      this.db.prepare('SELECT workload, requested_ms FROM baseline_accepts').all() as {
        workload: string;
        requested_ms: number;
      }[]
    ).map((r) => ({ workload: r.workload, requestedMs: r.requested_ms }));
  }
}
