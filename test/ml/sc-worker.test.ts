import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readScBatchesInThread } from '../../src/sources/datasets/lidds2021.js';
import { MAX_IN_FLIGHT, scWorker } from '../../src/sources/datasets/sc-worker-client.js';
import type { SyscallBatch } from '../../src/sources/datasets/types.js';
import { generateRecording, makeZip, writeRecordingZip } from './lidds-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-scworker-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
    const w = await scWorker();
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
    const w = (await scWorker())!;
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
    const w = (await scWorker())!;
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
    const w = (await scWorker())!;
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
