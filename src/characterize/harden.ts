/**
 * Hardening learned from behaviour: a seccomp profile (Docker/OCI JSON) allowing the system calls a
 * workload was seen to make, plus the few the container runtime makes between applying the filter
 * and exec'ing the process, and refusing everything else with EPERM; and a NetworkPolicy allowing
 * the peers and ports seen.
 *
 * Inputs: a baseline export (detect/anomaly/baseline: n-grams of syscall names, peers, ports) or a
 * recording: a JSON list of names, `{syscalls: [...]}`, a `{name: count}` map, or bpftrace's JSON map
 * output keyed by syscall number (optionally `cgroup,number`).
 */
import { SYSCALL_NAMES_X86_64, syscallName } from '../model/syscalls.js';

/**
 * What runc (and `docker exec`) runs after installing the filter and before/while exec'ing the
 * workload's process, plus what any dynamically or statically linked process needs to start and
 * exit cleanly. Without these the container would not even start under the profile.
 */
export const RUNTIME_MINIMAL_SYSCALLS = [
  // runc looks the executable up (faccessat2) after the filter is in place.
  'access',
  'faccessat',
  'faccessat2',
  'getrlimit',
  'arch_prctl',
  'brk',
  'capget',
  'capset',
  'chdir',
  'clone',
  'clone3',
  'close',
  'close_range',
  'dup2',
  'dup3',
  'epoll_create1',
  'epoll_ctl',
  'epoll_pwait',
  'epoll_wait',
  'execve',
  'exit',
  'exit_group',
  'fchdir',
  'fcntl',
  'fstat',
  'fstatfs',
  'futex',
  'getcwd',
  'getdents64',
  'getegid',
  'geteuid',
  'getgid',
  'getpid',
  'getppid',
  'getrandom',
  'gettid',
  'getuid',
  'madvise',
  'mmap',
  'mprotect',
  'munmap',
  'nanosleep',
  'newfstatat',
  'openat',
  'pipe2',
  'prctl',
  'pread64',
  'prlimit64',
  'read',
  'readlinkat',
  'rseq',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sched_getaffinity',
  'sched_yield',
  'set_robust_list',
  'set_tid_address',
  'setgid',
  'setgroups',
  'setresgid',
  'setresuid',
  'setuid',
  'sigaltstack',
  'statx',
  'tgkill',
  'wait4',
  'waitid',
  'write',
] as const;

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: { names: string[]; action: 'SCMP_ACT_ALLOW'; comment?: string }[];
}

const KNOWN: ReadonlySet<string> = new Set(SYSCALL_NAMES_X86_64.filter(Boolean));

export interface ProfileOptions {
  /** Leave out the runtime's minimal set (only for runtimes that install the filter at exec). */
  noRuntimeSet?: boolean;
  /** Extra names to allow (user-supplied). */
  extra?: string[];
}

/** Build the profile. Unknown names are refused with an error naming them. */
export function seccompProfile(observed: Iterable<string>, opts: ProfileOptions = {}): SeccompProfile {
  const seen = new Set<string>();
  const unknown: string[] = [];
  for (const n of [...observed, ...(opts.extra ?? [])]) {
    if (KNOWN.has(n)) seen.add(n);
    else unknown.push(n);
  }
  if (unknown.length)
    throw new Error(`unknown x86_64 system call name(s): ${[...new Set(unknown)].slice(0, 10).join(', ')}`);
  const runtime = opts.noRuntimeSet ? [] : RUNTIME_MINIMAL_SYSCALLS.filter((n) => !seen.has(n));
  const syscalls: SeccompProfile['syscalls'] = [
    { names: [...seen].sort(), action: 'SCMP_ACT_ALLOW', comment: 'observed while the workload ran' },
  ];
  if (runtime.length)
    syscalls.push({
      names: [...runtime].sort(),
      action: 'SCMP_ACT_ALLOW',
      comment: 'needed by the container runtime to start the process',
    });
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    // 1 = EPERM: a refused call fails visibly instead of looking like a missing feature (ENOSYS).
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}

/** System calls named in a baseline export's n-grams. */
export function syscallsFromBaseline(b: { syscalls?: { ngrams?: string[] } }): string[] {
  const out = new Set<string>();
  for (const g of b.syscalls?.ngrams ?? [])
    for (const n of g.split(' ')) if (n && !n.startsWith('#')) out.add(n);
  return [...out].sort();
}

