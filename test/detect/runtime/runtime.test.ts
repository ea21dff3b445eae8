import { describe, expect, it } from 'vitest';
import type { AlertInput } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { RuntimeDetector, parseRuntimeConfig } from '../../../src/detect/runtime/detector.js';
import type { PortVerdict } from '../../../src/detect/runtime/rules.js';

const C = { id: 'c0ffee000001', name: 'web', image: 'demo/web:1', command: 'httpd -f -p 8080' };
let n = 0;
const S = 1_000_000_000n;
function ev(kind: VigieEvent['kind'], sec: number, body: Partial<VigieEvent>): VigieEvent {
  return {
    id: `e${++n}`,
    kind,
    ts: 1_700_000_000n * S + BigInt(Math.round(sec * 1000)) * 1_000_000n,
    source: 'test',
    container: C,
    ...body,
  };
}
const proc = (sec: number, name: string, extra: Record<string, unknown> = {}) =>
  ev('process', sec, { proc: { pid: 100, name, cmdline: name, pname: 'httpd', ...extra } });
const file = (sec: number, path: string, write: boolean, op = 'open', pname = 'cat') =>
  ev('file', sec, { proc: { pid: 101, name: pname }, file: { op, path, write } });
const connect = (sec: number, ip: string, port: number) =>
  ev('network', sec, {
    proc: { pid: 102, name: 'nc' },
    network: { op: 'connect', proto: 'tcp', dstIp: ip, dstPort: port },
  });
const metric = (sec: number, m: Record<string, number>) => ev('metric', sec, { proc: undefined, metric: m });

function run(events: VigieEvent[], d = new RuntimeDetector()): { alerts: AlertInput[]; d: RuntimeDetector } {
  const alerts: AlertInput[] = [];
  for (const e of events) d.onEvent(e, (a) => alerts.push(a));
  return { alerts, d };
}
const rules = (a: AlertInput[]) => a.map((x) => x.rule);

