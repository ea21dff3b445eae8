/**
 * Workload identity, resolved once per container from its metadata (the container catalogue) before
 * any event is scored: replicas (same image, same command) share one key and one baseline, another
 * command on the same image does not, whichever source's event comes first (a cgroup metric carries
 * no command) and for Falco's alerts too (Falco names a container by its short id and its image
 * repository only).
 */
import type Docker from 'dockerode';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BaselineManager } from '../../src/detect/anomaly/baseline/manager.js';
import { parseBaselineConfig } from '../../src/detect/anomaly/baseline/config.js';
import { Engine } from '../../src/engine/engine.js';
import { openStore } from '../../src/infra/db.js';
import type { Alert } from '../../src/model/alert.js';
import { containerWorkload, podOwner, workloadKey, type VigieEvent } from '../../src/model/event.js';
import { DockerContainerCatalogue } from '../../src/sources/docker.js';
import { falcoToAlert } from '../../src/sources/falco.js';
import { CgroupSource } from '../../src/sources/metrics/cgroup.js';
import { PushSource } from '../../src/sources/push.js';
import type { EventSink, Source } from '../../src/sources/types.js';
import { discardedOutput, waitFor } from '../utils/live.js';

const WEB1 = 'a'.repeat(64);
const WEB2 = 'b'.repeat(64);
const SLEEPER = 'd'.repeat(64);
const HTTPD = 'docker:shop:1|/bin/httpd -f -p 8080';
const SLEEP = 'docker:shop:1|/bin/sleep 300';

/** A Docker client that knows three containers of one image, two of them replicas; counts inspections. */
function fakeDocker(): { docker: Docker; inspections: Map<string, number> } {
  const inspections = new Map<string, number>();
  const spec: Record<string, { name: string; cmd: string[] }> = {
    [WEB1]: { name: 'web-1', cmd: ['/bin/httpd', '-f', '-p', '8080'] },
    [WEB2]: { name: 'web-2', cmd: ['/bin/httpd', '-f', '-p', '8080'] },
    [SLEEPER]: { name: 'idle', cmd: ['/bin/sleep', '300'] },
  };
  const docker = {
    getContainer: (ref: string) => ({
      inspect: async () => {
        // Docker answers to a unique id prefix too (Falco's 12-character ids).
        const id = Object.keys(spec).find((k) => k.startsWith(ref));
        inspections.set(id ?? ref, (inspections.get(id ?? ref) ?? 0) + 1);
        if (!id) throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return {
          Id: id,
          Name: `/${spec[id].name}`,
          Config: { Image: 'shop:1', Entrypoint: null, Cmd: spec[id].cmd, Labels: {} },
          State: { Pid: 100, Running: true },
          HostConfig: {},
        };
      },
    }),
  } as unknown as Docker;
  return { docker, inspections };
}

// A cgroup v2 tree with the three containers' folders, as the cgroup source reads it.
const root = mkdtempSync(join(tmpdir(), 'vigie-identity-cg-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
for (const id of [WEB1, WEB2, SLEEPER]) {
  const d = join(root, 'system.slice', `docker-${id}.scope`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'cgroup.procs'), '100\n');
  writeFileSync(join(d, 'cpu.stat'), 'usage_usec 1000\nnr_periods 0\nnr_throttled 0\n');
  writeFileSync(join(d, 'memory.current'), '1048576\n');
  writeFileSync(join(d, 'pids.current'), '1\n');
}

/** A source the test drives (a sensor that could not name a container: its events carry the id only). */
class Feed implements Source {
  readonly name = 'feed';
  sink: EventSink = () => false;
  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
  }
  async stop(): Promise<void> {}
  stats() {
    return { events: 0, malformed: 0, lost: 0 };
  }
}