/**
 * System calls from a recording (see the module comment). `cgroup` selects the entries of one
 * cgroup in a bpftrace `@[cgroup, args->id]` map. Errors name `where`.
 */
export function syscallsFromRecording(text: string, where: string, cgroup?: number | string): string[] {
  const out = new Set<string>();
  const addKey = (k: string) => {
    const parts = k.split(',').map((s) => s.trim());
    if (parts.length === 2) {
      if (cgroup !== undefined && parts[0] !== String(cgroup)) return;
      add(parts[1]);
    } else add(parts[0]);
  };
  const add = (v: string | number) => {
    const s = String(v);
    if (/^\d+$/.test(s)) {
      const n = syscallName(Number(s));
      if (n && !n.startsWith('#') && !n.startsWith('sys_')) out.add(n);
    } else if (s) out.add(s);
  };
  const lines = text.split('\n');
  let parsedAny = false;
  // bpftrace -f json: one object per line; the map is in {"type":"map","data":{"@":{...}}}.
  for (const [i, line] of lines.entries()) {
    const t = line.trim();
    if (!t.startsWith('{"type"')) continue;
    try {
      const o = JSON.parse(t) as { type: string; data?: Record<string, Record<string, number>> };
      if (o.type !== 'map' || !o.data) continue;
      parsedAny = true;
      for (const m of Object.values(o.data)) for (const k of Object.keys(m)) addKey(k);
    } catch (err) {
      throw new Error(`${where}:${i + 1}: not JSON (${(err as Error).message})`);
    }
  }
  if (parsedAny) return [...out].sort();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  if (Array.isArray(raw)) raw.forEach((v) => add(v as string));
  else if (raw && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    if (Array.isArray(o.syscalls)) (o.syscalls as unknown[]).forEach((v) => add(String(v)));
    else if (o.syscalls && typeof o.syscalls === 'object' && 'ngrams' in (o.syscalls as object))
      syscallsFromBaseline(o as never).forEach((n) => out.add(n));
    else if (Array.isArray(o.workloads))
      for (const w of o.workloads as object[]) syscallsFromBaseline(w as never).forEach((n) => out.add(n));
    else for (const k of Object.keys(o)) addKey(k);
  } else throw new Error(`${where}: expected a list of system calls, an object, or bpftrace JSON output`);
  return [...out].sort();
}

export interface NetworkPolicyOptions {
  namespace: string;
  name: string;
  podSelector: Record<string, string>;
}

/**
 * A NetworkPolicy allowing what the baseline saw: ingress on the ports it listened on, egress to
 * the peers (ip:port) it connected to, and DNS. Everything else is denied for the selected pods.
 */
export function networkPolicyFromBaseline(
  b: { peers?: string[]; listenPorts?: number[]; connectPorts?: number[] },
  o: NetworkPolicyOptions,
): Record<string, unknown> {
  const byIp = new Map<string, Set<number>>();
  for (const p of b.peers ?? []) {
    const m = /^\[?([0-9a-fA-F:.]+)\]?:(\d+)$/.exec(p);
    if (!m) continue;
    const set = byIp.get(m[1]) ?? new Set<number>();
    set.add(Number(m[2]));
    byIp.set(m[1], set);
  }
  const egress: Record<string, unknown>[] = [...byIp.entries()]
    .sort(([a], [b2]) => a.localeCompare(b2))
    .map(([ip, ports]) => ({
      to: [{ ipBlock: { cidr: ip.includes(':') ? `${ip}/128` : `${ip}/32` } }],
      ports: [...ports].sort((x, y) => x - y).map((port) => ({ protocol: 'TCP', port })),
    }));
  egress.push({
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  });
  const listen = [...new Set(b.listenPorts ?? [])].sort((x, y) => x - y);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: `${o.name}-learned`,
      namespace: o.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'vigie' },
      annotations: {
        'vigie.io/generated-from': 'baseline',
        'vigie.io/generated-at': new Date().toISOString(),
      },
    },
    spec: {
      podSelector: { matchLabels: o.podSelector },
      policyTypes: ['Ingress', 'Egress'],
      ingress: listen.length ? [{ ports: listen.map((port) => ({ protocol: 'TCP', port })) }] : [],
      egress,
    },
  };
}
