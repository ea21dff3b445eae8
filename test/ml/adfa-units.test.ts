import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalAdfa } from '../../src/eval/adfa-eval.js';
import { chunkBySizes, maxOverUnits, planAttackUnits } from '../../src/eval/adfa-units.js';

const arr = (xs: Int32Array[]): number[][] => xs.map((x) => [...x]);

describe('ADFA-LD attack-instance units', () => {
  it('cuts runs of the given sizes, repeating them, and keeps a shorter remainder', () => {
    expect(arr(chunkBySizes([0, 1, 2, 3, 4, 5, 6, 7], [2, 3]))).toEqual([[0, 1], [2, 3, 4], [5, 6], [7]]);
    expect(arr(chunkBySizes([], [2]))).toEqual([]);
    expect(() => chunkBySizes([1], [0])).toThrow(/≥ 1/);
  });

  // Test set: normal traces at 0, 2, 3, 5, 6; attack A_1 = {1, 4}; attack B_1 = {7, 8, 9}.
  const test = {
    labels: Uint8Array.from([0, 1, 0, 0, 1, 0, 0, 1, 1, 1]),
    groups: ['', 'A', '', '', 'A', '', '', 'B', 'B', 'B'],
    instances: ['', 'A_1', '', '', 'A_1', '', '', 'B_1', 'B_1', 'B_1'],
  };

  it('single: one unit per normal trace, one per attack folder', () => {
    const p = planAttackUnits(3, test, 'single');
    expect(arr(p.test)).toEqual([[0], [2], [3], [5], [6], [1, 4], [7, 8, 9]]);
    expect([...p.labels]).toEqual([0, 0, 0, 0, 0, 1, 1]);
    expect(p.groups).toEqual(['', '', '', '', '', 'A', 'B']);
    expect(p.names.slice(5)).toEqual(['A_1', 'B_1']);
    expect(arr(p.tune)).toEqual([[0], [1], [2]]);
  });

  it('matched: normal and tuning traces grouped in runs of the attack folders’ sizes (2, 3, 2, …)', () => {
    const p = planAttackUnits(6, test, 'matched');
    expect(arr(p.test)).toEqual([
      [0, 2],
      [3, 5, 6],
      [1, 4],
      [7, 8, 9],
    ]);
    expect([...p.labels]).toEqual([0, 0, 1, 1]);
    expect(arr(p.tune)).toEqual([[0, 1], [2, 3, 4], [5]]);
    expect(() =>
      planAttackUnits(1, { labels: Uint8Array.of(0), groups: [''], instances: [''] }, 'matched'),
    ).toThrow(/needs attack traces/);
    expect(() => planAttackUnits(1, test, 'pairs' as never)).toThrow(/single or matched/);
  });

  it('a unit scores the highest score of its traces', () => {
    const s = Float64Array.from([0.1, 0.9, 0.3, -2, 0.2]);
    expect([...maxOverUnits(s, [Int32Array.of(0, 2), Int32Array.of(3), Int32Array.of(1, 3, 4)])]).toEqual([
      0.3, -2, 0.9,
    ]);
  });
});

describe('evalAdfa with unit=attack on a small ADFA-LD folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigie-adfa-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (dir: string, name: string, calls: number[]): void => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, name), `${calls.join(' ')} \n`);
  };
  const normal = (seed: number): number[] =>
    Array.from({ length: 60 }, (_, i) => [3, 5, 6, 3, 4][(i + seed) % 5]);
  for (let i = 0; i < 6; i++) write('Training_Data_Master', `UTD-${i}.txt`, normal(i));
  for (let i = 0; i < 12; i++)
    write('Validation_Data_Master', `UVD-${String(i).padStart(2, '0')}.txt`, normal(i));
  // Attack runs: each folder has one process with unseen calls among ordinary ones.
  for (const [folder, n] of [
    ['Adduser_1', 2],
    ['Adduser_2', 3],
    ['Web_Shell_1', 2],
  ] as const) {
    for (let k = 0; k < n; k++)
      write(
        `Attack_Data_Master/${folder}`,
        `UAD-${folder}-${k}.txt`,
        k === 0 ? [11, 102, 11, 102, 11, 102, 9] : normal(k),
      );
  }

  it('scores one unit per attack folder and groups the normal side by the folders’ sizes', async () => {
    const single = await evalAdfa(root, ['ngram-lm', 'flag-nothing'], { unit: 'attack', normals: 'single' });
    const d = single.details.find((x) => x.algorithm === 'ngram-lm' && x.scenario === 'all')!;
    // Six normal test traces (odd positions), three attack folders.
    expect(d.counts).toEqual({ negatives: 6, positives: 3 });
    expect(single.output.algorithms[0].scenarios[0].auc).toBe(1);
    expect(single.output.algorithms[0].params).toMatchObject({ unit: 'attack', normals: 'single' });
    expect(single.output.algorithms[0].scenarios.map((s) => s.name)).toEqual(['all', 'Adduser', 'Web_Shell']);
    expect(single.notes.join('\n')).toMatch(/3 of them/);

    const matched = await evalAdfa(root, ['ngram-lm'], { unit: 'attack' });
    const m = matched.details.find((x) => x.scenario === 'all')!;
    // Sizes 2, 3, 2 over six normal traces → runs of 2, 3 and 1.
    expect(m.counts).toEqual({ negatives: 3, positives: 3 });
    expect(matched.output.algorithms[0].params).toMatchObject({ normals: 'matched' });
  });

  it('rejects an unknown unit and normals without unit=attack', async () => {
    await expect(evalAdfa(root, ['stide'], { unit: 'folder' })).rejects.toThrow(
      /unit must be trace or attack/,
    );
    await expect(evalAdfa(root, ['stide'], { normals: 'single' })).rejects.toThrow(/only with unit=attack/);
  });
});
