/**
 * POST /k8s-audit: the Kubernetes audit webhook (the API server's --audit-webhook-config-file points
 * here), accepting an audit Event or an EventList as the k8saudit plugin does. Malformed JSON gets a
 * 400 with the reason and is counted; a body over the limit gets a 413.
 */
import type { FastifyInstance } from 'fastify';
import type { VigieEvent } from '../../model/event.js';
import { auditToEvent, collectAudit, type AuditParse } from '../../sources/k8s-audit-file.js';
import { registerJsonWebhook } from './json-webhook.js';

export interface K8sAuditRouteOptions {
  /** Receives the events of one request; returns how many were dropped (bounded queue full), if known. */
  onEvents: (events: VigieEvent[]) => number | void;
  /** Largest accepted body in bytes (default 4 MiB). */
  bodyLimit?: number;
  /**
   * When set, the POST and its stats require `Authorization: Bearer <token>`, checked before the
   * body is read (for `vigie rules serve`; Vigie's API server checks roles instead).
   */
  token?: string;
  path?: string;
}

export interface K8sAuditRouteStats {
  requests: number;
  events: number;
  malformed: number;
  oversized: number;
  rejected: number;
  dropped: number;
}

export async function registerK8sAuditRoute(
  app: FastifyInstance,
  opts: K8sAuditRouteOptions,
): Promise<K8sAuditRouteStats> {
  const stats: K8sAuditRouteStats = {
    requests: 0,
    events: 0,
    malformed: 0,
    oversized: 0,
    rejected: 0,
    dropped: 0,
  };
  await registerJsonWebhook(app, {
    path: opts.path ?? '/k8s-audit',
    bodyLimit: opts.bodyLimit ?? 4 << 20,
    stats,
    token: opts.token,
    handle: (doc, reply) => {
      const parsed: AuditParse = { events: [], errors: [] };
      collectAudit(doc, parsed, 'body');
      if (parsed.events.length === 0) {
        stats.rejected++;
        return reply
          .code(400)
          .send({ error: 'not a k8s audit Event or EventList', reasons: parsed.errors.slice(0, 10) });
      }
      const events = parsed.events.map((a) => auditToEvent(a, 'k8s-audit-webhook'));
      stats.events += events.length;
      const dropped = opts.onEvents(events);
      if (typeof dropped === 'number') stats.dropped += dropped;
      return reply.code(200).send({
        accepted: events.length,
        skipped: parsed.errors.length,
        reasons: parsed.errors.slice(0, 10),
      });
    },
  });
  return stats;
}
