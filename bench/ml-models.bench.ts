/**
 * Training and scoring throughput per model, end to end (read the zips, learn the training
 * recordings, threshold on validation, score the test recordings: the whole LID-DS protocol) on a
 * generated scenario, and the models' own hot loops on in-memory call streams.
 * Reference: the LID-DS framework's Python STIDE reads, trains and scores 150,000–430,000 calls/s
 * on this machine; the target is ≥ 10× that (≥ 4,300,000 calls/s against the upper figure).
 * STIDE's end-to-end run is repeated three times in the process: the first run includes the JIT's
 * warm-up and the reader thread's start (as a short evaluation would), the median is the steady
 * rate of a long one. Vigie reads the recordings on a worker thread (inflate + parse) while the
 * models run on the main one; the same protocol with everything on one thread
 * (VIGIE_READ_WORKER=0) is measured too. Rates are also given per CPU second (this process, every
 * thread included; Python's process time), which a machine shared with other work disturbs less
 * than wall-clock time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NgramLm } from '../src/detect/anomaly/ngram-lm.js';
import { Stide } from '../src/detect/anomaly/stide.js';
import { runEvaluation } from '../src/eval/run.js';
import { listAdfa, readAdfaTrace } from '../src/sources/datasets/adfa.js';
import { inflateScOnly, listLidDs2021 } from '../src/sources/datasets/lidds2021.js';
import { datasetPath } from '../src/util/datasets.js';
import { generateRecording, writeRecordingZip } from '../test/utils/lidds-fixture.js';
import { fmt, hrms, row } from './util.js';

const PY_STIDE = `
import sys, os, zipfile, io, time, collections
root = sys.argv[1]
n, L = 7, 1000
t0 = time.perf_counter()
def recs(sub):
    d = os.path.join(root, sub)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith('.zip')]
def calls(path):
    with zipfile.ZipFile(path) as z:
        name = [x for x in z.namelist() if x.endswith('.sc')][0]
        with z.open(name) as f:
            for line in io.TextIOWrapper(f, encoding='latin-1'):
                p = line.split(' ', 7)
                if len(p) < 7: continue
                yield p[4], p[5]
seen = set(); total = 0
for r in recs('training'):
    win = collections.defaultdict(lambda: collections.deque(maxlen=n))
    for tid, sc in calls(r):
        total += 1
        w = win[tid]; w.append(sc)
        if len(w) == n: seen.add(tuple(w))
def score(r):
    global total
    win = collections.defaultdict(lambda: collections.deque(maxlen=n))
    miss = collections.defaultdict(lambda: collections.deque(maxlen=L))
    cnt = collections.Counter(); best = 0.0
    for tid, sc in calls(r):
        total += 1
        w = win[tid]; w.append(sc)
        if len(w) < n: continue
        m = 0 if tuple(w) in seen else 1
        q = miss[tid]
        if len(q) == L: cnt[tid] -= q[0]
        q.append(m); cnt[tid] += m
        s = cnt[tid] / L
        if s > best: best = s
    return best
thr = max(score(r) for r in recs('validation'))
for sub in ('test/normal', 'test/normal_and_attack'):
    for r in recs(sub): score(r) > thr
print(total / (time.perf_counter() - t0), total / time.process_time())
`;

/** Newest modification time of the .ts files under `dir` (the dashboard's sources aside). */
function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'app') t = Math.max(t, newestSource(p));
    } else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * `runEvaluation` as `vigie eval` runs it: from the build in dist/ (scripts/setup.sh, npm run build)
 * when it is newer than every source file, else from src/ through tsx's on-the-fly transform,
 * which is slower and is said so in the output.
 */
async function evaluationCode(): Promise<{ run: typeof runEvaluation; what: string }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const built = join(root, 'dist', 'eval', 'run.js');
  if (!existsSync(built)) return { run: runEvaluation, what: 'src/ through tsx (no build in dist/)' };
  if (statSync(built).mtimeMs < newestSource(join(root, 'src')))
    return { run: runEvaluation, what: 'src/ through tsx (dist/ is older than src/; npm run build)' };
  const mod = (await import(pathToFileURL(built).href)) as { runEvaluation: typeof runEvaluation };
  return { run: mod.runEvaluation, what: 'dist/, the build that vigie runs' };
}

