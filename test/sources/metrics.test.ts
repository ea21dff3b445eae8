import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CgroupSource,
  CounterRate,
  containerCgroupPaths,
  parseBlkioServiceBytes,
  parseIoStat,
  parseKeyValues,
  parseLimit,
  parsePressure,
  readCgroup,
  sampleToMetric,
} from '../../src/sources/metrics/cgroup.js';
import {
  cadvisorToEvents,
  nodeExporterToEvent,
  parsePrometheusText,
} from '../../src/sources/metrics/prometheus.js';
import { parseQuantity, podMetricsToEvents } from '../../src/sources/metrics/k8s-metrics.js';
import { parseLidRes } from '../../src/sources/metrics/lidds-res.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-cg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

const ID = 'a'.repeat(64);

describe('cgroup parsers', () => {
  it('parses key/value, PSI, io.stat, blkio and limits', () => {
    expect(parseKeyValues('nr_periods 10\nnr_throttled 3\nthrottled_time 500\nbad line here\n')).toEqual({
      nr_periods: 10,
      nr_throttled: 3,
      throttled_time: 500,
    });
    expect(
      parsePressure(
        'some avg10=0.66 avg60=1.47 avg300=0.74 total=3555127\nfull avg10=0.50 avg60=1.42 avg300=0.69 total=3297767\n',
      ),
    ).toEqual({
      someAvg10: 0.66,
      someTotalUs: 3555127,
      fullAvg10: 0.5,
      fullTotalUs: 3297767,
    });
    expect(
      parseIoStat(
        '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n',
      ),
    ).toEqual({ rbytes: 101, wbytes: 202 });
    expect(
      parseBlkioServiceBytes('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n'),
    ).toEqual({ rbytes: 4096, wbytes: 8192 });
    expect(parseLimit('max\n')).toBeUndefined();
    expect(parseLimit('9223372036854771712\n')).toBeUndefined();
    expect(parseLimit('268435456\n')).toBe(268435456);
  });

  it('reads a hybrid v1 + unified layout and turns counters into rates, resets counted', async () => {
    const root = join(tmp, 'hybrid');
    const d = (c: string) => join(root, c, 'docker', ID);
    const setCounters = (usageNs: number, periods: number, throttled: number, psiUs: number) => {
      write(join(d('cpuacct'), 'cpuacct.usage'), `${usageNs}\n`);
      write(
        join(d('cpu'), 'cpu.stat'),
        `nr_periods ${periods}\nnr_throttled ${throttled}\nthrottled_time 0\n`,
      );
      write(
        join(d('unified'), 'cpu.pressure'),
        `some avg10=0.00 avg60=0.00 avg300=0.00 total=${psiUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`,
      );
    };
    setCounters(1_000_000_000, 100, 0, 0);
    write(join(d('memory'), 'memory.usage_in_bytes'), '104857600\n');
    write(join(d('memory'), 'memory.stat'), 'total_inactive_file 4857600\n');
    write(join(d('memory'), 'memory.limit_in_bytes'), '9223372036854771712\n');
    write(join(d('pids'), 'pids.current'), '7\n');
    write(join(d('blkio'), 'blkio.throttle.io_service_bytes'), '8:0 Read 0\n8:0 Write 0\n');
    write(join(d('unified'), 'cgroup.procs'), '');
    const paths = containerCgroupPaths(ID, root)!;
    expect(paths.version).toBe(1);
    expect(paths.v2).toBe(d('unified'));
    expect(readCgroup(paths)).toMatchObject({
      cpuUsageNs: 1e9,
      memory: 100_000_000,
      pids: 7,
      cpuPressureUs: 0,
    });

    const src = new CgroupSource({ root, list: async () => [{ id: ID, name: 'web' }], hostname: 'h' });
    expect((await src.poll(10n * 1_000_000_000n))[0].metric).toMatchObject({ memory: 100_000_000, pids: 7 });
    // 2 s later: 1.5 s of CPU, 20 periods of which 5 throttled, 0.5 s stalled on CPU
    setCounters(2_500_000_000, 120, 5, 500_000);
    const [ev] = await src.poll(12n * 1_000_000_000n);
    expect(ev.container).toMatchObject({ id: ID, name: 'web' });
    expect(ev.metric!.cpu).toBeCloseTo(0.75, 9);
    expect(ev.metric!.cpuThrottled).toBeCloseTo(0.25, 9);
    expect(ev.metric!.cpuPressure).toBeCloseTo(25, 9);
    // Counter went backwards (restart): no rate, reset counted.
    setCounters(1_000, 1, 0, 0);
    const [ev2] = await src.poll(13n * 1_000_000_000n);
    expect(ev2.metric!.cpu).toBeUndefined();
    expect(src.stats().resets).toBeGreaterThanOrEqual(1);
  });

  it('reads a pure v2 layout', () => {
    const root = join(tmp, 'v2');
    const d = join(root, 'system.slice', `docker-${ID}.scope`);
    write(join(d, 'cgroup.procs'), '1\n');
    write(
      join(d, 'cpu.stat'),
      'usage_usec 2000000\nuser_usec 1\nsystem_usec 1\nnr_periods 4\nnr_throttled 1\nthrottled_usec 10\n',
    );
    write(join(d, 'memory.current'), '5000\n');
    write(join(d, 'memory.stat'), 'inactive_file 1000\n');
    write(join(d, 'memory.max'), '8000\n');
    write(join(d, 'io.stat'), '8:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n');
    write(join(d, 'pids.current'), '3\n');
    const p = containerCgroupPaths(ID, root)!;
    expect(p.version).toBe(2);
    expect(readCgroup(p)).toEqual({
      cpuUsageNs: 2e9,
      nrPeriods: 4,
      nrThrottled: 1,
      throttledNs: 10_000,
      memory: 4000,
      memoryLimit: 8000,
      ioReadBytes: 10,
      ioWriteBytes: 20,
      pids: 3,
    });
  });

  it('reads the freezer state: paused containers are frozen (v2 cgroup.events, v1 freezer.state)', () => {
    const v2 = join(tmp, 'v2-frozen');
    const d = join(v2, 'system.slice', `docker-${ID}.scope`);
    write(join(d, 'cgroup.procs'), '1\n');
    write(join(d, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    expect(readCgroup(containerCgroupPaths(ID, v2)!).frozen).toBe(true);
    write(join(d, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    expect(readCgroup(containerCgroupPaths(ID, v2)!).frozen).toBe(false);
    const v1 = join(tmp, 'v1-frozen');
    write(join(v1, 'freezer', 'docker', ID, 'freezer.state'), 'FROZEN\n');
    const p1 = containerCgroupPaths(ID, v1)!;
    expect(readCgroup(p1).frozen).toBe(true);
    expect(sampleToMetric(ID, 1n, readCgroup(p1), new CounterRate()).frozen).toBe(1);
    write(join(v1, 'freezer', 'docker', ID, 'freezer.state'), 'THAWED\n');
    expect(readCgroup(p1).frozen).toBe(false);
  });

  it('CounterRate: rate, reset, first sample', () => {
    const r = new CounterRate();
    expect(r.rate('x', 1_000_000_000n, 10)).toBeUndefined();
    expect(r.rate('x', 3_000_000_000n, 30)).toBe(10);
    expect(r.rate('x', 4_000_000_000n, 5)).toBeUndefined();
    expect(r.resets).toBe(1);
    expect(r.rate('x', 5_000_000_000n, 15)).toBe(10);
  });
});

// Written in the exact format cAdvisor and the kubelet's /metrics/cadvisor expose.
const CADVISOR = (
  cpuA: number,
  cpuB: number,
  thr: number,
) => `# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="",cpu="total",id="/kubepods/burstable/pod1",image="",name="",namespace="shop",pod="web-7d4f9c-abcde"} 100 1700000000000
container_cpu_usage_seconds_total{container="POD",cpu="total",id="/kubepods/burstable/pod1/1111",image="registry.k8s.io/pause:3.9",name="k8s_POD_web",namespace="shop",pod="web-7d4f9c-abcde"} 0.01 1700000000000
container_cpu_usage_seconds_total{container="web",cpu="total",id="/kubepods/burstable/pod1/2222",image="shop/web:1.2",name="k8s_web_web",namespace="shop",pod="web-7d4f9c-abcde"} ${cpuA} 1700000000000
container_cpu_usage_seconds_total{container="hog",cpu="total",id="/kubepods/besteffort/pod2/3333",image="busybox",name="k8s_hog",namespace="shop",pod="hog-5c5d-xyz12"} ${cpuB} 1700000000000
# HELP container_cpu_cfs_periods_total Number of elapsed enforcement period intervals.
# TYPE container_cpu_cfs_periods_total counter
container_cpu_cfs_periods_total{container="web",id="/kubepods/burstable/pod1/2222",image="shop/web:1.2",name="k8s_web_web",namespace="shop",pod="web-7d4f9c-abcde"} ${100 + thr * 10} 1700000000000
container_cpu_cfs_throttled_periods_total{container="web",id="/kubepods/burstable/pod1/2222",image="shop/web:1.2",name="k8s_web_web",namespace="shop",pod="web-7d4f9c-abcde"} ${thr} 1700000000000
# HELP container_memory_working_set_bytes Current working set in bytes.
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="web",id="/kubepods/burstable/pod1/2222",image="shop/web:1.2",name="k8s_web_web",namespace="shop",pod="web-7d4f9c-abcde"} 5.24288e+07 1700000000000
container_spec_memory_limit_bytes{container="web",id="/kubepods/burstable/pod1/2222",image="shop/web:1.2",name="k8s_web_web",namespace="shop",pod="web-7d4f9c-abcde"} 0
container_network_receive_bytes_total{container="",id="/kubepods/burstable/pod1",interface="eth0",name="",namespace="shop",pod="web-7d4f9c-abcde"} 1234 1700000000000
`;

describe('Prometheus text format', () => {
  it('parses names, labels with escapes, special values, timestamps; reports bad lines', () => {
    const r = parsePrometheusText(
      [
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        'metric_without_timestamp_and_labels 12.47',
        'something_weird{problem="division by zero"} +Inf -3982045',
        'nan_metric NaN',
        'broken{label=unquoted} 1',
        'no_value{a="b"}',
      ].join('\n'),
      'fixture.prom',
    );
    expect(r.types.http_requests_total).toBe('counter');
    expect(r.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
      timestampMs: 1395066363000,
    });
    expect(r.samples[1].labels).toEqual({
      path: 'C:\\DIR\\FILE.TXT',
      error: 'Cannot find file:\n"FILE.TXT"',
    });
    expect(r.samples[2]).toEqual({ name: 'metric_without_timestamp_and_labels', labels: {}, value: 12.47 });
    expect(r.samples[3].value).toBe(Infinity);
    expect(r.samples[3].timestampMs).toBe(-3982045);
    expect(Number.isNaN(r.samples[4].value)).toBe(true);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^fixture\.prom:8:/);
    expect(r.errors[1]).toMatch(/^fixture\.prom:9:/);
  });

  it('maps cAdvisor series to per-container rates, skipping the sandbox and root series', () => {
    const rates = new CounterRate();
    const first = parsePrometheusText(CADVISOR(10, 5, 0));
    expect(first.errors).toEqual([]);
    cadvisorToEvents(first.samples, 0n, rates);
    // Ten seconds later (sample timestamps move by 10,000 ms).
    const second = parsePrometheusText(CADVISOR(12, 15, 4).replace(/1700000000000/g, '1700000010000'));
    const evs = cadvisorToEvents(second.samples, 0n, rates);
    expect(evs.map((e) => e.container!.name).sort()).toEqual(['hog', 'web']);
    const web = evs.find((e) => e.container!.name === 'web')!;
    expect(web.k8s).toEqual({ namespace: 'shop', pod: 'web-7d4f9c-abcde' });
    expect(web.metric!.cpu).toBeCloseTo(0.2, 9); // 2 s of CPU over 10 s
    expect(web.metric!.cpuThrottled).toBeCloseTo(0.1, 9); // 4 of 40 periods
    expect(web.metric!.memory).toBe(52428800);
    expect(web.metric!.memoryLimit).toBeUndefined();
    expect(evs.find((e) => e.container!.name === 'hog')!.metric!.cpu).toBeCloseTo(1, 9);
  });

  it('maps node-exporter CPU, memory and PSI', () => {
    const rates = new CounterRate();
    const text = (idle: number, user: number, psi: number) => `# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} ${idle}
node_cpu_seconds_total{cpu="0",mode="user"} ${user}
node_cpu_seconds_total{cpu="0",mode="system"} 10
node_memory_MemTotal_bytes 1.6e+10
node_memory_MemAvailable_bytes 1.2e+10
node_pressure_cpu_waiting_seconds_total ${psi}
`;
    nodeExporterToEvent(parsePrometheusText(text(100, 50, 1)).samples, 1_000_000_000n, rates, 'n1');
    const ev = nodeExporterToEvent(
      parsePrometheusText(text(101, 58, 2)).samples,
      11_000_000_000n,
      rates,
      'n1',
    )!;
    expect(ev.metric!.cpu).toBeCloseTo(0.8, 9);
    expect(ev.metric!.memory).toBe(4e9);
    expect(ev.metric!.cpuPressure).toBeCloseTo(10, 9);
  });
});

describe('Kubernetes metrics API and LID-DS .res', () => {
  it('parses quantities and pod metrics', () => {
    expect(parseQuantity('250m')).toBe(0.25);
    expect(parseQuantity('1500000n')).toBeCloseTo(0.0015, 12);
    expect(parseQuantity('128Mi')).toBe(134217728);
    expect(parseQuantity('2')).toBe(2);
    expect(() => parseQuantity('12Qx')).toThrow(/bad quantity/);
    const errors: string[] = [];
    const evs = podMetricsToEvents(
      {
        kind: 'PodMetricsList',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: { selfLink: '' },
        items: [
          {
            metadata: { name: 'web-1', namespace: 'shop', selfLink: '', creationTimestamp: '' },
            timestamp: '2024-05-01T10:00:00Z',
            window: '15s',
            containers: [
              { name: 'web', usage: { cpu: '120m', memory: '64Mi' } },
              { name: 'bad', usage: { cpu: 'lots', memory: '1Mi' } },
            ],
          },
        ],
      },
      errors,
    );
    expect(evs).toHaveLength(1);
    expect(evs[0].metric).toEqual({ cpu: 0.12, memory: 67108864 });
    expect(evs[0].ts).toBe(1714557600000000000n);
    expect(errors[0]).toMatch(/shop\/web-1 container bad/);
  });

  it('reads .res rows, NULLs and cumulative counters', () => {
    const res = parseLidRes(
      [
        'timestamp,cpu_usage,memory_usage,network_received,network_send,storage_read,storage_written',
        '1631078867,12.5,1048576,1000,500,0,0',
        '1631078868,NULL,1048576,3000,700,4096,0',
        'garbage',
        '1631078869,50,2097152,6000,900,4096,8192',
      ].join('\n'),
      { origin: 'x.res', container: 'victim' },
    );
    expect(res.malformed).toBe(1);
    expect(res.errors[0]).toBe('x.res:4: expected 7 fields with a timestamp');
    expect(res.counters).toEqual({ netRx: true, netTx: true, blkRead: true, blkWrite: true });
    expect(res.events).toHaveLength(3);
    expect(res.events[0].metric).toEqual({ cpuPercent: 12.5, cpu: 0.125, memory: 1048576 });
    expect(res.events[1].metric).toMatchObject({ netRx: 2000, netTx: 200, blkRead: 4096, blkWrite: 0 });
    expect(res.events[1].metric!.cpu).toBeUndefined();
    expect(res.events[2].metric).toMatchObject({ cpu: 0.5, netRx: 3000, blkIo: 8192 });
    expect(res.events[2].ts).toBe(1631078869000000000n);
  });
});

describe('metric source factories', () => {
  it('stay off unless configured and reject a bad target', async () => {
    const { createPrometheusSource } = await import('../../src/sources/metrics/prometheus.js');
    const { createK8sMetricsSource } = await import('../../src/sources/metrics/k8s-metrics.js');
    expect(createPrometheusSource({ config: {} })).toBeUndefined();
    expect(createK8sMetricsSource({ config: {} })).toBeUndefined();
    expect(
      createPrometheusSource({
        config: { prometheus: { targets: [{ url: 'http://x:9100/metrics', kind: 'node-exporter' }] } },
      })?.name,
    ).toBe('prometheus');
    expect(() =>
      createPrometheusSource({ config: { prometheus: { targets: [{ url: 'http://x' }] } } }),
    ).toThrow(/targets\[0\]/);
    expect(createK8sMetricsSource({ config: { k8sMetrics: { enabled: true } } })?.name).toBe('k8s-metrics');
  });
});
