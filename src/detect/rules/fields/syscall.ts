/**
 * Fields of the `syscall` source over Vigie's envelope. Falco's syscall rules speak of system calls;
 * Vigie's live sensor reports higher-level events, so this module maps one onto the other:
 *
 * - kind 'process' (an exec)          → evt.type = execve, evt.dir = '<'
 * - kind 'file' op open/unlink/...    → evt.type = openat / unlinkat / renameat2 / fchmodat / mkdirat
 * - kind 'network' op connect/accept  → evt.type = connect / accept4 / listen / sendto / recvfrom
 * - kind 'syscall'                    → the syscall's own name and direction
 *
 * Fields the envelope cannot carry are listed as unprovided (docs/rules.md); a rule whose condition
 * needs one stays inactive instead of being evaluated on an invented value.
 */
import { nsToIso, type VigieEvent } from '../../../model/event.js';
import {
  MapCatalog,
  unprovided,
  type FieldDef,
  type FieldType,
  type FieldValue,
  type Getter,
} from './types.js';

const FILE_TYPES: Readonly<Record<string, string>> = {
  open: 'openat',
  openat: 'openat',
  write: 'write',
  unlink: 'unlinkat',
  rename: 'renameat2',
  chmod: 'fchmodat',
  mkdir: 'mkdirat',
  rmdir: 'rmdir',
  symlink: 'symlinkat',
  link: 'linkat',
};
const NET_TYPES: Readonly<Record<string, string>> = {
  connect: 'connect',
  accept: 'accept4',
  listen: 'listen',
  send: 'sendto',
  recv: 'recvfrom',
};

/**
 * The Falco event type an envelope stands for, or undefined when it is not a syscall-source event.
 * For kind 'syscall' it is the name the source already resolved from the kernel's syscall number.
 */
export function syscallEventType(ev: VigieEvent): string | undefined {
  switch (ev.kind) {
    case 'syscall':
      return ev.syscall?.name;
    case 'process':
      return 'execve';
    case 'file':
      return ev.file ? (FILE_TYPES[ev.file.op] ?? ev.file.op) : undefined;
    case 'network':
      return ev.network ? (NET_TYPES[ev.network.op] ?? ev.network.op) : undefined;
    default:
      return undefined;
  }
}

/**
 * What the syscall fields read besides the event itself. One per loaded rule set (the load result owns
 * it, the engines built on that result write to it): rules compiled together share their extractors.
 */
export class SyscallFieldState {
  /** Falco's evt.num: set by the engine before each event is evaluated. */
  eventNumber = 0;
  private lastEv: VigieEvent | undefined;
  private lastType: string | undefined;

  /** syscallEventType, remembered for the last event: the index and several fields ask on the same event. */
  eventType(ev: VigieEvent): string | undefined {
    if (ev === this.lastEv) return this.lastType;
    this.lastType = syscallEventType(ev);
    this.lastEv = ev;
    return this.lastType;
  }
}

const ERRNO: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  5: 'EIO',
  9: 'EBADF',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  24: 'EMFILE',
  28: 'ENOSPC',
  30: 'EROFS',
  32: 'EPIPE',
  38: 'ENOSYS',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH',
  115: 'EINPROGRESS',
};

const O_FLAGS: readonly (readonly [number, string])[] = [
  [0o1, 'O_WRONLY'],
  [0o2, 'O_RDWR'],
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o2000000, 'O_CLOEXEC'],
  [0o20000000, 'O_TMPFILE'],
];

function flagNames(flags: number): string {
  const names = (flags & 3) === 0 ? ['O_RDONLY'] : [];
  for (const [bit, name] of O_FLAGS) if (flags & bit) names.push(name);
  return names.join('|');
}

function retOf(ev: VigieEvent): number | undefined {
  switch (ev.kind) {
    case 'file':
      return ev.file?.ret ?? ev.syscall?.ret;
    case 'network':
      return ev.network?.ret ?? ev.syscall?.ret;
    default:
      return ev.syscall?.ret;
  }
}

function splitArgs(cmdline: string): string[] {
  return cmdline.split(/\s+/).filter(Boolean);
}