describe('runtime rules: each fires on a crafted event and not on its near miss', () => {
  it('shell spawned by the service fires (T1059.004); a script sub-shell and the entrypoint do not', () => {
    const hit = run([proc(0, 'sh', { cmdline: 'sh -c id', pname: 'httpd' })]).alerts;
    expect(rules(hit)).toEqual(['Shell spawned in container']);
    expect(hit[0].category).toBe('attack');
    expect(hit[0].mitre?.[0].technique).toBe('T1059.004');
    expect(hit[0].priority).toBe('Warning');
    expect(run([proc(0, 'sh', { cmdline: 'sh -c ls', pname: 'sh' })]).alerts).toHaveLength(0);
    // The container's own command launched by the runtime.
    const c2 = { ...C, command: 'sh -c "httpd -f -p 8080"' };
    const entry = ev('process', 0, {
      container: c2,
      proc: { pid: 1, name: 'sh', cmdline: 'sh -c httpd -f -p 8080', pname: 'containerd-shim' },
    });
    expect(run([entry]).alerts).toHaveLength(0);
    const bare = ev('process', 0, {
      container: c2,
      proc: { pid: 1, name: 'sh', cmdline: 'sh', pname: 'runc' },
    });
    expect(run([bare]).alerts).toHaveLength(0);
    // A docker exec of a different command from the runtime parent fires.
    const exec = ev('process', 0, {
      container: c2,
      proc: { pid: 9, name: 'sh', cmdline: 'sh -c cat /etc/shadow', pname: 'runc' },
    });
    expect(rules(run([exec]).alerts)).toEqual(['Shell spawned in container']);
    // Not a shell.
    expect(run([proc(0, 'shellcheck')]).alerts).toHaveLength(0);
  });

  it('write below /etc and binary dirs fire; reads and look-alike paths do not', () => {
    expect(rules(run([file(0, '/etc/passwd', true)]).alerts)).toEqual(['Write below etc']);
    expect(rules(run([file(0, '/usr/local/bin/x', true)]).alerts)).toEqual(['Write below binary dir']);
    expect(rules(run([file(0, '/bin/sh', false, 'unlink')]).alerts)).toEqual(['Write below binary dir']);
    expect(run([file(0, '/etc/passwd', false)]).alerts).toHaveLength(0);
    expect(run([file(0, '/etcetera/x', true)]).alerts).toHaveLength(0);
    expect(run([file(0, '/etc/resolv.conf', true)]).alerts).toHaveLength(0);
    expect(run([file(0, '/usr/binx/y', true)]).alerts).toHaveLength(0);
  });

  it('sensitive reads fire with the matching technique; passwd by its owner, /etc/passwd and writes do not', () => {
    const shadow = run([file(0, '/etc/shadow', false)]).alerts;
    expect(rules(shadow)).toEqual(['Read sensitive file untrusted']);
    expect(shadow[0].mitre?.map((m) => m.technique)).toEqual(['T1003.008']);
    const tok = run([file(0, '/var/run/secrets/kubernetes.io/serviceaccount/token', false)]).alerts;
    expect(tok[0].mitre?.[0].technique).toBe('T1528');
    expect(run([file(0, '/root/.ssh/id_ed25519', false)]).alerts[0].mitre?.[0].technique).toBe('T1552.004');
    expect(rules(run([file(0, '/etc/sudoers', false)]).alerts)).toEqual(['Read sensitive file untrusted']);
    expect(run([file(0, '/etc/shadow', false, 'open', 'passwd')]).alerts).toHaveLength(0);
    expect(run([file(0, '/etc/passwd', false)]).alerts).toHaveLength(0);
    expect(run([file(0, '/root/.ssh/id_ed25519.pub', false)]).alerts).toHaveLength(0);
  });

  it('package managers fire; npm start does not, npm install does', () => {
    expect(rules(run([proc(0, 'apk', { cmdline: 'apk add curl' })]).alerts)).toEqual([
      'Launch package management process in container',
    ]);
    expect(rules(run([proc(0, 'npm', { cmdline: 'npm install left-pad' })]).alerts)).toEqual([
      'Launch package management process in container',
    ]);
    expect(run([proc(0, 'npm', { cmdline: 'npm start' })]).alerts).toHaveLength(0);
    expect(run([proc(0, 'pip', { cmdline: 'pip --version' })]).alerts).toHaveLength(0);
  });

  it('drop and execute: written then exec, or exec from /tmp; /usr/bin exec does not', () => {
    const dropped = run([
      file(0, '/opt/app/payload', true),
      proc(1, 'payload', { exe: '/opt/app/payload', cmdline: '/opt/app/payload' }),
    ]).alerts;
    expect(rules(dropped)).toEqual(['Drop and execute binary in writable folder']);
    expect(dropped[0].output_fields?.['vigie.written_before']).toBe(true);
    expect(dropped[0].priority).toBe('Critical');
    const fromTmp = run([proc(0, 'x', { exe: '/dev/shm/x', cmdline: '/dev/shm/x' })]).alerts;
    expect(rules(fromTmp)).toEqual(['Drop and execute binary in writable folder']);
    expect(fromTmp[0].output_fields?.['vigie.written_before']).toBe(false);
    // Relative exec resolved against cwd.
    expect(rules(run([proc(0, 'x', { cmdline: './x', cwd: '/tmp' })]).alerts)).toEqual([
      'Drop and execute binary in writable folder',
    ]);
    expect(run([proc(0, 'ls', { exe: '/usr/bin/ls', cmdline: 'ls' })]).alerts).toHaveLength(0);
    expect(run([proc(0, 'x', { exe: '/tmpx/x' })]).alerts).toHaveLength(0);
    // Written, then removed, then a program of that path runs from a non-writable folder: no alert.
    expect(
      run([file(0, '/opt/a', true), file(1, '/opt/a', false, 'unlink'), proc(2, 'a', { exe: '/opt/a' })])
        .alerts,
    ).toHaveLength(0);
  });

  it('unusual outbound port: fires outside the allowlist when the baseline does not know it', () => {
    const oracle = (v: PortVerdict) => ({ connectPort: () => v });
    expect(rules(run([connect(0, '10.0.0.9', 6667)]).alerts)).toEqual([
      'Outbound connection to unusual port',
    ]);
    expect(run([connect(0, '10.0.0.9', 443)]).alerts).toHaveLength(0);
    expect(run([connect(0, '127.0.0.1', 6667)]).alerts).toHaveLength(0);
    expect(run([connect(0, '10.0.0.9', 6667)], new RuntimeDetector({}, oracle('known'))).alerts).toHaveLength(
      0,
    );
    expect(
      run([connect(0, '10.0.0.9', 6667)], new RuntimeDetector({}, oracle('learning'))).alerts,
    ).toHaveLength(0);
    const a = run([connect(0, '10.0.0.9', 6667)], new RuntimeDetector({}, oracle('unknown'))).alerts;
    expect(a[0].output).toContain('never seen in the workload baseline');
    expect(a[0].mitre?.[0].technique).toBe('T1571');
    expect(
      run([connect(0, '10.0.0.9', 6667)], new RuntimeDetector({ allowedPorts: [6667] })).alerts,
    ).toHaveLength(0);
  });

  it('crypto-miner: sustained CPU near the limit plus a pool port; either alone does not', () => {
    const cpu = (t: number, v: number) => metric(t, { cpu: v });
    // minerSustainSec 10: samples at 0, 5, 10 s at 0.95 cores of 1 → saturated at t=10.
    const both = run([cpu(0, 0.95), cpu(5, 0.95), connect(6, '10.0.0.7', 3333), cpu(10, 0.95)]).alerts;
    expect(rules(both).filter((r) => r === 'Crypto-miner behaviour')).toHaveLength(1);
    expect(both.find((a) => a.rule === 'Crypto-miner behaviour')?.mitre?.[0].technique).toBe('T1496');
    // CPU alone, and not sustained long enough with the port.
    expect(rules(run([cpu(0, 0.95), cpu(5, 0.95), cpu(10, 0.95), cpu(15, 0.99)]).alerts)).toEqual([]);
    const short = run([cpu(0, 0.95), cpu(5, 0.95), connect(6, '10.0.0.7', 3333), cpu(8, 0.95)]).alerts;
    expect(rules(short)).not.toContain('Crypto-miner behaviour');
    // A dip resets the sustain clock.
    const dip = run([cpu(0, 0.95), cpu(5, 0.2), connect(6, '10.0.0.7', 3333), cpu(10, 0.95)]).alerts;
    expect(rules(dip)).not.toContain('Crypto-miner behaviour');
    // Half a core of a 0.5-core limit is saturation.
    const lim = run([
      metric(0, { cpu: 0.45, cpuLimit: 0.5 }),
      metric(11, { cpu: 0.45, cpuLimit: 0.5 }),
      connect(12, '10.0.0.7', 14444),
    ]).alerts;
    expect(rules(lim)).toContain('Crypto-miner behaviour');
    // Throttled in most periods (the limit was lowered since): saturated too.
    const thr = run([
      metric(0, { cpu: 0.2, cpuThrottled: 0.9 }),
      metric(11, { cpu: 0.2, cpuThrottled: 0.8 }),
      connect(12, '10.0.0.7', 3333),
    ]).alerts;
    expect(rules(thr)).toContain('Crypto-miner behaviour');
    const light = run([
      metric(0, { cpu: 0.2, cpuThrottled: 0.1 }),
      metric(11, { cpu: 0.2, cpuThrottled: 0.1 }),
      connect(12, '10.0.0.7', 3333),
    ]).alerts;
    expect(rules(light)).not.toContain('Crypto-miner behaviour');
    // A stratum URL alone.
    expect(
      rules(run([proc(0, 'worker', { cmdline: 'worker -o stratum+tcp://pool:3333' })]).alerts),
    ).toContain('Crypto-miner behaviour');
  });

  it('fork bomb: pids jump by 200 over the last samples, or exec rate; steady pids do not', () => {
    // Samples 20, 25, 30, 240: low = 20, 240 - 20 = 220 ≥ 200.
    const jump = run([
      metric(0, { pids: 20 }),
      metric(1, { pids: 25 }),
      metric(2, { pids: 30 }),
      metric(3, { pids: 240 }),
    ]).alerts;
    expect(rules(jump)).toEqual(['Fork bomb']);
    expect(jump[0].output_fields?.['vigie.pids_before']).toBe(20);
    expect(run([metric(0, { pids: 20 }), metric(1, { pids: 200 })]).alerts).toHaveLength(0); // +180
    expect(rules(run([metric(0, { pids: 95, pidsLimit: 100 })]).alerts)).toEqual(['Fork bomb']);
    // forkExecCount 5 within 1 s: the 5th exec in 0.4 s fires, spread-out execs do not.
    const d = new RuntimeDetector({ forkExecCount: 5, forkExecWindowSec: 1 });
    const fast = [0, 0.1, 0.2, 0.3, 0.4].map((t) => proc(t, 'true', { pname: 'sh' }));
    expect(rules(run(fast, d).alerts)).toEqual(['Fork bomb']);
    const slow = [0, 1, 2, 3, 4].map((t) => proc(t, 'true', { pname: 'sh' }));
    expect(run(slow, new RuntimeDetector({ forkExecCount: 5, forkExecWindowSec: 1 })).alerts).toHaveLength(0);
  });
});

