/**
 * Live loop on real Docker and bpftrace: runs the demo (fast mode, enforce) and prints
 *  - event → alert latency p50/p99, measured from the moment the sensor delivered the event (parsed,
 *    attributed) to the alert being stored and written out;
 *  - alert → containment executed on the real dockerd (the responder's verified action), p50/max.
 * Needs root, dockerd and bpftrace (scripts/setup.sh).
 */
import { Writable } from 'node:stream';
import { runDemo } from '../src/cli/commands/demo.js';
import { fmt, percentile, row } from './util.js';

export async function run(): Promise<void> {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const lines: string[] = [];
  const err = new Writable({
    write(c: Buffer, _e, cb) {
      lines.push(
        ...c
          .toString()
          .split('\n')
          .filter((l) => /summary|false alerts|neighbour CPU|NOT AS/.test(l)),
      );
      cb();
    },
  });
  const r = await runDemo(
    'intrusion',
    {
      enforce: true,
      fast: true,
      output: 'json',
      db: ':memory:',
      learnSeconds: '15',
      learnEvents: '1500',
      normalSeconds: '10',
      rate: '10',
      victimCpus: '0.3',
      listen: '127.0.0.1:0',
      serve: false,
    },
    { out: sink, err },
  );
  const lat = [...r.alertLatencyMs].sort((a, b) => a - b);
  const cl = [...r.containmentLatencyMs].sort((a, b) => a - b);
  row('alerts in the demo', fmt(lat.length));
  row('event → alert latency p50 (ms, after sensor delivery)', fmt(percentile(lat, 50), 2));
  row('event → alert latency p99 (ms, after sensor delivery)', fmt(percentile(lat, 99), 2));
  row('event → alert latency max (ms)', fmt(lat.at(-1) ?? NaN, 2));
  row('alert → containment executed p50 (ms, real dockerd)', cl.length ? fmt(percentile(cl, 50), 0) : 'n/a');
  row('alert → containment executed max (ms)', cl.length ? fmt(cl.at(-1)!, 0) : 'n/a');
  row('containment actions executed', fmt(cl.length));
  for (const l of lines) console.log(`  ${l.trim()}`);
}
