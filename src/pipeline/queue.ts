/**
 * Bounded queue with explicit overflow policy and counted drops.
 * A drop is never silent: `dropped` counts it and `onDrop` is told (the bus turns it into an
 * `internal` event and a metric, rate-limited).
 */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'block';

export interface QueueStats {
  name: string;
  capacity: number;
  size: number;
  enqueued: number;
  dequeued: number;
  dropped: number;
  highWater: number;
}

export class BoundedQueue<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private tail = 0;
  private count = 0;
  enqueued = 0;
  dequeued = 0;
  dropped = 0;
  highWater = 0;
  private waiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly policy: OverflowPolicy = 'drop-newest',
    private readonly onDrop?: (queue: string, dropped: number) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`queue ${name}: capacity must be ≥ 1`);
    this.buf = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Non-blocking put. Returns false when the item (or, with drop-oldest, an older one) was dropped. */
  offer(item: T): boolean {
    if (this.closed) {
      this.drop();
      return false;
    }
    if (this.count === this.capacity) {
      if (this.policy === 'drop-oldest') {
        this.buf[this.head] = undefined;
        this.head = (this.head + 1) % this.capacity;
        this.count--;
        this.drop();
      } else {
        this.drop();
        return false;
      }
    }
    this.buf[this.tail] = item;
    this.tail = (this.tail + 1) % this.capacity;
    this.count++;
    this.enqueued++;
    if (this.count > this.highWater) this.highWater = this.count;
    const w = this.waiters.shift();
    if (w) w();
    return true;
  }

  /** Back-pressure put: waits for space (policy 'block'), otherwise behaves like offer. */
  async put(item: T): Promise<boolean> {
    if (this.policy !== 'block') return this.offer(item);
    while (this.count === this.capacity && !this.closed) {
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    return this.offer(item);
  }

  poll(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.buf[this.head] as T;
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    this.dequeued++;
    const s = this.spaceWaiters.shift();
    if (s) s();
    return item;
  }

  /** Wait until an item is available or the queue is closed and empty (then undefined). */
  async take(): Promise<T | undefined> {
    while (this.count === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return this.poll();
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    for (const s of this.spaceWaiters.splice(0)) s();
  }

  stats(): QueueStats {
    return {
      name: this.name,
      capacity: this.capacity,
      size: this.count,
      enqueued: this.enqueued,
      dequeued: this.dequeued,
      dropped: this.dropped,
      highWater: this.highWater,
    };
  }

  private drop(): void {
    this.dropped++;
    this.onDrop?.(this.name, this.dropped);
  }
}
