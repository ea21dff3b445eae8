/**
 * The shared shape of Vigie's event webhooks (POST /k8s-audit, POST /falco): the body is read raw
 * (in a child context, so the rest of the API keeps its parsers) up to a size limit, parsed as JSON,
 * and handed to the route's own converter. Malformed JSON gets 400 with the parser's reason and is
 * counted; a body over the limit gets 413 and is counted; `GET <path>/stats` returns the counters.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RouteAuth } from '../app.js';

export interface JsonWebhookStats {
  requests: number;
  malformed: number;
  oversized: number;
}

export async function registerJsonWebhook<S extends JsonWebhookStats>(
  app: FastifyInstance,
  opts: {
    path: string;
    bodyLimit: number;
    stats: S;
    /** Answers one request whose body parsed as JSON. */
    handle: (doc: unknown, reply: FastifyReply) => Promise<FastifyReply> | FastifyReply;
    /**
     * Who may post (and who may read the counters), checked by the server's route-level hook on the
     * route that matched. Inside Vigie's API server events come only from responders and above.
     */
    auth?: { post: RouteAuth; stats: RouteAuth };
    /** Runs before the body is parsed; may answer (and so end) the request itself. */
    before?: (req: { headers: Record<string, unknown> }, reply: FastifyReply) => FastifyReply | undefined;
  },
): Promise<void> {
  const { path, bodyLimit, stats } = opts;
  await app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
    sub.addHook('onResponse', async (_req, reply) => {
      if (reply.statusCode === 413) stats.oversized++;
    });
    const auth = opts.auth ?? { post: 'responder', stats: 'viewer' };
    sub.post(path, { bodyLimit, config: { auth: auth.post } }, async (req, reply) => {
      stats.requests++;
      const early = opts.before?.(req, reply);
      if (early) return early;
      let doc: unknown;
      try {
        doc = JSON.parse(typeof req.body === 'string' ? req.body : '');
      } catch (e) {
        stats.malformed++;
        return reply.code(400).send({ error: 'malformed JSON', reason: (e as Error).message });
      }
      return opts.handle(doc, reply);
    });
    sub.get(`${path}/stats`, { config: { auth: auth.stats } }, async () => stats);
  });
}
