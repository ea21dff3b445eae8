/**
 * Kubernetes audit logs as Vigie events. Accepts what the k8saudit plugins accept and what managed
 * clusters export:
 *   - one audit.k8s.io Event (v1 or v1beta1) as a JSON object, a JSON list of them, an EventList,
 *     or JSON lines (one event, list or EventList per line);
 *   - EKS (CloudWatch Logs): objects whose `message` is the event as a JSON string, and
 *     `logEvents: [{message}]` batches;
 *   - AKS (Azure diagnostic settings): `records: [{properties: {log: "<event JSON>"}}]`;
 *   - GKE (Cloud Logging): entries with a `protoPayload` (type AuditLog), mapped onto an Event.
 * Input that is not an audit event is counted and skipped with a reason.
 */
import { readFile } from 'node:fs/promises';
import { EventIds, isoToNs, nowNs, type EventIdSource, type VigieEvent } from '../model/event.js';
import type { FilePositions } from './file-positions.js';
import { JsonLinesFileSource } from './json-lines-file.js';
import type { Source, SourceContext } from './types.js';

export type AuditObject = Record<string, unknown>;

export interface AuditParse {
  events: AuditObject[];
  /** Reasons for the parts that were not audit events. */
  errors: string[];
}

function isObj(v: unknown): v is AuditObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A scalar field as text; an object or array (never there in real entries) is ''. String() on a
 * deeply nested array would recurse until the stack runs out.
 */
function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** Subresources whose requests stay open (a stream): their audit events have a ResponseStarted stage. */
export const LONG_RUNNING_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

function fromGke(entry: AuditObject): AuditObject | undefined {
  const p = entry.protoPayload;
  if (!isObj(p)) return undefined;
  const method = text(p.methodName);
  // io.k8s.core.v1.pods.create / io.k8s.core.v1.pods.exec.create
  const parts = method.split('.');
  const verb = parts[parts.length - 1] || undefined;
  const resName = text(p.resourceName);
  // core/v1/namespaces/default/pods/nginx/exec
  const segs = resName.split('/');
  const objectRef: AuditObject = {};
  const nsAt = segs.indexOf('namespaces');
  if (nsAt >= 0 && segs.length > nsAt + 2) {
    objectRef.namespace = segs[nsAt + 1];
    objectRef.resource = segs[nsAt + 2];
    if (segs[nsAt + 3]) objectRef.name = segs[nsAt + 3];
    if (segs[nsAt + 4]) objectRef.subresource = segs[nsAt + 4];
  } else if (segs.length >= 3) {
    // group/version/resource/name for cluster-scoped objects
    objectRef.resource = segs[2];
    if (segs[3]) objectRef.name = segs[3];
  }
  const auth = isObj(p.authenticationInfo) ? p.authenticationInfo : {};
  const meta = isObj(p.requestMetadata) ? p.requestMetadata : {};
  const status = isObj(p.status) ? p.status : {};
  const labels = isObj(entry.labels) ? entry.labels : {};
  const grpc = typeof status.code === 'number' ? status.code : 0;
  const ts = text(entry.timestamp ?? entry.receiveTimestamp);
  // Cloud Logging writes one entry per request. For exec, attach and port-forward the API server's
  // own log has a ResponseStarted event (the stream opens) that Falco's rules match on
  // (`ka.stage = ResponseStarted`); the entry stands for it. Other requests complete at once.
  const longRunning = LONG_RUNNING_SUBRESOURCES.has(text(objectRef.subresource));
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: text((isObj(entry.operation) && entry.operation.id) || entry.insertId),
    stage: longRunning ? 'ResponseStarted' : 'ResponseComplete',
    requestURI: `/${resName}`,
    verb,
    user: { username: auth.principalEmail },
    sourceIPs: meta.callerIp ? [meta.callerIp] : undefined,
    userAgent: meta.callerSuppliedUserAgent,
    objectRef,
    // gRPC OK → HTTP 200, PERMISSION_DENIED → 403, NOT_FOUND → 404, others → 500.
    responseStatus: {
      code: grpc === 0 ? 200 : grpc === 7 ? 403 : grpc === 5 ? 404 : grpc === 16 ? 401 : 500,
    },
    requestObject: p.request,
    responseObject: p.response,
    annotations: {
      'authorization.k8s.io/decision': labels['authorization.k8s.io/decision'],
      'authorization.k8s.io/reason': labels['authorization.k8s.io/reason'],
    },
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
  };
}

