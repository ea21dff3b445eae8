/** Shared types of the posture engine: objects, controls, findings. No I/O here. */
import type { LocationTable } from './finding.js';

export type K8sObject = Record<string, any> & {
  kind?: string;
  apiVersion?: string;
  metadata?: Record<string, any>;
};

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher = more severe. */
export function severityRank(s: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(s);
}

export function parseSeverity(s: string): Severity {
  const t = s.trim().toLowerCase() as Severity;
  if (!SEVERITIES.includes(t))
    throw new Error(`unknown severity "${s}" (expected one of ${SEVERITIES.join(', ')})`);
  return t;
}

/** Where an object came from: file and 1-based line of its document, or the cluster. */
export interface SourceRef {
  file: string;
  line?: number;
  docIndex?: number;
  /** Where its findings are, once located (locate.ts); never written in reports. */
  locations?: LocationTable;
}

/** The text of one input, shared by the objects read from it (see ObjectOrigin). */
export interface SourceText {
  readonly text: string;
}

/**
 * Where an object's document is in its input, so that the fields findings name can be found in
 * the text after the scan (locate.ts) without keeping a syntax tree per object: the span of the
 * text the loader parsed (`nth` document of it), and the keys from that document's root to the
 * object (`['items', 3]` for the fourth item of a List, `[]` for the document itself).
 */
export interface DocumentOrigin {
  readonly input: SourceText;
  readonly from: number;
  readonly to: number;
  readonly nth: number;
  /** Read by JSON.parse: the span is one JSON value. */
  readonly json: boolean;
}

export interface ObjectOrigin {
  readonly doc: DocumentOrigin;
  readonly route: readonly (string | number)[];
}

export interface LoadedObject {
  obj: K8sObject;
  source?: SourceRef;
  /** Present for objects read from text (files, stdin): what locate.ts needs. */
  origin?: ObjectOrigin;
}

/**
 * The place of a finding's field in its input, 1-based; columns count UTF-16 code units (what a
 * JavaScript string and SARIF's default `columnKind` count). The end is exclusive: the position
 * just after the field's value.
 */
export interface FieldLocation {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** One failing place inside a resource, produced by a check. */
export interface Hit {
  path: string;
  message: string;
  /** Container name when the hit is about one container (exceptions match on it). */
  container?: string;
  /** RBAC: the subject that holds the risky permission. */
  subject?: { kind: string; name: string; namespace?: string };
  /** Objects that took part in the reasoning (binding → role, service → workload). */
  related?: ResourceRef[];
}

export interface MitreTechnique {
  tactic: string;
  technique: string;
  name?: string;
}

export interface ControlDef {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  remediation: string;
  /** Which check implements it and with what parameters. */
  check: string;
  params?: Record<string, unknown>;
  mitre?: MitreTechnique[];
  kubescape: string[];
  /** The Kubescape rule names (regolibrary) this control implements; used by the agreement eval. */
  rules?: string[];
  /** Pod Security Standards level this control belongs to, if any. */
  pss?: 'baseline' | 'restricted';
  /**
   * Control inputs (settings names) the control cannot be judged without: when none of them is
   * set, the control is not evaluated and is reported as not configured.
   */
  requires?: string[];
  /**
   * Root cause shared with overlapping controls: reports show the findings of controls with the
   * same cause, on the same resource and place, as one finding (see grouping.ts).
   */
  cause?: string;
  group: string;
}

export interface Finding {
  control: string;
  title: string;
  kubescape: string[];
  severity: Severity;
  resource: ResourceRef;
  path: string;
  message: string;
  fix: string;
  container?: string;
  subject?: Hit['subject'];
  related?: ResourceRef[];
  source?: SourceRef;
  /** The field in the source text (set by locateFindings for objects read from text). */
  location?: FieldLocation;
  mitre?: MitreTechnique[];
  excepted: boolean;
  exception?: { reason: string; expires?: string };
  /** The control's root cause, when it shares one with other controls (reports group on it). */
  cause?: string;
}

export interface ResourceScore {
  resource: ResourceRef;
  score: number;
  findings: number;
}

export interface ScanSummary {
  objects: number;
  resources: number;
  controls: number;
  findings: number;
  excepted: number;
  bySeverity: Record<Severity, number>;
  score: number;
  errors: number;
  /** Controls left out because the inputs they need were not given (see ScanResult.notConfigured). */
  notConfigured?: number;
}

/** A control that was not evaluated because none of the inputs it needs was set. */
export interface NotConfigured {
  control: string;
  title: string;
  /** The settings, any one of which would let the control run. */
  inputs: string[];
}

export interface ScanError {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

export interface ScanResult {
  findings: Finding[];
  resources: ResourceScore[];
  summary: ScanSummary;
  errors: ScanError[];
  /** Controls not evaluated for want of their inputs: neither passed nor failed. */
  notConfigured?: NotConfigured[];
}
