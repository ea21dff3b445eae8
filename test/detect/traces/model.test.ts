import { describe, expect, it } from 'vitest';
import {
  operationKey,
  serviceEdgeKey,
  TraceModel,
  type TraceWindow,
} from '../../../src/detect/traces/model.js';
import type { SpanBody } from '../../../src/model/span.js';

const S = 1_000_000_000n;
const MS = 1_000_000;
const T0 = 1_674_981_600n * S; // 2023-01-29 08:40:00 UTC, a minute boundary

let n = 0;
function span(
  trace: number,
  service: string,
  operation: string,
  startS: number,
  durMs: number,
  parent?: string,
  extra: Partial<SpanBody> = {},
): SpanBody {
  n++;
  return {
    traceId: trace.toString(16).padStart(32, '0'),
    spanId: n.toString(16).padStart(16, '0'),
    parentSpanId: parent,
    service,
    operation,
    startNs: T0 + BigInt(Math.round(startS * 1e3)) * 1_000_000n,
    durationNs: durMs * MS,
    status: 'unset',
    ...extra,
  };
}

/**
 * One request shape: gateway /order → order-service createOrder → {price-service getPrice,
 * db-service insert}; the price call fails in trace 3.
 */
function request(
  model: TraceModel,
  trace: number,
  atS: number,
  opts: { childFirst?: boolean; error?: boolean } = {},
) {
  const root = span(trace, 'gateway', '/order', atS, 100);
  const order = span(trace, 'order-service', 'createOrder', atS + 0.001, 80, root.spanId);
  const price = span(trace, 'price-service', 'getPrice', atS + 0.002, 20 + trace, order.spanId, {
    status: opts.error ? 'error' : 'ok',
  });
  const db = span(trace, 'db-service', 'insert', atS + 0.03, 10, order.spanId);
  const all = [root, order, price, db];
  for (const s of opts.childFirst ? all.reverse() : all) model.add(s);
}

describe('TraceModel', () => {
  it('builds the call graph, latency, errors and child pattern of a window, whichever span comes first', () => {
    const model = new TraceModel({ traceIdleNs: 5n * S });
    const windows: TraceWindow[] = [];
    model.onWindow((w) => windows.push(w));
    for (let t = 1; t <= 10; t++) request(model, t, t, { childFirst: t % 2 === 0, error: t === 3 });
    model.advance(T0 + 30n * S); // not yet: the window ends at 60 s, and traces may stay open 5 s more
    expect(windows).toHaveLength(0);
    model.advance(T0 + 66n * S);
    expect(windows).toHaveLength(1);
    const w = windows[0];
    expect(w.startNs).toBe(T0);
    expect(w.spans).toBe(40);
    expect([...w.serviceEdges].sort()).toEqual(
      [
        [serviceEdgeKey('gateway', 'order-service'), 10],
        [serviceEdgeKey('order-service', 'db-service'), 10],
        [serviceEdgeKey('order-service', 'price-service'), 10],
      ].sort(),
    );
    const order = w.operations.get(operationKey('order-service', 'createOrder'))!;
    expect(order.count).toBe(10);
    expect(Object.fromEntries(order.children)).toEqual({
      [operationKey('price-service', 'getPrice')]: 10,
      [operationKey('db-service', 'insert')]: 10,
    });
    const price = w.operations.get(operationKey('price-service', 'getPrice'))!;
    expect(price.errors).toBe(1);
    // Latencies 21..30 ms: median (rank 4) 25 ms, max 30 ms, within 1 %.
    expect(Math.abs(price.latency.quantile(0.5) - 25 * MS) / (25 * MS)).toBeLessThanOrEqual(0.01);
    expect(price.latency.quantile(1)).toBe(30 * MS);
    expect(model.stats()).toMatchObject({
      spans: 40,
      links: 30,
      orphans: 0,
      late: 0,
      dropped: 0,
      openTraces: 0,
    });
  });

  it('shows a dropped child and a new child as a different pattern in the next window', () => {
    const model = new TraceModel({ traceIdleNs: 1n * S });
    for (let t = 1; t <= 5; t++) request(model, t, t);
    // Minute 2: createOrder stops calling db-service and calls cache-service instead.
    for (let t = 6; t <= 10; t++) {
      const root = span(t, 'gateway', '/order', 60 + t, 100);
      const order = span(t, 'order-service', 'createOrder', 60 + t, 80, root.spanId);
      model.add(root);
      model.add(order);
      model.add(span(t, 'price-service', 'getPrice', 60 + t, 20, order.spanId));
      model.add(span(t, 'cache-service', 'get', 60 + t, 1, order.spanId));
    }
    model.flush();
    const [a, b] = model.windows();
    const kids = (w: TraceWindow) =>
      [...w.operations.get(operationKey('order-service', 'createOrder'))!.children.keys()].sort();
    expect(kids(a)).toEqual(
      [operationKey('db-service', 'insert'), operationKey('price-service', 'getPrice')].sort(),
    );
    expect(kids(b)).toEqual(
      [operationKey('cache-service', 'get'), operationKey('price-service', 'getPrice')].sort(),
    );
  });

  it('counts orphans, late spans and what is over its bounds', () => {
    const model = new TraceModel({ traceIdleNs: 1n * S, maxTraces: 2, maxSpansPerTrace: 3, maxChildren: 1 });
    // A child whose parent never comes.
    model.add(span(100, 'a', 'x', 1, 1, 'ffffffffffffffff'));
    // A trace over its span bound: the fourth span is dropped.
    const r = span(101, 'a', 'root', 1, 10);
    model.add(r);
    model.add(span(101, 'b', 'one', 1, 1, r.spanId));
    model.add(span(101, 'c', 'two', 1, 1, r.spanId)); // a second distinct child: over maxChildren
    model.add(span(101, 'd', 'three', 1, 1, r.spanId));
    // A third open trace evicts the oldest (trace 100, whose orphan is then counted).
    model.add(span(102, 'a', 'root', 2, 1));
    expect(model.stats()).toMatchObject({
      dropped: 1,
      droppedChildren: 1,
      evictedTraces: 1,
      orphans: 1,
      links: 1,
    });
    model.advance(T0 + 120n * S);
    expect(model.windows()).toHaveLength(1);
    model.add(span(103, 'a', 'root', 3, 1)); // its window is final
    expect(model.stats().late).toBe(1);
  });

  it('takes a span that names itself as parent as a root', () => {
    const model = new TraceModel();
    const s = span(9, 'a', 'x', 1, 1);
    model.add({ ...s, parentSpanId: s.spanId });
    model.flush();
    expect(model.stats()).toMatchObject({ links: 0, orphans: 0 });
    expect(model.windows()[0].operations.get(operationKey('a', 'x'))!.children.size).toBe(0);
  });

  it('does not let one trace that never goes quiet hold windows open for ever', () => {
    const model = new TraceModel({ traceIdleNs: 1n * S });
    const root = span(7, 'a', 'stream', 0, 1);
    model.add(root);
    for (let m = 1; m <= 20; m++) {
      model.add(span(7, 'b', 'chunk', m * 60, 1, root.spanId));
      model.advance(T0 + BigInt(m * 60 + 2) * S);
    }
    expect(model.windows().length).toBeGreaterThanOrEqual(20 - 10 - 1);
  });
});
