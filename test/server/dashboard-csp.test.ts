/**
 * The built dashboard works under the server's Content-Security-Policy: in headless Chromium it loads,
 * opens its live stream (a WebSocket to the same host) and shows an alert published on the bus, and
 * the browser reports no policy violation.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { openStore } from '../../src/infra/db.js';
import { InProcessBus, TOPICS } from '../../src/pipeline/bus.js';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';
import { makeAlert } from '../../src/model/alert.js';
import { defaultWebDir, startApiServer, type RunningServer } from '../../src/server/start.js';
import { artifactPath, chromiumAvailable, launch } from '../web/browser.js';

const webDir = defaultWebDir();
const built = existsSync(join(webDir, 'index.html'));
if (!built) console.warn(`skipping the dashboard CSP test: ${webDir} is not built (npm run build:web)`);

describe.runIf(built && chromiumAvailable())('dashboard under the Content-Security-Policy', () => {
  const db = openStore(':memory:');
  const bus = new InProcessBus();
  let srv: RunningServer | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await bus.close();
    db.close();
  });

  it('loads, streams a live alert and reports no violation', async () => {
    srv = await startApiServer({
      db,
      bus,
      port: 0,
      webDir,
      metrics: new MetricsRegistry(),
      announce: () => {},
    });
    browser = await launch();
    const page = await browser.newPage();
    const violations: string[] = [];
    await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation(v: string): void }).reportViolation(
          `${e.violatedDirective} ${e.blockedURI}`,
        ),
      );
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const hello = new Promise<void>((resolve) =>
      page.on('websocket', (ws) =>
        ws.on('framereceived', (f) => {
          if (String(f.payload).includes('"hello"')) resolve();
        }),
      ),
    );
    const res = await page.goto(srv.dashboardUrl);
    expect(res?.headers()['content-security-policy']).toContain("connect-src 'self' ws: wss:");
    await hello;
    bus.publish(
      TOPICS.alerts,
      makeAlert(
        {
          rule: 'CSP live marker',
          priority: 'Critical',
          output: 'a live alert through the stream',
          category: 'attack',
          detector: 'test',
          explanation: 'because',
          ts: BigInt(Date.now()) * 1_000_000n,
          entities: {},
        },
        'h',
      ),
    );
    await page.getByText('CSP live marker').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: artifactPath('dashboard-csp.png') });
    expect(violations).toEqual([]);
  }, 60_000);
});
