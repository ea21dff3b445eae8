import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  readNezhaLogs,
  unwrapDockerLog,
  type NezhaLogLine,
} from '../../../src/sources/datasets/nezha-logs.js';
import { newReadStats, readNezhaSpans } from '../../../src/sources/datasets/nezha-traces.js';
import { splitCsv } from '../../../src/sources/datasets/nezha-files.js';
import { parseNezhaTime, readNezhaFaults } from '../../../src/sources/metrics/nezha.js';
import { serviceOfPod } from '../../../src/model/event.js';
import type { SpanBody } from '../../../src/model/span.js';
import { requireDataset } from '../../../src/util/datasets.js';

async function all<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

const TRACE_HEADER =
  'TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration';
const LOG_HEADER = 'Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log';

function fixtureDay(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-nezha-'));
  mkdirSync(join(dir, 'trace'));
  mkdirSync(join(dir, 'log'));
  const T = 'b0103bb0161ad7fa352fe1828eeb643a';
  // Written out of order on purpose: the reader goes by the minute in the name.
  writeFileSync(
    join(dir, 'trace', '08_44_trace.csv.gz'),
    gzipSync(
      `${TRACE_HEADER}\n${T},00000000000000c1,520b067330e3ede5,ts-order-service-6d5f8b7c9-x2k4q,getOrder,1674981840000000000,1674981840002000000,2000\n` +
        // Also in the previous minute's file (the published files overlap): read once.
        `${T},520b067330e3ede5,root,ts-gateway-service-6f6cfc45b-h5m2n,/*,1674981768697000000,1674981769015316530,318316\n`,
    ),
  );
  writeFileSync(
    join(dir, 'trace', '08_43_trace.csv.gz'),
    gzipSync(
      [
        TRACE_HEADER,
        `${T},520b067330e3ede5,root,ts-gateway-service-6f6cfc45b-h5m2n,/*,1674981768697000000,1674981769015316530,318316`,
        `${T},a4424f20bffee416,520b067330e3ede5,ts-gateway-service-6f6cfc45b-h5m2n,HTTP POST`, // too few fields
        `${T},zz,root,ts-gateway-service-6f6cfc45b-h5m2n,/*,1,2,0`, // span id not hex
        `${T},a4424f20bffee417,520b067330e3ede5,ts-gateway-service-6f6cfc45b-h5m2n,x,9,8,0`, // ends before it starts
        `${T},a4424f20bffee418,520b067330e3ede5,ts-auth-service-7c9d8b6f5-abcde,login,1674981768700000000,1674981768710000000,10000`,
      ].join('\n') + '\n',
    ),
  );
  writeFileSync(join(dir, 'trace', '08_45_trace.csv.gz'), 'not gzip at all');
  const wrap = (log: string) =>
    `"${JSON.stringify({ log, stream: 'stdout', time: 'x' }).replace(/"/g, '""')}"`;
  writeFileSync(
    join(dir, 'log', '08_43_log.csv.gz'),
    gzipSync(
      [
        LOG_HEADER,
        `2023-01-29T08:42:22Z,1674981742383150913,33.33.33.116,ts-travel-service-64469b5b48-25zj6,server,FFC8CA7E4C8F06C75142C880D5595D96,439bc949a9eeb0cc,${wrap('16:42:22.382 INFO  t.s.TravelServiceImpl#532 [getRouteByRouteId], a comma\n')}`,
        `yesterday,notanumber,33.33.33.116,ts-travel-service-64469b5b48-25zj6,server,,,${wrap('x\n')}`,
        // An overflowed TimeUnixNano, as in the published day: timed by the Timestamp (UTC).
        `2023-01-29T09:20:29.295,-6795364578871345152,33.33.33.167,ts-travel2-service-5c66d57d58-6mp2b,server,,,${wrap('17:20:29.299 ERROR boom\n')}`,
        `2023-01-29T08:42:24Z,1674981744000000000,33.33.33.116,ts-travel-service-64469b5b48-25zj6,server,,,"a line split`,
        `over two lines"`,
        `2023-01-29T08:42:25Z,1674981745000000000,33.33.33.116,ts-travel-service-64469b5b48-25zj6,server,,,"{""log"": 3}"`,
      ].join('\n') + '\n',
    ),
  );
  return dir;
}

