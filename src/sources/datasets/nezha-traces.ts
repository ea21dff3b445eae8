/**
 * Nezha TrainTicket traces: `trace/HH_MM_trace.csv.gz`, one span a row,
 * `TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration`
 * (ParentID `root` for a trace's entry span). Times are ns since the epoch and, read as UTC, on the
 * fault list's `inject_time` clock; the file of HH:MM holds the minute up to it (`08_43`: spans
 * starting 08:42:09 to 08:43:08 in the published day), grouped by trace rather than sorted by start
 * (up to about 60 s out of order within a file). The `Duration` column is in microseconds (it is End − Start
 * divided by 1000 in the published day); the span's duration is taken from the two times. The data
 * set has no status column: every span is `unset`. Malformed rows are counted and skipped with their
 * file:line.
 */
import { serviceOfPod } from '../../model/event.js';
import type { SpanBody } from '../../model/span.js';
import { csvRecords, minuteFiles } from './nezha-files.js';
import { DatasetError } from './types.js';

export const NEZHA_TRACE_HEADER = [
  'TraceID',
  'SpanID',
  'ParentID',
  'PodName',
  'OperationName',
  'StartTimeUnixNano',
  'EndTimeUnixNano',
  'Duration',
] as const;

export interface NezhaReadStats {
  files: number;
  rows: number;
  malformed: number;
  /** Spans read again (same trace and span id) in the same or the previous file, skipped. */
  duplicates: number;
  /** Log lines whose TimeUnixNano was unusable, timed by their Timestamp column instead. */
  timeFromTimestamp: number;
  /** The first malformed inputs, `file:line: reason` (at most 100 kept; `malformed` counts all). */
  errors: string[];
}

export interface NezhaReadOptions {
  /** First and last minute to read, `HH_MM` (inclusive); default the whole day. */
  from?: string;
  to?: string;
  /** Filled as the reader goes. */
  stats?: NezhaReadStats;
}

export function newReadStats(): NezhaReadStats {
  return { files: 0, rows: 0, malformed: 0, duplicates: 0, timeFromTimestamp: 0, errors: [] };
}

export function countBad(stats: NezhaReadStats, e: DatasetError): void {
  stats.malformed++;
  if (stats.errors.length < 100) stats.errors.push(e.message);
}

const NS = /^\d{1,20}$/;
const HEX = /^[0-9a-f]+$/i;

/** One trace row → a span; throws the reason when the row is malformed. */
export function nezhaSpan(f: readonly string[]): SpanBody {
  if (f.length !== NEZHA_TRACE_HEADER.length)
    throw new Error(`expected ${NEZHA_TRACE_HEADER.length} fields, got ${f.length}`);
  const [traceId, spanId, parent, pod, operation, start, end] = f;
  if (!HEX.test(traceId) || !HEX.test(spanId)) throw new Error('TraceID and SpanID must be hex');
  if (parent !== 'root' && !HEX.test(parent))
    throw new Error(`ParentID "${parent.slice(0, 40)}" is neither hex nor root`);
  if (!pod) throw new Error('empty PodName');
  if (!NS.test(start) || !NS.test(end))
    throw new Error('StartTimeUnixNano and EndTimeUnixNano must be integers');
  const s = BigInt(start);
  const e = BigInt(end);
  if (e < s) throw new Error('EndTimeUnixNano before StartTimeUnixNano');
  return {
    traceId: traceId.toLowerCase(),
    spanId: spanId.toLowerCase(),
    parentSpanId: parent === 'root' ? undefined : parent.toLowerCase(),
    service: serviceOfPod(pod),
    operation,
    startNs: s,
    durationNs: Number(e - s),
    status: 'unset',
    pod,
  };
}

/**
 * The spans of a Nezha day, file by file in time order (within a file, in file order). A file that
 * cannot be read (bad header, broken gzip) is counted once and the next one is read. Consecutive
 * minute files overlap in the published day (7,568 spans of 2023-01-29 are in two files, 3,932 of
 * them in both 15_43 and 15_44): a span already read in the same or the previous file is skipped and
 * counted in `duplicates` (memory: the ids of two files).
 */
export async function* readNezhaSpans(dir: string, opts: NezhaReadOptions = {}): AsyncGenerator<SpanBody> {
  const stats = opts.stats ?? newReadStats();
  let previous = new Set<string>();
  let current = new Set<string>();
  for (const path of minuteFiles(dir, 'trace', opts.from, opts.to)) {
    previous = current;
    current = new Set<string>();
    stats.files++;
    try {
      for await (const { line, fields } of csvRecords(path, NEZHA_TRACE_HEADER, (e) => countBad(stats, e))) {
        let span: SpanBody;
        try {
          span = nezhaSpan(fields);
        } catch (err) {
          countBad(stats, new DatasetError(path, line, (err as Error).message));
          continue;
        }
        const id = span.traceId + span.spanId;
        if (current.has(id) || previous.has(id)) {
          stats.duplicates++;
          continue;
        }
        current.add(id);
        stats.rows++;
        yield span;
      }
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      countBad(stats, err);
    }
  }
}
