/**
 * In-process bus: named topics, each subscriber with its own bounded queue and consumer loop,
 * so that one slow consumer drops (counted) instead of stalling the sources or its siblings.
 * The NATS JetStream transport implements the same `Bus` interface for agent/brain deployments.
 */
import { BoundedQueue, type OverflowPolicy, type QueueStats } from './queue.js';

export type Handler<T> = (msg: T) => void | Promise<void>;

export interface SubscribeOptions {
  /** Name shown in stats and drop events. */
  name: string;
  capacity?: number;
  policy?: OverflowPolicy;
}

export interface Bus {
  publish<T>(topic: string, msg: T): boolean;
  subscribe<T>(topic: string, handler: Handler<T>, opts: SubscribeOptions): () => void;
  stats(): BusStats;
  /** Stop accepting, let every consumer drain what it holds, then resolve. */
  close(): Promise<void>;
}

export interface BusStats {
  published: Record<string, number>;
  queues: QueueStats[];
  handlerErrors: number;
}

export interface DropNotice {
  queue: string;
  topic: string;
  dropped: number;
}

interface Sub {
  topic: string;
  queue: BoundedQueue<unknown>;
  handler: Handler<unknown>;
  done: Promise<void>;
}

export class InProcessBus implements Bus {
  private subs = new Map<string, Sub[]>();
  private published: Record<string, number> = {};
  private handlerErrors = 0;
  private closed = false;
  private lastDropReport = 0;
  private pendingDrops = new Map<string, DropNotice>();

  /**
   * @param onDrop called at most once per `dropReportMs` per queue with the cumulative count,
   *   like Falco's rate-limited drop notices; callers turn it into an `internal` event.
   */
  constructor(
    private readonly onDrop?: (n: DropNotice) => void,
    private readonly dropReportMs = 1000,
    private readonly onHandlerError?: (topic: string, err: unknown) => void,
  ) {}

  publish<T>(topic: string, msg: T): boolean {
    if (this.closed) return false;
    this.published[topic] = (this.published[topic] ?? 0) + 1;
    const subs = this.subs.get(topic);
    if (!subs) return true;
    let ok = true;
    for (const s of subs) ok = s.queue.offer(msg) && ok;
    return ok;
  }

  subscribe<T>(topic: string, handler: Handler<T>, opts: SubscribeOptions): () => void {
    const queue = new BoundedQueue<unknown>(
      `${topic}:${opts.name}`,
      opts.capacity ?? 10_000,
      opts.policy ?? 'drop-newest',
      (q, dropped) => this.noteDrop(q, topic, dropped),
    );
    const sub: Sub = { topic, queue, handler: handler as Handler<unknown>, done: Promise.resolve() };
    sub.done = this.consume(sub);
    const list = this.subs.get(topic) ?? [];
    list.push(sub);
    this.subs.set(topic, list);
    return () => {
      queue.close();
      const l = this.subs.get(topic);
      if (l)
        this.subs.set(
          topic,
          l.filter((x) => x !== sub),
        );
    };
  }

  private async consume(sub: Sub): Promise<void> {
    for (;;) {
      let msg = sub.queue.poll();
      if (msg === undefined) {
        msg = await sub.queue.take();
        if (msg === undefined) return;
      }
      try {
        const r = sub.handler(msg);
        if (r && typeof (r as Promise<void>).then === 'function') await r;
      } catch (err) {
        this.handlerErrors++;
        this.onHandlerError?.(sub.topic, err);
      }
    }
  }

  private noteDrop(queue: string, topic: string, dropped: number): void {
    this.pendingDrops.set(queue, { queue, topic, dropped });
    const now = Date.now();
    if (now - this.lastDropReport >= this.dropReportMs) this.flushDropNotices(now);
  }

  /** Report pending drop notices now (also called on close so the last ones are not lost). */
  flushDropNotices(now = Date.now()): void {
    this.lastDropReport = now;
    const pending = [...this.pendingDrops.values()];
    this.pendingDrops.clear();
    for (const n of pending) this.onDrop?.(n);
  }

  stats(): BusStats {
    const queues: QueueStats[] = [];
    for (const list of this.subs.values()) for (const s of list) queues.push(s.queue.stats());
    return { published: { ...this.published }, queues, handlerErrors: this.handlerErrors };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all: Sub[] = [];
    for (const list of this.subs.values()) all.push(...list);
    for (const s of all) s.queue.close();
    await Promise.all(all.map((s) => s.done));
    this.flushDropNotices();
  }
}

/** Topic names used across stages. */
export const TOPICS = {
  events: 'events',
  alerts: 'alerts',
  incidents: 'incidents',
  actions: 'actions',
} as const;
