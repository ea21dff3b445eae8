import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { openStore, type Db } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { TokenStore } from '../../src/server/auth.js';
import { createServer, type ActionsProvider } from '../../src/server/app.js';
import { openApiDocument } from '../../src/server/openapi.js';
import { InProcessBus, TOPICS } from '../../src/pipeline/bus.js';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';
import { makeAlert } from '../../src/model/alert.js';
import type { ActionRecord } from '../../src/model/action.js';

function alert(rule: string, n: number, category: 'attack' | 'anomaly' = 'attack') {
  return makeAlert(
    {
      rule,
      priority: 'Warning',
      output: `${rule} ${n}`,
      category,
      detector: 'test',
      explanation: 'because',
      ts: BigInt(1_700_000_000_000 + n) * 1_000_000n,
      entities: { container: { id: `c${n % 3}` } },
    },
    'h',
  );
}

class FakeActions implements ActionsProvider {
  records = new Map<string, ActionRecord>();
  list() {
    return [...this.records.values()];
  }
  get(id: string) {
    return this.records.get(id);
  }
  async approve(id: string) {
    const r = this.records.get(id)!;
    if (r.status !== 'planned') throw new Error(`action ${id} is ${r.status}, not planned`);
    r.status = 'executed';
    return r;
  }
  async rollback(id: string) {
    const r = this.records.get(id)!;
    if (r.status !== 'executed') throw new Error(`action ${id} is ${r.status}, not executed`);
    r.status = 'rolled_back';
    return r;
  }
}

