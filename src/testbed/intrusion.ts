/**
 * The demo's default scenario: a small web service (busybox httpd) and a CPU-bound neighbour share one
 * CPU. Normal traffic runs while the workload baseline learns; once it is ready, a normal phase is
 * watched for false alerts; then an intruder uses the diagnostics CGI's command injection: a shell
 * spawned from the service, /etc/shadow read, a binary dropped in /tmp and run as a CPU burner
 * (miner-like), a connection to a mining-pool port. Alerts and containment show as they happen; with
 * enforce, the neighbour's CPU share recovers once the victim is throttled, and every executed action
 * is checked against Docker's real state and then rolled back.
 */
import { workloadKey, type ContainerRef } from '../model/event.js';
import { isContainment, undoesExactly, type ActionRecord } from '../model/action.js';
import type { Alert } from '../model/alert.js';
import { limitsOf, startContainer, type Started } from './containers.js';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import { httpGet, TrafficDriver, waitHttp } from './traffic.js';

const PORT = 8080;

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function cpuSamples(ctx: ScenarioContext, id: string, fromMs: number, toMs = Infinity): number[] {
  return (ctx.metrics.get(id) ?? [])
    .filter((s) => s.at >= fromMs && s.at <= toMs && typeof s.ev.metric?.cpu === 'number')
    .map((s) => s.ev.metric!.cpu!);
}

/**
 * The neighbour's share of the CPU time the pair used over [from, to]: robust to other load on the
 * machine, which lowers both absolute figures alike.
 */
function neighbourShare(
  ctx: ScenarioContext,
  neighbour: string,
  victim: string,
  fromMs: number,
  toMs = Infinity,
): number {
  const n = mean(cpuSamples(ctx, neighbour, fromMs, toMs));
  const v = mean(cpuSamples(ctx, victim, fromMs, toMs));
  return n + v > 0 ? n / (n + v) : NaN;
}

interface BaselineView {
  state: string;
  learnedEvents: number;
}

/** The victim's workload baseline, when the engine's detectors learn one. */
function baselineOf(ctx: ScenarioContext, ref: ContainerRef | undefined): BaselineView | undefined {
  if (!ref) return undefined;
  const key = workloadKey({ container: ref });
  return key ? ctx.engine.baselines?.workloads.get(key) : undefined;
}

async function until<T>(
  ctx: ScenarioContext,
  fn: () => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) return undefined;
    await ctx.sleep(250);
  }
}