/** Falco's proc.args: the command line without argv[0]. */
function procArgs(ev: VigieEvent): string | undefined {
  const c = ev.proc?.cmdline;
  if (c === undefined) return undefined;
  const sp = c.indexOf(' ');
  if (sp < 0) return '';
  // Sources join argv with single spaces; only collapse runs when there are any.
  const rest = c.slice(sp + 1);
  return rest.includes('  ') || rest.startsWith(' ') ? splitArgs(rest).join(' ') : rest;
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}
function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function isV6(ip: string | undefined): boolean {
  return ip !== undefined && ip.includes(':');
}

// Socket endpoints: for connect/send the local end is the client; for accept/recv the peer is.
function endpoints(ev: VigieEvent):
  | {
      cip?: string;
      cport?: number;
      sip?: string;
      sport?: number;
      lip?: string;
      lport?: number;
      rip?: string;
      rport?: number;
    }
  | undefined {
  const n = ev.network;
  if (!n) return undefined;
  const src = { ip: n.srcIp, port: n.srcPort };
  const dst = { ip: n.dstIp, port: n.dstPort };
  if (n.op === 'accept' || n.op === 'recv') {
    // src is the remote peer (the client), dst the local listening socket (the server).
    return {
      cip: src.ip,
      cport: src.port,
      sip: dst.ip,
      sport: dst.port,
      lip: dst.ip,
      lport: dst.port,
      rip: src.ip,
      rport: src.port,
    };
  }
  if (n.op === 'listen') return { sip: src.ip, sport: src.port, lip: src.ip, lport: src.port };
  return {
    cip: src.ip,
    cport: src.port,
    sip: dst.ip,
    sport: dst.port,
    lip: src.ip,
    lport: src.port,
    rip: dst.ip,
    rport: dst.port,
  };
}

function fdName(ev: VigieEvent): string | undefined {
  if (ev.file) return ev.file.path;
  const e = endpoints(ev);
  if (!e) return ev.syscall?.args?.name ?? ev.syscall?.args?.path ?? ev.syscall?.args?.fd;
  if (ev.network?.proto === 'unix') return ev.network.dstIp ?? ev.network.srcIp;
  if (ev.network?.op === 'listen') return `${e.lip ?? ''}:${e.lport ?? ''}`;
  return `${e.cip ?? ''}:${e.cport ?? ''}->${e.sip ?? ''}:${e.sport ?? ''}`;
}

function evtArg(name: string): Getter {
  return (ev) => {
    const a = ev.syscall?.args?.[name];
    if (a !== undefined) return a;
    if (ev.file) {
      switch (name) {
        case 'name':
        case 'path':
        case 'pathname':
        case 'filename':
        case 'oldpath':
          return ev.file.path;
        case 'flags':
          return ev.file.flags !== undefined
            ? flagNames(ev.file.flags)
            : ev.file.write
              ? 'O_WRONLY'
              : undefined;
        case 'fd':
        case 'res':
          return ev.file.ret;
      }
      return undefined;
    }
    if (ev.network) {
      switch (name) {
        case 'fd':
        case 'res':
          return ev.network.ret;
        case 'tuple':
          return fdName(ev);
      }
      return undefined;
    }
    if (ev.kind === 'process' && ev.proc) {
      switch (name) {
        case 'filename':
        case 'exe':
          return ev.proc.exe;
        case 'args':
          return procArgs(ev);
        case 'res':
          return 0;
      }
    }
    return undefined;
  };
}

function ipField(which: 'cip' | 'sip' | 'lip' | 'rip' | 'ip'): Getter {
  return (ev) => {
    const e = endpoints(ev);
    if (!e) return undefined;
    if (which === 'ip') {
      const out = [e.cip, e.sip].filter((x): x is string => x !== undefined);
      return out.length ? out : undefined;
    }
    return e[which];
  };
}

function portField(which: 'cport' | 'sport' | 'lport' | 'rport' | 'port'): Getter {
  return (ev) => {
    const e = endpoints(ev);
    if (!e) return undefined;
    if (which === 'port') {
      const out = [e.cport, e.sport].filter((x): x is number => x !== undefined);
      return out.length ? out : undefined;
    }
    return e[which];
  };
}

function p(
  name: string,
  type: FieldType,
  desc: string,
  get: Getter,
  opts: { list?: boolean } = {},
): FieldDef {
  return { name, type, desc, provided: true, list: opts.list, arg: 'none', make: () => get };
}

function pa(
  name: string,
  type: FieldType,
  desc: string,
  make: (arg: string | undefined) => Getter,
  arg: 'optional' | 'required',
): FieldDef {
  return { name, type, desc, provided: true, arg, make };
}

