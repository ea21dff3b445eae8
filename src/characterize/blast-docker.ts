/**
 * Blast radius of a Docker container, from `docker inspect` of the containers on the host:
 * co-located containers (same host), containers reachable over the Docker networks it shares with
 * them (host network: everything listening on the host), published ports, bind mounts (the Docker
 * socket and system folders flagged), secret-looking environment variable names (values never read
 * out), and host reach read from its configuration (`HostConfig` and mounts: privileged, host
 * PID/IPC/network namespaces, container runtime sockets mounted, added capabilities, devices).
 * Containers are called containers here, never pods.
 */
import type Docker from 'dockerode';
import {
  RISKY_CAPS,
  addHostItems,
  blastScore,
  runtimeSockets,
  toDot,
  toGraph,
  toMermaid,
  type BlastItem,
  type BlastRadius,
  type BlastTarget,
  type HostReach,
} from './blast.js';

type Inspect = Docker.ContainerInspectInfo;

const SECRET_ENV = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|ACCESS_KEY)/i;
const HOST_PATH_RISK =
  /^\/($|var\/run\/docker\.sock|run\/docker\.sock|run\/containerd|etc|root|proc|sys|var\/lib\/docker|home|dev|boot)/;

const nameOf = (c: Inspect) => c.Name.replace(/^\//, '');

export function dockerBlastRadius(
  containers: Inspect[],
  idOrName: string,
  hostname?: string,
): BlastRadius | undefined {
  const me = containers.find(
    (c) => c.Id === idOrName || c.Id.startsWith(idOrName) || nameOf(c) === idOrName.replace(/^\//, ''),
  );
  if (!me) return undefined;
  const others = containers.filter((c) => c !== me && c.State?.Running);
  const items: BlastItem[] = [];
  const coLocated = others.map(nameOf).sort();
  for (const c of coLocated)
    items.push({
      kind: 'container',
      name: c,
      relation: 'co-located',
      risk: 'medium',
      detail: `same host${hostname ? ' ' + hostname : ''}`,
    });

  const mode = me.HostConfig?.NetworkMode ?? 'default';
  const myNets = new Set(Object.keys(me.NetworkSettings?.Networks ?? {}));
  let reachable: string[];
  if (mode === 'host') reachable = others.map(nameOf);
  else if (mode === 'none') reachable = [];
  else if (mode.startsWith('container:')) {
    const peer = containers.find((c) => c.Id.startsWith(mode.slice(10)) || nameOf(c) === mode.slice(10));
    reachable = peer ? [nameOf(peer)] : [];
  } else
    reachable = others
      .filter((c) => Object.keys(c.NetworkSettings?.Networks ?? {}).some((n) => myNets.has(n)))
      .map(nameOf);
  reachable.sort();
  for (const r of reachable)
    items.push({
      kind: 'container',
      name: r,
      relation: 'reachable',
      risk: 'low',
      detail: mode === 'host' ? 'host network' : 'shared Docker network',
    });

  const exposedBy: string[] = [];
  for (const [port, binds] of Object.entries(me.NetworkSettings?.Ports ?? {})) {
    for (const b of binds ?? []) exposedBy.push(`${b.HostIp || '0.0.0.0'}:${b.HostPort} → ${port}`);
  }
  for (const e of exposedBy)
    items.push({
      kind: 'service',
      name: e,
      relation: 'exposed-by',
      risk: /^(0\.0\.0\.0|::)/.test(e) ? 'high' : 'low',
    });

  const hostPaths = (me.Mounts ?? [])
    .filter((m) => m.Type === 'bind')
    .map((m) => m.Source)
    .sort();
  for (const h of hostPaths)
    items.push({
      kind: 'hostPath',
      name: h,
      relation: 'mounts',
      risk: HOST_PATH_RISK.test(h) ? 'high' : 'medium',
    });
  const secrets = [
    ...(me.Config?.Env ?? [])
      .map((e) => e.split('=')[0])
      .filter((k) => SECRET_ENV.test(k))
      .map((k) => `env ${k}`),
    ...(me.Mounts ?? [])
      .filter((m) => m.Destination.startsWith('/run/secrets'))
      .map((m) => `secret mount ${m.Destination}`),
  ];
  for (const s of secrets) items.push({ kind: 'secret', name: s, relation: 'mounts', risk: 'high' });

  // Host reach, from the container's configuration.
  const hostReach: HostReach[] = [];
  const hc = me.HostConfig ?? ({} as Inspect['HostConfig']);
  const high = (name: string) => hostReach.push({ name, risk: 'high' });
  if (hc.Privileged) high('privileged');
  if (mode === 'host') high('hostNetwork');
  if (hc.PidMode === 'host') high('hostPID');
  if (hc.IpcMode === 'host') high('hostIPC');
  hostReach.push(...runtimeSockets(hostPaths));
  for (const cap of (hc.CapAdd ?? []).map((c: string) => c.replace(/^CAP_/, '')))
    hostReach.push({ name: `capability ${cap}`, risk: RISKY_CAPS.has(cap) ? 'high' : 'low' });
  for (const d of hc.Devices ?? []) if (d.PathOnHost) high(`device ${d.PathOnHost}`);
  addHostItems(items, hostReach, hostPaths, hostname, HOST_PATH_RISK);

  const graph = toGraph(nameOf(me), items, 'container');
  const target: BlastTarget = { platform: 'docker', name: nameOf(me), container: me.Id, node: hostname };
  const b = {
    target,
    targets: [target],
    coLocated,
    reachable,
    exposedBy,
    permissions: [],
    secrets,
    hostPaths,
    hostAccess: hostReach.map((h) => h.name),
    items,
    graph,
    mermaid: toMermaid(graph),
    dot: toDot(graph),
  };
  return { ...b, score: blastScore('docker', b) };
}

/** Inspect every container on the host (running or not), best effort. */
export async function inspectAll(docker: Docker): Promise<Inspect[]> {
  const list = await docker.listContainers({ all: true });
  const out: Inspect[] = [];
  for (const c of list) {
    try {
      out.push(await docker.getContainer(c.Id).inspect());
    } catch {
      // Removed between list and inspect.
    }
  }
  return out;
}
