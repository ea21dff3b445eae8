/**
 * Docker source and eBPF sensor against the real dockerd and bpftrace.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerContainerCatalogue, DockerSource } from '../../src/sources/docker.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import {
  bpftraceAvailable,
  Collector,
  docker,
  dockerAvailable,
  removeContainer,
  waitFor,
} from '../utils/live.js';

const hasDocker = await dockerAvailable();
const hasBpf = hasDocker && bpftraceAvailable();
let image = '';

beforeAll(async () => {
  if (hasDocker) image = await ensureTestbedImage(docker);
});

async function runContainer(name: string, cmd: string[]): Promise<string> {
  const c = await docker.createContainer({
    Image: image,
    name: `${name}-${process.pid}-${Date.now()}`,
    Cmd: cmd,
    Labels: { 'vigie.testbed': '1', 'vigie.test': 'live' },
  });
  await c.start();
  return c.id;
}

describe.skipIf(!hasDocker)('docker source', () => {
  it('sees start, die and streaming stats of a container', async () => {
    const col = new Collector();
    const src = new DockerSource({ hostname: 'test' });
    await src.start(col.sink);
    let id: string | undefined;
    try {
      id = await runContainer('vigie-live-docker', [
        'sh',
        '-c',
        'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 2',
      ]);
      const started = await waitFor(
        () =>
          col.find(
            (e) => e.kind === 'container' && e.container?.id === id && e.lifecycle?.action === 'start',
          ),
        10_000,
        'start event',
      );
      expect(started.container?.image).toBe(image);
      expect(started.container?.name).toMatch(/^vigie-live-docker-/);
      const metric = await waitFor(
        () => col.find((e) => e.kind === 'metric' && e.container?.id === id && e.metric?.cpu !== undefined),
        15_000,
        'a metric with cpu',
      );
      expect(metric.metric!.cpu!).toBeGreaterThanOrEqual(0);
      expect(metric.metric!.memory!).toBeGreaterThan(0);
      expect(metric.metric!.pids!).toBeGreaterThanOrEqual(1);
      const died = await waitFor(
        () =>
          col.find((e) => e.kind === 'container' && e.container?.id === id && e.lifecycle?.action === 'die'),
        20_000,
        'die event',
      );
      expect(died.lifecycle?.exitCode).toBe(0);
      expect(src.stats().malformed).toBe(0);
    } finally {
      await src.stop();
      await removeContainer(id);
    }
  }, 60_000);

  it('handles a container removed while its stats stream runs', async () => {
    const col = new Collector();
    const src = new DockerSource({ hostname: 'test' });
    await src.start(col.sink);
    let id: string | undefined;
    try {
      id = await runContainer('vigie-live-vanish', ['sleep', '60']);
      await waitFor(() => col.find((e) => e.kind === 'metric' && e.container?.id === id), 15_000, 'stats');
      expect(src.stats().statsStreams).toBeGreaterThanOrEqual(1);
      const streamsBefore = src.stats().statsStreams as number;
      await docker.getContainer(id).remove({ force: true });
      await waitFor(
        () =>
          col.find(
            (e) => e.kind === 'container' && e.container?.id === id && e.lifecycle?.action === 'destroy',
          ),
        15_000,
        'destroy event',
      );
      await waitFor(
        () => (src.stats().statsStreams as number) < streamsBefore || undefined,
        5000,
        'the stream to close',
      );
      const metricsAfter = col.events.filter((e) => e.kind === 'metric' && e.container?.id === id).length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(col.events.filter((e) => e.kind === 'metric' && e.container?.id === id).length).toBe(
        metricsAfter,
      );
      expect(src.stats().connected).toBe(true);
    } finally {
      await src.stop();
      await removeContainer(id);
    }
  }, 60_000);

  it('reports a closed socket once, keeps retrying, and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-sock-'));
    const col = new Collector();
    const src = new DockerSource({
      hostname: 'test',
      socketPath: join(dir, 'absent.sock'),
      minBackoffMs: 50,
      maxBackoffMs: 100,
    });
    try {
      await src.start(col.sink);
      await new Promise((r) => setTimeout(r, 600));
      const down = col.events.filter(
        (e) => e.kind === 'internal' && e.internal?.type === 'docker_disconnected',
      );
      expect(down).toHaveLength(1);
      expect(down[0].internal?.message).toMatch(/dockerd unavailable/);
      expect(src.stats().connected).toBe(false);
    } finally {
      await src.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reconnects when the daemon connection drops and replays what it missed', async () => {
    // A unix-socket proxy in front of dockerd stands for a dockerd restart: closing it cuts every
    // stream, as a restart does, without disturbing the shared daemon.
    const dir = mkdtempSync(join(tmpdir(), 'vigie-proxy-'));
    const sock = join(dir, 'docker.sock');
    const conns = new Set<Socket>();
    let server: Server | undefined;
    const listen = () =>
      new Promise<void>((resolve) => {
        server = createServer((c) => {
          const up = connect('/var/run/docker.sock');
          conns.add(c);
          conns.add(up);
          c.pipe(up).pipe(c);
          const end = () => {
            c.destroy();
            up.destroy();
          };
          c.on('error', end);
          up.on('error', end);
          c.on('close', end);
          up.on('close', end);
        });
        server.listen(sock, resolve);
      });
    const cut = () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        conns.clear();
        server!.close(() => resolve());
      });
    await listen();
    const col = new Collector();
    const containers = new DockerContainerCatalogue(new Docker({ socketPath: sock }));
    const src = new DockerSource({
      hostname: 'test',
      containers,
      stats: false,
      minBackoffMs: 100,
      maxBackoffMs: 200,
    });
    let id: string | undefined;
    try {
      await src.start(col.sink);
      expect(src.stats().connected).toBe(true);
      await cut();
      await waitFor(
        () => col.find((e) => e.internal?.type === 'docker_disconnected'),
        5000,
        'disconnect notice',
      );
      // Started while Vigie was cut off: seen after the reconnect (snapshot and replayed events).
      id = await runContainer('vigie-live-reconnect', ['sleep', '30']);
      await listen();
      await waitFor(
        () => col.find((e) => e.internal?.type === 'docker_reconnected'),
        10_000,
        'reconnect notice',
      );
      await waitFor(
        () => col.find((e) => e.kind === 'container' && e.container?.id === id),
        10_000,
        'the container started during the outage',
      );
      expect(src.stats().reconnects).toBe(1);
      const startEvents = col.events.filter(
        (e) => e.kind === 'container' && e.container?.id === id && e.lifecycle?.action === 'start',
      );
      expect(startEvents.length).toBeLessThanOrEqual(1); // replay never duplicates
    } finally {
      await src.stop();
      await cut().catch(() => undefined);
      await removeContainer(id);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!hasBpf)('eBPF sensor', () => {
  it('attributes a process exec, a file open and a connect in a container to that container', async () => {
    const col = new Collector();
    const containers = new DockerContainerCatalogue(docker);
    const sensor = new BpftraceSensor({ hostname: 'test', containers });
    let id: string | undefined;
    try {
      await sensor.start(col.sink);
      expect(sensor.running).toBe(true);
      id = await runContainer('vigie-live-sensor', [
        'sh',
        '-c',
        'sleep 1; cat /etc/shadow >/dev/null; nc -w 1 127.0.0.1 3333 </dev/null; sleep 1',
      ]);
      const exec = await waitFor(
        () => col.find((e) => e.kind === 'process' && e.container?.id === id && e.proc?.name === 'cat'),
        20_000,
        'exec of cat attributed to the container',
      );
      expect(exec.proc?.cmdline).toBe('cat /etc/shadow');
      expect(exec.proc?.pname).toBe('sh');
      expect(exec.container?.name).toMatch(/^vigie-live-sensor-/);
      expect(exec.container?.image).toBe(image);
      const open = await waitFor(
        () => col.find((e) => e.kind === 'file' && e.container?.id === id && e.file?.path === '/etc/shadow'),
        10_000,
        'open of /etc/shadow',
      );
      expect(open.file?.write).toBe(false);
      const conn = await waitFor(
        () => col.find((e) => e.kind === 'network' && e.container?.id === id && e.network?.dstPort === 3333),
        10_000,
        'connect to port 3333',
      );
      expect(conn.network?.dstIp).toBe('127.0.0.1');
      const sys = await waitFor(
        () => col.find((e) => e.kind === 'syscall' && e.container?.id === id),
        10_000,
        'syscall events',
      );
      expect(typeof sys.syscall?.name).toBe('string');
      // Nothing from the host leaks through.
      expect(col.events.every((e) => e.kind === 'internal' || e.container?.id)).toBe(true);
    } finally {
      await sensor.stop();
      await removeContainer(id);
    }
  }, 90_000);

  it('counts and skips malformed sensor lines from a real bpftrace run', async () => {
    const col = new Collector();
    const sensor = new BpftraceSensor({
      hostname: 'test',
      containers: new DockerContainerCatalogue(docker),
      program: [
        'BEGIN {',
        '  printf("S\\tnot-a-number\\n");',
        '  printf("garbage line\\n");',
        '  printf("O\\t12345\\t999999\\t999999\\tx\\t0\\t/etc/x\\n");',
        '  printf("X\\t1\\t2\\t3\\tcomm\\n");',
        '}',
        'interval:ms:300 { exit(); }',
      ].join('\n'),
      maxRestartsPerMinute: 0,
    });
    try {
      await sensor.start(col.sink);
      await waitFor(() => (sensor.stats().lines as number) >= 5 || undefined, 20_000, 'the program output');
      await new Promise((r) => setTimeout(r, 500));
      const st = sensor.stats();
      expect(st.malformed).toBe(3);
      expect(st.records).toBe(1); // the well-formed open line
      expect(st.unattributed).toBe(1); // cgroup 12345 is no container
      expect(col.events.filter((e) => e.kind !== 'internal')).toHaveLength(0);
    } finally {
      await sensor.stop();
    }
  }, 60_000);

  it('says once, clearly, when bpftrace cannot run, and emits nothing else', async () => {
    const col = new Collector();
    const sensor = new BpftraceSensor({
      hostname: 'test',
      containers: new DockerContainerCatalogue(docker),
      bpftrace: '/nonexistent/bpftrace',
    });
    await sensor.start(col.sink);
    await sensor.stop();
    expect(sensor.running).toBe(false);
    expect(sensor.reason).toMatch(/bpftrace not found/);
    expect(col.events).toHaveLength(1);
    expect(col.events[0].internal?.type).toBe('sensor_unavailable');
  });
});

afterAll(async () => {
  if (!hasDocker) return;
  const left = await docker.listContainers({ all: true, filters: { label: ['vigie.test=live'] } });
  await Promise.all(left.map((c) => removeContainer(c.Id)));
});
