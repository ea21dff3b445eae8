/**
 * API figures: alert-list latency with 1,000,000 stored alerts (SQLite indexes), and alerts per
 * second pushed to 100 WebSocket clients. Baselines measured in the same run: the bare SQLite query
 * behind the list, and one client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { openStore } from '../src/infra/db.js';
import { AlertStore } from '../src/store/alerts.js';
import { TokenStore } from '../src/server/auth.js';
import { createServer } from '../src/server/app.js';
import { InProcessBus, TOPICS } from '../src/pipeline/bus.js';
import { MetricsRegistry } from '../src/pipeline/metrics.js';
import { makeAlert, type Alert } from '../src/model/alert.js';
import { fmt, hrms, percentile, row } from './util.js';

const RULES = [
  'Terminal shell in container',
  'Read sensitive file',
  'Unusual port',
  'Baseline: new binary',
  'Package manager',
];
const CATS = ['attack', 'attack', 'attack', 'anomaly', 'attack'] as const;

function sample(i: number): Alert {
  const k = i % RULES.length;
  return makeAlert(
    {
      rule: RULES[k],
      priority: k === 0 ? 'Critical' : 'Warning',
      output: `${RULES[k]} (container=c${i % 500} proc=sh cmdline=sh -c id)`,
      category: CATS[k],
      detector: 'runtime',
      explanation: 'bench',
      ts: BigInt(1_700_000_000_000 + i * 10) * 1_000_000n,
      entities: { container: { id: `c${i % 500}`, name: `web-${i % 500}`, image: 'web' } },
      mitre: [{ tactic: 'Execution', technique: 'T1059.004' }],
    },
    'bench-host',
  );
}

export async function run(): Promise<void> {
  const N = Number(process.env.VIGIE_BENCH_ALERTS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-api-'));
  const db = openStore(join(dir, 'bench.db'));
  const alerts = new AlertStore(db);
  let t = hrms();
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) alerts.add(sample(i));
  });
  for (let i = 0; i < N; i += 50_000) tx(i, Math.min(N, i + 50_000));
  row(`stored alerts (insert rate)`, `${fmt(N)} (${fmt(N / ((hrms() - t) / 1000))}/s)`);

  const tokens = new TokenStore(db);
  const tok = tokens.create('bench', 'viewer').token;
  const bus = new InProcessBus();
  const app = await createServer({ alerts, tokens, bus, metrics: new MetricsRegistry() });

  const queries = [
    '/api/v1/alerts?limit=100',
    '/api/v1/alerts?limit=100&category=anomaly',
    '/api/v1/alerts?limit=100&rule=Unusual%20port',
    '/api/v1/alerts?limit=100&container=c42',
    '/api/v1/alerts?limit=100&priority=Critical&offset=1000',
  ];
  for (let i = 0; i < 20; i++)
    await app.inject({ url: queries[i % queries.length], headers: { authorization: `Bearer ${tok}` } });
  const lat: number[] = [];
  const byQuery = new Map<string, number[]>();
  const bare: number[] = [];
  const stmt = db.prepare('SELECT json FROM alerts ORDER BY time DESC LIMIT 100');
  for (let i = 0; i < 500; i++) {
    t = hrms();
    const r = await app.inject({
      url: queries[i % queries.length],
      headers: { authorization: `Bearer ${tok}` },
    });
    lat.push(hrms() - t);
    byQuery.set(queries[i % queries.length], [
      ...(byQuery.get(queries[i % queries.length]) ?? []),
      hrms() - t,
    ]);
    if (r.statusCode !== 200) throw new Error(`bench query failed: ${r.statusCode} ${r.body}`);
    t = hrms();
    stmt.all();
    bare.push(hrms() - t);
  }
  lat.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  row(
    'alert list API latency p50 / p99 (ms), 5 filter mixes',
    `${fmt(percentile(lat, 50), 2)} / ${fmt(percentile(lat, 99), 2)}`,
  );
  for (const [q, l] of byQuery) {
    l.sort((a, b) => a - b);
    row(
      `  ${q.replace('/api/v1/alerts?', '')} p50 / p99 (ms)`,
      `${fmt(percentile(l, 50), 2)} / ${fmt(percentile(l, 99), 2)}`,
    );
  }
  row(
    'baseline: bare SQLite newest-100 query p50 / p99 (ms)',
    `${fmt(percentile(bare, 50), 2)} / ${fmt(percentile(bare, 99), 2)}`,
  );
  row('API p99 / bare p99', `${fmt(percentile(lat, 99) / percentile(bare, 99), 1)}x`);

  // WebSocket fan-out
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  for (const clients of [1, 100]) {
    const sockets: WebSocket[] = [];
    let received = 0;
    await Promise.all(
      Array.from({ length: clients }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream?access_token=${tok}`);
        sockets.push(ws);
        ws.on('message', () => void received++);
        return new Promise<void>((r) => ws.on('open', () => r()));
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    received = 0;
    const M = 5_000;
    const msgs = Array.from({ length: 100 }, (_, i) => sample(i));
    t = hrms();
    for (let i = 0; i < M; i++) {
      bus.publish(TOPICS.alerts, msgs[i % 100]);
      if ((i & 63) === 0) await new Promise((r) => setImmediate(r));
    }
    const want = M * clients;
    const deadline = Date.now() + 120_000;
    while (received < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const secs = (hrms() - t) / 1000;
    row(
      `alerts/s pushed to ${clients} WebSocket client(s)`,
      `${fmt(M / secs)} alerts/s (${fmt(received / secs)} messages/s, ${fmt(want - received)} not delivered)`,
    );
    for (const s of sockets) s.close();
  }
  await app.close();
  await bus.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
