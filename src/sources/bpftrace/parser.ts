/**
 * Parser for the sensor's `bpftrace -f json` output (see program.ts for the line formats).
 * Pure: one line in, zero or more records out; malformed lines are counted and skipped, lost-event
 * notices are summed. The source turns records into VigieEvents once the cgroup is attributed.
 */
import { SYSCALL_BITS } from './program.js';
import { syscallName } from '../../model/syscalls.js';

interface Base {
  /** cgroup-v2 id (an inode number: well below 2^53). */
  cgroup: number;
  pid: number;
  tid: number;
  comm: string;
}

export type SensorRecord =
  | (Base & {
      t: 'syscalls';
      /** Kernel numbers, oldest first: the calls' identity (baselines learn these). */
      nrs: number[];
      /** The same calls named (model/syscalls.ts), for the event's `syscall.name` that rules match. */
      names: string[];
    })
  | (Base & {
      t: 'exec';
      ppid: number;
      uid: number;
      pcomm: string;
      /** Controlling terminal: its index + 1, 0 when none (an interactive `docker exec -t` has one). */
      tty: number;
      filename: string;
      /** argv joined by spaces, when the execve probe delivered it. */
      cmdline?: string;
      /** argv[0] when known. */
      argv0?: string;
      /**
       * The name of the process that called execve, before the exec replaced it: the parent's for
       * a forked child, the previous program's for an exec in place (`nc -e /bin/sh`).
       */
      caller?: string;
    })
  | (Base & { t: 'connect' | 'accept'; family: number; ip: string; port: number })
  | (Base & { t: 'open'; flags: number; path: string });

export interface ParserStats {
  lines: number;
  records: number;
  malformed: number;
  /** Events the kernel could not hand over (perf buffer full), as bpftrace reports them. */
  lost: number;
  attached: number;
}

const O_ACCMODE = 3;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
/** Opened for writing: O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or O_APPEND. */
export function isWriteOpen(flags: number): boolean {
  return (flags & O_ACCMODE) !== 0 || (flags & (O_CREAT | O_TRUNC | O_APPEND)) !== 0;
}

/**
 * Unpack `n` syscall ids of 10 bits each from (hi << 30 | lo), the newest in the lowest bits;
 * returned oldest first. `out` is reused when given (allocation-free hot path).
 */
export function unpackSyscalls(
  hi: number,
  lo: number,
  n: number,
  out: number[] = new Array<number>(n),
): number[] {
  out.length = n;
  for (let k = 0; k < n; k++) {
    const v = k < 3 ? lo >>> (SYSCALL_BITS * k) : hi >>> (SYSCALL_BITS * (k - 3));
    out[n - 1 - k] = v & 0x3ff;
  }
  return out;
}

function normIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

const DEC = /^\d+$/;
const PRINTF_PREFIX = '{"type": "printf", "data": "';
const SYSCALL_PREFIX = PRINTF_PREFIX + 'S\\t';
const INT = /^-?\d+$/;

export class SensorParser {
  readonly stats: ParserStats = { lines: 0, records: 0, malformed: 0, lost: 0, attached: 0 };
  /** tid of the last execve probe waiting for its argv (the next "join" record). */
  private pendingArgvTid = -1;
  private argvByTid = new Map<number, string>();
  /** The caller's name at the execve of a tid, until its exec record comes. */
  private callerByTid = new Map<number, string>();
  /** The first few malformed lines, for the operator. */
  readonly malformedSamples: string[] = [];

  /** Parse one output line; returns the record it completes, if any. */
  parseLine(line: string): SensorRecord | undefined {
    if (line.length === 0) return undefined;
    this.stats.lines++;
    // Fast path for the bulk (syscall batches): numbers and a comm without JSON escapes other than \t.
    if (
      line.startsWith(SYSCALL_PREFIX) &&
      line.endsWith('\\n"}') &&
      !/\\[^t]/.test(line.slice(SYSCALL_PREFIX.length, -4))
    ) {
      const f = line.slice(PRINTF_PREFIX.length, -4).split('\\t');
      return this.parseFields(f, line);
    }
    let msg: { type?: unknown; data?: unknown };
    try {
      msg = JSON.parse(line) as { type?: unknown; data?: unknown };
    } catch {
      return this.bad(line);
    }
    if (msg === null || typeof msg !== 'object') return this.bad(line);
    switch (msg.type) {
      case 'printf':
        if (typeof msg.data !== 'string') return this.bad(line);
        return this.parsePrintf(msg.data, line);
      case 'join':
        if (typeof msg.data !== 'string') return this.bad(line);
        if (this.pendingArgvTid >= 0) {
          this.argvByTid.set(this.pendingArgvTid, msg.data);
          // Execs whose sched_process_exec never comes (failed execve) must not grow the map.
          if (this.argvByTid.size > 4096) this.argvByTid.delete(this.argvByTid.keys().next().value as number);
        }
        this.pendingArgvTid = -1;
        return undefined;
      case 'lost_events': {
        const d = msg.data as { events?: unknown } | undefined;
        const n = typeof d?.events === 'number' ? d.events : NaN;
        if (!Number.isFinite(n)) return this.bad(line);
        this.stats.lost += n;
        return undefined;
      }
      case 'attached_probes': {
        const d = msg.data as { probes?: unknown } | undefined;
        if (typeof d?.probes === 'number') this.stats.attached = d.probes;
        return undefined;
      }
      default:
        // Other bpftrace message types (map dumps at exit, time, ...) are not ours: ignore, not malformed.
        if (typeof msg.type === 'string') return undefined;
        return this.bad(line);
    }
  }

