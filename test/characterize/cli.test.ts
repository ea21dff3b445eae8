/**
 * `vigie alerts`, `vigie incidents`, `vigie harden` driven in-process through commander, on a real
 * SQLite file; the alert filter the live engine applies.
 */
import { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAlertFilter } from '../../src/characterize/feedback.js';
import { register as registerAlerts } from '../../src/cli/commands/alerts.js';
import { register as registerHarden } from '../../src/cli/commands/harden.js';
import { register as registerIncidents } from '../../src/cli/commands/incidents.js';
import { makeAlert, type Alert } from '../../src/model/alert.js';
import { AlertStore } from '../../src/store/alerts.js';
import { openStore } from '../../src/infra/db.js';
import { BaselineStore, type WorkloadBaselineJSON } from '../../src/detect/anomaly/baseline/index.js';

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigie-cli-'));
  dbPath = join(dir, 'v.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  registerAlerts(program);
  registerIncidents(program);
  registerHarden(program);
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  (process.stdout as { write: unknown }).write = (s: string) => ((out += s), true);
  (process.stderr as { write: unknown }).write = () => true;
  try {
    await program.parseAsync(['node', 'vigie', ...args]);
  } finally {
    (process.stdout as { write: unknown }).write = orig;
    (process.stderr as { write: unknown }).write = origErr;
  }
  return out;
}

function mk(
  rule: string,
  pod: string,
  workload: string,
  ms: number,
  fields: Record<string, string> = {},
): Alert {
  return makeAlert(
    {
      rule,
      priority: 'Critical',
      output: `${rule} in ${pod}`,
      category: rule.includes('never') ? 'anomaly' : 'attack',
      detector: 'test',
      explanation: rule,
      output_fields: fields,
      entities: { k8s: { namespace: 'shop', pod, workload, node: 'node-1' } },
      ts: BigInt(ms) * 1_000_000n,
    },
    'node-1',
  );
}