export async function runIntrusion(ctx: ScenarioContext): Promise<ScenarioResult> {
  const o = ctx.options;
  const say = (m: string) => ctx.out.notice(`demo: ${m}`);
  const problems: string[] = [];
  const summary: Record<string, unknown> = {};

  const victim: Started = await startContainer(ctx.docker, {
    name: `vigie-demo-web-${ctx.runId}`,
    image: ctx.image,
    runId: ctx.runId,
    cpuset: o.cpuset,
    cpus: o.victimCpus,
  });
  ctx.track(victim.id);
  const neighbour: Started = await startContainer(ctx.docker, {
    name: `vigie-demo-neighbour-${ctx.runId}`,
    image: ctx.image,
    runId: ctx.runId,
    // A batch worker: pure CPU, no system calls.
    cmd: ['sh', '-c', 'while :; do :; done'],
    cpuset: o.cpuset,
  });
  ctx.track(neighbour.id);
  say(
    `started ${victim.name} (web service, ${victim.ip}:${PORT}, ${o.victimCpus} CPU) and ${neighbour.name} (batch worker) on cpu ${o.cpuset}`,
  );
  await waitHttp(victim.ip, PORT);

  const traffic = new TrafficDriver(victim.ip, PORT, o.rate);
  traffic.start();
  try {
    // ---- learning ----
    const learnStart = Date.now();
    say(
      `normal traffic (${o.rate} req/s) while the baseline learns (≥ ${o.learnSeconds}s and ≥ ${o.learnEvents} events)`,
    );
    const victimRef = () => ctx.metrics.get(victim.id)?.at(-1)?.ev.container;
    const hasBaseline = ctx.engine.detectors.some((d) => d.name === 'baseline');
    let lastReport = 0;
    const ready = hasBaseline
      ? await until(
          ctx,
          () => {
            const b = baselineOf(ctx, victimRef());
            if (Date.now() - lastReport > 10_000) {
              lastReport = Date.now();
              say(
                `  baseline of the web service: ${b ? `${b.state}, ${b.learnedEvents} events learnt` : 'no events yet'}`,
              );
            }
            return b?.state === 'ready' ? b : undefined;
          },
          Math.max(60_000, o.learnSeconds * 4000),
        )
      : (await ctx.sleep(o.learnSeconds * 1000), undefined);
    summary.learningSeconds = Math.round((Date.now() - learnStart) / 1000);
    if (hasBaseline && !ready) problems.push('the baseline of the web service did not become ready in time');
    else if (ready) say(`baseline ready after ${summary.learningSeconds}s (${ready.learnedEvents} events)`);
    else say('no baseline detector installed: learning skipped');

    // ---- normal phase: false alerts ----
    const normalStart = Date.now();
    const alertsBefore = ctx.alerts.length;
    say(`normal phase: ${o.normalSeconds}s of normal traffic, counting alerts (each one is a false alert)`);
    await ctx.sleep(o.normalSeconds * 1000);
    // Only alerts about the demo's own containers: other workloads on a shared machine are not ours to judge.
    const ours = new Set([victim.id, neighbour.id]);
    const normalAlerts = ctx.alerts
      .slice(alertsBefore)
      .filter((a) => ours.has(a.vigie.entities.container?.id ?? ''));
    summary.otherAlerts = ctx.alerts.length - alertsBefore - normalAlerts.length;
    const hours = (Date.now() - normalStart) / 3_600_000;
    summary.normalSeconds = Math.round((Date.now() - normalStart) / 1000);
    summary.falseAlerts = normalAlerts.length;
    summary.falseAlertsPerHour = Number((normalAlerts.length / hours).toFixed(1));
    summary.falseAlertRules = [...new Set(normalAlerts.map((a) => a.rule))];
    summary.requests = traffic.stats.requests;
    summary.requestErrors = traffic.stats.errors;
    say(
      `normal phase: ${normalAlerts.length} alert(s) in ${summary.normalSeconds}s of normal traffic = ` +
        `${summary.falseAlertsPerHour} false alerts/hour` +
        (normalAlerts.length ? ` (${(summary.falseAlertRules as string[]).join('; ')})` : ''),
    );
    if (o.normalOnly) return { summary, problems };

    // ---- intrusion ----
    const neighbourBefore = mean(cpuSamples(ctx, neighbour.id, Date.now() - 8000));
    const shareBefore = neighbourShare(ctx, neighbour.id, victim.id, Date.now() - 8000);
    summary.neighbourCpuBefore = round2(neighbourBefore);
    summary.neighbourShareBefore = round2(shareBefore);
    say(
      `neighbour CPU before the attack: ${fmtCores(neighbourBefore)} (${pct(shareBefore)} of what the pair used)`,
    );
    const attackStart = Date.now();
    const alertsAtAttack = ctx.alerts.length;
    const inject = (cmd: string) => `/cgi-bin/diag?host=${encodeURIComponent(`127.0.0.1; ${cmd}`)}`;
    say(
      'attack 1/2: command injection through /cgi-bin/diag: `id; uname -a` (a shell spawned from the service)',
    );
    await httpGet(victim.ip, PORT, inject('id; uname -a')).catch((e: unknown) =>
      say(`  request failed: ${(e as Error).message}`),
    );
    await ctx.sleep(1500);
    // The rest runs inside the container on its own clock (a background job started by the injected
    // command), so it goes on even once the container is cut off from the network.
    say(
      'attack 2/2: a background job in the victim: /etc/shadow read, CPU burner (miner-like) + connection to ' +
        'mining-pool port 3333, then after 6 s a binary dropped in /tmp and run',
    );
    const gw = victim.gateway || '172.17.0.1';
    const job =
      // The credential read comes first: once the miner is contained (paused), nothing after it runs
      // until the rollback.
      `(cat /etc/shadow; sha256sum /dev/zero & nc -w 2 ${gw} 3333 </dev/null; sleep 6; ` +
      'cp /bin/busybox /tmp/sha256sum; /tmp/sha256sum /dev/zero) >/dev/null 2>&1 &';
    await httpGet(victim.ip, PORT, inject(job)).catch((e: unknown) =>
      say(`  request failed: ${(e as Error).message}`),
    );

    // ---- what was seen ----
    const attackAlerts = () => ctx.alerts.slice(alertsAtAttack);
    const find = (pred: (a: Alert) => boolean) => () => attackAlerts().find(pred);
    const isVictim = (a: Alert) => a.vigie.entities.container?.id === victim.id;
    const shell = await until(
      ctx,
      find((a) => isVictim(a) && a.vigie.category === 'attack' && /shell/i.test(a.rule)),
      15_000,
    );
    const sensitive = await until(
      ctx,
      find((a) => isVictim(a) && /sensitive|shadow/i.test(a.rule + a.output)),
      10_000,
    );
    const anomaly = await until(
      ctx,
      find((a) => isVictim(a) && a.vigie.detector === 'baseline'),
      10_000,
    );
    if (!shell) problems.push('no attack alert for the shell spawned from the service');
    if (!sensitive) problems.push('no alert for the /etc/shadow read');
    if (!anomaly) problems.push('no baseline anomaly alert');
    summary.alertsDuringAttack = attackAlerts().length;
    summary.attackRules = [...new Set(attackAlerts().map((a) => `${a.rule} (${a.vigie.detector})`))];

    // ---- containment ----
    const executedFor = () => {
      const byId = new Map<string, ActionRecord>();
      for (const r of ctx.actions)
        if (r.target.id === victim.id && r.status === 'executed' && isContainment(r.action))
          byId.set(r.id, r);
      return [...byId.values()];
    };
    if (!ctx.engine.responder) {
      say('no response stage installed: nothing is contained');
      problems.push('no responder');
    } else if (o.enforce) {
      const firstExec = await until(ctx, () => executedFor()[0], 20_000);
      if (!firstExec) problems.push('no containment action executed');
      else {
        const containedAt = Date.now();
        say(
          `containment: ${executedFor()
            .map((r) => `${r.action}${r.params ? ' ' + JSON.stringify(r.params) : ''}`)
            .join(', ')} executed on ${victim.name}`,
        );
        const lim = await limitsOf(ctx.docker, victim.id);
        const checks: string[] = [];
        let verified = true;
        for (const r of executedFor()) {
          if (r.action === 'throttle') {
            const want = Number((r.params as { cpus?: number } | undefined)?.cpus);
            const ok =
              lim?.cpus !== undefined && (!Number.isFinite(want) || Math.abs(lim.cpus - want) < 1e-6);
            verified &&= ok;
            checks.push(`CPU limit ${lim?.cpus ?? 'none'} cores${ok ? '' : ` (expected ${want})`}`);
          } else if (r.action === 'isolate') {
            const ok = (lim?.networks.length ?? 1) === 0;
            verified &&= ok;
            checks.push(`networks: ${lim?.networks.join(', ') || 'none'}`);
          } else if (r.action === 'pause') {
            verified &&= Boolean(lim?.paused);
            checks.push(`paused: ${lim?.paused}`);
          }
        }
        summary.containmentVerified = verified;
        say(`checked against Docker: ${checks.join('; ')} → ${verified ? 'as intended' : 'NOT as intended'}`);
        if (!verified) problems.push('Docker state does not match the executed action');
        // Let the neighbour's share settle under containment, then measure it.
        await ctx.sleep(8000);
        const during = cpuSamples(ctx, neighbour.id, attackStart, containedAt + 1500);
        const after = cpuSamples(ctx, neighbour.id, containedAt + 3000);
        summary.neighbourCpuDuringAttack = round2(during.length ? Math.min(...during) : NaN);
        summary.neighbourCpuAfterContainment = round2(mean(after));
        summary.neighbourShareDuringAttack = round2(
          neighbourShare(ctx, neighbour.id, victim.id, attackStart, containedAt + 1500),
        );
        summary.neighbourShareAfterContainment = round2(
          neighbourShare(ctx, neighbour.id, victim.id, containedAt + 3000),
        );
        say(
          `neighbour CPU: before ${fmtCores(neighbourBefore)} (${pct(shareBefore)} of the pair's use), ` +
            `during the attack ${fmtCores(Number(summary.neighbourCpuDuringAttack))} (${pct(Number(summary.neighbourShareDuringAttack))}), ` +
            `after containment ${fmtCores(Number(summary.neighbourCpuAfterContainment))} (${pct(Number(summary.neighbourShareAfterContainment))})`,
        );
        // ---- rollback ----
        const rolled: ActionRecord[] = [];
        for (const r of executedFor().filter((x) => undoesExactly(x.action))) {
          try {
            rolled.push(await ctx.engine.rollback(r.id));
          } catch (err) {
            problems.push(`rollback of ${r.action} ${r.id} failed: ${(err as Error).message}`);
          }
        }
        const back = await limitsOf(ctx.docker, victim.id);
        summary.rolledBack = rolled.filter((r) => r.status === 'rolled_back').length;
        say(
          `rolled back ${summary.rolledBack} action(s); Docker now: CPU limit ${back?.cpus ?? 'none'} cores, networks ${back?.networks.join(', ') || 'none'}, paused ${back?.paused}`,
        );
        if (!rolled.some((r) => r.status === 'rolled_back')) problems.push('no action was rolled back');
      }
    } else {
      await ctx.sleep(10_000);
      const planned = ctx.actions.filter((r) => r.target.id === victim.id && isContainment(r.action));
      const during = cpuSamples(ctx, neighbour.id, attackStart + 3000);
      summary.neighbourCpuDuringAttack = round2(mean(during));
      summary.neighbourShareDuringAttack = round2(
        neighbourShare(ctx, neighbour.id, victim.id, attackStart + 3000),
      );
      say(
        `monitor mode: ${new Set(planned.map((r) => r.id)).size} containment action(s) planned, none executed; neighbour CPU during the attack ` +
          `${fmtCores(mean(during))} (${pct(Number(summary.neighbourShareDuringAttack))} of the pair's use; before ${fmtCores(neighbourBefore)}, ` +
          `${pct(shareBefore)}); run with --enforce to contain`,
      );
    }
    return { summary, problems };
  } finally {
    traffic.stop();
  }
}

function round2(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : null;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : 'n/a';
}

function fmtCores(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)} cores` : 'n/a';
}
