/**
 * Authorization is decided on the route that actually runs. Every route of the OpenAPI document is
 * called as written and in the spellings a router may resolve to the same route (percent-encoded
 * letters and hyphens, doubled and trailing slashes, other letter case, `.` and `..` segments),
 * without a token and with each role. An answer either comes from the authorization check (401/403),
 * from the router finding no route (its own 404), or is the public dashboard page; it never comes
 * from a protected handler that a caller without the role reached.
 */
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigieEvent } from '../../src/model/event.js';
import { createServer } from '../../src/server/app.js';
import { AlertStore } from '../../src/store/alerts.js';
import { ROLES, roleAllows, TokenStore, type Role } from '../../src/server/auth.js';
import { openApiDocument } from '../../src/server/openapi.js';
import { startApiServer, type RunningServer } from '../../src/server/start.js';
import { PushSource } from '../../src/sources/push.js';
import { openStore, type Db } from '../../src/infra/db.js';

const DASHBOARD = '<!doctype html><title>dashboard marker 5f1c</title>';

const falcoAlert = JSON.stringify({
  time: '2024-05-01T10:00:00.000000001Z',
  rule: 'Terminal shell in container',
  priority: 'Critical',
  output: 'A shell was spawned in a container (container_id=c0ffee123456)',
  source: 'syscall',
  hostname: 'node-1',
  tags: ['shell', 'T1059'],
  output_fields: { 'container.id': 'c0ffee123456', 'proc.cmdline': 'sh -i' },
});
const auditEvent = JSON.stringify({
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Request',
  auditID: '6e0d3b4a-0000-4000-8000-000000000001',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods/web/exec?command=sh',
  verb: 'create',
  user: { username: 'mallory' },
  objectRef: { resource: 'pods', namespace: 'default', name: 'web', subresource: 'exec', apiVersion: 'v1' },
  responseStatus: { code: 101 },
  requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
  stageTimestamp: '2024-05-01T10:00:00.100000Z',
});

interface Answer {
  status: number;
  type: string;
  body: string;
}

