/**
 * Built-in runtime detections: plain TypeScript predicates over the event envelope.
 * Each rule names its priority, tags and MITRE ATT&CK techniques; the detector (runtime/detector.ts)
 * feeds it events, keeps the per-container state it needs and rate-limits duplicates.
 */
import type { MitreRef, Priority } from '../../model/alert.js';
import type { EventKind, VigieEvent } from '../../model/event.js';

export interface RuntimeConfig {
  /** Outbound ports never reported as unusual. */
  allowedPorts: number[];
  /**
   * The same fact (rule, container, and what distinguishes it: the file, the peer, the process) seen
   * again within this many seconds is aggregated into one follow-up alert with a count.
   */
  dedupSec: number;
  /** A container whose CPU stays at or above this share of its limit is "saturated" (miner rule). */
  minerCpuShare: number;
  /** CPU limit in cores assumed when the metric event carries none (cpuLimit). */
  defaultCpuLimitCores: number;
  /** How long the CPU must stay saturated. */
  minerSustainSec: number;
  /**
   * Saturation and a pool connection must fall within this window of each other; each is forgotten
   * this long after it was last seen (a miner starts hashing within seconds of reaching its pool).
   */
  minerWindowSec: number;
  minerPorts: number[];
  /** Fork bomb: pids rising by at least this much over the last samples ... */
  forkPidsJump: number;
  /** ... or reaching this many, or this share of the pids limit when one is known. */
  forkPidsAbs: number;
  forkPidsLimitShare: number;
  /** Fork bomb by exec rate: this many execs within forkExecWindowSec. */
  forkExecCount: number;
  forkExecWindowSec: number;
}

export const defaultRuntimeConfig: Readonly<RuntimeConfig> = {
  allowedPorts: [53, 80, 443, 8080, 8443, 123],
  dedupSec: 60,
  minerCpuShare: 0.8,
  defaultCpuLimitCores: 1,
  minerSustainSec: 10,
  minerWindowSec: 120,
  minerPorts: [3333, 4444, 5555, 7777, 14444, 45700],
  forkPidsJump: 200,
  forkPidsAbs: 1000,
  forkPidsLimitShare: 0.9,
  forkExecCount: 300,
  forkExecWindowSec: 5,
};

/** What the unusual-port rule asks of the workload baseline. */
export type PortVerdict = 'known' | 'unknown' | 'learning' | 'no-baseline';
export interface PortOracle {
  connectPort(ev: VigieEvent, port: number): PortVerdict;
}

/**
 * Per-container memory the stateful rules need. Bounded: see the caps below. Its time is the
 * container's own event clock (`clockMs`, the latest event time seen on it): windows, expiry and
 * durations are measured on it alone, so they never run backwards and never mix in the wall clock.
 */
export class ContainerState {
  /** The latest event time seen on this container, ms since the epoch (monotonic). */
  clockMs = -Infinity;
  /** Paused (docker pause, a frozen cgroup): nothing in it runs, its samples are no evidence. */
  paused = false;
  /** Files written in this container (path → ms), for drop-and-execute. Capped, oldest evicted. */
  readonly written = new Map<string, number>();
  /** Miner: start of the current run of CPU samples at the limit; undefined when not at the limit. */
  cpuHighSinceMs: number | undefined;
  /** Miner: the last run held for minerSustainSec (first and last sample); expires after the window. */
  saturated: { fromMs: number; toMs: number } | undefined;
  /** Miner: the last connection to a pool port; expires after the window. */
  pool: { atMs: number; peer: string } | undefined;
  /** Miner: the (run, connection) pairing already reported: one pairing, one alert. */
  minerReported = '';
  /** Last pids samples (ring), for the pid spike. */
  readonly pids = new Float64Array(6);
  pidsFilled = 0;
  pidsPos = 0;
  /** Exec timestamps (ring) for the exec-rate spike. */
  execTimes: Float64Array;
  execPos = 0;
  execFilled = 0;
  lastSeenMs = 0;
  constructor(execRing: number) {
    this.execTimes = new Float64Array(Math.max(1, execRing));
  }

