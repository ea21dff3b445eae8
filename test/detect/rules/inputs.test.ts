import { describe, expect, it, vi } from 'vitest';
import Fastify from 'fastify';
import { Command } from 'commander';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAuditText, auditToEvent } from '../../../src/sources/k8s-audit-file.js';
import { registerK8sAuditRoute } from '../../../src/server/routes/k8s-audit.js';
import { readTetragonFile, tetragonToEvents } from '../../../src/sources/tetragon.js';
import { falcoToAlert, isFalcoAlert } from '../../../src/sources/falco.js';
import { register } from '../../../src/cli/commands/rules.js';
import { requireDataset } from '../../../src/util/datasets.js';
import type { VigieEvent } from '../../../src/model/event.js';

const EV = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  auditID: 'id-1',
  stage: 'ResponseComplete',
  verb: 'create',
  requestURI: '/api/v1/namespaces',
  user: { username: 'mallory' },
  objectRef: { resource: 'namespaces', name: 'evil' },
  responseStatus: { code: 201 },
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  stageTimestamp: '2024-05-01T10:00:00.123456Z',
};

describe('audit log formats', () => {
  it('reads an Event, a list, an EventList and JSON lines', () => {
    expect(parseAuditText(JSON.stringify(EV)).events).toHaveLength(1);
    expect(parseAuditText(JSON.stringify([EV, EV])).events).toHaveLength(2);
    expect(parseAuditText(JSON.stringify({ kind: 'EventList', items: [EV, EV, EV] })).events).toHaveLength(3);
    const r = parseAuditText(
      `${JSON.stringify(EV)}\n{bad json\n${JSON.stringify(EV)}\n{"kind": 0}\n`,
      'f.log',
    );
    expect(r.events).toHaveLength(2);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^f\.log:2: invalid JSON/);
    expect(r.errors[1]).toMatch(/^f\.log:4: data not recognized as a k8s audit event/);
  });

  it('unwraps EKS, AKS and GKE envelopes', () => {
    expect(
      parseAuditText(JSON.stringify({ logEvents: [{ id: '1', timestamp: 1, message: JSON.stringify(EV) }] }))
        .events[0].auditID,
    ).toBe('id-1');
    expect(parseAuditText(JSON.stringify({ message: JSON.stringify(EV) })).events).toHaveLength(1);
    expect(
      parseAuditText(
        JSON.stringify({ records: [{ category: 'kube-audit', properties: { log: JSON.stringify(EV) } }] }),
      ).events,
    ).toHaveLength(1);
    const gke = {
      protoPayload: {
        '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
        methodName: 'io.k8s.core.v1.secrets.get',
        resourceName: 'core/v1/namespaces/prod/secrets/db',
        authenticationInfo: { principalEmail: 'dev@example.com' },
        requestMetadata: { callerIp: '203.0.113.9' },
        status: { code: 7 },
      },
      insertId: 'x1',
      timestamp: '2024-05-01T10:00:00Z',
      labels: { 'authorization.k8s.io/decision': 'forbid' },
    };
    const [g] = parseAuditText(JSON.stringify(gke)).events;
    expect(g).toMatchObject({
      verb: 'get',
      user: { username: 'dev@example.com' },
      objectRef: { namespace: 'prod', resource: 'secrets', name: 'db' },
      responseStatus: { code: 403 },
      sourceIPs: ['203.0.113.9'],
    });
  });

  it('maps an audit event onto the envelope', () => {
    const ev = auditToEvent(EV as Record<string, unknown>);
    expect(ev.kind).toBe('k8s_audit');
    expect(ev.ts).toBe(1714557600123456000n);
    expect(ev.id).toBe('id-1:ResponseComplete');
  });
});

