/**
 * Pod attribution on Kubernetes nodes: every cgroup path form the kubelet and Docker make (cgroupfs
 * and systemd drivers; containerd, CRI-O, cri-dockerd; cgroup v1 per controller and v2 unified), as
 * /proc/<pid>/cgroup shows them and as folders of the unified hierarchy whose inodes bpftrace reports;
 * then the pod directory (pod watch, CRI API) and the sensor naming namespace, pod and container.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeDetector } from '../../src/detect/runtime/detector.js';
import { makeAlert, type AlertInput } from '../../src/model/alert.js';
import type { VigieEvent } from '../../src/model/event.js';
import {
  CgroupMap,
  containerFromProcCgroup,
  parseCgroupPath,
  unifiedCgroupRoot,
} from '../../src/sources/bpftrace/cgroups.js';
import type { SensorRecord } from '../../src/sources/bpftrace/parser.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import type { CriContainer } from '../../src/sources/cri.js';
import { containerIdOfStatus, createPodDirectory, PodDirectory } from '../../src/sources/pods.js';
import { createSources } from '../../src/sources/registry.js';
import { stageConfig } from '../../src/cli/commands/run.js';

// Ids and uids as a kubelet and containerd make them (a pod uid is a v4 UUID; systemd escapes its
// dashes as underscores in slice names).
const CID = '8d2b4f7e0c1a93e5b6f4d2c8a0e1f3b5c7d9e2f4a6b8c0d1e3f5a7b9c1d3e5f7';
const CID2 = '1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';
const UID = '5e2a7c1b-9f3d-4e8a-b6c2-0d1f4a7e9b3c';
const UID_ = UID.replace(/-/g, '_');
const STATIC_UID = 'a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3';

/** Path samples (the cgroup part of a /proc/<pid>/cgroup line) → what they name. */
const PATHS: [what: string, path: string, expected: ReturnType<typeof parseCgroupPath>][] = [
  ['Docker, cgroupfs', `/docker/${CID}`, { id: CID }],
  ['Docker, systemd', `/system.slice/docker-${CID}.scope`, { id: CID, runtime: 'docker' }],
  [
    'kubelet cgroupfs, Burstable (containerd or Docker)',
    `/kubepods/burstable/pod${UID}/${CID}`,
    { id: CID, podUid: UID, qos: 'burstable' },
  ],
  [
    'kubelet cgroupfs, BestEffort',
    `/kubepods/besteffort/pod${UID}/${CID}`,
    { id: CID, podUid: UID, qos: 'besteffort' },
  ],
  [
    'kubelet cgroupfs, Guaranteed (no QoS folder)',
    `/kubepods/pod${UID}/${CID}`,
    { id: CID, podUid: UID, qos: 'guaranteed' },
  ],
  [
    'kubelet cgroupfs, CRI-O',
    `/kubepods/burstable/pod${UID}/crio-${CID}`,
    { id: CID, runtime: 'cri-o', podUid: UID, qos: 'burstable' },
  ],
  [
    'kubelet systemd, containerd, Burstable',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${CID}.scope`,
    { id: CID, runtime: 'containerd', podUid: UID, qos: 'burstable' },
  ],
  [
    'kubelet systemd, containerd, BestEffort',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${CID}.scope`,
    { id: CID, runtime: 'containerd', podUid: UID, qos: 'besteffort' },
  ],
  [
    'kubelet systemd, containerd, Guaranteed',
    `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${CID}.scope`,
    { id: CID, runtime: 'containerd', podUid: UID, qos: 'guaranteed' },
  ],
  [
    'kubelet systemd, CRI-O',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${CID}.scope`,
    { id: CID, runtime: 'cri-o', podUid: UID, qos: 'burstable' },
  ],
  [
    'kubelet systemd, cri-dockerd',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${CID}.scope`,
    { id: CID, runtime: 'docker', podUid: UID, qos: 'besteffort' },
  ],
  [
    'kind node (kubelet under its own slice)',
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${CID}.scope`,
    { id: CID, runtime: 'containerd', podUid: UID, qos: 'besteffort' },
  ],
  [
    'static pod (uid is the manifest hash)',
    `/kubepods/burstable/pod${STATIC_UID}/${CID}`,
    { id: CID, podUid: STATIC_UID, qos: 'burstable' },
  ],
  [
    "a container's own sub-cgroup",
    `/kubepods/burstable/pod${UID}/${CID}/init.scope`,
    { id: CID, podUid: UID, qos: 'burstable' },
  ],
  [
    "seen from another container's cgroup namespace",
    `/../../besteffort/pod${UID}/${CID}`,
    { id: CID, podUid: UID, qos: 'besteffort' },
  ],
];

const NOT_CONTAINERS = [
  '/',
  '/user.slice/user-0.slice/session-3.scope',
  '/system.slice/containerd.service',
  `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`,
  `/kubepods/burstable/pod${UID}`,
  // CRI-O's monitor process, not the container
  `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${CID}.scope`,
  `/docker/${CID.slice(0, 12)}`,
];

describe('cgroup paths', () => {
  it.each(PATHS)('%s', (_what, path, expected) => {
    expect(parseCgroupPath(path)).toEqual(expected);
  });

  it('finds no container in host and pod-level cgroups', () => {
    for (const p of NOT_CONTAINERS) expect(parseCgroupPath(p), p).toBeUndefined();
  });

  it('reads /proc/<pid>/cgroup on cgroup v1 (one line per controller), hybrid and v2', () => {
    const v1 = [
      '12:pids:/kubepods/burstable/pod' + UID + '/' + CID,
      '11:hugetlb:/kubepods/burstable/pod' + UID + '/' + CID,
      '10:net_cls,net_prio:/kubepods/burstable/pod' + UID + '/' + CID,
      '9:cpu,cpuacct:/kubepods/burstable/pod' + UID + '/' + CID,
      '8:memory:/kubepods/burstable/pod' + UID + '/' + CID,
      '7:devices:/kubepods/burstable/pod' + UID + '/' + CID,
      '1:name=systemd:/kubepods/burstable/pod' + UID + '/' + CID,
      '',
    ].join('\n');
    expect(containerFromProcCgroup(v1)).toEqual({ id: CID, podUid: UID, qos: 'burstable' });
    // Hybrid host: the systemd driver on v1 controllers and the unified line agree.
    const scope = `kubepods-besteffort-pod${UID_}.slice/cri-containerd-${CID}.scope`;
    const hybrid = [
      `12:pids:/kubepods.slice/kubepods-besteffort.slice/${scope}`,
      `4:memory:/kubepods.slice/kubepods-besteffort.slice/${scope}`,
      `1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/${scope}`,
      `0::/kubepods.slice/kubepods-besteffort.slice/${scope}`,
      '',
    ].join('\n');
    expect(containerFromProcCgroup(hybrid)).toEqual({
      id: CID,
      runtime: 'containerd',
      podUid: UID,
      qos: 'besteffort',
    });
    expect(
      containerFromProcCgroup(
        `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${CID}.scope\n`,
      ),
    ).toEqual({ id: CID, runtime: 'cri-o', podUid: UID, qos: 'burstable' });
    expect(containerFromProcCgroup(`0::/kubepods/besteffort/pod${UID}/${CID}\n`)).toMatchObject({
      podUid: UID,
    });
    // Docker's forms, as before.
    expect(containerFromProcCgroup(`12:pids:/docker/${CID}\n0::/docker/${CID}\n`)).toEqual({ id: CID });
    expect(containerFromProcCgroup(`0::/system.slice/docker-${CID}.scope\n`)?.id).toBe(CID);
    // A v1 line that names a pod wins over one that does not (a controller Docker set alone).
    expect(
      containerFromProcCgroup(`5:cpuset:/docker/${CID}\n4:memory:/kubepods/pod${UID}/${CID}\n0::/\n`),
    ).toEqual({ id: CID, podUid: UID, qos: 'guaranteed' });
    expect(containerFromProcCgroup('0::/\n1:name=systemd:/user.slice\nnot a cgroup line\n')).toBeUndefined();
  });

  it('reads a /proc/<pid>/cgroup captured from `docker run --cgroup-parent /kubepods/burstable/pod<uid>`', () => {
    // Docker 28, cgroupfs driver, hybrid v1 + unified hierarchy (the live test's layout).
    const uid = 'b8c5e079-28fb-41c1-92aa-a3c6ed1a76d4';
    const id = 'c199a8454f26d71cd860d55a3b7d85d0bd1124dc7fc70b1432474da0026acd31';
    const path = `/kubepods/burstable/pod${uid}/${id}`;
    const captured = [
      `9:name=systemd:${path}`,
      `8:pids:${path}`,
      `7:blkio:${path}`,
      `6:freezer:${path}`,
      `5:devices:${path}`,
      `4:memory:${path}`,
      `3:cpuset:${path}`,
      `2:cpuacct:${path}`,
      `1:cpu:${path}`,
      `0::${path}`,
      '',
    ].join('\n');
    expect(containerFromProcCgroup(captured)).toEqual({ id, podUid: uid, qos: 'burstable' });
  });
});

describe('cgroup map over a unified hierarchy', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigie-cg-pods-'));
  const proc = mkdtempSync(join(tmpdir(), 'vigie-proc-pods-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(proc, { recursive: true, force: true });
  });
  const ino = (rel: string): number => {
    mkdirSync(join(root, rel), { recursive: true });
    return statSync(join(root, rel)).ino;
  };

  it('names the container and pod of every folder form, and falls back to /proc/<pid>/cgroup', () => {
    // One container id per form, so that each folder names its own container.
    // (A container's own sub-cgroup is named through /proc, below.)
    const cases = PATHS.filter(([, p]) => !p.startsWith('/..') && !p.endsWith('/init.scope')).map(
      ([what, p, expected], i) =>
        [what, p.replace(CID, CID2.slice(0, 60) + i.toString(16).padStart(4, '0')), expected] as const,
    );
    const inos = cases.map(([, p]) => ino(p));
    ino('/user.slice/user-0.slice/session-3.scope');
    const map = new CgroupMap([root], proc, 0);
    map.rescan();
    cases.forEach(([what, p, expected], i) => {
      const id = parseCgroupPath(p)!.id;
      expect(map.lookup(inos[i]), what).toEqual({ ...expected, id });
    });
    expect(map.stats.scanFolders).toBeGreaterThan(10);
    // A task in a cgroup the walk does not enter (a container's sub-cgroup): /proc names it, once.
    const nested = ino(`/kubepods/besteffort/pod${UID}/${CID}/init.scope`);
    map.rescan();
    expect(map.stats.procLookups).toBe(0);
    writeFileSync(join(proc, '4242'), '');
    mkdirSync(join(proc, '77'));
    writeFileSync(join(proc, '77', 'cgroup'), `8:memory:/kubepods/besteffort/pod${UID}/${CID}\n0::/\n`);
    const before = map.stats.procLookups;
    expect(map.lookup(nested, 77)).toEqual({ id: CID, podUid: UID, qos: 'besteffort' });
    expect(map.lookup(nested, 77)?.podUid).toBe(UID);
    expect(map.stats.procLookups).toBe(before + 1);
    expect(map.lookup(999_999_998, 4242)).toBeUndefined();
  });

  it('walks the unified hierarchy of this host', () => {
    const unified = unifiedCgroupRoot();
    expect(statSync(join(unified, 'cgroup.procs')).isFile()).toBe(true);
  });
});

const podObject = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d9f8c6b5-x2kqz',
    namespace: 'shop',
    uid: UID,
    labels: { app: 'web' },
    ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8c6b5', controller: true }],
    ...extra,
  },
  spec: { nodeName: 'node-1', serviceAccountName: 'web' },
  status,
});

const RUNNING = {
  containerStatuses: [
    { name: 'app', image: 'shop/web:1.4', containerID: `containerd://${CID}` },
    { name: 'sidecar', image: 'envoy:1.30', containerID: `containerd://${CID2}` },
  ],
};

