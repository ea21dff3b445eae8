/**
 * The container catalogue as an owned service: stable references for the sensor's hot path, one
 * inspection per unknown container, start/stop notices; the sensor names containers only through
 * ContainerAttribution; createSources hands one catalogue to the Docker source and the sensor.
 */
import type Docker from 'dockerode';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerRef, VigieEvent } from '../../src/model/event.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { CgroupMap } from '../../src/sources/bpftrace/cgroups.js';
import type { SensorRecord } from '../../src/sources/bpftrace/parser.js';
import { DockerContainerCatalogue, DockerSource } from '../../src/sources/docker.js';
import { createSources } from '../../src/sources/registry.js';
import type { ContainerAttribution } from '../../src/sources/types.js';

const ID = 'c'.repeat(64);

// A cgroup folder for the container: its inode is the cgroup id bpftrace reports.
const cgroupRoot = mkdtempSync(join(tmpdir(), 'vigie-cg-attr-'));
afterAll(() => rmSync(cgroupRoot, { recursive: true, force: true }));
mkdirSync(join(cgroupRoot, ID));
const CGROUP = statSync(join(cgroupRoot, ID)).ino;

/** A Docker client that knows one container and counts its inspections. */
function fakeDocker(): { docker: Docker; inspections: () => number } {
  let n = 0;
  const docker = {
    getContainer: (id: string) => ({
      inspect: async () => {
        n++;
        if (id !== ID) throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return {
          Id: ID,
          Name: '/web',
          Config: { Image: 'nginx:1', Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx'], Labels: {} },
          State: { Pid: 4242, Running: true },
          HostConfig: { NanoCpus: 5e8 },
        };
      },
    }),
  } as unknown as Docker;
  return { docker, inspections: () => n };
}

const openRecord = (cgroup: number): SensorRecord => ({
  t: 'open',
  cgroup,
  pid: 7,
  tid: 7,
  comm: 'cat',
  flags: 0,
  path: '/etc/shadow',
});

/** A sensor whose sink is set (bpftrace itself cannot start: preflight fails), CGROUP → ID. */
async function sensorWith(containers?: ContainerAttribution): Promise<{
  sensor: BpftraceSensor;
  events: VigieEvent[];
}> {
  const cgroups = new CgroupMap([cgroupRoot], '/nonexistent-proc');
  const sensor = new BpftraceSensor({
    hostname: 'h',
    containers,
    cgroups,
    bpftrace: '/nonexistent/bpftrace',
  });
  const events: VigieEvent[] = [];
  await sensor.start((ev) => {
    if (ev.kind !== 'internal') events.push(ev);
    return true;
  });
  return { sensor, events };
}

describe('container catalogue', () => {
  it('inspects an unknown container once, then answers from memory with one shared reference', async () => {
    const { docker, inspections } = fakeDocker();
    const cat = new DockerContainerCatalogue(docker);
    expect(cat.known(ID)).toBeUndefined();
    const [a, b] = await Promise.all([cat.lookup(ID), cat.lookup(ID)]);
    expect(inspections()).toBe(1);
    expect(a).toEqual({
      id: ID,
      name: 'web',
      image: 'nginx:1',
      command: '/docker-entrypoint.sh nginx',
      labels: {},
      workload: 'docker:nginx:1|/docker-entrypoint.sh nginx',
    });
    expect(b).toBe(a);
    // Falco names containers by their 12-character short id.
    expect(cat.known(ID.slice(0, 12))).toBe(a);
    expect(cat.known(ID)).toBe(a);
    expect(cat.get(ID)?.cpuLimit).toBe(0.5);
    expect(await cat.lookup('d'.repeat(64))).toBeUndefined();
  });

  it('reports starts and stops, and a new reference once the metadata changes', async () => {
    const { docker } = fakeDocker();
    const cat = new DockerContainerCatalogue(docker);
    const changes: string[] = [];
    cat.onChange((e, action) => changes.push(`${action} ${e.name}`));
    await cat.inspect(ID);
    const before = cat.known(ID);
    cat.markStopped(ID);
    expect(changes).toEqual(['start web', 'stop web']);
    expect(cat.running()).toHaveLength(0);
    expect(cat.known(ID)).not.toBe(before);
    expect(cat.known(ID)).toEqual(before);
  });
});

describe('eBPF sensor attribution', () => {
  it('names a container through the catalogue, holding records until it is looked up', async () => {
    const { docker, inspections } = fakeDocker();
    const { sensor, events } = await sensorWith(new DockerContainerCatalogue(docker));
    sensor.handle(openRecord(CGROUP));
    sensor.handle(openRecord(CGROUP));
    expect(events).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(inspections()).toBe(1);
    sensor.handle(openRecord(CGROUP));
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.container?.name === 'web' && e.file?.path === '/etc/shadow')).toBe(true);
    expect(events[2].container).toBe(events[0].container);
    sensor.handle(openRecord(12345)); // no container
    expect(sensor.stats()).toMatchObject({ events: 3, unattributed: 1 });
    await sensor.stop();
  });

  it('falls back to the container id when the lookup fails', async () => {
    const failing: ContainerAttribution = {
      known: () => undefined,
      lookup: async (): Promise<ContainerRef | undefined> => {
        throw new Error('dockerd down');
      },
      onChange: () => undefined,
    };
    const { sensor, events } = await sensorWith(failing);
    sensor.handle(openRecord(CGROUP));
    await new Promise((r) => setTimeout(r, 10));
    expect(events.map((e) => e.container)).toEqual([{ id: ID }]);
    await sensor.stop();
  });

  it('names containers by id alone when it is given no catalogue', async () => {
    const { sensor, events } = await sensorWith(undefined);
    sensor.handle(openRecord(CGROUP));
    expect(events.map((e) => e.container)).toEqual([{ id: ID }]);
    await sensor.stop();
  });
});

describe('source registry', () => {
  it("gives the Docker source and the sensor the caller's catalogue", async () => {
    const { docker } = fakeDocker();
    const containers = new DockerContainerCatalogue(docker);
    const [src] = await createSources({ hostname: 'h', config: {}, containers }, ['docker']);
    expect((src as DockerSource).containers).toBe(containers);
    expect((src as DockerSource).docker).toBe(docker);
  });

  it('creates one catalogue for both when the caller has none', async () => {
    const sources = await createSources({ hostname: 'h', config: {} }, ['docker', 'bpftrace']);
    const dockerSource = sources.find((s): s is DockerSource => s instanceof DockerSource)!;
    const sensor = sources.find((s): s is BpftraceSensor => s instanceof BpftraceSensor)!;
    const changes: string[] = [];
    // The sensor rescans its cgroup map on every change the Docker source records.
    const scans = () => sensor.cgroups.stats.scans;
    const before = scans();
    dockerSource.containers.onChange((_e, action) => changes.push(action));
    dockerSource.containers.put({ id: ID, running: true, changedAt: Date.now() });
    expect(changes).toEqual(['start']);
    expect(scans()).toBe(before + 1);
  });
});
