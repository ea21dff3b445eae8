/**
 * Two processes correlating into one database (`vigie serve` or a second `vigie run` beside the
 * first): every alert ends in an incident in both, none fails with "database is locked".
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Correlator } from '../../src/characterize/incidents.js';
import { openStore } from '../../src/infra/db.js';
import { makeAlert } from '../../src/model/alert.js';

const N = 400;

const alertOf = (i: number, who: string) =>
  makeAlert(
    {
      rule: `Rule ${i % 7}`,
      priority: 'Warning',
      output: `${who} ${i}`,
      category: 'attack',
      detector: 'test',
      explanation: 'x',
      entities: { container: { id: `${who}${i % 13}`.padEnd(12, '0'), image: `img-${i % 5}` } },
    },
    'h',
  );

describe('a database shared by two correlating processes', () => {
  it('correlates every alert of both, without "database is locked"', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigie-shared-')), 'v.db');
    const db = openStore(path);
    const c = new Correlator(db);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import('./src/characterize/incidents.ts').then(async ({ Correlator }) => {
           const { openStore } = await import('./src/infra/db.ts');
           const { makeAlert } = await import('./src/model/alert.ts');
           const c = new Correlator(openStore(${JSON.stringify(path)}));
           process.stdout.write('ready\\n');
           for (let i = 0; i < ${N}; i++)
             c.add(makeAlert({ rule: 'Rule ' + (i % 7), priority: 'Warning', output: 'b ' + i, category: 'attack',
               detector: 'test', explanation: 'x', entities: { container: { id: ('b' + (i % 13)).padEnd(12, '0'), image: 'img-' + (i % 5) } } }, 'h'));
         })`,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Listen for the exit at once: the child may finish its writes before this process ends its own.
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await Promise.race([
      new Promise<boolean>((r) => child.stdout!.once('data', () => r(true))),
      exited.then(() => false),
    ]);
    expect(ready, `the child process ended before starting: ${stderr}`).toBe(true);
    const errors: string[] = [];
    for (let i = 0; i < N; i++) {
      try {
        c.add(alertOf(i, 'a'));
      } catch (err) {
        errors.push(String(err));
      }
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const code = await exited;
    expect(errors).toEqual([]);
    expect(stderr).not.toMatch(/locked|BUSY/i);
    expect(code).toBe(0);
    const linked = db.prepare('SELECT COUNT(*) AS n FROM incident_alerts').get() as { n: number };
    expect(linked.n).toBe(2 * N);
    db.close();
  }, 60_000);
});
