/**
 * One span of a distributed trace, as every trace source hands it on (the OTLP receiver, the Nezha
 * data-set reader): the service and operation it timed, its place in its trace, its times and its
 * outcome. It travels in a `span` event (`VigieEvent.span`); the trace model (detect/traces/) builds
 * the call graph and per-operation statistics from it.
 */

/** OTLP's status codes: unset (0), ok (1), error (2). Unset counts as success for error rates. */
export type SpanStatus = 'unset' | 'ok' | 'error';

/** Attribute values a span keeps: scalars only, bounded (see `boundAttributes`). */
export type SpanAttributes = Record<string, string | number | boolean>;

export interface SpanBody {
  /** 32 lower-case hex digits (16 bytes). */
  traceId: string;
  /** 16 lower-case hex digits (8 bytes). */
  spanId: string;
  /** The parent's span id; absent for a trace's entry (root) span. */
  parentSpanId?: string;
  /** The service that ran the operation (OTLP `service.name`; Nezha: the pod's Deployment). */
  service: string;
  /** The operation (the span's name: a route, a method). */
  operation: string;
  /** Start, ns since the epoch. */
  startNs: bigint;
  /** Duration in ns (a double holds 104 days exactly). */
  durationNs: number;
  status: SpanStatus;
  /** OTLP span kind (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  kind?: number;
  /** The pod that ran it, when known (Nezha's PodName, OTLP `k8s.pod.name`). */
  pod?: string;
  attributes?: SpanAttributes;
}

/** At most this many attributes are kept per span, the rest counted in `dropped`. */
export const MAX_SPAN_ATTRIBUTES = 32;
/** Keys and string values are cut to this many characters. */
export const MAX_SPAN_ATTRIBUTE_CHARS = 256;

/**
 * The attributes a span keeps: the first `MAX_SPAN_ATTRIBUTES` scalar ones, keys and strings cut to
 * `MAX_SPAN_ATTRIBUTE_CHARS`. A span is outside input: its size must not decide Vigie's memory.
 * Returns the kept attributes and how many were dropped (too many, or not a scalar).
 */
export function boundAttributes(pairs: Iterable<readonly [string, unknown]>): {
  attributes?: SpanAttributes;
  dropped: number;
} {
  let out: SpanAttributes | undefined;
  let n = 0;
  let dropped = 0;
  for (const [k, v] of pairs) {
    const ok =
      typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok || n >= MAX_SPAN_ATTRIBUTES) {
      dropped++;
      continue;
    }
    out ??= Object.create(null) as SpanAttributes;
    const key = k.slice(0, MAX_SPAN_ATTRIBUTE_CHARS);
    if (key in out) {
      dropped++;
      continue;
    }
    out[key] = typeof v === 'string' ? v.slice(0, MAX_SPAN_ATTRIBUTE_CHARS) : v;
    n++;
  }
  return { attributes: out, dropped };
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** A trace id as spans carry it: 32 lower-case hex digits, not all zero (OTLP: all-zero is invalid). */
export function isTraceId(s: string): boolean {
  return HEX32.test(s) && !/^0+$/.test(s);
}

/** A span id: 16 lower-case hex digits, not all zero. */
export function isSpanId(s: string): boolean {
  return HEX16.test(s) && !/^0+$/.test(s);
}
