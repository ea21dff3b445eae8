import { makeAlert } from '../../../src/model/alert.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert, AlertEntities, AlertInput, Category } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { openStore } from '../../../src/infra/db.js';
import {
  BaselineDetector,
  BaselineManager,
  BaselineStore,
  binaryOf,
  folderOf,
  parseBaselineConfig,
  parseBaselineFile,
  type BaselineConfig,
} from '../../../src/detect/anomaly/baseline/index.js';
import { createRuntimeDetector, RuntimeDetector } from '../../../src/detect/runtime/detector.js';

const C = { id: 'aaaa00000001', name: 'web-1', image: 'demo/web:1', command: 'httpd -f' };
const C2 = { ...C, id: 'aaaa00000002', name: 'web-2' };
const T0 = 1_700_000_000_000; // ms
let seq = 0;
function at(sec: number, kind: VigieEvent['kind'], body: Partial<VigieEvent>, container = C): VigieEvent {
  return {
    id: `e${++seq}`,
    kind,
    ts: BigInt(Math.round((T0 + sec * 1000) * 1000)) * 1000n,
    source: 'test',
    container,
    ...body,
  };
}
const exec = (s: number, exe: string, c = C) =>
  at(s, 'process', { proc: { pid: 7, name: exe.split('/').pop(), exe, cmdline: exe } }, c);
const sys = (s: number, tid: number, name: string) =>
  at(s, 'syscall', { proc: { pid: tid, tid }, syscall: { name } });
const connect = (s: number, ip: string, port: number) =>
  at(s, 'network', { network: { op: 'connect', dstIp: ip, dstPort: port } });
const accept = (s: number, clientPort: number, localPort: number) =>
  at(s, 'network', {
    network: {
      op: 'accept',
      srcIp: '172.17.0.9',
      srcPort: clientPort,
      dstIp: '172.17.0.2',
      dstPort: localPort,
    },
  });
const write = (s: number, path: string, c = C) =>
  at(s, 'file', { file: { op: 'open', path, write: true } }, c);
const metric = (s: number, m: Record<string, number>, c = C) => at(s, 'metric', { metric: m }, c);
const nsAt = (sec: number) => BigInt(Math.round((T0 + sec * 1000) * 1000)) * 1000n;
/** A shell started by the web server (command injection): the runtime rules' shell alert. */
const shell = (s: number, c = C) =>
  at(
    s,
    'process',
    { proc: { pid: 70, ppid: 7, name: 'sh', exe: '/bin/sh', cmdline: 'sh -c id', pname: 'httpd' } },
    c,
  );
/** An alert as the alert path shows it to detectors (Detector.onAlert). */
function alertOn(sec: number, category: Category, detector: string, entities: AlertEntities): Alert {
  return makeAlert(
    {
      rule: `${detector} finding`,
      priority: 'Warning',
      output: 'x',
      category,
      detector,
      explanation: 'x',
      ts: nsAt(sec),
      entities,
    },
    'h',
  );
}

function cfg(over: Partial<BaselineConfig>): BaselineConfig {
  return parseBaselineConfig({
    windowSec: 10,
    learnSec: 30,
    minEvents: 20,
    pauseSec: 0,
    n: 3,
    L: 4,
    mismatchRatio: 0.5,
    minSyscalls: 0,
    minResourceSamples: 3,
    convergeShare: 1,
    convergeMinCalls: 0,
    syscallHoldSec: 0,
    ...over,
  });
}
function setup(over: Partial<BaselineConfig> = {}, store?: BaselineStore) {
  const mgr = new BaselineManager(cfg(over), store);
  const det = new BaselineDetector(mgr);
  const alerts: AlertInput[] = [];
  const feed = (e: VigieEvent) => det.onEvent(e, (a) => alerts.push(a));
  return { mgr, det, alerts, feed, wb: () => mgr.workloads.get('docker:demo/web:1|httpd -f') };
}

