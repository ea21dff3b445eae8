/**
 * Findings point at the field they name: line and column in SARIF, JSON, JUnit and the table, for
 * multi-document YAML, a `kind: List`, a JSON dump, and at the nearest ancestor when the field is
 * absent. The manifests are real files under ./locations; positions are counted by hand.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { root, vigie } from './run-vigie.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { locateFindings } from '../../../src/detect/posture/locate.js';
import { toJson, toJunit, toSarif, toTable } from '../../../src/detect/posture/output.js';
import { readPaths } from '../../../src/detect/posture/sources.js';
import type { Finding, ScanResult } from '../../../src/detect/posture/types.js';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { checkSarif } from './sarif-check.js';

/** Relative to the repository, where the CLI runs: every output names the files this way. */
const DIR = 'test/detect/posture/locations';
const WORKLOADS = `${DIR}/workloads.yaml`;
const LIST = `${DIR}/list.yaml`;
const PODS = `${DIR}/pods.json`;

interface Expected {
  control: string;
  /** Kind/namespace/name as the reports print it. */
  resource: string;
  path: string;
  file: string;
  /** [line, column, endLine, endColumn], 1-based, end exclusive. */
  at: [number, number, number, number];
}

const EXPECTED: Expected[] = [
  // Deep in the first document: `privileged: true` on line 38, 12 spaces in.
  {
    control: 'VG-POD-001',
    resource: 'Deployment/shop/api',
    path: 'spec.template.spec.containers[1].securityContext.privileged',
    file: WORKLOADS,
    at: [38, 13, 38, 29],
  },
  // The second document (after `---` on line 42): the key itself, not the marker.
  {
    control: 'VG-CRED-003',
    resource: 'ConfigMap/shop/api-settings',
    path: 'data[payments_api_key]',
    file: WORKLOADS,
    at: [49, 3, 49, 57],
  },
  // Absent field: no `limits` under `resources:` (line 39), whose value ends on line 40.
  {
    control: 'VG-WL-001',
    resource: 'Deployment/shop/api',
    path: 'spec.template.spec.containers[1].resources.limits.memory',
    file: WORKLOADS,
    at: [39, 11, 40, 35],
  },
  // Absent field and parent: the container (`name:` after `- ` on line 34 through line 40; the
  // blank line and the `---` after it are not part of it).
  {
    control: 'VG-WL-010',
    resource: 'Deployment/shop/api',
    path: 'spec.template.spec.containers[1].livenessProbe',
    file: WORKLOADS,
    at: [34, 11, 40, 35],
  },
  // A List item (items[1]), in a flow map on line 23.
  {
    control: 'VG-POD-001',
    resource: 'Pod/shop/loud',
    path: 'spec.containers[0].securityContext.privileged',
    file: LIST,
    at: [23, 30, 23, 46],
  },
  { control: 'VG-POD-006', resource: 'Pod/shop/loud', path: 'spec.hostPID', file: LIST, at: [19, 7, 19, 20] },
  {
    control: 'VG-WL-001',
    resource: 'Pod/shop/loud',
    path: 'spec.containers[0].resources.limits.memory',
    file: LIST,
    at: [21, 11, 23, 48],
  },
  // The first item's absent `metadata.labels`: its `metadata:` (line 6), not the List's start.
  {
    control: 'VG-NET-001',
    resource: 'Pod/shop/quiet',
    path: 'metadata.labels',
    file: LIST,
    at: [6, 5, 8, 22],
  },
  // JSON: the key's opening quote through the value.
  {
    control: 'VG-POD-001',
    resource: 'Pod/shop/second',
    path: 'spec.containers[0].securityContext.privileged',
    file: PODS,
    at: [22, 34, 22, 52],
  },
  {
    control: 'VG-WL-001',
    resource: 'Pod/shop/second',
    path: 'spec.containers[0].resources.limits.memory',
    file: PODS,
    at: [23, 13, 23, 28],
  },
  {
    control: 'VG-WL-010',
    resource: 'Pod/shop/second',
    path: 'spec.containers[0].livenessProbe',
    file: PODS,
    at: [19, 11, 24, 12],
  },
  {
    control: 'VG-IMG-002',
    resource: 'Pod/shop/first',
    path: 'spec.containers[0].image',
    file: PODS,
    at: [10, 41, 10, 89],
  },
];

