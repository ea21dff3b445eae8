/** Report formats of a scan: table (people), JSON (machines), SARIF 2.1.0 (code scanning), JUnit (CI). */
import { escapeControl } from '../../model/text.js';
import { isAbsolute, relative, sep } from 'node:path';
import { locatedSource } from './finding.js';
import { alsoText, reportedCounts, reportedFindings, type ReportedFinding } from './grouping.js';
import { formatError } from './load.js';
import {
  SEVERITIES,
  severityRank,
  type ControlDef,
  type Finding,
  type NotConfigured,
  type ResourceRef,
  type ScanResult,
  type Severity,
} from './types.js';

export const OUTPUT_FORMATS = ['table', 'json', 'sarif', 'junit'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const VERSION = '0.1.0';

function resName(f: Finding): string {
  const r = f.resource;
  return `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/**
 * Severity (highest first), control, resource, path. Grouped by severity and control first; a
 * resource's name is built once (the engine shares one reference among an object's findings) and
 * a path (built on demand by the finding) only when two findings of a group name the same
 * resource. The strings a sort keeps until it ends outlive the young generation, and with millions
 * of findings that garbage is what set the scan's peak memory. The collator orders as
 * localeCompare does, only faster.
 */
function sorted<F extends Finding>(findings: F[]): F[] {
  const collator = new Intl.Collator();
  const names = new Map<ResourceRef, string>();
  const nameOf = (f: Finding): string => {
    let n = names.get(f.resource);
    if (n === undefined) names.set(f.resource, (n = resName(f)));
    return n;
  };
  const groups = new Map<string, F[]>();
  for (const f of findings) {
    const key = `${f.severity}\u0000${f.control}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(f);
  }
  const ordered = [...groups.values()].sort(
    (a, b) =>
      severityRank(b[0].severity) - severityRank(a[0].severity) ||
      collator.compare(a[0].control, b[0].control),
  );
  const out: F[] = [];
  for (const g of ordered) {
    const keys = g.map(nameOf);
    const idx = g.map((_, i) => i);
    idx.sort((a, b) => collator.compare(keys[a], keys[b]) || collator.compare(g[a].path, g[b].path));
    for (const i of idx) out.push(g[i]);
  }
  return out;
}

/** The other findings of a group, as JSON: enough to find each control's own finding. */
function jsonAlso(f: ReportedFinding): Record<string, unknown>[] | undefined {
  return f.also?.map((a) => ({
    control: a.control,
    title: a.title,
    severity: a.severity,
    path: a.path,
    message: a.message,
  }));
}

function jsonFinding(f: ReportedFinding): Record<string, unknown> {
  return {
    control: f.control,
    title: f.title,
    kubescape: f.kubescape,
    severity: f.severity,
    resource: f.resource,
    path: f.path,
    message: f.message,
    fix: f.fix,
    container: f.container,
    subject: f.subject,
    related: f.related,
    mitre: f.mitre,
    source: locatedSource(f.source, f.location),
    excepted: f.excepted,
    exception: f.exception,
    also: jsonAlso(f),
  };
}

/** An array as JSON.stringify(value, null, 2) lays it out at `depth`, one element at a time. */
function* jsonArray<T>(items: readonly T[], depth: number, map: (item: T) => unknown): Generator<string> {
  if (items.length === 0) {
    yield '[]';
    return;
  }
  const pad = '  '.repeat(depth + 1);
  yield '[';
  for (let i = 0; i < items.length; i++)
    yield `\n${pad}${JSON.stringify(map(items[i]), null, 2).replace(/\n/g, `\n${pad}`)}${i + 1 < items.length ? ',' : ''}`;
  yield `\n${'  '.repeat(depth)}]`;
}

/**
 * The JSON report piece by piece, laid out as JSON.stringify(report, null, 2) would: the report of
 * a scan with millions of findings is longer than the longest string the runtime can hold.
 */
