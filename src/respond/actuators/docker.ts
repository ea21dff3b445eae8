/**
 * Docker actuator (dockerode). Every action reads the container before and after, and its result is
 * checked against what `docker inspect` really shows. Rollback restores the recorded snapshot: the
 * previous CPU/memory limits, the networks with their aliases and addresses, the run/pause state.
 * A container that vanished mid-action surfaces as an error with the reason, never a crash.
 */
import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { runsOn, type ActionRecord, type ActionTarget, type ActionType } from '../../model/action.js';
import type { Actuator, ActuatorResult } from '../types.js';

export interface DockerNetworkSnapshot {
  networkId: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  ipamConfig?: { IPv4Address?: string; IPv6Address?: string };
  links?: string[];
}

/** What rollback needs, and what guards read (`name`, `labels`). */
export interface DockerSnapshot {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  running: boolean;
  paused: boolean;
  status: string;
  networkMode: string;
  nanoCpus: number;
  cpuQuota: number;
  cpuPeriod: number;
  memory: number;
  memorySwap: number;
  restartPolicy: { Name: string; MaximumRetryCount?: number };
  networks: Record<string, DockerNetworkSnapshot>;
}

const EVIDENCE_LOG_BYTES = 64 * 1024;

export class ContainerGoneError extends Error {
  constructor(target: string, cause: string) {
    super(`container ${target} no longer exists (${cause})`);
    this.name = 'ContainerGoneError';
  }
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}
function errMsg(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}

export async function retryTransient<T>(f: () => Promise<T>, transient: RegExp, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= attempts || !transient.test(errMsg(err))) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

export function cgroupMemoryUsage(id: string): number | undefined {
  const dirs = [
    [`/sys/fs/cgroup/memory/docker/${id}`, 'memory.usage_in_bytes', 'total_inactive_file'],
    [`/sys/fs/cgroup/memory/system.slice/docker-${id}.scope`, 'memory.usage_in_bytes', 'total_inactive_file'],
    [`/sys/fs/cgroup/docker/${id}`, 'memory.current', 'inactive_file'],
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, 'memory.current', 'inactive_file'],
  ];
  for (const [dir, usageFile, inactiveKey] of dirs) {
    try {
      const usage = Number(readFileSync(`${dir}/${usageFile}`, 'utf8').trim());
      const stat = readFileSync(`${dir}/memory.stat`, 'utf8');
      const m = new RegExp(`^${inactiveKey} (\\d+)$`, 'm').exec(stat);
      return Math.max(0, usage - (m ? Number(m[1]) : 0));
    } catch {
      // Not this layout.
    }
  }
  return undefined;
}

export function snapshotOf(info: Docker.ContainerInspectInfo): DockerSnapshot {
  const nets: Record<string, DockerNetworkSnapshot> = {};
  for (const [name, n] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
    const ipam = n.IPAMConfig as { IPv4Address?: string; IPv6Address?: string } | null | undefined;
    nets[name] = {
      networkId: n.NetworkID,
      // Older engines list the short id as an alias; it is re-added by the engine on connect.
      aliases: ((n.Aliases as string[] | null) ?? []).filter((a) => a !== info.Id.slice(0, 12)),
      ipv4: n.IPAddress || undefined,
      ipv6: n.GlobalIPv6Address || undefined,
      ipamConfig: ipam && (ipam.IPv4Address || ipam.IPv6Address) ? { ...ipam } : undefined,
      links: (n.Links as string[] | null) ?? undefined,
    };
  }
  const hc = info.HostConfig as Docker.HostConfig & { NanoCpus?: number };
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config?.Image ?? '',
    labels: info.Config?.Labels ?? {},
    running: info.State.Running,
    paused: info.State.Paused,
    status: info.State.Status,
    networkMode: hc.NetworkMode ?? '',
    nanoCpus: hc.NanoCpus ?? 0,
    cpuQuota: hc.CpuQuota ?? 0,
    cpuPeriod: hc.CpuPeriod ?? 0,
    memory: hc.Memory ?? 0,
    memorySwap: hc.MemorySwap ?? 0,
    restartPolicy: {
      Name: hc.RestartPolicy?.Name ?? '',
      MaximumRetryCount: hc.RestartPolicy?.MaximumRetryCount,
    },
    networks: nets,
  };
}

