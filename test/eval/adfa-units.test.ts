import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalAdfa } from '../../src/eval/adfa-eval.js';
import { chunkBySizes, maxOverUnits, planAttackUnits } from '../../src/eval/adfa-units.js';
import { writeReport } from '../../src/eval/report.js';

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
  // Attack runs: each folder but the last has one process with unseen calls among ordinary ones;
  // Web_Shell_2 looks normal throughout, so every model misses it.
  for (const [folder, n] of [
    ['Adduser_1', 2],
    ['Adduser_2', 3],
    ['Web_Shell_1', 2],
    ['Web_Shell_2', 2],
  ] as const) {
    for (let k = 0; k < n; k++)
      write(
        `Attack_Data_Master/${folder}`,
        `UAD-${folder}-${k}.txt`,
        k === 0 && folder !== 'Web_Shell_2' ? [11, 102, 11, 102, 11, 102, 9] : normal(k),
      );
  }

  it('scores one unit per attack folder, groups the normal side by the folders’ sizes, and names the missed runs', async () => {
    const single = await evalAdfa(root, ['ngram-lm', 'flag-nothing'], { unit: 'attack', normals: 'single' });
    const d = single.details.find((x) => x.algorithm === 'ngram-lm' && x.scenario === 'all')!;
    // Six normal test traces (odd positions), four attack folders.
    expect(d.counts).toEqual({ negatives: 6, positives: 4 });
    expect(d.missed).toEqual(['Web_Shell_2']);
    // Per attack type, only that type's runs are listed.
    expect(
      single.details.find((x) => x.algorithm === 'ngram-lm' && x.scenario === 'Adduser')!.missed,
    ).toEqual([]);
    // The trivial detectors carry no list.
    expect(single.details.find((x) => x.algorithm === 'flag-nothing')!.missed).toBeUndefined();
    // Three runs rank above every normal trace; the normal-looking one ties them or ranks below.
    const auc = single.output.algorithms[0].scenarios[0].auc!;
    expect(auc).toBeGreaterThanOrEqual(0.75);
    expect(auc).toBeLessThan(1);
    expect(single.output.algorithms[0].params).toMatchObject({ unit: 'attack', normals: 'single' });
    expect(single.output.algorithms[0].scenarios.map((s) => s.name)).toEqual(['all', 'Adduser', 'Web_Shell']);
    expect(single.notes.join('\n')).toMatch(/4 of them/);

    const matched = await evalAdfa(root, ['ngram-lm'], { unit: 'attack' });
    const m = matched.details.find((x) => x.scenario === 'all')!;
    // Sizes 2, 3, 2, 2 over six normal traces → runs of 2, 3 and 1.
    expect(m.counts).toEqual({ negatives: 3, positives: 4 });
    expect(matched.output.algorithms[0].params).toMatchObject({ normals: 'matched' });

    const dir = join(root, 'report');
    writeReport({ ...single, command: 'vigie eval syscalls --dataset adfa', seconds: 1 }, dir);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('## Attacks missed at the threshold');
    expect(md).toContain('- ngram-lm: Web_Shell_2 (of 4)');
  });

  it('lists no missed runs at the trace unit (traces are not named)', async () => {
    const run = await evalAdfa(root, ['ngram-lm'], {});
    expect(run.details[0].missed).toBeUndefined();
  });

  it('rejects an unknown unit and normals without unit=attack', async () => {
    await expect(evalAdfa(root, ['stide'], { unit: 'folder' })).rejects.toThrow(
      /unit must be trace or attack/,
    );
    await expect(evalAdfa(root, ['stide'], { normals: 'single' })).rejects.toThrow(/only with unit=attack/);
  });
});