describe('POST /k8s-audit', () => {
  async function app(limit = 10_000) {
    const got: VigieEvent[] = [];
    const a = Fastify();
    const stats = await registerK8sAuditRoute(a, {
      onEvents: (evs) => void got.push(...evs),
      bodyLimit: limit,
    });
    return { a, got, stats };
  }

  it('accepts an Event and an EventList', async () => {
    const { a, got, stats } = await app();
    let r = await a.inject({ method: 'POST', url: '/k8s-audit', payload: EV });
    expect(r.statusCode).toBe(200);
    r = await a.inject({
      method: 'POST',
      url: '/k8s-audit',
      payload: { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [EV, EV] },
    });
    expect(r.json()).toMatchObject({ accepted: 2 });
    expect(got).toHaveLength(3);
    expect(stats.events).toBe(3);
  });

  it('answers 400 with the reason on malformed JSON (counted) and 413 on an oversized body', async () => {
    const { a, stats } = await app(2000);
    let r = await a.inject({
      method: 'POST',
      url: '/k8s-audit',
      headers: { 'content-type': 'application/json' },
      payload: '{"kind": "Event",',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toBe('malformed JSON');
    expect(r.json().reason).toMatch(/JSON/);
    expect(stats.malformed).toBe(1);
    r = await a.inject({ method: 'POST', url: '/k8s-audit', payload: { kind: 'Pod' } });
    expect(r.statusCode).toBe(400);
    expect(stats.rejected).toBe(1);
    r = await a.inject({
      method: 'POST',
      url: '/k8s-audit',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ ...EV, pad: 'x'.repeat(5000) }),
    });
    expect(r.statusCode).toBe(413);
    expect(stats.oversized).toBe(1);
  });
});

describe('adapters', () => {
  const tetragon = requireDataset('tetragon', 'events.json');
  it.skipIf(!tetragon)('Tetragon export → process events with pod and container', async () => {
    const { events, errors } = await readTetragonFile(tetragon!);
    expect(errors).toEqual([]);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      kind: 'process',
      source: 'tetragon',
      host: 'my-node',
      proc: {
        pid: 68790,
        name: 'netserver',
        exe: '/usr/bin/netserver',
        cmdline: '/usr/bin/netserver -D',
        pname: 'containerd-shim',
        uid: 0,
      },
      container: {
        id: '19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4',
        name: 'spaceship',
        image: 'docker.io/tgraf/netperf:latest',
      },
      k8s: { namespace: 'default', pod: 'tiefighter' },
    });
  });

  it('Tetragon kprobes: tcp_connect → network, file hooks → file', () => {
    const p = {
      process: { pid: 5, binary: '/usr/bin/curl', arguments: 'x' },
      parent: { pid: 4, binary: '/bin/sh' },
    };
    const [n] = tetragonToEvents({
      process_kprobe: {
        ...p,
        function_name: 'tcp_connect',
        args: [
          {
            sock_arg: {
              saddr: '10.0.0.1',
              daddr: '1.2.3.4',
              sport: 5000,
              dport: 443,
              protocol: 'IPPROTO_TCP',
            },
          },
        ],
      },
      time: '2024-01-01T00:00:00Z',
    });
    expect(n).toMatchObject({
      kind: 'network',
      network: { op: 'connect', proto: 'tcp', dstIp: '1.2.3.4', dstPort: 443 },
    });
    const [f] = tetragonToEvents({
      process_kprobe: {
        ...p,
        function_name: 'security_file_permission',
        args: [{ file_arg: { path: '/etc/shadow', permission: 'r' } }],
      },
    });
    expect(f).toMatchObject({ kind: 'file', file: { op: 'open', path: '/etc/shadow', write: false } });
  });

  it('Falco JSON alerts → Vigie alerts with their context, the same uuid for the same alert', () => {
    const alert = {
      time: '2024-05-01T10:00:00.000000001Z',
      rule: 'Terminal shell in container',
      priority: 'Notice',
      output: 'A shell was spawned',
      source: 'syscall',
      hostname: 'n1',
      tags: ['shell'],
      output_fields: {
        'container.id': 'abc123',
        'proc.name': 'bash',
        'proc.pid': 77,
        'k8s.ns.name': 'default',
        'user.uid': 0,
      },
    };
    expect(isFalcoAlert(alert)).toBe(true);
    expect(isFalcoAlert({ rule: 'x' })).toBe(false);
    const a = falcoToAlert(alert, 'here');
    expect(a).toMatchObject({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      hostname: 'n1',
      time: '2024-05-01T10:00:00.000000001Z',
      vigie: {
        detector: 'falco',
        entities: {
          host: 'n1',
          container: { id: 'abc123' },
          process: { name: 'bash', pid: 77 },
          k8s: { namespace: 'default' },
          user: '0',
        },
      },
    });
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(falcoToAlert(structuredClone(alert), 'elsewhere').uuid).toBe(a.uuid);
    expect(falcoToAlert({ ...alert, output: 'another' }, 'here').uuid).not.toBe(a.uuid);
  });
});

