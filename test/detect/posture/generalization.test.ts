import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS, loadCatalogue } from '../../../src/detect/posture/catalogue.js';
import { evaluate } from '../../../src/detect/posture/engine.js';
import { podSpecsOf } from '../../../src/detect/posture/k8s.js';
import { toJson, toJunit, toTable } from '../../../src/detect/posture/output.js';
import { loadSettings, notConfigured, settingsFromDocument } from '../../../src/detect/posture/settings.js';
import type { K8sObject } from '../../../src/detect/posture/types.js';
import { AdmissionReviewer } from '../../../src/server/admission.js';

const catalogue = loadCatalogue();
const loaded = (objs: K8sObject[]) => objs.map((obj) => ({ obj }));

/** A pod template that fails many pod-template controls at once. */
function badTemplate(app: string): Record<string, any> {
  return {
    metadata: { labels: { app } },
    spec: {
      hostNetwork: true,
      containers: [
        {
          name: 'main',
          image: 'quay.io/acme/tool',
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
          env: [{ name: 'DB_PASSWORD', value: 'hunter2-hunter2' }],
          volumeMounts: [{ name: 'sock', mountPath: '/var/run/docker.sock' }],
        },
      ],
      initContainers: [{ name: 'init', image: 'registry.example.com/init:1.0' }],
      volumes: [{ name: 'sock', hostPath: { path: '/var/run/docker.sock' } }],
    },
  };
}

const SETTINGS = { imageRepositoryAllowList: ['registry.example.com'], untrustedRegistries: ['quay.io'] };

/** control|path relative to the pod spec (or template), for every pod-template finding of an object. */
function podFindings(o: K8sObject): string[] {
  const { prefix, metaPrefix } = podSpecsOf(o)[0];
  const rel = (path: string): string =>
    path.startsWith(prefix)
      ? path.slice(prefix.length)
      : path.startsWith(metaPrefix)
        ? `template:${path.slice(metaPrefix.length)}`
        : path;
  const podspec = new Set(
    catalogue.filter((c) => CHECKS[c.check].appliesTo.includes('podspec')).map((c) => c.id),
  );
  return evaluate(loaded([o]), { controls: catalogue, settings: SETTINGS })
    .findings.filter((f) => podspec.has(f.control))
    .map((f) => `${f.control}|${rel(f.path)}`)
    .sort();
}

describe('every kind that carries a pod template goes through one path', () => {
  const meta = (name: string) => ({ name, namespace: 'legacy' });
  const deployment: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('d'),
    spec: { selector: { matchLabels: { app: 'x' } }, template: badTemplate('x') },
  };
  const rc: K8sObject = {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: meta('rc'),
    spec: { selector: { app: 'x' }, template: badTemplate('x') },
  };
  const podTemplate: K8sObject = {
    apiVersion: 'v1',
    kind: 'PodTemplate',
    metadata: meta('pt'),
    template: badTemplate('x'),
  };

  it('finds the template of a ReplicationController and of a PodTemplate where it is', () => {
    expect(podSpecsOf(rc).map((p) => [p.prefix, p.metaPrefix, p.labels])).toEqual([
      ['spec.template.spec.', 'spec.template.', { app: 'x' }],
    ]);
    expect(podSpecsOf(podTemplate).map((p) => [p.prefix, p.metaPrefix, p.labels])).toEqual([
      ['template.spec.', 'template.', { app: 'x' }],
    ]);
  });

  it('reports the same pod-template findings on a ReplicationController and a PodTemplate as on a Deployment', () => {
    const expected = podFindings(deployment);
    expect(expected.length).toBeGreaterThan(15);
    for (const id of ['VG-POD-001', 'VG-POD-007', 'VG-POD-024', 'VG-CRED-001', 'VG-IMG-004'])
      expect(
        expected.some((f) => f.startsWith(`${id}|`)),
        id,
      ).toBe(true);
    expect(podFindings(rc)).toEqual(expected);
    expect(podFindings(podTemplate)).toEqual(expected);
  });

  it("checks a ReplicationController's plain-map selector against its template", () => {
    const mismatched = { ...rc, spec: { ...rc.spec, selector: { app: 'y' } } };
    const ids = (o: K8sObject) =>
      evaluate(loaded([o]), { controls: catalogue, only: ['VG-REF-004'] }).findings.map(
        (f) => `${f.control}|${f.path}`,
      );
    expect(ids(rc)).toEqual([]);
    expect(ids(mismatched)).toEqual(['VG-REF-004|spec.selector']);
    // An empty selector defaults to the template's labels.
    expect(ids({ ...rc, spec: { ...rc.spec, selector: {} } })).toEqual([]);
  });
});

