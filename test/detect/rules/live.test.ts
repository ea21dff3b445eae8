/**
 * Falco's syscall rules on real events: dockerd, Vigie's bpftrace sensor, a busybox container, and a
 * `docker exec` that searches for private keys. The stock falco_rules.yaml, unchanged, must fire.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DockerContainerCatalogue, DockerSource } from '../../../src/sources/docker.js';
import { BpftraceSensor } from '../../../src/sources/bpftrace/sensor.js';
import { ensureTestbedImage } from '../../../src/testbed/image.js';
import { loadRuleFiles } from '../../../src/detect/rules/loader.js';
import { RuleEngine, alertInput } from '../../../src/detect/rules/engine.js';
import { makeAlert, type Alert } from '../../../src/model/alert.js';
import { requireDataset } from '../../../src/util/datasets.js';
import { bpftraceAvailable, docker, dockerAvailable, removeContainer, waitFor } from '../../utils/live.js';

const dir = requireDataset('falco-rules');
const hasDocker = dir ? await dockerAvailable() : false;
const hasBpf = hasDocker && bpftraceAvailable();

describe.skipIf(!hasBpf)('falco_rules.yaml on live sensor events', () => {
  // Both rules must fire on the live sensor's events: a key search, and a shell with a terminal.
  it('a key search run in a container fires "Search Private Keys or Passwords"', async () => {
    const engine = new RuleEngine(loadRuleFiles([join(dir!, 'falco_rules.yaml')]), { ruleMatching: 'all' });
    const image = await ensureTestbedImage(docker);
    const containers = new DockerContainerCatalogue(docker);
    const sources = [
      new DockerSource({ hostname: 'h', containers, stats: false }),
      new BpftraceSensor({ hostname: 'h', containers }),
    ];
    const alerts: Alert[] = [];
    let execs = 0;
    const sink = (ev: Parameters<RuleEngine['evaluate']>[0]) => {
      if (ev.kind === 'process') execs++;
      engine.evaluate(ev, (r) => alerts.push(makeAlert(alertInput(r, ev), 'h')));
      return true;
    };
    let id: string | undefined;
    try {
      for (const s of sources) await s.start(sink);
      const c = await docker.createContainer({
        Image: image,
        name: `vigie-rules-live-${process.pid}`,
        Cmd: ['sleep', '120'],
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      // Let the sensor attach to the new container's cgroup.
      await new Promise((r) => setTimeout(r, 1500));
      const ex = await c.exec({ Cmd: ['grep', '-r', 'BEGIN RSA PRIVATE', '/etc'] });
      await ex.start({ Detach: true });
      const hit = await waitFor(
        () =>
          alerts.find(
            (a) => a.rule === 'Search Private Keys or Passwords' && a.vigie.entities.container?.id === id,
          ),
        30_000,
        'the Falco rule to fire on the live exec event',
      );
      expect(hit.output_fields['proc.name']).toBe('grep');
      expect(String(hit.output_fields['proc.cmdline'])).toContain('BEGIN RSA PRIVATE');
      expect(execs).toBeGreaterThan(0);

      // An interactive shell (`docker exec -t`): the sensor reports its controlling terminal, and the
      // stock "Terminal shell in container" rule fires on it, unchanged.
      const sh = await c.exec({ Cmd: ['sh', '-c', 'true'], Tty: true, AttachStdout: true });
      await sh.start({ Detach: true, Tty: true });
      const shell = await waitFor(
        () =>
          alerts.find(
            (a) => a.rule === 'Terminal shell in container' && a.vigie.entities.container?.id === id,
          ),
        30_000,
        '"Terminal shell in container" on a docker exec -t shell',
      );
      expect(shell.output_fields['proc.name']).toBe('sh');
      // A shell without a terminal does not fire it.
      const before = alerts.filter((a) => a.rule === 'Terminal shell in container').length;
      const quiet = await c.exec({ Cmd: ['sh', '-c', 'true'] });
      await quiet.start({ Detach: true });
      await new Promise((r) => setTimeout(r, 3000));
      expect(alerts.filter((a) => a.rule === 'Terminal shell in container').length).toBe(before);
    } finally {
      for (const s of sources) await s.stop().catch(() => undefined);
      await removeContainer(id);
    }
  }, 120_000);
});
