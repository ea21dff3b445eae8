/**
 * Nezha TrainTicket container logs: `log/HH_MM_log.csv.gz`,
 * `Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log`, where `Log` is the container
 * runtime's JSON line (`{"log": "<the application's line>\n", "stream": …, "time": …}`). Each row
 * becomes the application's own text (the wrapper removed, the trailing newline cut) with its time
 * (ns, on the fault list's clock), pod, service and trace/span ids. Templates are mined elsewhere:
 * this reader hands on the raw message. Malformed rows are counted and skipped with their file:line.
 *
 * In the published day 45 lines (ERROR lines of exceptions among them) carry an overflowed
 * TimeUnixNano (`-6795364578871345152`) and a Timestamp without its zone and nanoseconds
 * (`2023-01-29T09:20:29.295`, UTC like the others): such a line is timed by its Timestamp (counted
 * in `timeFromTimestamp`), not dropped.
 */
import { isoToNs, serviceOfPod } from '../../model/event.js';
import { csvRecords, minuteFiles } from './nezha-files.js';
import { countBad, newReadStats, type NezhaReadOptions } from './nezha-traces.js';
import { DatasetError } from './types.js';

export const NEZHA_LOG_HEADER = [
  'Timestamp',
  'TimeUnixNano',
  'Node',
  'PodName',
  'Container',
  'TraceID',
  'SpanID',
  'Log',
] as const;

export interface NezhaLogLine {
  /** ns since the epoch. */
  time: bigint;
  pod: string;
  service: string;
  container: string;
  /** Empty when the line names no trace. */
  traceId: string;
  spanId: string;
  /** The application's line, without the runtime's JSON wrapper. */
  message: string;
}

/** The runtime's JSON wrapper → its `log` text; a line that is not such JSON is taken as it is. */
export function unwrapDockerLog(raw: string): string {
  if (raw.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch {
      throw new Error('Log starts like JSON but does not parse');
    }
    const log = (o as { log?: unknown } | null)?.log;
    if (typeof log !== 'string') throw new Error('Log JSON has no "log" string');
    return log.replace(/\r?\n$/, '');
  }
  return raw;
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z?$/;

/**
 * One log row → a line; throws the reason when the row is malformed. `onTimeFallback` is called when
 * the line is timed by its Timestamp because its TimeUnixNano is unusable.
 */
export function nezhaLogLine(f: readonly string[], onTimeFallback?: () => void): NezhaLogLine {
  if (f.length !== NEZHA_LOG_HEADER.length)
    throw new Error(`expected ${NEZHA_LOG_HEADER.length} fields, got ${f.length}`);
  const [stamp, ns, , pod, container, traceId, spanId, log] = f;
  let time: bigint;
  if (/^\d{1,19}$/.test(ns)) time = BigInt(ns);
  else if (ISO_UTC.test(stamp)) {
    time = isoToNs(stamp.endsWith('Z') ? stamp : `${stamp}Z`);
    onTimeFallback?.();
  } else throw new Error('neither TimeUnixNano nor Timestamp is a time');
  if (!pod) throw new Error('empty PodName');
  return {
    time,
    pod,
    service: serviceOfPod(pod),
    container,
    traceId: traceId.toLowerCase(),
    spanId: spanId.toLowerCase(),
    message: unwrapDockerLog(log),
  };
}

/** The log lines of a Nezha day, file by file in time order (within a file, in file order). */
export async function* readNezhaLogs(dir: string, opts: NezhaReadOptions = {}): AsyncGenerator<NezhaLogLine> {
  const stats = opts.stats ?? newReadStats();
  for (const path of minuteFiles(dir, 'log', opts.from, opts.to)) {
    stats.files++;
    try {
      for await (const { line, fields } of csvRecords(path, NEZHA_LOG_HEADER, (e) => countBad(stats, e))) {
        let l: NezhaLogLine;
        try {
          l = nezhaLogLine(fields, () => stats.timeFromTimestamp++);
        } catch (err) {
          countBad(stats, new DatasetError(path, line, (err as Error).message));
          continue;
        }
        stats.rows++;
        yield l;
      }
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      countBad(stats, err);
    }
  }
}