export function* jsonChunks(res: ScanResult, notes: RunNotes = {}): Generator<string> {
  const unreadable = notes.unreadableInputs ?? 0;
  const reported = reportedFindings(res.findings);
  const { findings, excepted } = reportedCounts(reported);
  // No score for a partial run: a reader that checks `score >= 90` must not pass it.
  const summary = {
    ...res.summary,
    reported: { findings, excepted },
    ...(unreadable > 0 ? { score: null, unreadableInputs: unreadable } : {}),
  };
  yield '{\n  "findings": ';
  yield* jsonArray(sorted(reported), 1, jsonFinding);
  yield ',\n  "resources": ';
  yield* jsonArray(res.resources, 1, (r) => r);
  yield `,\n  "summary": ${JSON.stringify(summary, null, 2).replace(/\n/g, '\n  ')}`;
  yield ',\n  "errors": ';
  yield* jsonArray(res.errors, 1, (e) => e);
  yield ',\n  "notConfigured": ';
  yield* jsonArray(res.notConfigured ?? [], 1, (n) => ({ ...n, status: 'not configured' }));
  yield '\n}';
}

export function toJson(res: ScanResult, notes: RunNotes = {}): string {
  let out = '';
  for (const c of jsonChunks(res, notes)) out += c;
  return out;
}

function trunc(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** How the run went beside the findings: inputs that were not read make the score meaningless. */
export interface RunNotes {
  /** Inputs that could not be read at all (missing, not text, over a size limit). */
  unreadableInputs?: number;
}

/** The input a finding's object was read from, if it was read from one (not from a cluster). */
function inputFile(f: Finding): string | undefined {
  const file = f.source?.file;
  return file && !file.startsWith('cluster:') ? file : undefined;
}

/**
 * `file:line:column` of the finding's field once located, as compilers write it (else the line of
 * the object's document, else the file alone); undefined for objects not read from an input.
 */
export function whereOf(f: Finding): string | undefined {
  const file = inputFile(f);
  if (file === undefined) return undefined;
  if (f.location) return `${file}:${f.location.line}:${f.location.column}`;
  return f.source?.line ? `${file}:${f.source.line}` : file;
}

/** Keeps the end of a long location: the line and column are what is read. */
function truncStart(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}

/**
 * Table rows of one report. The LOCATION column is there when findings were located in their
 * inputs (not for a cluster scan); a file name is escaped once, not once per row (a large scan
 * has millions of rows naming the same file).
 */
const WHERE_WIDTH = 60;
const DIGITS = '0123456789';

/**
 * A line or column number as text, without the runtime's number-to-string cache: the cache keeps
 * each new string for a while, long enough to be copied to the old generation, and the millions of
 * distinct columns of a one-line JSON dump made the table's writing grow the heap steadily.
 */
function decimal(n: number): string {
  let s = '';
  let v = n;
  do {
    s = DIGITS[v % 10] + s;
    v = Math.floor(v / 10);
  } while (v > 0);
  return s;
}

function digits(n: number): number {
  let d = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) d++;
  return d;
}

class TableRows {
  private file: string | undefined;
  private escaped = '';

  constructor(readonly withWhere: boolean) {}

  private escapedFile(f: Finding): string | undefined {
    const file = inputFile(f);
    if (file === undefined) return undefined;
    if (file !== this.file) {
      this.file = file;
      this.escaped = escapeControl(file);
    }
    return this.escaped;
  }

  private where(f: Finding): string {
    const file = this.escapedFile(f);
    if (file === undefined) return '';
    const l = f.location;
    const line = l?.line ?? f.source?.line;
    const at = line ? `:${decimal(line)}${l ? `:${decimal(l.column)}` : ''}` : '';
    return truncStart(file + at, WHERE_WIDTH);
  }

  /** The length of where(f), counted rather than built (the first of the table's two passes). */
  whereLength(f: Finding): number {
    const file = this.escapedFile(f);
    if (file === undefined) return 0;
    const l = f.location;
    const at = l ? 2 + digits(l.line) + digits(l.column) : f.source?.line ? 1 + digits(f.source.line) : 0;
    return Math.min(file.length + at, WHERE_WIDTH);
  }

