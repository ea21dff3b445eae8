/**
 * Validating admission webhook (AdmissionReview v1) over HTTPS: each admitted object is checked
 * against the posture controls; findings at or above the deny threshold reject it (403 with the
 * reasons), the others come back as warnings. Dry-run mode never denies and says what it would have.
 *
 * Callers authenticate the way the Kubernetes API server can authenticate to a webhook (its
 * AdmissionConfiguration kubeconfig): a client certificate signed by a given CA, checked in the TLS
 * handshake, and/or a bearer token, checked before the body is read. Serving without either is an
 * explicit choice (`clientAuth: 'none'`).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { loadCatalogue } from '../detect/posture/catalogue.js';
import { PostureEngine } from '../detect/posture/engine.js';
import type { ExceptionRule } from '../detect/posture/exceptions.js';
import {
  severityRank,
  type ControlDef,
  type Finding,
  type K8sObject,
  type Severity,
} from '../detect/posture/types.js';
import { bearerMatches } from './routes/json-webhook.js';

export interface AdmissionOptions {
  tls?: { cert: string | Buffer; key: string | Buffer };
  denyOn?: Severity;
  dryRun?: boolean;
  exceptions?: ExceptionRule[];
  /** Control inputs (as `vigie scan --settings`); controls that need unset inputs are not run. */
  settings?: Record<string, string[]>;
  controls?: ControlDef[];
  /** Current cluster objects (RBAC, NetworkPolicies, ServiceAccounts) for cross-object controls. */
  context?: () => K8sObject[];
  /** Warnings returned per review, at most (the API server truncates long lists anyway). */
  maxWarnings?: number;
  logger?: boolean;
}

/** Who may call the webhook. At least one of the two; both means both are required. */
export interface AdmissionClientAuth {
  /**
   * PEM CA (or bundle): the TLS handshake requires a client certificate it signed and refuses any
   * other connection, before HTTP; /healthz included.
   */
  ca?: string | Buffer;
  /** Bearer token every request but GET /healthz must carry, compared in constant time. */
  token?: string;
}

export interface AdmissionServerOptions extends AdmissionOptions {
  /** Required: the callers' authentication, or 'none' to serve whoever reaches the port. */
  clientAuth: AdmissionClientAuth | 'none';
  /**
   * Failed token checks one address may make per window before its failures get 429 with
   * Retry-After (default 20 per minute). A request with the right token is never counted nor refused.
   */
  authFailureLimit?: { max: number; windowMs: number };
}

export const DEFAULT_ADMISSION_AUTH_FAILURE_LIMIT = { max: 20, windowMs: 60_000 } as const;

/** Checks that only make sense over a whole cluster view: skipped when no context is given. */
const NEEDS_CLUSTER_VIEW: ReadonlySet<string> = new Set([
  'networkPolicy',
  'namespaceNetworkPolicy',
  'missingSa',
  'workloadExposed',
  'sshExposed',
  'workloadPermission',
  'danglingIngressBackend',
  'serviceWithoutWorkload',
  'danglingNetworkPolicy',
  'hpaTarget',
  'pdbCoverage',
]);

export class BadReview extends Error {}

interface ReviewRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  name?: string;
  operation?: string;
  object?: K8sObject;
  dryRun?: boolean;
}

/** A field's value for a message: scalars as JSON, anything else by its type (never the whole value). */
function shown(v: unknown): string {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    return JSON.stringify(v);
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : String(v);
}

export function parseReview(body: unknown): ReviewRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new BadReview('body is not a JSON object');
  const b = body as Record<string, any>;
  if (b.kind !== 'AdmissionReview')
    throw new BadReview(`kind is ${shown(b.kind)}, expected "AdmissionReview"`);
  if (b.apiVersion !== 'admission.k8s.io/v1')
    throw new BadReview(`apiVersion is ${shown(b.apiVersion)}, expected "admission.k8s.io/v1"`);
  const r = b.request;
  if (!r || typeof r !== 'object') throw new BadReview('request is missing');
  if (typeof r.uid !== 'string' || r.uid === '') throw new BadReview('request.uid is missing');
  if (
    r.object !== undefined &&
    r.object !== null &&
    (typeof r.object !== 'object' || Array.isArray(r.object))
  )
    throw new BadReview('request.object is not an object');
  return r as ReviewRequest;
}

export interface ReviewDecision {
  allowed: boolean;
  findings: Finding[];
  denying: Finding[];
  warnings: string[];
  message?: string;
}

/**
 * Reviews admission requests against the catalogue. Keeps two engines (all controls, for when the
 * cluster's objects are given; the local ones otherwise), so each review reuses their index and
 * resolved checks.
 */
export class AdmissionReviewer {
  private readonly full: PostureEngine;
  private readonly local: PostureEngine;

  constructor(private readonly opts: AdmissionOptions) {
    const all = opts.controls ?? loadCatalogue();
    this.full = new PostureEngine(all);
    this.local = new PostureEngine(all.filter((c) => !NEEDS_CLUSTER_VIEW.has(c.check)));
  }

