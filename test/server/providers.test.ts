import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { TokenStore } from '../../src/server/auth.js';
import { createServer } from '../../src/server/app.js';
import { baselinesProvider, incidentsProvider, ResourceHistory } from '../../src/server/providers.js';
import { Correlator } from '../../src/characterize/incidents.js';
import { createBaselineManager } from '../../src/detect/anomaly/baseline/index.js';
import { makeAlert } from '../../src/model/alert.js';
import type { VigieEvent } from '../../src/model/event.js';

const metric = (image: string, cpu: number, memory: number): VigieEvent => ({
  id: `m${cpu}`,
  kind: 'metric',
  ts: 1n,
  source: 'docker',
  container: { id: 'c1', image, command: 'httpd' },
  metric: { cpu, memory },
});

describe('API providers over the stages', () => {
  it('keeps a bounded, ordered resource history per workload', () => {
    const h = new ResourceHistory(3);
    for (let i = 1; i <= 5; i++) h.observe(metric('web', i, i * 10));
    expect(h.series('docker:web|httpd')).toEqual({ cpu: [3, 4, 5], memory: [30, 40, 50] });
    expect(h.series('docker:other|')).toEqual({ cpu: [], memory: [] });
  });

  it('serves incidents correlated from alerts and live baselines, and resets a baseline', async () => {
    const db = openStore(':memory:');
    const alerts = new AlertStore(db);
    const correlator = new Correlator(db, {});
    for (let i = 0; i < 3; i++) {
      const a = makeAlert(
        {
          rule: i ? 'Read sensitive file untrusted' : 'Terminal shell in container',
          priority: 'Warning',
          output: 'x',
          category: 'attack',
          detector: 'runtime',
          explanation: 'x',
          ts: BigInt(Date.now() + i) * 1_000_000n,
          entities: { container: { id: 'c1', name: 'victim', image: 'web' }, workload: 'docker:web|httpd' },
          mitre: [{ tactic: 'Execution', technique: 'T1059.004' }],
        },
        'h',
      );
      alerts.add(a);
      correlator.add(a);
    }
    const m = createBaselineManager(db, undefined);
    m.resolve(
      { ...metric('web', 1, 1), kind: 'process', proc: { name: 'httpd', exe: '/bin/httpd' } },
      Date.now(),
    );
    const tokens = new TokenStore(db);
    const admin = tokens.create('a', 'admin').token;
    const history = new ResourceHistory();
    history.observe(metric('web', 0.5, 1e6));
    const app = await createServer({
      alerts,
      tokens,
      incidents: incidentsProvider(db),
      baselines: baselinesProvider(m, history),
    });
    const h = { authorization: `Bearer ${admin}` };
    const inc = (await app.inject({ url: '/api/v1/incidents', headers: h })).json().items;
    expect(inc).toHaveLength(1);
    expect(inc[0].alertCount).toBe(3);
    const one = (await app.inject({ url: `/api/v1/incidents/${inc[0].id}`, headers: h })).json();
    expect(one.timeline).toHaveLength(3);
    const bl = (await app.inject({ url: '/api/v1/baselines', headers: h })).json().items;
    expect(bl.map((b: { workload: string }) => b.workload)).toEqual(['docker:web|httpd']);
    expect(bl[0].state).toBe('learning');
    expect(bl[0].cpu).toEqual([0.5]);
    const reset = await app.inject({
      method: 'POST',
      url: '/api/v1/baselines/reset',
      headers: { ...h, 'content-type': 'application/json' },
      payload: '{"workload":"docker:web|httpd"}',
    });
    expect(reset.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/baselines', headers: h })).json().items).toHaveLength(0);
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/baselines/reset',
      headers: { ...h, 'content-type': 'application/json' },
      payload: '{"workload":"docker:web|httpd"}',
    });
    expect(again.statusCode).toBe(404);
    await app.close();
  });
});
