/**
 * What container runtimes wrap around a log line, and the multi-line events inside:
 *  - Docker's json-file driver: one JSON object a line, `{"log": "...\n", "stream": "stdout",
 *    "time": "..."}`; a line longer than 16 KiB is split into entries whose `log` does not end with
 *    a newline, joined here until the one that does;
 *  - the CRI format (containerd, CRI-O; Kubernetes' /var/log/pods):
 *    `2016-10-06T00:17:09.669794202Z stdout F message`, where tag `P` marks a partial line joined
 *    with what follows on the same stream until an `F`;
 *  - Java and Python stack traces: a bounded joiner (`MultilineJoiner`) makes one event of a message
 *    and the trace printed after it.
 *
 * Bad input is counted and skipped, with an error that names the input and the line
 * (`LogWrapperError`); nothing here throws on what it reads.
 */

export type LogFormat = 'auto' | 'docker' | 'cri' | 'plain';

export interface LogEvent {
  message: string;
  /** stdout or stderr (Docker, CRI). */
  stream?: string;
  /** The runtime's time stamp, as written (Docker, CRI). */
  time?: string;
  /** Line number (1-based) of the event's first line in its input. */
  line: number;
}

export class LogWrapperError extends Error {
  constructor(
    readonly input: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${input}:${line}: ${reason}`);
    this.name = 'LogWrapperError';
  }
}

export interface WrapperLimits {
  /** Characters of a joined line or event; the rest is cut (counted). */
  maxLineLength: number;
  /** Lines joined into one multi-line event; later continuation lines are dropped (counted). */
  maxEventLines: number;
  /** Errors kept for the report (all are counted). */
  maxErrors: number;
}

export const DEFAULT_WRAPPER_LIMITS: Readonly<WrapperLimits> = Object.freeze({
  maxLineLength: 65_536,
  maxEventLines: 200,
  maxErrors: 100,
});

export type Decoded =
  { ok: true; log: string; stream?: string; time?: string; partial: boolean } | { ok: false; reason: string };

/** One line of Docker's json-file driver. */
export function decodeDockerJson(text: string): Decoded {
  // Ruled out without JSON.parse: a thrown SyntaxError costs tens of microseconds, a garbage file
  // is thousands of them.
  const t = text.trim();
  if (t.charCodeAt(0) !== 123 || t.charCodeAt(t.length - 1) !== 125)
    return { ok: false, reason: 'not a JSON object' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not JSON (${(e as Error).message.slice(0, 80)})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, reason: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.log !== 'string') return { ok: false, reason: 'no string "log" field' };
  // Only the two streams a runtime writes: one joiner per stream, so the set must stay bounded.
  if (o.stream !== undefined && o.stream !== 'stdout' && o.stream !== 'stderr')
    return { ok: false, reason: '"stream" must be "stdout" or "stderr"' };
  if (o.time !== undefined && typeof o.time !== 'string')
    return { ok: false, reason: '"time" is not a string' };
  let log = o.log;
  const partial = !log.endsWith('\n');
  if (!partial) log = log.slice(0, log.endsWith('\r\n') ? -2 : -1);
  return {
    ok: true,
    log,
    stream: o.stream as string | undefined,
    time: o.time as string | undefined,
    partial,
  };
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** One line of the CRI log format: `TIME STREAM TAG[:TAG...] MESSAGE`. */
export function decodeCri(text: string): Decoded {
  const s1 = text.indexOf(' ');
  if (s1 < 0) return { ok: false, reason: 'not a CRI line (no fields)' };
  const time = text.slice(0, s1);
  // RFC 3339: 2016-10-06T00:17:09.669794202Z (any fraction, Z or an offset).
  if (
    time.length < 20 ||
    !isDigit(time.charCodeAt(0)) ||
    !isDigit(time.charCodeAt(3)) ||
    time.charCodeAt(4) !== 45 ||
    time.charCodeAt(10) !== 84 /* T */
  )
    return { ok: false, reason: `not a CRI time stamp: "${time.slice(0, 40)}"` };
  const s2 = text.indexOf(' ', s1 + 1);
  const stream = text.slice(s1 + 1, s2 < 0 ? text.length : s2);
  if (stream !== 'stdout' && stream !== 'stderr')
    return { ok: false, reason: `CRI stream must be stdout or stderr, got "${stream.slice(0, 20)}"` };
  if (s2 < 0) return { ok: false, reason: 'CRI line without a tag' };
  const s3 = text.indexOf(' ', s2 + 1);
  const tags = text.slice(s2 + 1, s3 < 0 ? text.length : s3);
  const tag = tags.split(':', 1)[0];
  if (tag !== 'P' && tag !== 'F')
    return { ok: false, reason: `CRI tag must be P or F, got "${tags.slice(0, 20)}"` };
  const log = s3 < 0 ? '' : text.slice(s3 + 1);
  return { ok: true, log, stream, time, partial: tag === 'P' };
}

/** Whether a line looks like a CRI line (for `auto`). */
const looksCri = (t: string): boolean =>
  t.length > 24 &&
  isDigit(t.charCodeAt(0)) &&
  t.charCodeAt(4) === 45 &&
  t.charCodeAt(10) === 84 &&
  / std(out|err) [PF][ :]?/.test(t.slice(19, 80));

// ---- multi-line events

const JAVA_FRAME = /^\s+at\s/;
const JAVA_MORE = /^\s*\.\.\. \d+ (more|common frames omitted)/;
const JAVA_CAUSE = /^\s*(Caused by|Suppressed): /;
/** `java.lang.IllegalStateException: boom`, `com.x.MyError`: a throwable's first line. */
const JAVA_HEADER = /^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?::\s.*)?$/;
const PY_TRACEBACK = 'Traceback (most recent call last):';
const PY_CHAIN =
  /^(During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)$/;
/** `ValueError: bad`, `KeyError: 'x'`, `StopIteration`: the line that ends a Python traceback. */
const PY_EXCEPTION = /^[A-Za-z_][\w.]*(?::\s?.*)?$/;

export interface JoinedEvent {
  message: string;
  line: number;
  time?: string;
}

type Mode = 'none' | 'java' | 'python' | 'python-end';

export interface JoinerStats {
  events: number;
  /** Lines that went into an event after its first. */
  joinedLines: number;
  /** Continuation lines dropped beyond maxEventLines or maxLineLength. */
  truncatedLines: number;
}

/**
 * Makes one event of a message and the Java or Python stack trace after it. Lines are pushed one by
 * one; completed events come back. At most two lines wait for the next one to decide (a Java
 * exception's first line, a blank line inside a chained Python traceback); `flush()` ends the last
 * event (at the end of the input, or when the stream has been quiet for a while).
 */
export class MultilineJoiner {
  private pending: string[] | undefined;
  private pendingLength = 0;
  private pendingLine = 0;
  private pendingTime: string | undefined;
  private held: { text: string; line: number; time?: string }[] = [];
  private mode: Mode = 'none';
  readonly stats: JoinerStats = { events: 0, joinedLines: 0, truncatedLines: 0 };

  constructor(
    private readonly limits: Pick<WrapperLimits, 'maxEventLines' | 'maxLineLength'> = DEFAULT_WRAPPER_LIMITS,
  ) {}

  /** One line (`time`: the runtime's time stamp, kept for the event it opens). */
  push(text: string, line: number, out: JoinedEvent[] = [], time?: string): JoinedEvent[] {
    if (this.pending && this.held.length > 0) {
      if (this.continues(text)) {
        for (const h of this.held) this.append(h.text);
        this.held = [];
        this.append(text);
        this.updateMode(text);
        return out;
      }
      // What was held starts afresh (the first may itself open an event).
      const held = this.held;
      this.held = [];
      this.emit(out);
      for (const h of held) this.push(h.text, h.line, out, h.time);
      return this.push(text, line, out, time);
    }
    if (this.pending && this.continues(text)) {
      this.append(text);
      this.updateMode(text);
      return out;
    }
    if (this.pending && this.mayContinue(text)) {
      this.held.push({ text, line, time });
      return out;
    }
    this.emit(out);
    this.pending = [text];
    this.pendingLength = text.length;
    this.pendingLine = line;
    this.pendingTime = time;
    this.mode = 'none';
    this.updateMode(text);
    return out;
  }

  flush(out: JoinedEvent[] = []): JoinedEvent[] {
    const held = this.held;
    this.held = [];
    this.emit(out);
    for (const h of held) this.push(h.text, h.line, out, h.time);
    this.emit(out);
    return out;
  }

  /** A line that belongs to the pending event for sure. */
  private continues(t: string): boolean {
    if (JAVA_FRAME.test(t) || JAVA_MORE.test(t) || JAVA_CAUSE.test(t)) return true;
    if (t === PY_TRACEBACK) return true;
    switch (this.mode) {
      case 'java':
        return t.length > 0 && (t.charCodeAt(0) === 32 || t.charCodeAt(0) === 9);
      case 'python':
        return (
          t.length === 0 ||
          t.charCodeAt(0) === 32 ||
          t.charCodeAt(0) === 9 ||
          PY_CHAIN.test(t) ||
          PY_EXCEPTION.test(t)
        );
      case 'python-end':
        return PY_CHAIN.test(t);
      default:
        return false;
    }
  }

  /** A line that belongs to the pending event if the next one does. */
  private mayContinue(t: string): boolean {
    if (this.held.length > 0) return false;
    if (JAVA_HEADER.test(t)) return true;
    return this.mode === 'python-end' && t.trim().length === 0;
  }

  private updateMode(t: string): void {
    if (t === PY_TRACEBACK) this.mode = 'python';
    else if (this.mode === 'python') {
      if (
        t.length > 0 &&
        t.charCodeAt(0) !== 32 &&
        t.charCodeAt(0) !== 9 &&
        !PY_CHAIN.test(t) &&
        PY_EXCEPTION.test(t)
      )
        this.mode = 'python-end';
    } else if (JAVA_FRAME.test(t) || JAVA_CAUSE.test(t)) this.mode = 'java';
  }

  private append(t: string): void {
    const p = this.pending!;
    if (
      p.length >= this.limits.maxEventLines ||
      this.pendingLength + 1 + t.length > this.limits.maxLineLength
    ) {
      this.stats.truncatedLines++;
      return;
    }
    p.push(t);
    this.pendingLength += 1 + t.length;
    this.stats.joinedLines++;
  }

  private emit(out: JoinedEvent[]): void {
    if (!this.pending) return;
    out.push({ message: this.pending.join('\n'), line: this.pendingLine, time: this.pendingTime });
    this.stats.events++;
    this.pending = undefined;
    this.pendingLength = 0;
    this.mode = 'none';
  }
}

export interface DecoderStats {
  lines: number;
  events: number;
  malformed: number;
  /** Lines (single or joined from partial entries) cut at maxLineLength. */
  truncated: number;
  joiner: JoinerStats;
}

interface Partial {
  parts: string[];
  length: number;
  line: number;
  time?: string;
}

/**
 * Reads one input's raw lines (a container log file, a stream) into events: unwraps Docker JSON or
 * CRI lines (`auto`: per line, whichever fits, else the line as it is), joins partial lines per
 * stream, then joins stack traces per stream.
 */
export class LogDecoder {
  private readonly partials = new Map<string, Partial>();
  private readonly joiners = new Map<string, MultilineJoiner>();
  private readonly counters = { lines: 0, events: 0, malformed: 0, truncated: 0 };
  readonly errors: LogWrapperError[] = [];
  private readonly limits: WrapperLimits;

  constructor(
    readonly input: string,
    readonly format: LogFormat = 'auto',
    limits: Partial_<WrapperLimits> = {},
  ) {
    this.limits = { ...DEFAULT_WRAPPER_LIMITS, ...limits };
  }

  /** One raw line (without its newline); completed events are appended to `out`. */
  push(text: string, out: LogEvent[] = []): LogEvent[] {
    const line = ++this.counters.lines;
    let d: Decoded | undefined;
    const f = this.format;
    if (f === 'docker' || (f === 'auto' && text.charCodeAt(0) === 123)) {
      d = decodeDockerJson(text);
      if (!d.ok && f === 'auto') d = undefined;
    } else if (f === 'cri' || (f === 'auto' && looksCri(text))) d = decodeCri(text);
    if (d === undefined) {
      this.event(text, 'plain', undefined, line, out);
      return out;
    }
    if (!d.ok) {
      this.fail(line, d.reason);
      return out;
    }
    const stream = d.stream ?? 'stdout';
    let p = this.partials.get(stream);
    if (d.partial) {
      if (!p) {
        p = { parts: [], length: 0, line, time: d.time };
        this.partials.set(stream, p);
      }
      this.add(p, d.log);
      return out;
    }
    let message = d.log;
    let first = line;
    let time = d.time;
    if (p) {
      this.add(p, d.log);
      message = p.parts.join('');
      first = p.line;
      time = p.time;
      this.partials.delete(stream);
    }
    this.event(message, stream, time, first, out);
    return out;
  }

  /** Ends every partial line and pending event (end of input). */
  flush(out: LogEvent[] = []): LogEvent[] {
    for (const [stream, p] of this.partials) this.event(p.parts.join(''), stream, p.time, p.line, out);
    this.partials.clear();
    for (const [stream, j] of this.joiners) {
      const done = j.flush();
      for (const e of done) this.emit(e.message, stream, e.time, e.line, out);
    }
    return out;
  }

  stats(): DecoderStats {
    const joiner: JoinerStats = { events: 0, joinedLines: 0, truncatedLines: 0 };
    for (const j of this.joiners.values()) {
      joiner.events += j.stats.events;
      joiner.joinedLines += j.stats.joinedLines;
      joiner.truncatedLines += j.stats.truncatedLines;
    }
    return { ...this.counters, joiner };
  }

  private add(p: Partial, log: string): void {
    const room = this.limits.maxLineLength - p.length;
    if (log.length > room) {
      if (room > 0) p.parts.push(log.slice(0, room));
      p.length = this.limits.maxLineLength;
      this.counters.truncated++;
      return;
    }
    p.parts.push(log);
    p.length += log.length;
  }

  private event(
    message: string,
    stream: string,
    time: string | undefined,
    line: number,
    out: LogEvent[],
  ): void {
    if (message.length > this.limits.maxLineLength) {
      message = message.slice(0, this.limits.maxLineLength);
      this.counters.truncated++;
    }
    let j = this.joiners.get(stream);
    if (!j) {
      j = new MultilineJoiner(this.limits);
      this.joiners.set(stream, j);
    }
    for (const e of j.push(message, line, [], time)) this.emit(e.message, stream, e.time, e.line, out);
  }

  private emit(
    message: string,
    stream: string,
    time: string | undefined,
    line: number,
    out: LogEvent[],
  ): void {
    this.counters.events++;
    const e: LogEvent = { message, line };
    if (stream !== 'plain') e.stream = stream;
    if (time !== undefined) e.time = time;
    out.push(e);
  }

  private fail(line: number, reason: string): void {
    this.counters.malformed++;
    if (this.errors.length < this.limits.maxErrors)
      this.errors.push(new LogWrapperError(this.input, line, reason));
  }
}

type Partial_<T> = { [K in keyof T]?: T[K] };