describe('workload identity from the container catalogue', () => {
  it('replicas share one key and one baseline, another command does not, cgroup metrics first', async () => {
    const { docker, inspections } = fakeDocker();
    const db = openStore(':memory:');
    // What `docker ps` says: the image, no command.
    const cgroup = new CgroupSource({
      root,
      hostname: 'h',
      intervalMs: 50,
      list: async () =>
        [WEB1, WEB2, SLEEPER].map((id) => ({ id, image: 'shop:1', name: id.slice(0, 4), labels: {} })),
    });
    const feed = new Feed();
    const seen: VigieEvent[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources: [cgroup, feed],
      containers: new DockerContainerCatalogue(docker),
      detectorNames: ['baseline'],
      characterizer: null,
      responder: null,
      onEvent: (ev) => seen.push(ev),
    });
    await engine.start();
    try {
      const byContainer = (id: string) => seen.filter((e) => e.container?.id === id);
      await waitFor(
        () => [WEB1, WEB2, SLEEPER].every((id) => byContainer(id).length >= 2),
        5000,
        'two cgroup samples of each container',
      );
      // A system call of a replica, named by its id alone, after its metrics.
      feed.sink({
        id: 'f1',
        kind: 'syscall',
        ts: BigInt(Date.now()) * 1_000_000n,
        source: 'bpftrace',
        container: { id: WEB2 },
        proc: { pid: 1, tid: 1, name: 'httpd' },
        syscall: { name: 'read', dir: '>' },
      });
      await waitFor(() => byContainer(WEB2).some((e) => e.kind === 'syscall'), 5000, 'the system call');
      // The first event of each container is a cgroup metric, and it already has the identity.
      for (const id of [WEB1, WEB2, SLEEPER]) expect(byContainer(id)[0].kind).toBe('metric');
      const keys = (id: string) => [...new Set(byContainer(id).map((e) => workloadKey(e)))];
      expect(keys(WEB1)).toEqual([HTTPD]);
      expect(keys(WEB2)).toEqual([HTTPD]);
      expect(keys(SLEEPER)).toEqual([SLEEP]);
      expect(
        engine
          .baselines!.list()
          .map((w) => w.workload)
          .sort(),
      ).toEqual([HTTPD, SLEEP]);
      // Resolved once per container.
      expect([...inspections.values()]).toEqual([1, 1, 1]);
      expect(engine.stats().identity).toMatchObject({ lookups: 3, unresolved: 0, held: 0 });
    } finally {
      await engine.stop();
      db.close();
    }
  });

  it("Falco's alerts take the workload of their container, looked up when unknown, in order", async () => {
    const { docker } = fakeDocker();
    const db = openStore(':memory:');
    const falco = new PushSource('falco-webhook');
    const stored: Alert[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources: [falco],
      containers: new DockerContainerCatalogue(docker),
      detectors: [],
      characterizer: null,
      responder: null,
      onAlert: (a) => stored.push(a),
    });
    await engine.start();
    try {
      const shell = (id: string, t: string) =>
        falcoToAlert(
          {
            time: t,
            rule: 'Terminal shell in container',
            priority: 'Notice',
            output: 'shell',
            output_fields: {
              'container.id': id.slice(0, 12),
              'container.image.repository': 'shop',
              'container.name': 'x',
            },
          },
          'h',
        );
      const a = shell(SLEEPER, '2026-01-01T00:00:00.000000000Z');
      const b = shell(WEB1, '2026-01-01T00:00:01.000000000Z');
      // Both containers unknown to the catalogue: looked up before they are stored.
      expect(await falco.pushAlerts([a, b])).toBe(0);
      expect(stored.map((x) => x.uuid)).toEqual([a.uuid, b.uuid]);
      expect(engine.alerts.get(a.uuid)!.vigie.entities.workload).toBe(SLEEP);
      expect(engine.alerts.get(b.uuid)!.vigie.entities.workload).toBe(HTTPD);
      expect(engine.alerts.get(b.uuid)!.vigie.entities.container?.id).toBe(WEB1);
    } finally {
      await engine.stop();
      db.close();
    }
  });

  it('a Kubernetes container is its pod owner; Docker containers are image and command', () => {
    const labels = { 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.name': 'web-7d9f8b6c4-x2k9p' };
    expect(containerWorkload({ image: 'nginx:1', command: 'nginx', labels })).toBe('k8s:shop/web-7d9f8b6c4');
    expect(podOwner('db-0')).toBe('db');
    expect(podOwner('debug')).toBe('debug');
    expect(containerWorkload({ image: 'nginx:1', command: 'nginx -g daemon off;' })).toBe(
      'docker:nginx:1|nginx -g daemon off;',
    );
    // The resolved identity wins over what an event carries.
    expect(workloadKey({ container: { id: 'c', image: 'nginx:1', workload: 'docker:nginx:1|nginx' } })).toBe(
      'docker:nginx:1|nginx',
    );
  });

  it('a baseline manager moves a container first seen unresolved to its resolved workload', () => {
    const m = new BaselineManager(parseBaselineConfig({}));
    const ev = (container: VigieEvent['container']): VigieEvent => ({
      id: 'e',
      kind: 'metric',
      ts: 1n,
      source: 'cgroup',
      container,
      metric: { memory: 1 },
    });
    expect(m.resolve(ev({ id: WEB1, image: 'shop:1' }), 0)!.workload).toBe('docker:shop:1|');
    expect(m.resolve(ev({ id: WEB1, image: 'shop:1', workload: HTTPD }), 0)!.workload).toBe(HTTPD);
    // From then on, an event without the identity stays with the resolved workload.
    expect(m.resolve(ev({ id: WEB1, image: 'shop:1' }), 0)!.workload).toBe(HTTPD);
  });
});
