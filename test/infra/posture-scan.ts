/** `vigie scan -o json` of Vigie's own manifests, and what an operator is left to fix on them. */
import { expect } from 'vitest';
import { vigie } from '../detect/posture/run-vigie.js';

export interface JsonFinding {
  control: string;
  excepted: boolean;
  resource: { kind: string; name: string; namespace?: string };
  also?: { control: string }[];
}

export async function scanJson(args: string[]): Promise<JsonFinding[]> {
  const r = await vigie(['scan', ...args, '-o', 'json']);
  expect(r.err).not.toMatch(/error/i);
  const report = JSON.parse(r.out) as { findings: JsonFinding[]; errors: unknown[] };
  expect(report.errors).toEqual([]);
  return report.findings;
}

export const key = (f: JsonFinding): string =>
  `${f.control} ${f.resource.kind}/${f.resource.namespace ?? ''}/${f.resource.name}`;

/** What the operator is left to fix on Vigie's pods: pin images, set SELinux options where used. */
export function operatorFindings(kindNames: string[]): string[] {
  return kindNames.flatMap((kn) => {
    const [kind, name] = kn.split('/');
    return [`VG-IMG-002 ${kind}/vigie/${name}`, `VG-POD-028 ${kind}/vigie/${name}`];
  });
}