function imageRepo(image: string | undefined): string | undefined {
  if (image === undefined) return undefined;
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
function imageTag(image: string | undefined): string | undefined {
  if (image === undefined) return undefined;
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : 'latest';
}

/** The fields Vigie provides, reading `state` for evt.num and the event type. */
function providedFields(state: SyscallFieldState): FieldDef[] {
  const eventType = (ev: VigieEvent): string | undefined => state.eventType(ev);
  return [
    p('evt.type', 'string', 'event type (execve for exec events, openat for opens, connect, ...)', eventType),
    // A process/file/network event stands for a completed call, so it reads as the exit ('<'), whatever
    // probe the sensor used; raw syscall events keep their own direction.
    p('evt.dir', 'string', "direction: '<' exit, '>' enter", (ev) =>
      ev.kind === 'syscall' ? (ev.syscall?.dir ?? '<') : eventType(ev) ? '<' : undefined,
    ),
    p('evt.num', 'number', 'event number within this engine', () => state.eventNumber),
    p('evt.res', 'string', 'SUCCESS or the errno name', (ev) => {
      if (!eventType(ev)) return undefined;
      const r = retOf(ev);
      if (r === undefined || r >= 0) return 'SUCCESS';
      return ERRNO[-r] ?? String(r);
    }),
    p('evt.rawres', 'number', 'return value', (ev) => (eventType(ev) ? (retOf(ev) ?? 0) : undefined)),
    p('evt.failed', 'bool', 'true when the call failed', (ev) =>
      eventType(ev) ? (retOf(ev) ?? 0) < 0 : undefined,
    ),
    p('evt.time', 'string', 'event time', (ev) => nsToIso(ev.ts).slice(11, 29)),
    p('evt.time.iso8601', 'string', 'event time ISO-8601', (ev) => nsToIso(ev.ts)),
    p('evt.rawtime', 'number', 'event time ns', (ev) => Number(ev.ts)),
    p('evt.hostname', 'string', 'host name', (ev) => ev.host),
    p('evt.source', 'string', 'event source', (ev) => (eventType(ev) ? 'syscall' : undefined)),
    p('evt.is_open_read', 'bool', 'open for reading', (ev) => {
      if (ev.file?.op !== 'open') return ev.file ? false : undefined;
      if (ev.file.flags !== undefined) return (ev.file.flags & 3) === 0 || (ev.file.flags & 3) === 2;
      return !ev.file.write;
    }),
    p('evt.is_open_write', 'bool', 'open for writing', (ev) => {
      if (ev.file?.op !== 'open') return ev.file ? false : undefined;
      if (ev.file.flags !== undefined) return (ev.file.flags & 3) !== 0 || (ev.file.flags & 0o1000) !== 0;
      return ev.file.write === true;
    }),
    pa(
      'evt.arg',
      'string',
      'argument by name (evt.arg.NAME or evt.arg[NAME])',
      (arg) => evtArg(arg ?? ''),
      'required',
    ),
    pa('evt.rawarg', 'string', 'raw argument by name', (arg) => evtArg(arg ?? ''), 'required'),
    p('evt.args', 'string', 'all arguments', (ev) => {
      const a = ev.syscall?.args;
      if (a)
        return Object.entries(a)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
      if (ev.file)
        return `name=${ev.file.path}${ev.file.flags !== undefined ? ` flags=${flagNames(ev.file.flags)}` : ''}`;
      if (ev.network) return `tuple=${fdName(ev)}`;
      if (ev.kind === 'process') return `filename=${ev.proc?.exe ?? ''}`;
      return undefined;
    }),

    p('proc.name', 'string', 'process name (comm)', (ev) => ev.proc?.name),
    p('proc.exe', 'string', 'argv[0]', (ev) => {
      const c = ev.proc?.cmdline;
      if (!c) return ev.proc?.exe;
      const sp = c.indexOf(' ');
      return sp < 0 ? c : c.slice(0, sp);
    }),
    p('proc.exepath', 'string', 'full executable path', (ev) => ev.proc?.exe),
    p('proc.cmdline', 'string', 'name and arguments', (ev) => {
      if (!ev.proc?.name) return undefined;
      const a = procArgs(ev);
      return a ? `${ev.proc.name} ${a}` : ev.proc.name;
    }),
    p('proc.args', 'string', 'arguments', procArgs),
    p('proc.pid', 'number', 'process id', (ev) => ev.proc?.pid),
    p('proc.tid', 'number', 'thread id', (ev) => ev.proc?.tid ?? ev.proc?.pid),
    p('thread.tid', 'number', 'thread id', (ev) => ev.proc?.tid ?? ev.proc?.pid),
    p('proc.ppid', 'number', 'parent process id', (ev) => ev.proc?.ppid),
    p('proc.pname', 'string', 'parent process name', (ev) => ev.proc?.pname ?? ev.proc?.anames?.[0]),
    pa(
      'proc.aname',
      'string',
      'ancestor name: proc.aname[N] the Nth ancestor (0 = the process), proc.aname any ancestor',
      (arg) => {
        if (arg === undefined || arg === '') {
          return (ev) => {
            const a = ev.proc?.anames ?? (ev.proc?.pname ? [ev.proc.pname] : undefined);
            return a && a.length ? a : undefined;
          };
        }
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 0) throw new Error(`proc.aname needs a numeric index, got "${arg}"`);
        if (n === 0) return (ev) => ev.proc?.name;
        return (ev) => ev.proc?.anames?.[n - 1] ?? (n === 1 ? ev.proc?.pname : undefined);
      },
      'optional',
    ),
    p('proc.cwd', 'string', 'working directory', (ev) => ev.proc?.cwd),
    p(
      'proc.tty',
      'number',
      'controlling terminal (0 = none), when the source knows it',
      (ev) => ev.proc?.tty,
    ),

    p('user.uid', 'number', 'user id', (ev) => ev.proc?.uid),
    p(
      'user.name',
      'string',
      'user name (only root is resolved; Vigie does not read /etc/passwd in containers)',
      (ev) => (ev.proc?.uid === 0 ? 'root' : undefined),
    ),

    p('container.id', 'string', "container id (12 chars), 'host' outside containers", (ev) =>
      ev.container?.id ? ev.container.id.slice(0, 12) : 'host',
    ),
    p('container.full_id', 'string', 'full container id', (ev) => ev.container?.id ?? 'host'),
    p('container.name', 'string', 'container name', (ev) => (ev.container ? ev.container.name : 'host')),
    p('container.image', 'string', 'image', (ev) => ev.container?.image),
    p('container.image.repository', 'string', 'image repository', (ev) => imageRepo(ev.container?.image)),
    p('container.image.tag', 'string', 'image tag', (ev) => imageTag(ev.container?.image)),
    p('container.type', 'string', 'container runtime', (ev) => (ev.container ? 'docker' : 'host')),
    p('k8s.ns.name', 'string', 'namespace', (ev) => ev.k8s?.namespace),
    p('k8s.pod.name', 'string', 'pod name', (ev) => ev.k8s?.pod),
    pa(
      'k8s.pod.label',
      'string',
      'pod label by key',
      (arg) => (ev) => ev.k8s?.labels?.[arg ?? ''],
      'required',
    ),
    p(
      'k8s.pod.labels',
      'string',
      'pod labels',
      (ev) => (ev.k8s?.labels ? Object.entries(ev.k8s.labels).map(([k, v]) => `${k}:${v}`) : undefined),
      { list: true },
    ),

    p('fd.name', 'string', 'file path, or the connection tuple', fdName),
    p('fd.nameraw', 'string', 'file path as given', (ev) => ev.file?.path),
    p('fd.directory', 'string', 'directory of the file', (ev) =>
      ev.file ? dirname(ev.file.path) : undefined,
    ),
    p('fd.filename', 'string', 'base name of the file', (ev) =>
      ev.file ? basename(ev.file.path) : undefined,
    ),
    p(
      'fd.num',
      'number',
      'file descriptor (the return value; 0 when the source reports only successful calls without it)',
      (ev) => (ev.file || ev.network ? (retOf(ev) ?? 0) : undefined),
    ),
    p('fd.typechar', 'string', 'f file, 4 ipv4, 6 ipv6, u unix', (ev) => {
      if (ev.file) return 'f';
      if (ev.network)
        return ev.network.proto === 'unix' ? 'u' : isV6(ev.network.dstIp ?? ev.network.srcIp) ? '6' : '4';
      return undefined;
    }),
    p('fd.type', 'string', 'file, ipv4, ipv6, unix', (ev) => {
      if (ev.file) return 'file';
      if (ev.network)
        return ev.network.proto === 'unix'
          ? 'unix'
          : isV6(ev.network.dstIp ?? ev.network.srcIp)
            ? 'ipv6'
            : 'ipv4';
      return undefined;
    }),
    p('fd.sockfamily', 'string', 'ip or unix', (ev) =>
      ev.network ? (ev.network.proto === 'unix' ? 'unix' : 'ip') : undefined,
    ),
    p('fd.l4proto', 'string', 'tcp, udp, ...', (ev) =>
      ev.network?.proto === 'unix' ? undefined : ev.network?.proto,
    ),
    p('fd.connected', 'bool', 'socket connected', (ev) =>
      ev.network
        ? ev.network.op !== 'listen' && (ev.network.op !== 'send' || ev.network.proto === 'tcp')
        : undefined,
    ),
    p('fd.cip', 'ip', 'client ip', ipField('cip')),
    p('fd.sip', 'ip', 'server ip', ipField('sip')),
    p('fd.lip', 'ip', 'local ip', ipField('lip')),
    p('fd.rip', 'ip', 'remote ip', ipField('rip')),
    p('fd.ip', 'ip', 'client or server ip', ipField('ip'), { list: true }),
    p('fd.cnet', 'ip', 'client ip (compared as a network)', ipField('cip')),
    p('fd.snet', 'ip', 'server ip (compared as a network)', ipField('sip')),
    p('fd.lnet', 'ip', 'local ip (compared as a network)', ipField('lip')),
    p('fd.rnet', 'ip', 'remote ip (compared as a network)', ipField('rip')),
    p('fd.net', 'ip', 'client or server ip (compared as a network)', ipField('ip'), { list: true }),
    p('fd.cport', 'number', 'client port', portField('cport')),
    p('fd.sport', 'number', 'server port', portField('sport')),
    p('fd.lport', 'number', 'local port', portField('lport')),
    p('fd.rport', 'number', 'remote port', portField('rport')),
    p('fd.port', 'number', 'client or server port', portField('port'), { list: true }),
  ];
}

