/**
 * An answer of 200 from a webhook means the event was handled: the engine hands webhook sources a
 * sink that runs the detectors at once, so the event's alerts are stored before the answer, whatever
 * the events queue holds (a crash right after the 200 loses nothing).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Detector } from '../../src/detect/types.js';
import { Engine } from '../../src/engine/engine.js';
import { createOutput } from '../../src/engine/output.js';
import { startServerFor } from '../../src/engine/server.js';
import { openStore } from '../../src/infra/db.js';
import { EventIds, nowNs } from '../../src/model/event.js';
import { TokenStore } from '../../src/server/auth.js';
import { PushSource } from '../../src/sources/push.js';
import type { Source } from '../../src/sources/types.js';

const ids = new EventIds();

describe('webhook acknowledgement', () => {
  it('stores the alerts of an audit event before answering 200, beside a backlog of other events', async () => {
    // A backlog: 3,000 events that take about 1 ms each in a slow detector.
    const backlog: Source = {
      name: 'backlog',
      async start(sink) {
        for (let i = 0; i < 3000; i++)
          sink({ id: ids.next(), kind: 'process', ts: nowNs(), source: 't', proc: { name: 'x' } });
      },
      async stop() {},
      stats: () => ({ events: 3000, malformed: 0, lost: 0 }),
    };
    const slow: Detector = {
      name: 'slow',
      kinds: ['process'],
      onEvent() {
        const end = performance.now() + 1;
        while (performance.now() < end);
      },
    };
    const exec: Detector = {
      name: 'exec',
      kinds: ['k8s_audit'],
      onEvent(ev, emit) {
        emit({
          rule: 'Exec into pod',
          priority: 'Warning',
          output: 'exec',
          category: 'attack',
          detector: 'exec',
          explanation: 'x',
          event: ev,
        });
      },
    };
    const db = openStore(':memory:');
    const token = new TokenStore(db).create('r', 'responder').token;
    const webhook = new PushSource('k8s-audit-webhook');
    const engine = new Engine({
      db,
      hostname: 'h',
      output: createOutput('json', new PassThrough(), new PassThrough()),
      sources: [backlog, webhook],
      detectors: [slow, exec],
      responder: null,
      characterizer: null,
    });
    await engine.start();
    const srv = await startServerFor(engine, db, '127.0.0.1:0');
    try {
      const res = await fetch(`${srv.url}/k8s-audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          level: 'Request',
          auditID: '11111111-2222-4333-8444-555555555555',
          stage: 'ResponseStarted',
          requestURI: '/api/v1/namespaces/shop/pods/web/exec?command=sh',
          verb: 'create',
          user: { username: 'mallory' },
          objectRef: {
            resource: 'pods',
            namespace: 'shop',
            name: 'web',
            subresource: 'exec',
            apiVersion: 'v1',
          },
          requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z',
          stageTimestamp: '2026-01-01T00:00:00.100000Z',
        }),
      });
      expect(res.status).toBe(200);
      // At the answer, the webhook's alert is stored (the event did not wait in the queue).
      expect(engine.alerts.list().map((a) => a.rule)).toEqual(['Exec into pod']);
      expect(webhook.stats().events).toBe(1);
    } finally {
      await srv.close();
      await engine.stop();
      db.close();
    }
  });
});
