/**
 * cgroup id → container. bpftrace's `cgroup` builtin is the cgroup-v2 id of the task, which is the
 * inode number of its folder in the unified hierarchy (`/sys/fs/cgroup/unified` on a hybrid v1/v2
 * host, `/sys/fs/cgroup` on a pure v2 one). Where the folder sits says which container it is, and on a
 * Kubernetes node, which pod:
 *   /docker/<id>                                            Docker, cgroupfs driver
 *   /system.slice/docker-<id>.scope                          Docker, systemd driver
 *   /kubepods/<qos>/pod<uid>/<id>                            kubelet, cgroupfs driver (containerd,
 *   /kubepods/pod<uid>/<id>                                  Docker); Guaranteed pods have no <qos>;
 *   /kubepods/<qos>/pod<uid>/crio-<id>                       CRI-O names its folders crio-<id>
 *   /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope
 *                                                            kubelet, systemd driver; the uid's dashes
 *                                                            are underscores (systemd escaping);
 *                                                            crio-<id>.scope for CRI-O, docker-<id>.scope
 *                                                            for cri-dockerd
 * The same paths appear in /proc/<pid>/cgroup, per v1 controller (`12:pids:/kubepods/...`) and for v2
 * (`0::/kubepods/...`). The map is rebuilt by walking the unified hierarchy (on a container start or
 * stop and on a miss, rate-limited); when a walk still misses (a container's own sub-cgroup, which
 * the walk does not enter), /proc/<pid>/cgroup of the reporting task names the container.
 */
import { existsSync, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/** The runtime a cgroup folder's name reveals; undefined for a bare id (cgroupfs: Docker or containerd). */
export type CgroupRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman';

/** The container a cgroup belongs to, as its path tells. */
export interface CgroupContainer {
  /** The container id (64 hex digits), as the runtime and the pod status name it. */
  id: string;
  runtime?: CgroupRuntime;
  /** The pod's uid with dashes (the API's form), when the container runs in a kubelet's pod. */
  podUid?: string;
  /** The pod's QoS class folder: Guaranteed pods sit directly under kubepods. */
  qos?: 'guaranteed' | 'burstable' | 'besteffort';
}

const RUNTIME_PREFIX: Readonly<Record<string, CgroupRuntime>> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
};