describe('runtime detector', () => {
  it('aggregates duplicates of one rule and container within dedupSec into one follow-up with a count', () => {
    const d = new RuntimeDetector({ dedupSec: 60 });
    const alerts: AlertInput[] = [];
    const emit = (a: AlertInput) => alerts.push(a);
    for (let i = 0; i < 5; i++) d.onEvent(file(i, '/etc/shadow', false), emit);
    expect(alerts).toHaveLength(1);
    d.tick(1_700_000_000n * S + 30n * S, emit); // window still open
    expect(alerts).toHaveLength(1);
    d.tick(1_700_000_000n * S + 61n * S, emit);
    expect(alerts).toHaveLength(2);
    expect(alerts[1].output_fields?.['vigie.count']).toBe(4);
    expect(alerts[1].output).toContain('repeated 4 more times');
    // Another container is not a duplicate.
    d.onEvent({ ...file(70, '/etc/shadow', false), container: { ...C, id: 'other' } }, emit);
    expect(alerts).toHaveLength(3);
    expect(d.stats().suppressed).toBe(4);
  });

  it('tells the observer about every alert (the baseline pauses learning on it)', () => {
    const seen: string[] = [];
    const d = new RuntimeDetector({}, undefined, (e) => seen.push(e.id));
    const e = file(0, '/etc/shadow', false);
    d.onEvent(e, () => undefined);
    expect(seen).toEqual([e.id]);
  });

  it('counts and skips malformed events without throwing', () => {
    const d = new RuntimeDetector();
    const bad = [
      { id: 'x', kind: 'file', ts: 1n, source: 't' },
      { id: 'y', kind: 'file', ts: 1n, source: 't', file: { op: 'open' } },
      { id: 'z', kind: 'process', source: 't', proc: { name: 'sh' } },
      {
        id: 'w',
        kind: 'network',
        ts: 1n,
        source: 't',
        container: C,
        network: { op: 'connect', dstPort: 'x' },
      },
      { id: 'v', kind: 'process', ts: 1n, source: 't', container: C, proc: { name: 5, cmdline: {} } },
      null,
    ] as unknown as VigieEvent[];
    const alerts: AlertInput[] = [];
    for (const b of bad) expect(() => d.onEvent(b, (a) => alerts.push(a))).not.toThrow();
    expect(alerts).toHaveLength(0);
    expect(Number(d.stats().malformed)).toBeGreaterThanOrEqual(4);
  });

  it('rejects a bad config naming the key', () => {
    expect(() => parseRuntimeConfig({ dedupSec: -1 })).toThrow(/dedupSec/);
    expect(() => parseRuntimeConfig({ nope: 1 })).toThrow(/runtime detector config/);
    expect(() => new RuntimeDetector({ disabled: ['nope'] })).toThrow(/unknown rule/);
  });
});
