/**
 * A live source over a JSON-lines file written by another tool (Falco's `json_output` file,
 * Tetragon's export, an audit log): reads it as a stream, then, with `follow`, keeps reading what is
 * appended, like `tail -F`: a file renamed away and replaced (rotation) is read to its end, then the
 * new file from its start; a file that shrinks was truncated and is read again from its start.
 *
 * A followed file resumes where it was left: the position (device, inode, offset after the last line
 * handed on) is saved in `FilePositions` every so many lines or milliseconds and on stop, so a
 * restart does not hand on the same lines again. Each event's id is derived from where its line is
 * (`<source>:<dev>:<ino>:<offset>`), so a line read twice (a crash before the position was saved) is
 * recognizable downstream.
 *
 * A line that is not JSON or not the tool's format is counted as malformed with its file:line and
 * skipped; the stream goes on. Memory stays bounded: one read chunk plus one incomplete line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Alert } from '../model/alert.js';
import type { EventIdSource, VigieEvent } from '../model/event.js';
import { logger } from '../util/log.js';
import type { FilePositions } from './file-positions.js';
import type { AlertSink, EventSink, Source, SourceContext, SourceStats } from './types.js';

const log = logger('json-lines-file');

/**
 * Turns one parsed line into events, naming them with `ids` (ids derived from the line's place in the
 * file). Throws an Error whose message says why the line is not valid; a part of the line that is not
 * valid while the rest still yields events is reported through `skipped`.
 */
export type LineConverter<T = VigieEvent> = (
  obj: unknown,
  ids: EventIdSource,
  skipped: (why: string) => void,
) => T[];

/** Longest line kept while waiting for its end, by default; a longer one is counted malformed and skipped. */
const MAX_LINE = 1 << 20;
/** Bytes read from the file at a time. */
const READ_CHUNK = 64 * 1024;
/** How many of a file's first bytes its saved position keeps a digest of, to know the file again. */
const HEAD = 256;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The ids of one line's events: `<prefix><offset>`, then `<prefix><offset>:1`, `:2`, ... */
class LineIds implements EventIdSource {
  prefix: string;
  private at = 0;
  private k = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  reset(at: number): void {
    this.at = at;
    this.k = 0;
  }

  next(): string {
    const k = this.k++;
    return k === 0 ? `${this.prefix}${this.at}` : `${this.prefix}${this.at}:${k}`;
  }
}

/** Splits a byte stream into JSON lines and converts them, counting what is malformed. */
export class JsonLinesReader<T = VigieEvent> {
  /** Lines seen since the reader (re)started. */
  lines = 0;
  /** Lines handed on since the reader was made (never reset). */
  handed = 0;
  malformed = 0;
  /** The last reasons (file:line: why), newest last. */
  readonly lastErrors: string[] = [];
  private pending: Buffer | null = null;
  private skippingLongLine = false;
  /** File offset of the next byte pushed. */
  private pos = 0;
  /** File offset where the current, incomplete line starts: everything before it was handed on. */
  private start = 0;
  /** Line numbers are known only when the reader started at the beginning of the file. */
  private fromStart = true;
  private readonly ids: LineIds;
  private curLine = 0;
  private curAt = 0;
  private readonly skipped = (why: string): void => this.error(this.curLine, this.curAt, why);

  constructor(
    private readonly path: string,
    private readonly toEvents: LineConverter<T>,
    private readonly onEvent: (item: T) => void,
    private readonly onError?: (reason: string) => void,
    idPrefix = `${path}:`,
    private readonly maxLine = MAX_LINE,
  ) {
    this.ids = new LineIds(idPrefix);
  }

  /** The file offset just after the last complete line: where reading resumes without repeating one. */
  get lineBoundary(): number {
    return this.start;
  }

