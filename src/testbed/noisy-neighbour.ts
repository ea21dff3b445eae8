/**
 * Live scenario "noisy-neighbour" on real dockerd.
 *
 * A victim service (busybox httpd from the testbed image, FROM scratch + static busybox) answers a
 * small CPU-bound CGI under a steady, open-loop request rate. A neighbour container pinned to the same
 * CPU (cpuset) starts a CPU hog (or a memory or I/O hog). A bystander idles on the other CPU. The
 * scenario runs Vigie's engine with the cgroup source and a latency probe as its sources and the perf
 * detector as its only detector; the detector sees the victim degrade, names the neighbour (timing +
 * correlation), and the response stage caps the neighbour's CPU in enforce mode (docker update of
 * the CPU quota). Latency before, during and after is reported.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Docker from 'dockerode';
import type { Alert } from '../model/alert.js';
import type { ActionRecord } from '../model/action.js';
import type { VigieEvent } from '../model/event.js';
import { PerfDetector } from '../detect/perf/detector.js';
import { CgroupSource, type ContainerInfo } from '../sources/metrics/cgroup.js';
import { openStore } from '../infra/db.js';
import { createResponder } from '../respond/engine.js';
import { parsePolicy } from '../respond/policy.js';
import { Engine } from '../engine/engine.js';
import type { Output } from '../engine/output.js';
import { ensureTestbedImage } from './image.js';
import { LatencyProbeSource, OpenLoopLoad, type Completed } from './latency-probe.js';
import type { ScenarioRun } from './scenarios.js';

export const SCENARIO_LABEL = 'vigie.scenario';

export interface NoisyNeighbourOptions {
  docker?: Docker;
  /** Seconds of steady load before the hog starts (baseline learning). */
  baselineSeconds?: number;
  /** Longest wait for detection and containment after the hog starts. */
  detectTimeoutSeconds?: number;
  /** Seconds measured after containment. */
  recoverySeconds?: number;
  /** Requests per second to the victim (open loop). */
  rate?: number;
  /** CGI loop iterations per request (CPU work of one request). */
  work?: number;
  hog?: 'cpu' | 'memory' | 'io';
  /** CPU both victim and neighbour are pinned to. */
  cpu?: string;
  /** Cap the neighbour (enforce). False: plan only (monitor). */
  enforce?: boolean;
  /** CPU cap applied to the neighbour, in cores. */
  capCpus?: number;
  /** Smallest latency change (ms) worth an alert for this victim. */
  latencyFloorMs?: number;
  log?: (line: string) => void;
}

export interface LatencyStats {
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  mean: number;
}

export interface NoisyNeighbourResult {
  victim: string;
  neighbour: string;
  bystander: string;
  baseline: LatencyStats;
  during: LatencyStats;
  after: LatencyStats;
  /** Milliseconds from hog start to the noisy-neighbour alert. */
  detectedAfterMs?: number;
  /** Who the detector named. */
  named?: string;
  alerts: Alert[];
  actions: ActionRecord[];
  contained: boolean;
}

const CGI = (n: number) =>
  // CRLF header lines: Node's HTTP parser rejects bare LF in headers.
  `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ni=0\nwhile [ $i -lt ${n} ]; do i=$((i+1)); done\necho ok\n`;

const POLICY = (capCpus: number) => `
name: noisy-neighbour
mode: monitor
guards:
  rateLimit: { perMinute: 10 }
rules:
  - name: cap-noisy-neighbour
    match: { rule: ["Noisy neighbour"], category: [performance] }
    actions:
      - { action: throttle, params: { cpus: ${capCpus} }, ttl: 10m }
`;

function stats(lat: Completed[]): LatencyStats {
  const ok = lat
    .filter((l) => l.ok)
    .map((l) => l.ms)
    .sort((a, b) => a - b);
  const q = (p: number) => (ok.length ? ok[Math.min(ok.length - 1, Math.floor(p * ok.length))] : NaN);
  return {
    requests: lat.length,
    errors: lat.length - ok.length,
    p50: Math.round(q(0.5) * 10) / 10,
    p95: Math.round(q(0.95) * 10) / 10,
    mean: ok.length ? Math.round((ok.reduce((a, b) => a + b, 0) / ok.length) * 10) / 10 : NaN,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function ipOf(c: Docker.Container): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const info = await c.inspect();
    const ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
    if (ip) return ip;
    await sleep(100);
  }
  throw new Error('victim container has no IP address');
}

