import { describe, expect, it } from 'vitest';
import type { AlertInput } from '../../../src/model/alert.js';
import type { VigieEvent } from '../../../src/model/event.js';
import { SYSCALL_NAMES_X86_64, syscallName, syscallNumber } from '../../../src/model/syscalls.js';
import {
  BaselineDetector,
  BaselineManager,
  parseBaselineConfig,
  parseBaselineFile,
  SyscallIds,
} from '../../../src/detect/anomaly/baseline/index.js';

describe('system-call identity: the x86_64 kernel number', () => {
  it('one table maps numbers to names and back; unknown numbers are written sys_<nr> and read back', () => {
    expect(syscallName(0)).toBe('read');
    expect(syscallName(257)).toBe('openat');
    expect(syscallName(1000)).toBe('sys_1000');
    expect(syscallNumber('read')).toBe(0);
    expect(syscallNumber('openat')).toBe(257);
    expect(syscallNumber('sys_1000')).toBe(1000);
    expect(syscallNumber('procexit')).toBeUndefined();
    SYSCALL_NAMES_X86_64.forEach((name, nr) => expect(syscallNumber(name)).toBe(nr));
  });

  it('ids are kernel numbers, from the event number or its name; other names get ids above them', () => {
    const ids = new SyscallIds();
    expect(ids.of({ name: 'openat', nr: 257 })).toBe(257);
    expect(ids.of({ name: 'openat' })).toBe(257);
    expect(ids.of({ name: 'sys_999' })).toBe(999);
    const a = ids.of({ name: 'a' });
    expect(a).toBeGreaterThan(1023);
    expect(ids.of({ name: 'a' })).toBe(a);
    expect(ids.nameOf(257)).toBe('openat');
    expect(ids.nameOf(999)).toBe('sys_999');
    expect(ids.nameOf(a)).toBe('a');
  });
});

const C = { id: 'bbbb00000001', name: 'api-1', image: 'demo/api:1', command: 'api' };
const T0 = 1_700_000_000_000;
let seq = 0;
function call(sec: number, tid: number, sc: { name: string; nr?: number }): VigieEvent {
  return {
    id: `s${++seq}`,
    kind: 'syscall',
    ts: BigInt(Math.round((T0 + sec * 1000) * 1000)) * 1000n,
    source: 'test',
    container: C,
    proc: { pid: tid, tid },
    syscall: { ...sc, dir: '>' },
  };
}
function learnedManager(feedCall: (t: number, name: string) => { name: string; nr?: number }) {
  const mgr = new BaselineManager(
    parseBaselineConfig({
      windowSec: 10,
      learnSec: 5,
      minEvents: 3,
      pauseSec: 0,
      n: 3,
      L: 4,
      mismatchRatio: 0.5,
      minSyscalls: 0,
      convergeShare: 1,
      convergeMinCalls: 0,
      syscallHoldSec: 0,
    }),
  );
  const det = new BaselineDetector(mgr);
  const alerts: AlertInput[] = [];
  for (let t = 0; t < 12; t++)
    for (const name of ['openat', 'read', 'close'])
      det.onEvent(call(t, 9, feedCall(t, name)), (a) => alerts.push(a));
  return { mgr, det, alerts, wb: () => [...mgr.workloads.values()][0] };
}