  /** Feeds a chunk; complete lines are converted now, an incomplete last line is kept. */
  push(chunk: Buffer): void {
    let buf = chunk;
    let bufAt = this.pos;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      bufAt = this.start;
      this.pending = null;
    }
    this.pos += chunk.length;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      if (this.skippingLongLine) this.skippingLongLine = false;
      else this.line(buf.toString('utf8', from, nl), this.start);
      from = nl + 1;
      this.start = bufAt + from;
    }
    if (from >= buf.length) return;
    if (this.skippingLongLine) return;
    if (buf.length - from > this.maxLine) {
      this.lines++;
      this.error(this.lines, this.start, `line longer than ${this.maxLine} bytes, skipped`);
      this.skippingLongLine = true;
      return;
    }
    this.pending = Buffer.from(buf.subarray(from));
  }

  /** The end of the data: a last line without a newline is converted too. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest && !this.skippingLongLine) this.line(rest.toString('utf8'), this.start);
    this.skippingLongLine = false;
    this.start = this.pos;
  }

  /**
   * Forgets the incomplete line and the line count: the data now starts at file offset `at` (a file
   * rotated, truncated, or resumed), and its events are named `<idPrefix><offset>`.
   */
  restart(at = 0, idPrefix = this.ids.prefix): void {
    this.pending = null;
    this.skippingLongLine = false;
    this.lines = 0;
    this.pos = at;
    this.start = at;
    this.fromStart = at === 0;
    this.ids.prefix = idPrefix;
  }

  /** Counts a reason found outside a line (e.g. a whole-document parse). */
  reject(reason: string): void {
    this.malformed++;
    this.remember(reason);
  }

  /** Hands on events produced outside a line, counted like a line's. */
  deliver(events: T[]): void {
    this.handed++;
    for (const ev of events) this.onEvent(ev);
  }

  private line(text: string, at: number): void {
    const n = ++this.lines;
    this.handed++;
    if (!text.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      this.error(n, at, `invalid JSON: ${(e as Error).message}`);
      return;
    }
    this.ids.reset(at);
    this.curLine = n;
    this.curAt = at;
    let events: T[];
    try {
      events = this.toEvents(obj, this.ids, this.skipped);
    } catch (e) {
      this.error(n, at, (e as Error).message);
      return;
    }
    for (const ev of events) this.onEvent(ev);
  }

  private error(line: number, at: number, why: string): void {
    this.malformed++;
    this.remember(this.fromStart ? `${this.path}:${line}: ${why}` : `${this.path}@${at}: ${why}`);
  }

  private remember(reason: string): void {
    this.lastErrors.push(reason);
    if (this.lastErrors.length > 20) this.lastErrors.shift();
    this.onError?.(reason);
  }
}

/** Reads a whole JSON-lines file as a stream; returns the events and the reasons for skipped lines. */
export async function readJsonLinesFile(
  path: string,
  toEvents: LineConverter,
): Promise<{ events: VigieEvent[]; errors: string[] }> {
  const events: VigieEvent[] = [];
  const errors: string[] = [];
  const r = new JsonLinesReader(
    path,
    toEvents,
    (ev) => events.push(ev),
    (why) => errors.push(why),
  );
  for await (const c of createReadStream(path)) r.push(c as Buffer);
  r.end();
  return { events, errors };
}

/**
 * A whole file read as one JSON document (e.g. an audit EventList): its events and the reasons for the
 * parts skipped, or undefined when the file is not one document (then it is read as lines).
 */
export type WholeDocumentConverter = (
  text: string,
  ids: EventIdSource,
) => { events: VigieEvent[]; errors: string[] } | undefined;

export interface JsonLinesFileOptions {
  /** Source name (stats, logs, positions, event ids). */
  name: string;
  path: string;
  /** Keep reading what is appended. */
  follow?: boolean;
  pollMs?: number;
  toEvents?: LineConverter;
  /** Instead of events, lines that are alerts already (Falco's output): handed to the alert sink. */
  toAlerts?: LineConverter<Alert>;
  /** Longest line kept (default 1 MiB); a longer one is counted malformed and skipped. */
  maxLine?: number;
  /** When the file is first read from its start, try it as one JSON document first. */
  wholeDocument?: WholeDocumentConverter;
  /** Where followed files were read up to; without it a followed file is read from its start. */
  positions?: FilePositions;
  /** The position is saved once this many lines were handed on... */
  saveEveryLines?: number;
  /** ...or this long after the last save, and on stop. */
  saveEveryMs?: number;
}

export class JsonLinesFileSource implements Source {
  readonly name: string;
  private readonly s: SourceStats = { events: 0, malformed: 0, lost: 0, rotations: 0 };
  /** The file's absolute path: the key of its position. */
  private readonly key: string;
  private readonly chunk = Buffer.allocUnsafe(READ_CHUNK);
  private handle: FileHandle | undefined;
  /** Identity of the open file: device and inode. */
  private file: { dev: string; ino: string } | undefined;
  /** File offset of the next byte to read. */
  private readAt = 0;
  /** The open file's first bytes (up to HEAD), as read: its position's fingerprint. */
  private head: Buffer = Buffer.alloc(0);
  private saved = { key: '', handed: 0, at: 0 };
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  // Events or alerts, by the converter the source was given.
  private reader: JsonLinesReader<VigieEvent | Alert> | undefined;
  /** Alerts handed on whose storing waits (their container is looked up): awaited before a save. */
  private readonly taking = new Set<Promise<unknown>>();