const resName = (r: Finding['resource']): string =>
  `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

describe('finding locations', () => {
  let res: ScanResult;
  const controls = loadCatalogue();

  beforeAll(async () => {
    const read = await readPaths([join(root, DIR)]);
    expect(read.errors).toEqual([]);
    // Files named as the CLI names them when run from the repository.
    for (const o of read.objects) if (o.source) o.source.file = o.source.file.slice(root.length + 1);
    res = evaluate(read.objects, { controls });
    locateFindings(res.findings, read.objects);
  });

  it('locates every finding of the fixtures', () => {
    expect(res.findings.length).toBeGreaterThan(100);
    for (const f of res.findings) {
      expect(f.location, `${f.control} ${resName(f.resource)} ${f.path}`).toBeDefined();
      expect(f.location!.line).toBeGreaterThanOrEqual(1);
      expect(f.location!.column).toBeGreaterThanOrEqual(1);
    }
  });

  it('gives SARIF regions with start and end', () => {
    const log = toSarif(res, controls);
    expect(checkSarif(log)).toEqual([]);
    const run = (log.runs as any[])[0];
    expect(run.columnKind).toBe('utf16CodeUnits');
    // The checker does reject a region that ends before it starts.
    const broken = structuredClone(log) as any;
    broken.runs[0].results[0].locations[0].physicalLocation.region.endLine = 0;
    expect(checkSarif(broken).join('\n')).toMatch(/region\.endLine: (must be an integer|before startLine)/);
    for (const e of EXPECTED) {
      const r = run.results.find(
        (x: any) =>
          x.ruleId === e.control &&
          x.locations[0].logicalLocations[0].fullyQualifiedName === `${e.resource}#${e.path}`,
      );
      expect(r, `${e.control} ${e.resource} ${e.path}`).toBeDefined();
      expect(r.locations[0].physicalLocation).toEqual({
        artifactLocation: { uri: e.file },
        region: { startLine: e.at[0], startColumn: e.at[1], endLine: e.at[2], endColumn: e.at[3] },
      });
    }
  });

  it('gives source.line and source.column in the JSON report', () => {
    const j = JSON.parse(toJson(res));
    for (const e of EXPECTED) {
      const f = j.findings.find(
        (x: any) => x.control === e.control && resName(x.resource) === e.resource && x.path === e.path,
      );
      expect(f, `${e.control} ${e.resource} ${e.path}`).toBeDefined();
      expect(f.source).toMatchObject({
        file: e.file,
        line: e.at[0],
        column: e.at[1],
        endLine: e.at[2],
        endColumn: e.at[3],
      });
    }
    // The second document of workloads.yaml keeps its index.
    const cm = j.findings.find((x: any) => x.resource.kind === 'ConfigMap');
    expect(cm.source.docIndex).toBe(1);
  });

  it('gives file:line:column in JUnit, with file and line attributes', () => {
    const xml = toJunit(res, controls);
    for (const e of EXPECTED) {
      const name = `${e.resource} ${e.path}`;
      const start = xml.indexOf(`classname="${e.control}" name="${name}"`);
      expect(start, name).toBeGreaterThan(0);
      const tc = xml.slice(start, xml.indexOf('</testcase>', start));
      expect(tc).toContain(`file="${e.file}" line="${e.at[0]}"`);
      expect(tc).toMatch(new RegExp(`<failure [^>]*>${e.file}:${e.at[0]}:${e.at[1]}: `));
    }
  });

  it('gives file:line:column in the table', () => {
    const lines = toTable(res).split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual([
      'SEVERITY',
      'CONTROL',
      'RESOURCE',
      'LOCATION',
      'PATH',
      'MESSAGE',
    ]);
    for (const e of EXPECTED) {
      // Long paths are cut in the table: the row is told by control (`CONTROL +N` when it leads a
      // group), resource and location.
      const at = lines.findIndex((l) => {
        const c = l.split(/\s{2,}/);
        return (
          c[1]?.replace(/ \+\d+$/, '') === e.control &&
          c[2] === e.resource &&
          e.path.startsWith(c[4].replace(/…$/, ''))
        );
      });
      expect(at, `${e.control} ${e.resource} ${e.path}`).toBeGreaterThan(0);
      const cells = lines[at].split(/\s{2,}/);
      expect(cells[3]).toBe(`${e.file}:${e.at[0]}:${e.at[1]}`);
      // A group keeps its lead's location, and lists the other controls on the next line.
      if (/ \+\d+$/.test(cells[1])) expect(lines[at + 1]).toMatch(/^\s+also: /);
    }
  });

  it('gives a group of findings with one cause the location of its lead', () => {
    const j = JSON.parse(toJson(res));
    const e = EXPECTED.find((x) => x.control === 'VG-WL-001' && x.resource === 'Deployment/shop/api')!;
    const f = j.findings.find(
      (x: any) => x.control === e.control && resName(x.resource) === e.resource && x.path === e.path,
    );
    expect(f.also.length).toBeGreaterThan(0);
    expect(f.source).toMatchObject({ file: e.file, line: e.at[0], column: e.at[1] });
    const r = (toSarif(res, controls).runs as any[])[0].results.find(
      (x: any) =>
        x.ruleId === e.control &&
        x.locations[0].logicalLocations[0].fullyQualifiedName === `${e.resource}#${e.path}`,
    );
    expect(r.message.text).toContain('. Also: ');
    expect(r.properties.also.length).toBe(f.also.length);
    expect(r.locations[0].physicalLocation.region).toMatchObject({
      startLine: e.at[0],
      startColumn: e.at[1],
    });
  });

  it('vigie scan writes the same locations in all four formats', async () => {
    const [table, json, sarif, junit] = await Promise.all(
      ['table', 'json', 'sarif', 'junit'].map((o) => vigie(['scan', DIR, '--output', o])),
    );
    for (const r of [table, json, sarif, junit]) expect(r.code, r.err).toBe(0);
    const e = EXPECTED[0];
    const [line, column, endLine, endColumn] = e.at;
    const row = table.out
      .split('\n')
      .map((l) => l.split(/\s{2,}/))
      .find((c) => c[1]?.replace(/ \+\d+$/, '') === e.control && c[2] === e.resource);
    expect(row?.slice(3, 5)).toEqual([`${e.file}:${line}:${column}`, e.path]);
    const jf = JSON.parse(json.out).findings.find((f: any) => f.control === e.control);
    expect(jf.source).toEqual({ file: e.file, line, column, endLine, endColumn, docIndex: 0 });
    const log = JSON.parse(sarif.out);
    expect(checkSarif(log)).toEqual([]);
    const sr = log.runs[0].results.find((r: any) => r.ruleId === e.control);
    expect(sr.locations[0].physicalLocation.region).toEqual({
      startLine: line,
      startColumn: column,
      endLine,
      endColumn,
    });
    expect(junit.out).toContain(`file="${e.file}" line="${line}"><failure`);
    expect(junit.out).toContain(`>${e.file}:${line}:${column}: container &quot;debug&quot; runs privileged`);
  }, 120_000);
});

