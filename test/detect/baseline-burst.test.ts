/**
 * A noisy attacker must not switch the workload baseline off. On real dockerd and bpftrace: a busybox
 * httpd learns briefly, then a burst of command injections through its diagnostics CGI runs more
 * never-seen binaries than the old drift limit (30 anomalies an hour) while the runtime rules report
 * the shell spawned from the service. The burst is an incident, not drift: afterwards the baseline
 * must still report a binary it never saw. Skips with a message when Docker or bpftrace cannot run
 * here (except under CI=true).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { createDetectors } from '../../src/detect/registry.js';
import type { BaselineDetector } from '../../src/detect/anomaly/baseline/detector.js';
import { createBaselineManager } from '../../src/detect/anomaly/baseline/manager.js';
import type { Alert } from '../../src/model/alert.js';
import { workloadKey } from '../../src/model/event.js';
import { openStore } from '../../src/infra/db.js';
import { DockerContainerCatalogue, DockerSource } from '../../src/sources/docker.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { httpGet, TrafficDriver, waitHttp } from '../../src/testbed/traffic.js';
import {
  bpftraceAvailable,
  discardedOutput,
  docker,
  dockerAvailable,
  removeContainer,
  waitFor,
} from '../utils/live.js';

const hasDocker = await dockerAvailable();
const hasBpf = hasDocker && bpftraceAvailable();

/** Busybox applets run by full path (an execve each, so each is a binary the baseline never saw). */
const APPLETS = [
  'id', 'uname', 'whoami', 'hostname', 'date', 'uptime', 'pwd', 'ls', 'ps', 'df',
  'free', 'nproc', 'tty', 'basename', 'dirname', 'seq', 'expr', 'which', 'wc', 'head',
  'tail', 'sort', 'uniq', 'cut', 'tr', 'sed', 'awk', 'grep', 'find', 'stat',
  'du', 'md5sum', 'sha1sum', 'arch', 'groups', 'realpath', 'readlink', 'cksum', 'od', 'hexdump',
]; // prettier-ignore

describe.skipIf(!hasBpf)('workload baseline under a burst of attacks (real Docker and bpftrace)', () => {
  it('a burst of command injections with a shell alert does not silence the baseline', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vigie-live-burst-'));
    const db = openStore(join(tmp, 'vigie.db'));
    const image = await ensureTestbedImage(docker);
    const containers = new DockerContainerCatalogue(docker);
    const sources = [
      new DockerSource({ hostname: 'h', containers, stats: false }),
      new BpftraceSensor({ hostname: 'h', containers }),
    ];
    const config = {
      baseline: { learnSec: 6, minEvents: 50, windowSec: 2, pauseSec: 2 },
      runtime: {},
    };
    const baselines = createBaselineManager(db, config.baseline);
    const detectors = await createDetectors({ db, hostname: 'h', config, baselines }, [
      'baseline',
      'runtime',
    ]);
    const alerts: Alert[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources,
      detectors,
      responder: null,
      onAlert: (a) => alerts.push(a),
    });
    const baseline = detectors.find((d) => d.name === 'baseline') as BaselineDetector;
    // A unique command makes a workload of its own (the baseline is per image + command); $0 of
    // `sh -c` carries the tag.
    const tag = `vigie-burst-${process.pid}-${Date.now()}`;
    const cmd = ['sh', '-c', 'exec /bin/httpd -f -p 8080 -h /www', tag];
    let id: string | undefined;
    let traffic: TrafficDriver | undefined;
    try {
      await engine.start();
      const c = await docker.createContainer({
        Image: image,
        name: tag,
        Cmd: cmd,
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      const ip = Object.values((await c.inspect()).NetworkSettings.Networks ?? {})[0]?.IPAddress ?? '';
      await waitHttp(ip, 8080);
      traffic = new TrafficDriver(ip, 8080, 10);
      traffic.start();
      const key = workloadKey({ container: { id: c.id, image, command: cmd.join(' ') } })!;
      await waitFor(
        () => baseline.manager.workloads.get(key)?.state === 'ready' || undefined,
        40_000,
        `the baseline of ${key} to be ready`,
      );
      const mine = () => alerts.filter((a) => a.vigie.entities.container?.id === id);
      const anomalies = () => mine().filter((a) => a.vigie.detector === 'baseline');

      // The burst: eight injections, five never-seen binaries each, plus the CGI's own shell.
      const inject = (cmds: string[]) =>
        `/cgi-bin/diag?host=${encodeURIComponent(`127.0.0.1; ${cmds.map((a) => `/bin/${a}`).join('; ')}`)}`;
      for (let i = 0; i < APPLETS.length; i += 5) {
        await httpGet(ip, 8080, inject(APPLETS.slice(i, i + 5))).catch(() => undefined);
      }
      await waitFor(
        () => mine().find((a) => a.rule === 'Shell spawned in container'),
        15_000,
        'the shell alert',
      );
      const novelties = () => anomalies().filter((a) => a.rule.startsWith('Baseline: '));
      await waitFor(
        () => novelties().length >= 30 || undefined,
        20_000,
        'at least 30 anomaly alerts from the burst (as many as used to silence the baseline for an hour)',
      );

      // After the burst: one more never-seen binary must still be reported.
      await httpGet(ip, 8080, inject(['cal'])).catch(() => undefined);
      const late = await waitFor(
        () =>
          anomalies().find(
            (a) =>
              a.rule === 'Baseline: binary never seen' && a.output_fields['vigie.never_seen'] === '/bin/cal',
          ),
        15_000,
        `the baseline alert for /bin/cal after the burst (baseline state: ${baseline.manager.workloads.get(key)?.state}/${baseline.manager.workloads.get(key)?.staleReason})`,
      );
      expect(late.vigie.category).toBe('anomaly');
      expect(mine().some((a) => a.rule === 'Baseline drifted')).toBe(false);
      expect(baseline.manager.workloads.get(key)?.status().reason).toMatch(/^ready/);
    } finally {
      traffic?.stop();
      await engine.stop();
      await removeContainer(id);
      db.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