  /**
   * The cells of a row; the LOCATION cell is left empty unless `where`. A group shows its lead's
   * control, location, path and message, and how many other controls it stands for.
   */
  row(f: ReportedFinding, where = true): string[] {
    const row = [
      f.excepted ? `${f.severity} (excepted)` : f.severity,
      f.also && f.also.length > 0 ? `${f.control} +${f.also.length}` : f.control,
      trunc(escapeControl(resName(f)), 48),
    ];
    if (this.withWhere) row.push(where ? this.where(f) : '');
    row.push(trunc(escapeControl(f.path), 60), trunc(escapeControl(f.message), 160));
    return row;
  }
}

function scoreText(res: ScanResult, notes: RunNotes): string {
  const n = notes.unreadableInputs ?? 0;
  if (n > 0) return `Score n/a: ${n} input${n === 1 ? '' : 's'} could not be read`;
  return `Score ${res.summary.score}/100`;
}

/**
 * The table line by line, so that a scan with millions of findings is written without holding
 * every row (or one string of them all) in memory: a first pass measures the columns, the second
 * builds each row as it is written.
 */
export function* tableLines(res: ScanResult, notes: RunNotes = {}): Generator<string> {
  // Names, paths and messages come from the manifests: escaped, so a name cannot forge a line.
  const findings = sorted(reportedFindings(res.findings));
  const withWhere = findings.some((f) => f.location !== undefined);
  const rows = new TableRows(withWhere);
  const head = withWhere
    ? ['SEVERITY', 'CONTROL', 'RESOURCE', 'LOCATION', 'PATH', 'MESSAGE']
    : ['SEVERITY', 'CONTROL', 'RESOURCE', 'PATH', 'MESSAGE'];
  // A loop, not Math.max(...rows): spreading 100,000 rows overflows the call stack.
  const widths = head.map((h) => h.length);
  for (const f of findings) {
    const r = rows.row(f, false);
    for (let i = 0; i < r.length; i++) if (r[i].length > widths[i]) widths[i] = r[i].length;
    if (withWhere) widths[3] = Math.max(widths[3], rows.whereLength(f));
  }
  const fmt = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  if (findings.length > 0) {
    yield fmt(head);
    for (const f of findings) {
      yield fmt(rows.row(f));
      // A group's other controls on a line of their own: the message column is cut to fit.
      const also = alsoText(f);
      if (also) yield `${' '.repeat(widths[0] + 2)}also: ${escapeControl(also)}`;
    }
    yield '';
  }
  for (const e of res.errors) yield `error: ${escapeControl(formatError(e))}`;
  for (const n of res.notConfigured ?? []) yield notConfiguredLine(n);
  const s = res.summary;
  const r = reportedCounts(findings);
  const sev = SEVERITIES.filter((k) => r.bySeverity[k] > 0)
    .map((k) => `${r.bySeverity[k]} ${k}`)
    .join(', ');
  // Findings as listed (grouped by root cause), and how many control results they stand for.
  const results = r.findings === s.findings ? '' : ` from ${s.findings} control results`;
  yield `${s.objects} objects, ${s.resources} resources checked against ${s.controls} controls${s.notConfigured ? ` (${s.notConfigured} not configured)` : ''}: ${r.findings} findings${sev ? ` (${sev})` : ''}${results}, ${r.excepted} excepted, ${s.errors} input errors. ${scoreText(res, notes)}`;
}

/** A control left out for want of its inputs: info, not a finding. */
function notConfiguredLine(n: NotConfigured): string {
  const inputs = n.inputs.join(' or ');
  return `info: ${n.control} ${n.title}: not configured (set ${inputs} in --settings)`;
}

export function toTable(res: ScanResult, notes: RunNotes = {}): string {
  let out = '';
  for (const line of tableLines(res, notes)) out += `${line}\n`;
  return out;
}

/** Code-scanning tools resolve artifact URIs against the repository: relative, forward slashes. */
function artifactUri(file: string): string {
  let f = file;
  if (isAbsolute(f)) {
    const rel = relative(process.cwd(), f);
    if (!rel.startsWith('..') && !isAbsolute(rel)) f = rel;
  }
  return f.split(sep).join('/');
}

function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note';
}