  /** Advances the container's clock to an event's time (never back) and returns it. */
  advance(ms: number): number {
    if (ms > this.clockMs) this.clockMs = ms;
    return this.clockMs;
  }

  /** Paused or frozen: a run of CPU samples at the limit ends here. */
  pause(): void {
    this.paused = true;
    this.cpuHighSinceMs = undefined;
  }

  unpause(): void {
    this.paused = false;
    this.cpuHighSinceMs = undefined;
  }

  /**
   * Forgets the windowed evidence (CPU runs, pool connections, pid and exec samples): a rollback of
   * containment starts the container afresh. What was written to its filesystem stays (the files do).
   */
  resetWindows(): void {
    this.cpuHighSinceMs = undefined;
    this.saturated = undefined;
    this.pool = undefined;
    this.minerReported = '';
    this.pidsFilled = 0;
    this.pidsPos = 0;
    this.execFilled = 0;
    this.execPos = 0;
  }
}

export const MAX_WRITTEN_PER_CONTAINER = 2048;

export interface RuleHit {
  output: string;
  fields: Record<string, string | number | boolean | null>;
  /**
   * What distinguishes this fact from another of the same rule on the same container (the file, the
   * peer, the process and its parent): de-duplication folds repeats of one fact, never two facts.
   */
  fact: string;
  /** Overrides the rule's default priority. */
  priority?: Priority;
  /** Overrides the rule's default MITRE techniques (the one that matched). */
  mitre?: MitreRef[];
}

export interface RuleContext {
  cfg: RuntimeConfig;
  state: ContainerState;
  /** The container's event clock (ContainerState.clockMs), ms. */
  nowMs: number;
  ports: PortOracle | undefined;
}

export interface RuntimeRule {
  id: string;
  /** The Falco-style rule name shown in alerts. */
  rule: string;
  description: string;
  priority: Priority;
  tags: string[];
  mitre: MitreRef[];
  kinds: readonly EventKind[];
  match(ev: VigieEvent, ctx: RuleContext): RuleHit | undefined;
}

const SHELLS: ReadonlySet<string> = new Set([
  'sh',
  'bash',
  'ash',
  'dash',
  'zsh',
  'ksh',
  'mksh',
  'csh',
  'tcsh',
  'fish',
  'busybox-sh',
]);
/**
 * Network relays that hand a connection to a program they execute (`nc -e /bin/sh`, `socat
 * exec:sh`): a shell they spawn is a reverse (or bind) shell, a command-and-control channel.
 */
