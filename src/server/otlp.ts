/**
 * The OTLP/HTTP trace receiver: `POST /v1/traces` on its own port (4318 by default, as OTLP/HTTP
 * specifies), as the OpenTelemetry Collector's OTLP receiver accepts it:
 *
 * - `Content-Type: application/x-protobuf` (a binary ExportTraceServiceRequest) or
 *   `application/json` (OTLP/JSON); any other type gets 415;
 * - `Content-Encoding: gzip` or `deflate` (or none); another encoding gets 400;
 * - the answer is an ExportTraceServiceResponse in the request's encoding, with `partial_success`
 *   (rejected span count and why) when some spans could not be used or the events queue was full; a
 *   body that does not decode gets 400 with a google.rpc.Status; a body over the limit (compressed or
 *   once inflated) gets 413; when the events queue took none of the spans, 503 with Retry-After so
 *   that the sender retries.
 *
 * Authentication: the route declares its role (`config.auth`, responder, as the API's event webhooks)
 * and the bearer token (`Authorization: Bearer …`, an API token: OTLP exporters send it with their
 * `headers` setting) is checked when the request arrives, before its body is read; a request without
 * a valid token gets 401 and its connection is closed. Failed authentications are throttled per
 * address as on the API. No request line, header or body is logged.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { SpanBody } from '../model/span.js';
import { MetricsRegistry } from '../pipeline/metrics.js';
import {
  decodeTracesJson,
  decodeTracesProtobuf,
  exportResponse,
  OtlpDecodeError,
  RPC_CODE,
  statusBody,
  type DecodedTraces,
} from '../sources/otlp/decode.js';
import { DEFAULT_AUTH_FAILURE_LIMIT, type AuthFailureLimit, type RouteAuth } from './app.js';
import { roleAllows, type TokenStore } from './auth.js';

/** OTLP/HTTP's default port. */
export const OTLP_HTTP_PORT = 4318;
export const OTLP_TRACES_PATH = '/v1/traces';
/** Largest body, compressed and once inflated (the Collector's default is 20 MiB; spans are small). */
export const OTLP_BODY_LIMIT = 4 << 20;

export interface OtlpReceiverOptions {
  /** Receives the spans of one request; returns how many were dropped (events queue full). */
  onSpans: (spans: SpanBody[]) => number;
  /** Told of each body that did not decode (the source counts it as malformed input). */
  onMalformed?: () => void;
  /** The API's tokens: a responder token (or above) may post spans. */
  tokens: TokenStore;
  bodyLimit?: number;
  metrics?: MetricsRegistry;
  authFailureLimit?: AuthFailureLimit;
}

export interface OtlpReceiverStats {
  requests: number;
  spans: number;
  rejected: number;
  dropped: number;
  malformed: number;
  oversized: number;
  unsupported: number;
  unauthenticated: number;
}

type Encoding = 'json' | 'protobuf';

function mediaType(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
}

/** The answer's encoding: the request's when it is one OTLP speaks, else JSON. */
function encodingOf(req: FastifyRequest): Encoding {
  return mediaType(req) === 'application/x-protobuf' ? 'protobuf' : 'json';
}

