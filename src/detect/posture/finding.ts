/**
 * Findings refer to their control and hit instead of copying their fields: a cluster scan makes
 * hundreds of thousands of them, and the copies were most of the garbage collector's work. Hit
 * classes that extend FindingBase become the finding itself (one object per finding).
 */
import type { ControlDef, Finding, Hit, ResourceRef, Severity, SourceRef } from './types.js';

export abstract class FindingBase implements Finding {
  def: ControlDef = undefined as unknown as ControlDef;
  resource: ResourceRef = undefined as unknown as ResourceRef;
  source: SourceRef | undefined = undefined;
  excepted = false;
  exception: { reason: string; expires?: string } | undefined = undefined;
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
      source: this.source,
      excepted: this.excepted,
      exception: this.exception,
    };
  }
}

/**
 * A hit at prefix + rel (a pod template's path and a field under it), joined when read: the checks
 * that fail on most workloads make one object per finding and no string until one is printed.
 */
export class PathHit extends FindingBase implements Hit {
  constructor(
    private readonly prefix: string,
    private readonly rel: string,
    private readonly msg: string,
  ) {
    super();
  }
  get path(): string {
    return this.prefix + this.rel;
  }
  get message(): string {
    return this.msg;
  }
}

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
