/**
 * cgroup id → container id. bpftrace's `cgroup` builtin is the cgroup-v2 id of the task, which is the
 * inode number of the container's cgroup directory in the unified hierarchy:
 *   /sys/fs/cgroup/unified/docker/<id>          (cgroupfs driver, hybrid v1/v2 hierarchy)
 *   /sys/fs/cgroup/docker/<id>                  (cgroupfs driver, pure v2)
 *   /sys/fs/cgroup/system.slice/docker-<id>.scope (systemd driver)
 * The map is rebuilt by scanning those folders (on Docker start/die and on a miss, rate-limited);
 * when a scan still misses, /proc/<pid>/cgroup of the reporting task names the container.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ID = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/;

export const DEFAULT_CGROUP_ROOTS: readonly string[] = [
  '/sys/fs/cgroup/unified/docker',
  '/sys/fs/cgroup/docker',
  '/sys/fs/cgroup/system.slice',
];

/** Container id named by a /proc/<pid>/cgroup text, if any (the deepest docker path wins). */
export function containerIdFromProcCgroup(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const m = /(?:docker[/-]|\/)([0-9a-f]{64})(?:\.scope)?(?:\/|$)/.exec(path);
    if (m) found = m[1];
  }
  return found;
}

export interface CgroupMapStats {
  scans: number;
  procLookups: number;
  hits: number;
  misses: number;
}

export class CgroupMap {
  private byCgroup = new Map<number, string>();
  /** cgroup ids known not to be containers, with the time they were checked. */
  private negative = new Map<number, number>();
  private lastScan = 0;
  readonly stats: CgroupMapStats = { scans: 0, procLookups: 0, hits: 0, misses: 0 };

  constructor(
    private readonly roots: readonly string[] = DEFAULT_CGROUP_ROOTS,
    private readonly procRoot = '/proc',
    private readonly minRescanMs = 200,
  ) {}

  get size(): number {
    return this.byCgroup.size;
  }

  set(cgroup: number, containerId: string): void {
    this.byCgroup.set(cgroup, containerId);
    this.negative.delete(cgroup);
  }

  /** Rebuild from the cgroup folders. */
  rescan(): void {
    this.stats.scans++;
    this.lastScan = Date.now();
    const next = new Map<number, string>();
    for (const root of this.roots) {
      let names: string[];
      try {
        names = readdirSync(root);
      } catch {
        continue;
      }
      for (const n of names) {
        const m = ID.exec(n);
        if (!m) continue;
        try {
          const st = statSync(join(root, n));
          if (st.isDirectory()) next.set(st.ino, m[1]);
        } catch {
          // removed between readdir and stat: the container is gone
        }
      }
    }
    // Keep entries learnt from /proc: they may be nested cgroups the scan does not see.
    for (const [cg, id] of this.byCgroup)
      if (!next.has(cg) && [...next.values()].includes(id)) next.set(cg, id);
    this.byCgroup = next;
    this.negative.clear();
  }

  /** Container id for a task's cgroup id; `pid` is used for the /proc fallback. */
  lookup(cgroup: number, pid?: number): string | undefined {
    const hit = this.byCgroup.get(cgroup);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    const neg = this.negative.get(cgroup);
    const now = Date.now();
    if (neg !== undefined && now - neg < 2000) {
      this.stats.misses++;
      return undefined;
    }
    if (now - this.lastScan >= this.minRescanMs) {
      this.rescan();
      const h = this.byCgroup.get(cgroup);
      if (h) {
        this.stats.hits++;
        return h;
      }
    }
    if (pid !== undefined) {
      this.stats.procLookups++;
      try {
        const id = containerIdFromProcCgroup(
          readFileSync(join(this.procRoot, String(pid), 'cgroup'), 'utf8'),
        );
        if (id) {
          this.set(cgroup, id);
          this.stats.hits++;
          return id;
        }
      } catch {
        // the task already exited
      }
    }
    this.negative.set(cgroup, now);
    this.stats.misses++;
    return undefined;
  }
}

/**
 * cgroup-v2 id of this process (the inode of its unified-hierarchy folder), when it is not the root:
 * Vigie running in a container excludes its own cgroup in the kernel, so it never traces itself.
 */
export function ownCgroupId(procSelfCgroup = '/proc/self/cgroup'): number | undefined {
  let path: string | undefined;
  try {
    const line = readFileSync(procSelfCgroup, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    path = line?.slice(3).trim();
  } catch {
    return undefined;
  }
  if (!path || path === '/') return undefined;
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    try {
      const ino = statSync(join(root, path)).ino;
      if (ino > 1) return ino;
    } catch {
      // not this layout
    }
  }
  return undefined;
}
