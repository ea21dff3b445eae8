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
import { createReadStream, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isoToNs, nextEventId, nowNs, type VigieEvent } from '../model/event.js';
import type { EventSink, Source, SourceStats } from './types.js';

export type AuditObject = Record<string, unknown>;

export interface AuditParse {
  events: AuditObject[];
  /** Reasons for the parts that were not audit events. */
  errors: string[];
}

function isObj(v: unknown): v is AuditObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fromGke(entry: AuditObject): AuditObject | undefined {
  const p = entry.protoPayload;
  if (!isObj(p)) return undefined;
  const method = String(p.methodName ?? '');
  // io.k8s.core.v1.pods.create / io.k8s.core.v1.pods.exec.create
  const parts = method.split('.');
  const verb = parts[parts.length - 1] || undefined;
  const resName = String(p.resourceName ?? '');
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
  const ts = String(entry.timestamp ?? entry.receiveTimestamp ?? '');
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: String((isObj(entry.operation) && entry.operation.id) || entry.insertId || ''),
    stage: 'ResponseComplete',
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

/** Adds the audit events found in one decoded JSON value. */
export function collectAudit(v: unknown, out: AuditParse, where = 'input'): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => collectAudit(x, out, `${where}[${i}]`));
    return;
  }
  if (!isObj(v)) {
    out.errors.push(`${where}: data not recognized as a k8s audit event (not an object)`);
    return;
  }
  if (v.kind === 'EventList') {
    if (!Array.isArray(v.items)) out.errors.push(`${where}: EventList without items`);
    else v.items.forEach((x, i) => collectAudit(x, out, `${where}.items[${i}]`));
    return;
  }
  if (v.kind === 'Event' || (v.kind === undefined && v.auditID !== undefined && v.verb !== undefined)) {
    out.events.push(v);
    return;
  }
  // Managed-cluster envelopes.
  if (typeof v.message === 'string') return decodeEmbedded(v.message, out, `${where}.message`);
  if (Array.isArray(v.logEvents)) {
    v.logEvents.forEach((x, i) => collectAudit(x, out, `${where}.logEvents[${i}]`));
    return;
  }
  if (Array.isArray(v.records)) {
    v.records.forEach((x, i) => collectAudit(x, out, `${where}.records[${i}]`));
    return;
  }
  if (isObj(v.properties) && typeof v.properties.log === 'string')
    return decodeEmbedded(v.properties.log, out, `${where}.properties.log`);
  if (isObj(v.protoPayload)) {
    const e = fromGke(v);
    if (e) out.events.push(e);
    return;
  }
  out.errors.push(`${where}: data not recognized as a k8s audit event`);
}

function decodeEmbedded(s: string, out: AuditParse, where: string): void {
  try {
    collectAudit(JSON.parse(s), out, where);
  } catch (e) {
    out.errors.push(`${where}: invalid JSON: ${(e as Error).message}`);
  }
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

/** One audit Event → the Vigie envelope (kind k8s_audit, the raw event in `audit`). */
export function auditToEvent(a: AuditObject, source = 'k8s-audit'): VigieEvent {
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
    id: typeof a.auditID === 'string' && a.auditID ? `${a.auditID}:${String(a.stage ?? '')}` : nextEventId(),
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
}

/** Reads an audit log file (all formats above) into events; errors are returned, not thrown. */
export async function readAuditFile(path: string): Promise<{ events: VigieEvent[]; errors: string[] }> {
  const text = await readFile(path, 'utf8');
  const r = parseAuditText(text, path);
  return { events: r.events.map((a) => auditToEvent(a)), errors: r.errors };
}

/** A live source over an audit log file: reads it, then follows appended JSON lines. */
export class K8sAuditFileSource implements Source {
  readonly name = 'k8s-audit-file';
  private readonly s: SourceStats = { events: 0, malformed: 0, lost: 0 };
  private offset = 0;
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  lastErrors: string[] = [];

  constructor(private readonly opts: AuditFileOptions) {}

  async start(sink: EventSink): Promise<void> {
    const first = await readAuditFile(this.opts.path);
    this.offset = statSync(this.opts.path).size;
    this.deliver(first.events, first.errors, sink);
    if (!this.opts.follow) return;
    // Poll the size against what was read (no missed append between the first read and a watcher's
    // own first stat).
    this.timer = setInterval(() => {
      this.reading = this.reading.then(() => this.readMore(sink)).catch(() => undefined);
    }, this.opts.pollMs ?? 250);
  }

  private deliver(events: VigieEvent[], errors: string[], sink: EventSink): void {
    this.s.malformed += errors.length;
    this.lastErrors = errors.slice(-20);
    for (const ev of events) {
      this.s.events++;
      if (!sink(ev)) this.s.lost++;
    }
  }

  private async readMore(sink: EventSink): Promise<void> {
    if (this.stopped) return;
    const size = statSync(this.opts.path).size;
    if (size < this.offset) this.offset = 0; // rotated or truncated
    if (size === this.offset) return;
    const chunks: Buffer[] = [];
    for await (const c of createReadStream(this.opts.path, { start: this.offset, end: size - 1 }))
      chunks.push(c as Buffer);
    const buf = Buffer.concat(chunks);
    // Only whole lines: a line still being written is read on the next poll.
    const lastNl = buf.lastIndexOf(10);
    if (lastNl < 0) return;
    this.offset += lastNl + 1;
    const events: VigieEvent[] = [];
    const errors: string[] = [];
    for (const line of buf.subarray(0, lastNl).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = parseAuditText(line, this.opts.path);
      events.push(...r.events.map((a) => auditToEvent(a)));
      errors.push(...r.errors);
    }
    this.deliver(events, errors, sink);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading;
  }

  stats(): SourceStats {
    return { ...this.s };
  }
}

/** Registry factory: on when config['k8s-audit-file'].path is set (follow: true to tail it). */
export function createK8sAuditFileSource(ctx: {
  config: Record<string, Record<string, unknown> | undefined>;
}): Source | undefined {
  const cfg = ctx.config['k8s-audit-file'];
  if (!cfg || typeof cfg.path !== 'string') return undefined;
  return new K8sAuditFileSource({ path: cfg.path, follow: cfg.follow === true });
}
