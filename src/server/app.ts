/**
 * The HTTP API (fastify): alerts, incidents, actions, baselines, posture, evaluation reports,
 * tokens, a WebSocket stream, Prometheus /metrics, the OpenAPI document and the dashboard.
 * Stages are reached through small provider interfaces so that the server never parses events
 * and works with whatever stages a deployment runs.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import type { WebSocket } from 'ws';
import { CATEGORIES, PRIORITIES, type Alert } from '../model/alert.js';
import type { ActionRecord } from '../model/action.js';
import type { AlertStore } from '../store/alerts.js';
import { TOPICS, type Bus } from '../pipeline/bus.js';
import { MetricsRegistry } from '../pipeline/metrics.js';
import { ROLES, roleAllows, type Role, type TokenInfo, type TokenStore } from './auth.js';
import { openApiDocument } from './openapi.js';

export interface ActionsProvider {
  list(filter?: { status?: string; limit?: number }): ActionRecord[] | Promise<ActionRecord[]>;
  get(id: string): ActionRecord | undefined | Promise<ActionRecord | undefined>;
  approve(id: string): Promise<ActionRecord>;
  rollback(id: string): Promise<ActionRecord>;
}
export interface IncidentsProvider {
  list(q?: { limit?: number }): unknown[] | Promise<unknown[]>;
  get(id: string): unknown | Promise<unknown>;
}
export interface BaselinesProvider {
  list(): unknown[] | Promise<unknown[]>;
  reset(workload: string): boolean | Promise<boolean>;
}
export interface PostureProvider {
  findings(q?: { namespace?: string; control?: string }): unknown | Promise<unknown>;
}
export interface WorkloadsProvider {
  list(): unknown[] | Promise<unknown[]>;
}

export interface ServerDeps {
  alerts: AlertStore;
  tokens: TokenStore;
  bus?: Bus;
  metrics?: MetricsRegistry;
  actions?: ActionsProvider;
  incidents?: IncidentsProvider;
  baselines?: BaselinesProvider;
  posture?: PostureProvider;
  workloads?: WorkloadsProvider;
  /** Folder holding evaluation reports, one sub-folder (or .md file) per report. */
  reportsDir?: string;
  /** Built dashboard (index.html + assets). */
  webDir?: string;
  /** Other stages' routes (k8s audit webhook, ...), registered inside the app. */
  plugins?: ((app: FastifyInstance) => void | Promise<void>)[];
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  stats?: () => unknown;
  /** Reasons the process cannot do its work (GET /readyz answers 503 with them); none: ready. */
  readiness?: () => Promise<string[]>;
  /**
   * Failed authentications one address may make per window before its failures are answered 429
   * with Retry-After (default: 20 per minute). Requests with a valid token are never counted nor
   * refused, so a client sharing an address (a NAT, a reverse proxy) cannot lock the others out.
   */
  authFailureLimit?: AuthFailureLimit;
  /**
   * How often open streams check that their token is still valid, in ms (default 5000): a token
   * revoked by another process on the same database (`vigie tokens revoke`) loses its streams
   * within this delay; one revoked through this server loses them at once.
   */
  sessionRecheckMs?: number;
}

export interface AuthFailureLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_AUTH_FAILURE_LIMIT: Readonly<AuthFailureLimit> = { max: 20, windowMs: 60_000 };
const DEFAULT_SESSION_RECHECK_MS = 5000;
/** WebSocket close code for a session whose token was revoked (1008: policy violation). */
export const WS_CLOSE_REVOKED = 1008;

/**
 * Who may call a route. Every route declares it in its options (`config: { auth }`); a route that
 * declares nothing is refused when it is registered, so a forgotten guard cannot ship.
 */
export type RouteAuth = Role | 'public';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: TokenInfo;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /**
     * The route also takes its token as `?access_token=`: only for what a browser requests without
     * being able to set a header (a WebSocket, an <img>). Elsewhere the query token is ignored, so a
     * link or a logged URL cannot carry a token that creates tokens or acts on workloads.
     */
    queryToken?: boolean;
  }
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly reasons?: string[],
  ) {
    super(message);
  }
}

function zodReasons(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw new HttpError(400, `invalid ${what}`, zodReasons(r.error));
  return r.data;
}