const tmp = mkdtempSync(join(tmpdir(), 'vigie-baseline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('workload baseline lifecycle', () => {
  it('becomes ready by event count (learnSec 5, minEvents 25): windows close at 10, 20, 30 s → ready at 30 s', () => {
    const { feed, wb } = setup({ learnSec: 5, minEvents: 25 });
    for (let t = 0; t < 30; t++) feed(exec(t, '/bin/app'));
    // Two windows kept: 20 events, 20 s.
    expect(wb()?.state).toBe('learning');
    expect(wb()?.learnedEvents).toBe(20);
    expect(wb()?.learnedMs).toBe(20_000);
    feed(exec(30, '/bin/app'));
    expect(wb()?.state).toBe('ready');
    expect(wb()?.learnedEvents).toBe(30);
  });

  it('becomes ready by duration (learnSec 15, minEvents 5): 10 s after one window, 20 s after two → ready at 20 s', () => {
    const { feed, wb } = setup({ learnSec: 15, minEvents: 5 });
    for (let t = 0; t < 20; t++) feed(exec(t, '/bin/app'));
    expect(wb()?.state).toBe('learning');
    expect(wb()?.learnedMs).toBe(10_000);
    feed(exec(20, '/bin/app'));
    expect(wb()?.state).toBe('ready');
    expect(wb()?.status().learnedSec).toBe(20);
  });

  it('a tick closes an expired window, so readiness does not wait for the next event', () => {
    const { feed, det, wb } = setup({ learnSec: 5, minEvents: 3 });
    for (let t = 0; t < 5; t++) feed(exec(t, '/bin/app'));
    det.tick(nsAt(10), () => undefined);
    expect(wb()?.state).toBe('ready');
    expect(wb()?.learnedMs).toBe(10_000);
  });

  it('never learns a window that held an alert: /bin/x seen in the tainted window still alerts once ready', () => {
    const { feed, mgr, alerts, wb } = setup({ learnSec: 25, minEvents: 5 });
    for (let t = 0; t < 10; t++) feed(exec(t, '/bin/app'));
    feed(exec(12, '/bin/x'));
    mgr.noteSecurityAlert(exec(15, '/bin/app')); // e.g. a runtime rule fired on this workload
    for (let t = 13; t < 42; t++) feed(exec(t, '/bin/app'));
    const w = wb()!;
    // Windows open at their first event: [0,10) kept (10 s); [12,22) held the alert → discarded;
    // [22,32) kept (+10 s = 20 s); [32,42) still open at 41 s → not ready (learnSec 25).
    expect(w.windowsDiscarded).toBe(1);
    expect(w.learnedMs).toBe(20_000);
    expect(w.state).toBe('learning');
    feed(exec(42, '/bin/app'));
    expect(w.learnedMs).toBe(30_000);
    expect(w.state).toBe('ready');
    expect(w.binaries.has('/bin/x')).toBe(false);
    feed(exec(41, '/bin/x'));
    expect(alerts.map((a) => a.rule)).toEqual(['Baseline: binary never seen']);
  });

  it('a security alert record from another detector (by workload or container id) pauses learning too', () => {
    const { feed, mgr, wb } = setup({ learnSec: 100, minEvents: 5 });
    for (let t = 0; t < 12; t++) feed(exec(t, '/bin/app'));
    mgr.noteAlertRecord({
      time: new Date(T0 + 13_000).toISOString(),
      vigie: { entities: { container: { id: C.id } }, category: 'attack', detector: 'falco' },
    });
    for (let t = 12; t < 23; t++) feed(exec(t, '/bin/app'));
    mgr.noteAlertRecord({
      time: new Date(T0 + 24_000).toISOString(),
      vigie: {
        entities: { workload: 'docker:demo/web:1|httpd -f' },
        category: 'anomaly',
        detector: 'audit-anomaly',
      },
    });
    for (let t = 23; t < 34; t++) feed(exec(t, '/bin/app'));
    // [0,10) kept; [10,20) held the first alert; [20,30) held the second → 2 discarded.
    expect(wb()?.windowsKept).toBe(1);
    expect(wb()?.windowsDiscarded).toBe(2);
  });

  it("the engine's alert hook (onAlert, a rule's alert) pauses learning the same way", () => {
    const { feed, det, wb } = setup({ learnSec: 100, minEvents: 5 });
    for (let t = 0; t < 12; t++) feed(exec(t, '/bin/app'));
    det.onAlert(alertOn(13, 'attack', 'rules', { container: { id: C.id } }));
    for (let t = 12; t < 23; t++) feed(exec(t, '/bin/app'));
    expect(wb()?.windowsKept).toBe(1);
    expect(wb()?.windowsDiscarded).toBe(1);
  });

  it("learning does not stall on a busy host: perf and posture alerts, and other workloads' alerts, do not pause it", () => {
    const { feed, det, wb } = setup({ learnSec: 30, minEvents: 5, pauseSec: 60 });
    const other = { ...C, id: 'bbbb00000001', image: 'demo/batch:1', command: 'worker' };
    feed(exec(0, '/bin/worker', other));
    for (let t = 0; t <= 30; t++) {
      feed(exec(t, '/bin/app'));
      // Every few seconds: CPU pressure from other load on the machine, a posture finding, and an
      // attack on another workload.
      if (t % 4 === 1) {
        det.onAlert(alertOn(t, 'performance', 'perf', { container: { id: C.id } }));
        det.onAlert(alertOn(t, 'misconfiguration', 'posture', { workload: 'docker:demo/web:1|httpd -f' }));
        det.onAlert(alertOn(t, 'attack', 'runtime', { container: { id: other.id } }));
      }
    }
    expect(wb()?.windowsDiscarded).toBe(0);
    expect(wb()?.state).toBe('ready');
    expect(wb()?.status().reason).toBe('ready');
    // The attack counted for the workload it was about.
    expect(det.manager.workloads.get('docker:demo/batch:1|worker')?.lastSecurityMs).toBe(T0 + 29_000);
  });

  it('stale after staleIdleSec without events; events coming back restart learning on top of what is known', () => {
    const { feed, det, wb } = setup({ learnSec: 5, minEvents: 3, staleIdleSec: 100 });
    for (let t = 0; t <= 10; t++) feed(exec(t, '/bin/app'));
    expect(wb()?.state).toBe('ready');
    det.tick(nsAt(109), () => undefined);
    expect(wb()?.state).toBe('ready');
    det.tick(nsAt(111), () => undefined);
    expect(wb()?.state).toBe('stale');
    expect(wb()?.staleReason).toBe('idle');
    feed(exec(200, '/bin/app'));
    expect(wb()?.state).toBe('learning');
    expect(wb()?.binaries.has('/bin/app')).toBe(true);
  });

  it('the runtime rules report every hit to the baselines, also those folded into a summary alert', () => {
    const { mgr } = setup();
    const seen: number[] = [];
    const rt = new RuntimeDetector({}, mgr, (e) => seen.push(Number(e.ts / 1_000_000n) - T0));
    const out: AlertInput[] = [];
    for (const s of [1, 2, 3]) rt.onEvent(shell(s), (a) => out.push(a));
    expect(out).toHaveLength(1); // deduplicated within dedupSec
    expect(seen).toEqual([1000, 2000, 3000]);
  });
});

