/**
 * POST /falco on the main API server: Falco's alerts pushed over HTTP (Falcosidekick's webhook
 * output) enter the engine through the `falco-webhook` source and come out as Vigie alerts.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Alert } from '../../src/model/alert.js';
import { TokenStore } from '../../src/server/auth.js';
import { startApiServer } from '../../src/server/start.js';
import { PushSource } from '../../src/sources/push.js';
import { createSources } from '../../src/sources/registry.js';
import { openStore } from '../../src/infra/db.js';
import { waitFor, discardedOutput } from '../utils/live.js';

const alert = {
  time: '2024-05-01T10:00:00.000000001Z',
  rule: 'Read sensitive file untrusted',
  priority: 'Warning',
  output: 'Sensitive file opened for reading by non-trusted program (file=/etc/shadow)',
  source: 'syscall',
  hostname: 'node-7',
  tags: ['filesystem', 'mitre_credential_access', 'T1555'],
  output_fields: { 'container.id': 'c0ffee123456', 'fd.name': '/etc/shadow', 'k8s.ns.name': 'shop' },
};

describe('POST /falco on the main API server', () => {
  it('turns pushed Falco alerts into Vigie alerts, for responder tokens only; bad bodies get 400 with the reason', async () => {
    const db = openStore(':memory:');
    const tokens = new TokenStore(db);
    const viewer = tokens.create('v', 'viewer').token;
    const responder = tokens.create('r', 'responder').token;
    const config = { 'falco-webhook': { enabled: true } };
    const sources = await createSources({ hostname: 'h', config }, ['falco-webhook']);
    expect(sources[0]).toBeInstanceOf(PushSource);
    const alerts: Alert[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources,
      detectorNames: [],
      responder: null,
      onAlert: (a) => alerts.push(a),
    });
    await engine.start();
    const srv = await startApiServer({
      db,
      port: 0,
      falcoWebhook: sources[0] as PushSource,
      announce: () => {},
      reportsDir: '/nonexistent',
    });
    const post = (token: string | undefined, body: string) =>
      fetch(`${srv.url}/falco`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body,
      });
    try {
      expect((await post(undefined, JSON.stringify(alert))).status).toBe(401);
      expect((await post(viewer, JSON.stringify(alert))).status).toBe(403);
      const one = await post(responder, JSON.stringify(alert));
      expect(one.status).toBe(200);
      expect(await one.json()).toMatchObject({ accepted: 1, skipped: 0 });
      const two = await post(
        responder,
        JSON.stringify([{ ...alert, rule: 'Second' }, { rule: 'no fields' }]),
      );
      expect(await two.json()).toMatchObject({
        accepted: 1,
        skipped: 1,
        reasons: [expect.stringMatching(/item 1: not a Falco alert/)],
      });
      const bad = await post(responder, '{"rule": ');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: 'malformed JSON' });
      expect((await post(responder, '{"hello": 1}')).status).toBe(400);
      await waitFor(() => alerts.length === 2 || undefined, 5000, 'the two alerts');
      expect(alerts.map((a) => a.rule)).toEqual(['Read sensitive file untrusted', 'Second']);
      expect(alerts[0]).toMatchObject({
        priority: 'Warning',
        hostname: 'node-7',
        vigie: {
          detector: 'falco',
          category: 'attack',
          entities: { container: { id: 'c0ffee123456' }, k8s: { namespace: 'shop' } },
          mitre: [{ tactic: 'credential-access', technique: 'T1555' }],
        },
      });
      const stats = await (
        await fetch(`${srv.url}/falco/stats`, { headers: { authorization: `Bearer ${responder}` } })
      ).json();
      expect(stats).toMatchObject({ events: 2, malformed: 1, rejected: 1 });
    } finally {
      await srv.close();
      await engine.stop();
      db.close();
    }
  });
});
