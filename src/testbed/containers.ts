/** Demo containers: the victim web service and its CPU-hungry neighbour, labelled for cleanup. */
import type Docker from 'dockerode';
import { logger } from '../util/log.js';

const log = logger('testbed');
export const DEMO_LABEL = 'vigie.demo';
export const DEMO_PID_LABEL = 'vigie.demo.pid';

export interface Started {
  id: string;
  name: string;
  ip: string;
  gateway: string;
}

export interface ContainerSpec {
  name: string;
  image: string;
  runId: string;
  cmd?: string[];
  cpuset?: string;
  cpus?: number;
  labels?: Record<string, string>;
}

export async function startContainer(docker: Docker, spec: ContainerSpec): Promise<Started> {
  const c = await docker.createContainer({
    Image: spec.image,
    name: spec.name,
    ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    Labels: { [DEMO_LABEL]: spec.runId, [DEMO_PID_LABEL]: String(process.pid), ...(spec.labels ?? {}) },
    HostConfig: {
      ...(spec.cpuset ? { CpusetCpus: spec.cpuset } : {}),
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      PidsLimit: 512,
      Memory: 256 * 1024 * 1024,
    },
  });
  await c.start();
  const info = await c.inspect();
  const ns = info.NetworkSettings;
  const net = Object.values(ns.Networks ?? {})[0];
  return {
    id: c.id,
    name: spec.name,
    ip: net?.IPAddress ?? '',
    gateway: net?.Gateway ?? '',
  };
}

export async function removeContainers(docker: Docker, ids: Iterable<string>): Promise<void> {
  await Promise.all(
    [...ids].map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true })
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404)
            log.warn(`could not remove container ${id.slice(0, 12)}: ${(err as Error).message}`);
        }),
    ),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Remove demo containers left behind by a demo process that no longer runs (killed -9, crash). */
export async function removeOrphans(docker: Docker): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [DEMO_LABEL] } });
  const orphans = list.filter((c) => {
    const pid = Number(c.Labels?.[DEMO_PID_LABEL]);
    return !Number.isInteger(pid) || pid <= 0 || !alive(pid);
  });
  await removeContainers(
    docker,
    orphans.map((c) => c.Id),
  );
  return orphans.length;
}

export interface LimitsView {
  cpus?: number;
  networks: string[];
  paused: boolean;
  running: boolean;
}

/** Docker's real state of the limits and connectivity the responder acts on. */
export async function limitsOf(docker: Docker, id: string): Promise<LimitsView | undefined> {
  try {
    const i = await docker.getContainer(id).inspect();
    const h = i.HostConfig;
    const cpus = h.NanoCpus
      ? h.NanoCpus / 1e9
      : h.CpuQuota && h.CpuQuota > 0
        ? h.CpuQuota / (h.CpuPeriod || 100_000)
        : undefined;
    return {
      cpus,
      networks: Object.keys(i.NetworkSettings.Networks ?? {}),
      paused: Boolean(i.State.Paused),
      running: Boolean(i.State.Running),
    };
  } catch {
    return undefined;
  }
}
