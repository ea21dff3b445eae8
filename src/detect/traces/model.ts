/**
 * The trace model: spans in, per time window out. For each window (one minute by default, on span
 * start time) and each (service, operation):
 *
 * - the latency distribution (a bounded quantile sketch, sketch.ts), the span count and the errors;
 * - the child-call pattern: which (child service, child operation) its spans called, how often (a
 *   rate per parent span is `calls / count`), so that an operation that stops calling a child, or
 *   calls a new one, shows as a difference between two windows;
 * - the service call graph: parent span's service → child span's service, with call counts.
 *
 * A child names its parent by span id, and either may arrive first (OTLP exporters send a child
 * before the parent that outlives it). Spans are held per trace until the trace has been quiet for
 * `traceIdleNs`; a child whose parent arrives later is linked then, in the parent's window. What is
 * held is bounded (open traces, spans per trace, operations per window, children per operation):
 * beyond a bound the input is counted and dropped, never stored. A window is final once the event
 * clock passes its end plus `traceIdleNs` (no held span can still land in it); final windows are
 * handed to listeners (a detector compares a baseline window to the current one) and the last
 * `history` of them are kept.
 */
import type { SpanBody } from '../../model/span.js';
import { QuantileSketch } from './sketch.js';

export interface TraceModelOptions {
  /** Window length (default 60 s). */
  windowNs?: bigint;
  /** A trace with no new span for this long is complete (default 30 s). */
  traceIdleNs?: bigint;
  /** Open traces held at once (default 50,000; the oldest one is closed to make room). */
  maxTraces?: number;
  /** Spans held per open trace (default 5,000). */
  maxSpansPerTrace?: number;
  /** (service, operation) pairs per window (default 5,000). */
  maxOperations?: number;
  /** Distinct children per operation and window (default 256). */
  maxChildren?: number;
  /** Final windows kept (default 60). */
  history?: number;
  /** Sketch accuracy (default 0.01). */
  alpha?: number;
}

export interface OperationStats {
  service: string;
  operation: string;
  count: number;
  errors: number;
  /** Latency in ns. */
  latency: QuantileSketch;
  /** Calls to each child, keyed by `operationKey(childService, childOperation)`. */
  children: Map<string, number>;
}

export interface TraceWindow {
  startNs: bigint;
  endNs: bigint;
  spans: number;
  /** By `operationKey(service, operation)`. */
  operations: Map<string, OperationStats>;
  /** Calls between services, keyed by `serviceEdgeKey(parent, child)` (a service calling itself included). */
  serviceEdges: Map<string, number>;
}

export interface TraceModelStats {
  spans: number;
  /** Child spans linked to their parent. */
  links: number;
  /** Spans whose parent never came before their trace closed (their call is not in any pattern). */
  orphans: number;
  /** Spans landing in a window already final. */
  late: number;
  /** Spans dropped: trace over its span bound, window over its operation bound, duplicate span id. */
  dropped: number;
  /** Child calls not counted: operation over its children bound. */
  droppedChildren: number;
  /** Traces closed early to keep within `maxTraces`. */
  evictedTraces: number;
  openTraces: number;
  windows: number;
}

/** Windows an open trace may hold back from being final, beyond the trace-idle time. */
export const MAX_HOLD_WINDOWS = 10;

const SEP = '\u0000';
export const operationKey = (service: string, operation: string): string => `${service}${SEP}${operation}`;
export const serviceEdgeKey = (parent: string, child: string): string => `${parent}${SEP}${child}`;
export function splitKey(key: string): [string, string] {
  const i = key.indexOf(SEP);
  return [key.slice(0, i), key.slice(i + 1)];
}

/** What is held of a span until its trace closes: enough to link children to it. */
interface HeldSpan {
  key: string;
  service: string;
  windowStart: bigint;
}

interface OpenTrace {
  spans: Map<string, HeldSpan>;
  /** Children waiting for their parent, by the parent's span id. */
  waiting: Map<string, HeldSpan[]>;
  waitingCount: number;
  lastSeen: bigint;
}