describe('vigie rules replay / check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-rules-'));
  const rules = join(dir, 'r.yaml');
  writeFileSync(
    rules,
    '- rule: New namespace\n  desc: d\n  condition: ka.verb=create and ka.target.resource=namespaces\n  output: ns=%ka.target.name by %ka.user.name\n  priority: NOTICE\n  source: k8s_audit\n  tags: [k8s]\n',
  );
  const log = join(dir, 'audit.log');
  writeFileSync(log, `${JSON.stringify(EV)}\n${JSON.stringify({ ...EV, verb: 'get' })}\nnot json\n`);

  async function cli(args: string[]): Promise<{ out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      const p = new Command().exitOverride();
      register(p);
      await p.parseAsync(['node', 'vigie', ...args]);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    return { out, err };
  }

  it('replay prints alerts as JSON lines and counts malformed input', async () => {
    const { out, err } = await cli(['rules', 'replay', '--rules', rules, log]);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      rule: 'New namespace',
      priority: 'Notice',
      source: 'k8s_audit',
      output_fields: { 'ka.target.name': 'evil' },
    });
    expect(lines[0].output).toMatch(/ns=evil by mallory$/);
    expect(err).toMatch(/2 events, 1 alerts, 1 malformed inputs skipped/);
  });

  it('check lists rules and stops on errors with the place', async () => {
    const { out } = await cli(['rules', 'check', '--rules', rules]);
    expect(out).toMatch(/active\s+k8s_audit New namespace/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      '- rule: Bad\n  desc: d\n  condition: ka.nope = 1\n  output: o\n  priority: INFO\n  source: k8s_audit\n',
    );
    await expect(cli(['rules', 'check', '--rules', rules, '--rules', bad])).rejects.toThrow(
      /bad\.yaml:1:3: rule "Bad": unknown field/,
    );
    const ok = await cli(['rules', 'check', '--rules', rules, '--rules', bad, '--skip-unknown']);
    expect(ok.out).toMatch(/skipped\s+k8s_audit Bad/);
    expect(ok.err).toMatch(/warning: .*bad\.yaml:1:3: rule "Bad": skipped: unknown field/);
  });
});

describe('k8s-audit-file source', () => {
  it('reads the file, then follows appended lines; malformed lines are counted', async () => {
    const { K8sAuditFileSource } = await import('../../../src/sources/k8s-audit-file.js');
    const { appendFileSync } = await import('node:fs');
    const d = mkdtempSync(join(tmpdir(), 'vigie-audit-'));
    const f = join(d, 'audit.log');
    writeFileSync(f, `${JSON.stringify(EV)}\n`);
    const src = new K8sAuditFileSource({ path: f, follow: true });
    const got: VigieEvent[] = [];
    await src.start((ev) => (got.push(ev), true));
    expect(got).toHaveLength(1);
    appendFileSync(f, `${JSON.stringify({ ...EV, auditID: 'id-2' })}\nnot json\n`);
    for (let i = 0; i < 40 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await src.stop();
    expect(got.map((e) => e.id)).toEqual(['id-1:ResponseComplete', 'id-2:ResponseComplete']);
    expect(src.stats()).toMatchObject({ events: 2, malformed: 1, lost: 0 });
  });
});
