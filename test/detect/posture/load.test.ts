import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { loadText, MAX_ALIAS_COUNT } from '../../../src/detect/posture/load.js';

describe('loading manifests', () => {
  it('reads multi-document YAML, JSON, List objects and typed lists', () => {
    const yaml = loadText(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Service, metadata: {name: s}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n',
      'f.yaml',
    );
    expect(yaml.errors).toEqual([]);
    expect(yaml.objects.map((o) => `${o.obj.kind}/${o.obj.metadata?.name}`)).toEqual([
      'Pod/a',
      'Service/s',
      'ConfigMap/c',
    ]);
    expect(yaml.objects[0].source).toEqual({ file: 'f.yaml', line: 1, docIndex: 0 });
    const json = loadText(
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'DeploymentList',
        items: [{ metadata: { name: 'd' }, spec: {} }],
      }),
      'f.json',
    );
    expect(json.objects[0].obj.kind).toBe('Deployment');
    expect(json.objects[0].obj.apiVersion).toBe('apps/v1');
  });

  it('reports invalid YAML with file:line:column and keeps the good documents', () => {
    const r = loadText(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata:\n  name: [unterminated\n',
      'bad.yaml',
    );
    expect(r.objects.map((o) => o.obj.metadata?.name)).toEqual(['ok']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].file).toBe('bad.yaml');
    expect(r.errors[0].line).toBeGreaterThanOrEqual(7);
    expect(r.errors[0].column).toBeGreaterThanOrEqual(1);
    const broken = loadText('{"kind": "Pod", "metadata": {"name": }', 'x.json');
    expect(broken.errors[0].line).toBe(1);
  });

  it('refuses YAML alias bombs within a fixed budget', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    lines.push('kind: ConfigMap', 'metadata: {name: bomb}');
    const t0 = Date.now();
    const r = loadText(lines.join('\n'), 'bomb.yaml');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.objects).toEqual([]);
    expect(r.errors[0].message).toMatch(/alias|resource exhaustion/i);
    expect(MAX_ALIAS_COUNT).toBe(100);
  });

  it('never throws on odd input', () => {
    const samples = [
      '',
      '---\n---\n',
      '42',
      '- 1\n- 2',
      'kind: 7',
      'kind: Pod\nspec: 3',
      'kind: Deployment\nspec: {template: {spec: {containers: "no"}}}',
      'kind: Pod\nspec: {containers: [null, 3, {securityContext: "x", env: [1, {name: 2}], ports: "p", volumeMounts: 5}]}',
      'kind: RoleBinding\nmetadata: {name: r}\nsubjects: 5\nroleRef: null',
      'kind: NetworkPolicy\nmetadata: {name: n}\nspec: {podSelector: {matchExpressions: [{key: a, operator: Weird}]}}',
      'kind: Ingress\nmetadata: {name: i}\nspec: {rules: [{http: {paths: [null]}}]}',
      '\u0000\u0001binary',
      '{"kind": "Pod", "spec": {"containers": [{"image": 5}]}}',
    ];
    for (const s of samples) {
      const r = loadText(s, 'odd');
      const errors = [...r.errors];
      expect(() => evaluate(r.objects, { errors })).not.toThrow();
    }
  });

  it('checks unknown kinds that carry a pod template', () => {
    const r = loadText(
      `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fn, namespace: k}
spec:
  template:
    spec:
      containers: [{image: x:1, securityContext: {privileged: true}}]
---
apiVersion: example.com/v1
kind: Worker
metadata: {name: w, namespace: k}
spec:
  runner:
    podTemplate:
      metadata: {labels: {app: w}}
      spec:
        hostNetwork: true
        containers: [{name: c, image: x:1}]
`,
      'crd.yaml',
    );
    const res = evaluate(r.objects);
    const w = res.findings.find((f) => f.resource.kind === 'Worker' && f.control === 'VG-POD-007');
    expect(w?.path).toBe('spec.runner.podTemplate.spec.hostNetwork');
    expect(res.findings.some((f) => f.resource.kind === 'Service' && f.control === 'VG-POD-001')).toBe(true);
  });
});