  constructor(private readonly opts: JsonLinesFileOptions) {
    this.name = opts.name;
    this.key = resolve(opts.path);
  }

  /** The last reasons lines were skipped (file:line: why). */
  get lastErrors(): string[] {
    return this.reader ? [...this.reader.lastErrors] : [];
  }

  async start(sink: EventSink, alerts?: AlertSink): Promise<void> {
    const o = this.opts;
    const count = (handed: boolean | Promise<boolean>) => {
      this.s.events++;
      if (handed === true) return;
      if (handed === false) {
        this.s.lost++;
        return;
      }
      const p = handed.then(
        (ok) => {
          if (!ok) this.s.lost++;
        },
        () => {
          this.s.lost++;
        },
      );
      const q = p.finally(() => this.taking.delete(q));
      this.taking.add(q);
    };
    const convert: LineConverter<VigieEvent | Alert> | undefined = o.toAlerts ?? o.toEvents;
    if (!convert) throw new Error(`source ${o.name}: neither toEvents nor toAlerts is given`);
    this.reader = new JsonLinesReader<VigieEvent | Alert>(
      o.path,
      convert,
      o.toAlerts ? (a) => count(alerts ? alerts(a as Alert) : false) : (ev) => count(sink(ev as VigieEvent)),
      undefined,
      undefined,
      o.maxLine,
    );
    const h = await open(this.opts.path, 'r');
    const st = await h.stat({ bigint: true });
    const { at, head } = await this.resumeAt(h, String(st.dev), String(st.ino), st.size);
    this.use(h, String(st.dev), String(st.ino), at, head);
    if (at === 0 && this.opts.wholeDocument) await this.readWholeDocument(this.opts.wholeDocument);
    await this.drain();
    if (!this.opts.follow) {
      this.reader.end();
      this.s.malformed = this.reader.malformed;
      await this.close();
      return;
    }
    this.save(true);
    this.timer = setInterval(() => {
      this.reading = this.reading
        .then(() => this.poll())
        .catch((err: unknown) =>
          log.warn(`${this.name}: reading ${this.opts.path} failed`, { err: String(err) }),
        );
    }, this.opts.pollMs ?? 250);
  }

  /**
   * Where to start reading a followed file: its saved offset when it is the same file (device, inode
   * and first bytes) and has not shrunk below it; otherwise its start.
   */
  private async resumeAt(
    h: FileHandle,
    dev: string,
    ino: string,
    size: bigint,
  ): Promise<{ at: number; head?: Buffer }> {
    const p = this.opts.follow ? this.opts.positions?.get(this.name, this.key) : undefined;
    if (!p) return { at: 0 };
    let why: string | undefined;
    let head: Buffer | undefined;
    if (p.dev !== dev || p.ino !== ino) why = 'rotated';
    else if (size < BigInt(p.offset)) why = 'truncated';
    else {
      head = Buffer.alloc(p.headLength);
      const { bytesRead } = await h.read(head, 0, p.headLength, 0);
      if (bytesRead !== p.headLength || sha256(head) !== p.headSha256) why = 'replaced';
    }
    if (why) {
      log.info(`${this.name}: ${this.opts.path} was ${why} while stopped, reading it from its start`);
      this.s.rotations = Number(this.s.rotations) + 1;
      return { at: 0 };
    }
    return { at: p.offset, head };
  }

  private use(h: FileHandle, dev: string, ino: string, at: number, head?: Buffer): void {
    this.handle = h;
    this.file = { dev, ino };
    this.readAt = at;
    this.head = head ?? Buffer.alloc(0);
    this.reader!.restart(at, `${this.name}:${dev}:${ino}:`);
  }

