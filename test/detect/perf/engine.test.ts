import { describe, expect, it } from 'vitest';
import { Cusum, Ewma, linearTrend, pearson, RollingRobust } from '../../../src/detect/perf/baseline.js';
import { PerfEngine, type EntityRef, type PerfFinding } from '../../../src/detect/perf/engine.js';
import { PerfDetector } from '../../../src/detect/perf/detector.js';
import type { AlertInput } from '../../../src/model/alert.js';

const S = 1_000_000_000n;

describe('baselines (hand-worked values)', () => {
  it('rolling median and MAD', () => {
    const r = new RollingRobust(4, 1);
    for (const x of [1, 2, 3, 4, 5]) r.push(x);
    // ring holds 2,3,4,5: median 3.5; |d| = 1.5, .5, .5, 1.5 → MAD 1
    expect(r.median).toBe(3.5);
    expect(r.sigma).toBeCloseTo(1.4826, 6);
    const out = new Float64Array(4);
    expect(r.copyOrdered(out)).toBe(4);
    expect([...out]).toEqual([2, 3, 4, 5]);
  });
  it('EWMA mean and variance', () => {
    const e = new Ewma(0.5);
    e.push(0);
    e.push(2); // mean 1, variance (1-.5)*(0 + 2*1) = 1
    expect(e.mean).toBe(1);
    expect(e.variance).toBe(1);
  });
  it('CUSUM: slack, clip and threshold', () => {
    const c = new Cusum(3, 10, 10);
    expect(c.update(5)).toBe(2);
    expect(c.update(5)).toBe(4);
    expect(c.update(0)).toBe(1);
    expect(c.update(-5)).toBe(0);
    expect(c.update(100)).toBe(7); // clipped at 10, minus k
    expect(c.alarm).toBe(false);
    expect(c.update(100)).toBe(14);
    expect(c.alarm).toBe(true);
  });
  it('linear trend and Pearson correlation', () => {
    const y = Float64Array.from([1, 3, 5, 7, 9]);
    const t = linearTrend(y, 5);
    expect(t.slope).toBeCloseTo(2, 12);
    expect(t.r2).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [2, 4, 6], 3)).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1], 3)).toBeCloseTo(-1, 12);
    expect(Number.isNaN(pearson([1, 1, 1], [1, 2, 3], 3))).toBe(true);
  });
});

function ref(name: string, scope = 'node-a'): EntityRef {
  return { key: `container:${name}`, container: { id: name, name }, scope, name, host: scope };
}

/** Deterministic noise in [-1, 1]. */
function noise(i: number): number {
  return Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 78.233) * 0.5;
}

