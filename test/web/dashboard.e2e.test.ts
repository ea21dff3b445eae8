/**
 * The dashboard end to end, in headless Debian Chromium, on a real scenario: a container on dockerd
 * reads /etc/shadow, the eBPF sensor sees it, the runtime detector alerts, the alert appears live;
 * a person opens it, approves the planned containment (pause), sees the container paused in Docker's
 * real state, and rolls it back. Screenshots are kept under test-artifacts/screenshots/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Browser } from 'playwright-core';
import { Engine } from '../../src/engine/engine.js';
import { createOutput } from '../../src/engine/output.js';
import { startServerFor } from '../../src/cli/commands/run.js';
import { openStore } from '../../src/infra/db.js';
import { ensureTestbedImage } from '../../src/testbed/image.js';
import { startContainer } from '../../src/testbed/containers.js';
import { bpftraceAvailable, docker, dockerAvailable, removeContainer } from '../utils/live.js';
import { artifactPath, chromiumAvailable, launch } from './browser.js';

const enabled = chromiumAvailable() && (await dockerAvailable()) && bpftraceAvailable();

const POLICY = `version: 1
name: e2e
mode: monitor
guards:
  rateLimit: { perMinute: 100 }
rules:
  - name: pause-credential-reads
    match: { rule: 'Read sensitive file*' }
    actions:
      - { action: pause }
`;

const paused = async (id: string) => (await docker.getContainer(id).inspect()).State.Paused;

describe.runIf(enabled)('dashboard on a live scenario (dockerd, bpftrace, Chromium)', () => {
  let containerId: string | undefined;
  let engine: Engine | undefined;
  let server: { close(): Promise<void> } | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await engine?.stop();
    await removeContainer(containerId);
  });

  it('shows the alert live, approves the pause, sees Docker paused, rolls it back', async () => {
    const image = await ensureTestbedImage(docker);
    const run = `e2e${Date.now().toString(36)}`;
    const victim = await startContainer(docker, { name: `vigie-e2e-${run}`, image, runId: run });
    containerId = victim.id;

    const dir = mkdtempSync(join(tmpdir(), 'vigie-e2e-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    const db = openStore(join(dir, 'vigie.db'));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    engine = new Engine({
      db,
      hostname: 'e2e',
      output: createOutput('json', sink, sink),
      mode: 'monitor',
      policyFile,
      sourceNames: ['docker', 'bpftrace'],
      detectorNames: ['runtime'],
    });
    await engine.start();
    const srv = await startServerFor(engine, db, '127.0.0.1:0');
    expect(srv).toBeDefined();
    server = srv;

    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    await page.goto(srv!.dashboardUrl);
    await page.getByTestId('live-state').getByText('live').waitFor({ timeout: 20_000 });

    // The intrusion: read the shadow file inside the container until the alert shows up live.
    const row = page.getByTestId('alert-row').filter({ hasText: 'Read sensitive file' }).first();
    const deadline = Date.now() + 60_000;
    while (!(await row.isVisible()) && Date.now() < deadline) {
      spawnSync('docker', ['exec', victim.id, 'cat', '/etc/shadow'], { timeout: 20_000 });
      await page.waitForTimeout(1500);
    }
    expect(await row.isVisible()).toBe(true);
    await page.screenshot({ path: artifactPath('1-alert-live.png') });

    await row.click();
    const detail = page.getByTestId('alert-detail');
    await detail.waitFor();
    await expect(detail.getByTestId('explanation').textContent()).resolves.toMatch(/shadow/);
    const approve = detail.getByTestId('approve').first();
    await approve.waitFor({ timeout: 20_000 });
    await page.screenshot({ path: artifactPath('2-alert-detail-planned.png') });
    expect(await paused(victim.id)).toBe(false);

    await approve.click();
    await expect.poll(() => paused(victim.id), { timeout: 20_000 }).toBe(true);
    const rollback = detail.getByTestId('rollback').first();
    await rollback.waitFor({ timeout: 20_000 });
    await expect(detail.getByTestId('status').first().textContent()).resolves.toBe('executed');
    await page.screenshot({ path: artifactPath('3-approved-paused.png') });

    await rollback.click();
    await expect.poll(() => paused(victim.id), { timeout: 20_000 }).toBe(false);
    await detail.getByText('rolled back').first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: artifactPath('4-rolled-back.png') });
  }, 240_000);
});
