/**
 * Pod attribution cost on a node (`npm run bench -- cgroup-attribution`):
 * - a rescan of the cgroup map over a kubelet's hierarchy (systemd driver: 110 pods of 2 containers,
 *   3 QoS slices, 80 system services), against the baseline of Docker's flat /docker/<id> layout
 *   with the same 220 containers, walked by the same code in the same run;
 * - the hot path per record (cgroup id → container → pod reference), against the baseline of a
 *   Docker container named through the catalogue's `known`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { CgroupMap } from '../src/sources/bpftrace/cgroups.js';
import { DockerContainerCatalogue } from '../src/sources/docker.js';
import { PodDirectory } from '../src/sources/pods.js';
import { fmt, hrms, row } from './util.js';

const PODS = 110;
const PER_POD = 2;

export async function run(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'vigie-bench-cg-'));
  try {
    const node = join(base, 'node');
    const dockerHost = join(base, 'docker-host');
    const pods = new PodDirectory();
    const nodeCgroups: number[] = [];
    const dockerCgroups: number[] = [];
    for (let s = 0; s < 80; s++)
      mkdirSync(join(node, 'system.slice', `service-${s}.service`), { recursive: true });
    for (let p = 0; p < PODS; p++) {
      const qos = ['burstable', 'besteffort', ''][p % 3];
      const uid = randomUUID();
      const podDir = qos
        ? join(
            node,
            'kubepods.slice',
            `kubepods-${qos}.slice`,
            `kubepods-${qos}-pod${uid.replace(/-/g, '_')}.slice`,
          )
        : join(node, 'kubepods.slice', `kubepods-pod${uid.replace(/-/g, '_')}.slice`);
      const statuses = [];
      for (let c = 0; c < PER_POD; c++) {
        const id = randomBytes(32).toString('hex');
        const dir = join(podDir, `cri-containerd-${id}.scope`);
        mkdirSync(dir, { recursive: true });
        nodeCgroups.push(statSync(dir).ino);
        statuses.push({ name: `c${c}`, image: 'app:1', containerID: `containerd://${id}` });
        const flat = join(dockerHost, 'docker', id);
        mkdirSync(flat, { recursive: true });
        dockerCgroups.push(statSync(flat).ino);
      }
      pods.put({
        metadata: { name: `app-${p}`, namespace: 'ns', uid },
        spec: {},
        status: { containerStatuses: statuses },
      });
    }
    const nodeMap = new CgroupMap([node], '/nonexistent-proc');
    const dockerMap = new CgroupMap([dockerHost], '/nonexistent-proc');
    const rounds = 200;
    let tNode = 0;
    let tDocker = 0;
    // Alternating rounds, so that both see the same machine load.
    for (let r = 0; r < rounds; r++) {
      let t = hrms();
      dockerMap.rescan();
      tDocker += hrms() - t;
      t = hrms();
      nodeMap.rescan();
      tNode += hrms() - t;
    }
    row(`rescan, Docker layout (${PODS * PER_POD} containers), ms`, fmt(tDocker / rounds, 3));
    row(`rescan, kubelet systemd layout (${PODS} pods, 80 services), ms`, fmt(tNode / rounds, 3));
    row('  ratio to the Docker layout', `${fmt(tNode / tDocker, 2)}x`);
    row('  containers found', `${nodeMap.size} of ${PODS * PER_POD}`);

    // Hot path: every record looks its cgroup up; pod containers then take the pod reference.
    const catalogue = new DockerContainerCatalogue({} as Docker);
    for (const cg of dockerCgroups)
      catalogue.put({ id: dockerMap.lookup(cg)!.id, name: 'c', running: true, changedAt: Date.now() });
    const n = 2_000_000;
    let sink = 0;
    let t = hrms();
    for (let i = 0; i < n; i++) {
      const c = dockerMap.lookup(dockerCgroups[i % dockerCgroups.length])!;
      if (catalogue.known(c.id) !== undefined) sink++;
    }
    const docker = hrms() - t;
    t = hrms();
    for (let i = 0; i < n; i++) {
      const c = nodeMap.lookup(nodeCgroups[i % nodeCgroups.length])!;
      if (pods.known(c.id, c.podUid!) !== undefined) sink++;
    }
    const pod = hrms() - t;
    row('per record, Docker container (map + catalogue), ns', fmt((docker * 1e6) / n, 1));
    row('per record, pod container (map + pod directory), ns', fmt((pod * 1e6) / n, 1));
    row('  ratio to the Docker container', `${fmt(pod / docker, 2)}x`);
    row('  records attributed', fmt(sink));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
