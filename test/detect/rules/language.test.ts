import { describe, expect, it } from 'vitest';
import { loadRuleSources, RuleLoadError } from '../../../src/detect/rules/loader.js';
import { RuleEngine } from '../../../src/detect/rules/engine.js';
import { parseCondition } from '../../../src/detect/rules/parser.js';
import type { VigieEvent } from '../../../src/model/event.js';

function audit(a: Record<string, unknown>): VigieEvent {
  return {
    id: 'x',
    kind: 'k8s_audit',
    ts: 1_700_000_000_000_000_000n,
    source: 't',
    audit: { kind: 'Event', auditID: 'a1', stage: 'ResponseComplete', ...a },
  };
}

const POD = audit({
  verb: 'create',
  user: { username: 'alice', groups: ['dev', 'system:authenticated'] },
  objectRef: { resource: 'pods', namespace: 'default', name: 'web' },
  requestURI: '/api/v1/namespaces/default/pods?dryRun=All&fieldManager=kubectl',
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  responseStatus: { code: 201 },
  requestObject: {
    spec: {
      hostNetwork: true,
      containers: [
        { image: 'nginx:1.25', securityContext: { privileged: false } },
        { image: 'docker.io/library/busybox@sha256:abc', securityContext: { privileged: true } },
      ],
      volumes: [{ name: 'v', hostPath: { path: '/var/run/docker.sock' } }],
    },
  },
});

function matches(cond: string, ev: VigieEvent = POD, extra = ''): boolean {
  const src = `${extra}\n- rule: r\n  desc: d\n  condition: ${JSON.stringify(cond)}\n  output: o\n  priority: WARNING\n  source: k8s_audit\n`;
  const engine = new RuleEngine(loadRuleSources([{ name: 't.yaml', content: src }]));
  return engine.evaluate(ev) === 1;
}

describe('condition language', () => {
  it('parses precedence: not > and > or, with parentheses', () => {
    const e = parseCondition('a or b and not c');
    expect(e).toMatchObject({
      t: 'or',
      items: [
        { t: 'macro', name: 'a' },
        {
          t: 'and',
          items: [
            { t: 'macro', name: 'b' },
            { t: 'not', e: { t: 'macro', name: 'c' } },
          ],
        },
      ],
    });
    expect(parseCondition('(a or b) and c')).toMatchObject({ t: 'and' });
  });

  it('reads bare values as Falco does (brackets, colons, question marks)', () => {
    const e = parseCondition(
      'proc.pname in (runc:[0:PARENT], "a b", /healthz?) and ka.uri startswith /healthz?',
    );
    expect(e).toMatchObject({
      t: 'and',
      items: [
        { t: 'cmp', op: 'in', values: [{ v: 'runc:[0:PARENT]' }, { v: 'a b' }, { v: '/healthz?' }] },
        { t: 'cmp', op: 'startswith' },
      ],
    });
  });

  it('parses field arguments and transformers', () => {
    expect(parseCondition('jevt.value[/requestObject/kind] = Pod')).toMatchObject({
      field: { name: 'jevt.value', arg: '/requestObject/kind' },
    });
    expect(parseCondition('tolower(b64(ka.user.name)) = x')).toMatchObject({
      field: { name: 'ka.user.name', transformers: ['b64', 'tolower'] },
    });
    expect(parseCondition('ka.user.name = val(ka.target.name)')).toMatchObject({
      values: [{ t: 'field', f: { name: 'ka.target.name' } }],
    });
  });

  it('rejects broken syntax with the offset', () => {
    expect(() => parseCondition('ka.verb = ')).toThrow(/offset/);
    expect(() => parseCondition('(ka.verb = create')).toThrow(/missing "\)"/);
    expect(() => parseCondition('ka.verb create')).toThrow(/operator/);
  });

  it('evaluates every comparison operator', () => {
    expect(matches('ka.verb = create')).toBe(true);
    expect(matches('ka.verb == create')).toBe(true);
    expect(matches('ka.verb != create')).toBe(false);
    expect(
      matches(
        'ka.response.code > 200 and ka.response.code >= 201 and ka.response.code < 202 and ka.response.code <= 201',
      ),
    ).toBe(true);
    expect(matches('ka.uri contains dryRun')).toBe(true);
    expect(matches('ka.uri icontains DRYRUN')).toBe(true);
    expect(matches('ka.user.name bcontains 6c6963')).toBe(true); // "lic"
    expect(matches('ka.user.name bstartswith 616c')).toBe(true); // "al"
    expect(matches('ka.uri startswith /api/v1')).toBe(true);
    expect(matches('ka.target.name endswith eb')).toBe(true);
    expect(matches('ka.uri glob "/api/*/pods*"')).toBe(true);
    expect(matches('ka.uri iglob "/API/*"')).toBe(true);
    expect(matches('ka.req.pod.volumes.hostpath pmatch (/var/run, /etc)')).toBe(true);
    expect(matches('ka.req.pod.volumes.hostpath pmatch (/var/ru)')).toBe(false);
    expect(matches('ka.req.pod.volumes.hostpath pmatch (/var/*/docker.sock)')).toBe(true);
    expect(matches('ka.verb in (get, create)')).toBe(true);
    expect(matches('ka.user.groups intersects (dev, ops)')).toBe(true);
    expect(matches('ka.user.groups in (dev, ops)')).toBe(false); // in: every value must be in the set
    expect(matches('ka.target.subresource exists')).toBe(false);
    expect(matches('ka.target.name exists')).toBe(true);
    expect(matches('ka.target.name regex "w[a-z]+"')).toBe(true);
    expect(matches('ka.target.name regex "e"')).toBe(false); // full match, as RE2::FullMatch
  });

  it('a comparison on a field the event lacks is false, != included', () => {
    expect(matches('ka.target.subresource != exec')).toBe(false);
    expect(matches('not ka.target.subresource = exec')).toBe(true);
  });

  it('supports field arguments, transformers and val()', () => {
    expect(matches('ka.req.pod.containers.image[1] = "docker.io/library/busybox@sha256:abc"')).toBe(true);
    expect(matches('ka.req.pod.containers.image.repository[1] = docker.io/library/busybox')).toBe(true);
    expect(matches('ka.req.pod.containers.privileged[1] = true')).toBe(true);
    expect(matches('ka.req.pod.containers.privileged[0] = true')).toBe(false);
    expect(matches('jevt.value[/requestObject/spec/hostNetwork] = true')).toBe(true);
    expect(matches('jevt.value[/objectRef/name] = web')).toBe(true);
    expect(matches('ka.uri.param[fieldManager] = kubectl')).toBe(true);
    expect(matches('toupper(ka.verb) = CREATE and tolower(ka.user.name) = alice')).toBe(true);
    expect(matches('basename(ka.req.pod.volumes.hostpath) = docker.sock')).toBe(true);
    expect(matches('b64(ka.target.name) = "\xc1\xe6"')).toBe(true); // "web" decoded as base64
    expect(matches('ka.target.name = val(ka.target.name)')).toBe(true);
    expect(matches('ka.target.name = val(ka.user.name)')).toBe(false);
    expect(matches('ka.req.volume.hostpath[/var/run*] = true')).toBe(true);
  });

  it('expands lists, nested lists and quoted list items', () => {
    const lists = '- list: inner\n  items: [alice]\n- list: users\n  items: [inner, \'"bob smith"\']\n';
    expect(matches('ka.user.name in (users)', POD, lists)).toBe(true);
    expect(matches('ka.user.name in (users, carol)', POD, lists)).toBe(true);
  });
});