export class TraceModel {
  readonly windowNs: bigint;
  readonly traceIdleNs: bigint;
  private readonly o: Required<Omit<TraceModelOptions, 'windowNs' | 'traceIdleNs'>>;
  /** Open traces in order of their last span (a Map keeps insertion order; touched ones move last). */
  private readonly traces = new Map<string, OpenTrace>();
  private readonly open = new Map<bigint, TraceWindow>();
  private readonly final: TraceWindow[] = [];
  private readonly listeners: ((w: TraceWindow) => void)[] = [];
  /** Spans held by open traces, per window start: such a window cannot be final yet. */
  private readonly heldIn = new Map<bigint, number>();
  /** Windows starting before this are final. */
  private finalBefore = -1n;
  private readonly st: TraceModelStats = {
    spans: 0,
    links: 0,
    orphans: 0,
    late: 0,
    dropped: 0,
    droppedChildren: 0,
    evictedTraces: 0,
    openTraces: 0,
    windows: 0,
  };

  constructor(o: TraceModelOptions = {}) {
    this.windowNs = o.windowNs ?? 60_000_000_000n;
    this.traceIdleNs = o.traceIdleNs ?? 30_000_000_000n;
    if (this.windowNs <= 0n) throw new Error('trace window must be positive');
    this.o = {
      maxTraces: o.maxTraces ?? 50_000,
      maxSpansPerTrace: o.maxSpansPerTrace ?? 5_000,
      maxOperations: o.maxOperations ?? 5_000,
      maxChildren: o.maxChildren ?? 256,
      history: o.history ?? 60,
      alpha: o.alpha ?? 0.01,
    };
  }

  /** Called with each window when it becomes final, in time order. */
  onWindow(fn: (w: TraceWindow) => void): void {
    this.listeners.push(fn);
  }

  /** The final windows kept, oldest first. */
  windows(): readonly TraceWindow[] {
    return this.final;
  }

  stats(): TraceModelStats {
    return { ...this.st, openTraces: this.traces.size, windows: this.final.length };
  }

  private windowOf(ns: bigint): bigint {
    return ns - (((ns % this.windowNs) + this.windowNs) % this.windowNs);
  }

  private windowAt(start: bigint): TraceWindow | undefined {
    if (start < this.finalBefore) return undefined;
    let w = this.open.get(start);
    if (!w) {
      w = {
        startNs: start,
        endNs: start + this.windowNs,
        spans: 0,
        operations: new Map(),
        serviceEdges: new Map(),
      };
      this.open.set(start, w);
    }
    return w;
  }

  add(s: SpanBody): void {
    this.st.spans++;
    const windowStart = this.windowOf(s.startNs);
    const w = this.windowAt(windowStart);
    if (!w) {
      this.st.late++;
      return;
    }
    let t = this.traces.get(s.traceId);
    if (t) {
      if (t.spans.size + t.waitingCount >= this.o.maxSpansPerTrace || t.spans.has(s.spanId)) {
        this.st.dropped++;
        return;
      }
      this.traces.delete(s.traceId); // re-inserted last: the Map stays ordered by last activity
    } else {
      if (this.traces.size >= this.o.maxTraces) this.evictOldest();
      t = { spans: new Map(), waiting: new Map(), waitingCount: 0, lastSeen: 0n };
    }
    const key = operationKey(s.service, s.operation);
    const op = this.operation(w, key, s.service, s.operation);
    if (!op) {
      this.st.dropped++;
      if (t.spans.size > 0 || t.waitingCount > 0) this.traces.set(s.traceId, t);
      return;
    }
    const end = s.startNs + BigInt(Math.max(0, Math.round(s.durationNs)));
    t.lastSeen = end > t.lastSeen ? end : t.lastSeen;
    this.traces.set(s.traceId, t);
    w.spans++;
    op.count++;
    if (s.status === 'error') op.errors++;
    op.latency.add(s.durationNs);
    const held: HeldSpan = { key, service: s.service, windowStart };
    t.spans.set(s.spanId, held);
    this.heldIn.set(windowStart, (this.heldIn.get(windowStart) ?? 0) + 1);
    // Children that came first.
    const kids = t.waiting.get(s.spanId);
    if (kids) {
      t.waiting.delete(s.spanId);
      t.waitingCount -= kids.length;
      for (const k of kids) this.link(held, k);
    }
    // A span naming itself as parent is taken as a root: it cannot call itself.
    if (s.parentSpanId && s.parentSpanId !== s.spanId) {
      const parent = t.spans.get(s.parentSpanId);
      if (parent) this.link(parent, held);
      else {
        const l = t.waiting.get(s.parentSpanId);
        if (l) l.push(held);
        else t.waiting.set(s.parentSpanId, [held]);
        t.waitingCount++;
      }
    }
  }

