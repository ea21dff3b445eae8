/**
 * `vigie actions list` and `vigie alerts list` page through what is stored: a page that leaves
 * records out says so on stderr, with the next `--offset`; stdout carries the records only.
 */
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { register as registerActions } from '../../src/cli/commands/actions.js';
import { register as registerAlerts } from '../../src/cli/commands/alerts.js';
import { openStore } from '../../src/infra/db.js';
import { makeAlert } from '../../src/model/alert.js';
import { ActionStore } from '../../src/store/actions.js';
import { AlertStore } from '../../src/store/alerts.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-paging-'));
const dbFile = join(dir, 'v.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-11-27T10:00:00Z');
{
  const db = openStore(dbFile);
  const actions = new ActionStore(db);
  const alerts = new AlertStore(db);
  for (let i = 0; i < 60; i++) {
    actions.put({
      id: `act-${String(i).padStart(3, '0')}`,
      action: 'pause',
      target: { platform: 'docker', kind: 'container', id: `c${i}`, name: `web-${i}` },
      status: i % 2 ? 'executed' : 'planned',
      mode: 'monitor',
      reason: 'test',
      createdAt: new Date(T0 + i * 1000).toISOString(),
    });
    alerts.add(
      makeAlert(
        {
          rule: i % 2 ? 'Odd' : 'Even',
          priority: 'Warning',
          output: `alert ${i}`,
          category: 'attack',
          detector: 'test',
          explanation: 'test',
          ts: BigInt(T0 + i * 1000) * 1_000_000n,
        },
        'h',
      ),
    );
  }
  db.close();
}

/** A command run in-process: its stdout and stderr. */
async function vigie(...args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command().exitOverride();
  registerActions(program);
  registerAlerts(program);
  let out = '';
  let err = '';
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  (process.stdout as { write: unknown }).write = (s: string) => ((out += s), true);
  (process.stderr as { write: unknown }).write = (s: string) => ((err += s), true);
  try {
    await program.parseAsync(['node', 'vigie', ...args, '--db', dbFile]);
  } finally {
    (process.stdout as { write: unknown }).write = stdout;
    (process.stderr as { write: unknown }).write = stderr;
  }
  return { out, err };
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean);

describe('list commands say what a page leaves out', () => {
  it('vigie actions list: 50 of 60, the next page, filters counted', async () => {
    const first = await vigie('actions', 'list', '--output', 'json');
    const rows = lines(first.out).map((l) => JSON.parse(l) as { id: string });
    expect(rows).toHaveLength(50);
    expect(rows[0].id).toBe('act-059');
    expect(first.err).toMatch(/showing actions 1–50 of 60 \(newest first\); next page: --offset 50/);
    const second = await vigie('actions', 'list', '--output', 'json', '--offset', '50');
    const rest = lines(second.out).map((l) => JSON.parse(l) as { id: string });
    expect(rest.map((r) => r.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `act-${String(9 - i).padStart(3, '0')}`),
    );
    expect(second.err).toMatch(/showing actions 51–60 of 60 \(newest first\); this is the last page/);
    // Filters are counted too.
    const planned = await vigie('actions', 'list', '--status', 'planned', '--limit', '20');
    expect(lines(planned.out)).toHaveLength(20);
    expect(planned.err).toMatch(/of 30 .*next page: --offset 20/);
    // Everything on one page: nothing to say.
    expect((await vigie('actions', 'list', '--limit', '100')).err).toBe('');
  });

  it('vigie alerts list: the same', async () => {
    const first = await vigie('alerts', 'list', '--output', 'json');
    expect(lines(first.out)).toHaveLength(50);
    expect(first.err).toMatch(/showing alerts 1–50 of 60 \(newest first\); next page: --offset 50/);
    const odd = await vigie('alerts', 'list', '--rule', 'Odd', '--limit', '25', '--offset', '25');
    expect(lines(odd.out)).toHaveLength(5);
    expect(odd.err).toMatch(/showing alerts 26–30 of 30/);
    await expect(vigie('alerts', 'list', '--offset', '-1')).rejects.toThrow(/--offset must be/);
  });
});