  /** Keeps the first bytes of the file as they are read (`at`: the chunk's file offset). */
  private noteHead(chunk: Buffer, at: number): void {
    if (at >= HEAD || at !== this.head.length) return;
    this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD - at)]);
  }

  /** The file read whole as one document; when it is not one, its bytes are read as lines. */
  private async readWholeDocument(convert: WholeDocumentConverter): Promise<void> {
    const { size } = await this.handle!.stat();
    const buf = Buffer.alloc(size);
    let n = 0;
    while (n < size) {
      const { bytesRead } = await this.handle!.read(buf, n, size - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    const r = this.reader!;
    const ids = new LineIds(`${this.name}:${this.file!.dev}:${this.file!.ino}:`);
    const doc = convert(buf.toString('utf8', 0, n), ids);
    this.readAt = n;
    this.noteHead(buf.subarray(0, n), 0);
    if (!doc) {
      r.push(buf.subarray(0, n));
      return;
    }
    for (const why of doc.errors) r.reject(why);
    r.restart(n);
    r.deliver(doc.events);
    this.s.malformed = r.malformed;
  }

  /** Reads what the open file has beyond what was read; a file that shrank is read from its start. */
  private async drain(): Promise<void> {
    const h = this.handle!;
    const r = this.reader!;
    const { size } = await h.stat();
    if (size < this.readAt) {
      log.info(`${this.name}: ${this.opts.path} was truncated, reading it from its start`);
      this.s.rotations = Number(this.s.rotations) + 1;
      this.readAt = 0;
      this.head = Buffer.alloc(0);
      r.restart(0);
    }
    while (this.readAt < size) {
      const want = Math.min(this.chunk.length, size - this.readAt);
      const { bytesRead } = await h.read(this.chunk, 0, want, this.readAt);
      if (bytesRead === 0) break;
      this.noteHead(this.chunk.subarray(0, bytesRead), this.readAt);
      this.readAt += bytesRead;
      r.push(this.chunk.subarray(0, bytesRead));
      await this.taken();
      this.save(false);
    }
    this.s.malformed = r.malformed;
  }

  /** One poll: the rest of the open file, then the file now at the path when it is another one. */
  private async poll(): Promise<void> {
    if (this.stopped) return;
    await this.drain();
    let st;
    try {
      st = await stat(this.opts.path, { bigint: true });
    } catch (e) {
      // Renamed away and not yet replaced: the open file is still read.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (String(st.dev) !== this.file!.dev || String(st.ino) !== this.file!.ino) {
      const h = await open(this.opts.path, 'r');
      const hs = await h.stat({ bigint: true });
      // The rotated file was read to its end above; a last line without a newline is final.
      this.reader!.end();
      await this.taken();
      await this.handle!.close();
      log.info(`${this.name}: ${this.opts.path} was rotated, reading the new file from its start`);
      this.s.rotations = Number(this.s.rotations) + 1;
      this.use(h, String(hs.dev), String(hs.ino), 0);
      this.save(true);
      await this.drain();
    }
    this.save(false);
  }

  /** Waits until every alert handed on so far was taken: a saved position never passes one that was not. */
  private async taken(): Promise<void> {
    while (this.taking.size > 0) await Promise.all([...this.taking]);
  }

  /**
   * Saves the followed file's position (the end of the last line handed on), at most every
   * `saveEveryLines` lines or `saveEveryMs` ms unless `force`, and only when it moved.
   */
  private save(force: boolean): void {
    const positions = this.opts.positions;
    if (!positions || !this.opts.follow || !this.file || !this.reader) return;
    const offset = this.reader.lineBoundary;
    const key = `${this.file.dev}:${this.file.ino}:${offset}`;
    if (key === this.saved.key) return;
    const now = Date.now();
    const due =
      force ||
      this.reader.handed - this.saved.handed >= (this.opts.saveEveryLines ?? 1000) ||
      now - this.saved.at >= (this.opts.saveEveryMs ?? 1000);
    if (!due) return;
    const headLength = Math.min(offset, this.head.length);
    positions.save(this.name, this.key, {
      dev: this.file.dev,
      ino: this.file.ino,
      offset,
      headLength,
      headSha256: sha256(this.head.subarray(0, headLength)),
    });
    this.saved = { key, handed: this.reader.handed, at: now };
  }

  private async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading;
    await this.taken();
    this.save(true);
    await this.close();
  }

  stats(): SourceStats {
    return { ...this.s };
  }
}

/**
 * A registry factory for a tool's JSON-lines output file: on when `config[name].path` is set;
 * `follow: true` tails it, resuming from `ctx.positions` across restarts.
 */
export function jsonLinesFileFactory(
  name: string,
  convert: { toEvents: LineConverter } | { toAlerts: LineConverter<Alert> },
): (ctx: Pick<SourceContext, 'config' | 'positions'>) => Source | undefined {
  return (ctx) => {
    const cfg = ctx.config[name];
    if (!cfg || typeof cfg.path !== 'string') return undefined;
    return new JsonLinesFileSource({
      name,
      path: cfg.path,
      follow: cfg.follow === true,
      ...convert,
      positions: ctx.positions,
    });
  };
}