describe('vigie alerts / incidents / harden', () => {
  it('list, show, ack, false-positive (workload and baseline scope), unexcept; the filter follows', async () => {
    const db = openStore(dbPath);
    const store = new AlertStore(db);
    const t = Date.parse('2026-11-27T10:00:00Z');
    const a1 = mk('Terminal shell in container', 'web-1', 'web', t);
    const a2 = mk('Terminal shell in container', 'db-0', 'db', t + 1000);
    const b1 = mk('Binary never seen', 'web-1', 'web', t + 2000, { 'vigie.never_seen': '/usr/bin/curl' });
    for (const a of [a1, a2, b1]) store.add(a);
    const filter = createAlertFilter(db, 0);

    const listed = (await cli('alerts', 'list', '--db', dbPath, '--output', 'json', '--limit', '2'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(listed.map((a) => a.uuid)).toEqual([b1.uuid, a2.uuid]);
    expect(JSON.parse(await cli('alerts', 'show', a1.uuid.slice(0, 8), '--db', dbPath)).rule).toBe(
      'Terminal shell in container',
    );
    await cli('alerts', 'ack', a2.uuid, '--db', dbPath);
    expect(JSON.parse(await cli('alerts', 'show', a2.uuid, '--db', dbPath)).status).toBe('acked');

    const exc = JSON.parse(
      await cli('alerts', 'false-positive', a1.uuid, '--db', dbPath, '--reason', 'admin debugging'),
    );
    expect(exc).toMatchObject({ scope: 'workload', workload: 'k8s:shop/web', active: true });
    // The same rule on the same workload is suppressed; on another workload it is not.
    expect(filter(mk('Terminal shell in container', 'web-2', 'web', t + 5000))).toBe(false);
    expect(filter(mk('Terminal shell in container', 'db-0', 'db', t + 5000))).toBe(true);

    // Baseline scope: only that novelty becomes normal.
    await cli('alerts', 'false-positive', b1.uuid, '--scope', 'baseline', '--db', dbPath);
    expect(
      filter(mk('Binary never seen', 'web-2', 'web', t + 6000, { 'vigie.never_seen': '/usr/bin/curl' })),
    ).toBe(false);
    expect(
      filter(mk('Binary never seen', 'web-2', 'web', t + 6000, { 'vigie.never_seen': '/tmp/xmrig' })),
    ).toBe(true);

    // Reversible: the alert comes back and is open again.
    await cli('alerts', 'unexcept', exc.id, '--db', dbPath);
    expect(filter(mk('Terminal shell in container', 'web-2', 'web', t + 7000))).toBe(true);
    expect(JSON.parse(await cli('alerts', 'show', a1.uuid, '--db', dbPath)).status).toBe('open');
    await expect(cli('alerts', 'false-positive', 'nope', '--db', dbPath)).rejects.toThrow(/no alert "nope"/);
    db.close();
  });

  it('incidents build / list / show --output json', async () => {
    const db = openStore(dbPath);
    const store = new AlertStore(db);
    const t = Date.parse('2026-11-27T10:00:00Z');
    store.add(mk('Terminal shell in container', 'web-1', 'web', t));
    store.add(mk('Read of sensitive file /etc/shadow', 'web-1', 'web', t + 30_000));
    store.add(mk('Terminal shell in container', 'db-0', 'db', t + 60_000));
    db.close();
    await cli('incidents', 'build', '--db', dbPath);
    const incs = (await cli('incidents', 'list', '--db', dbPath, '--output', 'json'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(incs).toHaveLength(2);
    const web = incs.find((i) => i.entities.workload === 'web');
    const shown = JSON.parse(await cli('incidents', 'show', web.id, '--db', dbPath, '--output', 'json'));
    expect(shown.timeline.map((e: { rule: string }) => e.rule)).toEqual([
      'Terminal shell in container',
      'Read of sensitive file /etc/shadow',
    ]);
    expect(shown.mitre.map((m: { technique: string }) => m.technique)).toEqual(['T1059', 'T1552']);
    expect(shown.severity.level).toMatch(/medium|high|critical/);
    expect(shown.explanation).toMatch(/2 alerts on shop\/web/);
    // Building again adds nothing.
    await cli('incidents', 'build', '--db', dbPath);
    expect(
      (await cli('incidents', 'list', '--db', dbPath, '--output', 'json')).trim().split('\n'),
    ).toHaveLength(2);
  });

  it('harden from a recording and from a baseline export; refuses a baseline still learning', async () => {
    const rec = join(dir, 'rec.json');
    writeFileSync(rec, JSON.stringify({ syscalls: ['read', 'write', 'accept4', 'socket'] }));
    const out = join(dir, 'p.json');
    await cli('harden', 'web', '--seccomp', out, '--from', rec);
    const p = JSON.parse(readFileSync(out, 'utf8'));
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.syscalls[0].names).toEqual(['accept4', 'read', 'socket', 'write']);
    expect(p.syscalls[1].names).toContain('execve');

    const baseline = {
      workload: 'k8s:shop/web',
      state: 'learning',
      syscalls: { n: 3, L: 10, ngrams: ['accept4 read write', 'read write close'] },
      peers: ['10.0.0.5:5432', '10.0.0.5:6379'],
      listenPorts: [8080],
      connectPorts: [5432, 6379],
    };
    const bf = join(dir, 'b.json');
    writeFileSync(bf, JSON.stringify({ format: 'vigie-baselines', version: 1, workloads: [baseline] }));
    await expect(cli('harden', 'web', '--seccomp', out, '--from', bf)).rejects.toThrow(/learning, not ready/);
    writeFileSync(
      bf,
      JSON.stringify({ format: 'vigie-baselines', version: 1, workloads: [{ ...baseline, state: 'ready' }] }),
    );
    const np = join(dir, 'np.yaml');
    await cli('harden', 'web', '--seccomp', out, '--networkpolicy', np, '--from', bf);
    expect(JSON.parse(readFileSync(out, 'utf8')).syscalls[0].names).toEqual([
      'accept4',
      'close',
      'read',
      'write',
    ]);
    const pol = parse(readFileSync(np, 'utf8'));
    expect(pol.metadata.namespace).toBe('shop');
    expect(pol.spec.podSelector.matchLabels).toEqual({ app: 'web' });
    expect(pol.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(pol.spec.egress[0]).toEqual({
      to: [{ ipBlock: { cidr: '10.0.0.5/32' } }],
      ports: [
        { protocol: 'TCP', port: 5432 },
        { protocol: 'TCP', port: 6379 },
      ],
    });
    // From the database, as `vigie baseline` stores it.
    const db = openStore(dbPath);
    new BaselineStore(db).save({
      ...(baseline as never as WorkloadBaselineJSON),
      workload: 'docker:registry.local/shop/web:1.2|/bin/httpd -f',
      state: 'ready',
      createdMs: 0,
      learnStartMs: 0,
      readyMs: 0,
      lastEventMs: 0,
      learnedEvents: 10,
      learnedMs: 1,
      windowsKept: 1,
      windowsDiscarded: 0,
      syscallsLearned: 10,
      binaries: [],
      fileDirs: [],
      resources: {
        cpu: { seen: 0, samples: [] },
        memory: { seen: 0, samples: [] },
        pids: { seen: 0, samples: [] },
      },
    });
    db.close();
    await cli('harden', 'httpd', '--seccomp', out, '--networkpolicy', np, '--db', dbPath);
    expect(JSON.parse(readFileSync(out, 'utf8')).syscalls[0].names).toEqual([
      'accept4',
      'close',
      'read',
      'write',
    ]);
    expect(parse(readFileSync(np, 'utf8')).metadata.name).toBe('web-learned');
    writeFileSync(rec, '{"syscalls": ["read", "not_a_syscall"]}');
    await expect(cli('harden', 'web', '--seccomp', out, '--from', rec)).rejects.toThrow(
      /unknown x86_64 system call name\(s\): not_a_syscall/,
    );
  });
});
