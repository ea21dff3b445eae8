/**
 * A live source over a JSON-lines file written by another tool (Falco's `json_output` file,
 * Tetragon's export): reads it as a stream, then, with `follow`, keeps reading what is appended
 * (like `tail -F`: a file that shrinks was rotated or truncated and is read again from the start).
 * A line that is not JSON or not the tool's format is counted as malformed with its file:line and
 * skipped; the stream goes on. Memory stays bounded: one read chunk plus one incomplete line.
 */
import { createReadStream, statSync } from 'node:fs';
import type { VigieEvent } from '../model/event.js';
import type { EventSink, Source, SourceStats } from './types.js';

/** Turns one parsed line into events; throws an Error whose message says why the line is not valid. */
export type LineConverter = (obj: unknown) => VigieEvent[];

/** Longest line kept while waiting for its end; a longer one is counted malformed and skipped. */
const MAX_LINE = 1 << 20;

/** Splits a byte stream into JSON lines and converts them, counting what is malformed. */
export class JsonLinesReader {
  lines = 0;
  malformed = 0;
  /** The last reasons (file:line: why), newest last. */
  readonly lastErrors: string[] = [];
  private pending: Buffer | null = null;
  private skippingLongLine = false;

  constructor(
    private readonly path: string,
    private readonly toEvents: LineConverter,
    private readonly onEvent: (ev: VigieEvent) => void,
    private readonly onError?: (reason: string) => void,
  ) {}

  /** Feeds a chunk; complete lines are converted now, an incomplete last line is kept. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      if (this.skippingLongLine) this.skippingLongLine = false;
      else this.line(buf.toString('utf8', start, nl));
      start = nl + 1;
    }
    if (start >= buf.length) return;
    if (this.skippingLongLine) return;
    if (buf.length - start > MAX_LINE) {
      this.error(this.lines + 1, `line longer than ${MAX_LINE} bytes, skipped`);
      this.lines++;
      this.skippingLongLine = true;
      return;
    }
    this.pending = Buffer.from(buf.subarray(start));
  }

  /** The end of the data: a last line without a newline is converted too. */
  end(): void {
    const rest = this.pending;
    this.pending = null;
    if (rest && !this.skippingLongLine) this.line(rest.toString('utf8'));
    this.skippingLongLine = false;
  }

  /** Forgets the incomplete line and the line count (the file was rotated or truncated). */
  restart(): void {
    this.pending = null;
    this.skippingLongLine = false;
    this.lines = 0;
  }

  private line(text: string): void {
    const n = ++this.lines;
    if (!text.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      this.error(n, `invalid JSON: ${(e as Error).message}`);
      return;
    }
    let events: VigieEvent[];
    try {
      events = this.toEvents(obj);
    } catch (e) {
      this.error(n, (e as Error).message);
      return;
    }
    for (const ev of events) this.onEvent(ev);
  }

  private error(line: number, why: string): void {
    this.malformed++;
    const reason = `${this.path}:${line}: ${why}`;
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

export interface JsonLinesFileOptions {
  /** Source name (stats, logs). */
  name: string;
  path: string;
  /** Keep reading what is appended. */
  follow?: boolean;
  pollMs?: number;
  toEvents: LineConverter;
}

export class JsonLinesFileSource implements Source {
  readonly name: string;
  private readonly s: SourceStats = { events: 0, malformed: 0, lost: 0, rotations: 0 };
  private offset = 0;
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private reader: JsonLinesReader | undefined;

  constructor(private readonly opts: JsonLinesFileOptions) {
    this.name = opts.name;
  }

  /** The last reasons lines were skipped (file:line: why). */
  get lastErrors(): string[] {
    return this.reader ? [...this.reader.lastErrors] : [];
  }

  async start(sink: EventSink): Promise<void> {
    this.reader = new JsonLinesReader(this.opts.path, this.opts.toEvents, (ev) => {
      this.s.events++;
      if (!sink(ev)) this.s.lost++;
    });
    await this.readMore();
    if (!this.opts.follow) {
      this.reader.end();
      this.s.malformed = this.reader.malformed;
      return;
    }
    this.timer = setInterval(() => {
      this.reading = this.reading.then(() => this.readMore()).catch(() => undefined);
    }, this.opts.pollMs ?? 250);
  }

  private async readMore(): Promise<void> {
    if (this.stopped) return;
    const r = this.reader!;
    const size = statSync(this.opts.path).size;
    if (size < this.offset) {
      this.s.rotations = Number(this.s.rotations) + 1;
      this.offset = 0;
      r.restart();
    }
    if (size === this.offset) return;
    for await (const c of createReadStream(this.opts.path, { start: this.offset, end: size - 1 })) {
      this.offset += (c as Buffer).length;
      r.push(c as Buffer);
    }
    this.s.malformed = r.malformed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading;
  }

  stats(): SourceStats {
    return { ...this.s };
  }
}

/**
 * A registry factory for a tool's JSON-lines output file: on when `config[name].path` is set;
 * `follow: true` tails it.
 */
export function jsonLinesFileFactory(
  name: string,
  toEvents: LineConverter,
): (ctx: { config: Record<string, Record<string, unknown> | undefined> }) => Source | undefined {
  return (ctx) => {
    const cfg = ctx.config[name];
    if (!cfg || typeof cfg.path !== 'string') return undefined;
    return new JsonLinesFileSource({ name, path: cfg.path, follow: cfg.follow === true, toEvents });
  };
}
