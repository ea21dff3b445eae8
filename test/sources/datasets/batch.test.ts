/**
 * The batch paths (reader → harness → model in typed arrays) give exactly what the per-event paths
 * give: the same calls from the .sc parser, the same STIDE values, the same evaluation results.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Stide } from '../../../src/detect/anomaly/stide.js';
import { createSequenceModel } from '../../../src/detect/anomaly/sequence.js';
import { evalRecordings } from '../../../src/eval/recording-eval.js';
import { loadRecordings } from '../../../src/eval/recordings.js';
import { ScStream } from '../../../src/sources/datasets/sc-parser.js';
import type { SyscallBatch } from '../../../src/sources/datasets/types.js';
import { generateRecording, writeRecordingZip, writeScenario2021 } from '../../utils/lidds-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-batch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Interleaved calls of a few threads: mostly periodic, with rare deviations. */
function calls(seed: number, n: number): { streams: Float64Array; sys: Int32Array } {
  const streams = new Float64Array(n);
  const sys = new Int32Array(n);
  let x = seed;
  const pos = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const t = (x >>> 8) % 4;
    streams[i] = 1000 + t;
    sys[i] = (pos[t]++ % (5 + t)) + ((x >>> 12) % 53 === 0 ? 20 + ((x >>> 3) % 7) : 0);
  }
  return { streams, sys };
}