/** CPUs the snapshot allows, Infinity when unlimited. */
export function effectiveCpus(s: DockerSnapshot): number {
  if (s.nanoCpus > 0) return s.nanoCpus / 1e9;
  if (s.cpuQuota > 0) return s.cpuQuota / (s.cpuPeriod > 0 ? s.cpuPeriod : 100_000);
  return Infinity;
}

/** Split Docker's multiplexed log stream (8-byte frame headers) into text. */
export function demuxLogs(buf: Buffer): string {
  if (buf.length < 8 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0 || buf[0] > 2)
    return buf.toString('utf8');
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, Math.min(buf.length, off + 8 + len)));
    off += 8 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Environment values often carry credentials; evidence keeps the variable names only, so that records
 * shown by the CLI and the API never leak them.
 */
export function redactEnv(info: Docker.ContainerInspectInfo): Docker.ContainerInspectInfo {
  const env = info.Config?.Env;
  if (!Array.isArray(env)) return info;
  return {
    ...info,
    Config: {
      ...info.Config,
      Env: env.map((e) => (e.includes('=') ? `${e.slice(0, e.indexOf('='))}=<redacted>` : e)),
    },
  };
}

export interface DockerActuatorOptions {
  docker?: Docker;
  socketPath?: string;
}

export class DockerActuator implements Actuator {
  readonly name = 'docker';
  readonly platform = 'docker' as const;
  readonly docker: Docker;
  private hostMemory?: number;

  constructor(opts: DockerActuatorOptions = {}) {
    this.docker = opts.docker ?? new Docker(opts.socketPath ? { socketPath: opts.socketPath } : undefined);
  }

  supports(action: ActionType): boolean {
    return runsOn(action, this.platform);
  }

  private label(t: ActionTarget): string {
    return t.name ? `${t.name} (${t.id.slice(0, 12)})` : t.id.slice(0, 12);
  }

