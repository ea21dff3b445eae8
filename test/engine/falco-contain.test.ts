/**
 * Falco detects, Vigie contains: an alert that Falco writes to its JSON output file, naming a real
 * container, is tailed by the `falco` source, becomes a Vigie alert, and the response engine (in
 * enforce mode) caps that container on the real dockerd, verified against Docker's state.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { Alert } from '../../src/model/alert.js';
import { openStore } from '../../src/infra/db.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { docker, dockerAvailable, removeContainer, waitFor, discardedOutput } from '../utils/live.js';

const hasDocker = await dockerAvailable();

describe.skipIf(!hasDocker)('Falco alerts contained on real Docker', () => {
  it('a Critical Falco alert about a running container gets it throttled, verified', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vigie-falco-live-'));
    const falcoFile = join(tmp, 'falco_events.json');
    writeFileSync(falcoFile, '');
    const policy = join(tmp, 'policy.yaml');
    writeFileSync(
      policy,
      [
        'version: 1',
        'name: falco-test',
        'mode: enforce',
        'rules:',
        '  - name: cap-falco-criticals',
        '    match: { category: attack, minPriority: Critical }',
        '    actions:',
        '      - { action: throttle, params: { cpus: 0.2 }, ttl: 10m }',
        '',
      ].join('\n'),
    );
    const db = openStore(join(tmp, 'vigie.db'));
    const alerts: Alert[] = [];
    const actions: ActionRecord[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      mode: 'enforce',
      policyFile: policy,
      sourceNames: ['falco'],
      detectorNames: [],
      config: { falco: { path: falcoFile, follow: true } },
      onAlert: (a) => alerts.push(a),
      onAction: (r) => actions.push(r),
    });
    let id: string | undefined;
    try {
      const image = await ensureTestbedImage(docker);
      const c = await docker.createContainer({
        Image: image,
        name: `vigie-falco-live-${process.pid}`,
        Cmd: ['sleep', '300'],
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      await engine.start();
      // What Falco writes with json_output: true (its "Terminal shell in container" rule's fields).
      appendFileSync(
        falcoFile,
        JSON.stringify({
          time: new Date().toISOString(),
          rule: 'Terminal shell in container',
          priority: 'Critical',
          output: `Critical A shell was spawned in a container with an attached terminal (user=root container_id=${c.id.slice(0, 12)})`,
          source: 'syscall',
          hostname: 'h',
          tags: ['container', 'shell', 'mitre_execution', 'T1059'],
          output_fields: {
            'container.id': c.id.slice(0, 12),
            'container.name': `vigie-falco-live-${process.pid}`,
            'proc.name': 'sh',
            'proc.pid': 4242,
          },
        }) + '\n',
      );
      const done = await waitFor(
        () =>
          actions.find(
            (r) => r.action === 'throttle' && ['executed', 'failed', 'skipped'].includes(r.status),
          ),
        20_000,
        'the throttle action',
      );
      expect(alerts[0]).toMatchObject({
        rule: 'Terminal shell in container',
        vigie: { detector: 'falco', category: 'attack' },
      });
      expect(done.status, done.error ?? done.reason).toBe('executed');
      expect(done.verified).toBe(true);
      const info = await c.inspect();
      // A container without a CPU limit is capped through the CFS quota (0.2 of a period).
      expect(info.HostConfig.CpuQuota! / (info.HostConfig.CpuPeriod || 100_000)).toBeCloseTo(0.2, 6);
    } finally {
      await engine.stop();
      await removeContainer(id);
      db.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