  /** Lost-event notices printed as text on stderr ("Lost 123 events"). */
  parseStderr(line: string): boolean {
    const m = /Lost (\d+) events/i.exec(line);
    if (!m) return false;
    this.stats.lost += Number(m[1]);
    return true;
  }

  private parsePrintf(data: string, line: string): SensorRecord | undefined {
    const s = data.endsWith('\n') ? data.slice(0, -1) : data;
    return this.parseFields(s.split('\t'), line);
  }

  private parseFields(f: string[], line: string): SensorRecord | undefined {
    const tag = f[0];
    if (tag === 'A') {
      // `A tid` (older programs) or `A tid comm`; a comm may itself hold a tab.
      if (f.length < 2 || !DEC.test(f[1])) return this.bad(line);
      const tid = Number(f[1]);
      this.pendingArgvTid = tid;
      if (f.length > 2) {
        this.callerByTid.set(tid, f.slice(2).join('\t'));
        if (this.callerByTid.size > 4096)
          this.callerByTid.delete(this.callerByTid.keys().next().value as number);
      }
      return undefined;
    }
    if (f.length < 5 || !DEC.test(f[1]) || !DEC.test(f[2]) || !DEC.test(f[3])) return this.bad(line);
    const base: Base = { cgroup: Number(f[1]), pid: Number(f[2]), tid: Number(f[3]), comm: f[4] };
    let rec: SensorRecord | undefined;
    switch (tag) {
      case 'S': {
        if (f.length !== 8 || !DEC.test(f[5]) || !DEC.test(f[6]) || !DEC.test(f[7])) return this.bad(line);
        const n = Number(f[5]);
        if (n < 1 || n > 6) return this.bad(line);
        const nrs = unpackSyscalls(Number(f[6]), Number(f[7]), n);
        rec = { ...base, t: 'syscalls', nrs, names: nrs.map(syscallName) };
        break;
      }
      case 'E': {
        // The filename is last and may itself contain tabs: join the rest.
        if (f.length < 10 || !DEC.test(f[5]) || !DEC.test(f[6]) || !DEC.test(f[8])) return this.bad(line);
        const filename = f.slice(9).join('\t');
        const cmdline = this.argvByTid.get(base.tid);
        if (cmdline !== undefined) this.argvByTid.delete(base.tid);
        const argv0 = cmdline?.split(' ')[0];
        const caller = this.callerByTid.get(base.tid);
        if (caller !== undefined) this.callerByTid.delete(base.tid);
        rec = {
          ...base,
          t: 'exec',
          ppid: Number(f[5]),
          uid: Number(f[6]),
          pcomm: f[7],
          tty: Number(f[8]),
          filename,
          cmdline,
          argv0,
          caller,
        };
        break;
      }
      case 'C':
      case 'P': {
        if (f.length !== 8 || !DEC.test(f[5]) || !DEC.test(f[7])) return this.bad(line);
        rec = {
          ...base,
          t: tag === 'C' ? 'connect' : 'accept',
          family: Number(f[5]),
          ip: normIp(f[6]),
          port: Number(f[7]),
        };
        break;
      }
      case 'O': {
        if (f.length < 7 || !INT.test(f[5])) return this.bad(line);
        rec = { ...base, t: 'open', flags: Number(f[5]), path: f.slice(6).join('\t') };
        break;
      }
      default:
        return this.bad(line);
    }
    this.stats.records++;
    return rec;
  }

  private bad(line: string): undefined {
    this.stats.malformed++;
    if (this.malformedSamples.length < 5) this.malformedSamples.push(line.slice(0, 200));
    return undefined;
  }
}
