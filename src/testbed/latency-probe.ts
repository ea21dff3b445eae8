/**
 * A service's latency as its clients see it: an open-loop load (a request every 1000/rate ms whatever
 * the previous ones are doing, so a saturated service shows as requests waiting, not as fewer
 * requests) and a source that turns the last interval of that load into one `metric` event for the
 * service's container, beside what the cgroup source reports for the same container.
 */
import http from 'node:http';
import type { ContainerRef } from '../model/event.js';
import { EventIds } from '../model/event.js';
import type { EventSink, Source, SourceStats } from '../sources/types.js';

/** One request of the load: when it started (performance.now()), how long it took, whether it answered 200. */
export interface Completed {
  start: number;
  ms: number;
  ok: boolean;
}

export class OpenLoopLoad {
  /** Every request that completed (or failed), in completion order. */
  readonly done: Completed[] = [];
  /** Requests still waiting for an answer: id → start. */
  private readonly pending = new Map<number, number>();
  private readonly agent = new http.Agent({ keepAlive: false, maxSockets: 256 });
  private nextId = 0;
  private stopped = false;
  private loop?: Promise<void>;
  /** Index in `done` of the first request not yet reported by `intervalLatencyMs`. */
  private reported = 0;

  constructor(
    private readonly target: { host: string; port: number; path: string },
    private readonly rate: number,
  ) {}

  get inFlight(): number {
    return this.pending.size;
  }

  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      const period = 1000 / this.rate;
      let next = performance.now();
      while (!this.stopped) {
        this.fire();
        next += period;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  /** Stops sending; requests in flight are given up to `drainMs` to finish (or time out) and be counted. */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopped = true;
    await this.loop;
    for (let waited = 0; waited < drainMs && this.pending.size > 0; waited += 100) await sleep(100);
    this.agent.destroy();
  }

  /**
   * Latency of the interval since the last call: the p95 of the requests completed in it, or the age
   * of the oldest request still waiting when that is worse (a saturated service completes few
   * requests). 0 when nothing completed and nothing waits.
   */
  intervalLatencyMs(): number {
    const recent = this.done
      .slice(this.reported)
      .map((d) => d.ms)
      .sort((a, b) => a - b);
    this.reported = this.done.length;
    let lat = recent.length ? recent[Math.min(recent.length - 1, Math.floor(0.95 * recent.length))] : 0;
    const now = performance.now();
    for (const s of this.pending.values()) lat = Math.max(lat, now - s);
    return lat;
  }

  private fire(): void {
    const id = ++this.nextId;
    const start = performance.now();
    this.pending.set(id, start);
    const finish = (ok: boolean) => {
      if (!this.pending.delete(id)) return;
      this.done.push({ start, ms: performance.now() - start, ok });
    };
    const { host, port, path } = this.target;
    const rq = http.get({ host, port, path, agent: this.agent, timeout: 15_000 }, (r) => {
      r.resume();
      r.on('end', () => finish(r.statusCode === 200));
    });
    rq.on('error', () => finish(false));
    rq.on('timeout', () => rq.destroy());
  }
}

export interface LatencyProbeOptions {
  /** The container whose service is measured: the metric is that container's. */
  container: ContainerRef;
  hostname: string;
  /** The latency of the interval just ended, in ms. */
  measure: () => number;
  intervalMs?: number;
  /**
   * The instant to stamp the sample with (ns since epoch), when it should share one with samples
   * other sources took of the same container; default, or when not newer than the last one: now.
   */
  instant?: () => bigint | undefined;
}

/**
 * The 'probe' source: every interval, one `metric` event `{ latencyMs }` for the measured container.
 * Started after the cgroup source with the same interval, its samples follow the cgroup samples of
 * the same second; stamped with their instant (`instant`), they are one sample of the container for
 * the perf detector, as when a probe is scraped with the cgroup files.
 */
export class LatencyProbeSource implements Source {
  readonly name = 'probe';
  private timer?: NodeJS.Timeout;
  private readonly st: SourceStats = { events: 0, malformed: 0, lost: 0 };
  private lastTs = 0n;
  private readonly ids = new EventIds();

  constructor(private readonly opts: LatencyProbeOptions) {}

  async start(sink: EventSink): Promise<void> {
    const { container, hostname, measure } = this.opts;
    this.timer = setInterval(() => {
      const shared = this.opts.instant?.();
      // Never two samples at one instant: the second would be dropped as a duplicate.
      const ts = shared !== undefined && shared > this.lastTs ? shared : BigInt(Date.now()) * 1_000_000n;
      this.lastTs = ts;
      const delivered = sink({
        id: this.ids.next(),
        kind: 'metric',
        ts,
        source: 'probe',
        host: hostname,
        container,
        metric: { latencyMs: measure() },
      });
      if (delivered) this.st.events++;
      else this.st.lost++;
    }, this.opts.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  stats(): SourceStats {
    return { ...this.st };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
