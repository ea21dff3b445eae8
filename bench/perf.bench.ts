/**
 * Perf detector throughput: metric samples per second through the detector on one core (target
 * ≥ 500,000), and memory per monitored entity. An event carries four metrics (cpu, memory,
 * latencyMs, cpuPressure): four samples.
 */
import { PerfDetector } from '../src/detect/perf/detector.js';
import { PerfEngine, entityRefOf } from '../src/detect/perf/engine.js';
import type { VigieEvent } from '../src/model/event.js';
import { fmt, hrms, row } from './util.js';

function events(entities: number): VigieEvent[] {
  return Array.from({ length: entities }, (_, i) => ({
    id: `e${i}`,
    kind: 'metric' as const,
    ts: 0n,
    source: 'bench',
    host: `node-${i % 8}`,
    container: { id: `c${i}`, name: `c${i}` },
    metric: { cpu: 0.1, memory: 100e6, latencyMs: 20, cpuPressure: 1 },
  }));
}

export async function run(): Promise<void> {
  const entities = 1000;
  const rounds = 400;
  const evs = events(entities);
  const det = new PerfDetector();
  let alerts = 0;
  const emit = () => void alerts++;
  // Warm the baselines (and the JIT) first.
  for (let r = 0; r < 80; r++) {
    for (const ev of evs) {
      ev.ts = BigInt(r + 1) * 1_000_000_000n;
      det.onEvent(ev, emit);
    }
  }
  let samples = 0;
  const t = hrms();
  const cpu0 = process.cpuUsage();
  for (let r = 80; r < 80 + rounds; r++) {
    const ts = BigInt(r + 1) * 1_000_000_000n;
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      ev.ts = ts;
      const m = ev.metric!;
      // Deterministic wobble so the baselines keep moving; a few entities step up now and then.
      const w = ((r * 31 + i * 17) % 13) / 13;
      m.cpu = 0.1 + 0.01 * w + (i % 97 === 0 && r % 50 > 40 ? 1 : 0);
      m.memory = 100e6 + 1e6 * w;
      m.latencyMs = 20 + 2 * w;
      m.cpuPressure = 1 + w;
      det.onEvent(ev, emit);
      samples += 4;
    }
  }
  const secs = (hrms() - t) / 1000;
  const cpu1 = process.cpuUsage(cpu0);
  const cpuSecs = (cpu1.user + cpu1.system) / 1e6;
  // On a shared machine wall time includes other processes' turns; CPU time is this process's own.
  row('samples/s through the perf detector, wall clock (1,000 entities)', fmt(samples / secs));
  row('samples/s through the perf detector, per CPU-second of this process', fmt(samples / cpuSecs));
  row('alerts raised during the run', fmt(alerts));

  // Engine alone (no event envelope, no alert building).
  const eng = new PerfEngine();
  const refs = evs.map((e) => entityRefOf(e));
  const body = { cpu: 0.1, memory: 100e6, latencyMs: 20, cpuPressure: 1 };
  let n = 0;
  const t2 = hrms();
  const c2 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const ts = BigInt(r + 1) * 1_000_000_000n;
    for (let i = 0; i < refs.length; i++) {
      body.cpu = 0.1 + 0.001 * ((r + i) % 7);
      eng.observe(refs[i], ts, body);
      n += 4;
    }
  }
  const c3 = process.cpuUsage(c2);
  row('samples/s through the perf engine alone, wall clock', fmt(n / ((hrms() - t2) / 1000)));
  row('samples/s through the perf engine alone, per CPU-second', fmt(n / ((c3.user + c3.system) / 1e6)));

  // Memory per entity: heap growth for 20,000 entities with every metric tracked.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const big = new PerfEngine();
  const full = {
    cpu: 0.1,
    cpuThrottled: 0,
    cpuPressure: 1,
    memory: 1e8,
    memPressure: 0,
    ioPressure: 0,
    blkIo: 0,
    latencyMs: 20,
    successRate: 1,
  };
  const many = 20_000;
  for (let i = 0; i < many; i++) big.observe({ key: `k${i}`, scope: 'n', name: `k${i}` }, 1n, full);
  gc?.();
  const per = (process.memoryUsage().heapUsed - before) / many;
  row(`heap per monitored entity (9 metrics tracked${gc ? '' : ', no --expose-gc'})`, `${fmt(per)} bytes`);
  row('estimated bytes per entity (typed arrays + overhead)', fmt(big.bytesPerEntity()));
}
