/**
 * Live detections keep their facts straight: the stateful rules' memory has windows that expire,
 * knows when a container is paused and is reset by a rollback of containment; durations come from
 * the event clock alone; de-duplication folds repeats of one fact, never a different fact; severity
 * follows the ATT&CK tactic of what matched.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { RuntimeDetector } from '../../../src/detect/runtime/detector.js';
import type { ActionRecord } from '../../../src/model/action.js';
import type { Alert, AlertInput } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { openStore } from '../../../src/infra/db.js';
import type { Source } from '../../../src/sources/types.js';
import { discardedOutput } from '../../utils/live.js';

const CID = 'f00dfacefeed' + '0'.repeat(52);
const C = { id: CID, name: 'web', image: 'demo/web:1', command: 'httpd -f -p 8080' };
const S = 1_000_000_000n;
const T0 = 1_700_000_000n * S;
let n = 0;
function ev(kind: VigieEvent['kind'], sec: number, body: Partial<VigieEvent>): VigieEvent {
  return {
    id: `f${++n}`,
    kind,
    ts: T0 + BigInt(Math.round(sec * 1000)) * 1_000_000n,
    source: 'test',
    container: C,
    ...body,
  };
}
const cpu = (sec: number, cores: number) => ev('metric', sec, { metric: { cpu: cores, cpuLimit: 1 } });
const pool = (sec: number, ip = '203.0.113.7') =>
  ev('network', sec, {
    proc: { pid: 70, name: 'nc' },
    network: { op: 'connect', proto: 'tcp', dstIp: ip, dstPort: 3333 },
  });
const lifecycle = (sec: number, action: string) => ev('container', sec, { lifecycle: { action } });
const read = (sec: number, path: string, name = 'cat') =>
  ev('file', sec, { proc: { pid: 80, name }, file: { op: 'open', path, write: false } });
const shell = (sec: number, pname: string, pid = 90) =>
  ev('process', sec, {
    proc: { pid, name: 'sh', exe: '/bin/sh', cmdline: 'sh', pname },
  });

class Run {
  readonly alerts: AlertInput[] = [];
  constructor(readonly d = new RuntimeDetector()) {}
  feed(...evs: VigieEvent[]): this {
    for (const e of evs) this.d.onEvent(e, (a) => this.alerts.push(a));
    return this;
  }
  tick(sec: number): this {
    this.d.tick(T0 + BigInt(sec) * S, (a) => this.alerts.push(a));
    return this;
  }
  of(rule: string): AlertInput[] {
    return this.alerts.filter((a) => a.rule === rule);
  }
}

/** An engine whose only source is this test pushing events, with the given detector. */
async function pushed(d: RuntimeDetector) {
  const db = openStore(':memory:');
  let sink: (ev: VigieEvent) => boolean = () => false;
  const source: Source = {
    name: 'pushed',
    start: async (s) => {
      sink = s;
    },
    stop: async () => undefined,
    stats: () => ({ events: 0, malformed: 0, lost: 0 }),
  };
  const alerts: Alert[] = [];
  const engine = new Engine({
    db,
    hostname: 'h',
    output: discardedOutput(),
    sources: [source],
    detectors: [d],
    responder: null,
    characterizer: null,
    tickMs: 20,
    onAlert: (a) => alerts.push(a),
  });
  await engine.start();
  return {
    engine,
    alerts,
    push: (...evs: VigieEvent[]) => evs.forEach((e) => sink(e)),
    settle: () => new Promise((r) => setTimeout(r, 50)),
    stop: async () => {
      await engine.stop();
      db.close();
    },
  };
}

const MINER = 'Crypto-miner behaviour';
/** CPU at the limit every 5 s over [from, to]. */
const plateau = (from: number, to: number, cores = 0.97) => {
  const out: VigieEvent[] = [];
  for (let t = from; t <= to; t += 5) out.push(cpu(t, cores));
  return out;
};
const seconds = (a: AlertInput) => Number(a.output_fields?.['vigie.cpu_saturated_sec']);

