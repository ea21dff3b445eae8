/**
 * The wired live loop: sources → bus → detectors → alerts (store + output) → responder → records.
 * A test-only detector stands in for the real ones so that the wiring is tested on its own.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Engine, type LiveResponder } from '../../src/engine/engine.js';
import { createOutput } from '../../src/engine/output.js';
import type { Detector } from '../../src/detect/types.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { Alert } from '../../src/model/alert.js';
import { EventIds, nowNs, type VigieEvent } from '../../src/model/event.js';
import type { EventSink, Source } from '../../src/sources/types.js';
import { openStore } from '../../src/infra/db.js';
import { DockerContainerCatalogue, DockerSource } from '../../src/sources/docker.js';
import { BpftraceSensor } from '../../src/sources/bpftrace/sensor.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { bpftraceAvailable, docker, dockerAvailable, removeContainer, waitFor } from '../utils/live.js';

const ids = new EventIds();

function captureOutput() {
  const out = new PassThrough();
  const lines: string[] = [];
  let buf = '';
  out.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return { output: createOutput('json', out, new PassThrough()), lines };
}

/** Alerts on every process event whose name is in `names`. */
function execDetector(names: string[]): Detector {
  return {
    name: 'test-exec',
    kinds: ['process'],
    onEvent(ev, emit) {
      if (!ev.proc?.name || !names.includes(ev.proc.name)) return;
      emit({
        rule: 'Test exec',
        priority: 'Warning',
        output: `exec ${ev.proc.name}`,
        category: 'attack',
        detector: 'test-exec',
        explanation: `${ev.proc.name} was executed`,
        event: ev,
        output_fields: { 'proc.name': ev.proc.name },
      });
    },
  };
}

function fakeResponder(): LiveResponder & { seen: Alert[] } {
  const seen: Alert[] = [];
  return {
    seen,
    async onAlert(a) {
      seen.push(a);
      await new Promise((r) => setTimeout(r, 1));
      const rec: ActionRecord = {
        id: `act-${seen.length}`,
        action: 'observe',
        target: { kind: 'container', id: a.vigie.entities.container?.id ?? 'none', platform: 'docker' },
        status: 'executed',
        mode: 'monitor',
        alert: a.uuid,
        reason: a.rule,
        createdAt: new Date().toISOString(),
      };
      return [rec];
    },
    async tick() {
      return [];
    },
    async close() {},
  };
}

describe('engine wiring', () => {
  it('drains every queued event, alert and action on stop', async () => {
    const n = 3000;
    const burst: Source = {
      name: 'burst',
      async start(sink: EventSink) {
        for (let i = 0; i < n; i++) {
          const ev: VigieEvent = {
            id: ids.next(),
            kind: 'process',
            ts: nowNs(),
            source: 'test',
            container: { id: 'c1', name: 'one', image: 'img' },
            proc: { pid: i, name: i % 10 === 0 ? 'sh' : 'ls' },
          };
          sink(ev);
        }
      },
      async stop() {},
      stats: () => ({ events: n, malformed: 0, lost: 0 }),
    };
    const { output, lines } = captureOutput();
    const responder = fakeResponder();
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output,
      sources: [burst],
      detectors: [execDetector(['sh'])],
      responder,
    });
    await engine.start();
    await engine.stop(); // immediately: everything queued must still go through
    const st = engine.stats();
    expect(st.events).toBe(n);
    expect(st.alerts).toBe(n / 10);
    expect(responder.seen).toHaveLength(n / 10);
    expect(st.actions).toBe(n / 10);
    expect(engine.alerts.count()).toBe(n / 10);
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.filter((o) => 'rule' in o)).toHaveLength(n / 10);
    expect(objs.filter((o) => 'action' in o)).toHaveLength(n / 10);
    const alert = objs.find((o) => 'rule' in o) as unknown as Alert;
    expect(alert.vigie.entities.workload).toBe('docker:img|');
    expect(alert.output_fields['proc.name']).toBe('sh');
    db.close();
  });

  it('shows every alert to detectors that implement onAlert', async () => {
    const seen: string[] = [];
    const watcher = Object.assign(
      { name: 'watcher', kinds: [] as const, onEvent() {} },
      { onAlert: (a: Alert) => void seen.push(a.rule) },
    );
    const one: Source = {
      name: 'one',
      async start(sink) {
        sink({ id: ids.next(), kind: 'process', ts: nowNs(), source: 't', proc: { name: 'sh' } });
      },
      async stop() {},
      stats: () => ({ events: 1, malformed: 0, lost: 0 }),
    };
    const { output } = captureOutput();
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output,
      sources: [one],
      detectors: [execDetector(['sh']), watcher],
      responder: null,
    });
    await engine.start();
    await engine.stop();
    expect(seen).toEqual(['Test exec']);
    db.close();
  });

  it('counts a full queue as drops and reports them as internal events', async () => {
    const flood: Source = {
      name: 'flood',
      async start(sink) {
        for (let i = 0; i < 500; i++)
          sink({ id: ids.next(), kind: 'process', ts: nowNs(), source: 't', proc: { name: 'x' } });
      },
      async stop() {},
      stats: () => ({ events: 500, malformed: 0, lost: 0 }),
    };
    const { output } = captureOutput();
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output,
      sources: [flood],
      detectors: [],
      responder: null,
      eventQueueCapacity: 100,
    });
    await engine.start();
    await engine.stop();
    const st = engine.stats();
    expect(st.events).toBe(100);
    expect(st.queues.find((q) => q.name === 'events:detect')?.dropped).toBeGreaterThanOrEqual(400);
    expect(st.drops['events:detect']).toBeGreaterThanOrEqual(400);
    db.close();
  });
});

const hasDocker = await dockerAvailable();
const hasBpf = hasDocker && bpftraceAvailable();

describe.skipIf(!hasBpf)('engine on real Docker and bpftrace', () => {
  it('turns an exec inside a container into a stored, printed alert and an action record', async () => {
    const image = await ensureTestbedImage(docker);
    const containers = new DockerContainerCatalogue(docker);
    const sources = [
      new DockerSource({ hostname: 'h', containers, stats: false }),
      new BpftraceSensor({ hostname: 'h', containers }),
    ];
    const { output, lines } = captureOutput();
    const responder = fakeResponder();
    const db = openStore(':memory:');
    const engine = new Engine({
      db,
      hostname: 'h',
      output,
      sources,
      detectors: [execDetector(['sleep'])],
      responder,
    });
    let id: string | undefined;
    try {
      await engine.start();
      const c = await docker.createContainer({
        Image: image,
        name: `vigie-live-engine-${process.pid}`,
        Cmd: ['sh', '-c', 'sleep 1; sleep 1'],
        Labels: { 'vigie.test': 'live' },
      });
      id = c.id;
      await c.start();
      await waitFor(() => lines.find((l) => l.includes('"action"')), 20_000, 'an action record');
      const alert = lines.map((l) => JSON.parse(l) as Alert).find((o) => o.rule === 'Test exec')!;
      expect(alert.vigie.entities.container?.id).toBe(id);
      expect(alert.output_fields['proc.name']).toBe('sleep');
      expect(engine.alerts.list({ container: id }).length).toBeGreaterThanOrEqual(1);
      expect(engine.alertLatencyMs.length).toBeGreaterThanOrEqual(1);
      expect(engine.alertLatencyMs[0]).toBeGreaterThanOrEqual(0);
    } finally {
      await engine.stop();
      await removeContainer(id);
      db.close();
    }
  }, 90_000);
});
