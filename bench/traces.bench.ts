/**
 * Traces: the Nezha trace reader and the trace model on the published TrainTicket day (all its
 * trace files), and the quantile sketch. Baselines in the same run: gunzip + line split of the same
 * files (the floor any CSV reader pays), and, for the sketch, writing the values into a typed array
 * (the cheapest way to keep them for exact quantiles).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { minuteFiles } from '../src/sources/datasets/nezha-files.js';
import { newReadStats, readNezhaSpans } from '../src/sources/datasets/nezha-traces.js';
import { readNezhaLogs } from '../src/sources/datasets/nezha-logs.js';
import { TraceModel } from '../src/detect/traces/model.js';
import { QuantileSketch } from '../src/detect/traces/sketch.js';
import { datasetPath } from '../src/util/datasets.js';
import { existsSync } from 'node:fs';
import { fmt, hrms, row } from './util.js';

async function gunzipLines(files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) {
    const rl = createInterface({ input: createReadStream(f).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const _ of rl) n++;
  }
  return n - files.length; // headers
}

export async function run(): Promise<void> {
  const day = datasetPath('nezha-trainticket', '2023-01-29');
  if (existsSync(day)) {
    const files = minuteFiles(day, 'trace');
    let t0 = hrms();
    const lines = await gunzipLines(files);
    const base = hrms() - t0;
    const stats = newReadStats();
    t0 = hrms();
    let spans = 0;
    const traces = new Set<string>();
    for await (const s of readNezhaSpans(day, { stats })) {
      spans++;
      traces.add(s.traceId);
    }
    const read = hrms() - t0;
    // A minute file is grouped by trace, not sorted by start (spans up to ~60 s out of order): a
    // replay lets traces stay open 90 s, where a live receiver's default is 30 s.
    const model = new TraceModel({ traceIdleNs: 90_000_000_000n });
    let windows = 0;
    let ops = 0;
    let edges = 0;
    model.onWindow((w) => {
      windows++;
      ops += w.operations.size;
      edges += w.serviceEdges.size;
    });
    t0 = hrms();
    let last = 0n;
    for await (const s of readNezhaSpans(day)) {
      model.add(s);
      // The event clock as a live engine would move it: a tick per second of span time.
      if (s.startNs - last > 1_000_000_000n) {
        model.advance(s.startNs);
        last = s.startNs;
      }
    }
    model.flush();
    const modelled = hrms() - t0;
    const ms = model.stats();
    row('Nezha 2023-01-29 trace files', `${stats.files} files, ${fmt(lines)} rows`);
    row(
      'spans read / duplicates skipped / malformed',
      `${fmt(stats.rows)} / ${fmt(stats.duplicates)} / ${stats.malformed}`,
    );
    row('traces', fmt(traces.size));
    row('gunzip + split (baseline)', `${fmt(base)} ms, ${fmt(lines / (base / 1000))} rows/s`);
    row(
      'read spans',
      `${fmt(read)} ms, ${fmt(spans / (read / 1000))} spans/s, ${(read / base).toFixed(2)}× baseline`,
    );
    row(
      'read + trace model',
      `${fmt(modelled)} ms, ${fmt(spans / (modelled / 1000))} spans/s, ${(modelled / base).toFixed(2)}× baseline`,
    );
    row(
      'model: links / orphans / late / dropped',
      `${fmt(ms.links)} / ${fmt(ms.orphans)} / ${ms.late} / ${ms.dropped}`,
    );
    row(
      'model: windows, mean operations, mean service edges',
      `${windows}, ${(ops / windows).toFixed(1)}, ${(edges / windows).toFixed(1)}`,
    );
    const logFiles = minuteFiles(day, 'log');
    t0 = hrms();
    const logLines = await gunzipLines(logFiles);
    const logBase = hrms() - t0;
    const logStats = newReadStats();
    const pods = new Set<string>();
    let withTrace = 0;
    t0 = hrms();
    for await (const l of readNezhaLogs(day, { stats: logStats })) {
      pods.add(l.pod);
      if (l.traceId) withTrace++;
    }
    const logRead = hrms() - t0;
    row('Nezha 2023-01-29 log files', `${logStats.files} files, ${fmt(logLines)} lines`);
    row(
      'log lines read / malformed / timed by Timestamp',
      `${fmt(logStats.rows)} / ${logStats.malformed} / ${logStats.timeFromTimestamp}`,
    );
    row('log lines naming a trace, pods', `${fmt(withTrace)}, ${pods.size}`);
    row('gunzip + split (baseline)', `${fmt(logBase)} ms, ${fmt(logLines / (logBase / 1000))} lines/s`);
    row(
      'read log lines (CSV, JSON wrapper removed)',
      `${fmt(logRead)} ms, ${fmt(logStats.rows / (logRead / 1000))} lines/s, ${(logRead / logBase).toFixed(2)}× baseline`,
    );
  } else console.log(`(Nezha day not found at ${day}: reader figures skipped)`);

  const N = 2_000_000;
  const xs = new Float64Array(N);
  let seed = 1;
  for (let i = 0; i < N; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    xs[i] = 1e3 * Math.exp(12 * (seed / 2 ** 31)); // 1 µs .. 160 ms, log-uniform
  }
  let best = Infinity;
  const keep = new Float64Array(N);
  for (let rep = 0; rep < 3; rep++) {
    const t = hrms();
    for (let i = 0; i < N; i++) keep[i] = xs[i];
    best = Math.min(best, hrms() - t);
  }
  let sk = Infinity;
  let sketch = new QuantileSketch();
  for (let rep = 0; rep < 3; rep++) {
    sketch = new QuantileSketch();
    const t = hrms();
    for (let i = 0; i < N; i++) sketch.add(xs[i]);
    sk = Math.min(sk, hrms() - t);
  }
  row(
    'sketch add (α 1 %)',
    `${fmt(N / (sk / 1000))} values/s, ${(sk / best).toFixed(1)}× a typed-array copy; ${sketch.buckets} buckets (${sketch.buckets * 4} bytes) vs ${N * 8} bytes kept`,
  );
}
