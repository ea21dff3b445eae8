import { InProcessBus } from '../src/pipeline/bus.js';
import { BoundedQueue } from '../src/pipeline/queue.js';
import { fmt, hrms, row } from './util.js';

export async function run(): Promise<void> {
  const n = 2_000_000;
  const q = new BoundedQueue<number>('bench', 1 << 16);
  let t = hrms();
  for (let i = 0; i < n; i++) {
    q.offer(i);
    q.poll();
  }
  row('bounded queue offer+poll per second', fmt(n / ((hrms() - t) / 1000)));

  const bus = new InProcessBus();
  let seen = 0;
  bus.subscribe<number>('t', () => void seen++, { name: 'sink', capacity: 1 << 16 });
  t = hrms();
  const m = 1_000_000;
  for (let i = 0; i < m; i++) {
    if (!bus.publish('t', i)) await new Promise((r) => setImmediate(r));
    if ((i & 0xfff) === 0) await new Promise((r) => setImmediate(r));
  }
  await bus.close();
  row('in-process bus messages delivered per second', fmt(seen / ((hrms() - t) / 1000)));
  row('in-process bus dropped', fmt(m - seen));
}
