import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus } from '../../src/pipeline/nats.js';
import { natsAvailable, startNats, type NatsHandle } from '../utils/nats-server.js';

const run = natsAvailable();

describe.runIf(run)('NATS JetStream bus (real nats-server)', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const until = async (cond: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return cond();
  };

  it('carries events with bigint timestamps from an agent to a brain', async () => {
    const agent = await NatsBus.connect({ servers: nats.url, stream: 'T1' });
    const brain = await NatsBus.connect({ servers: nats.url, stream: 'T1' });
    const got: { id: string; ts: string }[] = [];
    brain.subscribe<{ id: string; ts: string }>('events', (m) => void got.push(m), { name: 'brain' });
    for (let i = 0; i < 50; i++)
      agent.publish('events', { id: `e${i}`, ts: 1_700_000_000_000_000_000n + BigInt(i) });
    expect(await until(() => got.length === 50)).toBe(true);
    expect(got[0]).toEqual({ id: 'e0', ts: '1700000000000000000' });
    await agent.close();
    await brain.close();
  });

  it('never duplicates a republished message (same id) and resumes a durable consumer after restart', async () => {
    const agent = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    for (let i = 0; i < 10; i++) agent.publish('alerts', { uuid: `a${i}` });
    for (let i = 0; i < 10; i++) agent.publish('alerts', { uuid: `a${i}` }); // at-least-once replay
    await agent.close();

    const first = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    const seen: string[] = [];
    first.subscribe<{ uuid: string }>('alerts', (m) => void seen.push(m.uuid), { name: 'store' });
    expect(await until(() => seen.length >= 10)).toBe(true);
    await first.close();

    const agent2 = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    agent2.publish('alerts', { uuid: 'late' });
    await agent2.close();
    const second = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    const later: string[] = [];
    second.subscribe<{ uuid: string }>('alerts', (m) => void later.push(m.uuid), { name: 'store' });
    expect(await until(() => later.length >= 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    await second.close();
    expect(seen.sort()).toEqual([...Array(10).keys()].map((i) => `a${i}`).sort());
    expect(later).toEqual(['late']);
  });

  it('redelivers a message whose handler failed', async () => {
    const bus = await NatsBus.connect({ servers: nats.url, stream: 'T3' });
    let calls = 0;
    const ok: string[] = [];
    bus.subscribe<{ id: string }>(
      'actions',
      (m) => {
        calls++;
        if (calls === 1) throw new Error('transient');
        ok.push(m.id);
      },
      { name: 'responder' },
    );
    bus.publish('actions', { id: 'x1' });
    expect(await until(() => ok.length === 1, 15_000)).toBe(true);
    expect(calls).toBe(2);
    expect(bus.stats().handlerErrors).toBe(1);
    await bus.close();
  });

  it('counts drops when the outbound queue is full', async () => {
    const drops: number[] = [];
    const bus = await NatsBus.connect({
      servers: nats.url,
      stream: 'T4',
      capacity: 5,
      onDrop: (n) => drops.push(n.dropped),
    });
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (bus.publish('events', { id: `e${i}` })) accepted++;
    expect(accepted).toBeLessThan(100);
    expect(bus.stats().queues[0].dropped).toBe(100 - accepted);
    expect(drops.length).toBeGreaterThan(0);
    await bus.close();
  });
});
