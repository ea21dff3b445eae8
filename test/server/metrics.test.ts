import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/pipeline/metrics.js';

describe('Prometheus registry', () => {
  it('renders counters, gauges and cumulative histograms in the text format', () => {
    const r = new MetricsRegistry();
    const c = r.counter('x_total', 'x', ['stage']);
    c.inc({ stage: 'a' });
    c.inc({ stage: 'a' }, 2);
    c.inc({ stage: 'b"q' });
    const h = r.histogram('lat_seconds', 'l', ['d'], [0.1, 1]);
    h.observe({ d: 'm' }, 0.05);
    h.observe({ d: 'm' }, 0.5);
    h.observe({ d: 'm' }, 5);
    r.gauge('g', 'g').set({}, 7);
    const out = r.render();
    expect(out).toContain('x_total{stage="a"} 3');
    expect(out).toContain('x_total{stage="b\\"q"} 1');
    expect(out).toContain('lat_seconds_bucket{d="m",le="0.1"} 1');
    expect(out).toContain('lat_seconds_bucket{d="m",le="1"} 2');
    expect(out).toContain('lat_seconds_bucket{d="m",le="+Inf"} 3');
    expect(out).toContain('lat_seconds_sum{d="m"} 5.55');
    expect(out).toContain('g 7');
    expect(() => r.counter('bad name', 'x')).toThrow(/invalid metric name/);
  });
});
