/**
 * The counters the docs promise are in /metrics, read over HTTP from the server beside a running
 * engine: a full queue's drops, every source's malformed and lost counts, alerts by rule and
 * category, actions by type and status, queue sizes and the sampled detector latency.
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
import type { Source } from '../../src/sources/types.js';

const ids = new EventIds();

function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (want && (m[2] ?? '') !== want) continue;
    return Number(m[3]);
  }
  return undefined;
}

describe('/metrics beside a running engine', () => {
  it('reports queue drops, source counts, alerts, actions and detector latency', async () => {
    const flood: Source = {
      name: 'flood',
      async start(sink) {
        for (let i = 0; i < 2000; i++)
          sink({
            id: ids.next(),
            kind: 'process',
            ts: nowNs(),
            source: 't',
            proc: { name: i % 100 ? 'x' : 'sh' },
          });
      },
      async stop() {},
      stats: () => ({ events: 2000, malformed: 7, lost: 3 }),
    };
    const shell: Detector = {
      name: 'shell',
      kinds: ['process'],
      onEvent(ev, emit) {
        if (ev.proc?.name === 'sh')
          emit({
            rule: 'Shell',
            priority: 'Warning',
            output: 'sh',
            category: 'attack',
            detector: 'shell',
            explanation: 'a shell',
            event: ev,
          });
      },
    };
    const db = openStore(':memory:');
    const admin = new TokenStore(db).create('m', 'viewer').token;
    const engine = new Engine({
      db,
      hostname: 'h',
      output: createOutput('json', new PassThrough(), new PassThrough()),
      sources: [flood],
      detectors: [shell],
      responder: null,
      characterizer: null,
      eventQueueCapacity: 200,
    });
    await engine.start();
    await engine.stop();
    const st = engine.stats();
    const dropped = st.queues.find((q) => q.name.includes('detect'))!.dropped;
    expect(dropped).toBeGreaterThan(0);

    const srv = await startServerFor(engine, db, '127.0.0.1:0');
    try {
      const res = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
      expect(res.status).toBe(200);
      const text = await res.text();
      const queue = st.queues.find((q) => q.name.includes('detect'))!.name;
      expect(series(text, 'vigie_events_dropped_total', { stage: queue })).toBe(dropped);
      expect(series(text, 'vigie_events_in_total', { stage: 'detect' })).toBe(st.events);
      expect(series(text, 'vigie_source_malformed_total', { source: 'flood' })).toBe(7);
      expect(series(text, 'vigie_source_lost_total', { source: 'flood' })).toBe(3);
      expect(series(text, 'vigie_alerts_total', { rule: 'Shell', category: 'attack' })).toBe(st.alerts);
      expect(st.alerts).toBeGreaterThan(0);
      expect(series(text, 'vigie_detector_latency_seconds_count', { detector: 'shell' })).toBeGreaterThan(0);
      expect(text).toContain('vigie_queue_high_water{queue=');
      expect(text).toContain('vigie_http_requests_total');
    } finally {
      await srv.close();
      db.close();
    }
  });
});
