/**
 * The per-minute files of a Nezha TrainTicket day (IntelligentDDS/Nezha, FSE 2023; MIT):
 * `trace/HH_MM_trace.csv.gz`, `log/HH_MM_log.csv.gz`. Shared by the trace and log readers: the files
 * of one kind in time order, and their CSV records streamed through gunzip with quoted fields
 * (`"…""…"`, a field that spans lines) joined, each with the line it starts on.
 */
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './types.js';

/** A record longer than this (characters, quoted lines joined) is malformed: memory stays bounded. */
export const MAX_RECORD_CHARS = 1 << 20;

/** `HH_MM_<kind>.csv.gz` files of `dir/<sub>/`, in time order (the names sort as the day goes). */
export function minuteFiles(dir: string, sub: 'trace' | 'log', from?: string, to?: string): string[] {
  const d = join(dir, sub);
  if (!existsSync(d))
    throw new DatasetError(dir, undefined, `no ${sub}/ folder (is this a Nezha day folder?)`);
  const re = new RegExp(`^(\\d\\d_\\d\\d)_${sub}\\.csv\\.gz$`);
  return readdirSync(d)
    .map((f) => re.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[1])
    .filter((hm) => (from === undefined || hm >= from) && (to === undefined || hm <= to))
    .sort()
    .map((hm) => join(d, `${hm}_${sub}.csv.gz`));
}

/** Splits one CSV record (RFC 4180 quoting). Returns undefined when a quote is left open. */
export function splitCsv(rec: string): string[] | undefined {
  if (!rec.includes('"')) return rec.split(',');
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (rec[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = rec.indexOf('"', j);
        if (q < 0) return undefined;
        v += rec.slice(j, q);
        if (rec[q + 1] === '"') {
          v += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i >= rec.length) return out;
      if (rec[i] !== ',') return undefined;
      i++;
    } else {
      const c = rec.indexOf(',', i);
      if (c < 0) {
        out.push(rec.slice(i));
        return out;
      }
      out.push(rec.slice(i, c));
      i = c + 1;
    }
  }
}

/** Whether `s` leaves a quoted field open (an odd number of quotes). */
function openQuote(s: string): boolean {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n % 2 === 1;
}

/**
 * The records of one gzip CSV file after its header, with the 1-based line each starts on. The
 * header is checked against `header`; a gzip or read error ends the file with a DatasetError thrown
 * (the caller counts it and goes on with the next file). A record still open at `MAX_RECORD_CHARS`
 * is reported through `bad` and skipped.
 */
export async function* csvRecords(
  path: string,
  header: readonly string[],
  bad: (e: DatasetError) => void,
): AsyncGenerator<{ line: number; fields: string[] }> {
  const input = createReadStream(path).pipe(createGunzip());
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let pending: string | undefined;
  let pendingLine = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      if (lineNo === 1) {
        if (text.replace(/^\uFEFF/, '').trim() !== header.join(','))
          throw new DatasetError(path, 1, `header is not ${header.join(',')}`);
        continue;
      }
      let rec = text;
      let start = lineNo;
      if (pending !== undefined) {
        rec = `${pending}\n${text}`;
        start = pendingLine;
        pending = undefined;
      }
      if (openQuote(rec)) {
        if (rec.length > MAX_RECORD_CHARS) {
          bad(new DatasetError(path, start, `record over ${MAX_RECORD_CHARS} characters, skipped`));
          continue;
        }
        pending = rec;
        pendingLine = start;
        continue;
      }
      if (rec === '') continue;
      const fields = splitCsv(rec);
      if (!fields) bad(new DatasetError(path, start, 'malformed quoting'));
      else yield { line: start, fields };
    }
    if (pending !== undefined)
      bad(new DatasetError(path, pendingLine, 'quoted field not closed at end of file'));
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(path, lineNo || undefined, (e as Error).message);
  } finally {
    rl.close();
    input.destroy();
  }
}
