import { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { VigieEvent } from '../../src/model/event.js';
import { openStore } from '../../src/infra/db.js';
import {
  BaselineManager,
  BaselineStore,
  parseBaselineConfig,
} from '../../src/detect/anomaly/baseline/index.js';
import { register } from '../../src/cli/commands/baseline.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-baseline-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the command group in-process (as `vigie ARGS` would), returning what it printed on stdout. */
async function vigie(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'vigie', ...args]);
  } finally {
    process.stdout.write = orig;
    process.stderr.write = origErr;
  }
  return out;
}

describe('vigie baseline status|accept|export|import|reset', () => {
  it('shows, exports, imports, accepts and resets baselines of a store', async () => {
    const dbFile = join(tmp, 'a.db');
    const db = openStore(dbFile);
    const mgr = new BaselineManager(
      parseBaselineConfig({ learnSec: 1, minEvents: 1, windowSec: 1 }),
      new BaselineStore(db),
    );
    const container = { id: 'c1', image: 'demo/web:1', command: 'httpd' };
    for (let s = 0; s <= 2; s++) {
      const ev: VigieEvent = {
        id: `e${s}`,
        kind: 'process',
        ts: BigInt(1_700_000_000 + s) * 1_000_000_000n,
        source: 't',
        container,
        proc: { name: 'httpd', exe: '/bin/httpd' },
      };
      mgr.resolve(ev, Number(ev.ts) / 1e6)?.onEvent(ev, Number(ev.ts) / 1e6, () => undefined);
    }
    mgr.save();
    db.close();

    const status = JSON.parse((await vigie('baseline', 'status', '--db', dbFile, '--output', 'json')).trim());
    expect(status).toMatchObject({ workload: 'docker:demo/web:1|httpd', state: 'ready', binaries: 1 });

    const out = join(tmp, 'export.json');
    await vigie('baseline', 'export', 'docker:demo/web:1|httpd', '--db', dbFile, '--out', out);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file.format).toBe('vigie-baselines');
    expect(file.workloads[0].binaries).toEqual(['/bin/httpd']);

    const other = join(tmp, 'b.db');
    expect(await vigie('baseline', 'import', out, '--db', other)).toContain('imported 1 baseline(s)');
    expect(await vigie('baseline', 'status', '--db', other)).toContain('docker:demo/web:1|httpd  ready');
    expect(await vigie('baseline', 'accept', 'docker:demo/web:1|httpd', '--db', other)).toContain(
      'accepted docker:demo/web:1|httpd: ready → learning on top of what it knows',
    );
    expect(await vigie('baseline', 'status', '--db', other)).toMatch(
      /^docker:demo\/web:1\|httpd {2}learning: 0\/600 s, 0\/5,000 events, 0 windows excluded after security alerts\n {4}events=0 .* binaries=1 /,
    );
    await expect(vigie('baseline', 'accept', 'nope', '--db', other)).rejects.toThrow(
      /no baseline for workload nope/,
    );
    expect(await vigie('baseline', 'reset', 'docker:demo/web:1|httpd', '--db', other)).toContain(
      'reset docker:demo/web:1|httpd',
    );
    expect(await vigie('baseline', 'status', '--db', other)).toContain('no workload baseline');
    await expect(vigie('baseline', 'reset', 'nope', '--db', other)).rejects.toThrow(
      /no baseline for workload nope/,
    );
  });
});
