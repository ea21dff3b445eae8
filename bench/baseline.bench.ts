/**
 * Workload baseline: syscall events scored against a ready baseline per second on one core (target
 * ≥ 1,000,000), next to a naive baseline (n-grams as joined strings in a Set, per-thread name arrays)
 * measured in the same run; and baseline memory per workload (target ≤ 2 MB), computed from the
 * typed-array sizes and measured as heap + array-buffer deltas over many workloads.
 *
 * Traffic: a synthetic web service whose 8 threads each run one of 30 request patterns (8–24 calls over
 * a 32-name vocabulary) at a time, interleaved at random, as a sensor delivers them.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AlertInput } from '../src/model/alert.js';
import type { VigieEvent } from '../src/model/event.js';
import {
  BaselineDetector,
  BaselineManager,
  parseBaselineConfig,
} from '../src/detect/anomaly/baseline/index.js';
import { fmt, hrms, row } from './util.js';

const NAMES = [
  'accept4',
  'read',
  'write',
  'close',
  'epoll_wait',
  'epoll_ctl',
  'openat',
  'fstat',
  'mmap',
  'munmap',
  'recvfrom',
  'sendto',
  'writev',
  'futex',
  'clock_gettime',
  'getpid',
  'lseek',
  'pread64',
  'sendfile',
  'setsockopt',
  'getsockname',
  'fcntl',
  'newfstatat',
  'brk',
  'madvise',
  'nanosleep',
  'rt_sigprocmask',
  'poll',
  'shutdown',
  'ioctl',
  'stat',
  'access',
];

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Interleaved per-thread request patterns: (tid, name) pairs. */
function traffic(
  seed: number,
  calls: number,
  threads = 8,
  patterns = 30,
): { tids: Int32Array; names: string[] } {
  const r = rng(seed);
  const pats: string[][] = [];
  const pr = rng(12345); // the same service code for every run of one workload
  for (let p = 0; p < patterns; p++) {
    const len = 8 + Math.floor(pr() * 17);
    pats.push(Array.from({ length: len }, () => NAMES[Math.floor(pr() * NAMES.length)]));
  }
  const cur = new Int32Array(threads).fill(-1);
  const pos = new Int32Array(threads);
  const tids = new Int32Array(calls);
  const names: string[] = new Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = Math.floor(r() * threads);
    if (cur[t] < 0 || pos[t] >= pats[cur[t]].length) {
      cur[t] = Math.floor(r() * patterns);
      pos[t] = 0;
    }
    tids[i] = 1000 + t;
    names[i] = pats[cur[t]][pos[t]++];
  }
  return { tids, names };
}

const container = { id: '4f2a9c0d11e2', name: 'web-1', image: 'demo/web:1', command: 'httpd -f -p 8080' };
const T0 = 1_700_000_000_000_000_000n;

function events(seed: number, calls: number, c = container): VigieEvent[] {
  const { tids, names } = traffic(seed, calls);
  const out: VigieEvent[] = new Array(calls);
  for (let i = 0; i < calls; i++) {
    out[i] = {
      id: `s${i}`,
      kind: 'syscall',
      ts: T0 + BigInt(i) * 1000n,
      source: 'bench',
      container: c,
      proc: { pid: tids[i], tid: tids[i] },
      syscall: { name: names[i] },
    };
  }
  return out;
}

/** The straightforward way: n-grams as strings in a Set, per-thread arrays of names. */
class NaiveBaseline {
  readonly set = new Set<string>();
  private readonly threads = new Map<number, string[]>();
  constructor(private readonly n: number) {}
  private window(tid: number, name: string): string[] {
    let w = this.threads.get(tid);
    if (!w) this.threads.set(tid, (w = []));
    w.push(name);
    if (w.length > this.n) w.shift();
    return w;
  }
  learn(tid: number, name: string): void {
    const w = this.window(tid, name);
    if (w.length === this.n) this.set.add(w.join(','));
  }
  score(tid: number, name: string): boolean {
    const w = this.window(tid, name);
    return w.length === this.n && !this.set.has(w.join(','));
  }
}

