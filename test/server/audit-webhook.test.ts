import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/infra/db.js';
import { TokenStore } from '../../src/server/auth.js';
import { startApiServer } from '../../src/server/start.js';
import { PushSource } from '../../src/sources/push.js';
import type { VigieEvent } from '../../src/model/event.js';
import { requireDataset } from '../../src/util/datasets.js';

const dir = requireDataset('falco-k8s-audit');

describe.runIf(dir)('POST /k8s-audit on the main API server', () => {
  it('feeds real audit events into the events queue for responder tokens only', async () => {
    const file =
      readdirSync(dir!).find((f) => f.endsWith('.json') && /create.*pod|exec/i.test(f)) ??
      readdirSync(dir!).find((f) => f.endsWith('.json'))!;
    const body = readFileSync(join(dir!, file), 'utf8');
    const db = openStore(':memory:');
    const tokens = new TokenStore(db);
    const viewer = tokens.create('v', 'viewer').token;
    const responder = tokens.create('r', 'responder').token;
    const src = new PushSource('k8s-audit-webhook');
    const got: VigieEvent[] = [];
    await src.start((ev) => {
      got.push(ev);
      return true;
    });
    const srv = await startApiServer({
      db,
      port: 0,
      auditWebhook: src,
      announce: () => {},
      reportsDir: '/nonexistent',
    });
    const post = (token?: string, payload = body) =>
      fetch(`${srv.url}/k8s-audit`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: payload,
      });
    expect((await post()).status).toBe(401);
    expect((await post(viewer)).status).toBe(403);
    expect(got).toHaveLength(0);
    const ok = await post(responder);
    expect(ok.status).toBe(200);
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((e) => e.kind === 'k8s_audit' && e.audit)).toBe(true);
    const bad = await post(responder, '{"kind": "EventList", "items": [');
    expect(bad.status).toBe(400);
    expect(src.stats().events).toBe(got.length);
    await srv.close();
    db.close();
  });
});