describe('crypto-miner state: windows, pause, rollback, one clock', () => {
  it('does not pair a CPU plateau with a pool connection made four minutes earlier', () => {
    const r = new Run().feed(pool(0), ...plateau(240, 300));
    expect(r.of(MINER)).toEqual([]);
  });

  it('reports a pairing once, with the duration of the plateau, and stays quiet while the container is paused', () => {
    const r = new Run().feed(...plateau(0, 20), pool(22));
    expect(r.of(MINER)).toHaveLength(1);
    expect(seconds(r.of(MINER)[0])).toBe(20);
    // Paused (docker pause): its samples are no evidence; nothing fires for two minutes.
    r.feed(lifecycle(25, 'pause'), ...plateau(30, 150, 0));
    r.tick(160);
    r.feed(...plateau(160, 170, 0)).tick(175);
    expect(r.of(MINER)).toHaveLength(1);
    expect(r.alerts.filter((a) => /repeated/.test(a.output))).toEqual([]);
    // Unpaused, the CPU run starts again from zero: no fire before it is sustained.
    r.feed(lifecycle(176, 'unpause'), cpu(177, 0.97), cpu(180, 0.97));
    expect(r.of(MINER)).toHaveLength(1);
  });

  it('counts the cgroup freezer state as paused too', () => {
    const r = new Run().feed(...plateau(0, 20), pool(22));
    const frozen = (t: number) => ev('metric', t, { metric: { cpu: 0.99, cpuLimit: 1, frozen: 1 } });
    for (let t = 25; t <= 200; t += 5) r.feed(frozen(t));
    r.tick(200);
    expect(r.of(MINER)).toHaveLength(1);
  });

  it('never prints an impossible duration: a plateau that ended is not measured from a sentinel', () => {
    // A plateau of 20 s that ends; the CPU climbs again later; a pool connection comes while the
    // second climb is not yet sustained.
    const r = new Run().feed(...plateau(0, 20), cpu(25, 0.1), cpu(100, 0.97), pool(101));
    for (const a of r.of(MINER)) {
      expect(seconds(a)).toBeGreaterThanOrEqual(0);
      expect(seconds(a)).toBeLessThanOrEqual(20);
      expect(a.output).not.toMatch(/for -?\d{4,}s|for -\d+s/);
    }
    // A plateau, then the CPU drops and a pool connection follows: not a billion seconds.
    const r2 = new Run().feed(...plateau(0, 30), cpu(35, 0.1), pool(40));
    for (const a of r2.of(MINER)) expect(seconds(a)).toBe(30);
  });

  it('measures on the event clock only: an out-of-order sample does not make a negative duration', () => {
    // The metric source's clock is a little behind the sensor's: samples arrive stamped earlier.
    const r = new Run().feed(...plateau(0, 15), pool(18), cpu(12, 0.97), cpu(20, 0.97));
    const hits = r.of(MINER);
    expect(hits.length).toBeGreaterThan(0);
    for (const a of hits) expect(seconds(a)).toBeGreaterThanOrEqual(0);
  });

  it('in the engine, events stamped in the past (a replay) keep their state: the tick runs on the event clock', async () => {
    const p = await pushed(new RuntimeDetector());
    try {
      // The engine ticks every 20 ms; between the plateau and the pool connection several ticks pass.
      p.push(...plateau(0, 20));
      await new Promise((r) => setTimeout(r, 150));
      p.push(pool(22));
      await p.settle();
      const miner = p.alerts.filter((a) => a.rule === MINER);
      expect(miner).toHaveLength(1);
      expect(miner[0].output_fields['vigie.cpu_saturated_sec']).toBe(20);
      // Nor does the tick close a de-duplication window opened a moment ago in event time.
      p.push(read(30, '/etc/shadow'), read(31, '/etc/shadow'));
      await new Promise((r) => setTimeout(r, 150));
      await p.settle();
      expect(p.alerts.filter((a) => /repeated/.test(a.output))).toEqual([]);
    } finally {
      await p.stop();
    }
  });

  it('a rollback of containment on the container resets its state: the old pool connection is forgotten', async () => {
    const p = await pushed(new RuntimeDetector());
    try {
      p.push(...plateau(0, 20), pool(22));
      await p.settle();
      expect(p.alerts.filter((a) => a.rule === MINER)).toHaveLength(1);
      // A person rolls back the throttle: the engine prints the record and tells the detectors.
      const rec: ActionRecord = {
        id: 'act-1',
        action: 'throttle',
        target: { kind: 'container', id: CID, name: 'web', platform: 'docker' },
        status: 'rolled_back',
        mode: 'enforce',
        reason: 'rollback requested',
        createdAt: new Date().toISOString(),
      };
      p.engine.printAction(rec);
      // The victim's CPU is back at its limit for 70 s after the rollback: no new pool connection,
      // so no new miner alert (and no follow-up folding the old one).
      p.push(...plateau(30, 100));
      await p.settle();
      expect(p.alerts.filter((a) => a.rule === MINER)).toHaveLength(1);
      // A fresh pool connection with the running plateau is a new fact: it fires.
      p.push(pool(112), cpu(115, 0.97));
      await p.settle();
      expect(p.alerts.filter((a) => a.rule === MINER)).toHaveLength(2);
    } finally {
      await p.stop();
    }
  });
});