const HOG_CMD: Readonly<Record<NonNullable<NoisyNeighbourOptions['hog']>, string>> = {
  // Four busy loops: more runnable threads than the victim on the shared CPU.
  cpu: 'for i in 1 2 3 4; do (while :; do :; done) & done; wait',
  // Grows a 400 MiB file in tmpfs-backed memory and keeps rewriting it (memory plus CPU).
  memory:
    'mkdir -p /dev/shm/h; while :; do dd if=/dev/zero of=/dev/shm/h/f bs=1M count=400 2>/dev/null; done',
  io: 'while :; do dd if=/dev/zero of=/tmp/io bs=1M count=256 conv=fsync 2>/dev/null; rm -f /tmp/io; done',
};

/**
 * What the scenario measures, from what the engine reports: every alert, every action record (its
 * latest status), when the neighbour was named after the hog started and when an action taken on
 * that alert was executed. Alerts and actions are logged as they happen.
 */
class ScenarioWatch {
  readonly alerts: Alert[] = [];
  /** performance.now() of the hog's start; 0 before. */
  hogStart = 0;
  /** performance.now() at which the noisy-neighbour alert was seen; 0 until then. */
  detectedAt = 0;
  /** performance.now() at which an action on that alert was executed; 0 until then. */
  containedAt = 0;
  named?: string;
  /** Instant of the latest cgroup samples, which the latency probe's sample of the same second shares. */
  cgroupInstant?: bigint;
  private detection?: string;
  private readonly records = new Map<string, ActionRecord>();

  constructor(private readonly log: (line: string) => void) {}

  hogStarted(): number {
    this.hogStart = performance.now();
    return this.hogStart;
  }

  output(): Output {
    const log = this.log;
    return {
      format: 'text',
      alert: (a) => log(`ALERT ${a.priority} ${a.rule}: ${a.output}`),
      action: (r) =>
        log(
          `ACTION ${r.action} ${r.target.name ?? r.target.id} → ${r.status}${r.error ? ` (${r.error})` : ''}`,
        ),
      notice: log,
      flush: () => Promise.resolve(),
    };
  }

  onEvent(ev: VigieEvent): void {
    if (ev.kind === 'metric' && ev.source === 'cgroup') this.cgroupInstant = ev.ts;
  }

  onAlert(a: Alert): void {
    this.alerts.push(a);
    if (a.rule === 'Noisy neighbour' && !this.detectedAt && this.hogStart) {
      this.detectedAt = performance.now();
      this.detection = a.uuid;
      this.named = String(a.output_fields['culprit.name']);
    }
  }

  onAction(r: ActionRecord): void {
    this.records.set(r.id, r);
    if (!this.containedAt && this.detection && r.alert === this.detection && r.status === 'executed')
      this.containedAt = performance.now();
  }

  /** Action records in the order they were first reported, each with its latest status. */
  actions(): ActionRecord[] {
    return [...this.records.values()];
  }
}

