/**
 * `vigie run --kubeconfig`: the main job watching a cluster (here the in-repo API double, driven by
 * the real client in the child process) raises misconfiguration alerts when objects change.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiDouble } from '../utils/k8s-api-double.js';

const pod = (name: string, privileged: boolean) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app: name } },
  spec: { containers: [{ name: 'c', image: 'nginx:1.25.3', securityContext: { privileged } }] },
});

describe('vigie run --kubeconfig', () => {
  it('evaluates posture continuously: a privileged pod created while running is reported', async () => {
    const api = await startApiDouble([pod('calm', false)]);
    const dir = mkdtempSync(join(tmpdir(), 'vigie-run-k8s-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--kubeconfig',
        api.kubeconfigPath,
        '--no-sensor',
        '--sources',
        'kubernetes',
        '--detectors',
        'posture',
        '--no-serve',
        '--output',
        'json',
        '--db',
        join(dir, 'v.db'),
        '--duration',
        '25',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const lines = () =>
      out
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              rule: string;
              vigie: { category: string };
              output: string;
              output_fields: Record<string, unknown>;
            },
        );
    const deadline = Date.now() + 20_000;
    while (!err.includes('watching') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    api.put(pod('risky', true));
    while (!lines().some((a) => JSON.stringify(a).includes('risky')) && Date.now() < deadline + 10_000)
      await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    await api.close();
    const alerts = lines();
    const risky = alerts.filter((a) => JSON.stringify(a).includes('risky'));
    expect(risky.length, err.slice(-2000)).toBeGreaterThan(0);
    expect(risky.every((a) => a.vigie.category === 'misconfiguration')).toBe(true);
    expect(risky.some((a) => /privileged/i.test(JSON.stringify(a)))).toBe(true);
  }, 60_000);
});
