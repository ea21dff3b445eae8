/** `vigie actions` on a store filled by the engine: list/show JSON, approve, rollback on real dockerd. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/actions.js';
import { createResponder } from '../../src/respond/engine.js';
import { openStore } from '../../src/infra/db.js';
import { alertFor, buildImage, removeByPrefix, startContainer } from './helpers.js';

const run = promisify(execFile);
const PREFIX = `vigie-rspcli-${randomBytes(3).toString('hex')}-`;
const dir = mkdtempSync(join(tmpdir(), 'vigie-actions-cli-'));
const dbFile = join(dir, 'v.db');

/** The real executable, once: the command group is registered and prints JSON lines. */
async function vigieProcess(...args: string[]): Promise<string> {
  const r = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'actions', ...args, '--db', dbFile],
    { cwd: process.cwd() },
  );
  return r.stdout;
}

/** The same commands in-process (each spawn costs seconds of start-up on two cores). */
async function vigie(...args: string[]): Promise<{ stdout: string; code: number; stderr: string }> {
  const program = new Command().exitOverride();
  register(program);
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'vigie', 'actions', ...args, '--db', dbFile]);
    return { stdout, stderr: '', code: 0 };
  } catch (err) {
    return { stdout, stderr: (err as Error).message, code: (err as { exitCode?: number }).exitCode ?? 1 };
  } finally {
    process.stdout.write = write;
  }
}

beforeAll(() => buildImage());
afterAll(async () => {
  await removeByPrefix(PREFIX);
  rmSync(dir, { recursive: true, force: true });
});

it('lists planned actions as JSON, approves one, rolls it back', async () => {
  const c = await startContainer(PREFIX + 'web');
  const db = openStore(dbFile);
  const r = createResponder({
    db,
    hostname: 'h',
    mode: 'monitor',
    policyFile: 'policies/default.yaml',
    selfIds: [],
  });
  const recs = await r.onAlert(await alertFor(c));
  expect(recs.map((x) => x.action)).toEqual(['capture_evidence', 'throttle', 'isolate', 'pause']);
  await r.close();
  db.close();

  const rows = (await vigieProcess('list', '--output', 'json'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows).toHaveLength(4);
  for (const row of rows) for (const k of ['action', 'target', 'status', 'id']) expect(row).toHaveProperty(k);
  const pause = rows.find((x) => x.action === 'pause')!;
  expect(pause.status).toBe('planned');

  const ok = await vigie('approve', String(pause.id), '--output', 'json');
  expect(ok.code, ok.stderr).toBe(0);
  const done = JSON.parse(ok.stdout.trim()) as { status: string; verified: boolean };
  expect([done.status, done.verified]).toEqual(['executed', true]);
  expect((await c.inspect()).State.Paused).toBe(true);

  const show = await vigie('show', String(pause.id).slice(0, 12), '--output', 'json');
  const full = JSON.parse(show.stdout) as {
    stateBefore: { paused: boolean };
    stateAfter: { paused: boolean };
  };
  expect([full.stateBefore.paused, full.stateAfter.paused]).toEqual([false, true]);

  const rb = await vigie('rollback', String(pause.id), '--output', 'json');
  expect(rb.code, rb.stderr).toBe(0);
  expect((JSON.parse(rb.stdout.trim()) as { status: string }).status).toBe('rolled_back');
  expect((await c.inspect()).State.Paused).toBe(false);

  const again = await vigie('rollback', String(pause.id));
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/only executed actions can be rolled back/);
  const missing = await vigie('show', 'act-nope');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/not found/);
});