describe('controls that need configuration', () => {
  const pod: K8sObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec: {
      containers: [{ name: 'c', image: 'nginx', volumeMounts: [{ name: 'aws', mountPath: '/a' }] }],
      volumes: [{ name: 'aws', hostPath: { path: '/root/.aws' } }],
    },
  };
  const ids = ['VG-IMG-003', 'VG-IMG-004', 'VG-POD-026'];

  it('are reported as not configured, not as findings, when their inputs are missing', () => {
    const res = evaluate(loaded([pod]), { controls: catalogue, only: ids });
    expect(res.findings).toEqual([]);
    expect(res.notConfigured?.map((n) => n.control).sort()).toEqual(ids);
    expect(res.notConfigured?.find((n) => n.control === 'VG-IMG-004')?.inputs).toEqual([
      'untrustedRegistries',
      'publicRegistries',
    ]);
    expect(res.summary.notConfigured).toBe(3);
    expect(res.summary.controls).toBe(0);
    // not failed, so the score is not lowered
    expect(res.summary.score).toBe(100);

    const table = toTable(res);
    expect(table).toContain(
      'info: VG-POD-026 Cloud credentials path mounted: not configured (set cloudProvider',
    );
    expect(table).toContain('(3 not configured)');
    const json = JSON.parse(toJson(res));
    expect(json.notConfigured.map((n: { control: string; status: string }) => [n.control, n.status])).toEqual(
      res.notConfigured!.map((n) => [n.control, 'not configured']),
    );
    const junit = toJunit(
      res,
      catalogue.filter((c) => ids.includes(c.id)),
    );
    expect(junit).toContain('skipped message="not configured: set imageRepositoryAllowList"');
  });

  it('run once their inputs are given, in any of the shapes Kubescape writes them', () => {
    const kubescapeConfig = {
      name: 'default',
      settings: {
        postureControlInputs: { imageRepositoryAllowList: ['registry.example.com'], publicRegistries: [] },
      },
    };
    const testData = {
      postureControlInputs: { untrustedRegistries: ['quay.io'] },
      dataControlInputs: { cloudProvider: 'eks' },
    };
    const settings = { ...settingsFromDocument(kubescapeConfig), ...settingsFromDocument(testData) };
    expect(settings).toEqual({
      imageRepositoryAllowList: ['registry.example.com'],
      publicRegistries: [],
      untrustedRegistries: ['quay.io'],
      cloudProvider: ['eks'],
    });
    expect(notConfigured(catalogue, settings)).toEqual([]);
    const res = evaluate(loaded([pod]), { controls: catalogue, only: ids, settings });
    expect(res.notConfigured).toBeUndefined();
    expect(res.findings.map((f) => f.control).sort()).toEqual(ids);
  });

  it('reads a settings file: the plain map, blank entries not counting as set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-settings-'));
    const f = join(dir, 'inputs.yaml');
    writeFileSync(f, 'imageRepositoryAllowList: ["  "]\ncloudProvider: gke\nmemory_limit_max: 512Mi\n');
    const s = loadSettings(f);
    expect(s).toEqual({
      imageRepositoryAllowList: ['  '],
      cloudProvider: ['gke'],
      memory_limit_max: ['512Mi'],
    });
    expect(notConfigured(catalogue, s).map((n) => n.control)).toEqual(['VG-IMG-003', 'VG-IMG-004']);
    expect(() => settingsFromDocument({ cloudProvider: { name: 'eks' } })).toThrow(/cloudProvider/);
  });

  it('on a cloud provider, look for that provider’s credential paths only', () => {
    const withPath = (path: string): K8sObject => ({
      ...pod,
      spec: { ...pod.spec, volumes: [{ name: 'aws', hostPath: { path } }] },
    });
    const fired = (path: string, provider: string) =>
      evaluate(loaded([withPath(path)]), {
        controls: catalogue,
        only: ['VG-POD-026'],
        settings: { cloudProvider: [provider] },
      }).findings.length > 0;
    expect(fired('/.aws', 'eks')).toBe(true);
    expect(fired('/home/ec2-user/.aws/credentials', 'eks')).toBe(true);
    expect(fired('/.aws', 'gke')).toBe(false);
    expect(fired('/etc/kubernetes/azure.json', 'aks')).toBe(true);
    expect(fired('/etc/kubernetes/azure.json', 'eks')).toBe(false);
    expect(fired('/var/lib/app', 'aks')).toBe(false);
    expect(fired('/.aws', 'on-premises')).toBe(false);
  });
});