function send(base: URL, method: string, path: string, token?: string, body?: string): Promise<Answer> {
  // node:http sends the path as written: no URL normalization of `..`, `%2d` or `//` on the way.
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            body: text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

type Outcome = 'unauthenticated' | 'forbidden' | 'no-route' | 'dashboard' | 'ran';

function outcome(a: Answer): Outcome {
  if (a.status === 401) return 'unauthenticated';
  if (a.status === 403) return 'forbidden';
  if (a.status === 200 && a.type.startsWith('text/html') && a.body === DASHBOARD) return 'dashboard';
  if (a.status === 404) {
    // Fastify's not-found handler: {"message":"Route POST:/x not found","error":"Not Found",...}
    try {
      const j = JSON.parse(a.body) as { message?: string };
      if (typeof j.message === 'string' && /^Route \w+:.* not found$/.test(j.message)) return 'no-route';
    } catch {
      /* not the router's answer */
    }
  }
  return 'ran';
}

/** The path as documented, with its parameters filled in. */
function concrete(path: string): string {
  return path
    .replace(/\{id\}/g, 'x1')
    .replace(/\{name\}/g, 'r1')
    .replace(/\{file\}/g, 'f.svg');
}

const pct = (c: string) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0');

/** Spellings of one path that a lenient router, a proxy or a string check may treat differently. */
function variants(path: string): string[] {
  const segs = path.split('/').slice(1);
  const last = segs[segs.length - 1];
  const firstLetter = path.search(/[a-z]/i);
  const out = new Set<string>([
    path.slice(0, firstLetter) + pct(path[firstLetter]) + path.slice(firstLetter + 1),
    path.slice(0, firstLetter) + pct(path[firstLetter]).toUpperCase() + path.slice(firstLetter + 1),
    '/' + segs.map((s) => [...s].map(pct).join('')).join('/'),
    path.replace(/-/g, '%2d'),
    path.replace(/-/g, '%2D'),
    path.replace(/\//g, '%2f').replace(/^%2f/, '/'),
    '/' + path,
    path.replace(/\/([^/]*)$/, '//$1'),
    path + '/',
    path + '?x=/',
    path.toUpperCase(),
    path[0] + path[1].toUpperCase() + path.slice(2),
    `/x/..${path}`,
    `/.${path}`,
    path.replace(/\/([^/]*)$/, `/zz/../$1`),
    path.replace(/\/([^/]*)$/, `/%2e%2e/${last}`),
    `/x/%2e%2e${path}`,
    path + '/.',
    path + '%00',
    path + ';x',
  ]);
  out.delete(path);
  return [...out];
}

function documentedRole(op: { description?: string; security?: unknown }): Role | 'public' {
  const m = /Requires role (\w+)/.exec(op.description ?? '');
  if (m) return m[1] as Role;
  expect(op.security, 'an operation with security must say which role it requires').toBeUndefined();
  return 'public';
}

describe('authorization on the route that actually runs', () => {
  let db: Db;
  let srv: RunningServer;
  let base: URL;
  const token: Partial<Record<Role, string>> = {};
  /** What reached Vigie through the webhooks: audit events, and Falco's alerts (by their detector). */
  const pushed: string[] = [];
  const operations: { method: string; path: string; role: Role | 'public' }[] = [];

  beforeAll(async () => {
    db = openStore(':memory:');
    const tokens = new TokenStore(db);
    for (const r of ROLES) token[r] = tokens.create(`t-${r}`, r).token;
    const web = mkdtempSync(join(tmpdir(), 'vigie-web-'));
    writeFileSync(join(web, 'index.html'), DASHBOARD);
    const falco = new PushSource('falco-webhook');
    const audit = new PushSource('k8s-audit-webhook');
    for (const s of [falco, audit])
      await s.start(
        (ev: VigieEvent) => pushed.push(ev.source) > 0,
        (a) => pushed.push(a.vigie.detector) > 0,
      );
    srv = await startApiServer({
      db,
      port: 0,
      falcoWebhook: falco,
      auditWebhook: audit,
      webDir: web,
      reportsDir: mkdtempSync(join(tmpdir(), 'vigie-reports-')),
      announce: () => {},
      // This test sends hundreds of requests without a valid token from one address on purpose:
      // it checks what each route answers, not the throttle (test/server/hardening.test.ts does).
      authFailureLimit: { max: 100_000, windowMs: 60_000 },
    });
    base = new URL(srv.url);
    for (const [path, item] of Object.entries(
      openApiDocument.paths as Record<string, Record<string, object>>,
    ))
      for (const [method, op] of Object.entries(item))
        operations.push({ method: method.toUpperCase(), path, role: documentedRole(op) });
  });
  afterAll(async () => {
    await srv?.close();
    db?.close();
  });

  const bodyFor = (path: string): string | undefined =>
    path === '/falco' ? falcoAlert : path === '/k8s-audit' ? auditEvent : undefined;

  it('documents every route the server runs, with the role the server enforces', () => {
    const running = srv.app.routeList.filter((r) => r.url !== '/' && r.url !== '/*');
    const documented = new Map(operations.map((o) => [`${o.method} ${o.path}`, o.role]));
    expect(running.length).toBeGreaterThan(20);
    for (const r of running) {
      const key = `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`;
      expect(documented.has(key), `${key} is missing from the OpenAPI document`).toBe(true);
      expect(documented.get(key), key).toBe(r.auth);
    }
    for (const w of ['POST /falco', 'POST /k8s-audit', 'GET /falco/stats', 'GET /k8s-audit/stats'])
      expect(documented.get(w), w).toBe(w.startsWith('POST') ? 'responder' : 'viewer');
  });

  it('answers 401 to every protected route without a token, in every spelling', async () => {
    const bad: string[] = [];
    for (const op of operations) {
      if (op.role === 'public') continue;
      const path = concrete(op.path);
      const plain = outcome(await send(base, op.method, path, undefined, bodyFor(op.path)));
      if (plain !== 'unauthenticated') bad.push(`${op.method} ${path}: ${plain}`);
      for (const v of variants(path)) {
        const o = outcome(await send(base, op.method, v, undefined, bodyFor(op.path)));
        if (o !== 'unauthenticated' && o !== 'no-route' && o !== 'dashboard')
          bad.push(`${op.method} ${v}: ${o}`);
      }
    }
    expect(bad).toEqual([]);
    expect(pushed).toEqual([]);
  });

  it('answers 403 to a token whose role is too low, in every spelling, and runs the route for one that suffices', async () => {
    const bad: string[] = [];
    for (const role of ROLES) {
      for (const op of operations) {
        if (op.role === 'public') continue;
        const path = concrete(op.path);
        const allowed = roleAllows(role, op.role);
        const plain = outcome(await send(base, op.method, path, token[role], bodyFor(op.path)));
        if (allowed ? plain === 'forbidden' || plain === 'unauthenticated' : plain !== 'forbidden')
          bad.push(`${role} ${op.method} ${path}: ${plain}`);
        if (allowed) continue;
        for (const v of variants(path)) {
          const o = outcome(await send(base, op.method, v, token[role], bodyFor(op.path)));
          if (o !== 'forbidden' && o !== 'no-route' && o !== 'dashboard')
            bad.push(`${role} ${op.method} ${v}: ${o}`);
        }
      }
    }
    expect(bad).toEqual([]);
    // Responders and admins posted one Falco alert and one audit event each, on the plain paths.
    expect([...pushed].sort()).toEqual(['falco', 'falco', 'k8s-audit-webhook', 'k8s-audit-webhook']);
  });

  it('serves the public routes without a token', async () => {
    for (const op of operations.filter((o) => o.role === 'public')) {
      const a = await send(base, op.method, op.path);
      expect(a.status, op.path).toBe(200);
    }
  });

  it('refuses to register a route that declares no role', async () => {
    await expect(
      createServer({
        alerts: new AlertStore(db),
        tokens: new TokenStore(db),
        plugins: [(app) => void app.get('/undeclared', async () => 'x')],
      }),
    ).rejects.toThrow(/undeclared declares no config.auth/);
  });
});
