/**
 * `vigie demo` end to end on the real dockerd and bpftrace, in its fast mode (short learning),
 * as a user runs it: a child process, JSON lines on stdout, the story on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import type { ActionRecord } from '../../src/model/action.js';
import { bpftraceAvailable, docker, dockerAvailable } from '../utils/live.js';

const hasDocker = await dockerAvailable();
const hasBpf = hasDocker && bpftraceAvailable();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function demo(args: string[], opts: { interruptWhen?: RegExp; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const ch = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIGIE_LOG: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const timer = setTimeout(() => ch.kill('SIGKILL'), opts.timeoutMs ?? 240_000);
    ch.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    ch.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (opts.interruptWhen && !interrupted && opts.interruptWhen.test(stderr)) {
        interrupted = true;
        ch.kill('SIGINT');
      }
    });
    ch.on('error', reject);
    ch.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, pid: ch.pid ?? -1 });
    });
  });
}

async function leftovers(pid: number): Promise<number> {
  const l = await docker.listContainers({ all: true, filters: { label: [`vigie.demo.pid=${pid}`] } });
  return l.length;
}

describe.skipIf(!hasBpf)('vigie demo', () => {
  it('--enforce --output json: attack alerts, a baseline anomaly, verified containment and its rollback', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-demo-'));
    try {
      const r = await demo([
        '--fast',
        '--enforce',
        '--output',
        'json',
        '--no-serve',
        '--db',
        join(dir, 'demo.db'),
      ]);
      expect(r.stderr).toMatch(/false alerts in the normal phase: \d+ in \d+ s = [\d.]+ per hour/);
      const objs = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const alerts = objs.filter((o) => 'rule' in o) as unknown as Alert[];
      const records = objs.filter((o) => 'action' in o) as unknown as ActionRecord[];
      for (const a of alerts) {
        expect(typeof a.rule).toBe('string');
        expect(typeof a.priority).toBe('string');
        expect(a.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
        expect(typeof a.source).toBe('string');
        expect(typeof a.output_fields).toBe('object');
        expect(typeof a.vigie.category).toBe('string');
        expect(a.vigie.explanation.length).toBeGreaterThan(0);
      }
      const web = (a: Alert) => a.vigie.entities.container?.name?.startsWith('vigie-demo-web-');
      expect(alerts.some((a) => web(a) && a.vigie.category === 'attack' && /shell/i.test(a.rule))).toBe(true);
      expect(
        alerts.some((a) => web(a) && a.vigie.category === 'attack' && /\/etc\/shadow/.test(a.output)),
      ).toBe(true);
      const anomaly = alerts.find(
        (a) => web(a) && a.vigie.detector === 'baseline' && /never/.test(a.vigie.explanation),
      );
      expect(
        anomaly,
        `a baseline anomaly alert naming what was never seen; demo said:\n${r.stderr.slice(-3000)}`,
      ).toBeDefined();
      for (const rec of records) {
        expect(typeof rec.id).toBe('string');
        expect(typeof rec.action).toBe('string');
        expect(typeof rec.status).toBe('string');
        expect(rec.target.id.length).toBeGreaterThan(0);
      }
      const contained = records.filter(
        (x) => x.status === 'executed' && ['throttle', 'isolate', 'pause', 'stop', 'kill'].includes(x.action),
      );
      expect(contained.length).toBeGreaterThan(0);
      expect(contained.every((x) => x.verified === true)).toBe(true);
      expect(r.stderr).toMatch(/checked against Docker: .* → as intended/);
      const rolled = records.filter((x) => x.status === 'rolled_back');
      expect(rolled.some((x) => contained.some((c) => c.id === x.id))).toBe(true);
      expect(r.stderr).toMatch(/every expected alert and action was seen/);
      expect(r.code).toBe(0);
      expect(await leftovers(r.pid)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('removes its containers on Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-demo-'));
    try {
      const r = await demo(['--fast', '--no-serve', '--db', join(dir, 'demo.db')], {
        interruptWhen: /normal traffic \(/,
        timeoutMs: 120_000,
      });
      expect(r.stderr).toMatch(/SIGINT: stopping and removing the demo containers/);
      expect(r.stderr).toMatch(/removed 2 demo container\(s\)/);
      expect(r.code).toBe(130);
      expect(await leftovers(r.pid)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
