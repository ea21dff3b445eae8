/**
 * Training and scoring throughput per model, end to end (read the zips, learn the training
 * recordings, threshold on validation, score the test recordings: the whole LID-DS protocol) on a
 * generated scenario, and the models' own hot loops on in-memory call streams.
 * Reference: a plain Python STIDE (as the LID-DS framework's) on the same zips, run in the same
 * process's turn: Vigie's runs and Python's alternate, five pairs. The target is ≥ 10× Python per
 * CPU second (every thread of Vigie's process counted: getrusage; Python's process time), which a
 * machine shared with other work disturbs less than wall-clock time. One model runs on one thread
 * (inflate, parse, learn, score); the first run in the process includes the JIT's warm-up and is
 * given apart. Decompression alone is measured by every inflater that could serve the reader.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { inflateSync as fflateInflateSync } from 'fflate';
import { inflateRaw as pakoInflateRaw } from 'pako';
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

/**
 * Decompression alone (nothing parsed) on the scenario's .sc entries, in ns of CPU per line (the
 * median of five passes over every zip), by each inflater that could serve the reader: Node's zlib
 * driven on the reading thread into one reused buffer (the reader's path), Node's zlib stream
 * (thread pool, the fallback), Node's zlib on a whole entry at once, and the pure JavaScript
 * inflaters fflate and pako on a whole entry (their fastest mode here).
 */
async function inflaters(scenario: string, lines: number): Promise<void> {
  const zips = listLidDs2021(scenario);
  const entries = zips.map((z) => {
    const b = readFileSync(z.path);
    // The .sc is the zip's first entry (the generator writes it first): its local header.
    const start = 30 + b.readUInt16LE(26) + b.readUInt16LE(28);
    return b.subarray(start, start + b.readUInt32LE(18));
  });
  const ways: [string, () => Promise<void> | void][] = [
    [
      'node:zlib on the reading thread, reused buffer (reader)',
      async () => {
        for (const z of zips) await inflateScOnly(z.path, 'in-thread');
      },
    ],
    [
      'node:zlib stream, thread pool (fallback)',
      async () => {
        for (const z of zips) await inflateScOnly(z.path, 'stream');
      },
    ],
    [
      'node:zlib inflateRawSync, whole entry',
      () => {
        for (const e of entries) inflateRawSync(e, { chunkSize: 1 << 20 });
      },
    ],
    [
      'fflate 0.8.3 inflateSync, whole entry',
      () => {
        for (const e of entries) fflateInflateSync(e);
      },
    ],
    [
      'pako 3.0.3 inflateRaw, whole entry',
      () => {
        for (const e of entries) pakoInflateRaw(e);
      },
    ],
  ];
  const ns: number[][] = ways.map(() => []);
  for (let pass = 0; pass < 5; pass++) {
    for (let w = 0; w < ways.length; w++) {
      const c0 = process.cpuUsage();
      await ways[w][1]();
      const c = process.cpuUsage(c0);
      ns[w].push(((c.user + c.system) * 1000) / lines);
    }
  }
  for (let w = 0; w < ways.length; w++) {
    const o = [...ns[w]].sort((a, b) => a - b);
    row(
      `inflate alone: ${ways[w][0]}`,
      `${o[2].toFixed(0)} ns CPU per line (${o[0].toFixed(0)}–${o[4].toFixed(0)})`,
    );
  }
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
    // CPU time is the process's (getrusage: every thread of it, zlib's and the JIT's included);
    // Python's is its own process time.
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
    const median = (xs: number[]): number => {
      const o = [...xs].sort((a, b) => a - b);
      return o.length % 2 ? o[o.length >> 1] : (o[o.length / 2 - 1] + o[o.length / 2]) / 2;
    };
    const range = (xs: number[], f: (x: number) => string): string =>
      `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
    // The first run in the process includes the JIT's warm-up, as a short evaluation would.
    const first = await evaluate('stide');
    row(
      'stide: LID-DS protocol end to end, first run in the process',
      `${fmt(first.rate)} calls/s (${fmt(first.cpuRate)} per CPU s)`,
    );
    // The same protocol in plain Python (zipfile, str.split, a set of tuples, per-thread deques),
    // as the LID-DS framework does it, on the same zips. Vigie's runs and Python's alternate, and
    // each ratio compares two runs made seconds apart, so that a shared machine's changing speed
    // weighs on both sides alike.
    const python = (): { rate: number; cpuRate: number } | string => {
      const py = spawnSync('python3', ['-c', PY_STIDE, s], { encoding: 'utf8' });
      if (py.status !== 0) return `failed: ${py.stderr.slice(0, 200)}`;
      const [rate, cpuRate] = py.stdout.trim().split(/\s+/).map(Number);
      return { rate, cpuRate };
    };
    const PAIRS = 5;
    const stide: { rate: number; cpuRate: number }[] = [];
    const pys: ({ rate: number; cpuRate: number } | string)[] = [];
    const loads: number[] = [];
    for (let k = 0; k < PAIRS; k++) {
      loads.push(loadavg()[0]);
      stide.push(await evaluate('stide'));
      pys.push(python());
    }
    row(
      `stide: LID-DS protocol end to end, ${PAIRS} runs (read+train+score, one thread)`,
      `median ${fmt(median(stide.map((r) => r.rate)))} calls/s (${range(
        stide.map((r) => r.rate),
        fmt,
      )}); per CPU s median ${fmt(median(stide.map((r) => r.cpuRate)))} (${range(
        stide.map((r) => r.cpuRate),
        fmt,
      )})`,
    );
    row('load average (1 min) at each pair', loads.map((l) => l.toFixed(1)).join(', '));
    const lm = await evaluate('ngram-lm');
    row('ngram-lm: LID-DS protocol end to end (read+train+score)', `${fmt(lm.rate)} calls/s`);
    const failed = pys.find((p) => typeof p === 'string');
    if (failed === undefined) {
      const py = pys as { rate: number; cpuRate: number }[];
      const pyCpuRate = median(py.map((p) => p.cpuRate));
      row(
        'Python STIDE, same protocol, same zips, this run',
        `median ${fmt(median(py.map((p) => p.rate)))} calls/s (${range(
          py.map((p) => p.rate),
          fmt,
        )}); per CPU s median ${fmt(pyCpuRate)} (${range(
          py.map((p) => p.cpuRate),
          fmt,
        )})`,
      );
      const ratios = stide.map((v, k) => v.rate / py[k].rate);
      const cpuRatios = stide.map((v, k) => v.cpuRate / py[k].cpuRate);
      const x = (r: number): string => `${r.toFixed(1)}×`;
      row(
        'Vigie STIDE / Python STIDE per CPU s, pair by pair (target ≥ 10×)',
        `${cpuRatios.map(x).join(', ')}: median ${x(median(cpuRatios))}`,
      );
      row(
        'Vigie STIDE / Python STIDE wall-clock, pair by pair',
        `${ratios.map(x).join(', ')}: median ${x(median(ratios))}`,
      );
      row(
        'Vigie CPU per call, every thread (10× Python per CPU s allows)',
        `${(1e9 / median(stide.map((r) => r.cpuRate))).toFixed(0)} ns (${(1e9 / (10 * pyCpuRate)).toFixed(0)} ns)`,
      );
      await inflaters(s, lines);
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
