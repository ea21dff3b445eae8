/**
 * Loghub scoring: the measures on hand-made cases, the reader on a fixture written here, and the
 * figures docs/evaluation.md reports on loghub-2k (skipped when the data set is absent, required
 * under CI=true).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DRAIN_GROUPING_ACCURACY,
  evalLoghub,
  groupingAccuracy,
  parsingAccuracy,
} from '../../src/eval/loghub.js';
import { readCsvRecord, readLoghubSystem } from '../../src/sources/datasets/loghub.js';
import { requireDataset } from '../../src/util/datasets.js';

describe('grouping accuracy (Loghub)', () => {
  it('counts the lines of a parsed group only when it is exactly one true event', () => {
    // Events A (3 lines), B (2), C (1). Parsed: A split in two, B and C merged.
    expect(groupingAccuracy(['A', 'A', 'A', 'B', 'B', 'C'], [1, 1, 2, 3, 3, 3])).toBe(0);
    expect(groupingAccuracy(['A', 'A', 'A', 'B', 'B', 'C'], [1, 1, 1, 3, 3, 3])).toBe(3 / 6);
    expect(groupingAccuracy(['A', 'A', 'A', 'B', 'B', 'C'], [7, 7, 7, 8, 8, 9])).toBe(1);
    // Labels are only names: the same partition under other ids scores the same.
    expect(groupingAccuracy(['A', 'B', 'A'], ['x', 'y', 'x'])).toBe(1);
  });

  it('compares templates with white space made one space, nothing else', () => {
    expect(parsingAccuracy(['a  <*> b', 'blk_<*> x'], ['a <*> b ', '<*> x'])).toBe(0.5);
  });
});

describe('Loghub reader and evaluation on a fixture', () => {
  it('reads quoted CSV fields and scores a folder with any subset of systems', () => {
    const text = '1,"a, ""b""",c\n2';
    expect(readCsvRecord(text, 0)).toEqual({
      fields: ['1', 'a, "b"', 'c'],
      next: text.indexOf('2'),
      ok: true,
    });
    expect(readCsvRecord('"open', 0).ok).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'loghub-'));
    mkdirSync(join(dir, 'Tiny'));
    const rows = [
      ['1', 'x', 'Connection from 10.0.0.1 closed', 'E1', 'Connection from <*> closed'],
      ['2', 'x', 'Connection from 10.0.0.2 closed', 'E1', 'Connection from <*> closed'],
      ['3', 'x', '"quoted, with comma" done', 'E2', '"quoted, with comma" done'],
    ];
    const csv = (f: string): string => (/[",]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);
    writeFileSync(
      join(dir, 'Tiny', 'Tiny_2k.log_structured.csv'),
      [
        'LineId,Level,Content,EventId,EventTemplate',
        ...rows.map((r) => r.map(csv).join(',')),
        '4,broken',
      ].join('\n') + '\n',
    );
    writeFileSync(join(dir, 'Tiny', 'Tiny_2k.log'), 'l1\nl2\nl3\nl4\n');
    const sys = readLoghubSystem(dir, 'Tiny');
    expect(sys.contents).toEqual(rows.map((r) => r[2]));
    expect(sys.skipped.map((e) => e.message)).toEqual([
      `${join(dir, 'Tiny', 'Tiny_2k.log_structured.csv')}:5: expected 5 CSV fields, got 2`,
    ]);
    const r = evalLoghub(dir);
    expect(Object.keys(r).sort()).toEqual(['mean', 'systems']);
    const [s] = r.systems;
    expect(s).toMatchObject({
      name: 'Tiny',
      lines: 3,
      templates: 2,
      groupingAccuracy: 1,
      parsingAccuracy: 1,
      drainGroupingAccuracy: null,
    });
    expect(s.linesPerSecond).toBeGreaterThan(0);
    expect(s.baselines.oneTemplate.groupingAccuracy).toBe(0);
    expect(r.mean).toMatchObject({ groupingAccuracy: 1, parsingAccuracy: 1 });
  });
});

const loghub = requireDataset('loghub-2k');

describe.skipIf(!loghub)('loghub-2k', () => {
  it('groups at or above Drain on every system, 0.92 or more on average (docs/evaluation.md)', () => {
    const r = evalLoghub(loghub!);
    expect(r.systems.map((s) => s.name)).toEqual([
      'Android',
      'BGL',
      'HDFS',
      'HPC',
      'Hadoop',
      'Linux',
      'Mac',
      'Spark',
    ]);
    for (const s of r.systems) {
      expect(s.lines, s.name).toBe(2000);
      expect(s.skipped, s.name).toEqual([]);
      expect(s.groupingAccuracy, s.name).toBeGreaterThanOrEqual(DRAIN_GROUPING_ACCURACY.get(s.name)!);
      // Better than the naive masking baseline on average, and far from the trivial parsers.
      expect(s.groupingAccuracy, s.name).toBeGreaterThan(s.baselines.oneTemplate.groupingAccuracy);
    }
    // Measured 0.944 grouping, 0.633 parsing (docs/evaluation.md); the floors guard regressions.
    expect(r.mean.groupingAccuracy).toBeGreaterThanOrEqual(0.94);
    expect(r.mean.parsingAccuracy).toBeGreaterThanOrEqual(0.6);
    expect(r.mean.groupingAccuracy).toBeGreaterThan(r.mean.naiveMaskingGroupingAccuracy + 0.2);
  }, 60_000);
});