describe('de-duplication folds repeats of one fact, never a different fact', () => {
  it('a service-account token read is not folded into an /etc/shadow read on the same container', () => {
    const r = new Run().feed(
      read(0, '/etc/shadow'),
      read(5, '/var/run/secrets/kubernetes.io/serviceaccount/token'),
      read(6, '/etc/shadow'),
    );
    const reads = r.of('Read sensitive file untrusted');
    expect(reads.map((a) => a.output_fields?.['fd.name'])).toEqual([
      '/etc/shadow',
      '/var/run/secrets/kubernetes.io/serviceaccount/token',
    ]);
    r.tick(70);
    const follow = r.alerts.filter((a) => /repeated/.test(a.output));
    expect(follow).toHaveLength(1);
    expect(follow[0].output_fields?.['fd.name']).toBe('/etc/shadow');
  });

  it('a shell spawned by nc right after one spawned by httpd is its own alert at once, not a repeat', () => {
    const r = new Run().feed(shell(0, 'httpd', 90), shell(30, 'nc', 91));
    const shells = r.of('Shell spawned in container');
    expect(shells).toHaveLength(2);
    expect(shells[1].output).toMatch(/by nc/);
    expect(shells[1].output).not.toMatch(/repeated/);
    r.tick(100);
    expect(r.alerts.filter((a) => /repeated/.test(a.output))).toEqual([]);
  });

  it('connections to two different peers are two facts', () => {
    const conn = (sec: number, ip: string, port: number) =>
      ev('network', sec, {
        proc: { pid: 70, name: 'nc' },
        network: { op: 'connect', proto: 'tcp', dstIp: ip, dstPort: port },
      });
    const r = new Run().feed(conn(0, '198.51.100.1', 6667), conn(3, '198.51.100.2', 6697));
    expect(r.of('Outbound connection to unusual port').map((a) => a.output_fields?.['fd.sip'])).toEqual([
      '198.51.100.1',
      '198.51.100.2',
    ]);
  });
});

describe('severity follows the technique', () => {
  it('credential access and command and control are Critical; execution and discovery keep the rule priority', () => {
    const r = new Run().feed(
      read(0, '/etc/shadow'),
      read(1, '/var/run/secrets/kubernetes.io/serviceaccount/token'),
      read(2, '/etc/sudoers'),
      shell(3, 'httpd', 90),
      shell(4, 'nc', 91),
    );
    const by = (re: RegExp) => r.alerts.find((a) => re.test(a.output))!;
    expect(by(/\/etc\/shadow/).priority).toBe('Critical');
    expect(by(/serviceaccount\/token/).priority).toBe('Critical');
    expect(by(/sudoers/).priority).toBe('Warning');
    expect(by(/by httpd/).priority).toBe('Warning');
    const rev = by(/by nc/);
    expect(rev.priority).toBe('Critical');
    expect(rev.mitre?.map((m) => m.tactic)).toContain('Command and Control');
    expect(rev.tags).toContain('mitre_command_and_control');
    expect(rev.output_fields?.['proc.pname']).toBe('nc');
  });
});