describe('pod directory', () => {
  it('names a container from the pod watch, one shared reference until the pod changes', () => {
    const pods = new PodDirectory({ waitMs: 50 });
    expect(pods.known(CID, UID)).toBeUndefined();
    expect(pods.put(podObject(RUNNING))).toBe(true);
    const a = pods.known(CID, UID)!;
    expect(a).toEqual({
      container: {
        id: CID,
        name: 'app',
        image: 'shop/web:1.4',
        labels: {
          'io.kubernetes.pod.namespace': 'shop',
          'io.kubernetes.pod.name': 'web-7d9f8c6b5-x2kqz',
          'io.kubernetes.pod.uid': UID,
          'io.kubernetes.container.name': 'app',
        },
        workload: 'k8s:shop/web-7d9f8c6b5',
      },
      k8s: {
        namespace: 'shop',
        pod: 'web-7d9f8c6b5-x2kqz',
        workload: 'web-7d9f8c6b5',
        node: 'node-1',
        serviceAccount: 'web',
        labels: { app: 'web' },
      },
    });
    expect(pods.known(CID, UID)).toBe(a);
    expect(pods.known(CID2, UID)?.container.name).toBe('sidecar');
    pods.put(podObject(RUNNING, { labels: { app: 'web', quarantined: 'yes' } }));
    expect(pods.known(CID, UID)).not.toBe(a);
    expect(pods.known(CID, UID)?.k8s.labels).toEqual({ app: 'web', quarantined: 'yes' });
    pods.delete(podObject({}));
    expect(pods.known(CID, UID)).toBeUndefined();
    // After a relist, a pod deleted meanwhile is reported by its name alone.
    pods.put(podObject(RUNNING));
    expect(pods.known(CID, UID)).toBeDefined();
    pods.delete({ metadata: { name: 'web-7d9f8c6b5-x2kqz', namespace: 'shop' } });
    expect(pods.known(CID, UID)).toBeUndefined();
    expect(pods.stats().pods).toBe(0);
    expect(pods.put({ metadata: { name: 'no-uid' } })).toBe(false);
    expect(containerIdOfStatus('cri-o://abc')).toBe('abc');
    expect(containerIdOfStatus('docker://')).toBeUndefined();
  });

  it('finds a static pod by its config hash, the uid in its cgroup path', () => {
    const pods = new PodDirectory();
    pods.put(
      podObject(RUNNING, {
        name: 'etcd-node-1',
        namespace: 'kube-system',
        ownerReferences: [{ kind: 'Node', name: 'node-1', controller: true }],
        annotations: { 'kubernetes.io/config.hash': STATIC_UID },
      }),
    );
    expect(pods.known(CID, STATIC_UID)?.k8s).toMatchObject({ namespace: 'kube-system', pod: 'etcd-node-1' });
  });

  it('waits for the watch to name a new container, and names the pod alone when it does not', async () => {
    const pods = new PodDirectory({ waitMs: 300 });
    pods.put(podObject({ containerStatuses: [] }));
    const pending = pods.lookup(CID, UID);
    setTimeout(() => pods.put(podObject(RUNNING)), 30);
    expect((await pending)?.container.name).toBe('app');
    const other = '0'.repeat(64);
    const podOnly = await pods.lookup(other, UID);
    expect(podOnly?.container).toMatchObject({
      id: other,
      name: undefined,
      workload: 'k8s:shop/web-7d9f8c6b5',
    });
    expect(podOnly?.k8s.pod).toBe('web-7d9f8c6b5-x2kqz');
    expect(await pods.lookup(other, '11111111-2222-3333-4444-555555555555')).toBeUndefined();
    expect(pods.stats()).toMatchObject({ fromWatch: 1, podOnly: 1, unknown: 1 });
  });

  it("asks the runtime's CRI API when the watch does not know the pod, and stops asking a failing one", async () => {
    const asked: string[] = [];
    const cri = {
      async containerStatus(id: string): Promise<CriContainer | undefined> {
        asked.push(id);
        if (id === CID)
          return {
            id,
            name: 'app',
            image: 'docker.io/shop/web:1.4',
            labels: {
              'io.kubernetes.pod.namespace': 'shop',
              'io.kubernetes.pod.name': 'web-7d9f8c6b5-x2kqz',
              'io.kubernetes.pod.uid': UID,
              'io.kubernetes.container.name': 'app',
            },
          };
        throw new Error('CRI ContainerStatus on unix:///run/containerd/containerd.sock: unknown service');
      },
    };
    const pods = new PodDirectory({ cri, waitMs: 20 });
    const hit = await pods.lookup(CID, UID);
    expect(hit?.container).toMatchObject({ name: 'app', workload: 'k8s:shop/web-7d9f8c6b5' });
    expect(hit?.k8s).toMatchObject({
      namespace: 'shop',
      pod: 'web-7d9f8c6b5-x2kqz',
      workload: 'web-7d9f8c6b5',
    });
    expect(pods.known(CID, UID)).toBe(hit);
    // A failing runtime: the pod the CRI answer named is still known; the runtime is not asked again.
    expect((await pods.lookup(CID2, UID))?.k8s.pod).toBe('web-7d9f8c6b5-x2kqz');
    await pods.lookup('2'.repeat(64), UID);
    expect(asked).toEqual([CID, CID2]);
    expect(pods.stats()).toMatchObject({ fromCri: 1, criErrors: 1 });
  });
});

