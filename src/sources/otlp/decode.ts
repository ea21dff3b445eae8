/**
 * OTLP/HTTP trace requests → spans (model/span.ts), and the answers OTLP specifies. The wire format
 * is decoded by protobufjs from the published schema (schema.ts); this module only maps the decoded
 * message to spans. Both encodings take the same path: protobuf is decoded to a message; OTLP/JSON
 * (the proto3 JSON mapping, with trace and span ids as hex instead of base64, as OTLP/HTTP specifies)
 * has its ids turned into bytes, then becomes the same message through the schema (`fromObject`).
 *
 * A request that cannot be decoded is an `OtlpDecodeError` (the receiver answers 400). Spans that
 * decode but cannot be used (ids of the wrong length or all zero, no start time, an end before the
 * start) are rejected one by one and counted: OTLP's partial success.
 */
import protobuf from 'protobufjs';
import { boundAttributes, type SpanBody, type SpanStatus } from '../../model/span.js';
import {
  OTLP_RESOURCE_PROTO,
  OTLP_SPAN_PROTO,
  OTLP_TRACE_PROTO,
  OTLP_TRACE_SERVICE_PROTO,
  RPC_STATUS_PROTO,
} from './schema.js';

/** A request that is not an ExportTraceServiceRequest in the encoding it claims. */
export class OtlpDecodeError extends Error {
  constructor(
    /** What was decoded: `protobuf body`, `JSON body`. */
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${input}: ${reason}`);
    this.name = 'OtlpDecodeError';
  }
}

/** The schema, parsed once per process into an immutable root (read only after this). */
function loadSchema() {
  const root = new protobuf.Root();
  for (const src of [
    OTLP_TRACE_PROTO,
    OTLP_RESOURCE_PROTO,
    OTLP_SPAN_PROTO,
    OTLP_TRACE_SERVICE_PROTO,
    RPC_STATUS_PROTO,
  ])
    protobuf.parse(src, root, { keepCase: false });
  root.resolveAll();
  return {
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    status: root.lookupType('google.rpc.Status'),
  };
}
export const OTLP_TYPES: Readonly<ReturnType<typeof loadSchema>> = loadSchema();

/** Decoded shapes (protobufjs `toObject` with longs as strings, bytes kept as bytes). */
interface AnyValueObj {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: unknown;
  kvlistValue?: unknown;
  bytesValue?: unknown;
}
interface KeyValueObj {
  key?: string;
  value?: AnyValueObj;
}
interface SpanObj {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: KeyValueObj[];
  status?: { code?: number; message?: string };
}
interface RequestObj {
  resourceSpans?: {
    resource?: { attributes?: KeyValueObj[] };
    scopeSpans?: { spans?: SpanObj[] }[];
  }[];
}

export interface DecodedTraces {
  spans: SpanBody[];
  /** Spans that decoded but could not be used. */
  rejected: number;
  /** The first reasons (at most 10). */
  reasons: string[];
}

const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false };

/** Decodes a protobuf ExportTraceServiceRequest. */
export function decodeTracesProtobuf(body: Uint8Array): DecodedTraces {
  let obj: RequestObj;
  try {
    const msg = OTLP_TYPES.request.decode(body);
    obj = OTLP_TYPES.request.toObject(msg, toObjectOptions) as RequestObj;
  } catch (e) {
    throw new OtlpDecodeError('protobuf body', reasonOf(e));
  }
  return spansOf(obj);
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest (already the text of the body). */
export function decodeTracesJson(text: string): DecodedTraces {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError('JSON body', reasonOf(e));
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new OtlpDecodeError('JSON body', 'not an ExportTraceServiceRequest object');
  let obj: RequestObj;
  try {
    hexIdsToBytes(doc as Record<string, unknown>);
    const msg = OTLP_TYPES.request.fromObject(doc as Record<string, unknown>);
    obj = OTLP_TYPES.request.toObject(msg, toObjectOptions) as RequestObj;
  } catch (e) {
    throw new OtlpDecodeError('JSON body', reasonOf(e));
  }
  return spansOf(obj);
}

/** A library's or the runtime's message, one line and bounded (a deep input overflows the stack). */
function reasonOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return (m.split('\n')[0] || 'cannot decode').slice(0, 300);
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * OTLP/JSON writes trace and span ids as hex, where the proto3 JSON mapping would use base64: they
 * become bytes before the schema reads the object. A string that is not hex becomes an empty id (the
 * span is then rejected for its id, not the whole request).
 */
function hexIdsToBytes(doc: Record<string, unknown>): void {
  const fix = (o: Record<string, unknown>, keys: readonly string[]) => {
    for (const k of keys) {
      const v = o[k];
      if (typeof v === 'string') o[k] = HEX.test(v) ? Buffer.from(v, 'hex') : new Uint8Array(0);
    }
  };
  const arr = (v: unknown): Record<string, unknown>[] =>
    Array.isArray(v)
      ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null)
      : [];
  for (const rs of arr(doc.resourceSpans))
    for (const ss of arr(rs.scopeSpans))
      for (const sp of arr(ss.spans)) {
        fix(sp, ['traceId', 'spanId', 'parentSpanId']);
        for (const l of arr(sp.links)) fix(l, ['traceId', 'spanId']);
      }
}

const hex = (b: Uint8Array | undefined): string =>
  b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '';
const zero = (s: string): boolean => /^0*$/.test(s);

function scalar(v: AnyValueObj | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  return undefined;
}

function attr(attrs: KeyValueObj[] | undefined, key: string): string | undefined {
  for (const a of attrs ?? []) if (a.key === key && a.value?.stringValue) return a.value.stringValue;
  return undefined;
}

const STATUS: readonly SpanStatus[] = ['unset', 'ok', 'error'];

function spansOf(req: RequestObj): DecodedTraces {
  const out: DecodedTraces = { spans: [], rejected: 0, reasons: [] };
  const reject = (why: string) => {
    out.rejected++;
    if (out.reasons.length < 10) out.reasons.push(why);
  };
  (req.resourceSpans ?? []).forEach((rs, r) => {
    const ra = rs.resource?.attributes;
    // OTLP: a resource without service.name is `unknown_service`.
    const service = (attr(ra, 'service.name') ?? 'unknown_service').slice(0, 256);
    const pod = attr(ra, 'k8s.pod.name')?.slice(0, 256);
    (rs.scopeSpans ?? []).forEach((ss, s) => {
      (ss.spans ?? []).forEach((sp, i) => {
        const at = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        const traceId = hex(sp.traceId);
        const spanId = hex(sp.spanId);
        const parent = hex(sp.parentSpanId);
        if (traceId.length !== 32 || zero(traceId))
          return reject(`${at}: traceId must be 16 bytes, not all zero`);
        if (spanId.length !== 16 || zero(spanId))
          return reject(`${at}: spanId must be 8 bytes, not all zero`);
        if (parent !== '' && (parent.length !== 16 || zero(parent)))
          return reject(`${at}: parentSpanId must be empty or 8 bytes, not all zero`);
        const start = BigInt(sp.startTimeUnixNano ?? '0');
        const end = BigInt(sp.endTimeUnixNano ?? '0');
        if (start <= 0n) return reject(`${at}: no startTimeUnixNano`);
        if (end < start) return reject(`${at}: endTimeUnixNano before startTimeUnixNano`);
        const { attributes } = boundAttributes(
          (sp.attributes ?? []).map((a) => [a.key ?? '', scalar(a.value)] as const),
        );
        const span: SpanBody = {
          traceId,
          spanId,
          service,
          operation: (sp.name ?? '').slice(0, 256),
          startNs: start,
          durationNs: Number(end - start),
          status: STATUS[sp.status?.code ?? 0] ?? 'unset',
        };
        if (parent) span.parentSpanId = parent;
        if (sp.kind) span.kind = sp.kind;
        if (pod) span.pod = pod;
        if (attributes) span.attributes = attributes;
        out.spans.push(span);
      });
    });
  });
  return out;
}

/** The success answer, in the request's encoding; partial success when spans were rejected. */
export function exportResponse(
  encoding: 'json' | 'protobuf',
  rejected: number,
  message: string,
): Uint8Array | string {
  const partial =
    rejected > 0 || message ? { partialSuccess: { rejectedSpans: rejected, errorMessage: message } } : {};
  if (encoding === 'json')
    return JSON.stringify(
      rejected > 0 || message
        ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } }
        : {},
    );
  return OTLP_TYPES.response.encode(OTLP_TYPES.response.fromObject(partial)).finish();
}

/** google.rpc.Status codes OTLP/HTTP answers carry. */
export const RPC_CODE = {
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** An error answer's body: a google.rpc.Status in the request's encoding. */
export function statusBody(
  encoding: 'json' | 'protobuf',
  code: number,
  message: string,
): Uint8Array | string {
  if (encoding === 'json') return JSON.stringify({ code, message });
  return OTLP_TYPES.status.encode(OTLP_TYPES.status.fromObject({ code, message })).finish();
}
