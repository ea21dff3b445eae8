/**
 * The CRI client against a real containerd with its CRI plugin, on a socket of its own (own config,
 * root and state folders: the containerd that dockerd uses is not touched). Version and
 * ListContainers first; then a pod the way the kubelet makes one (RunPodSandbox under
 * `/kubepods/besteffort/pod<uid>`, CreateContainer with the kubelet's labels, StartContainer), which
 * the client lists and the eBPF sensor attributes through the CRI API alone (no pod watch, no Docker).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VigieEvent } from '../../src/model/event.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { CRI_RUNTIME_V1, CriClient } from '../../src/sources/cri.js';
import { PodDirectory } from '../../src/sources/pods.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { bpftraceAvailable, docker, dockerAvailable, waitFor } from '../utils/live.js';

function containerdAvailable(): boolean {
  const ok =
    process.getuid?.() === 0 &&
    spawnSync('containerd', ['--version'], { timeout: 10_000 }).status === 0 &&
    spawnSync('ctr', ['--version'], { timeout: 10_000 }).status === 0;
  if (!ok && process.env.CI === 'true') throw new Error('containerd and ctr are needed in CI (root)');
  if (!ok) console.warn('skipping: containerd cannot run here (needs root, containerd and ctr)');
  return ok;
}

const hasContainerd = containerdAvailable();
const hasDocker = hasContainerd && (await dockerAvailable());
const hasBpf = hasDocker && bpftraceAvailable();

/** A sandbox ("pause") image: the testbed's busybox, sleeping. Built locally, imported into containerd. */
const PAUSE_IMAGE = 'vigie-pause:1';

const str = (id: number) => ({ type: 'string', id });
const map = (id: number) => ({ keyType: 'string', type: 'string', id });

/**
 * runtime.v1 calls the kubelet makes to run a pod (field numbers as in the CRI API), added to the
 * subset the client uses: only this test creates pods.
 */
function kubeletProtocol(): object {
  const def = structuredClone(CRI_RUNTIME_V1) as any;
  const v1 = def.nested.runtime.nested.v1.nested;
  Object.assign(v1.RuntimeService.methods, {
    RunPodSandbox: { requestType: 'RunPodSandboxRequest', responseType: 'RunPodSandboxResponse' },
    StopPodSandbox: { requestType: 'PodSandboxIdRequest', responseType: 'Empty' },
    RemovePodSandbox: { requestType: 'PodSandboxIdRequest', responseType: 'Empty' },
    CreateContainer: { requestType: 'CreateContainerRequest', responseType: 'CreateContainerResponse' },
    StartContainer: { requestType: 'ContainerIdRequest', responseType: 'Empty' },
  });
  Object.assign(v1, {
    Empty: { fields: {} },
    NamespaceMode: { values: { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } },
    NamespaceOption: {
      fields: {
        network: { type: 'NamespaceMode', id: 1 },
        pid: { type: 'NamespaceMode', id: 2 },
        ipc: { type: 'NamespaceMode', id: 3 },
      },
    },
    LinuxSandboxSecurityContext: { fields: { namespace_options: { type: 'NamespaceOption', id: 1 } } },
    LinuxPodSandboxConfig: {
      fields: { cgroup_parent: str(1), security_context: { type: 'LinuxSandboxSecurityContext', id: 2 } },
    },
    PodSandboxMetadata: {
      fields: { name: str(1), uid: str(2), namespace: str(3), attempt: { type: 'uint32', id: 4 } },
    },
    PodSandboxConfig: {
      fields: {
        metadata: { type: 'PodSandboxMetadata', id: 1 },
        hostname: str(2),
        log_directory: str(3),
        labels: map(6),
        annotations: map(7),
        linux: { type: 'LinuxPodSandboxConfig', id: 8 },
      },
    },
    RunPodSandboxRequest: {
      fields: { config: { type: 'PodSandboxConfig', id: 1 }, runtime_handler: str(2) },
    },
    RunPodSandboxResponse: { fields: { pod_sandbox_id: str(1) } },
    PodSandboxIdRequest: { fields: { pod_sandbox_id: str(1) } },
    LinuxContainerSecurityContext: { fields: { namespace_options: { type: 'NamespaceOption', id: 3 } } },
    LinuxContainerConfig: { fields: { security_context: { type: 'LinuxContainerSecurityContext', id: 2 } } },
    ContainerConfig: {
      fields: {
        metadata: { type: 'ContainerMetadata', id: 1 },
        image: { type: 'ImageSpec', id: 2 },
        command: { rule: 'repeated', type: 'string', id: 3 },
        args: { rule: 'repeated', type: 'string', id: 4 },
        labels: map(9),
        annotations: map(10),
        linux: { type: 'LinuxContainerConfig', id: 15 },
      },
    },
    CreateContainerRequest: {
      fields: {
        pod_sandbox_id: str(1),
        config: { type: 'ContainerConfig', id: 2 },
        sandbox_config: { type: 'PodSandboxConfig', id: 3 },
      },
    },
    CreateContainerResponse: { fields: { container_id: str(1) } },
    ContainerIdRequest: { fields: { container_id: str(1) } },
  });
  return def;
}

