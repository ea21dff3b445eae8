/** OpenAPI 3.1 description of the HTTP API, served at /openapi.json. */
const bearer = [{ bearer: [] }];
/** Routes a browser requests without being able to set a header also take the token in the query. */
const bearerOrQuery = [{ bearer: [] }, { queryToken: [] }];
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
const err = { description: 'error', ...json(ref('Error')) };
const authErrors = {
  '401': err,
  '403': err,
  '429': {
    description: 'too many failed authentications from this address; Retry-After says when to retry',
    ...json(ref('Error')),
  },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const webhookAccepted = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    skipped: { type: 'integer' },
    reasons: { type: 'array', items: { type: 'string' } },
  },
};
const list = (item: object) => ({ type: 'object', properties: { items: { type: 'array', items: item } } });

function op(summary: string, role: string, okSchema: object, extra: Record<string, unknown> = {}) {
  return {
    summary,
    description: `Requires role ${role} or higher.`,
    security: bearer,
    responses: {
      '200': { description: 'ok', ...json(okSchema) },
      '400': err,
      ...authErrors,
      '404': err,
      '503': err,
    },
    ...extra,
  };
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Vigie API',
    version: '1',
    description:
      'Alerts, incidents, response actions, baselines, posture and evaluation reports. Bearer tokens with roles viewer < responder < admin, in the Authorization header (the query parameter access_token is taken only by the stream and report files). Failed authentications are throttled per address (429 with Retry-After); valid tokens never are.',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      queryToken: {
        type: 'apiKey',
        in: 'query',
        name: 'access_token',
        description: 'Only on GET /api/v1/stream and GET /api/v1/reports/{name}/files/{file}',
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'string' }, reasons: { type: 'array', items: { type: 'string' } } },
      },
      Alert: {
        type: 'object',
        description: "Falco's JSON alert shape plus the vigie block",
        required: ['uuid', 'time', 'rule', 'priority', 'source', 'output', 'tags', 'output_fields', 'vigie'],
        properties: {
          uuid: { type: 'string' },
          time: { type: 'string', description: 'ISO-8601 with nanoseconds' },
          rule: { type: 'string' },
          priority: {
            type: 'string',
            enum: ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'],
          },
          source: { type: 'string' },
          hostname: { type: 'string' },
          output: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
          output_fields: { type: 'object' },
          vigie: {
            type: 'object',
            properties: {
              category: {
                type: 'string',
                enum: ['attack', 'misconfiguration', 'flaw', 'performance', 'anomaly'],
              },
              detector: { type: 'string' },
              score: { type: 'number' },
              threshold: { type: 'number' },
              explanation: { type: 'string' },
              entities: { type: 'object' },
              mitre: { type: 'array', items: { type: 'object' } },
              evidence: { type: 'array', items: { type: 'string' } },
              incident: { type: 'string' },
            },
          },
        },
      },
      Action: {
        type: 'object',
        required: ['id', 'action', 'target', 'status'],
        properties: {
          id: { type: 'string' },
          action: { type: 'string' },
          target: { type: 'object' },
          status: { type: 'string' },
          mode: { type: 'string', enum: ['monitor', 'enforce'] },
          reason: { type: 'string' },
          stateBefore: {},
          stateAfter: {},
          verified: { type: 'boolean' },
          expiresAt: { type: 'string' },
        },
      },
      Token: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          role: { type: 'string', enum: ['viewer', 'responder', 'admin'] },
          createdAt: { type: 'string' },
          lastUsedAt: { type: 'string' },
          revoked: { type: 'boolean' },
        },
      },
    },
  },
  paths: {
    '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'ok' } } } },
    '/readyz': {
      get: {
        summary: 'Readiness',
        description:
          'The database takes a write and, for the brain, its NATS consumer is attached. 503 lists the reasons.',
        responses: {
          '200': { description: 'ready' },
          '503': { description: 'not ready', content: { 'application/json': {} } },
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'ok' } } } },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text format 0.0.4)',
        description: 'Requires role viewer or higher.',
        security: bearer,
        responses: { '200': { description: 'ok', content: { 'text/plain': {} } }, ...authErrors },
      },
    },
    '/api/v1/me': { get: op('The calling token', 'viewer', ref('Token')) },
    '/api/v1/stats': {
      get: op('Pipeline statistics: published, queues, drops', 'viewer', { type: 'object' }),
    },
    '/api/v1/alerts': {
      get: op('List alerts, newest first', 'viewer', list(ref('Alert')), {
        parameters: ['rule', 'category', 'priority', 'container', 'since', 'limit', 'offset'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'limit' || name === 'offset' ? 'integer' : 'string' },
        })),
      }),
    },
    '/api/v1/alerts/{id}': { get: op('One alert', 'viewer', ref('Alert'), { parameters: [idParam] }) },
    '/api/v1/alerts/{id}/ack': {
      post: op('Acknowledge an alert', 'responder', { type: 'object' }, { parameters: [idParam] }),
    },
    '/api/v1/incidents': { get: op('List incidents', 'viewer', list({ type: 'object' })) },
    '/api/v1/incidents/{id}': {
      get: op(
        'One incident with timeline, MITRE, severity, blast radius',
        'viewer',
        { type: 'object' },
        { parameters: [idParam] },
      ),
    },
    '/api/v1/actions': {
      get: op('List response actions', 'viewer', list(ref('Action')), {
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
        ],
      }),
    },
    '/api/v1/actions/{id}': {
      get: op('One action record', 'viewer', ref('Action'), { parameters: [idParam] }),
    },
    '/api/v1/actions/{id}/approve': {
      post: op('Approve and execute a planned action', 'responder', ref('Action'), { parameters: [idParam] }),
    },
    '/api/v1/actions/{id}/rollback': {
      post: op('Roll back an executed action', 'responder', ref('Action'), { parameters: [idParam] }),
    },
    '/api/v1/baselines': {
      get: op('Baselines per workload and their state', 'viewer', list({ type: 'object' })),
    },
    '/api/v1/baselines/reset': {
      post: op(
        'Reset one workload baseline',
        'admin',
        { type: 'object' },
        {
          requestBody: json({
            type: 'object',
            required: ['workload'],
            properties: { workload: { type: 'string' } },
          }),
        },
      ),
    },
    '/api/v1/workloads': {
      get: op('Workloads with baseline state and resource history', 'viewer', list({ type: 'object' })),
    },
    '/api/v1/posture/findings': {
      get: op(
        'Posture findings',
        'viewer',
        { type: 'object' },
        {
          parameters: [
            { name: 'namespace', in: 'query', schema: { type: 'string' } },
            { name: 'control', in: 'query', schema: { type: 'string' } },
          ],
        },
      ),
    },
    '/api/v1/reports': { get: op('Evaluation reports', 'viewer', list({ type: 'object' })) },
    '/api/v1/reports/{name}': {
      get: op(
        'One evaluation report (Markdown and its files)',
        'viewer',
        { type: 'object' },
        {
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        },
      ),
    },
    '/api/v1/reports/{name}/files/{file}': {
      get: {
        summary: 'A plot or table file of a report',
        description:
          'Requires role viewer or higher. Token as Authorization header or ?access_token= (an <img> cannot set a header).',
        security: bearerOrQuery,
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'file', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'the file' }, ...authErrors, '404': err },
      },
    },
    '/api/v1/tokens': {
      get: op('List tokens (never their secrets)', 'admin', list(ref('Token'))),
      post: {
        ...op('Create a token; the secret is shown once', 'admin', ref('Token')),
        requestBody: json({
          type: 'object',
          required: ['name', 'role'],
          properties: {
            name: { type: 'string' },
            role: { type: 'string', enum: ['viewer', 'responder', 'admin'] },
          },
        }),
      },
    },
    '/api/v1/tokens/{id}': {
      delete: op('Revoke a token', 'admin', { type: 'object' }, { parameters: [idParam] }),
    },
    '/k8s-audit': {
      post: {
        ...op(
          'Kubernetes audit webhook: an audit Event or EventList (present with --audit-webhook)',
          'responder',
          webhookAccepted,
        ),
        requestBody: json({ type: 'object', description: 'audit.k8s.io/v1 Event or EventList' }),
        responses: { ...op('', 'responder', webhookAccepted).responses, '413': err },
      },
    },
    '/k8s-audit/stats': {
      get: op('Counters of the audit webhook (requests, events, malformed, dropped)', 'viewer', {
        type: 'object',
      }),
    },
    '/falco': {
      post: {
        ...op(
          "Falco alerts pushed over HTTP (Falcosidekick's webhook output): one alert or an array (present with --falco-webhook)",
          'responder',
          webhookAccepted,
        ),
        requestBody: json({ description: "Falco's JSON alert, or an array of them" }),
        responses: { ...op('', 'responder', webhookAccepted).responses, '413': err },
      },
    },
    '/falco/stats': {
      get: op('Counters of the Falco webhook (requests, events, malformed, dropped)', 'viewer', {
        type: 'object',
      }),
    },
    '/api/v1/stream': {
      get: {
        summary: 'WebSocket: {type: alert|incident|action, data} messages as they happen',
        description:
          'Requires role viewer or higher. Token as Authorization header or ?access_token= (browsers cannot set WebSocket headers); without a valid token the upgrade is refused with 401. The server closes the stream with code 1008 when its token is revoked.',
        security: bearerOrQuery,
        responses: { '101': { description: 'switching protocols' }, ...authErrors },
      },
    },
  },
} as const;