const NETWORK_TOOLS: ReadonlySet<string> = new Set([
  'nc',
  'ncat',
  'netcat',
  'nc.openbsd',
  'nc.traditional',
  'socat',
  'telnet',
  'openssl',
  'cryptcat',
  'pwncat',
]);
const REVERSE_SHELL: MitreRef = {
  tactic: 'Command and Control',
  technique: 'T1095',
  name: 'Non-Application Layer Protocol',
};
/** Parents that launch a container's own command or a `docker exec`. */
const RUNTIME_PARENT =
  /^(runc|runc:\[.*|containerd-shim.*|containerd|dockerd|docker-init|tini|dumb-init|conmon|crun)$/;

export function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

function normSpaces(s: string): string {
  return s.replace(/["']/g, '').replace(/\s+/g, ' ').trim();
}

function procName(ev: VigieEvent): string {
  const p = ev.proc;
  if (!p) return '';
  if (typeof p.name === 'string' && p.name) return p.name;
  if (typeof p.exe === 'string' && p.exe) return baseName(p.exe);
  return '';
}

/** Absolute path of the executed file, when it can be told. */
export function exePath(ev: VigieEvent): string | undefined {
  const p = ev.proc;
  if (!p) return undefined;
  let exe = typeof p.exe === 'string' && p.exe ? p.exe : undefined;
  if (!exe && typeof p.cmdline === 'string') exe = p.cmdline.trim().split(/\s+/)[0];
  if (!exe) return undefined;
  if (exe.startsWith('/')) return exe;
  if (exe.includes('/') && typeof p.cwd === 'string' && p.cwd.startsWith('/')) {
    return `${p.cwd.replace(/\/$/, '')}/${exe.replace(/^\.\//, '')}`;
  }
  return undefined;
}

function common(ev: VigieEvent): Record<string, string | number | boolean | null> {
  return {
    'container.id': ev.container?.id ?? null,
    'container.name': ev.container?.name ?? null,
    'container.image': ev.container?.image ?? null,
    'proc.name': procName(ev) || null,
    'proc.pid': typeof ev.proc?.pid === 'number' ? ev.proc.pid : null,
    'proc.cmdline': typeof ev.proc?.cmdline === 'string' ? ev.proc.cmdline : null,
    'proc.pname': typeof ev.proc?.pname === 'string' ? ev.proc.pname : null,
  };
}

/** A file fact: the path and the program that touched it. */
function fileFact(ev: VigieEvent, path: string): string {
  return `${path} ${procName(ev)}`;
}

function where(ev: VigieEvent): string {
  const c = ev.container;
  return c ? `container ${c.name ?? c.id.slice(0, 12)} (${c.image ?? 'unknown image'})` : 'host';
}

const shellRule: RuntimeRule = {
  id: 'shell_in_container',
  rule: 'Shell spawned in container',
  description:
    'A shell started inside a container by something other than the container runtime launching the ' +
    "container's own command, or by a shell (scripts); an interactive shell (tty) always counts. A shell " +
    'spawned by a network relay (nc, ncat, socat, telnet, openssl) is a reverse shell: command and control.',
  priority: 'Warning',
  tags: ['container', 'shell', 'process', 'mitre_execution', 'T1059.004'],
  mitre: [
    { tactic: 'Execution', technique: 'T1059.004', name: 'Command and Scripting Interpreter: Unix Shell' },
  ],
  kinds: ['process'],
  match(ev) {
    if (!ev.container) return undefined;
    const name = procName(ev);
    if (!SHELLS.has(name)) return undefined;
    const p = ev.proc ?? {};
    const pname = typeof p.pname === 'string' ? p.pname : '';
    const tty = typeof p.tty === 'number' && p.tty > 0;
    const cmd = typeof p.cmdline === 'string' ? normSpaces(p.cmdline) : '';
    const ccmd = typeof ev.container.command === 'string' ? normSpaces(ev.container.command) : '';
    const fact = `${pname}>${name}${tty ? ' tty' : ''}`;
    if (NETWORK_TOOLS.has(pname)) {
      return {
        output: `Shell ${name} spawned by ${pname} in ${where(ev)}: a reverse shell (a network relay hands its connection to a shell) (cmdline=${p.cmdline ?? name})`,
        fields: { ...common(ev), 'proc.tty': tty, 'vigie.signal': 'reverse_shell' },
        fact,
        mitre: [...shellRule.mitre, REVERSE_SHELL],
      };
    }
    let how: string;
    if (tty) how = 'interactive (tty)';
    else if (SHELLS.has(pname))
      return undefined; // a script's own sub-shell
    else if (RUNTIME_PARENT.test(pname) || pname === '') {
      // The container's own command (entrypoint) is launched the same way as `docker exec`:
      // tell them apart by the command line.
      if (ccmd && (cmd === ccmd || cmd.endsWith(ccmd) || ccmd.endsWith(cmd))) return undefined;
      // Without its arguments (the sensor missed argv), a shell that the container's command starts
      // with is taken for the entrypoint.
      if (ccmd && (cmd === name || cmd === '') && baseName(ccmd.split(' ')[0]) === name) return undefined;
      if (pname === '' && !cmd) return undefined;
      how = pname ? `by the container runtime (${pname}, docker exec)` : 'by an unknown parent';
    } else how = `by ${pname}`;
    return {
      output: `Shell ${name} spawned ${how} in ${where(ev)} (cmdline=${p.cmdline ?? name})`,
      fields: { ...common(ev), 'proc.tty': tty },
      fact,
      priority: tty ? 'Notice' : undefined,
    };
  },
};

function isWrite(ev: VigieEvent): boolean {
  const f = ev.file;
  if (!f) return false;
  if (f.write === true) return true;
  return f.op === 'write' || f.op === 'unlink' || f.op === 'rename' || f.op === 'chmod' || f.op === 'mkdir';
}

const ETC_WRITE_EXCLUDED: ReadonlySet<string> = new Set([
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/mtab',
  '/etc/ld.so.cache',
]);
const BIN_DIRS: readonly string[] = [
  '/bin/',
  '/sbin/',
  '/usr/bin/',
  '/usr/sbin/',
  '/usr/local/bin/',
  '/usr/local/sbin/',
  '/usr/libexec/',
];

const writeEtcRule: RuntimeRule = {
  id: 'write_below_etc',
  rule: 'Write below etc',
  description: 'A file below /etc is opened for writing, created, renamed, removed or chmod-ed.',
  priority: 'Error',
  tags: ['container', 'filesystem', 'mitre_persistence', 'T1098'],
  mitre: [{ tactic: 'Persistence', technique: 'T1098', name: 'Account Manipulation' }],
  kinds: ['file'],
  match(ev) {
    const path = ev.file?.path;
    if (typeof path !== 'string' || !path.startsWith('/etc/') || !isWrite(ev)) return undefined;
    if (ETC_WRITE_EXCLUDED.has(path)) return undefined;
    return {
      output: `File below /etc opened for writing (file=${path} op=${ev.file?.op}) in ${where(ev)} by ${procName(ev) || 'unknown'}`,
      fields: { ...common(ev), 'fd.name': path, 'evt.type': ev.file?.op ?? null },
      fact: fileFact(ev, path),
    };
  },
};

const writeBinRule: RuntimeRule = {
  id: 'write_below_binary_dir',
  rule: 'Write below binary dir',
  description:
    'A file below a binary folder (/bin, /sbin, /usr/bin, /usr/sbin, /usr/local/bin, ...) is written.',
  priority: 'Error',
  tags: ['container', 'filesystem', 'mitre_persistence', 'T1543'],
  mitre: [{ tactic: 'Persistence', technique: 'T1543', name: 'Create or Modify System Process' }],
  kinds: ['file'],
  match(ev) {
    const path = ev.file?.path;
    if (typeof path !== 'string' || !isWrite(ev)) return undefined;
    if (!BIN_DIRS.some((d) => path.startsWith(d))) return undefined;
    return {
      output: `File below a binary dir opened for writing (file=${path} op=${ev.file?.op}) in ${where(ev)} by ${procName(ev) || 'unknown'}`,
      fields: { ...common(ev), 'fd.name': path, 'evt.type': ev.file?.op ?? null },
      fact: fileFact(ev, path),
    };
  },
};

interface Sensitive {
  test: (p: string) => boolean;
  what: string;
  mitre: MitreRef;
}
const SENSITIVE: readonly Sensitive[] = [
  {
    test: (p) => p === '/etc/shadow' || p === '/etc/gshadow' || p === '/etc/shadow-' || p === '/etc/gshadow-',
    what: 'password hashes',
    mitre: {
      tactic: 'Credential Access',
      technique: 'T1003.008',
      name: 'OS Credential Dumping: /etc/passwd and /etc/shadow',
    },
  },
  {
    test: (p) => p === '/etc/sudoers' || p.startsWith('/etc/sudoers.d/'),
    what: 'sudo policy',
    mitre: {
      tactic: 'Discovery',
      technique: 'T1548.003',
      name: 'Abuse Elevation Control Mechanism: Sudo and Sudo Caching',
    },
  },
  {
    test: (p) => /^(\/var)?\/run\/secrets\/kubernetes\.io\/serviceaccount\/(\.\.[^/]+\/)?token$/.test(p),
    what: 'Kubernetes service-account token',
    mitre: { tactic: 'Credential Access', technique: 'T1528', name: 'Steal Application Access Token' },
  },
  {
    test: (p) =>
      /\/\.ssh\/(id_[a-z0-9_]+|authorized_keys|identity)$/.test(p) ||
      /^\/etc\/ssh\/ssh_host_[a-z0-9_]+_key$/.test(p),
    what: 'SSH key',
    mitre: {
      tactic: 'Credential Access',
      technique: 'T1552.004',
      name: 'Unsecured Credentials: Private Keys',
    },
  },
];
/** Programs whose job is to read these files. */
const SENSITIVE_READERS: ReadonlySet<string> = new Set([
  'sshd',
  'sudo',
  'su',
  'login',
  'passwd',
  'chpasswd',
  'unix_chkpwd',
  'useradd',
  'usermod',
  'groupadd',
  'vipw',
  'pwck',
  'chage',
  'ssh',
  'ssh-agent',
  'ssh-add',
  'systemd-logind',
  'cron',
  'crond',
]);

const sensitiveReadRule: RuntimeRule = {
  id: 'read_sensitive_file',
  rule: 'Read sensitive file untrusted',
  description:
    'An untrusted program reads /etc/shadow, /etc/sudoers, a service-account token or an SSH key ' +
    '(programs whose job it is, such as sshd, sudo or passwd, are trusted).',
  priority: 'Warning',
  tags: ['container', 'filesystem', 'mitre_credential_access', 'T1003.008', 'T1528', 'T1552.004'],
  mitre: [SENSITIVE[0].mitre],
  kinds: ['file'],
  match(ev) {
    const path = ev.file?.path;
    if (typeof path !== 'string' || isWrite(ev)) return undefined;
    if (ev.file?.op !== undefined && ev.file.op !== 'open' && ev.file.op !== 'read') return undefined;
    const hit = SENSITIVE.find((s) => s.test(path));
    if (!hit) return undefined;
    const name = procName(ev);
    if (SENSITIVE_READERS.has(name)) return undefined;
    return {
      output: `Sensitive file opened for reading by ${name || 'unknown'} (file=${path}, ${hit.what}) in ${where(ev)}`,
      fields: { ...common(ev), 'fd.name': path },
      fact: fileFact(ev, path),
      mitre: [hit.mitre],
    };
  },
};

const PKG_ALWAYS: ReadonlySet<string> = new Set([
  'apt',
  'apt-get',
  'aptitude',
  'dpkg',
  'apk',
  'yum',
  'dnf',
  'microdnf',
  'rpm',
  'zypper',
  'pacman',
  'emerge',
]);
const PKG_INSTALL_VERB: ReadonlySet<string> = new Set([
  'pip',
  'pip3',
  'pipx',
  'npm',
  'yarn',
  'pnpm',
  'gem',
  'composer',
  'conda',
  'cargo',
  'easy_install',
]);
const INSTALL_VERBS = /\s(install|i|add|ci|update|upgrade|global)(\s|$)/;

const packageRule: RuntimeRule = {
  id: 'package_manager_in_container',
  rule: 'Launch package management process in container',
  description:
    'A package manager runs in a running container (apt, dpkg, apk, yum, dnf, rpm, ...; pip, npm, yarn, gem ' +
    'only with an install-like verb, so that `npm start` stays quiet).',
  priority: 'Error',
  tags: ['container', 'process', 'software_mgmt', 'mitre_command_and_control', 'T1105'],
  mitre: [{ tactic: 'Command and Control', technique: 'T1105', name: 'Ingress Tool Transfer' }],
  kinds: ['process'],
  match(ev) {
    if (!ev.container) return undefined;
    const name = procName(ev);
    const cmd = typeof ev.proc?.cmdline === 'string' ? ` ${ev.proc.cmdline.trim()}` : '';
    let pm = PKG_ALWAYS.has(name) ? name : undefined;
    if (!pm && PKG_INSTALL_VERB.has(name) && INSTALL_VERBS.test(cmd)) pm = name;
    // `python -m pip install x`
    if (!pm && /^python[0-9.]*$/.test(name) && /\s-m\s+pip\s+install\s/.test(cmd)) pm = 'pip';
    if (!pm) return undefined;
    return {
      output: `Package management process launched in ${where(ev)} (${pm}; cmdline=${ev.proc?.cmdline ?? name})`,
      fields: common(ev),
      fact: `${pm}|${ev.proc?.cmdline ?? name}`,
    };
  },
};

const WRITABLE_DIRS: readonly string[] = ['/tmp/', '/dev/shm/', '/var/tmp/', '/run/shm/'];

const dropExecRule: RuntimeRule = {
  id: 'drop_and_execute',
  rule: 'Drop and execute binary in writable folder',
  description:
    'A program is executed from /tmp, /dev/shm or /var/tmp, or a file written in the container is then ' +
    'executed (downloaded tools, implants).',
  priority: 'Critical',
  tags: ['container', 'process', 'filesystem', 'mitre_command_and_control', 'mitre_execution', 'T1105'],
  mitre: [
    { tactic: 'Command and Control', technique: 'T1105', name: 'Ingress Tool Transfer' },
    { tactic: 'Execution', technique: 'T1204.002', name: 'User Execution: Malicious File' },
  ],
  kinds: ['process', 'file'],
  match(ev, ctx) {
    if (ev.kind === 'file') {
      const path = ev.file?.path;
      if (typeof path === 'string' && isWrite(ev) && ev.file?.op !== 'unlink') {
        const w = ctx.state.written;
        if (w.size >= MAX_WRITTEN_PER_CONTAINER) {
          const oldest = w.keys().next().value;
          if (oldest !== undefined) w.delete(oldest);
        }
        w.delete(path);
        w.set(path, ctx.nowMs);
      } else if (typeof path === 'string' && ev.file?.op === 'unlink') ctx.state.written.delete(path);
      return undefined;
    }
    const exe = exePath(ev);
    if (!exe) return undefined;
    const written = ctx.state.written.has(exe);
    const fromWritable = WRITABLE_DIRS.some((d) => exe.startsWith(d));
    if (!written && !fromWritable) return undefined;
    const why = written ? 'was written in this container, then executed' : 'executed from a writable folder';
    return {
      output: `Binary ${exe} ${why} in ${where(ev)} (cmdline=${ev.proc?.cmdline ?? exe})`,
      fields: { ...common(ev), 'proc.exe': exe, 'vigie.written_before': written },
      fact: exe,
    };
  },
};

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip === 'localhost' || ip.startsWith('::ffff:127.');
}

const unusualPortRule: RuntimeRule = {
  id: 'unusual_outbound_port',
  rule: 'Outbound connection to unusual port',
  description:
    'A container connects out to a port that is neither in the allowlist nor in its workload baseline ' +
    '(quiet while that baseline is still learning; loopback is ignored).',
  priority: 'Warning',
  tags: ['container', 'network', 'mitre_command_and_control', 'T1571'],
  mitre: [{ tactic: 'Command and Control', technique: 'T1571', name: 'Non-Standard Port' }],
  kinds: ['network'],
  match(ev, ctx) {
    const n = ev.network;
    if (!ev.container || !n || n.op !== 'connect') return undefined;
    if (n.proto === 'unix') return undefined;
    const port = n.dstPort;
    const ip = n.dstIp;
    if (typeof port !== 'number' || typeof ip !== 'string' || port <= 0 || isLoopback(ip)) return undefined;
    if (ctx.cfg.allowedPorts.includes(port)) return undefined;
    const verdict: PortVerdict = ctx.ports ? ctx.ports.connectPort(ev, port) : 'no-baseline';
    if (verdict === 'known' || verdict === 'learning') return undefined;
    const basis = verdict === 'unknown' ? 'never seen in the workload baseline' : 'no workload baseline';
    return {
      output: `Outbound connection to unusual port ${ip}:${port} from ${where(ev)} by ${procName(ev) || 'unknown'} (not in the allowlist; ${basis})`,
      fields: { ...common(ev), 'fd.sip': ip, 'fd.sport': port, 'fd.l4proto': n.proto ?? null },
      fact: `${ip}:${port} ${procName(ev)}`,
    };
  },
};

const MINER_NAMES =
  /^(xmrig|xmr-stak|minerd|cpuminer|cgminer|bfgminer|ethminer|t-rex|nbminer|lolminer|ccminer|kdevtmpfsi|kinsing)/;

const minerRule: RuntimeRule = {
  id: 'crypto_miner',
  rule: 'Crypto-miner behaviour',
  description:
    'CPU held near the container limit for a sustained time together with a connection to a mining-pool ' +
    'style port (3333, 4444, 5555, 7777, 14444, 45700) within the same window; a known miner binary or a ' +
    'stratum URL on a command line is enough on its own. Each fact is forgotten a window after it was ' +
    'last seen, a paused container gives no evidence, and one pairing of a CPU run with a connection ' +
    'is reported once.',
  priority: 'Critical',
  tags: ['container', 'process', 'network', 'mitre_impact', 'T1496'],
  mitre: [{ tactic: 'Impact', technique: 'T1496', name: 'Resource Hijacking' }],
  kinds: ['metric', 'network', 'process'],
  match(ev, ctx) {
    const st = ctx.state;
    const cfg = ctx.cfg;
    const now = ctx.nowMs;
    if (ev.kind === 'process') {
      const name = procName(ev);
      const cmd = typeof ev.proc?.cmdline === 'string' ? ev.proc.cmdline : '';
      const stratum = /stratum\+(tcp|ssl|tls):\/\//i.test(cmd);
      if (!MINER_NAMES.test(name) && !stratum) return undefined;
      return {
        output: `Crypto-miner started in ${where(ev)}: ${stratum ? 'stratum pool URL on the command line' : `known miner ${name}`} (cmdline=${cmd || name})`,
        fields: { ...common(ev), 'vigie.signal': stratum ? 'stratum' : 'miner_binary' },
        fact: stratum ? `stratum ${cmd}` : `binary ${name}`,
      };
    }
    const win = cfg.minerWindowSec * 1000;
    // Facts expire a window after they were last true.
    if (st.saturated && now - st.saturated.toMs > win) st.saturated = undefined;
    if (st.pool && now - st.pool.atMs > win) st.pool = undefined;
    if (ev.kind === 'network') {
      const n = ev.network;
      if (!n || n.op !== 'connect' || typeof n.dstPort !== 'number' || !cfg.minerPorts.includes(n.dstPort))
        return undefined;
      st.pool = { atMs: now, peer: `${n.dstIp ?? '?'}:${n.dstPort}` };
    } else {
      const m = ev.metric;
      if (!m || typeof m.cpu !== 'number' || !Number.isFinite(m.cpu)) return undefined;
      // A paused container's samples say nothing about what it runs (the detector skips them too).
      if (st.paused) return undefined;
      const limit = typeof m.cpuLimit === 'number' && m.cpuLimit > 0 ? m.cpuLimit : cfg.defaultCpuLimitCores;
      // Throttled most of its periods: it sits at its CPU limit, whatever limit we know of.
      const throttled =
        typeof m.cpuThrottled === 'number' && m.cpuThrottled >= 0.5 && m.cpuThrottled <= 1 && m.cpu > 0.05;
      if (m.cpu >= cfg.minerCpuShare * limit || throttled) {
        st.cpuHighSinceMs ??= now;
        if (now - st.cpuHighSinceMs >= cfg.minerSustainSec * 1000)
          st.saturated = { fromMs: st.cpuHighSinceMs, toMs: now };
      } else st.cpuHighSinceMs = undefined;
    }
    const sat = st.saturated;
    const pool = st.pool;
    if (!sat || !pool) return undefined;
    if (pool.atMs < sat.fromMs - win || pool.atMs > sat.toMs + win) return undefined;
    const pairing = `${sat.fromMs}|${pool.atMs}`;
    if (st.minerReported === pairing) return undefined;
    st.minerReported = pairing;
    // Both ends of the run are samples of this container's clock: the duration is never negative.
    const sustained = (sat.toMs - sat.fromMs) / 1000;
    const gap = (pool.atMs - sat.fromMs) / 1000;
    const when =
      pool.atMs < sat.fromMs
        ? `${(-gap).toFixed(0)}s before the run`
        : pool.atMs > sat.toMs
          ? `${((pool.atMs - sat.toMs) / 1000).toFixed(0)}s after the run`
          : `${gap.toFixed(0)}s into the run`;
    return {
      output: `Crypto-miner behaviour in ${where(ev)}: CPU near its limit for ${sustained.toFixed(0)}s and a connection to mining-pool port ${pool.peer} (${when})`,
      fields: {
        ...common(ev),
        'vigie.pool_peer': pool.peer,
        'vigie.cpu_saturated_sec': Math.round(sustained),
      },
      fact: `pool ${pool.peer}`,
    };
  },
};

const forkBombRule: RuntimeRule = {
  id: 'fork_bomb',
  rule: 'Fork bomb',
  description:
    'The number of processes in a container jumps (by forkPidsJump over the last samples, past forkPidsAbs, ' +
    'or to 90% of its pids limit), or it executes programs at a runaway rate.',
  priority: 'Critical',
  tags: ['container', 'process', 'mitre_impact', 'T1499'],
  mitre: [{ tactic: 'Impact', technique: 'T1499', name: 'Endpoint Denial of Service' }],
  kinds: ['metric', 'process'],
  match(ev, ctx) {
    const st = ctx.state;
    const cfg = ctx.cfg;
    if (ev.kind === 'process') {
      const ring = st.execTimes;
      ring[st.execPos] = ctx.nowMs;
      st.execPos = st.execPos + 1 === ring.length ? 0 : st.execPos + 1;
      if (st.execFilled < ring.length) st.execFilled++;
      if (st.execFilled < ring.length) return undefined;
      // The ring holds the last forkExecCount execs; the oldest sits at execPos.
      const span = ctx.nowMs - ring[st.execPos];
      if (span > cfg.forkExecWindowSec * 1000) return undefined;
      return {
        output: `Fork bomb in ${where(ev)}: ${ring.length} programs executed in ${(span / 1000).toFixed(1)}s`,
        fields: {
          ...common(ev),
          'vigie.exec_count': ring.length,
          'vigie.window_sec': Math.round(span / 100) / 10,
        },
        fact: 'exec rate',
      };
    }
    const m = ev.metric;
    if (!m || typeof m.pids !== 'number' || !Number.isFinite(m.pids)) return undefined;
    const pids = m.pids;
    let low = pids;
    for (let i = 0; i < st.pidsFilled; i++) if (st.pids[i] < low) low = st.pids[i];
    st.pids[st.pidsPos] = pids;
    st.pidsPos = (st.pidsPos + 1) % st.pids.length;
    if (st.pidsFilled < st.pids.length) st.pidsFilled++;
    const limit = typeof m.pidsLimit === 'number' && m.pidsLimit > 0 ? m.pidsLimit : 0;
    let why: string | undefined;
    if (pids - low >= cfg.forkPidsJump) why = `pids rose from ${low} to ${pids}`;
    else if (pids >= cfg.forkPidsAbs) why = `${pids} processes`;
    else if (limit > 0 && pids >= cfg.forkPidsLimitShare * limit)
      why = `${pids} processes of a limit of ${limit}`;
    if (!why) return undefined;
    return {
      output: `Fork bomb in ${where(ev)}: ${why}`,
      fields: {
        ...common(ev),
        'vigie.pids': pids,
        'vigie.pids_before': low,
        'vigie.pids_limit': limit || null,
      },
      fact: 'pids',
    };
  },
};

export const RUNTIME_RULES: readonly RuntimeRule[] = [
  shellRule,
  writeEtcRule,
  writeBinRule,
  sensitiveReadRule,
  packageRule,
  dropExecRule,
  unusualPortRule,
  minerRule,
  forkBombRule,
];