export async function run(): Promise<void> {
  row(
    'load average (2 cores, shared)',
    (await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  );
  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-'));
  try {
    const s = join(dir, 'scenario');
    let seed = 1;
    let lines = 0;
    const add = (sub: string, name: string, exploit: boolean): void => {
      const r = generateRecording(seed++, 25_000, exploit);
      lines += r.lines.length;
      writeRecordingZip(join(s, sub), name, r);
    };
    for (let i = 0; i < 4; i++) add('training', `t${i}`, false);
    for (let i = 0; i < 2; i++) add('validation', `v${i}`, false);
    for (let i = 0; i < 2; i++) add(join('test', 'normal'), `n${i}`, false);
    for (let i = 0; i < 2; i++) add(join('test', 'normal_and_attack'), `a${i}`, true);
    row('generated scenario', `10 recordings, ${fmt(lines)} lines (enter + exit)`);
    const code = await evaluationCode();
    row('evaluation code measured', code.what);
    const evaluate = async (algo: string): Promise<{ rate: number; cpuRate: number }> => {
      const c0 = process.cpuUsage();
      const t0 = hrms();
      await code.run({
        dataset: 'lidds2021',
        data: s,
        algos: [algo],
        params: { dir: 'both' },
        noTrivial: true,
      });
      const ms = hrms() - t0;
      const c = process.cpuUsage(c0);
      return { rate: lines / (ms / 1000), cpuRate: lines / ((c.user + c.system) / 1e6) };
    };
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1];
    process.env.VIGIE_READ_WORKER = '0';
    const one = [await evaluate('stide'), await evaluate('stide'), await evaluate('stide')];
    delete process.env.VIGIE_READ_WORKER;
    const oneSteady = median(one.map((r) => r.rate));
    const oneCpu = median(one.map((r) => r.cpuRate));
    row(
      'stide: LID-DS protocol end to end, one thread',
      `median of 3 ${fmt(oneSteady)} calls/s (${fmt(oneCpu)} per CPU s)`,
    );
    // The same protocol in plain Python (zipfile, str.split, a set of tuples, per-thread deques),
    // as the LID-DS framework does it, on the same zips. Vigie's runs and Python's alternate, three
    // times, and each ratio compares two runs made seconds apart, so that a shared machine's
    // changing speed weighs on both sides alike.
    const python = (): { rate: number; cpuRate: number } | string => {
      const py = spawnSync('python3', ['-c', PY_STIDE, s], { encoding: 'utf8' });
      if (py.status !== 0) return `failed: ${py.stderr.slice(0, 200)}`;
      const [rate, cpuRate] = py.stdout.trim().split(/\s+/).map(Number);
      return { rate, cpuRate };
    };
    const stide: { rate: number; cpuRate: number }[] = [];
    const pys: ({ rate: number; cpuRate: number } | string)[] = [];
    for (let k = 0; k < 3; k++) {
      stide.push(await evaluate('stide'));
      pys.push(python());
    }
    const first = stide[0];
    const steady = median(stide.map((r) => r.rate));
    const steadyCpu = median(stide.map((r) => r.cpuRate));
    row(
      'stide: LID-DS protocol end to end, reader thread (read+train+score)',
      `first run ${fmt(first.rate)} calls/s, median of 3 ${fmt(steady)} calls/s (${fmt(steadyCpu)} per CPU s)`,
    );
    const lm = await evaluate('ngram-lm');
    row('ngram-lm: LID-DS protocol end to end (read+train+score)', `${fmt(lm.rate)} calls/s`);
    const failed = pys.find((p) => typeof p === 'string');
    if (failed === undefined) {
      const py = pys as { rate: number; cpuRate: number }[];
      const pyRate = median(py.map((p) => p.rate));
      const pyCpuRate = median(py.map((p) => p.cpuRate));
      row(
        'Python STIDE, same protocol, same zips, this run',
        `median of 3 ${fmt(pyRate)} calls/s (${fmt(pyCpuRate)} per CPU s), runs ${py.map((p) => fmt(p.rate)).join(', ')}`,
      );
      const ratios = stide.map((v, k) => v.rate / py[k].rate);
      const cpuRatios = stide.map((v, k) => v.cpuRate / py[k].cpuRate);
      row(
        'Vigie STIDE / Python STIDE, run by run (target ≥ 10×)',
        `${ratios.map((r) => `${r.toFixed(1)}×`).join(', ')} (the first with the reader thread's start): median ${median(ratios).toFixed(1)}×, per CPU s ${median(cpuRatios).toFixed(1)}×; one thread ${(oneSteady / pyRate).toFixed(1)}×`,
      );
      // Decompression alone (the reader's own zlib path, nothing parsed), on the same zips: a
      // cost every reader pays, Python's included, and a floor under Vigie's CPU time per line.
      const zips = listLidDs2021(s);
      const c0 = process.cpuUsage();
      const t0 = hrms();
      let bytes = 0;
      for (const z of zips) bytes += (await inflateScOnly(z.path)).bytes;
      const ms = hrms() - t0;
      const c = process.cpuUsage(c0);
      const nsPerLine = ((c.user + c.system) * 1000) / lines;
      row(
        'inflate alone (node:zlib, reader path), same zips',
        `${fmt(lines / (ms / 1000))} lines/s, ${nsPerLine.toFixed(0)} ns CPU per line (${fmt(bytes / lines)} bytes per line); 10× Python per CPU s leaves ${(1e9 / (10 * pyCpuRate)).toFixed(0)} ns per line for everything`,
      );
    } else row('Python STIDE reference', failed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Hot loops alone, on real system-call structure: every ADFA-LD trace (2.7M calls) when the data
  // set is present, else a generated periodic stream with rare deviations.
  let calls: Int32Array;
  let what: string;
  const adfaDir = datasetPath('adfa-ld');
  if (existsSync(adfaDir)) {
    const traces = listAdfa(adfaDir).map((t) => readAdfaTrace(t.path));
    calls = new Int32Array(traces.reduce((a, t) => a + t.length, 0));
    let o = 0;
    for (const t of traces) {
      calls.set(t, o);
      o += t.length;
    }
    what = `ADFA-LD, all ${fmt(traces.length)} traces`;
  } else {
    calls = new Int32Array(3_000_000);
    let x = 12345;
    for (let i = 0; i < calls.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      calls[i] = (i % 9) * 3 + ((x >>> 8) % 97 === 0 ? (x >>> 12) % 30 : 0);
    }
    what = 'generated stream';
  }
  const N = calls.length;
  row('hot-loop input', `${what}: ${fmt(N)} calls`);
  const stide = new Stide({ n: 7, L: 1000 });
  let t0 = hrms();
  for (let i = 0; i < N; i++) stide.learn(0, calls[i]);
  let ms = hrms() - t0;
  row(
    'STIDE n=7 learn',
    `${fmt(N / (ms / 1000))} calls/s (${fmt(stide.size)} n-grams, ${fmt(stide.memoryBytes() / 1024)} KiB)`,
  );
  t0 = hrms();
  let acc = 0;
  for (let i = 0; i < N; i++) acc += stide.score(0, calls[i]).ratio;
  ms = hrms() - t0;
  row('STIDE n=7 L=1000 score', `${fmt(N / (ms / 1000))} calls/s (checksum ${acc.toFixed(0)})`);
  const lm = new NgramLm({ n: 6, V: 512 });
  t0 = hrms();
  for (let i = 0; i < N; i++) lm.learn(0, calls[i]);
  ms = hrms() - t0;
  row('n-gram LM n=6 learn', `${fmt(N / (ms / 1000))} calls/s (${fmt(lm.memoryBytes() / 1024)} KiB)`);
  t0 = hrms();
  acc = 0;
  for (let i = 0; i < N; i++) acc += lm.score(0, calls[i]);
  ms = hrms() - t0;
  row('n-gram LM n=6 score', `${fmt(N / (ms / 1000))} calls/s`);
}