const SECURITY_SEVERITY: Readonly<Record<Severity, string>> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.5',
};

/** The field's region once located (end exclusive, as SARIF has it), else its document's line. */
function sarifRegion(f: Finding): { region?: Record<string, number> } {
  const l = f.location;
  if (l)
    return {
      region: { startLine: l.line, startColumn: l.column, endLine: l.endLine, endColumn: l.endColumn },
    };
  return f.source?.line ? { region: { startLine: f.source.line } } : {};
}

export function toSarif(res: ScanResult, controls: ControlDef[]): Record<string, unknown> {
  const used = new Set(res.findings.map((f) => f.control));
  const rules = controls.filter((c) => used.has(c.id));
  const ruleIndex = new Map(rules.map((c, i) => [c.id, i]));
  const results = sorted(reportedFindings(res.findings)).map((f) => {
    const also = alsoText(f);
    const r: Record<string, unknown> = {
      ruleId: f.control,
      ruleIndex: ruleIndex.get(f.control) ?? 0,
      level: sarifLevel(f.severity),
      message: { text: `${resName(f)}: ${f.message} (${f.path})${also ? `. Also: ${also}` : ''}` },
      locations: [
        {
          ...(f.source?.file && f.source.file !== '-' && !f.source.file.startsWith('cluster:')
            ? {
                physicalLocation: {
                  artifactLocation: { uri: artifactUri(f.source.file) },
                  ...sarifRegion(f),
                },
              }
            : {}),
          logicalLocations: [
            { fullyQualifiedName: `${resName(f)}#${f.path}`, name: f.resource.name, kind: 'resource' },
          ],
        },
      ],
      partialFingerprints: { vigieFinding: `${f.control}|${resName(f)}|${f.path}` },
      properties: {
        severity: f.severity,
        kubescape: f.kubescape,
        path: f.path,
        fix: f.fix,
        ...(f.also && f.also.length > 0 ? { also: jsonAlso(f) } : {}),
      },
    };
    if (f.excepted)
      r.suppressions = [{ kind: 'external', status: 'accepted', justification: f.exception?.reason ?? '' }];
    return r;
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'vigie',
            version: VERSION,
            informationUri: 'https://github.com/vigie/vigie',
            rules: rules.map((c) => ({
              id: c.id,
              name: c.title
                .replace(/[^A-Za-z0-9]+/g, ' ')
                .trim()
                .split(' ')
                .map((w) => w[0].toUpperCase() + w.slice(1))
                .join(''),
              shortDescription: { text: c.title },
              fullDescription: { text: c.description },
              help: { text: c.remediation, markdown: `**Fix:** ${c.remediation}` },
              defaultConfiguration: { level: sarifLevel(c.severity) },
              properties: {
                tags: ['security', 'kubernetes', ...c.kubescape, ...(c.mitre ?? []).map((m) => m.technique)],
                'security-severity': SECURITY_SEVERITY[c.severity],
              },
            })),
          },
        },
        invocations: [
          {
            executionSuccessful: res.errors.length === 0,
            toolExecutionNotifications: res.errors.map((e) => ({
              level: 'error',
              message: { text: e.message },
              ...(e.file
                ? {
                    locations: [
                      {
                        physicalLocation: {
                          artifactLocation: { uri: artifactUri(e.file) },
                          ...(e.line ? { region: { startLine: e.line, startColumn: e.column ?? 1 } } : {}),
                        },
                      },
                    ],
                  }
                : {}),
            })),
            ...(res.notConfigured?.length
              ? {
                  toolConfigurationNotifications: res.notConfigured.map((n) => ({
                    level: 'note',
                    descriptor: { id: n.control },
                    message: { text: `${n.control} not configured: set ${n.inputs.join(' or ')}` },
                  })),
                }
              : {}),
          },
        ],
        // Columns count UTF-16 code units, as JavaScript strings do (SARIF's default, said here).
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}

function xml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