describe('loader stages', () => {
  const base = `
- required_engine_version: 15
- list: allowed
  items: [bob]
- macro: is_create
  condition: ka.verb=create
- rule: Not allowed
  desc: d
  condition: is_create and not ka.user.name in (allowed)
  output: user=%ka.user.name verb=%ka.verb image=%ka.req.pod.containers.image
  priority: WARNING
  source: k8s_audit
  tags: [k8s, b_tag, a_tag]
`;
  const load = (...more: string[]) =>
    loadRuleSources([
      { name: 'base.yaml', content: base },
      ...more.map((c, i) => ({ name: `more${i}.yaml`, content: c })),
    ]);
  const fires = (...more: string[]) => new RuleEngine(load(...more)).evaluate(POD) > 0;

  it('later files append to lists (append: true and override: append)', () => {
    expect(fires()).toBe(true);
    expect(fires('- list: allowed\n  items: [alice]\n  append: true\n')).toBe(false);
    expect(fires('- list: allowed\n  items: [alice]\n  override:\n    items: append\n')).toBe(false);
    expect(fires('- list: allowed\n  items: [carol]\n  override:\n    items: replace\n')).toBe(true);
  });

  it('macros are redefined and appended; rule conditions appended and replaced', () => {
    expect(fires('- macro: is_create\n  condition: ka.verb=delete\n')).toBe(false);
    expect(fires('- macro: is_create\n  condition: and ka.verb=delete\n  append: true\n')).toBe(false);
    expect(
      fires('- rule: Not allowed\n  condition: and ka.target.namespace=kube-system\n  append: true\n'),
    ).toBe(false);
    expect(
      fires('- rule: Not allowed\n  condition: ka.verb=create\n  override:\n    condition: replace\n'),
    ).toBe(true);
  });

  it('enabled: false on its own disables a rule; a later full definition replaces it', () => {
    expect(fires('- rule: Not allowed\n  enabled: false\n')).toBe(false);
    const r = load('- rule: Not allowed\n  enabled: false\n');
    expect(r.rules[0].reason).toBe('disabled');
  });

  it('exceptions (list and single-field forms) and appended exception values', () => {
    const ex =
      '- rule: Not allowed\n  exceptions:\n    - name: known\n      fields: [ka.user.name, ka.target.namespace]\n      comps: [=, in]\n      values:\n        - [alice, [default, other]]\n  override:\n    exceptions: append\n';
    expect(fires(ex)).toBe(false);
    const single =
      '- rule: Not allowed\n  exceptions:\n    - name: by_ns\n      fields: ka.target.namespace\n      values: [kube-system]\n  override:\n    exceptions: append\n';
    expect(fires(single)).toBe(true);
    const more =
      '- rule: Not allowed\n  exceptions:\n    - name: by_ns\n      values: [default]\n  append: true\n';
    expect(fires(single, more)).toBe(false);
  });

  it('renders output templates and sorts tags in alerts', () => {
    const engine = new RuleEngine(load());
    const [a] = engine.alerts(POD, 'h');
    expect(a.output).toMatch(
      /^\d\d:\d\d:\d\d\.\d{9}: Warning user=alice verb=create image=\(nginx:1.25,docker.io\/library\/busybox@sha256:abc\)$/,
    );
    expect(a.output_fields['ka.user.name']).toBe('alice');
    expect(a.tags).toEqual(['a_tag', 'b_tag', 'k8s']);
    expect(a.source).toBe('k8s_audit');
    expect(a.vigie.detector).toBe('rules');
  });

  it('indexes k8s rules by verb', () => {
    const engine = new RuleEngine(load());
    expect(engine.candidates(POD).length).toBe(1);
    expect(engine.candidates(audit({ verb: 'get' })).length).toBe(0);
  });

  it('errors name file:line:column and the rule', () => {
    const bad =
      '- rule: Broken\n  desc: d\n  condition: ka.verb = create and (ka.user.name = x\n  output: o\n  priority: WARNING\n  source: k8s_audit\n';
    expect(() => load(bad)).toThrow(RuleLoadError);
    try {
      load(bad);
    } catch (e) {
      const err = e as RuleLoadError;
      expect(err.message).toMatch(/^more0\.yaml:3:\d+: rule "Broken": condition: missing "\)"/);
      expect(err.where.line).toBe(3);
    }
  });

  it('unknown fields stop the load, or with skipUnknown skip only that rule', () => {
    const typo =
      '- rule: Typo\n  desc: d\n  condition: ka.verbb = create\n  output: o\n  priority: WARNING\n  source: k8s_audit\n';
    expect(() => load(typo)).toThrow(
      /more0\.yaml:1:3: rule "Typo": unknown field\(s\) for source k8s_audit: ka\.verbb/,
    );
    const r = loadRuleSources(
      [
        { name: 'base.yaml', content: base },
        { name: 'typo.yaml', content: typo },
      ],
      { skipUnknown: true },
    );
    expect(r.skipped.map((s) => s.name)).toEqual(['Typo']);
    expect(r.warnings.some((w) => /Typo/.test(w.item ?? '') && /ka\.verbb/.test(w.message))).toBe(true);
    expect(r.rules.find((x) => x.name === 'Not allowed')!.active).toBe(true);
  });

  it('checks engine and plugin versions', () => {
    expect(() =>
      loadRuleSources([{ name: 'v.yaml', content: '- required_engine_version: 99.0.0\n' }]),
    ).toThrow(/v\.yaml:1:3: .*engine version/);
    expect(() =>
      loadRuleSources([
        {
          name: 'p.yaml',
          content: '- required_plugin_versions:\n    - name: k8saudit\n      version: 9.0.0\n',
        },
      ]),
    ).toThrow(/required plugin version not satisfied/);
    const r = loadRuleSources([
      {
        name: 'p.yaml',
        content: '- required_plugin_versions:\n    - name: cloudtrail\n      version: 0.1.0\n',
      },
    ]);
    expect(r.warnings[0].message).toMatch(/cloudtrail is not provided/);
  });

  it('reports undefined macros and appends to undefined items', () => {
    const undef =
      '- rule: U\n  desc: d\n  condition: no_such_macro\n  output: o\n  priority: INFO\n  source: k8s_audit\n';
    expect(() => load(undef)).toThrow(/undefined macro "no_such_macro"/);
    expect(() => load('- list: nope\n  items: [a]\n  append: true\n')).toThrow(
      /more0\.yaml:1:3: list "nope": append to a list that is not defined/,
    );
    expect(() =>
      load(
        '- rule: R\n  desc: d\n  condition: jevt.rawtime > abc\n  output: o\n  priority: INFO\n  source: k8s_audit\n',
      ),
    ).toThrow(/not a number/);
  });
});

describe('error positions inside block scalars', () => {
  it('points at the line and column of the error in a folded condition', () => {
    const src = [
      '- rule: Folded',
      '  desc: d',
      '  condition: >',
      '    ka.verb = create',
      '    and ka.user.name in (a, b',
      '    and ka.target.name = x',
      '  output: o',
      '  priority: INFO',
      '  source: k8s_audit',
      '',
    ].join('\n');
    expect(() => loadRuleSources([{ name: 'f.yaml', content: src }])).toThrow(
      /^f\.yaml:6:5: rule "Folded": condition: expected "," or "\)" in list but found "and"/,
    );
  });
});