export async function runNoisyNeighbour(opts: NoisyNeighbourOptions = {}): Promise<NoisyNeighbourResult> {
  const docker = opts.docker ?? new Docker();
  const tStart = performance.now();
  const sink = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const log = (l: string) => sink(`[${((performance.now() - tStart) / 1000).toFixed(1).padStart(5)} s] ${l}`);
  const baselineS = opts.baselineSeconds ?? 25;
  const detectTimeoutS = opts.detectTimeoutSeconds ?? 30;
  const recoveryS = opts.recoverySeconds ?? 20;
  const rate = opts.rate ?? 10;
  const work = opts.work ?? 500;
  const cpu = opts.cpu ?? '0';
  const other = cpu === '0' ? '1' : '0';
  const capCpus = opts.capCpus ?? 0.1;
  const enforce = opts.enforce ?? true;
  const hogKind = opts.hog ?? 'cpu';
  const tag = randomBytes(3).toString('hex');
  const host = hostname();
  const image = await ensureTestbedImage(docker);
  const labels = { [SCENARIO_LABEL]: 'noisy-neighbour', 'vigie.testbed': '1' };

  const mk = (name: string, cmd: string[], cpuset: string, shares?: number) =>
    docker.createContainer({
      name,
      Image: image,
      Cmd: cmd,
      Labels: labels,
      HostConfig: { CpusetCpus: cpuset, AutoRemove: false, ...(shares ? { CpuShares: shares } : {}) },
    });
  const victimName = `vigie-nn-victim-${tag}`;
  const hogName = `vigie-nn-neighbour-${tag}`;
  const byName = `vigie-nn-bystander-${tag}`;
  const serve = (n: number) => [
    '/bin/sh',
    '-c',
    `mkdir -p /tmp/w/cgi-bin && printf '%s' '${CGI(n).replace(/'/g, `'\\''`)}' > /tmp/w/cgi-bin/work && chmod 755 /tmp/w/cgi-bin/work && echo ok > /tmp/w/health && exec httpd -f -p 8080 -h /tmp/w`,
  ];
  const containers: Docker.Container[] = [];
  const db = openStore(':memory:');
  const mode = enforce ? 'enforce' : 'monitor';
  let load: OpenLoopLoad | undefined;
  let engine: Engine | undefined;
  try {
    const victim = await mk(victimName, serve(work), cpu);
    // The neighbour holds a large CPU weight (as a pod with a big CPU request does): when it spins, the
    // scheduler hands it most of the shared CPU.
    const hog = await mk(hogName, ['/bin/sh', '-c', 'exec sleep 100000'], cpu, 8192);
    const bystander = await mk(byName, serve(200), other);
    containers.push(victim, hog, bystander);
    for (const c of containers) await c.start();
    const ip = await ipOf(victim);
    const info: ContainerInfo[] = [];
    for (const [c, name] of [
      [victim, victimName],
      [hog, hogName],
      [bystander, byName],
    ] as const)
      info.push({ id: (await c.inspect()).Id, name, image, labels });
    log(`victim ${victimName} and neighbour ${hogName} pinned to CPU ${cpu}; bystander on CPU ${other}`);

    // Wait until the victim answers.
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((res) => {
        const rq = http.get({ host: ip, port: 8080, path: '/health', timeout: 1000 }, (r) => {
          r.resume();
          res(r.statusCode === 200);
        });
        rq.on('error', () => res(false));
        rq.on('timeout', () => rq.destroy());
      });
      if (ok) break;
      if (i > 50) throw new Error(`victim ${victimName} does not answer on ${ip}:8080`);
      await sleep(100);
    }

    load = new OpenLoopLoad({ host: ip, port: 8080, path: '/cgi-bin/work' }, rate);
    const victimLoad = load;
    victimLoad.start();

    // What the scenario measures, as the engine reports it.
    const run = new ScenarioWatch(log);
    // The engine Vigie runs, composed for this scenario: the scenario's containers' cgroups and the
    // victim's latency as its clients see it, the perf detector alone, and the response stage under
    // the scenario's policy. No characterize stage: nothing to correlate or except here.
    engine = new Engine({
      db,
      hostname: host,
      mode,
      output: run.output(),
      sources: [
        new CgroupSource({ list: async () => info, intervalMs: 1000, hostname: host }),
        // After the cgroup source: each latency sample follows the cgroup samples of its second and
        // shares their instant (one sample of the victim per second, as the perf detector expects).
        new LatencyProbeSource({
          container: { id: info[0].id, name: victimName, image, labels },
          hostname: host,
          measure: () => victimLoad.intervalLatencyMs(),
          intervalMs: 1000,
          instant: () => run.cgroupInstant,
        }),
      ],
      // This victim answers in a few ms on an idle machine: a 3-ms latency floor (the relative floor,
      // half the median, takes over when the machine is loaded; the default 100 ms suits per-minute
      // percentiles of slower services, as in the Nezha data set).
      detectors: [new PerfDetector({ floors: { latencyMs: { abs: opts.latencyFloorMs ?? 3 } } })],
      characterizer: null,
      responder: createResponder({
        db,
        hostname: host,
        mode,
        policy: parsePolicy(POLICY(capCpus), '<noisy-neighbour policy>'),
      }),
      onEvent: (ev) => run.onEvent(ev),
      onAlert: (a) => run.onAlert(a),
      onAction: (r) => run.onAction(r),
    });
    const t0 = performance.now();
    await engine.start();

    await sleep(baselineS * 1000);
    log(`baseline: ${JSON.stringify(stats(victimLoad.done.filter((d) => d.start > t0 + 5000)))}`);
    const hogStart = run.hogStarted();
    log(`neighbour starts a ${hogKind} hog`);
    const exec = await hog.exec({
      Cmd: ['/bin/sh', '-c', HOG_CMD[hogKind]],
      AttachStdout: false,
      AttachStderr: false,
    });
    const started: unknown = await exec.start({ Detach: true });
    // Detached exec still hands back the HTTP response; left open it keeps the process alive.
    (started as { destroy?: () => void } | undefined)?.destroy?.();
    while (!run.containedAt && performance.now() - hogStart < detectTimeoutS * 1000) await sleep(200);
    const afterStart = (run.containedAt || performance.now()) + 3000;
    await sleep(recoveryS * 1000 + 3000);
    await engine.stop();
    // Let in-flight requests finish (or time out) so they are counted.
    await victimLoad.stop();

    const done = victimLoad.done;
    const baseline = stats(done.filter((d) => d.start > t0 + 5000 && d.start < hogStart));
    const during = stats(
      done.filter((d) => d.start >= hogStart && d.start < (run.containedAt || afterStart)),
    );
    const after = stats(done.filter((d) => d.start >= afterStart));
    const hogAlert = run.alerts.find((a) => a.rule === 'Noisy neighbour');
    log(
      `latency ms (p50/p95/mean): before ${baseline.p50}/${baseline.p95}/${baseline.mean}, during ${during.p50}/${during.p95}/${during.mean}, after ${after.p50}/${after.p95}/${after.mean}`,
    );
    return {
      victim: victimName,
      neighbour: hogName,
      bystander: byName,
      baseline,
      during,
      after,
      detectedAfterMs: run.detectedAt ? Math.round(run.detectedAt - hogStart) : undefined,
      named: run.named ?? (hogAlert ? String(hogAlert.output_fields['culprit.name']) : undefined),
      alerts: run.alerts,
      actions: run.actions(),
      contained: run.containedAt > 0,
    };
  } finally {
    log('cleaning up');
    // Stops the sources, lets the detector and the responder finish what they hold, closes the responder.
    await engine?.stop().catch(() => undefined);
    log('engine stopped');
    await load?.stop(0).catch(() => undefined);
    db.close();
    await Promise.all(containers.map((c) => c.remove({ force: true }).catch(() => undefined)));
    log('containers removed');
  }
}

/**
 * `vigie demo noisy-neighbour`: runs the scenario with the demo's Docker connection, mode and cpuset,
 * prints its alerts and actions through the demo's output, and reports what did not go as planned.
 * The scenario composes an engine of its own (the demo engine's other detectors stay out of the
 * measurement).
 */
export const noisyNeighbourScenario: ScenarioRun = async (ctx) => {
  const r = await runNoisyNeighbour({
    docker: ctx.docker,
    enforce: ctx.options.enforce,
    cpu: ctx.options.cpuset || '0',
    log: (l) => ctx.out.notice(l),
  });
  for (const a of r.alerts) ctx.out.alert(a);
  for (const a of r.actions) ctx.out.action(a);
  const problems: string[] = [];
  if (!(r.during.p50 > 1.5 * r.baseline.p50))
    problems.push('the victim barely degraded (is the machine idle enough?)');
  if (r.named !== r.neighbour) problems.push(`the neighbour was not named (named: ${r.named ?? 'nobody'})`);
  if (ctx.options.enforce && !r.contained) problems.push('the neighbour was not capped');
  if (ctx.options.enforce && !(r.after.p50 <= Math.max(2 * r.baseline.p50, r.baseline.p50 + 15)))
    problems.push('the victim did not recover near its baseline');
  return {
    summary: {
      latencyBeforeMs: r.baseline,
      latencyDuringMs: r.during,
      latencyAfterMs: r.after,
      detectedAfterMs: r.detectedAfterMs ?? null,
      named: r.named ?? null,
      contained: r.contained,
    },
    problems,
  };
};
