import { describe, expect, it } from 'vitest';
import { isWriteOpen, SensorParser, unpackSyscalls } from '../../src/sources/bpftrace/parser.js';
import { containerIdFromProcCgroup, ownCgroupId } from '../../src/sources/bpftrace/cgroups.js';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/sources/bpftrace/program.js';
import { metricFromStats } from '../../src/sources/docker.js';

const j = (data: string) => JSON.stringify({ type: 'printf', data });

describe('sensor output parser', () => {
  it('unpacks 10-bit syscall ids, oldest first', () => {
    // read(0) write(1) openat(257) close(3): ((((0<<10)|1)<<10|257)<<10)|3 = 1311747
    expect(((((0 << 10) | 1) << 10) | 257) * 1024 + 3).toBe(1311747);
    expect(unpackSyscalls(0, 1311747, 4)).toEqual([0, 1, 257, 3]);
    // Six ids 5..10: the newest three in lo (10 | 9<<10 | 8<<20), the oldest three in hi (7 | 6<<10 | 5<<20).
    expect(10 + (9 << 10) + (8 << 20)).toBe(8397834);
    expect(7 + (6 << 10) + (5 << 20)).toBe(5249031);
    expect(unpackSyscalls(5249031, 8397834, 6)).toEqual([5, 6, 7, 8, 9, 10]);
    const p = new SensorParser();
    const r = p.parseLine(j('S\t42\t10\t11\thttpd\t4\t0\t1311747\n'));
    expect(r).toMatchObject({
      t: 'syscalls',
      cgroup: 42,
      pid: 10,
      tid: 11,
      names: ['read', 'write', 'openat', 'close'],
    });
    // A comm with characters JSON escapes takes the general path and gives the same result.
    const q = p.parseLine(j('S\t42\t10\t11\tweird"name\t1\t0\t3\n'));
    expect(q).toMatchObject({ t: 'syscalls', comm: 'weird"name', names: ['close'] });
  });

  it('joins argv to the exec that follows it and maps fields', () => {
    const p = new SensorParser();
    expect(p.parseLine(j('A\t77\n'))).toBeUndefined();
    expect(p.parseLine(JSON.stringify({ type: 'join', data: 'cat /etc/shadow' }))).toBeUndefined();
    const r = p.parseLine(j('E\t9\t77\t77\texe\t70\t0\tsh\t1\t/proc/self/exe\n'));
    expect(r).toMatchObject({
      t: 'exec',
      pid: 77,
      ppid: 70,
      pcomm: 'sh',
      tty: 1,
      filename: '/proc/self/exe',
      cmdline: 'cat /etc/shadow',
      argv0: 'cat',
    });
    // The pre-tty layout (one field short) is malformed, counted, not misread.
    expect(p.parseLine(j('E\t9\t77\t77\texe\t70\t0\tsh\t/proc/self/exe\n'))).toBeUndefined();
    expect(p.stats.malformed).toBeGreaterThan(0);
  });

  it('normalises v4-mapped peers and reads connect/accept/open lines', () => {
    const p = new SensorParser();
    expect(p.parseLine(j('P\t9\t1\t1\thttpd\t10\t::ffff:172.17.0.1\t40000\n'))).toMatchObject({
      t: 'accept',
      ip: '172.17.0.1',
      port: 40000,
    });
    expect(p.parseLine(j('C\t9\t1\t1\tnc\t2\t10.0.0.1\t3333\n'))).toMatchObject({
      t: 'connect',
      ip: '10.0.0.1',
      port: 3333,
    });
    expect(p.parseLine(j('O\t9\t1\t1\tcat\t0\t/etc/shadow\n'))).toMatchObject({
      t: 'open',
      flags: 0,
      path: '/etc/shadow',
    });
    expect(isWriteOpen(0)).toBe(false);
    expect(isWriteOpen(1)).toBe(true); // O_WRONLY
    expect(isWriteOpen(0o100)).toBe(true); // O_CREAT
    expect(isWriteOpen(0o2000000)).toBe(false); // O_CLOEXEC alone
  });

  it('counts malformed lines and lost events, ignores other bpftrace messages', () => {
    const p = new SensorParser();
    p.parseLine('not json');
    p.parseLine(j('S\t1\t2\n'));
    p.parseLine(j('S\t1\t2\t3\tc\t9\t0\t1\n')); // 9 ids cannot fit
    p.parseLine(j('Z\t1\t2\t3\tc\n'));
    p.parseLine(JSON.stringify({ type: 'lost_events', data: { events: 12 } }));
    p.parseStderr('Lost 30 events');
    p.parseLine(JSON.stringify({ type: 'map', data: {} }));
    p.parseLine(JSON.stringify({ type: 'attached_probes', data: { probes: 13 } }));
    expect(p.stats.malformed).toBe(4);
    expect(p.stats.lost).toBe(42);
    expect(p.stats.attached).toBe(13);
    expect(p.stats.records).toBe(0);
  });
});

