/**
 * The baseline and runtime detectors on real events: dockerd, the bpftrace sensor, a busybox container
 * whose normal life is a loop; the baseline learns it, then a `docker exec` does what an intruder does.
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
import {
  bpftraceAvailable,
  docker,
  dockerAvailable,
  removeContainer,
  waitFor,
  discardedOutput,
} from '../utils/live.js';

const hasDocker = await dockerAvailable();
const hasBpf = hasDocker && bpftraceAvailable();

describe.skipIf(!hasBpf)('baseline and runtime detectors on real Docker and bpftrace', () => {
  it('learn a looping container, then alert on a shell, a shadow read, a binary and a peer never seen', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vigie-live-bl-'));
    const db = openStore(join(tmp, 'vigie.db'));
    const image = await ensureTestbedImage(docker);
    const containers = new DockerContainerCatalogue(docker);
    const sources = [
      new DockerSource({ hostname: 'h', containers, stats: false }),
      new BpftraceSensor({ hostname: 'h', containers }),
    ];
    const config = {
      baseline: {
        learnSec: 8,
        minEvents: 50,
        windowSec: 2,
        pauseSec: 2,
        minSyscalls: 100,
        convergeMinCalls: 50,
        convergeShare: 0.05,
      },
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
    // A unique command makes a workload of its own (the baseline is per image + command).
    const cmd = [
      'sh',
      '-c',
      `while :; do cat /www/index.html >/dev/null; sleep 0.2; done # ${process.pid}-${Date.now()}`,
    ];
    let id: string | undefined;
    try {
      await engine.start();
      const c = await docker.createContainer({
        Image: image,
        name: `vigie-live-baseline-${process.pid}`,
        Cmd: cmd,
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      const key = workloadKey({ container: { id: c.id, image, command: cmd.join(' ') } })!;
      const wb = await waitFor(
        () => {
          const w = baseline.manager.workloads.get(key);
          return w?.state === 'ready' && w.syscallConverged ? w : undefined;
        },
        60_000,
        `the baseline of ${key} to be ready`,
      );
      expect(wb.binaries.has('cat')).toBe(true);
      expect(wb.stide.size).toBeGreaterThan(10);
      const quiet = alerts.filter((a) => a.vigie.entities.container?.id === id);
      expect(quiet.map((a) => a.rule)).toEqual([]);

      const ex = await c.exec({
        Cmd: ['sh', '-c', 'head -c 64 /etc/shadow >/dev/null; nc -w 1 192.0.2.10 4444 </dev/null; true'],
      });
      await ex.start({ Detach: true });
      const mine = () => alerts.filter((a) => a.vigie.entities.container?.id === id);
      const has = (pred: (a: Alert) => boolean) => () => mine().find(pred);
      const shell = await waitFor(
        has((a) => a.rule === 'Shell spawned in container'),
        20_000,
        'the shell alert',
      );
      expect(shell.vigie.mitre[0].technique).toBe('T1059.004');
      const shadow = await waitFor(
        has((a) => a.rule === 'Read sensitive file untrusted'),
        10_000,
        'the shadow read alert',
      );
      expect(shadow.output_fields['fd.name']).toBe('/etc/shadow');
      // busybox runs some applets (head) in a forked child without exec; nc is exec'd.
      const bin = await waitFor(
        has((a) => a.rule === 'Baseline: binary never seen' && a.output_fields['vigie.never_seen'] === 'nc'),
        10_000,
        'the baseline binary alert',
      );
      expect(bin.vigie.category).toBe('anomaly');
      expect(bin.vigie.explanation).toContain('executed binary nc was never seen');
      const peer = await waitFor(
        has((a) => a.rule === 'Baseline: network peer never seen'),
        10_000,
        'the baseline peer alert',
      );
      expect(peer.output_fields['vigie.never_seen']).toBe('192.0.2.10:4444');
      await waitFor(
        has((a) => a.rule === 'Outbound connection to unusual port'),
        10_000,
        'the unusual port alert',
      );
      // Persisted: the learned workload is in SQLite.
      baseline.manager.save();
      const row = db.prepare('SELECT state FROM baseline_workloads WHERE workload = ?').get(key) as {
        state: string;
      };
      expect(row.state).toBe('ready');
    } finally {
      await engine.stop();
      await removeContainer(id);
      db.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 150_000);
});
