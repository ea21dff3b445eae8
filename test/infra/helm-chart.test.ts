/**
 * deploy/helm/vigie, rendered by test/utils/helm-template.ts (Helm is not installed here; the
 * templates keep to the subset that renderer implements and it refuses anything else). With the
 * default values the chart renders exactly the objects of deploy/kubernetes/vigie.yaml, and with
 * admission.enabled those of admission.yaml, so neither can change without the other; the RBAC
 * objects are compared on their own first, to say so when they are what differs. Other values
 * (enforce, external NATS, storage class, cert-manager) render what they say and still pass
 * Vigie's posture scan with the shipped exceptions.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadText } from '../../src/detect/posture/load.js';
import type { K8sObject } from '../../src/detect/posture/types.js';
import { root } from '../detect/posture/run-vigie.js';
import { renderChart } from '../utils/helm-template.js';
import { operatorFindings, scanJson } from './posture-scan.js';

const CHART = join(root, 'deploy', 'helm', 'vigie');
const MANIFESTS = join(root, 'deploy', 'kubernetes');
const RBAC_KINDS = new Set(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

function render(values: Record<string, unknown> = {}): string {
  return renderChart(CHART, values)
    .map((t) => `# Source: ${t.file}\n${t.text}`)
    .join('\n---\n');
}

function objects(text: string, file: string): Map<string, K8sObject> {
  const r = loadText(text, file);
  expect(r.errors, file).toEqual([]);
  const out = new Map<string, K8sObject>();
  for (const { obj } of r.objects) {
    const id = `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
    expect(out.has(id), `${file}: ${id} twice`).toBe(false);
    out.set(id, obj);
  }
  return out;
}

const pick = (m: Map<string, K8sObject>, keep: (o: K8sObject) => boolean) =>
  Object.fromEntries([...m].filter(([, o]) => keep(o)));
const isRbac = (o: K8sObject) => RBAC_KINDS.has(o.kind ?? '');

function podSpec(m: Map<string, K8sObject>, id: string): Record<string, any> {
  const o = m.get(id) as Record<string, any> | undefined;
  expect(o, id).toBeDefined();
  return o!.spec.template.spec;
}

describe('Helm chart deploy/helm/vigie', () => {
  const manifest = objects(readFileSync(join(MANIFESTS, 'vigie.yaml'), 'utf8'), 'vigie.yaml');

  it('renders the RBAC objects of vigie.yaml', () => {
    const chart = objects(render(), 'chart');
    expect(pick(chart, isRbac)).toEqual(pick(manifest, isRbac));
  });

  it('renders exactly the objects of vigie.yaml with the default values', () => {
    const chart = objects(render(), 'chart');
    expect([...chart.keys()].sort()).toEqual([...manifest.keys()].sort());
    expect(Object.fromEntries(chart)).toEqual(Object.fromEntries(manifest));
  });

  it('adds exactly the objects of admission.yaml with admission.enabled', () => {
    const admission = objects(readFileSync(join(MANIFESTS, 'admission.yaml'), 'utf8'), 'admission.yaml');
    const chart = objects(render({ admission: { enabled: true } }), 'chart');
    const added = pick(
      chart,
      (o) => !manifest.has(`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`),
    );
    expect(added).toEqual(Object.fromEntries(admission));
  });

  it('keeps its version, appVersion and image tag at the package version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { image: { tag: string } };
    expect([chart.version, chart.appVersion, values.image.tag]).toEqual([
      pkg.version,
      pkg.version,
      pkg.version,
    ]);
  });

  const custom = {
    namespace: 'security',
    mode: 'enforce',
    protectedNamespaces: ['kube-system', 'payments'],
    image: { repository: 'registry.example/vigie', digest: 'sha256:' + 'ab'.repeat(32) },
    nats: { bundled: false, external: { url: 'tls://nats.shared.svc:4222', port: 4222 } },
    brain: { storage: { size: '50Gi', storageClass: 'fast-ssd' } },
    admission: {
      enabled: true,
      failurePolicy: 'Fail',
      certManager: { issuer: 'cluster-ca', issuerKind: 'ClusterIssuer' },
    },
  };

  it('renders enforce mode, external NATS, a storage class and cert-manager as asked', () => {
    const chart = objects(render(custom), 'chart');
    expect([...chart.keys()].filter((k) => /nats/.test(k))).toEqual([]); // no bundled NATS
    const brain = podSpec(chart, 'Deployment/security/vigie-brain').containers[0];
    expect(brain.image).toBe(`registry.example/vigie@sha256:${'ab'.repeat(32)}`);
    expect(brain.args).toEqual(expect.arrayContaining(['--enforce', 'tls://nats.shared.svc:4222']));
    expect(brain.args[brain.args.indexOf('--protect-namespaces') + 1]).toBe('kube-system,payments');
    expect(podSpec(chart, 'DaemonSet/security/vigie-agent').containers[0].args[2]).toBe(
      'tls://nats.shared.svc:4222',
    );
    const pvc = chart.get('PersistentVolumeClaim/security/vigie-brain-data') as Record<string, any>;
    expect(pvc.spec).toMatchObject({
      storageClassName: 'fast-ssd',
      resources: { requests: { storage: '50Gi' } },
    });
    const np = chart.get('NetworkPolicy/security/vigie-brain') as Record<string, any>;
    expect(np.spec.egress).toContainEqual({ ports: [{ port: 4222 }] });
    const hook = chart.get('ValidatingWebhookConfiguration//vigie-posture') as Record<string, any>;
    expect(hook.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': 'security/vigie-admission',
    });
    expect(hook.webhooks[0].failurePolicy).toBe('Fail');
    expect(hook.webhooks[0].namespaceSelector.matchExpressions[0].values).toEqual([
      'kube-system',
      'security',
    ]);
    const cert = chart.get('Certificate/security/vigie-admission') as Record<string, any>;
    expect(cert.spec).toMatchObject({
      secretName: 'vigie-admission-tls',
      dnsNames: ['vigie-admission.security.svc', 'vigie-admission.security.svc.cluster.local'],
      issuerRef: { name: 'cluster-ca', kind: 'ClusterIssuer' },
    });
    // The monitor default renders no --enforce.
    expect(
      podSpec(objects(render(), 'chart'), 'Deployment/vigie/vigie-brain').containers[0].args,
    ).not.toContain('--enforce');
  });

  it('refuses values it cannot honour', () => {
    expect(() => render({ mode: 'contain' })).toThrow(/mode must be monitor or enforce/);
    expect(() => render({ nats: { bundled: false } })).toThrow(/nats.external.url is required/);
    expect(() => render({ admission: { enabled: true, failurePolicy: 'Deny' } })).toThrow(/Ignore or Fail/);
  });

  it('passes the posture scan with the shipped exceptions, with defaults and with custom values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-chart-'));
    const exceptions = join(MANIFESTS, 'vigie-posture-exceptions.yaml');
    const plain = join(dir, 'default.yaml');
    writeFileSync(plain, render({ admission: { enabled: true } }));
    const open = (await scanJson([plain, '--exceptions', exceptions])).filter((f) => !f.excepted);
    expect(
      open
        .map((f) => `${f.control} ${f.resource.kind}/${f.resource.namespace ?? ''}/${f.resource.name}`)
        .sort(),
    ).toEqual(
      operatorFindings([
        'DaemonSet/vigie-agent',
        'Deployment/vigie-admission',
        'Deployment/vigie-brain',
        'StatefulSet/nats',
      ]).sort(),
    );
    // Another namespace: the shipped exceptions name namespace vigie, so the operator adapts them;
    // with the namespace replaced, the same findings and no more (the images are pinned here).
    const other = join(dir, 'custom.yaml');
    writeFileSync(other, render(custom));
    const adapted = join(dir, 'exceptions.yaml');
    writeFileSync(
      adapted,
      readFileSync(exceptions, 'utf8')
        .replace(/namespace: vigie$/gm, 'namespace: security')
        .replace(/name: vigie$/m, 'name: security'),
    );
    const left = (await scanJson([other, '--exceptions', adapted])).filter((f) => !f.excepted);
    expect(left.map((f) => f.control).sort()).toEqual(['VG-POD-028', 'VG-POD-028', 'VG-POD-028']);
  });
});

describe('the template renderer', () => {
  it('follows Go template trimming, else-if chains, range and missing values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-tpl-'));
    writeFileSync(join(dir, 'Chart.yaml'), 'name: t\nversion: 1.0.0\nappVersion: "1"\n');
    writeFileSync(join(dir, 'values.yaml'), 'a: { b: 2 }\nlist: [x, y]\nmode: m\n');
    mkdirSync(join(dir, 'templates'));
    writeFileSync(
      join(dir, 'templates', 't.yaml'),
      'k: {{ .Values.a.b }}{{ .a }}\n{{- /* c */}}\n{{- range .Values.list }}\n- {{ . }}{{ $.Values.mode }}\n{{- end }}\n' +
        '{{ if eq .Values.mode "x" }}X{{ else if eq .Values.mode "m" }}M{{ else }}O{{ end }}|{{ .Values.none }}|{{ .Values.a | toJson }}\n',
    );
    // Dot is the top-level object: .a is missing there (.Values.a is not), so it renders empty.
    expect(renderChart(dir)[0].text).toBe('k: 2\n- xm\n- ym\nM||{"b":2}\n');
    expect(renderChart(dir, { mode: 'q' })[0].text).toContain('\nO||');
    writeFileSync(join(dir, 'templates', 't.yaml'), '{{ include "x" . }}');
    expect(() => renderChart(dir)).toThrow(/outside the template subset/);
  });
});