/** Falco syscall-source fields that Vigie's envelope does not carry. */
const UNPROVIDED: readonly FieldDef[] = [
  unprovided(
    'evt.is_open_exec',
    'bool',
    'file created with execute permission: the sensor does not report the open mode',
  ),
  unprovided('evt.buffer', 'string', 'I/O buffers are not captured'),
  unprovided('evt.category', 'string', 'not mapped'),
  unprovided('evt.cpu', 'number', 'not captured'),
  unprovided('evt.latency', 'number', 'not captured'),
  unprovided('proc.pcmdline', 'string', 'the parent command line is not carried (only its name)'),
  unprovided('proc.pexe', 'string', 'the parent argv[0] is not carried'),
  unprovided('proc.pexepath', 'string', 'the parent executable path is not carried'),
  unprovided('proc.aexe', 'string', 'ancestor argv[0] is not carried'),
  unprovided('proc.aexepath', 'string', 'ancestor paths are not carried'),
  unprovided('proc.acmdline', 'string', 'ancestor command lines are not carried'),
  unprovided('proc.apid', 'number', 'ancestor pids are not carried'),
  unprovided('proc.vpid', 'number', 'pid inside the container namespace is not carried'),
  unprovided('proc.vpgid', 'number', 'process group is not carried'),
  unprovided('proc.vpgid.name', 'string', 'process group is not carried'),
  unprovided('proc.vpgid.exe', 'string', 'process group is not carried'),
  unprovided('proc.is_vpgid_leader', 'bool', 'process group is not carried'),
  unprovided('proc.sid', 'number', 'session is not carried'),
  unprovided('proc.sname', 'string', 'session leader is not carried'),
  unprovided('proc.env', 'string', 'environment is not captured'),
  unprovided('proc.duration', 'number', 'process start time is not carried'),
  unprovided('proc.ppid.duration', 'number', 'parent start time is not carried'),
  unprovided('proc.exe_ino', 'number', 'executable inode is not carried'),
  unprovided('proc.exe_ino.ctime', 'number', 'executable inode times are not carried'),
  unprovided('proc.exe_ino.mtime', 'number', 'executable inode times are not carried'),
  unprovided('proc.exe_ino.ctime_duration_proc_start', 'number', 'executable inode times are not carried'),
  unprovided('proc.exe_ino.ctime_duration_pidns_start', 'number', 'executable inode times are not carried'),
  unprovided('proc.is_exe_upper_layer', 'bool', 'overlayfs layer of the executable is not carried'),
  unprovided('proc.is_exe_from_memfd', 'bool', 'memfd origin of the executable is not carried'),
  unprovided('proc.is_exe_writable', 'bool', 'executable permissions are not carried'),
  unprovided('proc.is_sid_leader', 'bool', 'session is not carried'),
  unprovided('proc.stdin.name', 'string', 'standard streams are not carried'),
  unprovided('proc.stdout.name', 'string', 'standard streams are not carried'),
  unprovided('proc.fdopencount', 'number', 'fd table is not carried'),
  unprovided('thread.cap_permitted', 'string', 'capabilities are not carried'),
  unprovided('thread.cap_effective', 'string', 'capabilities are not carried'),
  unprovided('thread.cap_inheritable', 'string', 'capabilities are not carried'),
  unprovided('user.loginuid', 'number', 'audit login uid is not carried'),
  unprovided('user.loginname', 'string', 'audit login name is not carried'),
  unprovided('user.homedir', 'string', 'passwd database of the container is not read'),
  unprovided('user.shell', 'string', 'passwd database of the container is not read'),
  unprovided('group.gid', 'number', 'group id is not carried'),
  unprovided('group.name', 'string', 'group database is not read'),
  unprovided('container.privileged', 'bool', 'container configuration is not attached to runtime events'),
  unprovided('container.mounts', 'string', 'container configuration is not attached to runtime events', true),
  unprovided('container.mount', 'string', 'container configuration is not attached to runtime events'),
  unprovided('container.mount.dest', 'string', 'container configuration is not attached to runtime events'),
  unprovided('container.mount.source', 'string', 'container configuration is not attached to runtime events'),
  unprovided('container.start_ts', 'number', 'container start time is not attached to runtime events'),
  unprovided('container.image.id', 'string', 'image digest is not attached to runtime events'),
  unprovided('container.image.digest', 'string', 'image digest is not attached to runtime events'),
  unprovided('container.healthcheck', 'string', 'container configuration is not attached'),
  unprovided('container.liveness_probe', 'string', 'container configuration is not attached'),
  unprovided('container.readiness_probe', 'string', 'container configuration is not attached'),
  unprovided('container.ip', 'ip', 'container network settings are not attached'),
  unprovided('k8s.pod.uid', 'string', 'pod uid is not attached'),
  unprovided('k8s.pod.id', 'string', 'pod uid is not attached'),
  unprovided('k8s.ns.id', 'string', 'namespace uid is not attached'),
  unprovided('fd.name_changed', 'bool', 'fd table history is not tracked'),
  unprovided('fd.types', 'string', 'fd table is not tracked', true),
  unprovided('fd.cip.name', 'string', 'DNS names of endpoints are not resolved'),
  unprovided('fd.sip.name', 'string', 'DNS names of endpoints are not resolved'),
  unprovided('fd.lip.name', 'string', 'DNS names of endpoints are not resolved'),
  unprovided('fd.rip.name', 'string', 'DNS names of endpoints are not resolved'),
  unprovided('fd.dev', 'number', 'device numbers are not carried'),
  unprovided('fd.ino', 'number', 'inode numbers are not carried'),
  unprovided('fd.uid', 'string', 'fd table is not tracked'),
  unprovided('fd.is_upper_layer', 'bool', 'overlayfs layer is not carried'),
  unprovided('fs.path.name', 'string', 'fs.path fields are not mapped'),
  unprovided('fs.path.nameraw', 'string', 'fs.path fields are not mapped'),
  unprovided('fs.path.source', 'string', 'fs.path fields are not mapped'),
  unprovided('fs.path.sourceraw', 'string', 'fs.path fields are not mapped'),
  unprovided('fs.path.target', 'string', 'fs.path fields are not mapped'),
  unprovided('fs.path.targetraw', 'string', 'fs.path fields are not mapped'),
];

/** The syscall source's field catalog, over `state` (one per loaded rule set). */
export function createSyscallCatalog(state: SyscallFieldState): MapCatalog {
  const provided = providedFields(state);
  const evtArgDef = provided.find((f) => f.name === 'evt.arg')!;
  const evtRawArgDef = provided.find((f) => f.name === 'evt.rawarg')!;
  return new MapCatalog(
    'syscall',
    [...provided, ...UNPROVIDED],
    [
      { prefix: 'evt.arg.', def: evtArgDef },
      { prefix: 'evt.rawarg.', def: evtRawArgDef },
    ],
  );
}

export type { FieldValue };