describe('the baseline learns kernel numbers and shows names', () => {
  it('sensor events (numbers) and name-only events learn the same n-grams, exported as names', () => {
    const byNr = learnedManager((_t, name) => ({ name, nr: syscallNumber(name)! }));
    const byName = learnedManager((_t, name) => ({ name }));
    const exported = [byNr, byName].map((m) => m.mgr.exportFile().workloads[0].syscalls.ngrams);
    expect(exported[0]).toEqual(['close openat read', 'openat read close', 'read close openat']);
    expect(exported[1]).toEqual(exported[0]);
    // The learned n-grams hold the kernel numbers: openat 257, read 0, close 3.
    const ids = (m: typeof byNr) => {
      const j = m.wb().stide.toJSON();
      const raw = Buffer.from(j.ngrams, 'base64');
      return Array.from({ length: j.count }, (_, k) =>
        [0, 1, 2].map((i) => raw.readInt32LE((k * 3 + i) * 4)).join(' '),
      ).sort();
    };
    expect(ids(byNr)).toEqual(['0 3 257', '257 0 3', '3 257 0']);
    expect(ids(byName)).toEqual(ids(byNr));
  });

  it('an alert names the unseen sequence; a mix of numbered and named events of one call agree', () => {
    const { det, alerts, wb } = learnedManager((_t, name) => ({ name, nr: syscallNumber(name)! }));
    expect(wb().state).toBe('ready');
    const emit = (a: AlertInput) => alerts.push(a);
    // openat read close by number and name interleaved: all known, no alert.
    det.onEvent(call(13, 7, { name: 'openat' }), emit);
    det.onEvent(call(13, 7, { name: 'read', nr: 0 }), emit);
    det.onEvent(call(13, 7, { name: 'close' }), emit);
    expect(alerts).toHaveLength(0);
    // execve (59) and a call this kernel table does not know (sys_500), by number only.
    det.onEvent(call(14, 7, { name: 'execve', nr: 59 }), emit);
    det.onEvent(call(14, 7, { name: 'sys_500', nr: 500 }), emit);
    expect(alerts.map((a) => a.output_fields?.['vigie.never_seen'])).toEqual(['close execve sys_500']);
  });

  it('a stored baseline (names) loads into kernel-number ids; names no table knows round-trip', () => {
    const file = parseBaselineFile(
      JSON.stringify({
        format: 'vigie-baselines',
        version: 1,
        workloads: [
          {
            workload: 'docker:demo/api:1|api',
            state: 'ready',
            createdMs: T0,
            learnStartMs: T0,
            readyMs: T0 + 30_000,
            lastEventMs: T0 + 30_000,
            learnedEvents: 100,
            learnedMs: 30_000,
            windowsKept: 3,
            windowsDiscarded: 0,
            syscallsLearned: 100,
            syscallConverged: true,
            binaries: [],
            peers: [],
            connectPorts: [],
            listenPorts: [],
            fileDirs: [],
            syscalls: {
              n: 3,
              L: 4,
              ngrams: ['openat read close', 'read close procexit', 'sys_600 read close'],
            },
            resources: {
              cpu: { seen: 0, samples: [] },
              memory: { seen: 0, samples: [] },
              pids: { seen: 0, samples: [] },
            },
          },
        ],
      }),
      'old.json',
    );
    const mgr = new BaselineManager(
      parseBaselineConfig({ L: 4, mismatchRatio: 0.5, minSyscalls: 0, syscallHoldSec: 0 }),
    );
    expect(mgr.importFile(file)).toBe(1);
    const wb = mgr.workloads.get('docker:demo/api:1|api')!;
    expect(wb.stide.size).toBe(3);
    expect(mgr.exportFile().workloads[0].syscalls.ngrams).toEqual([
      'openat read close',
      'read close procexit',
      'sys_600 read close',
    ]);
    // The sensor's numbers hit what was stored by name: openat(257) read(0) close(3), and sys_600.
    const alerts: AlertInput[] = [];
    const det = new BaselineDetector(mgr);
    const feed = (tid: number, nrs: number[]) =>
      nrs.forEach((nr) => det.onEvent(call(40, tid, { name: syscallName(nr), nr }), (a) => alerts.push(a)));
    feed(5, [257, 0, 3]);
    feed(6, [600, 0, 3]);
    expect(alerts).toHaveLength(0);
    feed(7, [59, 59, 59, 59]);
    expect(alerts.map((x) => x.output_fields?.['vigie.never_seen'])).toEqual(['execve execve execve']);
  });
});