describe('finding locations in unusual text', () => {
  const locate = (text: string, file = 'in.yaml'): Finding[] => {
    const r = loadText(text, file);
    expect(r.errors).toEqual([]);
    const res = evaluate(r.objects);
    locateFindings(res.findings, r.objects);
    return res.findings;
  };
  const at = (fs: Finding[], control: string, name?: string): number[] => {
    const f = fs.find((x) => x.control === control && (!name || x.resource.name === name));
    expect(f, control).toBeDefined();
    const l = f!.location!;
    return [l.line, l.column, l.endLine, l.endColumn];
  };
  const pod = (name: string, sc: string): string =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: x}\nspec:\n  containers:\n  - name: c\n    image: r/x:1.0.0\n    securityContext: ${sc}\n`;

  it('counts columns in UTF-16 code units and lines by LF (CRLF files too)', () => {
    // Line 8 is `    securityContext: { x: "é😀", privileged: true }`: é is one code unit, the
    // emoji two, so "privileged" starts at column 34 (33 characters before it, 32 code points).
    const text = pod('p', '{ x: "é😀", privileged: true }');
    const line8 = text.split('\n')[7];
    expect(line8.indexOf('privileged') + 1).toBe(34);
    expect(at(locate(text), 'VG-POD-001')).toEqual([8, 34, 8, 50]);
    const crlf = text.replace(/\n/g, '\r\n');
    expect(at(locate(crlf), 'VG-POD-001')).toEqual([8, 34, 8, 50]);
  });

  it('follows the last of duplicate keys and aliases into their anchors', () => {
    const dup = `${pod('d', '{ privileged: false }')}    securityContext: { privileged: true }\n`;
    expect(at(locate(dup), 'VG-POD-001')).toEqual([9, 24, 9, 40]);
    const alias = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: a, namespace: x}',
      'spec:',
      '  containers:',
      '  - name: one',
      '    image: r/x:1.0.0',
      '    securityContext: &sc',
      '      privileged: true',
      '  - name: two',
      '    image: r/x:1.0.0',
      '    securityContext: *sc',
      '',
    ].join('\n');
    const fs = locate(alias);
    const priv = fs.filter((f) => f.control === 'VG-POD-001').map((f) => f.location);
    // Both containers' field is the one written under the anchor.
    expect(priv).toEqual([
      { line: 9, column: 7, endLine: 9, endColumn: 23 },
      { line: 9, column: 7, endLine: 9, endColumn: 23 },
    ]);
    // The alias itself when the path ends there.
    const sc = fs.find((f) => f.container === 'two' && f.path.endsWith('securityContext.seLinuxOptions'));
    expect(sc?.location).toMatchObject({ line: 12, column: 5 });
    // An anchor defined again: an alias names the last one before it.
    const again = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: b, namespace: x}',
      'spec:',
      '  containers:',
      '  - {name: one, image: "r/x:1.0.0", securityContext: &sc {privileged: true}}',
      '  - {name: two, image: "r/x:1.0.0", securityContext: &sc {runAsNonRoot: true, privileged: true}}',
      '  - {name: three, image: "r/x:1.0.0", securityContext: *sc}',
      '',
    ].join('\n');
    const three = locate(again).find((f) => f.control === 'VG-POD-001' && f.container === 'three');
    expect(three?.location).toEqual({ line: 7, column: 79, endLine: 7, endColumn: 95 });
  });

  it('finds a key among many, the last of duplicates', () => {
    const keys = Array.from({ length: 30 }, (_, i) => `  key${i}: value${i}`);
    keys.splice(10, 0, '  payments_api_key: sk_live_0000');
    keys.splice(25, 0, '  payments_api_key: sk_live_51H8dLkJ2eZvKYlo2C0123456789');
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many, namespace: x}\ndata:\n${keys.join('\n')}\n`;
    const f = locate(text).find((x) => x.path === 'data[payments_api_key]');
    // The second one, 25 lines into `data:` (line 4).
    expect(f?.location).toEqual({ line: 30, column: 3, endLine: 30, endColumn: 57 });
  });

  it('points at the object itself when nothing of the path is there', () => {
    // A default service account without automountServiceAccountToken: the object starts at
    // `apiVersion` (line 3, after the marker and a comment) and ends with line 5.
    const text =
      '---\n# an account\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: x}\n';
    const f = locate(text).find((x) => x.path === 'automountServiceAccountToken');
    expect(f?.control).toBe('VG-SA-004');
    expect(f?.location).toEqual({ line: 3, column: 1, endLine: 5, endColumn: 40 });
  });

  it('locates items of a JSON *List without kinds and of a top-level array', () => {
    const list = JSON.stringify(
      {
        apiVersion: 'apps/v1',
        kind: 'DeploymentList',
        items: [
          {
            metadata: { name: 'd', namespace: 'x' },
            spec: {
              template: {
                spec: {
                  containers: [{ name: 'c', image: 'r/x:1.0.0', securityContext: { privileged: true } }],
                },
              },
            },
          },
        ],
      },
      null,
      1,
    );
    const lines = list.split('\n');
    const row = lines.findIndex((l) => l.includes('"privileged"'));
    expect(at(locate(list, 'l.json'), 'VG-POD-001')).toEqual([
      row + 1,
      lines[row].indexOf('"privileged"') + 1,
      row + 1,
      lines[row].indexOf('true') + 5,
    ]);
    // A top-level array, one object per line.
    const one = (n: string): string =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: n, namespace: 'x' },
        spec: { containers: [{ name: 'c', image: 'r/x:1.0.0', securityContext: { privileged: true } }] },
      });
    const arr = `[${one('q')},\n ${one('r')}]`;
    const col = one('q').indexOf('"privileged"') + 2;
    const fs = locate(arr, 'a.json');
    expect(at(fs, 'VG-POD-001', 'q')).toEqual([1, col, 1, col + 17]);
    expect(at(fs, 'VG-POD-001', 'r')).toEqual([2, col, 2, col + 17]);
    // Not JSON (a trailing comma): read by the YAML parser, located the same way.
    const yamlish = arr.replace(/\]$/, ',]');
    expect(at(locate(yamlish, 'b.json'), 'VG-POD-001', 'r')).toEqual([2, col, 2, col + 17]);
  });

  it('locates a key with dots written after a dot, and keys in brackets', () => {
    // An unknown kind's pod template under a key with a dot: the path reads spec.my.template.spec...
    const crd = [
      'apiVersion: example.com/v1',
      'kind: Widget',
      'metadata: {name: w, namespace: x}',
      'spec:',
      '  my.template:',
      '    spec:',
      '      containers:',
      '      - {name: c, image: "r/x:1.0.0", securityContext: {privileged: true}}',
      '',
    ].join('\n');
    const fs = locate(crd);
    const priv = fs.find((x) => x.control === 'VG-POD-001');
    expect(priv?.path).toBe('spec.my.template.spec.containers[0].securityContext.privileged');
    // `      - {name: c, image: "r/x:1.0.0", securityContext: {privileged: true}}`
    expect(priv?.location).toEqual({ line: 8, column: 57, endLine: 8, endColumn: 73 });
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: open\n  labels:\n    team: a\n';
    const f = locate(ns).find((x) => x.path === 'metadata.labels[pod-security.kubernetes.io/enforce]');
    // The label is absent: `labels:` (line 5), whose value ends on line 6.
    expect(f?.location).toEqual({ line: 5, column: 3, endLine: 6, endColumn: 12 });
    const lax = ns.replace('team: a', 'pod-security.kubernetes.io/enforce: privileged');
    const g = locate(lax).find((x) => x.path === 'metadata.labels[pod-security.kubernetes.io/enforce]');
    expect(g?.location).toEqual({ line: 6, column: 5, endLine: 6, endColumn: 51 });
  });
});