describe('batch paths', () => {
  it('STIDE batches give the per-call values with many interleaved streams (colliding in its stream cache) and resets', () => {
    // 40 thread ids, taking turns at random, so that the batch paths' cache of recent streams
    // (a few slots) keeps evicting and colliding; a reset between parts forgets every stream.
    const make = (seed: number, n: number): { streams: Float64Array; sys: Int32Array } => {
      const streams = new Float64Array(n);
      const sys = new Int32Array(n);
      let x = seed;
      const pos = new Array<number>(40).fill(0);
      for (let i = 0; i < n; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const t = (x >>> 8) % 40;
        streams[i] = 2_900_000 + t * 8;
        sys[i] = (pos[t]++ % (3 + (t % 5))) + ((x >>> 12) % 61 === 0 ? 9 : 0);
      }
      return { streams, sys };
    };
    const a = new Stide({ n: 3, L: 20 });
    const b = new Stide({ n: 3, L: 20 });
    const want: number[] = [];
    const got: number[] = [];
    for (let part = 0; part < 3; part++) {
      const train = make(11 + part, 5000);
      for (let i = 0; i < train.sys.length; i++) a.learn(train.streams[i], train.sys[i]);
      for (let o = 0; o < train.sys.length; o += 777)
        b.learnBatch(train.streams.subarray(o), train.sys.subarray(o), Math.min(777, train.sys.length - o));
      const test = make(21 + part, 5000);
      for (let i = 0; i < test.sys.length; i++)
        want.push(a.score(test.streams[i], test.sys[i]).unseen ? 1 : 0);
      const out = new Float64Array(test.sys.length);
      for (let o = 0; o < test.sys.length; o += 613)
        b.scoreBatch(
          test.streams.subarray(o),
          test.sys.subarray(o),
          Math.min(613, test.sys.length - o),
          out.subarray(o),
        );
      got.push(...out);
      a.resetStreams();
      b.resetStreams();
    }
    expect(b.size).toBe(a.size);
    expect(want.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
    expect(got).toEqual(want);
  });

  it('STIDE learnBatch/scoreBatch give the values and stream state of learn/score', () => {
    const train = calls(7, 20_000);
    const test = calls(8, 20_000);
    const a = new Stide({ n: 4, L: 50, initialCapacity: 16 });
    const b = new Stide({ n: 4, L: 50, initialCapacity: 16 });
    for (let i = 0; i < train.sys.length; i++) a.learn(train.streams[i], train.sys[i]);
    // Uneven batch sizes, so that streams and n-grams straddle batch boundaries.
    for (let o = 0, k = 1; o < train.sys.length; o += k, k = (k * 7) % 997) {
      const m = Math.min(k, train.sys.length - o);
      b.learnBatch(train.streams.subarray(o), train.sys.subarray(o), m);
    }
    expect(b.size).toBe(a.size);
    expect(b.toJSON().count).toBe(a.toJSON().count);
    const want = new Uint8Array(test.sys.length);
    for (let i = 0; i < test.sys.length; i++) want[i] = a.score(test.streams[i], test.sys[i]).unseen ? 1 : 0;
    const got = new Uint8Array(test.sys.length);
    for (let o = 0, k = 3; o < test.sys.length; o += k, k = (k * 5) % 1009) {
      const m = Math.min(k, test.sys.length - o);
      b.scoreBatch(test.streams.subarray(o), test.sys.subarray(o), m, got.subarray(o));
    }
    expect(want.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
    expect(Array.from(got)).toEqual(Array.from(want));
    for (const s of [1000, 1001, 1002, 1003]) expect(b.explain(s)).toEqual(a.explain(s));
  });

  it('the sequence models give the same instant values per batch as per call', () => {
    const train = calls(3, 5000);
    const test = calls(4, 5000);
    for (const name of ['stide', 'ngram-lm']) {
      const a = createSequenceModel(name, { n: '3', L: '20' }, 64);
      const b = createSequenceModel(name, { n: '3', L: '20' }, 64);
      for (let i = 0; i < train.sys.length; i++) a.learn(train.streams[i], train.sys[i]);
      b.learnBatch(train.streams, train.sys, train.sys.length);
      const want = Array.from(test.sys, (s, i) => a.instant(test.streams[i], s));
      const out = new Float64Array(test.sys.length);
      b.instantBatch(test.streams, test.sys, test.sys.length, out);
      expect(Array.from(out)).toEqual(want);
    }
  });

  it('the .sc parser hands the same calls in batches as per event, up to a malformed line', () => {
    const r = generateRecording(9, 200, true);
    const lines = [...r.lines];
    lines.splice(40, 0, '', '1631078867000000000 33 1 p 1 a_rather_long_system_call_name > x');
    lines[300] = 'garbage line';
    const text = Buffer.from(lines.join('\n') + '\n');
    const events: string[] = [];
    let evErr: unknown;
    const ev = new ScStream('f.sc', (e) => events.push(`${e.tsNs} ${e.tid} ${e.name} ${e.dir}`));
    const batched: string[] = [];
    let batchErr: unknown;
    const sizes: number[] = [];
    const bs = new ScStream(
      'f.sc',
      () => {
        throw new Error('no event in batch mode');
      },
      (b: SyscallBatch) => {
        sizes.push(b.n);
        for (let i = 0; i < b.n; i++) {
          const id = b.nameIds[i];
          const name = id >= 0 ? b.names[id] : b.extra[~id];
          batched.push(`${b.tsNs[i]} ${b.tids[i]} ${name} ${b.dirs[i] === 62 ? '>' : '<'}`);
        }
      },
      64,
    );
    for (const [sp, set] of [
      [ev, (e: unknown) => (evErr = e)],
      [bs, (e: unknown) => (batchErr = e)],
    ] as const) {
      try {
        for (let i = 0; i < text.length; i += 7000) sp.push(text.subarray(i, i + 7000));
        sp.end();
      } catch (e) {
        set(e);
      }
    }
    // 301 lines before the bad one, one of them blank.
    expect(events.length).toBe(299);
    expect(batched).toEqual(events);
    expect(Math.max(...sizes)).toBe(64);
    expect((batchErr as Error).message).toBe((evErr as Error).message);
    expect((batchErr as Error).message).toMatch(/f\.sc:301: malformed/);
  });

  it('the LID-DS protocol gives identical results read in batches and per event', async () => {
    const root = join(tmp, 'eval');
    const s = writeScenario2021(root, 'S');
    const bad = generateRecording(52, 40, false);
    const badLines = [...bad.lines];
    badLines[25] = 'garbage line';
    writeRecordingZip(join(s, 'test', 'normal'), 'badline', bad, { scText: badLines.join('\n') + '\n' });
    // A validation recording that fails after some of its calls were scored.
    const badVal = generateRecording(53, 40, false);
    const valLines = [...badVal.lines];
    valLines[60] = '1631078867000000000 33 1 p x open >';
    writeRecordingZip(join(s, 'validation'), 'badval', badVal, { scText: valLines.join('\n') + '\n' });
    const cases: Record<string, string>[] = [
      { n: '3', L: '10', threshold: 'max' },
      { n: '4', L: '25', threshold: 'q0.99', dir: 'both', threadAware: 'false' },
    ];
    for (const params of cases) {
      const scenarios = await loadRecordings('lidds2021', root, params, []);
      const opts = {
        dataset: 'lidds2021',
        algos: ['stide', 'ngram-lm', 'flag-everything'],
        params,
        timelines: 3,
      };
      const batched = await evalRecordings(scenarios, opts);
      const perEvent = await evalRecordings(scenarios, { ...opts, perEvent: true });
      expect(batched.output.skipped.length).toBe(2);
      expect(batched.output.algorithms[0].scenarios[0].dr).toBe(1);
      expect(batched.timelines.length).toBeGreaterThan(0);
      expect(batched).toEqual(perEvent);
    }
  });
});
