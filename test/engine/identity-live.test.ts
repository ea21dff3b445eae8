/**
 * Workload identity and incident blast radius on real dockerd (skipped with a message when dockerd
 * does not answer, except under CI=true):
 * - two replicas of one image and command and a `sleep` container of the same image, watched by the
 *   cgroup source alone (so a metric without the command is each container's first event): the
 *   replicas share one workload key and one baseline, the `sleep` container has its own;
 * - Falco alerts on a container with the Docker socket mounted and on one with --pid=host and
 *   --cap-add SYS_ADMIN (replicas of one workload, so one incident): the incident's blast radius
 *   reports the host reach of both.
 */
import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { openStore } from '../../src/infra/db.js';
import { workloadKey, type VigieEvent } from '../../src/model/event.js';
import { falcoToAlert } from '../../src/sources/falco.js';
import type { PushSource } from '../../src/sources/push.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { discardedOutput, docker, dockerAvailable, removeContainer, waitFor } from '../utils/live.js';

const hasDocker = await dockerAvailable();
const PREFIX = `vigie-identity-${process.pid}-${randomBytes(3).toString('hex')}-`;
const started: string[] = [];

afterAll(async () => {
  for (const id of started) await removeContainer(id);
});

async function run(name: string, image: string, opts: Partial<Docker.ContainerCreateOptions> = {}) {
  const c = await docker.createContainer({
    Image: image,
    name: PREFIX + name,
    Labels: { 'vigie.test': 'identity' },
    ...opts,
    HostConfig: { AutoRemove: false, ...(opts.HostConfig ?? {}) },
  });
  started.push(c.id);
  await c.start();
  return c.id;
}

describe.skipIf(!hasDocker)('workload identity on real dockerd', () => {
  it('replicas share one key and one baseline, a sleep of the same image does not (cgroup first)', async () => {
    const image = await ensureTestbedImage(docker);
    const web1 = await run('web-1', image);
    const web2 = await run('web-2', image);
    const idle = await run('idle', image, { Cmd: ['/bin/sleep', '300'] });
    const ours = new Set([web1, web2, idle]);
    const seen: VigieEvent[] = [];
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sourceNames: ['cgroup'],
      detectorNames: ['baseline'],
      config: { cgroup: { intervalMs: 300 } },
      characterizer: null,
      responder: null,
      onEvent: (ev) => {
        if (ev.container && ours.has(ev.container.id)) seen.push(ev);
      },
    });
    await engine.start();
    try {
      const of = (id: string) => seen.filter((e) => e.container?.id === id);
      await waitFor(() => [...ours].every((id) => of(id).length >= 3), 20_000, 'cgroup metrics of the three');
      const httpd = `docker:${image}|/bin/httpd -f -p 8080 -h /www`;
      const sleep = `docker:${image}|/bin/sleep 300`;
      for (const id of ours) expect(of(id)[0].kind).toBe('metric');
      const keys = (id: string) => [...new Set(of(id).map((e) => workloadKey(e)))];
      expect(keys(web1)).toEqual([httpd]);
      expect(keys(web2)).toEqual([httpd]);
      expect(keys(idle)).toEqual([sleep]);
      // One baseline for the replicas, another for the sleep container.
      const b = engine.baselines!;
      const now = Date.now();
      const w1 = b.resolve(of(web1).at(-1)!, now);
      expect(b.resolve(of(web2).at(-1)!, now)).toBe(w1);
      expect(w1?.workload).toBe(httpd);
      expect(b.resolve(of(idle).at(-1)!, now)?.workload).toBe(sleep);
      // (Other containers of the host, the testbed's included, may have baselines of their own.)
      expect(b.list().map((w) => w.workload)).toEqual(expect.arrayContaining([httpd, sleep]));
    } finally {
      await engine.stop();
      db.close();
    }
  }, 60_000);

  it('an incident over a Docker-socket container and a host-PID SYS_ADMIN one reports host reach from both', async () => {
    const image = await ensureTestbedImage(docker);
    const sock = await run('sock', image, {
      HostConfig: { Binds: ['/var/run/docker.sock:/var/run/docker.sock:ro'] },
    });
    const pid = await run('pid', image, { HostConfig: { PidMode: 'host', CapAdd: ['SYS_ADMIN'] } });
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sourceNames: ['docker', 'falco-webhook'],
      config: { docker: { stats: false }, 'falco-webhook': { enabled: true } },
      detectors: [],
      responder: null,
    });
    await engine.start();
    try {
      const falco = engine.sources.find((s) => s.name === 'falco-webhook') as PushSource;
      const shell = (id: string, name: string) =>
        falcoToAlert(
          {
            time: new Date().toISOString(),
            rule: 'Terminal shell in container',
            priority: 'Notice',
            output: `shell in ${name}`,
            tags: ['container', 'shell', 'mitre_execution', 'T1059'],
            output_fields: {
              'container.id': id.slice(0, 12),
              'container.name': PREFIX + name,
              'container.image.repository': image.split(':')[0],
            },
          },
          'h',
        );
      const a = shell(sock, 'sock');
      const b = shell(pid, 'pid');
      expect(await falco.pushAlerts([a, b])).toBe(0);
      await engine.characterizer!.settled();
      const stored = [engine.alerts.get(a.uuid)!, engine.alerts.get(b.uuid)!];
      expect(stored[1].vigie.incident).toBe(stored[0].vigie.incident);
      const inc = engine.characterizer!.correlator.store.get(stored[0].vigie.incident!)!;
      const blast = inc.blastRadius!;
      expect(blast.hostAccess).toEqual(
        expect.arrayContaining([
          `runtime socket /var/run/docker.sock (${PREFIX}sock)`,
          `hostPID (${PREFIX}pid)`,
          `capability SYS_ADMIN (${PREFIX}pid)`,
        ]),
      );
      expect(blast.targets.map((t) => t.name).sort()).toEqual([PREFIX + 'pid', PREFIX + 'sock']);
      expect(inc.explanation).toMatch(/If any of its 2 containers is compromised/);
      expect(inc.explanation).not.toMatch(/\bpods?\b/);
      // Falco's alerts took the workload of their containers (image and command, from inspect).
      expect(stored[0].vigie.entities.workload).toBe(`docker:${image}|/bin/httpd -f -p 8080 -h /www`);
    } finally {
      await engine.stop();
      db.close();
    }
  }, 60_000);
});