  review(req: ReviewRequest): ReviewDecision {
    const opts = this.opts;
    const obj = req.object;
    if (!obj || req.operation === 'DELETE' || req.operation === 'CONNECT')
      return { allowed: true, findings: [], denying: [], warnings: [] };
    const o: K8sObject = { ...obj, metadata: { ...(obj.metadata ?? {}) } };
    if (!o.kind && req.kind?.kind) o.kind = req.kind.kind;
    if (!o.apiVersion && req.kind?.version)
      o.apiVersion = req.kind.group ? `${req.kind.group}/${req.kind.version}` : req.kind.version;
    if (!o.metadata!.namespace && req.namespace) o.metadata!.namespace = req.namespace;
    if (!o.metadata!.name && req.name) o.metadata!.name = req.name;
    const ctxObjects = opts.context?.();
    const engine = ctxObjects ? this.full : this.local;
    const res = engine.evaluate([{ obj: o }], {
      exceptions: opts.exceptions,
      settings: opts.settings,
      contextObjects: ctxObjects,
      complete: !!ctxObjects,
    });
    const threshold = severityRank(opts.denyOn ?? 'high');
    const active = res.findings.filter((f) => !f.excepted);
    const denying = active.filter((f) => severityRank(f.severity) >= threshold);
    const max = opts.maxWarnings ?? 20;
    const line = (f: Finding): string => `${f.control} (${f.severity}) ${f.path}: ${f.message}`;
    const warnings: string[] = [];
    const toWarn = opts.dryRun ? active : active.filter((f) => !denying.includes(f));
    for (const f of toWarn.sort((a, b) => severityRank(b.severity) - severityRank(a.severity))) {
      if (warnings.length >= max) {
        warnings.push(`... and ${toWarn.length - max} more findings`);
        break;
      }
      warnings.push(`${opts.dryRun && denying.includes(f) ? '[would deny] ' : ''}${line(f)}`);
    }
    if (denying.length === 0 || opts.dryRun)
      return { allowed: true, findings: res.findings, denying, warnings };
    const message = `vigie denied ${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}: ${denying.slice(0, 5).map(line).join('; ')}${denying.length > 5 ? `; and ${denying.length - 5} more` : ''}`;
    return { allowed: false, findings: res.findings, denying, warnings, message };
  }
}

/** One review with its own reviewer (a server keeps one AdmissionReviewer). */
export function review(req: ReviewRequest, opts: AdmissionOptions): ReviewDecision {
  return new AdmissionReviewer(opts).review(req);
}

export function reviewResponse(uid: string, d: ReviewDecision): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: d.allowed };
  if (d.warnings.length > 0) response.warnings = d.warnings;
  if (!d.allowed) response.status = { code: 403, reason: 'Forbidden', message: d.message };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

export async function createAdmissionServer(opts: AdmissionServerOptions): Promise<FastifyInstance> {
  const auth = opts.clientAuth;
  if (auth !== 'none' && auth.ca === undefined && auth.token === undefined)
    throw new Error("clientAuth needs a CA, a token or both (or 'none')");
  if (auth !== 'none' && auth.token === '') throw new Error('clientAuth.token is empty');
  if (auth !== 'none' && auth.ca !== undefined && !opts.tls)
    throw new Error('a client CA needs TLS (a serving certificate and key)');
  const clientCa = auth !== 'none' ? auth.ca : undefined;
  const token = auth !== 'none' ? auth.token : undefined;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 8 * 1024 * 1024,
    ...(opts.tls
      ? {
          https: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            // Mutual TLS: a connection without a certificate signed by this CA ends in the handshake.
            ...(clientCa !== undefined ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;
  const counters = { reviews: 0, denied: 0, bad: 0, authFailures: 0, tlsFailures: 0 };
  const reviewer = new AdmissionReviewer(opts);
  // Handshakes refused (no client certificate, one from another CA, or not TLS at all).
  app.server.on('tlsClientError', () => void counters.tlsFailures++);
  app.setErrorHandler((err, _req, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status === 400 || status === 415 || status === 413) counters.bad++;
    void reply.code(status).send({ error: status >= 500 ? 'internal error' : (err as Error).message });
  });
  if (token !== undefined) {
    // Only the limiter made here is used: nothing is throttled but failed authentications.
    await app.register(rateLimit, { global: false });
    const limit = opts.authFailureLimit ?? DEFAULT_ADMISSION_AUTH_FAILURE_LIMIT;
    const countFailure = app.createRateLimit({ max: limit.max, timeWindow: limit.windowMs });
    // Checked when the request arrives, before its body is read; a refused request's connection is
    // closed rather than drained, so an unauthenticated client cannot make the server read 8 MiB.
    app.addHook('onRequest', async (req, reply) => {
      if (!req.is404 && req.method === 'GET' && req.routeOptions.url === '/healthz') return;
      if (bearerMatches(req.headers.authorization, token)) return;
      counters.authFailures++;
      const l = await countFailure(req);
      if (!l.isAllowed && l.isExceeded)
        return reply
          .code(429)
          .header('retry-after', String(l.ttlInSeconds))
          .header('connection', 'close')
          .send({ error: `too many failed authentications; retry in ${l.ttlInSeconds} s` });
      return reply.code(401).header('connection', 'close').send({ error: 'missing or invalid bearer token' });
    });
  }
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => {
    void reply.type('text/plain');
    return [
      `vigie_admission_reviews_total ${counters.reviews}`,
      `vigie_admission_denied_total ${counters.denied}`,
      `vigie_admission_bad_requests_total ${counters.bad}`,
      `vigie_admission_auth_failures_total ${counters.authFailures}`,
      `vigie_admission_tls_failures_total ${counters.tlsFailures}`,
      '',
    ].join('\n');
  });
  const handler = async (
    req: { body: unknown },
    reply: { code: (n: number) => unknown },
  ): Promise<unknown> => {
    let r: ReviewRequest;
    try {
      r = parseReview(req.body);
    } catch (e) {
      counters.bad++;
      reply.code(400);
      return { error: `bad AdmissionReview: ${(e as Error).message}` };
    }
    counters.reviews++;
    const d = reviewer.review(r);
    if (!d.allowed) counters.denied++;
    return reviewResponse(r.uid, d);
  };
  app.post('/validate', handler);
  app.post('/', handler);
  return app;
}
