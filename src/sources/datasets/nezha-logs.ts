/**
 * Nezha TrainTicket container logs: `log/HH_MM_log.csv.gz`,
 * `Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log`, where `Log` is the container
 * runtime's JSON line (`{"log": "<the application's line>\n", "stream": …, "time": …}`). Each row
 * becomes the application's own text (the wrapper removed, the trailing newline cut) with its time
 * (ns, on the fault list's clock), pod, service and trace/span ids. Templates are mined elsewhere:
 * this reader hands on the raw message. Malformed rows are counted and skipped with their file:line.
 */
import { serviceOfPod } from '../../model/event.js';
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

/** One log row → a line; throws the reason when the row is malformed. */
export function nezhaLogLine(f: readonly string[]): NezhaLogLine {
  if (f.length !== NEZHA_LOG_HEADER.length)
    throw new Error(`expected ${NEZHA_LOG_HEADER.length} fields, got ${f.length}`);
  const [, ns, , pod, container, traceId, spanId, log] = f;
  if (!/^\d{1,20}$/.test(ns)) throw new Error('TimeUnixNano must be an integer');
  if (!pod) throw new Error('empty PodName');
  return {
    time: BigInt(ns),
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
          l = nezhaLogLine(fields);
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
