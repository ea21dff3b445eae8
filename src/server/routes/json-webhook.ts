/**
 * The shared shape of Vigie's event webhooks (POST /k8s-audit, POST /falco): the body is read raw
 * (in a child context, so the rest of the API keeps its parsers) up to a size limit, parsed as JSON,
 * and handed to the route's own converter. Malformed JSON gets 400 with the parser's reason and is
 * counted; a body over the limit gets 413 and is counted; `GET <path>/stats` returns the counters.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RouteAuth } from '../app.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether `authorization` is `Bearer <token>`. Both sides are hashed to the same length and compared
 * in constant time, so the answer's timing tells nothing of how much of a guess was right.
 */
export function bearerMatches(authorization: unknown, token: string): boolean {
  const m = typeof authorization === 'string' ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
  return timingSafeEqual(digest(m ? m[1].trim() : ''), digest(token)) && m !== null;
}

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
    /**
     * For a server without Vigie's role check (`vigie rules serve`): when set, the POST and its
     * stats both require `Authorization: Bearer <token>`, checked when the request arrives, before
     * its body is read.
     */
    token?: string;
  },
): Promise<void> {
  const { path, bodyLimit, stats } = opts;
  await app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
    sub.addHook('onResponse', async (_req, reply) => {
      if (reply.statusCode === 413) stats.oversized++;
    });
    const token = opts.token;
    if (token !== undefined)
      sub.addHook('onRequest', async (req, reply) => {
        if (!bearerMatches(req.headers.authorization, token))
          // The connection is closed rather than drained: an unauthenticated body is never read.
          return reply
            .code(401)
            .header('connection', 'close')
            .send({ error: 'missing or invalid bearer token' });
      });
    const auth = opts.auth ?? { post: 'responder', stats: 'viewer' };
    sub.post(path, { bodyLimit, config: { auth: auth.post } }, async (req, reply) => {
      stats.requests++;
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
