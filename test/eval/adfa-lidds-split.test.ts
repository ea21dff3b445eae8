/**
 * ADFA-LD `split=lidds`: the LID-DS framework's ADFA-LD example split (validation traces in file-name
 * order: the first 2,000 learned, the next 20 tune, the rest tested with every attack trace).
 * A small folder checks where each trace goes; the real data set (skipped when absent, required
 * under CI=true) checks the counts and the framework's STIDE figure (per-trace ROC AUC 0.90).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalAdfa, loadAdfa } from '../../src/eval/adfa-eval.js';
import { requireDataset } from '../../src/util/datasets.js';

describe('split=lidds on a small ADFA-LD folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigie-adfa-lidds-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (dir: string, name: string, calls: number[]): void => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, name), `${calls.join(' ')}\n`);
  };
  // Each trace starts with its own marker call, so the tests can tell where it went.
  for (let i = 0; i < 3; i++) write('Training_Data_Master', `UTD-${i}.txt`, [100 + i, 1, 2, 3]);
  // Written out of order: the split follows the file names, not the order of creation.
  for (const i of [9, 3, 0, 7, 1, 8, 2, 6, 4, 5])
    write('Validation_Data_Master', `UVD-${String(i).padStart(4, '0')}.txt`, [200 + i, 1, 2, 3]);
  write('Attack_Data_Master/Adduser_1', 'UAD-Adduser-1-1.txt', [300, 9, 9, 9]);
  write('Attack_Data_Master/Adduser_1', 'UAD-Adduser-1-2.txt', [301, 9, 9, 9]);
  const markers = (xs: Int32Array[]): number[] => xs.map((x) => x[0]);

  it('learns the training traces and the first valTrainAdd validation traces, tunes on the next valCount, tests the rest', () => {
    const d = loadAdfa(root, { split: 'lidds', valTrainAdd: 4, valCount: 2 });
    expect(markers(d.train)).toEqual([100, 101, 102, 200, 201, 202, 203]);
    expect(markers(d.tune)).toEqual([204, 205]);
    expect(markers(d.test)).toEqual([206, 207, 208, 209, 300, 301]);
    expect([...d.labels]).toEqual([0, 0, 0, 0, 1, 1]);
    expect(d.instances.slice(4)).toEqual(['Adduser_1', 'Adduser_1']);
  });

  it('thins each part by position with limit, keeping the parts’ bounds', () => {
    const d = loadAdfa(root, { split: 'lidds', valTrainAdd: 4, valCount: 2, limit: 2 });
    expect(markers(d.train)).toEqual([100, 102, 200, 202]);
    expect(markers(d.tune)).toEqual([204]);
    expect(markers(d.test)).toEqual([206, 208, 300]);
  });

  it('refuses a split that leaves no normal test trace, learnFromTuning with it, and its counts without it', async () => {
    expect(() => loadAdfa(root, { split: 'lidds', valTrainAdd: 8, valCount: 2 })).toThrow(
      /leave no normal test trace of 10/,
    );
    expect(() => loadAdfa(root, { split: 'lidds', learnFromTuning: true })).toThrow(/split=vigie only/);
    expect(() => loadAdfa(root, { split: 'random' as never })).toThrow(/vigie or lidds/);
    await expect(evalAdfa(root, ['stide'], { valCount: '2' })).rejects.toThrow(/only with split=lidds/);
    const run = await evalAdfa(root, ['stide'], { split: 'lidds', valTrainAdd: '4', valCount: '2' });
    expect(run.details[0].counts).toEqual({ negatives: 4, positives: 2 });
    expect(run.notes[0]).toMatch(/^split=lidds .*training: 7 traces .*tuning: 2 .*test: 4 validation traces/);
  });
});

const adfa = requireDataset('adfa-ld');

describe.skipIf(!adfa)('split=lidds on ADFA-LD', () => {
  it('2,833 traces learned, 20 tuning, 2,352 normal and 746 attack test traces; STIDE n=9, max over 50-call windows: AUC 0.903 (framework: 0.90)', async () => {
    const d = loadAdfa(adfa!, { split: 'lidds' });
    expect(d.train.length).toBe(833 + 2000);
    expect(d.tune.length).toBe(20);
    expect(d.labels.length).toBe(2352 + 746);
    expect(d.labels.reduce((a, b) => a + b, 0)).toBe(746);
    expect(d.skipped).toEqual([]);
    // The framework's window sum starts before the window is full; a maximum over windows of 50
    // calls (Vigie's agg=max) ranks traces the same while every trace is at least 50 calls long.
    expect(Math.min(...d.test.map((t) => t.length))).toBeGreaterThanOrEqual(50);

    const run = await evalAdfa(adfa!, ['stide'], {
      split: 'lidds',
      'stide.n': '9',
      agg: 'max',
      L: '50',
    });
    expect(run.details[0].counts).toEqual({ negatives: 2352, positives: 746 });
    const all = run.output.algorithms[0].scenarios[0];
    expect(all.name).toBe('all');
    // Measured 0.903 (an independent count of unseen 9-grams in Python gives 0.9029).
    expect(all.auc!).toBeGreaterThan(0.898);
    expect(all.auc!).toBeLessThan(0.908);
  }, 60_000);
});
