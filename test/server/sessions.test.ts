/**
 * A session lives no longer than its token: a stream opened with a token is closed when the token is
 * revoked, through the API at once and by another process (`vigie tokens revoke` on the same
 * database) within the re-check delay. A token in the query string is taken only by the routes that
 * a browser cannot send a header to, and never reaches a handler or a metric.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { TokenStore } from '../../src/server/auth.js';
import { createServer, WS_CLOSE_REVOKED } from '../../src/server/app.js';
import { openApiDocument } from '../../src/server/openapi.js';
import { InProcessBus, TOPICS } from '../../src/pipeline/bus.js';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';
import { makeAlert } from '../../src/model/alert.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

const alert = (rule: string) =>
  makeAlert(
    {
      rule,
      priority: 'Warning',
      output: rule,
      category: 'attack',
      detector: 'test',
      explanation: 'because',
      ts: 1_700_000_000_000_000_000n,
      entities: {},
    },
    'h',
  );

interface Stream {
  ws: WebSocket;
  types: string[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens the stream and waits for its hello. */
async function openStream(url: string, headers: Record<string, string> = {}): Promise<Stream> {
  const ws = new WebSocket(url, { headers });
  const types: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => r({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (m) => {
      const type = (JSON.parse(String(m)) as { type: string }).type;
      types.push(type);
      if (type === 'hello') resolve();
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', reject);
  });
  return { ws, types, closed };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)),
  ]);

describe('sessions and query tokens', () => {
  let dir: string;
  let dbPath: string;
  let db: Db;
  let tokens: TokenStore;
  let bus: InProcessBus;
  let app: FastifyInstance;
  let base: string;
  let admin: string;
  let viewer: { token: string; id: string };
  let metrics: MetricsRegistry;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigie-sessions-'));
    dbPath = join(dir, 'vigie.db');
    db = openStore(dbPath);
    tokens = new TokenStore(db);
    admin = tokens.create('a', 'admin').token;
    const v = tokens.create('v', 'viewer');
    viewer = { token: v.token, id: v.info.id };
    bus = new InProcessBus();
    metrics = new MetricsRegistry();
    const reportsDir = join(dir, 'reports');
    mkdirSync(join(reportsDir, 'adfa'), { recursive: true });
    writeFileSync(join(reportsDir, 'adfa', 'roc.svg'), '<svg/>');
    app = await createServer({
      alerts: new AlertStore(db),
      tokens,
      bus,
      metrics,
      reportsDir,
      sessionRecheckMs: 200,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    await app.close();
    await bus.close();
    db.close();
  });

  it('closes the streams of a token revoked through the API, at once', async () => {
    const s = await openStream(`ws://${base}/api/v1/stream`, { authorization: `Bearer ${viewer.token}` });
    const other = tokens.create('v2', 'viewer').token;
    const kept = await openStream(`ws://${base}/api/v1/stream?access_token=${other}`);
    const r = await app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${viewer.id}`,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(r.statusCode).toBe(200);
    expect(await within(s.closed, 1000, 'stream closed')).toEqual({
      code: WS_CLOSE_REVOKED,
      reason: 'token revoked',
    });
    // The other token's stream goes on receiving alerts.
    const next = new Promise<void>((resolve) => kept.ws.on('message', () => resolve()));
    bus.publish(TOPICS.alerts, alert('After revoke'));
    await within(next, 1000, 'alert on the other stream');
    expect(kept.types).toEqual(['hello', 'alert']);
    expect(s.types).toEqual(['hello']);
    kept.ws.close();
  });

  it('closes the streams of a token revoked by another process on the same database', async () => {
    const s = await openStream(`ws://${base}/api/v1/stream?access_token=${viewer.token}`);
    await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'tokens', 'revoke', viewer.id, '--db', dbPath],
      { cwd: ROOT, timeout: 15_000 },
    );
    expect(await within(s.closed, 2000, 'stream closed')).toMatchObject({ code: WS_CLOSE_REVOKED });
    // And the revoked token opens no new stream.
    await expect(openStream(`ws://${base}/api/v1/stream?access_token=${viewer.token}`)).rejects.toThrow(
      /upgrade refused: 401/,
    );
  }, 20_000);

  it('takes ?access_token= only on the stream and report files', async () => {
    const q = (url: string, token: string) => `${url}${url.includes('?') ? '&' : '?'}access_token=${token}`;
    // Routes a browser reaches without a header take the query token.
    expect(
      (await app.inject({ url: q('/api/v1/reports/adfa/files/roc.svg', viewer.token) })).statusCode,
    ).toBe(200);
    const s = await openStream(`ws://${base}${q('/api/v1/stream', viewer.token)}`);
    s.ws.close();
    // Everywhere else it is ignored: the request is unauthenticated.
    const created = await app.inject({
      method: 'POST',
      url: q('/api/v1/tokens', admin),
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x', role: 'admin' }),
    });
    expect(created.statusCode).toBe(401);
    expect(tokens.list().map((t) => t.name)).toEqual(['a', 'v']);
    for (const url of ['/api/v1/alerts', '/api/v1/me', '/metrics', '/api/v1/reports', '/api/v1/tokens'])
      expect((await app.inject({ url: q(url, admin) })).statusCode, url).toBe(401);
    expect(
      app.routeList
        .filter((r) => r.queryToken)
        .map((r) => `${r.method} ${r.url}`)
        .sort(),
    ).toEqual(['GET /api/v1/reports/:name/files/:file', 'GET /api/v1/stream']);
    // The OpenAPI document says the same.
    const documented = Object.entries(openApiDocument.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) =>
        Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
      )
      .filter(({ op }) =>
        JSON.stringify((op as { security?: unknown }).security ?? []).includes('queryToken'),
      )
      .map(({ key }) => key)
      .sort();
    expect(documented).toEqual(['GET /api/v1/reports/{name}/files/{file}', 'GET /api/v1/stream']);
  });

  it('keeps a query token away from handlers and metrics', async () => {
    // A header-authenticated request that also carries access_token: the strict query check of the
    // alerts route never sees it (it would answer 400 on an unknown parameter).
    const r = await app.inject({
      url: `/api/v1/alerts?access_token=${viewer.token}`,
      headers: { authorization: `Bearer ${viewer.token}` },
    });
    expect(r.statusCode).toBe(200);
    await app.inject({ url: `/api/v1/reports/adfa/files/roc.svg?access_token=${viewer.token}` });
    expect(metrics.render()).not.toContain(viewer.token);
    expect(metrics.render()).not.toContain('access_token');
  });
});