type Call = (req: unknown, cb: (err: Error | null, res: any) => void) => void;

function kubeletClient(socket: string): { call(method: string, req: unknown): Promise<any>; close(): void } {
  const pkg = grpc.loadPackageDefinition(
    protoLoader.fromJSON(kubeletProtocol() as never, { keepCase: true, enums: String, defaults: true }),
  ) as any;
  const client = new pkg.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    call: (method, req) =>
      new Promise((resolve, reject) =>
        (client[method] as Call).call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    close: () => client.close(),
  };
}

/** containerd with the CRI plugin on its own socket, root and state; stopped by its pid. */
async function startContainerd(dir: string): Promise<{ socket: string; proc: ChildProcess; log: string }> {
  const socket = join(dir, 'containerd.sock');
  const log = join(dir, 'containerd.log');
  writeFileSync(
    join(dir, 'config.toml'),
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  sandbox_image = "docker.io/library/${PAUSE_IMAGE}"
  # This machine may not lower a process' oom_score_adj (runc would fail to start the sandbox).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${dir}/cni-bin"
    conf_dir = "${dir}/cni"
`,
  );
  const proc = spawn('containerd', ['--config', join(dir, 'config.toml')], {
    stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
  });
  await waitFor(() => existsSync(socket) || undefined, 20_000, 'the containerd socket');
  return { socket, proc, log };
}

async function retry<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function stopContainerd(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

describe.skipIf(!hasContainerd)("CRI client on containerd's CRI plugin (own socket)", () => {
  it('reads the version and lists containers; a kubelet-made pod is listed and attributed', async () => {
    const dir = mkdtempSync('/var/tmp/vigie-cri-');
    mkdirSync(join(dir, 'cni'));
    const { socket, proc, log } = await startContainerd(dir);
    const cri = new CriClient(socket, { timeoutMs: 10_000 });
    const kubelet = kubeletClient(socket);
    const uid = randomUUID();
    let sandbox: string | undefined;
    let sensor: BpftraceSensor | undefined;
    try {
      // The plugin may still be starting when the socket appears: retry for a while.
      const v = await retry(() => cri.version(), 10_000);
      expect(v.runtimeName).toBe('containerd');
      expect(v.runtimeApiVersion).toBe('v1');
      expect(v.runtimeVersion).toMatch(/^\d+\.\d+/);
      expect(await cri.listContainers()).toEqual([]);
      expect(await cri.containerStatus('f'.repeat(64))).toBeUndefined();
      if (!hasDocker) return;

      // The images, from the local Docker: the testbed's busybox and a sleeping "pause" built on it.
      const image = await ensureTestbedImage(docker);
      const build = spawnSync('docker', ['build', '-q', '-t', PAUSE_IMAGE, '-'], {
        input: `FROM ${image}\nCMD ["sleep", "86400"]\n`,
        encoding: 'utf8',
      });
      expect(build.status, build.stderr).toBe(0);
      const imported = spawnSync(
        'sh',
        ['-c', `docker save ${PAUSE_IMAGE} ${image} | ctr -a ${socket} -n k8s.io images import -`],
        { encoding: 'utf8' },
      );
      expect(imported.status, imported.stderr).toBe(0);

      const events: VigieEvent[] = [];
      if (hasBpf) {
        // Attribution through the CRI API alone: no pod watch, no Docker.
        sensor = new BpftraceSensor({
          hostname: 'node-1',
          pods: new PodDirectory({ cri, waitMs: 100 }),
          syscalls: false,
        });
        await sensor.start((ev) => {
          events.push(ev);
          return true;
        });
        expect(sensor.running).toBe(true);
      }

      const podConfig = {
        metadata: { name: 'web-7d9f8c6b5-x2kqz', uid, namespace: 'shop', attempt: 0 },
        labels: {
          app: 'web',
          'io.kubernetes.pod.name': 'web-7d9f8c6b5-x2kqz',
          'io.kubernetes.pod.namespace': 'shop',
          'io.kubernetes.pod.uid': uid,
        },
        // cgroupfs driver, BestEffort; the node's network (no CNI here), so no hostname of its own.
        linux: {
          cgroup_parent: `/kubepods/besteffort/pod${uid}`,
          security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
        },
      };
      sandbox = (await kubelet.call('RunPodSandbox', { config: podConfig })).pod_sandbox_id as string;
      const created = await kubelet.call('CreateContainer', {
        pod_sandbox_id: sandbox,
        sandbox_config: podConfig,
        config: {
          metadata: { name: 'app', attempt: 0 },
          image: { image: `docker.io/library/${image}` },
          command: ['sh', '-c', 'sleep 2; cat /etc/shadow >/dev/null; sleep 60'],
          // The labels the kubelet sets on every container it creates.
          labels: {
            'io.kubernetes.pod.name': 'web-7d9f8c6b5-x2kqz',
            'io.kubernetes.pod.namespace': 'shop',
            'io.kubernetes.pod.uid': uid,
            'io.kubernetes.container.name': 'app',
          },
          linux: {
            security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
          },
        },
      });
      const id = created.container_id as string;
      await kubelet.call('StartContainer', { container_id: id });

      const listed = await cri.listContainers({ labelSelector: { 'io.kubernetes.pod.uid': uid } });
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({
        id,
        podSandboxId: sandbox,
        name: 'app',
        state: 'CONTAINER_RUNNING',
        labels: { 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.container.name': 'app' },
      });
      expect((await cri.listContainers({ id })).map((c) => c.id)).toEqual([id]);
      expect(await cri.containerStatus(id)).toMatchObject({ id, name: 'app', state: 'CONTAINER_RUNNING' });

      if (sensor) {
        const open = await waitFor(
          () =>
            events.find((e) => e.kind === 'file' && e.file?.path === '/etc/shadow' && e.container?.id === id),
          30_000,
          "the container's open of /etc/shadow",
        );
        expect(open.container).toMatchObject({ id, name: 'app', workload: 'k8s:shop/web-7d9f8c6b5' });
        expect(open.k8s).toMatchObject({ namespace: 'shop', pod: 'web-7d9f8c6b5-x2kqz' });
      }
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\ncontainerd log tail:\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`,
      );
    } finally {
      await sensor?.stop();
      if (sandbox) {
        await kubelet.call('StopPodSandbox', { pod_sandbox_id: sandbox }).catch(() => undefined);
        await kubelet.call('RemovePodSandbox', { pod_sandbox_id: sandbox }).catch(() => undefined);
      }
      kubelet.close();
      cri.close();
      await stopContainerd(proc);
      spawnSync('umount', ['-R', join(dir, 'root')]);
      spawnSync('umount', ['-R', join(dir, 'state')]);
      rmSync(dir, { recursive: true, force: true });
      for (const h of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(join('/sys/fs/cgroup', h, 'kubepods', 'besteffort', `pod${uid}`));
        } catch {
          // not made in this hierarchy
        }
      }
    }
  }, 120_000);
});
