/**
 * Line parsing for LID-DS system-call text (2021 `.sc`, 2019 `.txt`) straight from Buffers:
 * fields are found with byte scans, numbers parsed digit by digit, and only the process and
 * system-call names become strings.
 */
import { DatasetError, type SyscallEventView } from './types.js';

const SP = 32;
const NL = 10;
const CR = 13;

/** Splits a byte stream into lines across chunk boundaries; calls `onLine(buf, start, end)`. */
export class LineSplitter {
  private rest: Buffer | null = null;
  constructor(private readonly onLine: (buf: Buffer, start: number, end: number) => void) {}
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let start = 0;
    while (true) {
      const nl = buf.indexOf(NL, start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && buf[end - 1] === CR) end--;
      this.onLine(buf, start, end);
      start = nl + 1;
    }
    if (start < buf.length) this.rest = Buffer.from(buf.subarray(start));
  }
  /**
   * Feeds a whole byte stream through the splitter. A throw from `onLine` (a malformed line) stops
   * the stream and rejects with it; a stream error is turned into the caller's error by `onError`.
   */
  drain(
    stream: NodeJS.ReadableStream & { destroy?: () => void },
    onError: (err: Error) => Error,
  ): Promise<void> {
    return new Promise<void>((res, rej) => {
      stream.on('data', (c: Buffer) => {
        try {
          this.push(c);
        } catch (e) {
          stream.destroy?.();
          rej(e);
        }
      });
      stream.on('end', () => {
        try {
          this.end();
          res();
        } catch (e) {
          rej(e);
        }
      });
      stream.on('error', (err: Error) => rej(onError(err)));
    });
  }

  end(): void {
    if (this.rest && this.rest.length > 0) {
      let end = this.rest.length;
      if (this.rest[end - 1] === CR) end--;
      this.onLine(this.rest, 0, end);
    }
    this.rest = null;
  }
}

/** Next space at or after `from` (or `end`). A plain loop: fields are short, a native call costs more. */
function nextSpace(buf: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end && buf[i] !== SP) i++;
  return i;
}

/**
 * System-call and process names repeat millions of times: intern them by a hash of their bytes
 * (checked character by character) instead of decoding a new string per line.
 */
const interned = new Map<number, string>();

export function internLatin1(buf: Buffer, s: number, e: number): string {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  h = (h ^ (e - s)) >>> 0;
  const hit = interned.get(h);
  if (hit !== undefined && hit.length === e - s) {
    let same = true;
    for (let i = 0; i < hit.length; i++) {
      if (hit.charCodeAt(i) !== buf[s + i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
    return buf.toString('latin1', s, e);
  }
  const str = buf.toString('latin1', s, e);
  if (interned.size < 65536) interned.set(h, str);
  return str;
}

function parseUint(buf: Buffer, s: number, e: number): number {
  if (e <= s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * LID-DS 2021 `.sc`: (timestamps have 19 digits: seconds and nanoseconds are parsed apart so that
 * seconds·1e9 is exact and the one rounding of the sum gives the nearest double, as Number() would) `timestamp_ns uid pid process_name tid syscall direction args...`.
 * Returns false for an empty line; throws DatasetError on a malformed one.
 */
export function parseScLine(
  buf: Buffer,
  start: number,
  end: number,
  file: string,
  line: number,
  out: SyscallEventView,
): boolean {
  if (end <= start) return false;
  const f0 = nextSpace(buf, start, end);
  const f1 = nextSpace(buf, f0 + 1, end);
  const f2 = nextSpace(buf, f1 + 1, end);
  const f3 = nextSpace(buf, f2 + 1, end);
  const f4 = nextSpace(buf, f3 + 1, end);
  const f5 = nextSpace(buf, f4 + 1, end);
  const f6 = f5 + 2 <= end && (f5 + 2 === end || buf[f5 + 2] === SP) ? f5 + 2 : nextSpace(buf, f5 + 1, end);
  if (f5 >= end)
    throw new DatasetError(
      file,
      line,
      `malformed .sc line (expected "timestamp uid pid process tid syscall direction ..."): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  let ts: number;
  if (f0 - start > 15) {
    const sec = parseUint(buf, start, f0 - 9);
    const ns = parseUint(buf, f0 - 9, f0);
    ts = sec < 0 || ns < 0 ? -1 : sec * 1e9 + ns;
  } else ts = parseUint(buf, start, f0);
  const pid = parseUint(buf, f1 + 1, f2);
  const tid = parseUint(buf, f3 + 1, f4);
  const d = buf[f5 + 1];
  if (ts < 0 || pid < 0 || tid < 0 || f6 !== f5 + 2 || (d !== 62 && d !== 60)) {
    throw new DatasetError(
      file,
      line,
      `malformed .sc line (bad timestamp, pid, tid or direction): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  }
  out.tsNs = ts;
  out.pid = pid;
  out.tid = tid;
  out.name = internLatin1(buf, f4 + 1, f5);
  out.dir = d === 62 ? '>' : '<';
  out.line = line;
  return true;
}

/**
 * LID-DS 2019 `.txt`: `event_no HH:MM:SS.nnnnnnnnn cpu uid process_name tid direction syscall args...`.
 * The timestamp is a time of day; `dayOffsetNs` lets the caller carry midnight roll-overs.
 */
export function parse2019Line(
  buf: Buffer,
  start: number,
  end: number,
  file: string,
  line: number,
  out: SyscallEventView,
): boolean {
  if (end <= start) return false;
  const f0 = nextSpace(buf, start, end);
  const f1 = nextSpace(buf, f0 + 1, end);
  const f2 = nextSpace(buf, f1 + 1, end);
  const f3 = nextSpace(buf, f2 + 1, end);
  const f4 = nextSpace(buf, f3 + 1, end);
  const f5 = nextSpace(buf, f4 + 1, end);
  const f6 = nextSpace(buf, f5 + 1, end);
  const f7 = nextSpace(buf, f6 + 1, end);
  const bad = (why: string): never => {
    throw new DatasetError(
      file,
      line,
      `malformed LID-DS 2019 line (${why}): ${buf.toString('latin1', start, Math.min(end, start + 120))}`,
    );
  };
  if (f6 >= end) bad('expected "event_no time cpu uid process tid direction syscall ..."');
  // HH:MM:SS.nnnnnnnnn
  const t = f0 + 1;
  if (f1 - t < 10 || buf[t + 2] !== 58 || buf[t + 5] !== 58 || buf[t + 8] !== 46)
    bad('time is not HH:MM:SS.nnnnnnnnn');
  const hh = parseUint(buf, t, t + 2);
  const mm = parseUint(buf, t + 3, t + 5);
  const ss = parseUint(buf, t + 6, t + 8);
  let frac = parseUint(buf, t + 9, f1);
  if (hh < 0 || mm < 0 || ss < 0 || frac < 0) bad('time is not HH:MM:SS.nnnnnnnnn');
  for (let k = f1 - (t + 9); k < 9; k++) frac *= 10;
  const tid = parseUint(buf, f4 + 1, f5);
  const d = buf[f5 + 1];
  if (tid < 0 || f6 !== f5 + 2 || (d !== 62 && d !== 60)) bad('bad tid or direction');
  out.tsNs = ((hh * 60 + mm) * 60 + ss) * 1e9 + frac;
  out.tid = tid;
  out.pid = tid;
  out.name = internLatin1(buf, f6 + 1, f7);
  out.dir = d === 62 ? '>' : '<';
  out.line = line;
  return true;
}

export function newEventView(): SyscallEventView {
  return { tsNs: 0, tid: 0, pid: 0, name: '', dir: '>', line: 0 };
}