  private operation(
    w: TraceWindow,
    key: string,
    service: string,
    operation: string,
  ): OperationStats | undefined {
    let op = w.operations.get(key);
    if (!op) {
      if (w.operations.size >= this.o.maxOperations) return undefined;
      op = {
        service,
        operation,
        count: 0,
        errors: 0,
        latency: new QuantileSketch({ alpha: this.o.alpha }),
        children: new Map(),
      };
      w.operations.set(key, op);
    }
    return op;
  }

  /** One call, counted in the parent's window (so calls per parent span compare within a window). */
  private link(parent: HeldSpan, child: HeldSpan): void {
    const w = this.open.get(parent.windowStart);
    if (!w) {
      this.st.late++;
      return;
    }
    const op = w.operations.get(parent.key);
    if (!op) return;
    const n = op.children.get(child.key);
    if (n === undefined && op.children.size >= this.o.maxChildren) {
      this.st.droppedChildren++;
      return;
    }
    op.children.set(child.key, (n ?? 0) + 1);
    const e = serviceEdgeKey(parent.service, child.service);
    w.serviceEdges.set(e, (w.serviceEdges.get(e) ?? 0) + 1);
    this.st.links++;
  }

  private closeTrace(id: string, t: OpenTrace): void {
    this.traces.delete(id);
    for (const h of t.spans.values()) {
      const n = (this.heldIn.get(h.windowStart) ?? 1) - 1;
      if (n > 0) this.heldIn.set(h.windowStart, n);
      else this.heldIn.delete(h.windowStart);
    }
    this.st.orphans += t.waitingCount;
  }

  private evictOldest(): void {
    const first = this.traces.entries().next();
    if (first.done) return;
    this.closeTrace(first.value[0], first.value[1]);
    this.st.evictedTraces++;
  }

  /**
   * Moves the model's clock to `nowNs` (event time): traces quiet for `traceIdleNs` close, and
   * windows that no held or future on-time span can reach become final (listeners are called).
   */
  advance(nowNs: bigint): void {
    for (const [id, t] of this.traces) {
      if (t.lastSeen + this.traceIdleNs > nowNs) break; // ordered by last activity
      this.closeTrace(id, t);
    }
    // A window is final once its end is a trace-idle time behind and no open trace holds a span in it;
    // a trace that never goes quiet holds it back by at most MAX_HOLD_WINDOWS windows.
    const due = this.windowOf(nowNs - this.traceIdleNs);
    let limit = due;
    for (const s of this.heldIn.keys()) if (s < limit) limit = s;
    const floor = due - BigInt(MAX_HOLD_WINDOWS) * this.windowNs;
    this.finalize(limit > floor ? limit : floor);
  }

  /** Closes every trace and makes every window final (end of a replay). */
  flush(): void {
    for (const [id, t] of this.traces) this.closeTrace(id, t);
    let last = this.finalBefore;
    for (const s of this.open.keys()) if (s + this.windowNs > last) last = s + this.windowNs;
    this.finalize(last);
  }

  private finalize(before: bigint): void {
    if (before <= this.finalBefore) return;
    this.finalBefore = before;
    const ready = [...this.open.keys()].filter((s) => s < before).sort((a, b) => (a < b ? -1 : 1));
    for (const s of ready) {
      const w = this.open.get(s)!;
      this.open.delete(s);
      this.final.push(w);
      if (this.final.length > this.o.history) this.final.shift();
      for (const fn of this.listeners) fn(w);
    }
  }
}