describe('PerfEngine', () => {
  it('alarms on a sustained CPU step, not on a lone spike, and recovers', () => {
    const eng = new PerfEngine();
    const r = ref('web');
    const found: PerfFinding[] = [];
    let i = 0;
    const feed = (cpu: number) => {
      const f = eng.observe(r, BigInt(++i) * S, { cpu });
      if (f) found.push(...f);
    };
    for (let k = 0; k < 80; k++) feed(0.1 + 0.01 * noise(k));
    feed(0.9); // lone spike
    for (let k = 0; k < 5; k++) feed(0.1 + 0.01 * noise(k));
    expect(found).toEqual([]);
    for (let k = 0; k < 5; k++) feed(0.9);
    const an = found.find((f) => f.type === 'anomaly');
    expect(an).toBeDefined();
    if (an?.type !== 'anomaly') throw new Error('no anomaly');
    expect(an.deviations[0].metric).toBe('cpu');
    expect(an.ranking[0].ref.name).toBe('web');
    for (let k = 0; k < 5; k++) feed(0.1);
    expect(found.some((f) => f.type === 'recovered')).toBe(true);
  });

  it('persistence: spikes two samples apart alarm through the CUSUM alone, not with persist = 2', () => {
    // Latency 50 ms (the 100-ms floor is the sigma), then spikes at samples 41 and 43 (z = 9 and 10)
    // with 200 ms between (z = 1.5): the CUSUM holds 6 after the first, 4.5 after the second sample,
    // 11.5 > 10 after the third. A missing sample between leaves it at 6, then 13.
    const run = (persist: number, gapValue: number) => {
      const eng = new PerfEngine({ persist });
      const r = ref('sparse');
      const found: PerfFinding[] = [];
      const series = [...Array(40).fill(50), 950, gapValue, 1050, 50, 50];
      series.forEach((x, k) => found.push(...(eng.observe(r, BigInt(k + 1) * S, { latencyMs: x }) ?? [])));
      return found.filter((f) => f.type === 'anomaly').length;
    };
    expect(run(1, 200)).toBe(1);
    expect(run(2, 200)).toBe(0);
    // A sample without a measurement between the spikes breaks the run too.
    expect(run(1, NaN)).toBe(1);
    expect(run(2, NaN)).toBe(0);
    // A held shift alarms at the same sample with either setting.
    const onset = (persist: number) => {
      const eng = new PerfEngine({ persist });
      const r = ref('held');
      for (let k = 1; k <= 80; k++) {
        const f = eng.observe(r, BigInt(k) * S, { cpu: k > 60 ? 0.9 : 0.1 + 0.01 * noise(k) });
        if (f?.some((x) => x.type === 'anomaly')) return k;
      }
      return -1;
    };
    expect(onset(1)).toBe(62);
    expect(onset(2)).toBe(62);
  });

  it('an alarm stands through a sample without a measurement', () => {
    const eng = new PerfEngine();
    const r = ref('gappy');
    const found: PerfFinding[] = [];
    const feed = (k: number, latencyMs: number) =>
      found.push(...(eng.observe(r, BigInt(k) * S, { latencyMs }) ?? []));
    for (let k = 1; k <= 40; k++) feed(k, 50);
    feed(41, 2000);
    feed(42, 2000);
    expect(found.filter((f) => f.type === 'anomaly')).toHaveLength(1);
    feed(43, NaN);
    expect(found.some((f) => f.type === 'recovered')).toBe(false);
    expect(eng.entity(r.key)!.alarmed).toBe(true);
    feed(44, 50);
    feed(45, 50);
    expect(found.some((f) => f.type === 'recovered')).toBe(true);
  });

  it('counts NaN, skips out-of-order samples and resets evidence across a gap', () => {
    const eng = new PerfEngine();
    const r = ref('a');
    for (let k = 1; k <= 40; k++) eng.observe(r, BigInt(k) * S, { cpu: 0.1 });
    eng.observe(r, 41n * S, { cpu: NaN });
    expect(eng.stats.skippedNaN).toBe(1);
    expect(eng.observe(r, 10n * S, { cpu: 5 })).toBeUndefined();
    expect(eng.stats.outOfOrder).toBe(1);
    eng.observe(r, 42n * S, { cpu: 0.5 });
    expect(eng.entity(r.key)!.tracks[0]!.cusum.s).toBeGreaterThan(0);
    eng.observe(r, 1000n * S, { cpu: 0.1 }); // long gap
    expect(eng.stats.gaps).toBe(1);
    expect(eng.entity(r.key)!.tracks[0]!.cusum.s).toBe(0);
  });

  it('takes two sources feeding one entity at the same instant (cgroup metrics and a latency probe)', () => {
    const eng = new PerfEngine({ floors: { latencyMs: { abs: 2 } } });
    const r = ref('svc');
    const found: PerfFinding[] = [];
    for (let k = 1; k <= 40; k++) {
      const hog = k > 30;
      const a = eng.observe(r, BigInt(k) * S, { cpu: 0.1, cpuPressure: 2 });
      const b = eng.observe(r, BigInt(k) * S, { latencyMs: hog ? 30 : 5 + (k % 3) * 0.2 });
      found.push(...(a ?? []), ...(b ?? []));
    }
    const an = found.find((f) => f.type === 'anomaly');
    if (an?.type !== 'anomaly') throw new Error('the latency rise seen by the second source was lost');
    expect(an.deviations[0].metric).toBe('latencyMs');
    expect(eng.entity(r.key)!.samples).toBe(40);
    // The same metric twice at one instant is still a duplicate.
    eng.observe(r, 40n * S, { latencyMs: 500 });
    expect(eng.stats.outOfOrder).toBe(1);
  });

  it('reports a steady memory climb as a leak', () => {
    const eng = new PerfEngine();
    const r = ref('leaky');
    const found: PerfFinding[] = [];
    for (let k = 1; k <= 80; k++) {
      const f = eng.observe(r, BigInt(k) * S, { memory: 100e6 + k * 2e6 });
      if (f) found.push(...f);
    }
    expect(found.some((f) => f.type === 'leak')).toBe(true);
  });

  it('names the co-located neighbour whose CPU rose with the victim latency', () => {
    const det = new PerfDetector();
    const alerts: AlertInput[] = [];
    const emit = (a: AlertInput) => alerts.push(a);
    const send = (name: string, t: number, metric: Record<string, number>, host = 'node-a') =>
      det.onEvent(
        {
          id: `${name}-${t}`,
          kind: 'metric',
          ts: BigInt(t) * S,
          source: 'test',
          host,
          container: { id: name, name },
          metric,
        },
        emit,
      );
    for (let t = 1; t <= 60; t++) {
      const hog = t > 50;
      send('victim', t, {
        latencyMs: hog ? 1500 + 30 * noise(t) : 20 + 2 * noise(t),
        cpu: 0.2 + 0.01 * noise(t + 3),
      });
      send('hog', t, { cpu: hog ? 1.0 : 0.01 + 0.002 * noise(t + 7) });
      send('quiet', t, { cpu: 0.05 + 0.005 * noise(t + 11) });
      send('other-node', t, { cpu: hog ? 1.0 : 0.01 }, 'node-b');
    }
    const nn = alerts.find((a) => a.rule === 'Noisy neighbour');
    expect(nn).toBeDefined();
    expect(nn!.output_fields!['culprit.name']).toBe('hog');
    expect(nn!.output_fields!['victim.name']).toBe('victim');
    expect(nn!.entities!.container!.id).toBe('hog');
    expect(nn!.category).toBe('performance');
    expect(nn!.output).toMatch(/hog/);
  });

  it('evicts the least recently seen entity beyond the cap', () => {
    const eng = new PerfEngine({ maxEntities: 2 });
    eng.observe(ref('a'), 1n * S, { cpu: 1 });
    eng.observe(ref('b'), 1n * S, { cpu: 1 });
    eng.observe(ref('a'), 2n * S, { cpu: 1 });
    eng.observe(ref('c'), 2n * S, { cpu: 1 });
    expect(eng.entity('container:b')).toBeUndefined();
    expect(eng.entity('container:a')).toBeDefined();
    expect(eng.stats.evicted).toBe(1);
  });
});

describe('quickselect median', () => {
  it('matches a sorted median on odd, even and tied inputs', async () => {
    const { medianInPlace } = await import('../../../src/detect/perf/baseline.js');
    const cases = [[5, 1, 3], [4, 1, 3, 2], [2, 2, 2, 1], [7], [1, 9, 9, 9, 1, 1]];
    for (const c of cases) {
      const sorted = [...c].sort((a, b) => a - b);
      const n = c.length;
      const want = n & 1 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      expect(medianInPlace(Float64Array.from(c), n)).toBe(want);
    }
    let seed = 7;
    for (let t = 0; t < 200; t++) {
      const n = 1 + (t % 61);
      const a = Float64Array.from(
        { length: n },
        () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 10,
      );
      const sorted = [...a].sort((x, y) => x - y);
      const want = n & 1 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      expect(medianInPlace(a, n)).toBe(want);
    }
  });
});
