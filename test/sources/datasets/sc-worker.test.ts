import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readScBatchesInThread } from '../../../src/sources/datasets/lidds2021.js';
import { MAX_IN_FLIGHT, ScWorkerHost } from '../../../src/sources/datasets/sc-worker-client.js';
import type { SyscallBatch } from '../../../src/sources/datasets/types.js';
import { generateRecording, makeZip, writeRecordingZip } from '../../utils/lidds-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-scworker-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** One worker for the whole file, as one reader keeps it for a whole evaluation. */
const host = new ScWorkerHost();
afterAll(() => host.close());

/** Every call of a read as [name, tid, ts, dir] rows. */
function collector(): { rows: [string, number, number, number][]; onBatch: (b: SyscallBatch) => void } {
  const rows: [string, number, number, number][] = [];
  return {
    rows,
    onBatch: (b) => {
      for (let i = 0; i < b.n; i++) {
        const id = b.nameIds[i];
        rows.push([id >= 0 ? b.names[id] : b.extra[~id], b.tids[i], b.tsNs[i], b.dirs[i]]);
      }
    },
  };
}

describe('.sc reader worker thread', () => {
  it('starts here and hands over exactly the calls the in-thread reader gives, recording after recording', async () => {
    const w = await host.worker();
    expect(w, 'the reader worker could not start').not.toBeNull();
    for (const [seed, lines, exploit] of [
      [31, 3000, false],
      [32, 2000, true],
    ] as const) {
      const rec = generateRecording(seed, lines, exploit);
      writeRecordingZip(tmp, `r${seed}`, rec);
      const path = join(tmp, `r${seed}.zip`);
      const a = collector();
      const b = collector();
      const before = w!.stats.batches;
      const ra = await w!.read(path, a.onBatch);
      const rb = await readScBatchesInThread(path, b.onBatch);
      expect(w!.stats.batches).toBeGreaterThan(before);
      expect(ra).toEqual(rb);
      expect(a.rows.length).toBe(rec.lines.length);
      expect(a.rows).toEqual(b.rows);
    }
  });

  it('keeps at most a bounded number of batches in flight when the consumer is slow', async () => {
    const w = (await host.worker())!;
    writeRecordingZip(tmp, 'big', generateRecording(33, 15_000, false));
    let n = 0;
    await w.read(join(tmp, 'big.zip'), (b) => {
      n += b.n;
      // A consumer far slower than the parser (even a cold one on a loaded machine): the worker
      // runs ahead until the bound stops it.
      const until = Date.now() + 25;
      while (Date.now() < until);
    });
    expect(n).toBeGreaterThan(200_000);
    expect(w.stats.maxInFlight).toBeGreaterThan(1);
    expect(w.stats.maxInFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);
  });

  it('rejects with the file and line of a malformed line after handing over the calls before it', async () => {
    const w = (await host.worker())!;
    const lines = generateRecording(34, 2000, false).lines;
    lines.splice(20_000, 0, 'not a system call line');
    const text = Buffer.from(lines.join('\n') + '\n');
    const path = join(tmp, 'bad.zip');
    writeFileSync(path, makeZip([{ name: 'bad.sc', data: text }]));
    const got = collector();
    const err = await w.read(path, got.onBatch).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.name).toBe('DatasetError');
    expect(err?.message).toMatch(/bad\.zip:bad\.sc:20001: malformed \.sc line/);
    expect(got.rows.length).toBe(20_000);
  });

  it("rejects with the consumer's own error when it throws, and the next read works", async () => {
    const w = (await host.worker())!;
    writeRecordingZip(tmp, 'c', generateRecording(35, 3000, false));
    const path = join(tmp, 'c.zip');
    let calls = 0;
    await expect(
      w.read(path, () => {
        if (++calls === 2) throw new Error('consumer failed');
      }),
    ).rejects.toThrow('consumer failed');
    const again = collector();
    const r = await w.read(path, again.onBatch);
    expect(again.rows.length).toBe(r.lines);
  });
});

describe('.sc reader worker thread, reading ahead', () => {
  it('reads the next recording while the consumer works, and hands it over whole and in order', async () => {
    const w = (await host.worker())!;
    const paths = [40, 41, 42].map((seed) => {
      writeRecordingZip(tmp, `ahead${seed}`, generateRecording(seed, 4000, seed === 42));
      return join(tmp, `ahead${seed}.zip`);
    });
    const got = [collector(), collector(), collector()];
    const r0 = await w.read(paths[0], got[0].onBatch, paths[1]);
    // Nothing reads the second recording yet: the worker has started on it anyway.
    const before = w.stats.batches;
    const deadline = Date.now() + 10_000;
    while (w.stats.batches === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(w.stats.batches).toBeGreaterThan(before);
    const r1 = await w.read(paths[1], got[1].onBatch, paths[2]);
    const r2 = await w.read(paths[2], got[2].onBatch);
    for (const [i, r] of [r0, r1, r2].entries()) {
      const ref = collector();
      expect(r).toEqual(await readScBatchesInThread(paths[i], ref.onBatch));
      expect(got[i].rows).toEqual(ref.rows);
    }
  });

  it('drops a recording read ahead and never read, without stalling the next read', async () => {
    const w = (await host.worker())!;
    // More calls than the batches in flight can hold: the worker stops on the bound until it is dropped.
    writeRecordingZip(tmp, 'unread', generateRecording(43, 15_000, false));
    writeRecordingZip(tmp, 'small', generateRecording(44, 1000, false));
    const small = join(tmp, 'small.zip');
    await w.read(small, () => {}, join(tmp, 'unread.zip'));
    await new Promise((r) => setTimeout(r, 200));
    const got = collector();
    const r = await w.read(small, got.onBatch);
    expect(got.rows.length).toBe(r.lines);
    // And the worker still serves every later read.
    const again = collector();
    expect((await w.read(small, again.onBatch)).lines).toBe(r.lines);
  });

  it("gives a recording read ahead its own error, after the calls before the bad line, or the consumer's", async () => {
    const w = (await host.worker())!;
    const lines = generateRecording(45, 2000, false).lines;
    lines.splice(20_000, 0, 'not a system call line');
    const bad = join(tmp, 'ahead-bad.zip');
    writeFileSync(bad, makeZip([{ name: 'bad.sc', data: Buffer.from(lines.join('\n') + '\n') }]));
    writeRecordingZip(tmp, 'ahead-ok', generateRecording(46, 1000, false));
    const ok = join(tmp, 'ahead-ok.zip');
    await w.read(ok, () => {}, bad);
    // Let the read ahead run to its error before anyone reads it.
    await new Promise((r) => setTimeout(r, 300));
    const got = collector();
    const err = await w.read(bad, got.onBatch, ok).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/ahead-bad\.zip:bad\.sc:20001: malformed \.sc line/);
    expect(got.rows.length).toBe(20_000);
    // The consumer of a recording read ahead fails: that read rejects with its error, the next works.
    await expect(
      w.read(ok, () => {
        throw new Error('consumer failed');
      }),
    ).rejects.toThrow('consumer failed');
    const again = collector();
    expect((await w.read(ok, again.onBatch)).lines).toBe(again.rows.length);
  });
});