/** A container's folder: a bare id (cgroupfs) or `<runtime>-<id>[.scope]` (systemd, CRI-O). */
const CONTAINER_SEGMENT = /^(?:(docker|cri-containerd|crio|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
/**
 * A pod's folder: `pod<uid>` (cgroupfs) or `<parent>-pod<uid with underscores>.slice` (systemd). A
 * static pod's uid is the 32-digit hash of its manifest, without dashes.
 */
const POD_SEGMENT =
  /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?$/;
const QOS_SEGMENT = /(?:^|-)(burstable|besteffort)(?:\.slice)?$/;

/**
 * The container a cgroup path (absolute, or relative to a cgroup namespace) belongs to. The outermost
 * container folder wins: nested folders below it (a container's own sub-cgroups) are still that
 * container, which is the one its runtime knows.
 */
export function parseCgroupPath(path: string): CgroupContainer | undefined {
  const segs = path.split('/');
  for (let i = 0; i < segs.length; i++) {
    const m = CONTAINER_SEGMENT.exec(segs[i]);
    if (!m) continue;
    const out: CgroupContainer = { id: m[2] };
    if (m[1]) out.runtime = RUNTIME_PREFIX[m[1]];
    // The kubelet makes the pod's folder the container's parent, the QoS folder the pod's parent.
    const pod = i > 0 ? POD_SEGMENT.exec(segs[i - 1]) : null;
    if (pod) {
      out.podUid = pod[1].replace(/_/g, '-');
      const qos = i > 1 ? QOS_SEGMENT.exec(segs[i - 2]) : null;
      out.qos = qos ? (qos[1] as 'burstable' | 'besteffort') : 'guaranteed';
    }
    return out;
  }
  return undefined;
}

/**
 * The container a /proc/<pid>/cgroup text names, if any: the unified (`0::`) line when it names one,
 * else the v1 controller lines (`12:pids:/...`), preferring one that names a pod.
 */
export function containerFromProcCgroup(text: string): CgroupContainer | undefined {
  let found: CgroupContainer | undefined;
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const c = parseCgroupPath(line.slice(second + 1).trim());
    if (!c) continue;
    if (line.startsWith('0::')) return c;
    if (!found || (!found.podUid && c.podUid)) found = c;
  }
  return found;
}

/** Container id named by a /proc/<pid>/cgroup text, if any. */
export function containerIdFromProcCgroup(text: string): string | undefined {
  return containerFromProcCgroup(text)?.id;
}

/**
 * The unified (v2) hierarchy, whose folder inodes are the ids bpftrace reports: its own mount on a
 * hybrid host, the cgroup root on a pure v2 one.
 */
export function unifiedCgroupRoot(base = '/sys/fs/cgroup'): string {
  const hybrid = join(base, 'unified');
  if (existsSync(join(hybrid, 'cgroup.procs'))) return hybrid;
  return base;
}

/** How deep the walk goes below a root: /kubepods.slice/<qos>.slice/<pod>.slice/<container> is 4. */
const MAX_DEPTH = 6;

export interface CgroupMapStats {
  scans: number;
  procLookups: number;
  hits: number;
  misses: number;
  /** Folders read by the last scan. */
  scanFolders: number;
}

export class CgroupMap {
  private byCgroup = new Map<number, CgroupContainer>();
  /** cgroup ids known not to be containers, with the time they were checked. */
  private negative = new Map<number, number>();
  private lastScan = 0;
  readonly stats: CgroupMapStats = { scans: 0, procLookups: 0, hits: 0, misses: 0, scanFolders: 0 };

  /**
   * `roots`: cgroup-v2 folders to walk (default: the unified hierarchy); a container found at any
   * depth below one is named by its path relative to that root.
   */
  constructor(
    private readonly roots: readonly string[] = [unifiedCgroupRoot()],
    private readonly procRoot = '/proc',
    private readonly minRescanMs = 200,
  ) {}

  get size(): number {
    return this.byCgroup.size;
  }

  set(cgroup: number, container: CgroupContainer): void {
    this.byCgroup.set(cgroup, container);
    this.negative.delete(cgroup);
  }

  /** Rebuild from the cgroup folders. */
  rescan(): void {
    this.stats.scans++;
    this.stats.scanFolders = 0;
    this.lastScan = Date.now();
    const next = new Map<number, CgroupContainer>();
    for (const root of this.roots) this.walk(root, '', 0, next);
    // Keep entries learnt from /proc: they may be sub-cgroups the walk does not enter.
    const ids = new Set<string>();
    for (const c of next.values()) ids.add(c.id);
    for (const [cg, c] of this.byCgroup) if (!next.has(cg) && ids.has(c.id)) next.set(cg, c);
    this.byCgroup = next;
    this.negative.clear();
  }

  private walk(dir: string, rel: string, depth: number, into: Map<number, CgroupContainer>): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // absent, or removed while walking
    }
    this.stats.scanFolders++;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const path = join(dir, e.name);
      const relPath = `${rel}/${e.name}`;
      const c = CONTAINER_SEGMENT.test(e.name) ? parseCgroupPath(relPath) : undefined;
      if (c) {
        try {
          into.set(statSync(path).ino, c);
        } catch {
          // removed between readdir and stat: the container is gone
        }
        // Its own sub-cgroups, rare, are learnt from /proc when a task in one is seen: reading
        // every container's folder would double the cost of a scan.
        continue;
      }
      if (depth + 1 < MAX_DEPTH) this.walk(path, relPath, depth + 1, into);
    }
  }

  /** The container of a task's cgroup id; `pid` is used for the /proc fallback. */
  lookup(cgroup: number, pid?: number): CgroupContainer | undefined {
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
        const c = containerFromProcCgroup(readFileSync(join(this.procRoot, String(pid), 'cgroup'), 'utf8'));
        if (c) {
          this.set(cgroup, c);
          this.stats.hits++;
          return c;
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
