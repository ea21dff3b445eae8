/**
 * Alert → containment applied and verified on real dockerd (target p50 ≤ 1 s), per action, beside
 * the bare dockerode call for the same change in the same run (what the engine's guards, records,
 * state reads and verification cost on top of Docker itself).
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAlert } from '../src/model/alert.js';
import { DockerActuator, retryTransient } from '../src/respond/actuators/docker.js';
import { createResponder } from '../src/respond/engine.js';
import { parsePolicy } from '../src/respond/policy.js';
import { openStore } from '../src/infra/db.js';
import { fmt, hrms, percentile, row } from './util.js';

const IMAGE = 'vigie-respond-bb:bench';
const N = Number(process.env.VIGIE_BENCH_N ?? 30);

function buildImage(): void {
  const ctx = mkdtempSync(join(tmpdir(), 'vigie-bench-img-'));
  copyFileSync('/bin/busybox', join(ctx, 'busybox'));
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n',
  );
  execFileSync('docker', ['build', '-q', '-t', IMAGE, ctx], { stdio: 'ignore' });
  rmSync(ctx, { recursive: true, force: true });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(s, 50), 1)} ms   p95 ${fmt(percentile(s, 95), 1)} ms   (n=${s.length})`;
};

export async function run(): Promise<void> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    console.log(`dockerd not reachable (${(err as Error).message}); run scripts/setup.sh`);
    return;
  }
  buildImage();
  const prefix = `vigie-bench-rsp-${process.pid}-`;
  const net = await docker.createNetwork({ Name: prefix + 'net' });
  const c = await docker.createContainer({
    name: prefix + 'victim',
    Image: IMAGE,
    Cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
    HostConfig: { NetworkMode: prefix + 'net' },
  });
  await c.start();
  const info = await c.inspect();
  const actuator = new DockerActuator({ docker });
  try {
    for (const [action, params, bare, undo] of [
      ['pause', '', () => retryTransient(() => c.pause(), /unable to freeze/), () => c.unpause()],
      [
        'throttle',
        ', params: { cpus: 0.2 }',
        () => c.update({ CpuPeriod: 100000, CpuQuota: 20000 }),
        () => c.update({ CpuQuota: -1 }),
      ],
      [
        'isolate',
        '',
        () => net.disconnect({ Container: info.Id, Force: true }),
        () => net.connect({ Container: info.Id }),
      ],
    ] as const) {
      const policy = parsePolicy(
        `name: bench\nguards: { rateLimit: { perMinute: 100000 }, maxActionsPerIncident: 100000 }\nrules:\n  - name: r\n    match: { category: attack }\n    actions:\n      - { action: ${action}${params} }\n`,
        'bench.yaml',
      );
      const r = createResponder({
        db: openStore(':memory:'),
        hostname: 'bench',
        mode: 'enforce',
        policy,
        actuators: [actuator],
        selfIds: [],
      });
      await r.ready;
      const engine: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < N; i++) {
        const alert = makeAlert(
          {
            rule: 'Terminal shell in container',
            priority: 'Critical',
            output: 'bench',
            category: 'attack',
            detector: 'bench',
            explanation: 'bench',
            entities: { container: { id: info.Id, name: info.Name.slice(1) } },
          },
          'bench',
        );
        const t0 = hrms();
        const [rec] = await r.onAlert(alert);
        engine.push(hrms() - t0);
        if (rec.status !== 'executed' || !rec.verified)
          throw new Error(`${action}: ${rec.status} ${rec.error ?? rec.reason}`);
        await r.rollback(rec.id);
        const t1 = hrms();
        await bare();
        raw.push(hrms() - t1);
        await undo();
      }
      row(`alert → ${action} applied + verified (engine)`, stats(engine));
      row(`bare dockerode ${action} call`, stats(raw));
      await r.close();
    }
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
    await net.remove().catch(() => undefined);
  }
}
