/**
 * The OTLP/HTTP trace receiver with real OTLP payloads: JSON as OTLP/JSON writes it, protobuf built
 * by protobufjs from the same object and, independently, encoded by hand below (wire format by
 * field number and type, no library), gzip; partial success, 400/401/403/413/415/503; and spans
 * reaching the trace model through a running engine.
 */
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceModelFeeder } from '../../src/detect/traces/detector.js';
import { operationKey, serviceEdgeKey, TraceModel } from '../../src/detect/traces/model.js';
import { Engine } from '../../src/engine/engine.js';
import { startOtlpFor } from '../../src/engine/otlp.js';
import { createOutput } from '../../src/engine/output.js';
import { openStore, type Db } from '../../src/infra/db.js';
import type { SpanBody } from '../../src/model/span.js';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';
import { TokenStore } from '../../src/server/auth.js';
import { createOtlpReceiver, parseOtlpListen, startOtlpReceiver } from '../../src/server/otlp.js';
import { OTLP_TYPES } from '../../src/sources/otlp/decode.js';
import { OtlpSource } from '../../src/sources/otlp/source.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const ROOT = 'eee19b7ec3c1b174';
const CHILD = 'eee19b7ec3c1b173';
const T0 = 1_544_712_660_000_000_000n;

/** An OTLP/JSON request (the OTLP specification's example shape): a server span and its client call. */
function jsonRequest(badTraceId = false) {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'frontend' } },
            { key: 'k8s.pod.name', value: { stringValue: 'frontend-6d5f8b7c9-x2k4q' } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: 'my.library', version: '1.0.0' },
            spans: [
              {
                traceId: TRACE,
                spanId: ROOT,
                name: 'GET /cart',
                kind: 2,
                startTimeUnixNano: String(T0),
                endTimeUnixNano: String(T0 + 250_000_000n),
                attributes: [
                  { key: 'http.route', value: { stringValue: '/cart' } },
                  { key: 'http.status_code', value: { intValue: '500' } },
                  { key: 'nested', value: { kvlistValue: { values: [] } } },
                ],
                status: { code: 2, message: 'boom' },
              },
              {
                traceId: badTraceId ? 'not-hex' : TRACE,
                spanId: CHILD,
                parentSpanId: ROOT,
                name: 'cart.get',
                kind: 3,
                startTimeUnixNano: String(T0 + 1_000_000n),
                endTimeUnixNano: String(T0 + 201_000_000n),
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: TRACE,
                spanId: '00f067aa0ba902b7',
                parentSpanId: CHILD,
                name: 'GetCart',
                kind: 2,
                startTimeUnixNano: String(T0 + 2_000_000n),
                endTimeUnixNano: String(T0 + 200_000_000n),
                status: { code: 1 },
              },
            ],
          },
        ],
      },
    ],
  };
}

/** The same request as protobuf, through protobufjs from the JSON object (ids from hex to bytes). */
function protobufRequest(): Uint8Array {
  const doc = jsonRequest();
  for (const rs of doc.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const sp of ss.spans as Record<string, unknown>[])
        for (const k of ['traceId', 'spanId', 'parentSpanId'])
          if (typeof sp[k] === 'string') sp[k] = Buffer.from(sp[k] as string, 'hex');
  return OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(doc)).finish();
}

// ---- An independent encoder: the protobuf wire format by hand (varint, length-delimited, fixed64).
const varint = (n: bigint): number[] => {
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
};
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const ld = (field: number, bytes: number[]) => [...tag(field, 2), ...varint(BigInt(bytes.length)), ...bytes];
const str = (field: number, s: string) => ld(field, [...Buffer.from(s, 'utf8')]);
const hexb = (field: number, h: string) => ld(field, [...Buffer.from(h, 'hex')]);
const vint = (field: number, n: number) => [...tag(field, 0), ...varint(BigInt(n))];
const fixed64 = (field: number, n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return [...tag(field, 1), ...b];
};
/** KeyValue{key=1, value=2: AnyValue{string_value=1}} */
const kvString = (field: number, k: string, v: string) => ld(field, [...str(1, k), ...ld(2, str(1, v))]);

/**
 * ExportTraceServiceRequest{resource_spans=1: ResourceSpans{resource=1: Resource{attributes=1},
 * scope_spans=2: ScopeSpans{spans=2: Span{trace_id=1, span_id=2, parent_span_id=4, name=5, kind=6,
 * start=7 (fixed64), end=8 (fixed64), status=15: Status{code=3}}}}}.
 */