const alertsQuery = z
  .object({
    rule: z.string().min(1).optional(),
    category: z.enum(CATEGORIES).optional(),
    priority: z.enum(PRIORITIES).optional(),
    container: z.string().min(1).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).loose();
const actionsQuery = z
  .object({
    status: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
const idParam = z.object({ id: z.string().min(1).max(200) });
const resetBody = z.object({ workload: z.string().min(1) }).strict();
const tokenBody = z.object({ name: z.string().min(1).max(100), role: z.enum(ROLES) }).strict();
const postureQuery = z.object({ namespace: z.string().optional(), control: z.string().optional() }).strict();

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
  '.ico': 'image/x-icon',
};

/** Resolve `rel` under `root`, refusing anything that escapes it. */
function safeJoin(root: string, rel: string): string | undefined {
  const p = resolve(root, '.' + sep + rel);
  return p === resolve(root) || p.startsWith(resolve(root) + sep) ? p : undefined;
}

/**
 * The request's token: the Authorization header, or `?access_token=` on a route that declares
 * `queryToken`. A query token is taken out of the parsed query, so that no handler sees, echoes or
 * records it.
 */
function requestToken(req: FastifyRequest): string | undefined {
  const query = req.query as Record<string, unknown> | undefined;
  const q = query?.access_token;
  if (query && 'access_token' in query) delete query.access_token;
  const h = req.headers.authorization;
  if (h && /^Bearer\s+/i.test(h)) return h.replace(/^Bearer\s+/i, '').trim();
  if (!req.routeOptions.config.queryToken) return undefined;
  return typeof q === 'string' ? q : undefined;
}

/**
 * Content-Security-Policy of every answer. The dashboard is a Vite build: one module script and one
 * stylesheet from /assets, no inline script or style attribute; its favicon is a data: URL; it talks
 * to the API with fetch and to the stream over a WebSocket to this same host (`ws:`/`wss:`, which
 * older browsers do not count as 'self'). Report images are same-origin.
 */
const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'", 'ws:', 'wss:'],
  objectSrc: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const reg = deps.metrics ?? new MetricsRegistry();
  const httpRequests = reg.counter('vigie_http_requests_total', 'API requests by route and status', [
    'route',
    'status',
  ]);
  const httpLatency = reg.histogram('vigie_http_request_seconds', 'API request latency by route', ['route']);
  const wsClients = reg.gauge('vigie_ws_clients', 'Connected WebSocket clients');
  const wsDropped = reg.counter(
    'vigie_ws_messages_dropped_total',
    'Stream messages dropped for slow clients',
  );

  // The logger stays off: request logs would carry bearer tokens and bodies.
  const app = Fastify({ logger: false, bodyLimit: deps.bodyLimit ?? 1 << 20 });
  const routeList: RouteEntry[] = [];
  // Added before any route or plugin, so that it sees every route, those of child contexts included.
  app.addHook('onRoute', (r) => {
    const auth = r.config?.auth;
    if (auth === undefined) throw new Error(`route ${String(r.method)} ${r.url} declares no config.auth`);
    const queryToken = r.config?.queryToken === true;
    for (const m of [r.method].flat())
      if (m !== 'HEAD') routeList.push({ method: m, url: r.url, auth, queryToken });
  });
  await app.register(websocket, { options: { maxPayload: 1 << 16 } });
  // Security headers on every answer: CSP, X-Frame-Options DENY, nosniff, no Referer (a report
  // image URL may carry a query token). No HSTS: the server speaks plain HTTP; a TLS front sets it.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    hsts: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  // Only the limiter made below is used: nothing is throttled but failed authentications.
  await app.register(rateLimit, { global: false });
  const authLimit = deps.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT;
  const countAuthFailure = app.createRateLimit({ max: authLimit.max, timeWindow: authLimit.windowMs });
  app.decorate('routeList', routeList);

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof HttpError) {
      void reply.code(err.statusCode).send({ error: err.message, reasons: err.reasons });
      return;
    }
    const e = err as { statusCode?: number; message?: string; code?: string };
    const code = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    void reply
      .code(code)
      .send({ error: code === 500 ? 'internal error' : (e.message ?? 'error'), code: e.code });
  });

  app.addHook('onRequest', async (req) => {
    (req as unknown as { startedAt: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    httpRequests.inc({ route, status: String(reply.statusCode) });
    const started = (req as unknown as { startedAt?: bigint }).startedAt;
    if (started) httpLatency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  });

  // Authorization is decided on the route the router actually matched (its declared config.auth),
  // never on the request's URL text: the router decodes percent-escapes that a string comparison of
  // the raw URL would not see. Requests that match no route run nothing but the not-found handler.
  // A failed authentication is counted against the caller's address; past the limit it is answered
  // 429 with Retry-After. The token is checked first, so a valid one is never refused.
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return;
    const auth = req.routeOptions.config.auth ?? 'admin';
    if (auth === 'public') return;
    const p = deps.tokens.verify(requestToken(req));
    if (!p) {
      const limit = await countAuthFailure(req);
      if (!limit.isAllowed && limit.isExceeded) {
        void reply.header('retry-after', String(limit.ttlInSeconds));
        throw new HttpError(429, `too many failed authentications; retry in ${limit.ttlInSeconds} s`);
      }
      throw new HttpError(401, 'missing or invalid bearer token');
    }
    if (!roleAllows(p.role, auth)) throw new HttpError(403, `role ${p.role} may not do this (needs ${auth})`);
    req.principal = p;
  });
  const viewer = { config: { auth: 'viewer' as const } };
  const responder = { config: { auth: 'responder' as const } };
  const admin = { config: { auth: 'admin' as const } };
  // What a browser fetches without being able to set the Authorization header.
  const viewerFromBrowser = { config: { auth: 'viewer' as const, queryToken: true } };
  const open = { config: { auth: 'public' as const } };

  const unavailable = (what: string): never => {
    throw new HttpError(503, `${what} are not available in this deployment`);
  };

  // Liveness: the process answers. Readiness: it can store and receive (orchestrators' probes).
  app.get('/healthz', open, async () => ({ ok: true }));
  app.get('/readyz', open, async (_req, reply) => {
    const reasons = (await deps.readiness?.()) ?? [];
    if (reasons.length > 0) void reply.code(503);
    return { ok: reasons.length === 0, reasons };
  });
  app.get('/openapi.json', open, async () => openApiDocument);

  app.get('/metrics', viewer, async (_req, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8');
    return reg.render();
  });

  app.get('/api/v1/me', viewer, async (req) => ({
    id: req.principal!.id,
    name: req.principal!.name,
    role: req.principal!.role,
  }));

  app.get('/api/v1/stats', viewer, async () => ({
    bus: deps.bus?.stats() ?? null,
    ...((deps.stats?.() as object) ?? {}),
  }));

  // ---- alerts
  app.get('/api/v1/alerts', viewer, async (req, reply) => {
    const q = parse(alertsQuery, req.query, 'query');
    // Stored alerts are already JSON: splice them in rather than parse and re-serialize a page.
    void reply.type('application/json; charset=utf-8');
    return `{"items":${deps.alerts.listJson(q)},"total":${deps.alerts.count()},"limit":${q.limit},"offset":${q.offset}}`;
  });
  app.get('/api/v1/alerts/:id', viewer, async (req) => {
    const { id } = parse(idParam, req.params, 'path');
    const a = deps.alerts.get(id);
    if (!a) throw new HttpError(404, `alert ${id} not found`);
    return a;
  });
  app.post('/api/v1/alerts/:id/ack', responder, async (req) => {
    const { id } = parse(idParam, req.params, 'path');
    if (!deps.alerts.setStatus(id, 'acknowledged')) throw new HttpError(404, `alert ${id} not found`);
    return { id, status: 'acknowledged' };
  });

  // ---- incidents
  app.get('/api/v1/incidents', viewer, async (req) => {
    const q = parse(limitQuery, req.query, 'query');
    if (!deps.incidents) return unavailable('incidents');
    return { items: await deps.incidents.list(q) };
  });
  app.get('/api/v1/incidents/:id', viewer, async (req) => {
    const { id } = parse(idParam, req.params, 'path');
    if (!deps.incidents) return unavailable('incidents');
    const inc = await deps.incidents.get(id);
    if (!inc) throw new HttpError(404, `incident ${id} not found`);
    return inc;
  });

  // ---- actions
  app.get('/api/v1/actions', viewer, async (req) => {
    const q = parse(actionsQuery, req.query, 'query');
    if (!deps.actions) return unavailable('actions');
    return { items: await deps.actions.list(q) };
  });
  app.get('/api/v1/actions/:id', viewer, async (req) => {
    const { id } = parse(idParam, req.params, 'path');
    if (!deps.actions) return unavailable('actions');
    const a = await deps.actions.get(id);
    if (!a) throw new HttpError(404, `action ${id} not found`);
    return a;
  });
  const actionVerb = (verb: 'approve' | 'rollback') => async (req: FastifyRequest) => {
    const { id } = parse(idParam, req.params, 'path');
    if (!deps.actions) return unavailable('actions');
    const a = await deps.actions.get(id);
    if (!a) throw new HttpError(404, `action ${id} not found`);
    try {
      return await deps.actions[verb](id);
    } catch (err) {
      throw new HttpError(409, err instanceof Error ? err.message : String(err));
    }
  };
  app.post('/api/v1/actions/:id/approve', responder, actionVerb('approve'));
  app.post('/api/v1/actions/:id/rollback', responder, actionVerb('rollback'));

  // ---- baselines, workloads, posture
  app.get('/api/v1/baselines', viewer, async () => {
    if (!deps.baselines) return unavailable('baselines');
    return { items: await deps.baselines.list() };
  });
  app.post('/api/v1/baselines/reset', admin, async (req) => {
    const body = parse(resetBody, req.body, 'body');
    if (!deps.baselines) return unavailable('baselines');
    const ok = await deps.baselines.reset(body.workload);
    if (!ok) throw new HttpError(404, `no baseline for workload ${body.workload}`);
    return { workload: body.workload, reset: true };
  });
  app.get('/api/v1/workloads', viewer, async () => {
    if (!deps.workloads) return unavailable('workloads');
    return { items: await deps.workloads.list() };
  });
  app.get('/api/v1/posture/findings', viewer, async (req) => {
    const q = parse(postureQuery, req.query, 'query');
    if (!deps.posture) return unavailable('posture findings');
    return await deps.posture.findings(q);
  });

  // ---- evaluation reports (Markdown + SVG/PNG written by `vigie eval ... --report DIR`)
  app.get('/api/v1/reports', viewer, async () => {
    const dir = deps.reportsDir;
    if (!dir || !existsSync(dir)) return { items: [] };
    const items = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isDirectory() || n.endsWith('.md'))
      .map((n) => ({ name: n.replace(/\.md$/, ''), modified: statSync(join(dir, n)).mtime.toISOString() }));
    return { items };
  });
  app.get('/api/v1/reports/:name', viewer, async (req) => {
    const { name } = parse(z.object({ name: z.string().regex(/^[\w.-]+$/) }), req.params, 'path');
    const dir = deps.reportsDir;
    if (!dir) throw new HttpError(404, 'no reports folder configured');
    const asDir = safeJoin(dir, name);
    let md: string | undefined;
    let files: string[] = [];
    if (asDir && existsSync(asDir) && statSync(asDir).isDirectory()) {
      files = readdirSync(asDir);
      const mdFile = files.find((f) => f.endsWith('.md'));
      if (mdFile) md = readFileSync(join(asDir, mdFile), 'utf8');
    } else {
      const f = safeJoin(dir, `${name}.md`);
      if (f && existsSync(f)) md = readFileSync(f, 'utf8');
    }
    if (md === undefined) throw new HttpError(404, `report ${name} not found`);
    return { name, markdown: md, files };
  });
  app.get('/api/v1/reports/:name/files/:file', viewerFromBrowser, async (req, reply) => {
    const p = parse(
      z.object({ name: z.string().regex(/^[\w.-]+$/), file: z.string().regex(/^[\w.-]+$/) }),
      req.params,
      'path',
    );
    const f = deps.reportsDir ? safeJoin(deps.reportsDir, `${p.name}/${p.file}`) : undefined;
    if (!f || !existsSync(f)) throw new HttpError(404, `file ${p.file} not found`);
    void reply.type(MIME[extname(f)] ?? 'application/octet-stream');
    return readFileSync(f);
  });

  // ---- tokens (admin)
  app.get('/api/v1/tokens', admin, async () => ({ items: deps.tokens.list() }));
  app.post('/api/v1/tokens', admin, async (req, reply) => {
    const body = parse(tokenBody, req.body, 'body');
    const { token, info } = deps.tokens.create(body.name, body.role);
    void reply.code(201);
    return { token, ...info };
  });
  app.delete('/api/v1/tokens/:id', admin, async (req) => {
    const { id } = parse(idParam, req.params, 'path');
    if (!deps.tokens.revoke(id)) throw new HttpError(404, `token ${id} not found`);
    closeStreamsOf(id);
    return { id, revoked: true };
  });

  // ---- live stream: alerts, incidents, actions as they happen
  // Each open stream with the id of the token that opened it: a revoked token loses its streams.
  const clients = new Map<WebSocket, string>();
  const closeStreamsOf = (tokenId: string) => {
    for (const [socket, id] of clients) {
      if (id !== tokenId) continue;
      clients.delete(socket);
      socket.close(WS_CLOSE_REVOKED, 'token revoked');
    }
    wsClients.set({}, clients.size);
  };
  // Revocations made elsewhere (`vigie tokens revoke` on the same database) are seen by polling.
  const recheck = setInterval(() => {
    for (const id of new Set(clients.values())) if (!deps.tokens.isActive(id)) closeStreamsOf(id);
  }, deps.sessionRecheckMs ?? DEFAULT_SESSION_RECHECK_MS);
  recheck.unref();
  const broadcast = (type: string, data: unknown) => {
    const msg = JSON.stringify({ type, data }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    for (const c of clients.keys()) {
      // A client that cannot keep up loses messages (counted) instead of growing memory without bound.
      if (c.bufferedAmount > 4 << 20) {
        wsDropped.inc();
        continue;
      }
      c.send(msg);
    }
  };
  const unsubs: (() => void)[] = [];
  if (deps.bus) {
    unsubs.push(
      deps.bus.subscribe<Alert>(TOPICS.alerts, (a) => broadcast('alert', a), {
        name: 'ws-alerts',
        capacity: 10_000,
      }),
    );
    unsubs.push(
      deps.bus.subscribe(TOPICS.incidents, (i) => broadcast('incident', i), {
        name: 'ws-incidents',
        capacity: 1000,
      }),
    );
    unsubs.push(
      deps.bus.subscribe(TOPICS.actions, (a) => broadcast('action', a), {
        name: 'ws-actions',
        capacity: 1000,
      }),
    );
  }
  // The token is checked by the onRequest hook before the upgrade: an unauthenticated client gets 401.
  app.get('/api/v1/stream', { websocket: true, ...viewerFromBrowser }, (socket, req) => {
    const p = req.principal!;
    clients.set(socket, p.id);
    wsClients.set({}, clients.size);
    socket.send(JSON.stringify({ type: 'hello', data: { role: p.role } }));
    socket.on('close', () => {
      clients.delete(socket);
      wsClients.set({}, clients.size);
    });
  });
  app.decorate('broadcast', broadcast);
  app.addHook('onClose', async () => {
    clearInterval(recheck);
    for (const u of unsubs) u();
    for (const c of clients.keys()) c.close(1001, 'server closing');
  });

  for (const p of deps.plugins ?? []) await p(app);

  // ---- dashboard (static, single-page: unknown paths fall back to index.html)
  const webDir = deps.webDir;
  const serveStatic = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!webDir || !existsSync(join(webDir, 'index.html'))) {
      void reply.code(404).type('text/plain');
      return 'dashboard not built: run "npm run build:web"';
    }
    let url: string;
    try {
      url = decodeURIComponent((req.url.split('?')[0] ?? '/').replace(/^\/+/, ''));
    } catch {
      return reply.callNotFound();
    }
    // An API path that matched no API route is the router's 404, not the dashboard.
    if (url.startsWith('api/')) return reply.callNotFound();
    let f = url ? safeJoin(webDir, url) : undefined;
    if (!f || !existsSync(f) || !statSync(f).isFile()) f = join(webDir, 'index.html');
    void reply.type(MIME[extname(f)] ?? 'application/octet-stream');
    if (f.includes(`${sep}assets${sep}`))
      void reply.header('cache-control', 'public, max-age=31536000, immutable');
    return readFileSync(f);
  };
  app.get('/', open, serveStatic);
  app.get('/*', open, serveStatic);

  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    broadcast(type: string, data: unknown): void;
    routeList: RouteEntry[];
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  auth: RouteAuth;
  /** Whether the route also takes its token as `?access_token=`. */
  queryToken: boolean;
}
