import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vigie } from './run-vigie.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { reportedCounts, reportedFindings } from '../../../src/detect/posture/grouping.js';
import { loadText, MAX_YAML_DOCUMENT_BYTES } from '../../../src/detect/posture/load.js';
import { renderChunks, tableLines, toJson, toTable } from '../../../src/detect/posture/output.js';
import { readPaths } from '../../../src/detect/posture/sources.js';
import type { Finding } from '../../../src/detect/posture/types.js';

const pod = (name: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: n}\nspec: {containers: [{name: c, image: x:1}]}\n`;

describe('vigie scan input bounds', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigie-scan-bounds-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('walks each real path once: two links to "." end, one link does not read a file twice', async () => {
    const loop = join(dir, 'loop');
    mkdirSync(join(loop, 'sub'), { recursive: true });
    writeFileSync(join(loop, 'pod.yaml'), pod('a'));
    writeFileSync(join(loop, 'sub', 'pod.yaml'), pod('b'));
    symlinkSync('.', join(loop, 'self1'));
    symlinkSync('.', join(loop, 'self2'));
    symlinkSync('..', join(loop, 'sub', 'up'));
    symlinkSync('pod.yaml', join(loop, 'same.yaml'));
    const t0 = Date.now();
    const r = await readPaths([loop]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.objects.map((o) => o.obj.metadata?.name).sort()).toEqual(['a', 'b']);
    expect(r.unreadable).toEqual([]);
    // The same file given twice, directly and through a folder, is read once.
    const twice = await readPaths([loop, join(loop, 'pod.yaml')]);
    expect(twice.objects).toHaveLength(2);
  });

  it('does not follow links out of the given paths unless asked', async () => {
    const outside = join(dir, 'outside');
    const inside = join(dir, 'inside');
    mkdirSync(outside, { recursive: true });
    mkdirSync(inside, { recursive: true });
    writeFileSync(join(outside, 'secret.yaml'), pod('outside'));
    writeFileSync(join(inside, 'pod.yaml'), pod('inside'));
    symlinkSync(outside, join(inside, 'elsewhere'));
    symlinkSync(join(outside, 'secret.yaml'), join(inside, 'linked.yaml'));
    const r = await readPaths([inside]);
    expect(r.objects.map((o) => o.obj.metadata?.name)).toEqual(['inside']);
    expect(r.errors.map((e) => e.file).sort()).toEqual([
      join(inside, 'elsewhere'),
      join(inside, 'linked.yaml'),
    ]);
    expect(r.errors[0].message).toMatch(/outside the scanned paths.*--follow-links/);
    const followed = await readPaths([inside], { followLinks: true });
    expect(followed.objects.map((o) => o.obj.metadata?.name).sort()).toEqual(['inside', 'outside']);
    expect(followed.errors).toEqual([]);
  });

  it('refuses a YAML document over the limit, naming file and line, and keeps the others', () => {
    const big = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n${'  k: "x"\n'.repeat(
      Math.ceil(MAX_YAML_DOCUMENT_BYTES / 9) + 10,
    )}`;
    const t0 = Date.now();
    const r = loadText(`${pod('first')}---\n${big}---\n${pod('last')}`, 'big.yaml');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.objects.map((o) => o.obj.metadata?.name)).toEqual(['first', 'last']);
    expect(r.objects[1].source).toEqual({
      file: 'big.yaml',
      // `---` of the last document: 4 + 1 lines before the big one, its 4 + n lines
      line: 10 + Math.ceil(MAX_YAML_DOCUMENT_BYTES / 9) + 10,
      docIndex: 2,
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: 'big.yaml', line: 5 });
    expect(r.errors[0].message).toMatch(/over the \d+-byte limit.*--max-document-size/);
    // A smaller limit is honoured; a JSON dump is bounded by the input limit only.
    expect(loadText(pod('p'), 'p.yaml', { maxInputBytes: 1e6, maxDocumentBytes: 10 }).objects).toEqual([]);
    expect(
      loadText('{"kind":"Pod"}', 'p.json', { maxInputBytes: 1e6, maxDocumentBytes: 10 }).objects,
    ).toHaveLength(1);
  });

  it('refuses a file over the per-file limit and inputs past the per-run limit, and reads the rest', async () => {
    const d = join(dir, 'sizes');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.yaml'), pod('a'));
    writeFileSync(join(d, 'b.yaml'), `${pod('b')}# ${'x'.repeat(2000)}\n`);
    writeFileSync(join(d, 'c.yaml'), pod('c'));
    const perFile = await readPaths([d], { maxInputBytes: 1000 });
    expect(perFile.objects.map((o) => o.obj.metadata?.name)).toEqual(['a', 'c']);
    expect(perFile.unreadable).toEqual([join(d, 'b.yaml')]);
    expect(perFile.errors[0].message).toMatch(/over the 1000-byte limit.*--max-file-size/);
    const perRun = await readPaths([d], { maxRunBytes: 150 });
    expect(perRun.objects.map((o) => o.obj.metadata?.name)).toEqual(['a']);
    expect(perRun.unreadable).toEqual([join(d, 'b.yaml'), join(d, 'c.yaml')]);
    expect(perRun.errors[0].message).toMatch(/--max-total-size/);
  });

  it('gives one error for a binary or non-UTF-8 input and no perfect score for the run', async () => {
    const d = join(dir, 'binary');
    mkdirSync(d, { recursive: true });
    const bytes = Buffer.alloc(20_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    writeFileSync(join(d, 'image.yaml'), bytes);
    writeFileSync(
      join(d, 'latin1.yaml'),
      Buffer.from('kind: ConfigMap\nmetadata: {name: caf\xe9}\n', 'latin1'),
    );
    const r = await readPaths([d]);
    expect(r.errors.map((e) => e.file)).toEqual([join(d, 'image.yaml'), join(d, 'latin1.yaml')]);
    expect(r.errors[0].message).toMatch(/not a text file \(NUL byte/);
    expect(r.errors[1].message).toMatch(/not UTF-8/);
    expect(r.unreadable).toHaveLength(2);
    const res = evaluate(r.objects, { errors: r.errors });
    const table = toTable(res, { unreadableInputs: r.unreadable.length });
    expect(table).not.toMatch(/Score 100\/100/);
    expect(table).toMatch(/Score n\/a: 2 inputs could not be read/);
    expect(table.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(2);
    expect(JSON.parse(toJson(res, { unreadableInputs: 2 })).summary).toMatchObject({
      score: null,
      unreadableInputs: 2,
    });
    // Text that is not YAML still gives a bounded number of errors.
    const junk = loadText('{]\n'.repeat(5000), 'junk.yaml');
    expect(junk.errors.length).toBeLessThanOrEqual(21);
  });

  it('exits 2 with "Score n/a" when an input cannot be read, unless --allow-unreadable', async () => {
    const d = join(dir, 'cli');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'pod.yaml'), pod('p'));
    writeFileSync(join(d, 'blob.yaml'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1, 2, 3]));
    const [strict, allowed] = await Promise.all([
      vigie(['scan', d]),
      vigie(['scan', d, '--allow-unreadable']),
    ]);
    expect(strict.code).toBe(2);
    expect(strict.out).toMatch(/error: .*blob\.yaml: not a text file/);
    expect(strict.out).toMatch(/Score n\/a: 1 input could not be read/);
    expect(strict.out.match(/^error:/gm)).toHaveLength(1);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toMatch(/Score n\/a/);
  }, 60_000);

  it('orders table rows as before: severity, control, resource, path (of findings grouped by cause)', () => {
    const objs = [];
    for (let i = 0; i < 60; i++)
      objs.push(
        ...loadText(
          `apiVersion: v1\nkind: Pod\nmetadata: {name: p${(i * 37) % 60}, namespace: ns${i % 3}}\nspec: {hostNetwork: ${i % 2 === 0}, containers: [{name: c, image: "x:latest", securityContext: {privileged: ${i % 4 === 0}}}]}\n`,
          'p.yaml',
        ).objects,
      );
    const res = evaluate(objs);
    const name = (f: Finding): string =>
      `${f.resource.kind}/${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}`;
    const rank = { critical: 4, high: 3, medium: 2, low: 1, info: 0 } as const;
    const reported = reportedFindings(res.findings);
    expect(reported.length).toBeLessThan(res.findings.length);
    const expected = [...reported].sort(
      (a, b) =>
        rank[b.severity] - rank[a.severity] ||
        a.control.localeCompare(b.control) ||
        name(a).localeCompare(name(b)) ||
        a.path.localeCompare(b.path),
    );
    // A group's "also:" line is indented under its row.
    const rows = [...tableLines(res)].filter((l) => !l.startsWith(' ')).slice(1, 1 + expected.length);
    expect(
      rows.map((r) =>
        r
          .split(/\s{2,}/)
          .slice(0, 3)
          .join('|'),
      ),
    ).toEqual(
      expected.map((f) => `${f.severity}|${f.control}${f.also ? ` +${f.also.length}` : ''}|${name(f)}`),
    );
    expect(toTable(res)).toBe(`${[...tableLines(res)].join('\n')}\n`);
    // The JSON report written in pieces is the one document JSON.stringify lays out.
    const { findings, excepted } = reportedCounts(reported);
    const doc = {
      findings: JSON.parse(toJson(res)).findings,
      resources: res.resources,
      summary: { ...res.summary, reported: { findings, excepted } },
      errors: res.errors,
      notConfigured: (res.notConfigured ?? []).map((n) => ({ ...n, status: 'not configured' })),
    };
    expect([...renderChunks(res, 'json', [])].join('')).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    const empty = evaluate([]);
    expect(toJson(empty)).toBe(
      JSON.stringify(
        {
          findings: [],
          resources: [],
          summary: { ...empty.summary, reported: { findings: 0, excepted: 0 } },
          errors: [],
          notConfigured: (empty.notConfigured ?? []).map((n) => ({ ...n, status: 'not configured' })),
        },
        null,
        2,
      ),
    );
  });
});
