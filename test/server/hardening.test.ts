/**
 * Security headers on the dashboard and the API, and throttling of failed authentications: past the
 * limit an address's failures are answered 429 with Retry-After, while valid tokens keep working and
 * other addresses are not affected.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { TokenStore } from '../../src/server/auth.js';
import { createServer, DEFAULT_AUTH_FAILURE_LIMIT, type ServerDeps } from '../../src/server/app.js';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';

describe('HTTP hardening', () => {
  let db: Db;
  let tokens: TokenStore;
  let viewer: string;
  let app: FastifyInstance | undefined;
  let webDir: string;

  beforeEach(() => {
    db = openStore(':memory:');
    tokens = new TokenStore(db);
    viewer = tokens.create('v', 'viewer').token;
    webDir = mkdtempSync(join(tmpdir(), 'vigie-web-'));
    mkdirSync(join(webDir, 'assets'));
    writeFileSync(
      join(webDir, 'index.html'),
      '<!doctype html><script type="module" src="/assets/i.js"></script>',
    );
    writeFileSync(join(webDir, 'assets', 'i.js'), 'console.log(1)');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    db.close();
  });

  const server = async (extra: Partial<ServerDeps> = {}) =>
    (app = await createServer({
      alerts: new AlertStore(db),
      tokens,
      metrics: new MetricsRegistry(),
      webDir,
      ...extra,
    }));

  it('sends CSP, X-Frame-Options, nosniff and no Referer on the dashboard and the API', async () => {
    const a = await server();
    for (const url of ['/', '/assets/i.js', '/some/page', '/api/v1/alerts', '/healthz']) {
      const r = await a.inject({ url });
      expect(r.headers['x-frame-options'], url).toBe('DENY');
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['referrer-policy'], url).toBe('no-referrer');
      const csp = Object.fromEntries(
        String(r.headers['content-security-policy'])
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .map(([k, ...v]) => [k, v.join(' ')]),
      );
      expect(csp, url).toMatchObject({
        'default-src': "'self'",
        'script-src': "'self'",
        'style-src': "'self'",
        'connect-src': "'self' ws: wss:",
        'img-src': "'self' data:",
        'object-src': "'none'",
        'frame-ancestors': "'none'",
        'base-uri': "'self'",
      });
      // The dashboard is served over plain HTTP on loopback: no request may be forced to https.
      expect(csp, url).not.toHaveProperty('upgrade-insecure-requests');
      expect(r.headers['strict-transport-security'], url).toBeUndefined();
    }
  });

  it('throttles repeated failed authentications from one address with 429 and Retry-After', async () => {
    const a = await server({ authFailureLimit: { max: 5, windowMs: 60_000 } });
    const get = (token: string | undefined, remoteAddress = '192.0.2.7', url = '/api/v1/me') =>
      a.inject({ url, remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const codes: number[] = [];
    for (let i = 0; i < 8; i++)
      codes.push((await get(i % 2 ? undefined : `vg_00000000000${i}_wrong`)).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const throttled = await get('vg_000000000000_wrong');
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(throttled.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(throttled.json().error).toMatch(/too many failed authentications/);
    // A valid token from the same address keeps working, and is not counted.
    for (let i = 0; i < 10; i++) expect((await get(viewer)).statusCode).toBe(200);
    // The stream's upgrade and the other routes share the address's count.
    expect((await get(undefined, '192.0.2.7', '/api/v1/stream')).statusCode).toBe(429);
    // Another address is not affected, and public routes are never throttled.
    expect((await get('vg_000000000000_wrong', '198.51.100.1')).statusCode).toBe(401);
    expect((await get(undefined, '192.0.2.7', '/healthz')).statusCode).toBe(200);
  });

  it('throttles by default, at the documented limit', async () => {
    const a = await server();
    let first429 = 0;
    for (let i = 1; i <= DEFAULT_AUTH_FAILURE_LIMIT.max + 5 && !first429; i++)
      if ((await a.inject({ url: '/api/v1/alerts', remoteAddress: '192.0.2.9' })).statusCode === 429)
        first429 = i;
    expect(first429).toBe(DEFAULT_AUTH_FAILURE_LIMIT.max + 1);
    expect(DEFAULT_AUTH_FAILURE_LIMIT).toEqual({ max: 20, windowMs: 60_000 });
  });
});