describe('HTTP API', () => {
  let db: Db;
  let app: FastifyInstance;
  let tokens: TokenStore;
  let alerts: AlertStore;
  let bus: InProcessBus;
  let admin: string, viewer: string, responder: string;
  let actions: FakeActions;
  let reportsDir: string;

  beforeEach(async () => {
    db = openStore(':memory:');
    tokens = new TokenStore(db);
    alerts = new AlertStore(db);
    bus = new InProcessBus();
    admin = tokens.create('a', 'admin').token;
    viewer = tokens.create('v', 'viewer').token;
    responder = tokens.create('r', 'responder').token;
    actions = new FakeActions();
    actions.records.set('act1', {
      id: 'act1',
      action: 'pause',
      target: { kind: 'container', id: 'c1', platform: 'docker' },
      status: 'planned',
      mode: 'monitor',
      reason: 'test',
      createdAt: new Date().toISOString(),
    });
    reportsDir = mkdtempSync(join(tmpdir(), 'vigie-reports-'));
    mkdirSync(join(reportsDir, 'adfa'));
    writeFileSync(join(reportsDir, 'adfa', 'report.md'), '# ADFA\n| model | auc |\n');
    writeFileSync(join(reportsDir, 'adfa', 'roc.svg'), '<svg/>');
    for (let i = 0; i < 30; i++) alerts.add(alert(i % 2 ? 'Shell' : 'Read', i, i % 5 ? 'attack' : 'anomaly'));
    app = await createServer({ alerts, tokens, bus, actions, reportsDir, metrics: new MetricsRegistry() });
  });
  afterEach(async () => {
    await app.close();
    await bus.close();
    db.close();
  });

  const get = (url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const post = (url: string, token: string | undefined, body?: unknown) =>
    app.inject({
      method: 'POST',
      url,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      payload: body ? JSON.stringify(body) : undefined,
    });

  it('refuses requests without a valid token (401) and with a too-low role (403)', async () => {
    expect((await get('/api/v1/alerts')).statusCode).toBe(401);
    expect((await get('/api/v1/alerts', 'vg_000000000000_bogus')).statusCode).toBe(401);
    expect((await get('/api/v1/alerts', viewer + 'x')).statusCode).toBe(401);
    expect((await post('/api/v1/actions/act1/approve', viewer)).statusCode).toBe(403);
    expect((await get('/api/v1/tokens', responder)).statusCode).toBe(403);
    expect((await post('/api/v1/baselines/reset', responder, { workload: 'x' })).statusCode).toBe(403);
    expect((await get('/metrics')).statusCode).toBe(401);
  });

  it('lists alerts with filters and paging, newest first', async () => {
    const r = await get('/api/v1/alerts?limit=5&offset=0', viewer);
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.items).toHaveLength(5);
    expect(body.total).toBe(30);
    expect(body.items[0].time > body.items[4].time).toBe(true);
    const shells = (await get('/api/v1/alerts?rule=Shell&limit=100', viewer)).json().items;
    expect(shells).toHaveLength(15);
    expect(shells.every((a: { rule: string }) => a.rule === 'Shell')).toBe(true);
    const anomalies = (await get('/api/v1/alerts?category=anomaly', viewer)).json().items;
    expect(anomalies).toHaveLength(6);
    const page2 = (await get('/api/v1/alerts?limit=5&offset=5', viewer)).json().items;
    expect(page2[0].uuid).not.toBe(body.items[0].uuid);
    const one = await get(`/api/v1/alerts/${shells[0].uuid}`, viewer);
    expect(one.json().rule).toBe('Shell');
    expect((await get('/api/v1/alerts/nope', viewer)).statusCode).toBe(404);
  });

  it('rejects bad query strings and bodies with 400 and reasons', async () => {
    const r = await get('/api/v1/alerts?limit=0&category=nonsense', viewer);
    expect(r.statusCode).toBe(400);
    const reasons: string[] = r.json().reasons;
    expect(reasons.some((x) => x.startsWith('limit'))).toBe(true);
    expect(reasons.some((x) => x.startsWith('category'))).toBe(true);
    expect((await get('/api/v1/alerts?bogus=1', viewer)).statusCode).toBe(400);
    const t = await post('/api/v1/tokens', admin, { name: 'x', role: 'god' });
    expect(t.statusCode).toBe(400);
    expect(t.json().reasons[0]).toMatch(/^role/);
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(bad.statusCode).toBe(400);
  });

  it('approves and rolls back actions (responder), with 409 on a wrong state', async () => {
    expect((await get('/api/v1/actions', viewer)).json().items).toHaveLength(1);
    const a = await post('/api/v1/actions/act1/approve', responder);
    expect(a.statusCode).toBe(200);
    expect(a.json().status).toBe('executed');
    expect((await post('/api/v1/actions/act1/approve', responder)).statusCode).toBe(409);
    const rb = await post('/api/v1/actions/act1/rollback', responder);
    expect(rb.json().status).toBe('rolled_back');
    expect((await post('/api/v1/actions/missing/rollback', responder)).statusCode).toBe(404);
  });

  it('says 503 for stages this deployment does not run', async () => {
    const r = await get('/api/v1/incidents', viewer);
    expect(r.statusCode).toBe(503);
    expect((await get('/api/v1/baselines', viewer)).statusCode).toBe(503);
    expect((await get('/api/v1/posture/findings', viewer)).statusCode).toBe(503);
  });

  it('manages tokens without ever returning a stored secret', async () => {
    const created = await post('/api/v1/tokens', admin, { name: 'ci', role: 'viewer' });
    expect(created.statusCode).toBe(201);
    const tok: string = created.json().token;
    expect((await get('/api/v1/me', tok)).json().role).toBe('viewer');
    const listed = (await get('/api/v1/tokens', admin)).body;
    // The secret is everything after `vg_<id>_` (base64url: it may itself contain '_').
    const secretOf = (t: string) => t.slice('vg_'.length + 12 + 1);
    for (const t of [tok, admin, viewer, responder]) {
      expect(secretOf(t).length).toBeGreaterThanOrEqual(32);
      expect(listed).not.toContain(secretOf(t));
    }
    expect(listed).not.toContain('hash');
    const id = created.json().id;
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: `/api/v1/tokens/${id}`,
          headers: { authorization: `Bearer ${admin}` },
        })
      ).statusCode,
    ).toBe(200);
    expect((await get('/api/v1/me', tok)).statusCode).toBe(401);
  });

  it('serves evaluation reports and refuses path escapes', async () => {
    expect((await get('/api/v1/reports', viewer)).json().items.map((i: { name: string }) => i.name)).toEqual([
      'adfa',
    ]);
    const rep = (await get('/api/v1/reports/adfa', viewer)).json();
    expect(rep.markdown).toContain('# ADFA');
    expect(rep.files).toContain('roc.svg');
    const svg = await get('/api/v1/reports/adfa/files/roc.svg', viewer);
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect((await get('/api/v1/reports/..%2F..%2Fetc/files/passwd', viewer)).statusCode).toBe(400);
  });

  it('exposes Prometheus metrics including request counters', async () => {
    await get('/api/v1/alerts', viewer);
    const m = await get('/metrics', viewer);
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toMatch(/vigie_http_requests_total\{route="\/api\/v1\/alerts",status="200"\} 1/);
    expect(m.body).toContain('# TYPE vigie_http_request_seconds histogram');
  });

  it('documents every route in the OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set(Object.keys(openApiDocument.paths));
    const routes = app.routeList.filter((r) => r.url.startsWith('/api/') || r.url === '/metrics');
    expect(routes.length).toBeGreaterThan(15);
    for (const r of routes) {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      expect(documented.has(path), path).toBe(true);
      const item = (openApiDocument.paths as Record<string, Record<string, unknown>>)[path];
      expect(item[r.method.toLowerCase()], `${r.method} ${path}`).toBeTruthy();
    }
  });

  it('streams new alerts and actions over WebSocket to authenticated clients only', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const denied = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream`);
    const status = await new Promise<number>((r) =>
      denied.on('unexpected-response', (_req, res) => r(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream?access_token=${viewer}`);
    const got: { type: string; data: { rule?: string; id?: string } }[] = [];
    await new Promise<void>((resolve) => {
      ws.on('message', (m) => {
        const msg = JSON.parse(String(m));
        got.push(msg);
        if (msg.type === 'hello') {
          bus.publish(TOPICS.alerts, alert('Live', 99));
          bus.publish(TOPICS.actions, actions.records.get('act1'));
        }
        if (got.length === 3) resolve();
      });
    });
    ws.close();
    expect(got.map((g) => g.type)).toEqual(['hello', 'alert', 'action']);
    expect(got[1].data.rule).toBe('Live');
  });
});
