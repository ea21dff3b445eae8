/** Real-dockerd fixtures for the response tests: a busybox image FROM scratch, named containers. */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAlert, type Alert, type Category, type Priority } from '../../src/model/alert.js';

export const IMAGE = 'vigie-respond-bb:test';
export const docker = new Docker();

export function buildImage(): void {
  const ctx = mkdtempSync(join(tmpdir(), 'vigie-respond-img-'));
  try {
    copyFileSync('/bin/busybox', join(ctx, 'busybox'));
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n',
    );
    execFileSync('docker', ['build', '-q', '-t', IMAGE, ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** A container that logs a line a second and exits promptly on SIGTERM. */
export async function startContainer(
  name: string,
  opts: {
    labels?: Record<string, string>;
    env?: string[];
    hostConfig?: Docker.HostConfig;
    network?: { name: string; aliases?: string[]; ip?: string };
  } = {},
): Promise<Docker.Container> {
  const c = await docker.createContainer({
    name,
    Image: IMAGE,
    Cmd: ['sh', '-c', 'trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'],
    Labels: opts.labels,
    Env: opts.env,
    HostConfig: { ...(opts.hostConfig ?? {}), ...(opts.network ? { NetworkMode: opts.network.name } : {}) },
    NetworkingConfig: opts.network
      ? {
          EndpointsConfig: {
            [opts.network.name]: {
              Aliases: opts.network.aliases,
              ...(opts.network.ip ? { IPAMConfig: { IPv4Address: opts.network.ip } } : {}),
            },
          },
        }
      : undefined,
  });
  await c.start();
  return c;
}

export async function removeByPrefix(prefix: string): Promise<void> {
  const all = await docker.listContainers({ all: true, filters: { name: [prefix] } });
  await Promise.all(
    all.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  const nets = await docker.listNetworks({ filters: { name: [prefix] } });
  await Promise.all(
    nets.map((n) =>
      docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined),
    ),
  );
}

export async function alertFor(
  c: Docker.Container,
  over: { rule?: string; priority?: Priority; category?: Category; tags?: string[]; incident?: string } = {},
): Promise<Alert> {
  const info = await c.inspect();
  const a = makeAlert(
    {
      rule: over.rule ?? 'Terminal shell in container',
      priority: over.priority ?? 'Critical',
      output: 'shell spawned',
      category: over.category ?? 'attack',
      detector: 'runtime',
      explanation: 'a shell was spawned by the service',
      tags: over.tags ?? ['container', 'shell'],
      entities: { container: { id: info.Id, name: info.Name.replace(/^\//, ''), image: info.Config.Image } },
    },
    'test-host',
  );
  if (over.incident) a.vigie.incident = over.incident;
  return a;
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** A /24 subnet no existing Docker network overlaps (a fixed one can collide with leftovers). */
export async function freeSubnet(): Promise<{ subnet: string; host: (n: number) => string }> {
  const used: [number, number][] = [];
  for (const n of await docker.listNetworks())
    for (const c of n.IPAM?.Config ?? []) {
      const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(c.Subnet ?? '');
      if (!m) continue;
      const size = 2 ** (32 - Number(m[2]));
      const start = Math.floor(ipv4(m[1]) / size) * size;
      used.push([start, start + size]);
    }
  for (const prefix of ['172.31.250', '10.250.250', '192.168.250', '10.251.251', '10.252.252']) {
    const start = ipv4(`${prefix}.0`);
    if (used.every(([a, b]) => start + 256 <= a || start >= b))
      return { subnet: `${prefix}.0/24`, host: (n) => `${prefix}.${n}` };
  }
  throw new Error(`no free /24 among the candidates; Docker networks use ${JSON.stringify(used)}`);
}