/**
 * Arrays and envelopes nested deeper than this are refused: real payloads nest three or four levels
 * (records → message → EventList → items), and a body of thousands of `[` must not exhaust the stack.
 */
export const MAX_AUDIT_NESTING = 32;

/** Adds the audit events found in one decoded JSON value. */
export function collectAudit(v: unknown, out: AuditParse, where = 'input', depth = 0): void {
  if (depth > MAX_AUDIT_NESTING) {
    out.errors.push(`${where}: nested deeper than ${MAX_AUDIT_NESTING} levels, skipped`);
    return;
  }
  const inner = depth + 1;
  if (Array.isArray(v)) {
    v.forEach((x, i) => collectAudit(x, out, `${where}[${i}]`, inner));
    return;
  }
  if (!isObj(v)) {
    out.errors.push(`${where}: data not recognized as a k8s audit event (not an object)`);
    return;
  }
  if (v.kind === 'EventList') {
    if (!Array.isArray(v.items)) out.errors.push(`${where}: EventList without items`);
    else v.items.forEach((x, i) => collectAudit(x, out, `${where}.items[${i}]`, inner));
    return;
  }
  if (v.kind === 'Event' || (v.kind === undefined && v.auditID !== undefined && v.verb !== undefined)) {
    out.events.push(v);
    return;
  }
  // Managed-cluster envelopes.
  if (typeof v.message === 'string') return decodeEmbedded(v.message, out, `${where}.message`, inner);
  if (Array.isArray(v.logEvents)) {
    v.logEvents.forEach((x, i) => collectAudit(x, out, `${where}.logEvents[${i}]`, inner));
    return;
  }
  if (Array.isArray(v.records)) {
    v.records.forEach((x, i) => collectAudit(x, out, `${where}.records[${i}]`, inner));
    return;
  }
  if (isObj(v.properties) && typeof v.properties.log === 'string')
    return decodeEmbedded(v.properties.log, out, `${where}.properties.log`, inner);
  if (isObj(v.protoPayload)) {
    const e = fromGke(v);
    if (e) out.events.push(e);
    return;
  }
  out.errors.push(`${where}: data not recognized as a k8s audit event`);
}

function decodeEmbedded(s: string, out: AuditParse, where: string, depth: number): void {
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch (e) {
    out.errors.push(`${where}: invalid JSON: ${(e as Error).message}`);
    return;
  }
  collectAudit(value, out, where, depth);
}

