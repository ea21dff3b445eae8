/**
 * The bpftrace program the sensor runs. Every probe is filtered in the kernel to tasks outside the
 * root cgroup-v2 (`cgroup != 1`: host processes sit in the root on these machines), so host activity,
 * Vigie itself and bpftrace never reach user space.
 *
 * Output lines (printf, tab-separated; bpftrace -f json wraps each in {"type":"printf","data":...}):
 *   S cg pid tid comm n hi lo       n syscall ids of one thread, 10 bits each, newest in the lowest
 *                                   bits of (hi << 30 | lo); split in two so user space reads them
 *                                   as plain numbers
 *   A tid comm                      followed by a {"type":"join"} record: argv of the execve; comm is
 *                                   the caller's name before the exec replaces it
 *   E cg pid tid comm ppid uid pcomm tty filename    sched_process_exec (a successful exec); tty is
 *                                                   the controlling terminal's index + 1, 0 for none
 *   C cg pid tid comm family ip port                connect() attempt
 *   P cg pid tid comm family ip port                accepted connection with its peer
 *   O cg pid tid comm flags path                    open()/openat()
 *
 * Syscalls are the volume: one printf per syscall costs more than the syscall, so ids are packed
 * per thread, `batch` at a time, into one 64-bit value and printed together (a thread's leftover
 * ids are flushed when it exits). Sequences stay exact and ordered per thread.
 */
export interface ProgramOptions {
  /** Emit raw syscall sequences (for the syscall-sequence baseline). */
  syscalls?: boolean;
  /** Syscall ids per printed line, 1..6 (6 × 10 bits fit a u64). */
  batch?: number;
  /** Extra cgroup ids to exclude in the kernel (Vigie's own cgroup when it runs in a container). */
  excludeCgroups?: bigint[];
}

export const SYSCALL_BITS = 10;

export function buildProgram(opts: ProgramOptions = {}): string {
  const batch = Math.max(1, Math.min(6, Math.floor(opts.batch ?? 6)));
  const excl = (opts.excludeCgroups ?? []).map((c) => ` && cgroup != ${c.toString()}`).join('');
  const f = `cgroup != 1${excl}`;
  const port = (v: string) => `((${v} & 0xff) << 8) | (${v} >> 8)`;
  const parts: string[] = [];
  if (opts.syscalls !== false) {
    parts.push(`tracepoint:raw_syscalls:sys_enter /${f}/ {
  @sq[tid] = (@sq[tid] << ${SYSCALL_BITS}) | (args->id & 0x3ff);
  @sn[tid] = @sn[tid] + 1;
  if (@sn[tid] >= ${batch}) {
    printf("S\\t%llu\\t%d\\t%d\\t%s\\t%d\\t%llu\\t%llu\\n", cgroup, pid, tid, comm, ${batch}, @sq[tid] >> 30, @sq[tid] & 0x3fffffff);
    delete(@sq[tid]);
    delete(@sn[tid]);
  }
}
tracepoint:sched:sched_process_exit /${f} && @sn[tid] != 0/ {
  printf("S\\t%llu\\t%d\\t%d\\t%s\\t%d\\t%llu\\t%llu\\n", cgroup, pid, tid, comm, @sn[tid], @sq[tid] >> 30, @sq[tid] & 0x3fffffff);
  delete(@sq[tid]);
  delete(@sn[tid]);
}`);
  }
  parts.push(`tracepoint:syscalls:sys_enter_execve /${f}/ {
  printf("A\\t%d\\t%s\\n", tid, comm);
  join(args->argv);
}
tracepoint:sched:sched_process_exec /${f}/ {
  $tty = curtask->signal->tty;
  printf("E\\t%llu\\t%d\\t%d\\t%s\\t%d\\t%d\\t%s\\t%d\\t%s\\n", cgroup, pid, tid, comm, curtask->real_parent->tgid, uid, curtask->real_parent->comm, $tty != 0 ? $tty->index + 1 : 0, str(args->filename));
}
tracepoint:syscalls:sys_enter_connect /${f}/ {
  $sa = (struct sockaddr_in *)args->uservaddr;
  if ($sa->sin_family == 2) {
    printf("C\\t%llu\\t%d\\t%d\\t%s\\t2\\t%s\\t%d\\n", cgroup, pid, tid, comm, ntop(2, $sa->sin_addr.s_addr), ${port('$sa->sin_port')});
  }
  if ($sa->sin_family == 10) {
    $s6 = (struct sockaddr_in6 *)args->uservaddr;
    printf("C\\t%llu\\t%d\\t%d\\t%s\\t10\\t%s\\t%d\\n", cgroup, pid, tid, comm, ntop(10, $s6->sin6_addr.in6_u.u6_addr8), ${port('$s6->sin6_port')});
  }
}
tracepoint:syscalls:sys_enter_accept,tracepoint:syscalls:sys_enter_accept4 /${f}/ {
  @acc[tid] = (uint64)args->upeer_sockaddr;
}
tracepoint:syscalls:sys_exit_accept,tracepoint:syscalls:sys_exit_accept4 /${f}/ {
  $addr = @acc[tid];
  delete(@acc[tid]);
  if (args->ret >= 0) {
    if ($addr != 0) {
      $sa = (struct sockaddr_in *)$addr;
      if ($sa->sin_family == 2) {
        printf("P\\t%llu\\t%d\\t%d\\t%s\\t2\\t%s\\t%d\\n", cgroup, pid, tid, comm, ntop(2, $sa->sin_addr.s_addr), ${port('$sa->sin_port')});
      }
      if ($sa->sin_family == 10) {
        $s6 = (struct sockaddr_in6 *)$addr;
        printf("P\\t%llu\\t%d\\t%d\\t%s\\t10\\t%s\\t%d\\n", cgroup, pid, tid, comm, ntop(10, $s6->sin6_addr.in6_u.u6_addr8), ${port('$s6->sin6_port')});
      }
    } else {
      // accept(fd, NULL, NULL): servers such as busybox httpd ask getpeername() later, often in a
      // forked child that inherits the descriptor, hence the (cgroup, fd) key.
      @afd[cgroup, args->ret] = 1;
    }
  }
}
tracepoint:syscalls:sys_enter_getpeername /${f} && @afd[cgroup, args->fd] != 0/ {
  delete(@afd[cgroup, args->fd]);
  @gpn[tid] = (uint64)args->usockaddr;
}
tracepoint:syscalls:sys_exit_getpeername /${f} && @gpn[tid] != 0/ {
  $sa = (struct sockaddr_in *)@gpn[tid];
  delete(@gpn[tid]);
  if (args->ret == 0 && $sa->sin_family == 2) {
    printf("P\\t%llu\\t%d\\t%d\\t%s\\t2\\t%s\\t%d\\n", cgroup, pid, tid, comm, ntop(2, $sa->sin_addr.s_addr), ${port('$sa->sin_port')});
  }
}
tracepoint:syscalls:sys_enter_openat /${f}/ {
  printf("O\\t%llu\\t%d\\t%d\\t%s\\t%d\\t%s\\n", cgroup, pid, tid, comm, args->flags, str(args->filename));
}
tracepoint:syscalls:sys_enter_open /${f}/ {
  printf("O\\t%llu\\t%d\\t%d\\t%s\\t%d\\t%s\\n", cgroup, pid, tid, comm, args->flags, str(args->filename));
}`);
  return parts.join('\n') + '\n';
}