describe('drift is decided on benign evidence only: a noisy attacker cannot switch the baseline off', () => {
  const C3 = { ...C, id: 'aaaa00000003', name: 'web-3' };
  const C4 = { ...C, id: 'aaaa00000004', name: 'web-4' };
  /** A web workload learned on two replicas (ready at 10 s), with the runtime rules beside it. */
  function learnedPair(over: Partial<BaselineConfig> = {}) {
    const s = setup({ learnSec: 5, minEvents: 3, ...over });
    // Wired as the engine wires them: the runtime rules tell the baselines of each hit, and the
    // alert path shows every alert to the baseline detector.
    const rt = createRuntimeDetector({ config: {}, baselines: s.mgr });
    const rules: AlertInput[] = [];
    const both = (e: VigieEvent) => {
      s.feed(e);
      rt.onEvent(e, (a) => {
        rules.push(a);
        s.det.onAlert(makeAlert(a, 'h'));
      });
    };
    for (let t = 0; t <= 10; t++)
      for (const c of [C, C2]) {
        both(exec(t, '/usr/sbin/httpd', c));
        both(metric(t, { cpu: 0.1, memory: 50e6, pids: 4 }, c));
        for (const name of ['accept', 'read', 'write', 'close']) s.feed(sys(t, 100, name));
      }
    expect(s.wb()?.state).toBe('ready');
    const novel = () => s.alerts.filter((a) => a.rule.startsWith('Baseline: '));
    return { ...s, both, rules, novel };
  }
  const APPLETS = Array.from({ length: 40 }, (_, i) => `/bin/tool${i}`);

  it('a burst of 40 anomalies that comes with a security alert is an incident: the baseline stays ready and alerting', () => {
    const { both, alerts, rules, wb, novel } = learnedPair();
    // A command injection: the web server spawns a shell (runtime rule), then 40 never-seen binaries
    // run within 40 s on both replicas.
    both(shell(20));
    expect(rules.map((a) => a.rule)).toEqual(['Shell spawned in container']);
    APPLETS.forEach((b, i) => both(exec(20 + i, b, i % 2 ? C2 : C)));
    expect(novel()).toHaveLength(41); // the shell, then the 40 binaries
    expect(alerts.some((a) => a.rule === 'Baseline drifted')).toBe(false);
    expect(wb()?.state).toBe('ready');
    // Later, one more never-seen binary is still reported.
    both(exec(300, '/bin/nc'));
    expect(novel().at(-1)?.output_fields?.['vigie.never_seen']).toBe('/bin/nc');
    expect(wb()?.status().reason).toBe('ready');
  });

  it('a burst of anomalies without any security alert is not drift either: it did not persist', () => {
    const { both, alerts, wb, novel } = learnedPair();
    APPLETS.forEach((b, i) => both(exec(20 + i, b, i % 2 ? C2 : C)));
    both(exec(300, '/bin/nc'));
    expect(novel()).toHaveLength(41);
    expect(alerts.some((a) => a.rule === 'Baseline drifted')).toBe(false);
    expect(wb()?.state).toBe('ready');
  });

  it('an attack that goes on for an hour on every replica, with security alerts, never makes drift', () => {
    const { both, alerts, rules, wb } = learnedPair();
    for (let t = 20; t <= 3600; t += 300)
      for (const c of [C, C2]) {
        both(shell(t, c));
        both(exec(t + 1, '/bin/nc', c));
        both(exec(t + 1, '/tmp/miner', c));
        both(write(t + 2, '/tmp/x/payload', c));
      }
    expect(rules.length).toBeGreaterThan(10);
    expect(alerts.some((a) => a.rule === 'Baseline drifted')).toBe(false);
    expect(wb()?.state).toBe('ready');
  });

  it('benign new behaviour that persists across replicas makes it stale; it keeps alerting above a higher threshold', () => {
    const { both, alerts, det, wb, novel } = learnedPair({
      staleFactor: 1.5,
      relearnQuietSec: 600,
    });
    // A new release: two new binaries and a new cache folder, on both replicas, every 5 minutes.
    const release = (t: number, c: typeof C) => {
      both(exec(t, '/usr/bin/worker', c));
      both(exec(t, '/usr/bin/gzip', c));
      both(write(t, '/var/cache/app/blob', c));
      both(metric(t, { cpu: 0.1, memory: 50e6, pids: 4 }, c));
    };
    for (let t = 100; t < 1900; t += 300) for (const c of [C, C2]) release(t, c);
    // Seen for 1500 s so far (driftPersistSec 1800): not yet.
    expect(wb()?.state).toBe('ready');
    expect(novel()).toHaveLength(6); // each once per container (cooldownSec)
    for (const c of [C, C2]) release(1900, c);
    expect(wb()?.state).toBe('stale');
    expect(wb()?.staleReason).toBe('drift');
    const drifted = alerts.filter((a) => a.rule === 'Baseline drifted');
    expect(drifted).toHaveLength(1);
    expect(drifted[0].output).toMatch(/3 new behaviours persisted for 30 min on 2\/2 replicas/);
    expect(wb()?.drift).toEqual({
      items: [
        { dimension: 'binary', item: '/usr/bin/worker' },
        { dimension: 'binary', item: '/usr/bin/gzip' },
        { dimension: 'file', item: '/var/cache/app' },
      ],
      replicas: 2,
      of: 2,
    });
    const st = wb()!.status();
    expect(st.staleSince).toBe(new Date(T0 + 1_900_000).toISOString());
    expect(st.reason).toBe(
      `stale since ${st.staleSince}: new behaviour persisting on 2/2 replicas with no security alert ` +
        '(binary /usr/bin/worker, binary /usr/bin/gzip, file /var/cache/app); alerting at threshold: ' +
        'system-call mismatch ≥ 0.75, resources above 1.5× the learned bound, anything else never seen as ' +
        'before (the drifted behaviours excepted); relearns when accepted (vigie baseline accept) or after ' +
        '10 min without alerts',
    );

    // Still alerting: a binary never seen is reported; the drifted behaviour is not, even on a new replica.
    const n = novel().length;
    both(exec(2000, '/bin/nc'));
    both(exec(2000, '/usr/bin/worker', C3));
    expect(
      novel()
        .slice(n)
        .map((a) => a.output_fields?.['vigie.never_seen']),
    ).toEqual(['/bin/nc']);
    // System calls: 2 of the last 4 n-grams unseen (0.5) was enough when ready, not now (0.75) ...
    ['accept', 'read', 'write', 'close', 'execve', 'socket'].forEach((c) => both(sys(2010, 300, c)));
    expect(novel()).toHaveLength(n + 1);
    // ... 3 of 4 is.
    both(sys(2010, 300, 'bind'));
    const sc = novel().at(-1)!;
    expect(sc.rule).toBe('Baseline: system-call sequence never seen');
    expect([sc.score, sc.threshold]).toEqual([0.75, 0.75]);
    // Resources: bound 0.3 core learned, × 1.5 now: 0.4 for three samples is quiet, 0.5 is not.
    for (let t = 2020; t < 2023; t++) both(metric(t, { cpu: 0.4, memory: 50e6, pids: 4 }, C4));
    expect(novel()).toHaveLength(n + 2);
    for (let t = 2023; t < 2026; t++) both(metric(t, { cpu: 0.5, memory: 50e6, pids: 4 }, C4));
    expect(novel().at(-1)?.rule).toBe('Baseline: resource usage outside the learned envelope');

    // Quiet for relearnQuietSec (600 s) after its last alert (2025 s): relearns on top of what it knows.
    det.tick(nsAt(2600), () => undefined);
    expect(wb()?.state).toBe('stale');
    det.tick(nsAt(2625), () => undefined);
    expect(wb()?.state).toBe('learning');
    expect(wb()?.binaries.has('/usr/sbin/httpd')).toBe(true);
    expect(wb()?.status().reason).toBe(
      'learning: 0/5 s, 0/3 events, 0 windows excluded after security alerts',
    );
  });

  it('a security alert during the persisting behaviour keeps it from counting as drift', () => {
    const { both, alerts, wb } = learnedPair();
    for (let t = 100; t <= 2500; t += 300)
      for (const c of [C, C2]) {
        both(exec(t, '/usr/bin/worker', c));
        both(exec(t, '/usr/bin/gzip', c));
        both(write(t, '/var/cache/app/blob', c));
      }
    // ... had a shell been spawned at 400 s, near the first sightings: incident, not drift.
    const b = learnedPair();
    for (let t = 100; t <= 2500; t += 300) {
      if (t === 400) b.both(shell(t));
      for (const c of [C, C2]) {
        b.both(exec(t, '/usr/bin/worker', c));
        b.both(exec(t, '/usr/bin/gzip', c));
        b.both(write(t, '/var/cache/app/blob', c));
      }
    }
    expect(wb()?.state).toBe('stale');
    expect(alerts.filter((a) => a.rule === 'Baseline drifted')).toHaveLength(1);
    expect(b.wb()?.state).toBe('ready');
    expect(b.alerts.some((a) => a.rule === 'Baseline drifted')).toBe(false);
  });

  it('one replica is not enough when the workload runs several', () => {
    const { both, wb } = learnedPair();
    for (let t = 100; t <= 2500; t += 300) {
      both(metric(t, { cpu: 0.1, memory: 50e6, pids: 4 }, C2)); // C2 is alive, but does not change
      both(exec(t, '/usr/bin/worker'));
      both(exec(t, '/usr/bin/gzip'));
      both(write(t, '/var/cache/app/blob'));
    }
    expect(wb()?.state).toBe('ready');
  });

  it('an operator accepts a stale baseline (vigie baseline accept): a running process sharing the store applies it', () => {
    const file = join(tmp, 'accept.db');
    const live = setup(
      { learnSec: 5, minEvents: 3, driftItems: 1, driftPersistSec: 60 },
      new BaselineStore(openStore(file)),
    );
    for (let t = 0; t <= 10; t++) live.feed(exec(t, '/usr/sbin/httpd'));
    for (let t = 100; t <= 200; t += 50) live.feed(exec(t, '/usr/bin/worker'));
    expect(live.wb()?.state).toBe('stale');
    live.mgr.save();
    // Another process (the command line) accepts it in the store.
    const db2 = openStore(file);
    const cli = new BaselineManager(cfg({}), new BaselineStore(db2));
    expect(cli.accept('docker:demo/web:1|httpd -f', T0 + 300_000)).toBe('relearning');
    expect(cli.accept('docker:demo/nope|x')).toBeUndefined();
    expect(new BaselineStore(db2).get('docker:demo/web:1|httpd -f')?.state).toBe('learning');
    db2.close();
    // The running process applies it at its next save, once.
    expect(live.mgr.applyAccepts()).toBe(1);
    expect(live.wb()?.state).toBe('learning');
    expect(live.mgr.applyAccepts()).toBe(0);
    // Relearns on top of what it knows, the accepted behaviour included.
    for (let t = 300; t <= 320; t++) live.feed(exec(t, '/usr/bin/worker'));
    expect(live.wb()?.state).toBe('ready');
    expect(live.wb()?.binaries.has('/usr/bin/worker')).toBe(true);
    live.feed(exec(321, '/usr/bin/worker'));
    expect(live.alerts.filter((a) => a.rule.startsWith('Baseline: ')).length).toBe(1);
  });

  it('the stale state and its evidence survive a restart; it still alerts', () => {
    const file = join(tmp, 'drift-restart.db');
    const a = setup(
      { learnSec: 5, minEvents: 3, driftItems: 1, driftPersistSec: 60 },
      new BaselineStore(openStore(file)),
    );
    for (let t = 0; t <= 10; t++) a.feed(exec(t, '/usr/sbin/httpd'));
    for (let t = 100; t <= 200; t += 50) a.feed(exec(t, '/usr/bin/worker'));
    a.mgr.save();
    const b = setup({ learnSec: 5, minEvents: 3, driftItems: 1 }, new BaselineStore(openStore(file)));
    expect(b.wb()?.status()).toMatchObject({
      state: 'stale',
      staleReason: 'drift',
      staleSince: new Date(T0 + 200_000).toISOString(),
      drift: { items: [{ dimension: 'binary', item: '/usr/bin/worker' }], replicas: 1, of: 1 },
    });
    b.feed(exec(300, '/usr/bin/worker'));
    b.feed(exec(300, '/bin/nc'));
    expect(b.alerts.map((x) => x.output_fields?.['vigie.never_seen'])).toEqual(['/bin/nc']);
  });
});