/** Parses a whole payload: one JSON document, or JSON lines when that fails. */
export function parseAuditText(text: string, name = 'input'): AuditParse {
  const out: AuditParse = { events: [], errors: [] };
  const trimmed = text.trim();
  if (!trimmed) return out;
  try {
    collectAudit(JSON.parse(trimmed), out, name);
    return out;
  } catch {
    // JSON lines
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    try {
      collectAudit(JSON.parse(line), out, `${name}:${i + 1}`);
    } catch (e) {
      out.errors.push(`${name}:${i + 1}: invalid JSON: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * One audit Event → the Vigie envelope (kind k8s_audit, the raw event in `audit`). Its id is the
 * event's auditID and stage; `ids` names an event without an auditID.
 */
export function auditToEvent(a: AuditObject, source = 'k8s-audit', ids?: EventIdSource): VigieEvent {
  const tsText = (a.stageTimestamp ?? a.requestReceivedTimestamp ?? a.timestamp) as string | undefined;
  let ts: bigint;
  try {
    ts = tsText ? isoToNs(tsText) : nowNs();
  } catch {
    ts = nowNs();
  }
  const ref = isObj(a.objectRef) ? a.objectRef : {};
  const user = isObj(a.user) ? a.user : {};
  const username = typeof user.username === 'string' ? user.username : undefined;
  const sa = username?.startsWith('system:serviceaccount:')
    ? username.split(':').slice(2).join('/')
    : undefined;
  const ev: VigieEvent = {
    id:
      typeof a.auditID === 'string' && a.auditID
        ? `${a.auditID}:${text(a.stage)}`
        : (ids ?? new EventIds()).next(),
    kind: 'k8s_audit',
    ts,
    source,
    audit: a,
  };
  if (ref.namespace || ref.resource === 'pods' || sa) {
    ev.k8s = {
      namespace: typeof ref.namespace === 'string' ? ref.namespace : undefined,
      pod: ref.resource === 'pods' && typeof ref.name === 'string' ? ref.name : undefined,
      serviceAccount: sa,
    };
  }
  return ev;
}

export interface AuditFileOptions {
  path: string;
  /** Keep reading lines appended to the file (like tail -f). */
  follow?: boolean;
  pollMs?: number;
  /** Where the followed file was read up to; a restart resumes there. */
  positions?: FilePositions;
}

/** Reads an audit log file (all formats above) into events; errors are returned, not thrown. */
export async function readAuditFile(path: string): Promise<{ events: VigieEvent[]; errors: string[] }> {
  const text = await readFile(path, 'utf8');
  const r = parseAuditText(text, path);
  const ids = new EventIds();
  return { events: r.events.map((a) => auditToEvent(a, undefined, ids)), errors: r.errors };
}

/** One line of an audit log: the audit events it holds; the parts that are not are reported. */
export function auditLineToEvents(
  obj: unknown,
  ids: EventIdSource,
  skipped: (why: string) => void,
): VigieEvent[] {
  const out: AuditParse = { events: [], errors: [] };
  collectAudit(obj, out, 'line');
  for (const why of out.errors) skipped(why);
  return out.events.map((a) => auditToEvent(a, undefined, ids));
}

/**
 * A live source over an audit log file: reads it (one JSON document, or JSON lines), then follows
 * appended lines, resuming where it was left across restarts.
 */
export class K8sAuditFileSource extends JsonLinesFileSource {
  constructor(opts: AuditFileOptions) {
    super({
      name: 'k8s-audit-file',
      path: opts.path,
      follow: opts.follow,
      pollMs: opts.pollMs,
      positions: opts.positions,
      // A RequestResponse event carries the object twice (request and response), and an object may
      // be up to 1.5 MiB (etcd's limit).
      maxLine: 8 << 20,
      toEvents: auditLineToEvents,
      wholeDocument: (text, ids) => {
        const trimmed = text.trim();
        if (!trimmed) return { events: [], errors: [] };
        let doc: unknown;
        try {
          doc = JSON.parse(trimmed);
        } catch {
          // Not one document: JSON lines, read line by line.
          return undefined;
        }
        const out: AuditParse = { events: [], errors: [] };
        collectAudit(doc, out, opts.path);
        return { events: out.events.map((a) => auditToEvent(a, undefined, ids)), errors: out.errors };
      },
    });
  }
}

/** Registry factory: on when config['k8s-audit-file'].path is set (follow: true to tail it). */
export function createK8sAuditFileSource(
  ctx: Pick<SourceContext, 'config' | 'positions'>,
): Source | undefined {
  const cfg = ctx.config['k8s-audit-file'];
  if (!cfg || typeof cfg.path !== 'string') return undefined;
  return new K8sAuditFileSource({ path: cfg.path, follow: cfg.follow === true, positions: ctx.positions });
}
