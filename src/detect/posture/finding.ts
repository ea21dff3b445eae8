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

export abstract class FindingBase implements Finding {
  def: ControlDef = undefined as unknown as ControlDef;
  resource: ResourceRef = undefined as unknown as ResourceRef;
  source: SourceRef | undefined = undefined;
  /** Shared among an object's findings that name the same place (locate.ts). */
  location: FieldLocation | undefined = undefined;
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