function gcFn(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export async function run(): Promise<void> {
  const learnCalls = 400_000;
  const scoreCalls = 1_000_000;
  const cfg = parseBaselineConfig({
    learnSec: 0,
    minEvents: learnCalls,
    windowSec: 3600,
    minSyscalls: 1000,
    bufferCalls: 65_536,
  });
  const mgr = new BaselineManager(cfg);
  const det = new BaselineDetector(mgr);
  const alerts: AlertInput[] = [];
  const emit = (a: AlertInput) => void alerts.push(a);
  const learn = events(1, learnCalls);
  let t = hrms();
  for (const e of learn) det.onEvent(e, emit);
  const learnMs = hrms() - t;
  const wb = [...mgr.workloads.values()][0];
  // One more event past the learning budget closes the window and readies the baseline.
  det.tick(T0 + BigInt(learnCalls + 1) * 1000n + 3_600_000_000_000n, emit);
  row('learning: syscall events per second', fmt(learnCalls / (learnMs / 1000)));
  row(
    'state / distinct n-grams (n=6) / syscalls converged',
    `${wb.state} / ${fmt(wb.stide.size)} / ${wb.syscallConverged}`,
  );

  const score = events(2, scoreCalls).map((e) => ({ ...e, ts: (e.ts as bigint) + 7_200_000_000_000n }));
  // Warm-up, then the best of 3 passes.
  for (let i = 0; i < 200_000; i++) det.onEvent(score[i], emit);
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    t = hrms();
    for (let i = 0; i < scoreCalls; i++) det.onEvent(score[i], emit);
    best = Math.min(best, hrms() - t);
  }
  // Held syscall alerts go out on a tick: count them too.
  det.tick(T0 + 36_000_000_000_000n, emit);
  const detRate = scoreCalls / (best / 1000);
  row('scoring: syscall events per second (ready baseline)', fmt(detRate));
  row('  alerts raised on normal traffic (3 passes)', fmt(alerts.length));

  // The scorer alone (ids interned once, tids in a typed array), without the event envelope.
  const ids = new Int32Array(scoreCalls);
  const tids = new Int32Array(scoreCalls);
  for (let i = 0; i < scoreCalls; i++) {
    ids[i] = mgr.calls.of(score[i].syscall!);
    tids[i] = score[i].proc!.tid!;
  }
  let unseenCore = 0;
  let bestCore = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    t = hrms();
    for (let i = 0; i < scoreCalls; i++) if (wb.stide.score(tids[i], ids[i]).unseen) unseenCore++;
    bestCore = Math.min(bestCore, hrms() - t);
  }
  row('  STIDE scorer alone (typed arrays): calls per second', fmt(scoreCalls / (bestCore / 1000)));
  row('  unseen n-grams over the 3 passes', fmt(unseenCore));

  // Naive baseline, same events.
  const naive = new NaiveBaseline(cfg.n);
  for (const e of learn) naive.learn(e.proc!.tid!, e.syscall!.name);
  let misses = 0;
  for (let i = 0; i < 200_000; i++) if (naive.score(score[i].proc!.tid!, score[i].syscall!.name)) misses++;
  let bestNaive = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    t = hrms();
    for (let i = 0; i < scoreCalls; i++) {
      const e = score[i];
      if (naive.score(e.proc!.tid!, e.syscall!.name)) misses++;
    }
    bestNaive = Math.min(bestNaive, hrms() - t);
  }
  const naiveRate = scoreCalls / (bestNaive / 1000);
  row('naive Map<string> n-gram baseline: events per second', fmt(naiveRate));
  row('  speed-up over the naive baseline', `${(detRate / naiveRate).toFixed(1)}×`);
  row('  naive distinct n-grams / unseen n-grams scored', `${fmt(naive.set.size)} / ${fmt(misses)}`);

  // ---- memory per workload
  const gc = gcFn();
  const K = 200;
  const perWorkloadCalls = 60_000;
  const cfgK = parseBaselineConfig({
    learnSec: 0,
    minEvents: perWorkloadCalls,
    windowSec: 3600,
    bufferCalls: 65_536,
  });
  const mgrK = new BaselineManager(cfgK);
  const detK = new BaselineDetector(mgrK);
  const traces = events(3, perWorkloadCalls);
  gc();
  const before = process.memoryUsage();
  for (let k = 0; k < K; k++) {
    const c = { ...container, id: `w${k}`, image: `demo/app-${k}:1` };
    for (const e of traces) {
      e.container = c;
      detK.onEvent(e, emit);
    }
  }
  detK.tick(T0 + 7_200_000_000_000n, emit);
  gc();
  const after = process.memoryUsage();
  const measured = (after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers)) / K;
  const statuses = mgrK.list();
  const computed = statuses.reduce((s, x) => s + x.memoryBytes, 0) / statuses.length;
  const ready = statuses.filter((s) => s.state === 'ready').length;
  row(`workloads (${fmt(perWorkloadCalls)} calls each) / ready`, `${K} / ${ready}`);
  row('memory per workload, computed (KiB)', fmt(computed / 1024, 1));
  row('memory per workload, measured heap+buffers delta (KiB)', fmt(measured / 1024, 1));

  // Worst case: a workload that fills the n-gram cap.
  const big = new BaselineManager(parseBaselineConfig({ learnSec: 0, minEvents: 1, windowSec: 3600 }));
  const bigDet = new BaselineDetector(big);
  const r = rng(7);
  const bc = { ...container, id: 'big', image: 'demo/big:1' };
  for (let i = 0; i < 600_000; i++) {
    const name = NAMES[Math.floor(r() * NAMES.length)];
    bigDet.onEvent(
      {
        id: 'b',
        kind: 'syscall',
        ts: T0 + BigInt(i) * 1000n,
        source: 'bench',
        container: bc,
        proc: { tid: 1 },
        syscall: { name },
      },
      emit,
    );
  }
  bigDet.tick(T0 + 7_200_000_000_000n, emit);
  const bs = big.list()[0];
  row(`worst case at the n-gram cap (${fmt(bs.ngrams)}), computed (KiB)`, fmt(bs.memoryBytes / 1024, 1));
}
