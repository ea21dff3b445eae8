import { describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { parseExceptions } from '../../../src/detect/posture/exceptions.js';
import { reportedFindings } from '../../../src/detect/posture/grouping.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { failsAt, tableLines, toJson, toJunit, toSarif } from '../../../src/detect/posture/output.js';
import type { ScanResult } from '../../../src/detect/posture/types.js';
import { checkSarif } from './sarif-check.js';

const controls = loadCatalogue();

function scan(text: string, exceptions?: string): ScanResult {
  const { objects, errors } = loadText(text, 'input.yaml');
  expect(errors).toEqual([]);
  return evaluate(objects, {
    controls,
    exceptions: exceptions ? parseExceptions(exceptions) : undefined,
    now: new Date('2026-01-01T00:00:00Z'),
  });
}

const BROAD_BINDING = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: too-much}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: team-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: too-much}
subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]
`;

const container = (resources: string): string => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: registry.example.com/web@sha256:${'a'.repeat(64)}
          ${resources}
`;

/** Table rows (not "also:" lines) about one resource. */
function rowsAbout(res: ScanResult, resource: string): string[] {
  return [...tableLines(res)].filter((l) => !l.startsWith(' ') && l.includes(resource));
}

describe('findings grouped by root cause in reports', () => {
  it('names each cause in two controls or more', () => {
    const byCause = new Map<string, string[]>();
    for (const c of controls) if (c.cause) byCause.set(c.cause, [...(byCause.get(c.cause) ?? []), c.id]);
    expect(byCause.size).toBeGreaterThan(0);
    for (const [cause, ids] of byCause) expect(ids.length, cause).toBeGreaterThanOrEqual(2);
  });

  it('one binding to a broad role: one reported finding that lists the permissions', () => {
    const res = scan(BROAD_BINDING);
    const onBinding = res.findings.filter((f) => f.resource.name === 'team-admin');
    // every control keeps its own finding (the Kubescape eval, --fail-on and exceptions use them)
    expect(onBinding.length).toBeGreaterThanOrEqual(10);
    const reported = reportedFindings(res.findings).filter((f) => f.resource.name === 'team-admin');
    expect(reported).toHaveLength(1);
    const [g] = reported;
    expect(g.control).toBe('VG-RBAC-001');
    expect(g.severity).toBe('critical');
    expect(g.also!.map((a) => a.control).sort()).toEqual(
      onBinding
        .map((f) => f.control)
        .filter((c) => c !== 'VG-RBAC-001')
        .sort(),
    );

    // table: one row, and the other controls on the line under it
    const lines = [...tableLines(res)];
    expect(rowsAbout(res, 'RoleBinding/team/team-admin')).toHaveLength(1);
    const row = lines.findIndex((l) => l.includes('RoleBinding/team/team-admin'));
    expect(lines[row]).toContain(`VG-RBAC-001 +${onBinding.length - 1}`);
    expect(lines[row + 1]).toMatch(/^\s+also: VG-RBAC-003 can read secrets; VG-RBAC-004 can exec/);
    expect(lines.at(-1)).toMatch(
      /: 2 findings \(1 critical, 1 medium\) from \d+ control results, 0 excepted/,
    );

    // JSON: one finding with `also`, summary counts both ways
    const j = JSON.parse(toJson(res));
    const jf = j.findings.filter((f: any) => f.resource.name === 'team-admin');
    expect(jf).toHaveLength(1);
    expect(jf[0].also.map((a: any) => a.control)).toContain('VG-RBAC-003');
    expect(jf[0].also[0]).toEqual(
      expect.objectContaining({ control: 'VG-RBAC-003', path: 'subjects[0]', severity: 'high' }),
    );
    expect(j.summary.findings).toBe(res.summary.findings);
    expect(j.summary.reported).toEqual({ findings: 2, excepted: 0 });

    // SARIF: one result, the others as properties.also
    const sarif = toSarif(res, controls);
    expect(checkSarif(sarif)).toEqual([]);
    const results = (sarif.runs as any[])[0].results.filter((r: any) =>
      r.message.text.includes('team-admin'),
    );
    expect(results).toHaveLength(1);
    expect(results[0].ruleId).toBe('VG-RBAC-001');
    expect(results[0].message.text).toMatch(/Also: VG-RBAC-003 can read secrets/);
    expect(results[0].properties.also).toHaveLength(onBinding.length - 1);

    // JUnit stays one test case per control's finding
    expect((toJunit(res, controls).match(/<failure /g) ?? []).length).toBe(res.summary.findings);
  });

  it('groups per subject: two subjects of one binding are two findings', () => {
    const res = scan(
      BROAD_BINDING.replace(
        'subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]',
        'subjects: [{kind: User, name: jane}, {kind: Group, name: devs}]',
      ),
    );
    const reported = reportedFindings(res.findings).filter((f) => f.resource.name === 'team-admin');
    expect(reported.map((f) => f.subject?.name).sort()).toEqual(['devs', 'jane']);
  });

  it('one container without a memory limit: one reported finding', () => {
    const res = scan(container('resources: {requests: {memory: 128Mi, cpu: 100m}, limits: {cpu: 500m}}'));
    const memory = res.findings.filter((f) => f.path.includes('memory'));
    expect(memory.map((f) => f.control).sort()).toEqual(['VG-WL-001', 'VG-WL-003']);
    const reported = reportedFindings(res.findings).filter((f) => f.path.includes('memory'));
    expect(reported).toHaveLength(1);
    expect(reported[0].message).toBe('container "app" has no memory limit; set resources.limits.memory');
    expect(reported[0].also!.map((a) => a.control)).toEqual(['VG-WL-003']);
    expect(rowsAbout(res, 'Deployment/shop/web').filter((l) => /VG-WL-00[1-6]/.test(l))).toEqual([
      expect.stringContaining('VG-WL-001 +1'),
    ]);
  });

  it('one container without any limit or request: one finding for memory, one for CPU', () => {
    const res = scan(container(''));
    const wl = res.findings.filter((f) => /^VG-WL-00[1-6]$/.test(f.control));
    expect(wl).toHaveLength(6);
    const reported = reportedFindings(res.findings).filter((f) => /^VG-WL-00[1-6]$/.test(f.control));
    expect(reported.map((f) => [f.control, f.message])).toEqual([
      [
        'VG-WL-001',
        'container "app" has no memory limit or request; set resources.limits.memory and resources.requests.memory',
      ],
      [
        'VG-WL-002',
        'container "app" has no CPU limit or request; set resources.limits.cpu and resources.requests.cpu',
      ],
    ]);
  });

  it('keeps different places apart: two containers, two host path volumes', () => {
    const res = scan(`
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  volumes:
    - {name: sock, hostPath: {path: /var/run/docker.sock}}
    - {name: etc, hostPath: {path: /etc}}
  containers:
    - {name: a, image: x:1, volumeMounts: [{name: sock, mountPath: /s, readOnly: true}, {name: etc, mountPath: /e, readOnly: true}]}
    - {name: b, image: x:1}
`);
    const reported = reportedFindings(res.findings);
    const hostPath = reported.filter((f) => f.cause === 'host-path-volume');
    expect(hostPath.map((f) => [f.path, f.control])).toEqual([
      ['spec.volumes[0]', 'VG-POD-024'],
      ['spec.volumes[1]', 'VG-POD-022'],
    ]);
    expect(hostPath[1].also!.map((a) => a.control)).toEqual(['VG-POD-025']);
    const memory = reported.filter((f) => f.cause === 'memory-resources');
    expect(memory.map((f) => f.container)).toEqual(['a', 'b']);
  });

  it('exceptions and --fail-on work on each control, and never mix excepted and active findings', () => {
    const res = scan(
      container('resources: {requests: {memory: 128Mi, cpu: 100m}, limits: {cpu: 500m}}'),
      `exceptions: [{control: VG-WL-003, reason: limits come from a LimitRange}]`,
    );
    const memory = reportedFindings(res.findings).filter((f) => f.path.includes('memory'));
    expect(memory.map((f) => [f.control, f.excepted])).toEqual([
      ['VG-WL-001', false],
      ['VG-WL-003', true],
    ]);
    expect(memory.every((f) => !f.also)).toBe(true);

    const broad = scan(BROAD_BINDING, `exceptions: [{control: VG-RBAC-001, reason: break-glass account}]`);
    // the group's lead is excepted: the next most severe active control leads the active group
    const g = reportedFindings(broad.findings).filter((f) => f.resource.name === 'team-admin');
    expect(g.map((f) => [f.control, f.excepted]).sort()).toEqual([
      ['VG-RBAC-001', true],
      ['VG-RBAC-003', false],
    ]);
    expect(failsAt(broad, 'critical')).toBe(false);
    expect(failsAt(broad, 'high')).toBe(true);
  });
});