export function toJunit(res: ScanResult, controls: ControlDef[]): string {
  const byControl = new Map<string, Finding[]>();
  for (const f of res.findings) {
    let l = byControl.get(f.control);
    if (!l) byControl.set(f.control, (l = []));
    l.push(f);
  }
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  const unconfigured = new Map((res.notConfigured ?? []).map((n) => [n.control, n]));
  for (const c of controls) {
    const fs = byControl.get(c.id) ?? [];
    const cases: string[] = [];
    const nc = unconfigured.get(c.id);
    if (nc) {
      skipped++;
      tests++;
      suites.push(
        `  <testsuite name="${xml(`${c.id} ${c.title}`)}" tests="1" failures="0" errors="0" skipped="1">\n    <testcase classname="${xml(c.id)}" name="${xml(c.title)}"><skipped message="${xml(`not configured: set ${nc.inputs.join(' or ')}`)}"/></testcase>\n  </testsuite>`,
      );
      continue;
    }
    if (fs.length === 0) cases.push(`    <testcase classname="${xml(c.id)}" name="${xml(c.title)}"/>`);
    let sf = 0;
    let ss = 0;
    for (const f of fs) {
      const name = xml(`${resName(f)} ${f.path}`);
      // file and line attributes as CI servers read them; file:line:column leads the failure text.
      const file = inputFile(f);
      const line = f.location?.line ?? f.source?.line;
      const attrs = `${file !== undefined ? ` file="${xml(file)}"` : ''}${file !== undefined && line ? ` line="${line}"` : ''}`;
      const where = whereOf(f);
      if (f.excepted) {
        ss++;
        cases.push(
          `    <testcase classname="${xml(c.id)}" name="${name}"${attrs}><skipped message="${xml(`excepted: ${f.exception?.reason ?? ''}`)}"/></testcase>`,
        );
      } else {
        sf++;
        cases.push(
          `    <testcase classname="${xml(c.id)}" name="${name}"${attrs}><failure type="${f.severity}" message="${xml(f.message)}">${xml(`${where !== undefined ? `${where}: ` : ''}${f.message}\nfix: ${f.fix}`)}</failure></testcase>`,
        );
      }
    }
    const n = Math.max(1, fs.length);
    tests += n;
    failures += sf;
    skipped += ss;
    suites.push(
      `  <testsuite name="${xml(`${c.id} ${c.title}`)}" tests="${n}" failures="${sf}" errors="0" skipped="${ss}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="vigie scan" tests="${tests}" failures="${failures}" errors="${res.errors.length}" skipped="${skipped}">\n${suites.join('\n')}\n</testsuites>\n`;
}

export function render(
  res: ScanResult,
  format: OutputFormat,
  controls: ControlDef[],
  notes: RunNotes = {},
): string {
  switch (format) {
    case 'json':
      return `${toJson(res, notes)}\n`;
    case 'sarif':
      return `${JSON.stringify(toSarif(res, controls), null, 2)}\n`;
    case 'junit':
      return toJunit(res, controls);
    default:
      return toTable(res, notes);
  }
}

/**
 * The report as chunks of about 64 KiB: the table and the JSON report are produced piece by piece
 * (a scan of 100,000 pods has millions of findings); SARIF and JUnit are one document each.
 */
export function* renderChunks(
  res: ScanResult,
  format: OutputFormat,
  controls: ControlDef[],
  notes: RunNotes = {},
): Generator<string> {
  if (format !== 'table' && format !== 'json') {
    yield render(res, format, controls, notes);
    return;
  }
  const pieces = format === 'json' ? jsonChunks(res, notes) : tableLines(res, notes);
  const end = format === 'json' ? '' : '\n';
  let chunk = '';
  for (const piece of pieces) {
    chunk += piece + end;
    if (chunk.length >= 65536) {
      yield chunk;
      chunk = '';
    }
  }
  if (format === 'json') chunk += '\n';
  if (chunk) yield chunk;
}

/** Exit status for --fail-on: 1 when a non-excepted finding is at or above the threshold. */
export function failsAt(res: ScanResult, threshold: Severity | undefined): boolean {
  if (!threshold) return false;
  const t = severityRank(threshold);
  return res.findings.some((f) => !f.excepted && severityRank(f.severity) >= t);
}
