/**
 * Findings refer to their control and hit instead of copying their fields: a cluster scan makes
 * hundreds of thousands of them, and the copies were most of the garbage collector's work. Hit
 * classes that extend FindingBase become the finding itself (one object per finding).
 */
import type { ControlDef, FieldLocation, Finding, Hit, ResourceRef, Severity, SourceRef } from './types.js';

/**
 * A finding's source as reports give it: the object's file, with the line and column of the
 * finding's own field once located (else the line of the object's document, when known).
 */
export function locatedSource(
  source: SourceRef | undefined,
  location: FieldLocation | undefined,
): Record<string, unknown> | undefined {
  if (!source || !location) return source as Record<string, unknown> | undefined;
  return {
    file: source.file,
    line: location.line,
    column: location.column,
    endLine: location.endLine,
    endColumn: location.endColumn,
    docIndex: source.docIndex,
  };
}

/**
 * The locations of one scan's findings, four 32-bit integers each (locate.ts). A finding keeps
 * the index of its own, the same for an object's findings that name one place: an object per
 * location cost some 56 bytes, and a 100,000-pod List has about 600,000 locations.
 */
export class LocationTable {
  private data = new Int32Array(4096);
  private count = 0;

  add(line: number, column: number, endLine: number, endColumn: number): number {
    if (4 * this.count + 4 > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const k = 4 * this.count;
    this.data[k] = line;
    this.data[k + 1] = column;
    this.data[k + 2] = endLine;
    this.data[k + 3] = endColumn;
    return this.count++;
  }

  get(id: number): FieldLocation {
    const d = this.data;
    const k = 4 * id;
    return { line: d[k], column: d[k + 1], endLine: d[k + 2], endColumn: d[k + 3] };
  }

  /** A SourceRef that carries a table is written without it. */
  toJSON(): undefined {
    return undefined;
  }
}

export abstract class FindingBase implements Finding {
  def: ControlDef = undefined as unknown as ControlDef;
  resource: ResourceRef = undefined as unknown as ResourceRef;
  source: SourceRef | undefined = undefined;
  /** Index of this finding's place in `source.locations` (locate.ts); -1 until located. */
  private locationId = -1;
  // On the prototype (false / undefined) until an exception matches: two fewer fields in each of
  // the hundreds of thousands of findings a cluster scan keeps.
  declare excepted: boolean;
  declare exception: { reason: string; expires?: string } | undefined;
  abstract get path(): string;
  abstract get message(): string;
  get container(): string | undefined {
    return undefined;
  }
  get subject(): Hit['subject'] {
    return undefined;
  }
  get related(): Hit['related'] {
    return undefined;
  }
  get control(): string {
    return this.def.id;
  }
  get title(): string {
    return this.def.title;
  }
  get kubescape(): string[] {
    return this.def.kubescape;
  }
  get severity(): Severity {
    return this.def.severity;
  }
  get fix(): string {
    return this.def.remediation;
  }
  get mitre(): ControlDef['mitre'] {
    return this.def.mitre;
  }
  /** The field's place in the source text, once located. */
  get location(): FieldLocation | undefined {
    const table = this.source?.locations;
    return this.locationId < 0 || !table ? undefined : table.get(this.locationId);
  }
  set location(l: FieldLocation | undefined) {
    // Not through a table: this finding's own source gets one for it.
    if (!l || !this.source) {
      this.locationId = -1;
      return;
    }
    this.source.locations ??= new LocationTable();
    this.locationId = this.source.locations.add(l.line, l.column, l.endLine, l.endColumn);
  }
  /** Located at entry `id` of `source.locations`, which the caller has set. */
  locateAt(id: number): void {
    this.locationId = id;
  }
  get cause(): string | undefined {
    return this.def.cause;
  }
  /** True until the engine has attached it to a control and resource. */
  get unbound(): boolean {
    return this.def === undefined;
  }
  toJSON(): Record<string, unknown> {
    return {
      control: this.control,
      title: this.title,
      kubescape: this.kubescape,
      severity: this.severity,
      resource: this.resource,
      path: this.path,
      message: this.message,
      fix: this.fix,
      container: this.container,
      subject: this.subject,
      related: this.related,
      mitre: this.mitre,
      source: locatedSource(this.source, this.location),
      excepted: this.excepted,
      exception: this.exception,
    };
  }
}

Object.defineProperties(FindingBase.prototype, {
  excepted: { value: false, writable: true, configurable: true },
  exception: { value: undefined, writable: true, configurable: true },
});

/** How a LazyHit's strings are made from its three slots. */
export interface HitFormat {
  path(a: any, b: any, c: any): string;
  message(a: any, b: any, c: any): string;
  container?(a: any, b: any, c: any): string | undefined;
}

/**
 * A hit that builds its strings when read, from a format and three slots: the checks that fail on
 * most workloads make one object per finding and no string until one is printed. One class for all
 * of them keeps the engine's loop over hits monomorphic (a class per kind of hit made it slower).
 */
export class LazyHit extends FindingBase implements Hit {
  constructor(
    private readonly format: HitFormat,
    private readonly a: any,
    private readonly b: any,
    private readonly c: any,
  ) {
    super();
  }
  get path(): string {
    return this.format.path(this.a, this.b, this.c);
  }
  get message(): string {
    return this.format.message(this.a, this.b, this.c);
  }
  override get container(): string | undefined {
    return this.format.container?.(this.a, this.b, this.c);
  }
}

/** prefix + rel, and a message: a field under a pod template's path. */
export const PATH_FORMAT: HitFormat = {
  path: (prefix: string, rel: string) => prefix + rel,
  message: (_p: string, _r: string, msg: string) => msg,
};

/** A finding wrapping a plain hit object. */
export class PostureFinding extends FindingBase {
  constructor(readonly hit: Hit) {
    super();
  }
  get path(): string {
    return this.hit.path;
  }
  get message(): string {
    return this.hit.message;
  }
  override get container(): string | undefined {
    return this.hit.container;
  }
  override get subject(): Hit['subject'] {
    return this.hit.subject;
  }
  override get related(): Hit['related'] {
    return this.hit.related;
  }
}