describe('vigie baseline status: why a baseline is not ready yet', () => {
  it('learning: progress against learnSec and minEvents, windows excluded after security alerts, a pause', () => {
    const { feed, det, wb } = setup({ learnSec: 600, minEvents: 5000, windowSec: 10, pauseSec: 20 });
    for (let t = 0; t < 320; t++) for (let k = 0; k < 4; k++) feed(exec(t + k / 4, '/bin/app'));
    det.onAlert(alertOn(321, 'attack', 'falco', { container: { id: C.id } }));
    for (let t = 321; t < 372; t++) {
      feed(exec(t, '/bin/app'));
      if (t === 352) det.onAlert(alertOn(t, 'performance', 'perf', { container: { id: C.id } }));
    }
    // Windows open at their first event. [0,10) … [300,310) kept: 310 s, 1,240 events. [310,320)
    // was still open when the alert came, [321,331) held it, [331,341) and [341,351) began within
    // pauseSec (20 s) of it: 4 excluded. [351,361) and [361,371) kept: the perf alert does not count.
    expect(wb()?.status().reason).toBe(
      'learning: 330/600 s, 1,260/5,000 events, 4 windows excluded after security alerts',
    );
    det.onAlert(alertOn(372, 'attack', 'runtime', { container: { id: C.id } }));
    feed(exec(373, '/bin/app'));
    expect(wb()?.status().reason).toBe(
      'learning: 330/600 s, 1,260/5,000 events, 4 windows excluded after security alerts; ' +
        `paused after a security alert at ${new Date(T0 + 372_000).toISOString()}`,
    );
  });

  it('ready, converging, stale (idle)', () => {
    const { feed, det, wb } = setup({
      learnSec: 5,
      minEvents: 3,
      convergeShare: 0.01,
      convergeMinCalls: 8,
      staleIdleSec: 100,
    });
    for (let t = 0; t <= 10; t++) feed(exec(t, '/bin/app'));
    expect(wb()?.status().reason).toBe('ready');
    for (let t = 11; t <= 22; t++) ['a', 'b', 'c', 'd'].forEach((c, i) => feed(sys(t, 1 + i, c)));
    expect(wb()?.status().reason).toMatch(
      /^ready; system-call sequences still converging \(\d+ calls learned/,
    );
    det.tick(nsAt(200), () => undefined);
    expect(wb()?.status().reason).toBe(
      `stale since ${new Date(T0 + 200_000).toISOString()}: no event for 100 s; relearns on top of what it knows when events return`,
    );
  });
});

describe('workload baseline dimensions: alerts name what was never seen', () => {
  function learned(over: Partial<BaselineConfig> = {}) {
    const s = setup({ learnSec: 5, minEvents: 3, ...over });
    for (let t = 0; t < 10; t++) {
      s.feed(exec(t, '/usr/sbin/httpd'));
      s.feed(connect(t, '10.0.0.5', 5432));
      s.feed(accept(t, 40000 + t, 8080));
      s.feed(write(t, `/var/log/app/access-${t}.log`));
      s.feed(metric(t, { cpu: 0.1, memory: 50e6, pids: 4 }));
      for (const name of ['accept', 'read', 'write', 'close']) s.feed(sys(t, 100 + (t % 2), name));
    }
    s.feed(exec(10, '/usr/sbin/httpd'));
    expect(s.wb()?.state).toBe('ready');
    return s;
  }

  it('binary, peer, listening port, file folder; replicas share the baseline', () => {
    const { feed, alerts } = learned();
    feed(exec(11, '/usr/sbin/httpd'));
    feed(connect(11, '10.0.0.6', 5432)); // new address on a known port: quiet
    feed(accept(11, 51000, 8080)); // new client port: quiet
    feed(accept(11, 12345, 40001)); // ephemeral local port: quiet
    feed(write(11, '/var/log/app/other.log')); // known folder
    expect(alerts).toHaveLength(0);
    feed(exec(12, '/bin/sh', C2)); // replica: same workload
    feed(connect(12, '203.0.113.7', 4444));
    feed(accept(12, 50000, 2222));
    feed(write(12, '/dev/null')); // a redirection, not a file
    feed(write(12, '/tmp/x'));
    expect(alerts.map((a) => [a.rule, a.output_fields?.['vigie.never_seen']])).toEqual([
      ['Baseline: binary never seen', '/bin/sh'],
      ['Baseline: network peer never seen', '203.0.113.7:4444'],
      ['Baseline: listening port never seen', '2222'],
      ['Baseline: file written in a folder never seen', '/tmp'],
    ]);
    for (const a of alerts) {
      expect(a.category).toBe('anomaly');
      expect(a.detector).toBe('baseline');
    }
    expect(alerts[0].explanation).toContain('/bin/sh');
    expect(alerts[1].explanation).toContain('203.0.113.7:4444');
    expect(alerts[3].output).toContain('/tmp/x');
    // The same novelty in the same container is not re-alerted within cooldownSec; in another replica it is.
    feed(exec(13, '/bin/sh', C2));
    expect(alerts).toHaveLength(4);
    feed(exec(13, '/bin/sh'));
    expect(alerts).toHaveLength(5);
  });

  it('system-call n-grams per thread, worked by hand (n 3, L 4, ratio 0.5)', () => {
    const { feed, alerts } = learned();
    // Learned n-grams of thread 100/101: accept read write, read write close, write close accept, close accept read.
    // Scoring: accept read write close execve socket → 3-grams: arw ✓, rwc ✓, wce ✗ (1/4), ces ✗ (2/4 ≥ 0.5) → alert.
    const calls = ['accept', 'read', 'write', 'close', 'execve', 'socket'];
    calls.forEach((c, i) => feed(sys(11 + i * 0.01, 300, c)));
    expect(alerts.map((a) => a.rule)).toEqual(['Baseline: system-call sequence never seen']);
    expect(alerts[0].output_fields?.['vigie.never_seen']).toBe('close execve socket');
    expect(alerts[0].score).toBe(0.5);
    expect(alerts[0].threshold).toBe(0.5);
    // Interleaving two threads running known sequences stays quiet (thread-aware).
    const q = learned();
    for (let i = 0; i < 40; i++) {
      const name = ['accept', 'read', 'write', 'close'][i % 4];
      q.feed(sys(11, 400, name));
      q.feed(sys(11, 401, name));
    }
    expect(q.alerts).toHaveLength(0);
  });

  it('holds syscall-sequence alerts for lossGraceSec after the sensor reports lost events', () => {
    const { feed, alerts, det } = learned({ lossGraceSec: 5 });
    const novel = (t: number, tid: number) =>
      ['accept', 'read', 'write', 'close', 'execve', 'socket'].forEach((c) => feed(sys(t, tid, c)));
    feed(
      at(11, 'internal', {
        container: undefined,
        internal: { type: 'sensor_lost', message: 'lost 10', counts: { lostDelta: 10 } },
      }),
    );
    novel(12, 300); // within 11 + 5 s: held
    expect(alerts).toHaveLength(0);
    expect(det.stats().suppressedByLoss).toBe(1);
    novel(17, 301); // grace over
    expect(alerts.map((a) => a.rule)).toEqual(['Baseline: system-call sequence never seen']);
  });

  it('holds a syscall-sequence alert syscallHoldSec and drops it when lost events are reported meanwhile', () => {
    const { feed, alerts, det } = learned({ syscallHoldSec: 6, lossGraceSec: 5 });
    const novel = (t: number, tid: number) =>
      ['accept', 'read', 'write', 'close', 'execve', 'socket'].forEach((c) => feed(sys(t, tid, c)));
    novel(20, 300);
    det.tick(nsAt(25), () => undefined);
    expect(alerts).toHaveLength(0);
    // The sensor's periodic report arrives after the fact: the held alert is dropped.
    feed(
      at(25.5, 'internal', {
        container: undefined,
        internal: { type: 'sensor_lost', message: 'lost', counts: {} },
      }),
    );
    det.tick(nsAt(27), (a) => alerts.push(a));
    expect(alerts).toHaveLength(0);
    expect(det.stats().suppressedByLoss).toBe(1);
    // No loss around this one: out after 6 s, with the time and n-gram of the crossing.
    novel(40, 301);
    det.tick(nsAt(45), (a) => alerts.push(a));
    expect(alerts).toHaveLength(0);
    det.tick(nsAt(46), (a) => alerts.push(a));
    expect(alerts.map((a) => a.output_fields?.['vigie.never_seen'])).toEqual(['close execve socket']);
    expect(alerts[0].event?.ts).toBe(nsAt(40));
  });

  it('syscall dimension alerts only after its n-gram set converged, learning on after ready until then', () => {
    const { feed, alerts, wb } = setup({
      learnSec: 5,
      minEvents: 3,
      convergeShare: 0.1,
      convergeMinCalls: 8,
    });
    const run = (t: number, tid: number, calls: string) =>
      calls.split(' ').forEach((c) => feed(sys(t, tid, c)));
    // Windows open at their first event: [1,11), [11,21), [21,31).
    run(1, 1, 'a b c a b c a b c a b c'); // window 1: abc bca cab, 3 new of 3 → not converged
    run(11, 2, 'x y z x y z x y z'); // window 2 (ready, still learning calls): 3 new of 6 → not converged
    expect(wb()?.state).toBe('ready');
    expect(alerts).toHaveLength(0);
    run(21, 3, 'a b c a b c a b c'); // window 3: 0 new → converged when it closes
    expect(wb()?.syscallConverged).toBe(false);
    run(31, 4, 'x y z x y z'); // 31 − 21 ≥ 10 s: closes window 3, then scored: all known
    expect(wb()?.syscallConverged).toBe(true);
    expect(alerts).toHaveLength(0);
    run(32, 5, 'a b c q r s'); // abc ✓, bcq ✗, cqr ✗ → 2/4 ≥ 0.5
    expect(alerts.map((a) => a.output_fields?.['vigie.never_seen'])).toEqual(['c q r']);
    expect(wb()?.stide.size).toBe(6);
  });

  it('resource envelope: bound = max(max × 1.5, p99 × 2) + floor, held for resourceSustain samples', () => {
    const { feed, alerts } = learned({ resourceSustain: 3 });
    // cpu learned 0.1 → bound max(0.15, 0.2) + 0.1 = 0.3 cores.
    feed(metric(11, { cpu: 0.29 }));
    feed(metric(12, { cpu: 0.5 }));
    feed(metric(13, { cpu: 0.5 }));
    expect(alerts).toHaveLength(0);
    feed(metric(14, { cpu: 0.5 }));
    expect(alerts.map((a) => a.rule)).toEqual(['Baseline: resource usage outside the learned envelope']);
    expect(alerts[0].output).toContain('bound 0.30 cores');
    expect(alerts[0].score).toBeCloseTo(0.5 / 0.3, 6);
  });

  it('stays quiet on a normal web workload once ready (many requests, new clients)', () => {
    const { feed, alerts } = learned();
    let t = 11;
    for (let r = 0; r < 2000; r++, t += 0.05) {
      const tid = 100 + (r % 2);
      feed(accept(t, 32768 + (r % 28000), 8080));
      for (const name of ['accept', 'read', 'write', 'close']) feed(sys(t, tid, name));
      feed(write(t, `/var/log/app/access-${r}.log`));
      if (r % 20 === 0) feed(metric(t, { cpu: 0.1, memory: 50e6, pids: 4 }));
      if (r % 50 === 0) feed(connect(t, `10.0.0.${r % 7}`, 5432));
    }
    expect(alerts).toHaveLength(0);
  });
});

describe('baseline persistence, export/import, reset', () => {
  it('round-trips through a SQLite file: a new process loads the ready baseline and alerts the same way', () => {
    const file = join(tmp, 'rt.db');
    const db1 = openStore(file);
    const a = setup({ learnSec: 5, minEvents: 3 }, new BaselineStore(db1));
    for (let t = 0; t < 10; t++) {
      a.feed(exec(t, '/usr/sbin/httpd'));
      for (const name of ['open', 'read', 'close']) a.feed(sys(t, 9, name));
      a.feed(connect(t, '10.0.0.5', 5432));
    }
    a.feed(exec(10, '/usr/sbin/httpd'));
    expect(a.mgr.save()).toBe(1);
    const before = a.wb()!.status();
    db1.close();

    const db2 = openStore(file);
    const b = setup({ learnSec: 5, minEvents: 3 }, new BaselineStore(db2));
    const after = b.wb()!.status();
    expect(after.state).toBe('ready');
    expect({ ...after, lastEventAt: undefined, memoryBytes: 0 }).toEqual({
      ...before,
      lastEventAt: undefined,
      memoryBytes: 0,
    });
    expect(b.wb()!.stide.has([0, 0, 0])).toBe(false);
    b.feed(exec(20, '/usr/sbin/httpd'));
    b.feed(connect(20, '10.0.0.5', 5432));
    expect(b.alerts).toHaveLength(0);
    // Nothing learned since: no write; an hour of life later, the liveness is recorded.
    expect(b.mgr.save()).toBe(0);
    b.feed(exec(3700, '/usr/sbin/httpd'));
    expect(b.mgr.save()).toBe(1);
    expect(b.mgr.save()).toBe(0);
    b.feed(exec(21, '/usr/bin/wget'));
    expect(b.alerts.map((x) => x.output_fields?.['vigie.never_seen'])).toEqual(['/usr/bin/wget']);
    db2.close();
  });

  it('exports to JSON with n-grams as system-call names, imports into another store, resets', () => {
    const src = setup({ learnSec: 5, minEvents: 3 }, new BaselineStore(openStore(join(tmp, 'ex.db'))));
    for (let t = 0; t < 10; t++) for (const name of ['open', 'read', 'close']) src.feed(sys(t, 9, name));
    src.feed(exec(10, '/bin/app'));
    const text = JSON.stringify(src.mgr.exportFile());
    const file = parseBaselineFile(text, 'export.json');
    expect(file.workloads).toHaveLength(1);
    expect(file.workloads[0].syscalls.ngrams).toEqual([
      'close open read',
      'open read close',
      'read close open',
    ]);

    const dstDb = openStore(join(tmp, 'im.db'));
    const dst = setup({}, new BaselineStore(dstDb));
    expect(dst.mgr.importFile(file)).toBe(1);
    expect(new BaselineStore(dstDb).rows().map((r) => [r.workload, r.state])).toEqual([
      ['docker:demo/web:1|httpd -f', 'ready'],
    ]);
    expect(dst.wb()?.stide.size).toBe(3);

    expect(dst.mgr.reset('docker:demo/web:1|httpd -f')).toBe(true);
    expect(new BaselineStore(dstDb).rows()).toHaveLength(0);
    expect(dst.mgr.reset('docker:demo/web:1|httpd -f')).toBe(false);
    dst.feed(exec(100, '/bin/app'));
    expect(dst.wb()?.state).toBe('learning');
    expect(() =>
      parseBaselineFile('{"format":"vigie-baselines","version":1,"workloads":[{"workload":""}]}', 'bad.json'),
    ).toThrow(/bad\.json: workloads\.0/);
    expect(() => parseBaselineFile('nope', 'x.json')).toThrow(/x\.json: not JSON/);
  });
});

describe('baseline detector robustness and the runtime port oracle', () => {
  it('counts and skips malformed events without throwing', () => {
    const { det, feed } = setup();
    const bad = [
      { id: '1', kind: 'syscall', ts: 1n, source: 't', container: C },
      { id: '2', kind: 'syscall', ts: 1n, source: 't', container: C, syscall: { name: 7 } },
      { id: '3', kind: 'syscall', source: 't', container: C, syscall: { name: 'read' } },
      { id: '4', kind: 'network', ts: 1n, source: 't', container: C },
      { id: '5', kind: 'metric', ts: 1n, source: 't', container: C, metric: { cpu: 'x' } },
      { id: '6', kind: 'process', ts: 1n, source: 't', container: { id: 5 }, proc: {} },
    ] as unknown as VigieEvent[];
    for (const b of bad) expect(() => feed(b)).not.toThrow();
    expect(det.stats().malformed).toBe(4);
  });

  it('names busybox applets re-executed through /proc/self/exe by their applet name', () => {
    expect(binaryOf({ exe: '/proc/self/exe', name: 'cat' })).toBe('cat');
    expect(binaryOf({ exe: '/bin/busybox', name: 'sh' })).toBe('/bin/busybox');
    expect(binaryOf({ name: 'sh' })).toBe('sh');
  });

  it('folds numeric folders', () => {
    expect(folderOf('/proc/123/status')).toBe('/proc/#');
    expect(folderOf('/x')).toBe('/');
  });

  it('unusual port: quiet while learning, fires on a port the ready baseline never saw, quiet on a learned one', () => {
    const { mgr, feed } = setup({ learnSec: 5, minEvents: 3 });
    const rt = new RuntimeDetector({}, mgr, (e) => mgr.noteSecurityAlert(e));
    const ra: AlertInput[] = [];
    const both = (e: VigieEvent) => {
      feed(e);
      rt.onEvent(e, (a) => ra.push(a));
    };
    for (let t = 0; t < 10; t++) both(connect(t, '10.0.0.5', 5432));
    expect(ra).toHaveLength(0); // learning
    both(exec(10, '/bin/app'));
    both(connect(11, '10.0.0.5', 5432));
    expect(ra).toHaveLength(0);
    both(connect(12, '198.51.100.1', 6667));
    expect(ra.map((a) => a.rule)).toEqual(['Outbound connection to unusual port']);
  });
});
