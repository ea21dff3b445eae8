/**
 * GET /readyz answers 200 only when the database takes a write and the added checks pass (the
 * brain's: its NATS consumer is attached); GET /healthz answers as long as the process does.
 */
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/infra/db.js';
import { NatsBus } from '../../src/pipeline/nats.js';
import { databaseWritable } from '../../src/server/readiness.js';
import { startApiServer } from '../../src/server/start.js';
import { natsAvailable, startNats, type NatsHandle } from '../utils/nats-server.js';

async function probe(
  url: string,
  path: string,
): Promise<{ status: number; body: { ok?: boolean; reasons?: string[] } }> {
  const r = await fetch(url + path);
  return { status: r.status, body: (await r.json()) as { ok?: boolean; reasons?: string[] } };
}

describe('readiness of the API server', () => {
  it('is ready when the database takes a write, and says why not when a check fails', async () => {
    const db = openStore(':memory:');
    let natsDown = false;
    const srv = await startApiServer({
      db,
      port: 0,
      announce: () => {},
      readinessChecks: [async () => (natsDown ? ['NATS consumer brain-alerts not attached yet'] : [])],
    });
    try {
      expect(await probe(srv.url, '/readyz')).toEqual({ status: 200, body: { ok: true, reasons: [] } });
      expect(db.prepare('SELECT COUNT(*) AS n FROM readiness_probe').get()).toEqual({ n: 1 });
      natsDown = true;
      expect(await probe(srv.url, '/readyz')).toEqual({
        status: 503,
        body: { ok: false, reasons: ['NATS consumer brain-alerts not attached yet'] },
      });
      // Liveness does not depend on the checks: restarting the process would not fix NATS.
      expect((await probe(srv.url, '/healthz')).status).toBe(200);
    } finally {
      await srv.close();
      db.close();
    }
  });

  it('reports a database that refuses writes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigie-ready-')), 'v.db');
    openStore(path).close();
    const readOnly = new Database(path, { readonly: true });
    try {
      const reasons = await databaseWritable(readOnly)();
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/^database not writable: .*readonly/);
    } finally {
      readOnly.close();
    }
    const rw = openStore(path);
    expect(await databaseWritable(rw)()).toEqual([]);
    rw.close();
  });
});

describe.runIf(natsAvailable())('readiness of the NATS bus (real nats-server)', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const until = async (cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await cond()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return cond();
  };

  it('is ready once its consumer is attached, not when the consumer is gone or the server is down', async () => {
    const bus = await NatsBus.connect({ servers: nats.url, stream: 'READY' });
    expect(await bus.readiness()).toEqual([]); // nothing subscribed: nothing to wait for
    bus.subscribe('alerts', () => {}, { name: 'brain' });
    expect(await until(async () => (await bus.readiness()).length === 0)).toBe(true);

    // The durable consumer deleted on the server (NATS lost its storage): not ready.
    const nc = await connect({ servers: nats.url });
    await (await nc.jetstreamManager()).consumers.delete('READY', 'brain-alerts');
    await nc.close();
    const gone = await bus.readiness();
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatch(/^NATS consumer brain-alerts (missing on the server|ended)/);

    // The server stopped: the round trip fails within the timeout.
    await nats.stop();
    const down = await bus.readiness(300);
    expect(down.length).toBeGreaterThan(0);
    expect(down[0]).toMatch(/NATS/);
    await nats.restart();

    await bus.close();
    expect(await bus.readiness()).toEqual(['NATS connection closed']);
  });
});
