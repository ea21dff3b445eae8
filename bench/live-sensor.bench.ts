/**
 * The eBPF sensor's overhead on a syscall-heavy workload, in one run: a container copies bytes one at
 * a time (`dd bs=1`: one read and one write syscall per byte) without Vigie, then with the whole live
 * loop (Docker source, sensor, every registered detector), then with the sensor's syscall sequences
 * turned off (exec, network and file events only), alternating rounds; the workload's
 * syscall throughput is compared. Also prints what the sensor delivered and lost.
 * Needs root, dockerd and bpftrace (scripts/setup.sh).
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { Engine } from '../src/engine/engine.js';
import { createOutput } from '../src/engine/output.js';
import { openStore } from '../src/infra/db.js';
import { ensureTestbedImage } from '../src/testbed/image.js';
import { fmt, row } from './util.js';

const BYTES = Number(process.env.VIGIE_BENCH_DD_BYTES ?? 300_000);
const ROUNDS = Number(process.env.VIGIE_BENCH_ROUNDS ?? 3);

/** Seconds the container takes to copy BYTES one byte at a time (its own clock, /proc/uptime). */
// Asynchronous on purpose: a synchronous spawn would stall Vigie's event loop for the whole run, so
// the sensor would not be read and the workload would run as if Vigie were absent.
async function ddSeconds(id: string): Promise<number> {
  const script = `cat /proc/uptime; dd if=/dev/zero of=/dev/null bs=1 count=${BYTES} 2>/dev/null; cat /proc/uptime`;
  const r = await promisify(execFile)('docker', ['exec', id, 'sh', '-c', script], { encoding: 'utf8' });
  const t = r.stdout
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[0]));
  if (t.length !== 2 || !t.every(Number.isFinite))
    throw new Error(`unexpected output: ${r.stdout} ${r.stderr}`);
  return t[1] - t[0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(): Promise<void> {
  const docker = new Docker();
  const image = await ensureTestbedImage(docker);
  const c = await docker.createContainer({
    Image: image,
    name: `vigie-bench-sensor-${process.pid}`,
    Cmd: ['sleep', '3600'],
    Labels: { 'vigie.bench': '1' },
  });
  await c.start();
  const off: number[] = [];
  const on: number[] = [];
  const noSys: number[] = [];
  let sensorStats: Record<string, unknown> = {};
  try {
    await ddSeconds(c.id); // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      off.push(await ddSeconds(c.id));
      for (const syscalls of [true, false]) {
        const db = openStore(':memory:');
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        const engine = new Engine({
          db,
          hostname: 'bench',
          output: createOutput('json', sink, sink),
          responder: null,
          config: { bpftrace: { syscalls } },
        });
        await engine.start();
        (syscalls ? on : noSys).push(await ddSeconds(c.id));
        await new Promise((r) => setTimeout(r, 1000)); // let the sensor drain
        await engine.stop();
        if (syscalls) sensorStats = engine.stats().sources.bpftrace ?? {};
        db.close();
      }
    }
  } finally {
    await c.remove({ force: true });
  }
  const syscalls = BYTES * 2;
  const tOff = median(off);
  const tOn = median(on);
  row('workload', `dd bs=1 count=${fmt(BYTES)} (${fmt(syscalls)} syscalls), ${ROUNDS} rounds, median`);
  row('syscalls/s without Vigie', fmt(syscalls / tOff));
  row('syscalls/s with Vigie (sensor + detectors)', fmt(syscalls / tOn));
  row('throughput lost to Vigie', `${fmt((1 - tOff / tOn) * 100, 1)} %`);
  const tNoSys = median(noSys);
  row('syscalls/s with Vigie, syscall sequences off', fmt(syscalls / tNoSys));
  row('throughput lost, syscall sequences off', `${fmt((1 - tOff / tNoSys) * 100, 1)} %`);
  const secs = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  row('rounds without / with / sequences off (s)', `${secs(off)} / ${secs(on)} / ${secs(noSys)}`);
  row('sensor, last round: events delivered', fmt(Number(sensorStats.events ?? 0)));
  row('sensor, last round: lost (kernel buffers)', fmt(Number(sensorStats.lost ?? 0)));
  row('sensor, last round: malformed lines', fmt(Number(sensorStats.malformed ?? 0)));
}
