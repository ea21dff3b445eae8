/**
 * `vigie demo [scenario]`: the README's main command. Builds the testbed image locally, runs the
 * live loop (Docker source, eBPF sensor, every detector, the responder) against a scenario's
 * containers, prints alerts and action records as they happen (stdout; `--output json` for one JSON
 * object a line) and the story and summary on stderr. Removes its containers at the end, also on
 * Ctrl-C / SIGTERM.
 */
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import Docker from 'dockerode';
import { rmSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import type { Alert } from '../../model/alert.js';
import type { ActionRecord } from '../../model/action.js';
import type { VigieEvent } from '../../model/event.js';
import { openStore } from '../../infra/db.js';
import { dockerOptions } from '../../sources/docker.js';
import { removeContainers, removeOrphans } from '../../testbed/containers.js';
import { ensureTestbedImage } from '../../testbed/image.js';
import {
  getScenario,
  scenarioNames,
  type DemoOptions,
  type ScenarioResult,
} from '../../testbed/scenarios.js';
import { Engine, percentileOf } from '../../engine/engine.js';
import { createOutput } from '../../engine/output.js';
import { parseOutputFormat, startServerFor } from './run.js';

export interface DemoFlags {
  enforce?: boolean;
  output: string;
  db: string;
  learnSeconds: string;
  learnEvents: string;
  normalSeconds: string;
  normalOnly?: boolean;
  minutes?: string;
  rate: string;
  cpuset?: string;
  victimCpus: string;
  fast?: boolean;
  listen: string;
  serve: boolean;
  list?: boolean;
}

function num(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, not "${v}"`);
  return n;
}

export interface DemoRun {
  result?: ScenarioResult;
  alertLatencyMs: number[];
  containmentLatencyMs: number[];
  alerts: Alert[];
  actions: ActionRecord[];
  interrupted: boolean;
}

export function register(program: Command): void {
  program
    .command('demo [scenario]')
    .description(
      'run a scripted scenario on local Docker: normal traffic, baseline, intrusion, alerts, containment',
    )
    .option('--enforce', 'execute containment (default: monitor mode, actions are only planned)')
    .option('--output <format>', 'text or json (alerts and action records, one JSON object a line)', 'text')
    .option('--db <file>', 'SQLite database for the demo (recreated at each run)', '.vigie/demo.db')
    .option('--learn-seconds <s>', 'minimum learning time of the baseline', '40')
    .option('--learn-events <n>', 'minimum events learnt by the baseline', '4000')
    .option('--normal-seconds <s>', 'normal traffic watched once the baseline is ready (false alerts)', '20')
    .option('--normal-only', 'only the normal phase (false alerts per hour), no intrusion')
    .option('--minutes <m>', 'with --normal-only: length of the normal phase in minutes')
    .option('--rate <n>', 'normal requests per second', '10')
    .option('--cpuset <cpus>', 'CPU shared by the victim and its neighbour (default: the last CPU)')
    .option('--victim-cpus <n>', 'CPU limit of the victim in cores', '0.3')
    .option('--fast', 'short learning (15 s) and normal phase (10 s), for tests')
    .option('--listen <host:port>', 'API and dashboard address', '127.0.0.1:7071')
    .option('--no-serve', 'do not start the API and dashboard')
    .option('--list', 'list the scenarios and exit')
    .action(async (scenario: string | undefined, o: DemoFlags) => {
      if (o.list) {
        for (const s of scenarioNames()) process.stdout.write(`${s.name}\t${s.description}\n`);
        return;
      }
      const run = await runDemo(scenario ?? 'intrusion', o);
      if (run.interrupted) process.exitCode = 130;
      else if (run.result && run.result.problems.length) process.exitCode = 1;
    });
}

export async function runDemo(
  scenarioName: string,
  o: DemoFlags,
  streams: { out?: Writable; err?: Writable } = {},
): Promise<DemoRun> {
  const scenario = getScenario(scenarioName);
  const output = createOutput(parseOutputFormat(o.output), streams.out, streams.err);
  const say = (m: string) => output.notice(`demo: ${m}`);
  const options: DemoOptions = {
    enforce: Boolean(o.enforce),
    learnSeconds: o.fast ? 15 : num('learn-seconds', o.learnSeconds),
    learnEvents: o.fast ? 1500 : num('learn-events', o.learnEvents),
    normalSeconds: o.minutes
      ? num('minutes', o.minutes) * 60
      : o.fast
        ? 10
        : num('normal-seconds', o.normalSeconds),
    normalOnly: Boolean(o.normalOnly),
    rate: num('rate', o.rate, 1),
    cpuset: o.cpuset ?? String(Math.max(0, cpus().length - 1)),
    victimCpus: num('victim-cpus', o.victimCpus, 0.01),
  };
  const docker = new Docker(dockerOptions());
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `dockerd is not answering (${(err as Error).message}); run scripts/setup.sh or ./vigie demo`,
    );
  }
  const orphans = await removeOrphans(docker);
  if (orphans) say(`removed ${orphans} container(s) left by an earlier demo`);
  say('building the testbed image (busybox, FROM scratch) if needed');
  const image = await ensureTestbedImage(docker);

  if (o.db !== ':memory:') for (const suffix of ['', '-wal', '-shm']) rmSync(o.db + suffix, { force: true });
  const db = openStore(o.db);
  const alerts: Alert[] = [];
  const actions: ActionRecord[] = [];
  const metrics = new Map<string, { at: number; ev: VigieEvent }[]>();
  const engine = new Engine({
    db,
    hostname: hostname(),
    output,
    mode: options.enforce ? 'enforce' : 'monitor',
    config: {
      baseline: {
        learnSec: options.learnSeconds,
        minEvents: options.learnEvents,
        windowSec: Math.min(10, Math.max(2, Math.floor(options.learnSeconds / 5))),
        minSyscalls: Math.min(2000, options.learnEvents),
        minResourceSamples: Math.min(10, Math.max(3, Math.floor(options.learnSeconds / 3))),
      },
      runtime: { minerSustainSec: 3 },
    },
    onAlert: (a) => alerts.push(a),
    onAction: (r) => actions.push(r),
    onEvent: (ev) => {
      if (ev.kind !== 'metric' || !ev.container) return;
      const l = metrics.get(ev.container.id) ?? [];
      l.push({ at: Date.now(), ev });
      if (l.length > 2000) l.shift();
      metrics.set(ev.container.id, l);
    },
  });

  const tracked = new Set<string>();
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (sig: string) => {
    if (interrupted) {
      say(`${sig} again: exiting now; containers may be left (the next demo removes them)`);
      process.exit(130);
    }
    interrupted = true;
    say(`${sig}: stopping and removing the demo containers`);
    abort.abort();
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (abort.signal.aborted) return reject(new Error('interrupted'));
      const onAbort = () => {
        clearTimeout(t);
        reject(new Error('interrupted'));
      };
      const t = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  let server: Awaited<ReturnType<typeof startServerFor>> | undefined;
  let result: ScenarioResult | undefined;
  const t0 = Date.now();
  try {
    await engine.start();
    const sensor = engine.sources.find((s) => s.name === 'bpftrace');
    if (!sensor || !sensor.stats().running)
      say(
        'the eBPF sensor is not running: only Docker events and stats are watched (runtime alerts need it)',
      );
    if (o.serve) {
      server = await startServerFor(engine, db, o.listen).catch((err: unknown) => {
        say(`dashboard not started: ${(err as Error).message}`);
        return undefined;
      });
    }
    say(
      `scenario ${scenarioName} (${options.enforce ? 'enforce' : 'monitor'} mode; detectors: ${engine.detectors.map((d) => d.name).join(', ') || 'none'}; ` +
        `responder: ${engine.responder ? 'yes' : 'none'})`,
    );
    result = await scenario({
      docker,
      engine,
      image,
      out: output,
      options,
      signal: abort.signal,
      runId: `${process.pid}-${Date.now().toString(36)}`,
      track: (id) => tracked.add(id),
      sleep,
      alerts,
      actions,
      metrics,
    });
  } catch (err) {
    if (!interrupted) throw err;
  } finally {
    await removeContainers(docker, tracked);
    if (tracked.size) say(`removed ${tracked.size} demo container(s)`);
    await server?.close().catch(() => undefined);
    await engine.stop();
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    const st = engine.stats();
    const lat = engine.alertLatencyMs;
    const cl = engine.containmentLatencyMs;
    const s = result?.summary ?? {};
    const lines = [
      `summary (${Math.round((Date.now() - t0) / 1000)} s): ${st.events} events, ${st.alerts} alerts, ${st.actions} action records`,
      `  false alerts in the normal phase: ${s.falseAlerts ?? 'n/a'} in ${s.normalSeconds ?? 'n/a'} s = ${s.falseAlertsPerHour ?? 'n/a'} per hour`,
      `  event → alert latency (after the sensor delivered the event): p50 ${percentileOf(lat, 50).toFixed(2)} ms, p99 ${percentileOf(lat, 99).toFixed(2)} ms (${lat.length} alerts)`,
      `  alert → containment executed: ${cl.length ? `p50 ${percentileOf(cl, 50).toFixed(0)} ms, max ${Math.max(...cl).toFixed(0)} ms` : 'n/a'}`,
      `  sensor: ${JSON.stringify(st.sources.bpftrace ?? 'not running')}`,
      `  queues: ${st.queues.map((q) => `${q.name} dropped ${q.dropped} (high water ${q.highWater})`).join(', ')}`,
    ];
    if (s.neighbourCpuBefore !== undefined)
      lines.push(
        `  neighbour CPU (cores): before ${s.neighbourCpuBefore}, during attack ${s.neighbourCpuDuringAttack ?? 'n/a'}, after containment ${s.neighbourCpuAfterContainment ?? 'n/a'}; ` +
          `its share of the pair's CPU: ${s.neighbourShareBefore ?? 'n/a'} → ${s.neighbourShareDuringAttack ?? 'n/a'} → ${s.neighbourShareAfterContainment ?? 'n/a'}`,
      );
    if (result) {
      lines.push(
        result.problems.length
          ? `  NOT AS EXPECTED: ${result.problems.join('; ')}`
          : '  every expected alert and action was seen',
      );
    }
    output.notice(lines.map((l) => `demo: ${l}`).join('\n'));
    db.close();
  }
  return {
    result,
    alerts,
    actions,
    interrupted,
    alertLatencyMs: engine.alertLatencyMs,
    containmentLatencyMs: engine.containmentLatencyMs,
  };
}
