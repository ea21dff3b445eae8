/**
 * Vigie's own deployment scanned by Vigie: with the shipped exceptions, what remains is only what an
 * operator fixes where the cluster runs (images pinned by digest, SELinux options); every exception
 * is used (none stale); admission.yaml is what `vigie admission manifest` prints.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExceptions } from '../../src/detect/posture/exceptions.js';
import { root, vigie } from '../detect/posture/run-vigie.js';
import { key, operatorFindings, scanJson } from './posture-scan.js';

const DIR = join(root, 'deploy', 'kubernetes');
const EXCEPTIONS = join(DIR, 'vigie-posture-exceptions.yaml');

describe("Vigie's deployment under its own posture scan", () => {
  it('vigie.yaml with the shipped exceptions reports only what the operator should fix', async () => {
    const findings = await scanJson([join(DIR, 'vigie.yaml'), '--exceptions', EXCEPTIONS]);
    const open = findings.filter((f) => !f.excepted).map(key);
    expect(open.sort()).toEqual(
      operatorFindings(['DaemonSet/vigie-agent', 'Deployment/vigie-brain', 'StatefulSet/nats']).sort(),
    );
    // The exceptions cover the agent's privileges, the namespace, the brain's API access, NATS's token.
    // (a control grouped under another of the same root cause is in its `also`)
    const excepted = new Set(
      findings.filter((f) => f.excepted).flatMap((f) => [f.control, ...(f.also ?? []).map((a) => a.control)]),
    );
    for (const c of ['VG-POD-001', 'VG-POD-006', 'VG-POD-024', 'VG-NS-001', 'VG-RBAC-014', 'VG-CRED-002'])
      expect(excepted.has(c), c).toBe(true);
    // No finding on the agent is left unexplained, and nothing but the agent is privileged.
    expect(findings.filter((f) => f.control === 'VG-POD-001').map(key)).toEqual([
      'VG-POD-001 DaemonSet/vigie/vigie-agent',
    ]);
  });

  it('uses every shipped exception (none is stale)', async () => {
    const rules = parseExceptions(readFileSync(EXCEPTIONS, 'utf8'), EXCEPTIONS);
    const findings = await scanJson([join(DIR, 'vigie.yaml')]);
    const all = findings.flatMap((f) => [
      { control: f.control, r: f.resource },
      ...(f.also ?? []).map((a) => ({ control: a.control, r: f.resource })),
    ]);
    for (const rule of rules)
      for (const control of rule.control ?? []) {
        const hit = all.some(
          (x) =>
            x.control === control &&
            (!rule.kind || rule.kind.includes(x.r.kind)) &&
            (!rule.name || rule.name.includes(x.r.name)) &&
            (!rule.namespace || rule.namespace.includes(x.r.namespace ?? '')),
        );
        expect(hit, `${control} on ${rule.kind}/${rule.name}`).toBe(true);
      }
  });

  it('admission.yaml is the output of vigie admission manifest and needs no exception', async () => {
    const printed = await vigie(['admission', 'manifest']);
    expect(printed.code).toBe(0);
    expect(readFileSync(join(DIR, 'admission.yaml'), 'utf8')).toBe(printed.out);
    const findings = await scanJson([join(DIR, 'admission.yaml'), '--exceptions', EXCEPTIONS]);
    expect(
      findings
        .filter((f) => !f.excepted)
        .map(key)
        .sort(),
    ).toEqual(operatorFindings(['Deployment/vigie-admission']).sort());
  });
});