describe('Nezha trace and log readers (fixture in the data set format)', () => {
  it('reads spans by minute, counts and skips malformed rows and files with file:line', async () => {
    const dir = fixtureDay();
    const stats = newReadStats();
    const spans = await all(readNezhaSpans(dir, { stats }));
    expect(spans.map((s) => s.operation)).toEqual(['/*', 'login', 'getOrder']);
    expect(spans[0]).toEqual<SpanBody>({
      traceId: 'b0103bb0161ad7fa352fe1828eeb643a',
      spanId: '520b067330e3ede5',
      parentSpanId: undefined,
      service: 'ts-gateway-service',
      operation: '/*',
      startNs: 1674981768697000000n,
      durationNs: 318316530,
      status: 'unset',
      pod: 'ts-gateway-service-6f6cfc45b-h5m2n',
    });
    expect(spans[1].parentSpanId).toBe('520b067330e3ede5');
    expect(stats).toMatchObject({ files: 3, rows: 3, malformed: 4, duplicates: 1 });
    expect(stats.errors[0]).toMatch(/08_43_trace\.csv\.gz:3: expected 8 fields, got 5/);
    expect(stats.errors[1]).toMatch(/08_43_trace\.csv\.gz:4: TraceID and SpanID must be hex/);
    expect(stats.errors[2]).toMatch(/08_43_trace\.csv\.gz:5: EndTimeUnixNano before StartTimeUnixNano/);
    expect(stats.errors[3]).toMatch(/08_45_trace\.csv\.gz/);
    // A range of minutes.
    expect((await all(readNezhaSpans(dir, { from: '08_44', to: '08_44' }))).map((s) => s.operation)).toEqual([
      'getOrder',
      '/*',
    ]);
  });

  it('reads log lines: the runtime JSON wrapper removed, quoted commas and line breaks kept', async () => {
    const dir = fixtureDay();
    const stats = newReadStats();
    const lines = await all(readNezhaLogs(dir, { stats }));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual<NezhaLogLine>({
      time: 1674981742383150913n,
      pod: 'ts-travel-service-64469b5b48-25zj6',
      service: 'ts-travel-service',
      container: 'server',
      traceId: 'ffc8ca7e4c8f06c75142c880d5595d96',
      spanId: '439bc949a9eeb0cc',
      message: '16:42:22.382 INFO  t.s.TravelServiceImpl#532 [getRouteByRouteId], a comma',
    });
    expect(lines[1]).toMatchObject({
      time: 1674984029295000000n,
      service: 'ts-travel2-service',
      message: '17:20:29.299 ERROR boom',
    });
    expect(lines[2].message).toBe('a line split\nover two lines');
    expect(stats).toMatchObject({ malformed: 2, timeFromTimestamp: 1 });
    expect(stats.errors[0]).toMatch(/08_43_log\.csv\.gz:3: neither TimeUnixNano nor Timestamp is a time/);
    expect(stats.errors[1]).toMatch(/08_43_log\.csv\.gz:7: Log JSON has no "log" string/);
  });

  it('splits CSV with RFC 4180 quoting', () => {
    expect(splitCsv('a,"b,""c""",d')).toEqual(['a', 'b,"c"', 'd']);
    expect(splitCsv('a,,')).toEqual(['a', '', '']);
    expect(splitCsv('"open')).toBeUndefined();
    expect(unwrapDockerLog('plain text')).toBe('plain text');
  });
});

const day = requireDataset('nezha-trainticket', '2023-01-29');
describe.skipIf(!day)('Nezha TrainTicket 2023-01-29: traces and logs of 08:43', () => {
  it('reads every span of the minute, with one entry span per trace, on the fault list clock', async () => {
    const stats = newReadStats();
    const spans = await all(readNezhaSpans(day!, { from: '08_43', to: '08_43', stats }));
    // `zcat trace/08_43_trace.csv.gz | wc -l` is 4,446: the header and 4,445 spans, 53 traces.
    expect(stats).toMatchObject({ files: 1, rows: 4445, malformed: 0 });
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(53);
    expect(spans.filter((s) => s.parentSpanId === undefined)).toHaveLength(53);
    expect(new Set(spans.map((s) => s.service))).toContain('ts-order-service');
    expect(spans.every((s) => s.service === serviceOfPod(s.pod!) && !/-[a-z0-9]{5}$/.test(s.service))).toBe(
      true,
    );
    // Times read as UTC: the file of 08:43 holds the minute up to 08:43 (08:42:09 to 08:43:08), the
    // first fault of the day (08:43:04 on the fault list's clock) at its end.
    expect(readNezhaFaults(day!)[0].injectTime).toBe('2023-01-29 08:43:04');
    const lo = parseNezhaTime('2023-01-29 08:42:00');
    const hi = parseNezhaTime('2023-01-29 08:43:10');
    expect(spans.every((s) => s.startNs >= lo && s.startNs < hi)).toBe(true);
  });

  it('reads every log line of the minute, unwrapped', async () => {
    const stats = newReadStats();
    const lines = await all(readNezhaLogs(day!, { from: '08_43', to: '08_43', stats }));
    expect(stats).toMatchObject({ files: 1, rows: 2435, malformed: 0 });
    expect(new Set(lines.map((l) => l.pod)).size).toBe(26);
    expect(lines.some((l) => l.message.startsWith('{"log"'))).toBe(false);
    expect(lines.some((l) => l.message.endsWith('\n'))).toBe(false);
    expect(lines.filter((l) => /^[0-9a-f]{32}$/.test(l.traceId)).length).toBeGreaterThan(1000);
  });
});