  /** Runs a Docker call; a 404 becomes ContainerGoneError so callers record the reason. */
  private async call<T>(t: ActionTarget, what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (statusCode(err) === 404 && /container/i.test(errMsg(err)))
        throw new ContainerGoneError(this.label(t), errMsg(err));
      throw new Error(`${what} on ${this.label(t)} failed: ${errMsg(err)}`);
    }
  }

  async snapshot(t: ActionTarget): Promise<DockerSnapshot> {
    const c = this.docker.getContainer(t.id);
    return snapshotOf(await this.call(t, 'inspect', () => c.inspect()));
  }

  inspect(target: ActionTarget): Promise<DockerSnapshot> {
    return this.snapshot(target);
  }

  async execute(
    action: ActionType,
    target: ActionTarget,
    paramsIn: Record<string, unknown>,
    state?: unknown,
  ): Promise<ActuatorResult> {
    let params = paramsIn;
    const before = (state as DockerSnapshot | undefined) ?? (await this.snapshot(target));
    const c = this.docker.getContainer(before.id);
    let note: string | undefined;
    switch (action) {
      case 'capture_evidence': {
        const evidence = await this.evidence(target, before, params);
        return { stateBefore: before, stateAfter: before, verified: true, evidence };
      }
      case 'throttle': {
        if (typeof params.memory === 'number' && before.running) {
          // A cap below what the workload already uses makes the kernel OOM-kill it: throttling
          // must not turn into a kill. Keep 10% above current usage instead, and say so.
          const usage = await this.memoryUsage(c);
          const floor = Math.ceil((usage * 1.1) / 4096) * 4096;
          if (usage > 0 && params.memory < floor) {
            params = { ...params, memory: floor };
            note = `memory cap raised to ${floor} bytes to stay above current usage (${usage} bytes)`;
          }
        }
        const upd = this.throttleUpdate(before, params);
        if (Object.keys(upd).length === 0) note = 'already at or below the requested limits';
        else await this.call(target, 'update', () => c.update(upd));
        break;
      }
      case 'isolate': {
        if (['host', 'none'].includes(before.networkMode) || before.networkMode.startsWith('container:')) {
          if (before.networkMode !== 'none')
            throw new Error(
              `cannot isolate ${this.label(target)}: network mode "${before.networkMode}" cannot be disconnected`,
            );
        }
        for (const name of Object.keys(before.networks)) {
          await this.call(target, `disconnect from ${name}`, () =>
            this.docker
              .getNetwork(before.networks[name].networkId || name)
              .disconnect({ Container: before.id, Force: true }),
          );
        }
        break;
      }
      case 'pause':
        if (!before.running)
          throw new Error(`cannot pause ${this.label(target)}: it is not running (${before.status})`);
        // The cgroup-v1 freezer can fail transiently on a busy host ("unable to freeze"): retry.
        if (!before.paused)
          await this.call(target, 'pause', () => retryTransient(() => c.pause(), /unable to freeze/));
        else note = 'already paused';
        break;
      case 'stop': {
        const t = typeof params.timeout === 'number' ? params.timeout : 10;
        if (before.running) await this.call(target, 'stop', () => c.stop({ t }));
        else note = 'already stopped';
        break;
      }
      case 'kill': {
        const signal = typeof params.signal === 'string' ? params.signal : 'SIGKILL';
        if (before.running) {
          // A killed container is restarted by its restart policy (unlike a stopped one): suspend
          // the policy for as long as the action holds; rollback puts it back.
          if (before.restartPolicy.Name && before.restartPolicy.Name !== 'no') {
            await this.call(target, 'update', () => c.update({ RestartPolicy: { Name: 'no' } }));
            note = `restart policy "${before.restartPolicy.Name}" suspended`;
          }
          await this.call(target, 'kill', () => c.kill({ signal }));
        } else note = 'already stopped';
        break;
      }
      default:
        throw new Error(`docker actuator does not support ${action}`);
    }
    const after = await this.waitFor(
      target,
      (s) => this.holds(action, before, s, params),
      action === 'kill' ? 3000 : 500,
    );
    const verified = this.holds(action, before, after, params);
    return { stateBefore: before, stateAfter: after, verified, note };
  }

  /** Does the real state show the intended effect of `action`? */
  holds(
    action: ActionType,
    before: DockerSnapshot,
    s: DockerSnapshot,
    params: Record<string, unknown>,
  ): boolean {
    switch (action) {
      case 'throttle': {
        const want = this.throttleTargets(before, params);
        if (want.cpus !== undefined && Math.abs(effectiveCpus(s) - want.cpus) > 1e-6) return false;
        if (want.memory !== undefined && s.memory !== want.memory) return false;
        return true;
      }
      case 'isolate':
        return Object.keys(s.networks).length === 0;
      case 'pause':
        return s.paused;
      case 'stop':
      case 'kill':
        return !s.running;
      default:
        return true;
    }
  }

  private async waitFor(
    t: ActionTarget,
    ok: (s: DockerSnapshot) => boolean,
    ms: number,
  ): Promise<DockerSnapshot> {
    const deadline = Date.now() + ms;
    let s = await this.snapshot(t);
    while (!ok(s) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      s = await this.snapshot(t);
    }
    return s;
  }

  /** Limits to apply: never loosen a limit that is already stricter than the policy's. */
  private throttleTargets(
    before: DockerSnapshot,
    params: Record<string, unknown>,
  ): { cpus?: number; memory?: number } {
    const out: { cpus?: number; memory?: number } = {};
    if (typeof params.cpus === 'number') out.cpus = Math.min(params.cpus, effectiveCpus(before));
    if (typeof params.memory === 'number')
      out.memory = before.memory > 0 ? Math.min(params.memory, before.memory) : params.memory;
    return out;
  }

  private throttleUpdate(before: DockerSnapshot, params: Record<string, unknown>): Record<string, number> {
    const want = this.throttleTargets(before, params);
    const upd: Record<string, number> = {};
    if (want.cpus !== undefined && want.cpus < effectiveCpus(before)) {
      if (before.nanoCpus > 0) {
        upd.NanoCpus = Math.round(want.cpus * 1e9);
      } else {
        // Docker's update cannot set NanoCpus back to 0 (unlimited); CPU quota can go back to -1, so a
        // container without a CPU limit is throttled through the quota.
        const period = before.cpuPeriod > 0 ? before.cpuPeriod : 100_000;
        upd.CpuPeriod = period;
        upd.CpuQuota = Math.max(1000, Math.round(want.cpus * period));
      }
    }
    if (want.memory !== undefined && want.memory !== before.memory) {
      upd.Memory = want.memory;
      // No swap beyond the cap: a throttled workload must not page its way around it.
      upd.MemorySwap = want.memory;
    }
    return upd;
  }

  private async evidence(
    t: ActionTarget,
    s: DockerSnapshot,
    params: Record<string, unknown>,
  ): Promise<unknown> {
    const c = this.docker.getContainer(s.id);
    const tail = typeof params.tail === 'number' ? params.tail : 200;
    const sinceMs = typeof params.since === 'number' ? params.since : 10 * 60_000;
    const inspect = redactEnv(await this.call(t, 'inspect', () => c.inspect()));
    const errors: string[] = [];
    let top: unknown;
    if (s.running) {
      try {
        top = await c.top();
      } catch (err) {
        errors.push(`top: ${errMsg(err)}`);
      }
    }
    let logs = '';
    try {
      const buf = await c.logs({ stdout: true, stderr: true, tail, timestamps: true, follow: false });
      logs = demuxLogs(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
      if (logs.length > EVIDENCE_LOG_BYTES) logs = logs.slice(logs.length - EVIDENCE_LOG_BYTES);
    } catch (err) {
      errors.push(`logs: ${errMsg(err)}`);
    }
    let events: unknown[] = [];
    try {
      events = await this.recentEvents(s.id, sinceMs);
    } catch (err) {
      errors.push(`events: ${errMsg(err)}`);
    }
    return { capturedAt: new Date().toISOString(), inspect, top, logs, events, errors };
  }

  private async recentEvents(id: string, sinceMs: number): Promise<unknown[]> {
    const now = Math.floor(Date.now() / 1000);
    const stream = (await this.docker.getEvents({
      since: now - Math.ceil(sinceMs / 1000),
      until: now,
      filters: { container: [id] },
    })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    return Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim())
      .slice(-200)
      .map((l) => {
        try {
          return JSON.parse(l) as unknown;
        } catch {
          return l;
        }
      });
  }

  /**
   * Current memory usage without inactive page cache (what `docker stats` shows); 0 when unknown.
   * Read from the cgroup when Vigie sees the host's cgroup tree (instant); Docker's stats call
   * otherwise (it takes about a second).
   */
  private async memoryUsage(c: Docker.Container): Promise<number> {
    const fromCgroup = cgroupMemoryUsage(c.id);
    if (fromCgroup !== undefined) return fromCgroup;
    try {
      const st = (await c.stats({ stream: false, 'one-shot': true })) as {
        memory_stats?: { usage?: number; stats?: Record<string, number> };
      };
      const m = st.memory_stats ?? {};
      const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? m.stats?.cache ?? 0;
      return Math.max(0, (m.usage ?? 0) - cache);
    } catch {
      return 0;
    }
  }

  private async memTotal(): Promise<number> {
    if (this.hostMemory === undefined)
      this.hostMemory = ((await this.docker.info()) as { MemTotal: number }).MemTotal;
    return this.hostMemory;
  }

  /** Restore the recorded snapshot; resolves with the state after, plus a note when not exact. */
  async rollback(record: ActionRecord): Promise<unknown> {
    const before = record.stateBefore as DockerSnapshot | undefined;
    if (!before?.id) throw new Error(`action ${record.id} has no recorded state to restore`);
    const t = record.target;
    const c = this.docker.getContainer(before.id);
    const now = await this.snapshot(t);
    const notes: string[] = [];
    switch (record.action) {
      case 'throttle': {
        const upd: Record<string, number> = {};
        let swapUnlimited = false;
        if (now.nanoCpus !== before.nanoCpus && before.nanoCpus > 0) upd.NanoCpus = before.nanoCpus;
        if (
          before.nanoCpus === 0 &&
          (now.cpuQuota !== before.cpuQuota || now.cpuPeriod !== before.cpuPeriod)
        ) {
          if (before.cpuQuota > 0) {
            upd.CpuQuota = before.cpuQuota;
            if (before.cpuPeriod > 0) upd.CpuPeriod = before.cpuPeriod;
          } else if (now.cpuQuota > 0) {
            upd.CpuQuota = -1;
            notes.push('CPU quota restored to unlimited (Docker records it as -1)');
          }
        }
        if (now.memory !== before.memory || now.memorySwap !== before.memorySwap) {
          // runc (cgroup v1) writes the memory limit before the swap limit when swap is -1, which the
          // kernel refuses while raising memory above the old swap cap: give swap an explicit value first.
          if (before.memory > 0) {
            upd.Memory = before.memory;
            upd.MemorySwap = before.memorySwap > 0 ? before.memorySwap : before.memory * 2;
            if (before.memorySwap < 0) swapUnlimited = true;
          } else if (now.memory > 0) {
            // Docker's update API cannot remove a memory limit; the closest is the host's memory.
            upd.Memory = await this.memTotal();
            upd.MemorySwap = upd.Memory * 2;
            notes.push(
              `memory limit cannot be removed through Docker; raised to the host total (${upd.Memory} bytes)`,
            );
          }
        }
        if (Object.keys(upd).length) await this.call(t, 'update', () => c.update(upd));
        if (swapUnlimited) await this.call(t, 'update', () => c.update({ MemorySwap: -1 }));
        break;
      }
      case 'isolate':
        for (const [name, n] of Object.entries(before.networks)) {
          if (now.networks[name]) continue;
          await this.reconnect(t, before, name, n, notes);
        }
        break;
      case 'pause':
        if (!before.paused && now.paused) await this.call(t, 'unpause', () => c.unpause());
        break;
      case 'stop':
      case 'kill':
        if (before.restartPolicy?.Name && before.restartPolicy.Name !== now.restartPolicy.Name) {
          const rp = before.restartPolicy;
          await this.call(t, 'update', () =>
            c.update({ RestartPolicy: rp.Name === 'on-failure' ? rp : { Name: rp.Name } }),
          );
        }
        if (before.running && !now.running) {
          await this.call(t, 'start', () => c.start());
          if (record.action === 'kill')
            notes.push('container restarted from its entrypoint; process state is not restored');
          if (before.paused) await this.call(t, 'pause', () => c.pause());
        }
        break;
      case 'capture_evidence':
      case 'observe':
        break;
      default:
        throw new Error(`docker actuator cannot roll back ${record.action}`);
    }
    const after = await this.snapshot(t);
    return { state: after, restored: this.restored(record.action, before, after), notes };
  }

  private async reconnect(
    t: ActionTarget,
    before: DockerSnapshot,
    name: string,
    n: DockerNetworkSnapshot,
    notes: string[],
  ): Promise<void> {
    const net = this.docker.getNetwork(n.networkId || name);
    // The default bridge accepts neither aliases nor fixed addresses.
    const userDefined = name !== 'bridge';
    const ipam = n.ipamConfig ?? (userDefined && n.ipv4 ? { IPv4Address: n.ipv4 } : undefined);
    const endpoint = (withIp: boolean) => ({
      ...(userDefined && n.aliases.length ? { Aliases: n.aliases } : {}),
      ...(withIp && ipam ? { IPAMConfig: ipam } : {}),
      ...(n.links?.length ? { Links: n.links } : {}),
    });
    try {
      await net.connect({ Container: before.id, EndpointConfig: endpoint(true) });
    } catch (err) {
      if (statusCode(err) === 404 && /container/i.test(errMsg(err)))
        throw new ContainerGoneError(this.label(t), errMsg(err));
      if (!ipam || n.ipamConfig)
        throw new Error(`reconnect ${this.label(t)} to ${name} failed: ${errMsg(err)}`);
      // Only networks with a configured subnet accept a requested address; take any address instead.
      await this.call(t, `reconnect to ${name}`, () =>
        net.connect({ Container: before.id, EndpointConfig: endpoint(false) }),
      );
      notes.push(`reconnected to ${name} with a new address (was ${n.ipv4})`);
    }
  }

  private restored(action: ActionType, before: DockerSnapshot, after: DockerSnapshot): boolean {
    switch (action) {
      case 'throttle':
        return (
          effectiveCpus(after) === effectiveCpus(before) &&
          (after.memory === before.memory || (before.memory === 0 && after.memory >= (this.hostMemory ?? 0)))
        );
      case 'isolate':
        return Object.keys(before.networks).every((n) => after.networks[n] !== undefined);
      case 'pause':
        return after.paused === before.paused;
      case 'stop':
      case 'kill':
        return (
          after.running === before.running &&
          after.paused === before.paused &&
          (after.restartPolicy.Name || 'no') === (before.restartPolicy?.Name || 'no')
        );
      default:
        return true;
    }
  }
}

export function createDockerActuator(config?: Record<string, unknown>): DockerActuator {
  return new DockerActuator({
    socketPath: typeof config?.socketPath === 'string' ? config.socketPath : undefined,
  });
}
