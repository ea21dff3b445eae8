import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/pipeline/queue.js';
import { InProcessBus } from '../../src/pipeline/bus.js';

describe('BoundedQueue', () => {
  it('drops newest when full and counts it', () => {
    const drops: number[] = [];
    const q = new BoundedQueue<number>('q', 2, 'drop-newest', (_n, d) => drops.push(d));
    expect(q.offer(1)).toBe(true);
    expect(q.offer(2)).toBe(true);
    expect(q.offer(3)).toBe(false);
    expect(q.stats()).toMatchObject({ size: 2, dropped: 1, enqueued: 2, highWater: 2 });
    expect(drops).toEqual([1]);
    expect(q.poll()).toBe(1);
    expect(q.poll()).toBe(2);
    expect(q.poll()).toBeUndefined();
  });

  it('drop-oldest keeps the newest items', () => {
    const q = new BoundedQueue<number>('q', 2, 'drop-oldest');
    q.offer(1);
    q.offer(2);
    q.offer(3);
    expect([q.poll(), q.poll()]).toEqual([2, 3]);
    expect(q.dropped).toBe(1);
  });

  it('block policy waits for space instead of dropping', async () => {
    const q = new BoundedQueue<number>('q', 1, 'block');
    await q.put(1);
    let done = false;
    const p = q.put(2).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    expect(q.poll()).toBe(1);
    await p;
    expect(q.poll()).toBe(2);
    expect(q.dropped).toBe(0);
  });

  it('take resolves undefined after close on empty', async () => {
    const q = new BoundedQueue<number>('q', 4);
    const p = q.take();
    q.close();
    expect(await p).toBeUndefined();
  });
});

describe('InProcessBus', () => {
  it('delivers to every subscriber and flushes on close', async () => {
    const bus = new InProcessBus();
    const a: number[] = [];
    const b: number[] = [];
    bus.subscribe<number>('t', (m) => void a.push(m), { name: 'a' });
    bus.subscribe<number>(
      't',
      async (m) => {
        await new Promise((r) => setTimeout(r, 1));
        b.push(m);
      },
      { name: 'b' },
    );
    for (let i = 0; i < 20; i++) bus.publish('t', i);
    await bus.close();
    expect(a).toHaveLength(20);
    expect(b).toEqual([...Array(20).keys()]);
    expect(bus.publish('t', 99)).toBe(false);
  });

  it('a slow consumer drops (counted and reported) without stalling the other', async () => {
    const notices: { queue: string; dropped: number }[] = [];
    const bus = new InProcessBus((n) => notices.push(n), 0);
    let fast = 0;
    bus.subscribe('t', () => void fast++, { name: 'fast', capacity: 1000 });
    bus.subscribe('t', () => new Promise<void>((r) => setTimeout(r, 50)), { name: 'slow', capacity: 5 });
    for (let i = 0; i < 100; i++) bus.publish('t', i);
    const slow = bus.stats().queues.find((q) => q.name === 't:slow')!;
    expect(slow.dropped).toBeGreaterThanOrEqual(90);
    await bus.close();
    expect(fast).toBe(100);
    expect(notices.some((n) => n.queue === 't:slow' && n.dropped >= 90)).toBe(true);
  });

  it('counts handler errors and keeps consuming', async () => {
    const bus = new InProcessBus();
    let ok = 0;
    bus.subscribe<number>(
      't',
      (m) => {
        if (m % 2) throw new Error('bad');
        ok++;
      },
      { name: 'x' },
    );
    for (let i = 0; i < 10; i++) bus.publish('t', i);
    await bus.close();
    expect(ok).toBe(5);
    expect(bus.stats().handlerErrors).toBe(5);
  });
});