function answer(reply: FastifyReply, enc: Encoding, code: number, body: Uint8Array | string): FastifyReply {
  return reply
    .code(code)
    .type(enc === 'protobuf' ? 'application/x-protobuf' : 'application/json')
    .send(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
}

class TooLarge extends Error {}

/** The body as sent, inflated when `Content-Encoding` says so (bounded: an inflated bomb is refused). */
function inflate(body: Buffer, contentEncoding: string, limit: number): Buffer {
  const enc = contentEncoding.trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  const inflater =
    enc === 'gzip' || enc === 'x-gzip' ? gunzipSync : enc === 'deflate' ? inflateSync : undefined;
  if (!inflater) throw new OtlpDecodeError('body', `unsupported Content-Encoding "${enc.slice(0, 40)}"`);
  try {
    return inflater(body, { maxOutputLength: limit });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
      throw new TooLarge(`inflated body over ${limit} bytes`);
    throw new OtlpDecodeError(`${enc} body`, (e as Error).message);
  }
}

export async function createOtlpReceiver(
  opts: OtlpReceiverOptions,
): Promise<{ app: FastifyInstance; stats: OtlpReceiverStats }> {
  const bodyLimit = opts.bodyLimit ?? OTLP_BODY_LIMIT;
  const reg = opts.metrics ?? new MetricsRegistry();
  const requests = reg.counter('vigie_otlp_requests_total', 'OTLP/HTTP export requests by status', [
    'status',
  ]);
  const spanCounter = reg.counter('vigie_otlp_spans_total', 'OTLP spans by outcome', ['outcome']);
  const stats: OtlpReceiverStats = {
    requests: 0,
    spans: 0,
    rejected: 0,
    dropped: 0,
    malformed: 0,
    oversized: 0,
    unsupported: 0,
    unauthenticated: 0,
  };
  const app = Fastify({ logger: false, bodyLimit });
  // As on the API: every route declares who may call it, or the server does not start.
  app.addHook('onRoute', (r) => {
    if (r.config?.auth === undefined)
      throw new Error(`route ${String(r.method)} ${r.url} declares no config.auth`);
  });
  await app.register(rateLimit, { global: false });
  const limit = opts.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT;
  const countAuthFailure = app.createRateLimit({ max: limit.max, timeWindow: limit.windowMs });

  app.setErrorHandler((err: unknown, req, reply) => {
    const e = err as { statusCode?: number; message?: string };
    const code = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    if (code === 413) stats.oversized++;
    const rpc =
      code === 413
        ? RPC_CODE.RESOURCE_EXHAUSTED
        : code < 500
          ? RPC_CODE.INVALID_ARGUMENT
          : RPC_CODE.UNAVAILABLE;
    return answer(
      reply,
      encodingOf(req),
      code,
      statusBody(encodingOf(req), rpc, code === 500 ? 'internal error' : (e.message ?? 'error')),
    );
  });
  app.addHook('onResponse', async (_req, reply) => {
    requests.inc({ status: String(reply.statusCode) });
  });

  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return;
    const need = req.routeOptions.config.auth ?? 'admin';
    if (need === 'public') return;
    const h = req.headers.authorization;
    const token = h && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : undefined;
    const p = opts.tokens.verify(token);
    const enc = encodingOf(req);
    if (!p) {
      stats.unauthenticated++;
      const l = await countAuthFailure(req);
      // The connection is closed rather than drained: an unauthenticated body is never read.
      void reply.header('connection', 'close');
      if (!l.isAllowed && l.isExceeded) {
        void reply.header('retry-after', String(l.ttlInSeconds));
        return answer(
          reply,
          enc,
          429,
          statusBody(enc, RPC_CODE.RESOURCE_EXHAUSTED, 'too many failed authentications'),
        );
      }
      return answer(
        reply,
        enc,
        401,
        statusBody(enc, RPC_CODE.UNAUTHENTICATED, 'missing or invalid bearer token'),
      );
    }
    if (!roleAllows(p.role, need))
      return answer(
        reply,
        enc,
        403,
        statusBody(enc, RPC_CODE.UNAUTHENTICATED, `role ${p.role} may not do this (needs ${need})`),
      );
  });

  // The body is read raw, whatever its type, up to the limit; the handler decides what it is.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const responder: { config: { auth: RouteAuth } } = { config: { auth: 'responder' } };
  app.post(OTLP_TRACES_PATH, responder, async (req, reply) => {
    stats.requests++;
    const type = mediaType(req);
    if (type !== 'application/json' && type !== 'application/x-protobuf') {
      stats.unsupported++;
      return answer(
        reply,
        'json',
        415,
        statusBody(
          'json',
          RPC_CODE.INVALID_ARGUMENT,
          `unsupported Content-Type "${type.slice(0, 80)}"; OTLP/HTTP takes application/x-protobuf or application/json`,
        ),
      );
    }
    const enc: Encoding = type === 'application/json' ? 'json' : 'protobuf';
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let decoded: DecodedTraces;
    try {
      const body = inflate(raw, String(req.headers['content-encoding'] ?? ''), bodyLimit);
      decoded = enc === 'json' ? decodeTracesJson(body.toString('utf8')) : decodeTracesProtobuf(body);
    } catch (e) {
      if (e instanceof TooLarge) {
        stats.oversized++;
        return answer(reply, enc, 413, statusBody(enc, RPC_CODE.RESOURCE_EXHAUSTED, e.message));
      }
      if (!(e instanceof OtlpDecodeError)) throw e;
      stats.malformed++;
      opts.onMalformed?.();
      return answer(reply, enc, 400, statusBody(enc, RPC_CODE.INVALID_ARGUMENT, e.message));
    }
    const { spans, rejected, reasons } = decoded;
    const dropped = spans.length ? opts.onSpans(spans) : 0;
    stats.spans += spans.length - dropped;
    stats.rejected += rejected;
    stats.dropped += dropped;
    spanCounter.inc({ outcome: 'accepted' }, spans.length - dropped);
    if (rejected) spanCounter.inc({ outcome: 'rejected' }, rejected);
    if (dropped) spanCounter.inc({ outcome: 'dropped' }, dropped);
    if (spans.length > 0 && dropped === spans.length) {
      // Nothing was taken: the sender keeps the batch and retries (OTLP/HTTP, "Failures").
      void reply.header('retry-after', '1');
      return answer(reply, enc, 503, statusBody(enc, RPC_CODE.UNAVAILABLE, 'events queue full; retry later'));
    }
    const why = [
      ...(rejected ? [`${rejected} span(s) rejected: ${reasons.join('; ')}`] : []),
      ...(dropped ? [`${dropped} span(s) dropped: events queue full`] : []),
    ].join('; ');
    return answer(reply, enc, 200, exportResponse(enc, rejected + dropped, why));
  });
  return { app, stats };
}

export interface RunningOtlpReceiver {
  app: FastifyInstance;
  url: string;
  stats: OtlpReceiverStats;
  close(): Promise<void>;
}

/** `[HOST:]PORT` → where to listen (host 127.0.0.1 unless given; port 4318 unless given). */
export function parseOtlpListen(s: string | true): { host: string; port: number } {
  if (s === true || s === '') return { host: '127.0.0.1', port: OTLP_HTTP_PORT };
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`--otlp must be [HOST:]PORT, not "${s}"`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '') || '127.0.0.1', port };
}

export async function startOtlpReceiver(
  opts: OtlpReceiverOptions & { host?: string; port?: number },
): Promise<RunningOtlpReceiver> {
  const { app, stats } = await createOtlpReceiver(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? OTLP_HTTP_PORT });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { app, url, stats, close: () => app.close() };
}