describe('cgroup attribution helpers', () => {
  it('finds the container id in /proc/<pid>/cgroup for both drivers', () => {
    const id = 'a'.repeat(64);
    expect(containerIdFromProcCgroup(`12:pids:/docker/${id}\n0::/docker/${id}\n`)).toBe(id);
    expect(containerIdFromProcCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerIdFromProcCgroup('0::/\n1:name=systemd:/\n')).toBeUndefined();
  });

  it('finds its own cgroup id to exclude, and nothing at the root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-cg-'));
    try {
      const f = join(dir, 'cgroup');
      writeFileSync(f, '4:memory:/x\n0::/\n');
      expect(ownCgroupId(f)).toBeUndefined();
      writeFileSync(f, '0::/no/such/group\n');
      expect(ownCgroupId(f)).toBeUndefined();
      const unified = '/sys/fs/cgroup/unified/docker';
      if (existsSync(unified)) {
        writeFileSync(f, '0::/docker\n');
        expect(ownCgroupId(f)).toBe(statSync(unified).ino);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds a program filtered in the kernel to non-root cgroups', () => {
    const prog = buildProgram({ batch: 4, excludeCgroups: [77n] });
    expect(prog).toContain('/cgroup != 1 && cgroup != 77/');
    expect(prog).toContain('if (@sn[tid] >= 4)');
    expect(buildProgram({ syscalls: false })).not.toContain('raw_syscalls');
  });
});

describe('docker stats → metric', () => {
  it('computes cores, memory without inactive cache, and rates', () => {
    const sample = {
      read: '2026-01-01T00:00:02.000Z',
      cpu_stats: {
        cpu_usage: { total_usage: 3_000_000_000 },
        system_cpu_usage: 20_000_000_000,
        online_cpus: 2,
        throttling_data: { periods: 20, throttled_periods: 5 },
      },
      precpu_stats: {
        cpu_usage: { total_usage: 2_000_000_000 },
        system_cpu_usage: 18_000_000_000,
        online_cpus: 2,
        throttling_data: { periods: 10, throttled_periods: 0 },
      },
      memory_stats: { usage: 10_000_000, limit: 1e9, stats: { total_inactive_file: 4_000_000 } },
      networks: { eth0: { rx_bytes: 3000, tx_bytes: 500 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 8192 },
          { op: 'Write', value: 4096 },
        ],
      },
      pids_stats: { current: 3 },
    };
    const { metric } = metricFromStats(sample, {
      t: Date.parse('2026-01-01T00:00:00.000Z'),
      netRx: 1000,
      netTx: 500,
      blkRead: 0,
      blkWrite: 0,
    });
    // 1e9 ns of cpu over 2e9 ns of system time (both cpus) × 2 cpus = 1 core
    expect(metric.cpu).toBeCloseTo(1, 9);
    expect(metric.cpuThrottled).toBeCloseTo(0.5, 9);
    expect(metric.memory).toBe(6_000_000);
    expect(metric.netRx).toBe(1000); // (3000-1000) bytes over 2 s
    expect(metric.netTx).toBe(0);
    expect(metric.blkRead).toBe(4096);
    expect(metric.pids).toBe(3);
  });
});