function handEncoded(): Buffer {
  const span = [
    ...hexb(1, TRACE),
    ...hexb(2, '1111111111111111'),
    ...hexb(4, ROOT),
    ...str(5, 'SELECT carts'),
    ...vint(6, 3),
    ...fixed64(7, T0 + 5_000_000n),
    ...fixed64(8, T0 + 47_000_000n),
    ...ld(15, vint(3, 2)),
  ];
  const rs = [...ld(1, kvString(1, 'service.name', 'cart-db')), ...ld(2, ld(2, span))];
  return Buffer.from(ld(1, rs));
}

describe('OTLP/HTTP receiver', () => {
  let db: Db;
  let tokens: TokenStore;
  let responder: string;
  let viewer: string;
  const received: SpanBody[] = [];
  let dropAll = false;
  let rx: Awaited<ReturnType<typeof createOtlpReceiver>>;
  const metrics = new MetricsRegistry();

  beforeAll(async () => {
    db = openStore(':memory:');
    tokens = new TokenStore(db);
    responder = tokens.create('collector', 'responder').token;
    viewer = tokens.create('reader', 'viewer').token;
    rx = await createOtlpReceiver({
      tokens,
      metrics,
      bodyLimit: 64 * 1024,
      onSpans: (spans) => {
        if (dropAll) return spans.length;
        received.push(...spans);
        return 0;
      },
    });
  });
  afterAll(async () => {
    await rx.app.close();
    db.close();
  });

  /** `token` '' sends no Authorization header. */
  const post = (body: string | Buffer, headers: Record<string, string>, token: string = responder) =>
    rx.app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      payload: body,
    });

  it('takes OTLP/JSON: spans with service, parent, status, bounded scalar attributes; answers an empty ExportTraceServiceResponse', async () => {
    received.length = 0;
    const r = await post(JSON.stringify(jsonRequest()), { 'content-type': 'application/json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(r.body)).toEqual({});
    expect(received).toHaveLength(3);
    expect(received[0]).toEqual({
      traceId: TRACE,
      spanId: ROOT,
      service: 'frontend',
      operation: 'GET /cart',
      startNs: T0,
      durationNs: 250_000_000,
      status: 'error',
      kind: 2,
      pod: 'frontend-6d5f8b7c9-x2k4q',
      attributes: { 'http.route': '/cart', 'http.status_code': 500 },
    });
    expect(received[1]).toMatchObject({ parentSpanId: ROOT, service: 'frontend', status: 'unset', kind: 3 });
    expect(received[2]).toMatchObject({
      service: 'cart',
      parentSpanId: CHILD,
      status: 'ok',
      durationNs: 198_000_000,
    });
  });

  it('takes protobuf built from the same object, and answers in protobuf', async () => {
    const before = received.length;
    const r = await post(Buffer.from(protobufRequest()), { 'content-type': 'application/x-protobuf' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    const resp = OTLP_TYPES.response.toObject(OTLP_TYPES.response.decode(r.rawPayload));
    expect(resp).toEqual({});
    expect(received.slice(before)).toEqual(received.slice(0, 3));
  });

  it('reads a request encoded by hand (no protobuf library), also gzipped', async () => {
    const bytes = handEncoded();
    // The hand encoding and protobufjs agree byte for byte on this canonical message.
    const viaLibrary = OTLP_TYPES.request.encode(OTLP_TYPES.request.decode(bytes)).finish();
    expect(Buffer.from(viaLibrary).toString('hex')).toBe(bytes.toString('hex'));
    for (const [body, headers] of [
      [bytes, { 'content-type': 'application/x-protobuf' }],
      [gzipSync(bytes), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }],
    ] as const) {
      received.length = 0;
      const r = await post(body, headers);
      expect(r.statusCode).toBe(200);
      expect(received).toEqual([
        {
          traceId: TRACE,
          spanId: '1111111111111111',
          parentSpanId: ROOT,
          service: 'cart-db',
          operation: 'SELECT carts',
          startNs: T0 + 5_000_000n,
          durationNs: 42_000_000,
          status: 'error',
          kind: 3,
        },
      ]);
    }
  });

  it('rejects unusable spans one by one (partial success), in JSON and protobuf', async () => {
    received.length = 0;
    const r = await post(JSON.stringify(jsonRequest(true)), { 'content-type': 'application/json' });
    expect(r.statusCode).toBe(200);
    const body = JSON.parse(r.body) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(body.partialSuccess.rejectedSpans).toBe('1');
    expect(body.partialSuccess.errorMessage).toMatch(/scopeSpans\[0\]\.spans\[1\]: traceId must be 16 bytes/);
    expect(received).toHaveLength(2);
    // A span whose end is before its start, in protobuf: partial_success in the protobuf answer.
    const bad = OTLP_TYPES.request.decode(protobufRequest()) as unknown as {
      resourceSpans: { scopeSpans: { spans: { endTimeUnixNano: number }[] }[] }[];
    };
    bad.resourceSpans[1].scopeSpans[0].spans[0].endTimeUnixNano = 1;
    const r2 = await post(Buffer.from(OTLP_TYPES.request.encode(bad as never).finish()), {
      'content-type': 'application/x-protobuf',
    });
    expect(r2.statusCode).toBe(200);
    const resp = OTLP_TYPES.response.toObject(OTLP_TYPES.response.decode(r2.rawPayload), {
      longs: String,
    }) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    expect(resp.partialSuccess.rejectedSpans).toBe('1');
    expect(resp.partialSuccess.errorMessage).toMatch(/endTimeUnixNano before startTimeUnixNano/);
  });

  it('answers 400 with a google.rpc.Status to a body that does not decode, and counts it', async () => {
    const malformed = rx.stats.malformed;
    const a = await post('{"resourceSpans": [', { 'content-type': 'application/json' });
    expect(a.statusCode).toBe(400);
    expect(JSON.parse(a.body)).toMatchObject({ code: 3, message: expect.stringMatching(/^JSON body: /) });
    const b = await post(Buffer.from('0aff01', 'hex'), { 'content-type': 'application/x-protobuf' });
    expect(b.statusCode).toBe(400);
    expect(OTLP_TYPES.status.toObject(OTLP_TYPES.status.decode(b.rawPayload))).toMatchObject({ code: 3 });
    const c = await post('{"resourceSpans": "x"}', { 'content-type': 'application/json' });
    expect(c.statusCode).toBe(400);
    const d = await post(Buffer.from('not gzip'), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(d.statusCode).toBe(400);
    const e = await post('{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(e.statusCode).toBe(400);
    expect(JSON.parse(e.body).message).toMatch(/unsupported Content-Encoding "br"/);
    expect(rx.stats.malformed - malformed).toBe(5);
  });

  it('answers 415 to another content type', async () => {
    const r = await post('hello', { 'content-type': 'text/plain' });
    expect(r.statusCode).toBe(415);
    expect(rx.stats.unsupported).toBeGreaterThanOrEqual(1);
  });

  it('refuses a body over the limit, sent or once inflated (413)', async () => {
    const oversized = rx.stats.oversized;
    const big = Buffer.alloc(100 * 1024, 0x20);
    const a = await post(big, { 'content-type': 'application/json' });
    expect(a.statusCode).toBe(413);
    const bomb = gzipSync(Buffer.alloc(10 << 20, 0x20)); // 10 MiB of spaces, ~10 KiB gzipped
    expect(bomb.length).toBeLessThan(64 * 1024);
    const b = await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(b.statusCode).toBe(413);
    expect(rx.stats.oversized - oversized).toBe(2);
  });

  it('refuses without a token (401), with a wrong one (401), with a viewer token (403): nothing is taken', async () => {
    received.length = 0;
    const body = JSON.stringify(jsonRequest());
    const none = await post(body, { 'content-type': 'application/json' }, '');
    expect(none.statusCode).toBe(401);
    expect(none.headers.connection).toBe('close');
    expect(JSON.parse(none.body)).toMatchObject({ code: 16 });
    expect(
      (await post(body, { 'content-type': 'application/json' }, 'vg_000000000000_wrong')).statusCode,
    ).toBe(401);
    expect((await post(body, { 'content-type': 'application/json' }, viewer)).statusCode).toBe(403);
    expect(received).toHaveLength(0);
    expect(metrics.render()).toMatch(/vigie_otlp_requests_total\{status="401"\} 2/);
  });

  it('answers 503 with Retry-After when the events queue took none of the spans', async () => {
    dropAll = true;
    try {
      const r = await post(JSON.stringify(jsonRequest()), { 'content-type': 'application/json' });
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
    } finally {
      dropAll = false;
    }
    expect(metrics.render()).toMatch(/vigie_otlp_spans_total\{outcome="dropped"\} 3/);
  });

  it('parses --otlp [HOST:]PORT', () => {
    expect(parseOtlpListen(true)).toEqual({ host: '127.0.0.1', port: 4318 });
    expect(parseOtlpListen('0.0.0.0:14318')).toEqual({ host: '0.0.0.0', port: 14318 });
    expect(parseOtlpListen('4319')).toEqual({ host: '127.0.0.1', port: 4319 });
    expect(parseOtlpListen('[::1]:4318')).toEqual({ host: '::1', port: 4318 });
    expect(() => parseOtlpListen('nope')).toThrow(/--otlp must be/);
  });
});

/** POST with the path exactly as written (no URL normalization on the way). */
function rawPost(
  base: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('OTLP receiver: authorization on the route that runs, in every spelling', () => {
  it("answers 401 or the router's 404 to every spelling of /v1/traces without a token; takes nothing", async () => {
    const db = openStore(':memory:');
    const taken: SpanBody[] = [];
    const rx = await startOtlpReceiver({
      port: 0,
      tokens: new TokenStore(db),
      onSpans: (spans) => taken.push(...spans) && 0,
      authFailureLimit: { max: 10_000, windowMs: 60_000 },
    });
    try {
      const spellings = [
        '/v1/traces',
        '/V1/traces',
        '/v1/TRACES',
        '/v1/traces/',
        '/v1//traces',
        '//v1/traces',
        '/%761/traces',
        '/v1/%74races',
        '/v1%2ftraces',
        '/x/../v1/traces',
        '/v1/x/../traces',
        '/./v1/traces',
        '/v1/traces?x=/',
        '/v1/traces;x',
        '/v1/traces%00',
      ];
      const body = Buffer.from(JSON.stringify(jsonRequest()));
      for (const path of spellings) {
        const a = await rawPost(rx.url, path, { 'content-type': 'application/json' }, body);
        const routerNotFound =
          a.status === 404 &&
          /^Route POST:.* not found$/.test((JSON.parse(a.body) as { message?: string }).message ?? '');
        expect(a.status === 401 || routerNotFound, `${path}: ${a.status} ${a.body}`).toBe(true);
      }
      expect(taken).toEqual([]);
    } finally {
      await rx.close();
      db.close();
    }
  });
});

describe('OTLP spans through a running engine into the trace model', () => {
  it('builds the call graph from spans posted over HTTP', async () => {
    const db = openStore(':memory:');
    const token = new TokenStore(db).create('collector', 'responder').token;
    const model = new TraceModel();
    const engine = new Engine({
      db,
      hostname: 'h',
      output: createOutput('json', new PassThrough(), new PassThrough()),
      sources: [new OtlpSource()],
      detectors: [new TraceModelFeeder(model)],
      traces: model,
      responder: null,
      characterizer: null,
    });
    await engine.start();
    const rx = await startOtlpFor(engine, db, '127.0.0.1:0');
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          `${rx.url}/v1/traces`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(Buffer.from(protobufRequest()));
      });
      expect(status).toBe(200);
      // A body that does not decode is the source's malformed input too.
      const bad = await rawPost(
        rx.url,
        '/v1/traces',
        { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        Buffer.from('{'),
      );
      expect(bad.status).toBe(400);
      expect(engine.stats().sources.otlp).toMatchObject({ events: 3, malformed: 1 });
    } finally {
      await rx.close();
      await engine.stop(); // drains the events queue; the feeder's close makes every window final
    }
    expect(engine.stats().eventsByKind.span).toBe(3);
    const [w] = model.windows();
    expect(w.spans).toBe(3);
    expect(Object.fromEntries(w.serviceEdges)).toEqual({
      [serviceEdgeKey('frontend', 'frontend')]: 1,
      [serviceEdgeKey('frontend', 'cart')]: 1,
    });
    expect([...w.operations.get(operationKey('frontend', 'cart.get'))!.children.keys()]).toEqual([
      operationKey('cart', 'GetCart'),
    ]);
    expect(w.operations.get(operationKey('frontend', 'GET /cart'))!.errors).toBe(1);
    db.close();
  });
});
