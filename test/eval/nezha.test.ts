import { describe, expect, it } from 'vitest';
import { requireDataset } from '../../src/util/datasets.js';
import { evalNezha, NEZHA_PARAMS } from '../../src/eval/nezha.js';
import { parseNezhaTime, serviceOfPod } from '../../src/sources/metrics/nezha.js';

describe('Nezha reader', () => {
  it('parses both time formats on the same clock', () => {
    expect(parseNezhaTime('2023-01-29 08:41:09.043078357 +0000 UTC m=+0.119240217')).toBe(
      1674981669043078357n,
    );
    expect(parseNezhaTime('2023-01-29 08:43:04')).toBe(1674981784000000000n);
    expect(() => parseNezhaTime('yesterday')).toThrow(/bad time/);
  });
  it('strips replica-set suffixes', () => {
    expect(serviceOfPod('ts-contacts-service-866bd68c97-xcqfx')).toBe('ts-contacts-service');
    expect(serviceOfPod('ts-consign-price-service-df498d7fb-725nt')).toBe('ts-consign-price-service');
  });
});

const day = requireDataset('nezha-trainticket', '2023-01-29');
describe.skipIf(!day)('Nezha TrainTicket 2023-01-29 (metrics only)', () => {
  it('detects and localizes CPU contention, beats the trivial detectors', () => {
    const r = evalNezha(day!, { multivariate: false });
    expect(r.faults).toBe(28);
    expect(r.byType.cpu_contention.recall).toBe(1);
    expect(r.top1).toBeGreaterThanOrEqual(0.87);
    expect(r.top3).toBeGreaterThanOrEqual(r.top1);
    expect(r.precision).toBeGreaterThan(r.trivial.flagEveryMinute.precision);
    expect(r.recall).toBeGreaterThan(r.trivial.flagEveryMinute.recall);
    expect(r.top1).toBeGreaterThan(r.trivial.randomRanking.top1);
    // Relative-shift screen: every fault scored; per column, close to 5 % of fault-free windows
    // flagged (two 2.5 % tails), the chance rate the fault counts are read against.
    const sh = r.shift!;
    expect(Object.values(sh.byType).reduce((a, t) => a + t.faults, 0)).toBe(28);
    for (const c of sh.columns) expect(sh.faultFreeRate[c]).toBeLessThanOrEqual(0.08);
    expect(sh.allPods.blocks).toBeGreaterThan(50);
  }, 60_000);
  it('minute data: persistence removes alarms made of separate one-minute spikes, keeps the faults', () => {
    const r = evalNezha(day!, { multivariate: false, shift: false });
    expect(r.params).toEqual(NEZHA_PARAMS);
    const cusumOnly = evalNezha(day!, { params: { persist: 1 }, multivariate: false, shift: false });
    expect(r.detected).toBe(cusumOnly.detected);
    expect(r.top1).toBe(cusumOnly.top1);
    expect(r.meanDelaySeconds).toBe(cusumOnly.meanDelaySeconds);
    expect(r.falseAlarms).toBeLessThan(cusumOnly.falseAlarms);
    // What remains outside the fault windows holds for several minutes, like the labelled faults.
    for (const f of r.falseAlarmList) {
      expect(f.minutes).toBeGreaterThanOrEqual(2);
      expect(f.alarmed.some((a) => a.minutes >= 2)).toBe(true);
    }
    // The alarms it removes: episodes of latency alone (per-minute P95 of a few requests).
    const removed = cusumOnly.falseAlarmList.filter(
      (f) => !r.falseAlarmList.some((g) => g.start === f.start),
    );
    expect(removed.length).toBeGreaterThan(0);
    for (const f of removed) expect(f.alarmed.every((a) => a.metric === 'latencyMs')).toBe(true);
  }, 60_000);
  // Not met: return/exception faults leave no trace in this day's metrics (per-fault evidence in
  // docs/perf.md), and eight CPU bursts with the labelled CPU-contention injections' shape (0.4-0.5
  // cores for 3-4 minutes on pods idle at a few millicores) are missing from fault_list.json, so
  // they count as false alarms under the definitions (8 in 11.75 fault-free hours: 0.68).
  it.todo('recall ≥ 0.8 and ≤ 0.5 false alarms per fault-free hour');
});