describe('admission with control inputs', () => {
  it('runs a control that needs an input only once it is given', () => {
    const pod: K8sObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'ns' },
      spec: {
        containers: [
          { name: 'c', image: 'registry.example.com/a:1', volumeMounts: [{ name: 'v', mountPath: '/v' }] },
        ],
        volumes: [{ name: 'v', hostPath: { path: '/.aws' } }],
      },
    };
    const cloud = (r: AdmissionReviewer) =>
      r
        .review({ uid: 'u', operation: 'CREATE', object: pod })
        .findings.filter((f) => f.control === 'VG-POD-026').length;
    expect(cloud(new AdmissionReviewer({ controls: catalogue }))).toBe(0);
    expect(cloud(new AdmissionReviewer({ controls: catalogue, settings: { cloudProvider: ['eks'] } }))).toBe(
      1,
    );
  });
});

describe('privilege escalation under PodSecurityPolicies', () => {
  const pod: K8sObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec: { containers: [{ name: 'c', image: 'registry.example.com/a:1' }] },
  };
  const psp = (allow: boolean | undefined): K8sObject => ({
    apiVersion: 'policy/v1beta1',
    kind: 'PodSecurityPolicy',
    metadata: { name: `psp-${String(allow)}` },
    spec: allow === undefined ? {} : { allowPrivilegeEscalation: allow },
  });
  const fired = (...others: K8sObject[]) =>
    evaluate(loaded([pod, ...others]), { controls: catalogue, only: ['VG-POD-002'] }).findings.length;

  it('is not reported when every policy in view forbids it', () => {
    expect(fired()).toBe(1);
    expect(fired(psp(false))).toBe(0);
    expect(fired(psp(false), psp(undefined))).toBe(1);
    expect(fired(psp(true))).toBe(1);
  });
});

describe('vigie scan --settings', () => {
  const root = join(__dirname, '..', '..', '..');
  const scan = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'scan', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: '/nonexistent' },
    });
  const dir = mkdtempSync(join(tmpdir(), 'vigie-scan-settings-'));
  const manifest = join(dir, 'pod.yaml');
  writeFileSync(
    manifest,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: { name: p, namespace: shop }',
      'spec:',
      '  containers: [{ name: c, image: "quay.io/x/y:1", volumeMounts: [{ name: a, mountPath: /a }] }]',
      '  volumes: [{ name: a, hostPath: { path: /.aws } }]',
      '',
    ].join('\n'),
  );

  it("says which controls are not configured, and runs them with inputs in Kubescape's shape", () => {
    const only = ['--control', 'VG-IMG-003', 'VG-IMG-004', 'VG-POD-026'];
    const bare = scan(manifest, ...only);
    expect(bare.status).toBe(0);
    expect(bare.stdout).toContain('info: VG-IMG-003 ');
    expect(bare.stdout).toContain(
      'not configured (set untrustedRegistries or publicRegistries in --settings)',
    );
    expect(bare.stdout).toContain('checked against 0 controls (3 not configured): 0 findings');

    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        settings: { postureControlInputs: { untrustedRegistries: ['quay.io'] } },
        dataControlInputs: { cloudProvider: 'eks' },
      }),
    );
    const json = scan(manifest, ...only, '--settings', config, '-o', 'json');
    expect(json.status).toBe(0);
    const rep = JSON.parse(json.stdout);
    expect(rep.notConfigured.map((n: { control: string }) => n.control)).toEqual(['VG-IMG-003']);
    expect(rep.findings.map((f: { control: string }) => f.control).sort()).toEqual([
      'VG-IMG-004',
      'VG-POD-026',
    ]);
  });
});