describe('eBPF sensor on a Kubernetes node', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigie-cg-sensor-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const rel = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${CID}.scope`;
  mkdirSync(join(root, rel), { recursive: true });
  const CGROUP = statSync(join(root, rel)).ino;
  const rec = (t: 'open' | 'connect'): SensorRecord =>
    t === 'open'
      ? { t, cgroup: CGROUP, pid: 9, tid: 9, comm: 'cat', flags: 0, path: '/etc/shadow' }
      : { t, cgroup: CGROUP, pid: 9, tid: 9, comm: 'nc', family: 2, ip: '10.1.2.3', port: 4444 };

  it('names namespace, pod and container on events and their alerts, without Docker', async () => {
    const pods = new PodDirectory({ waitMs: 500 });
    const sensor = new BpftraceSensor({
      hostname: 'node-1',
      pods,
      cgroups: new CgroupMap([root], '/nonexistent-proc'),
      bpftrace: '/nonexistent/bpftrace',
    });
    const events: VigieEvent[] = [];
    await sensor.start((ev) => {
      if (ev.kind !== 'internal') events.push(ev);
      return true;
    });
    // The first records come before the watch has the pod: they wait for it, in order.
    sensor.handle(rec('open'));
    sensor.handle(rec('connect'));
    expect(events).toHaveLength(0);
    pods.put(podObject(RUNNING));
    await new Promise((r) => setTimeout(r, 20));
    sensor.handle(rec('open'));
    expect(events.map((e) => e.kind)).toEqual(['file', 'network', 'file']);
    for (const e of events) {
      expect(e.container).toMatchObject({ id: CID, name: 'app', workload: 'k8s:shop/web-7d9f8c6b5' });
      expect(e.k8s).toMatchObject({ namespace: 'shop', pod: 'web-7d9f8c6b5-x2kqz', node: 'node-1' });
    }
    const found: AlertInput[] = [];
    const detector = new RuntimeDetector();
    for (const e of events) detector.onEvent(e, (a) => found.push(a));
    expect(found.map((a) => a.rule).sort()).toEqual([
      'Outbound connection to unusual port',
      'Read sensitive file untrusted',
    ]);
    expect(found[0].output).toContain('container app (shop/web:1.4)');
    const alert = makeAlert(found[0], 'node-1');
    expect(alert.vigie.entities.k8s).toMatchObject({ namespace: 'shop', pod: 'web-7d9f8c6b5-x2kqz' });
    expect(alert.vigie.entities.container).toMatchObject({ id: CID, name: 'app' });
    expect(alert.vigie.entities.workload).toBe('k8s:shop/web-7d9f8c6b5');
    expect(sensor.stats()).toMatchObject({ podAttributed: 3, unattributed: 0 });
    await sensor.stop();
  });
});

describe('eBPF sensor, pod containers nothing names', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigie-cg-unnamed-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const rel = `/kubepods/besteffort/pod${UID}/${CID}`;
  mkdirSync(join(root, rel), { recursive: true });
  const CGROUP = statSync(join(root, rel)).ino;

  it('waits for the watch once, then goes on without waiting (a Docker run under a pod cgroup)', async () => {
    const pods = new PodDirectory({ waitMs: 50 });
    const sensor = new BpftraceSensor({
      hostname: 'h',
      pods,
      cgroups: new CgroupMap([root], '/nonexistent-proc'),
      bpftrace: '/nonexistent/bpftrace',
    });
    const events: VigieEvent[] = [];
    await sensor.start((ev) => {
      if (ev.kind !== 'internal') events.push(ev);
      return true;
    });
    const open: SensorRecord = {
      t: 'open',
      cgroup: CGROUP,
      pid: 9,
      tid: 9,
      comm: 'cat',
      flags: 0,
      path: '/x',
    };
    sensor.handle(open);
    expect(events).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(events.map((e) => e.container)).toEqual([{ id: CID }]);
    // No second wait: the next records go on at once, named by the container's id.
    sensor.handle(open);
    sensor.handle(open);
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.k8s === undefined)).toBe(true);
    expect(pods.stats().unknown).toBe(1);
    await sensor.stop();
  });
});

describe('composition', () => {
  it('gives the sensor the pod directory the Kubernetes watch fills, one per set of sources', async () => {
    const pods = new PodDirectory();
    const [sensor] = await createSources({ hostname: 'h', config: {}, pods }, ['bpftrace']);
    expect((sensor as BpftraceSensor).pods).toBe(pods);
    const [own] = await createSources({ hostname: 'h', config: { kubernetes: { criSocket: false } } }, [
      'bpftrace',
    ]);
    expect((own as BpftraceSensor).pods).toBeInstanceOf(PodDirectory);
  });

  it("takes the CRI socket from --cri-socket, else containerd's or CRI-O's where present", () => {
    expect(stageConfig({ criSocket: '/run/k3s/containerd/containerd.sock' })).toEqual({
      kubernetes: { criSocket: '/run/k3s/containerd/containerd.sock' },
    });
    expect(stageConfig({ criSocket: 'none' })).toEqual({ kubernetes: { criSocket: false } });
    const seen: string[] = [];
    const exists = (p: string) => (seen.push(p), p === '/run/crio/crio.sock');
    createPodDirectory({}, exists);
    expect(seen).toEqual(['/run/containerd/containerd.sock', '/run/crio/crio.sock']);
    seen.length = 0;
    createPodDirectory({ kubernetes: { criSocket: false } }, exists);
    expect(seen).toEqual([]);
  });
});
