/**
 * POST /falco: Falco's alerts pushed over HTTP (Falcosidekick's webhook output, or Falco's own
 * http_output behind something that adds Vigie's token): one alert as Falco's JSON, or an array of
 * them. Each becomes the same Vigie alert as a line of Falco's JSON file (see sources/falco.ts) and
 * takes the alert path before the answer: a 200 means the alerts are stored. Malformed JSON gets 400
 * with the reason and is counted; a body over the limit gets 413; alerts that are not Falco's shape
 * are skipped with their reason.
 */
import type { FastifyInstance } from 'fastify';
import { hostname as osHostname } from 'node:os';
import type { Alert } from '../../model/alert.js';
import { falcoLineToAlerts } from '../../sources/falco.js';
import { registerJsonWebhook } from './json-webhook.js';

export interface FalcoRouteOptions {
  /** Receives the alerts of one request; returns how many were not taken. */
  onAlerts: (alerts: Alert[]) => number | void | Promise<number | void>;
  /** Host named by alerts that do not name theirs (default: this machine's). */
  hostname?: string;
  /** Largest accepted body in bytes (default 1 MiB). */
  bodyLimit?: number;
  path?: string;
}

export interface FalcoRouteStats {
  requests: number;
  events: number;
  malformed: number;
  rejected: number;
  oversized: number;
  dropped: number;
}

export async function registerFalcoRoute(
  app: FastifyInstance,
  opts: FalcoRouteOptions,
): Promise<FalcoRouteStats> {
  const stats: FalcoRouteStats = {
    requests: 0,
    events: 0,
    malformed: 0,
    rejected: 0,
    oversized: 0,
    dropped: 0,
  };
  await registerJsonWebhook(app, {
    path: opts.path ?? '/falco',
    bodyLimit: opts.bodyLimit ?? 1 << 20,
    stats,
    handle: async (doc, reply) => {
      const items = Array.isArray(doc) ? doc : [doc];
      const events: Alert[] = [];
      const reasons: string[] = [];
      const host = opts.hostname ?? osHostname();
      items.forEach((item, i) => {
        try {
          events.push(...falcoLineToAlerts(item, host));
        } catch (e) {
          reasons.push(`item ${i}: ${(e as Error).message}`);
        }
      });
      if (events.length === 0) {
        stats.rejected++;
        return reply.code(400).send({ error: 'no Falco alert in the body', reasons: reasons.slice(0, 10) });
      }
      stats.events += events.length;
      const dropped = await opts.onAlerts(events);
      if (typeof dropped === 'number') stats.dropped += dropped;
      return reply
        .code(200)
        .send({ accepted: events.length, skipped: reasons.length, reasons: reasons.slice(0, 10) });
    },
  });
  return stats;
}
