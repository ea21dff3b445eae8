import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { openStore } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { TokenStore } from '../../src/server/auth.js';
import { startBrain } from '../../src/cli/scaleout.js';
import { brainStages, register as registerCluster } from '../../src/cli/commands/cluster.js';
import { stageConfig, startServerFor } from '../../src/cli/commands/run.js';
import { createOutput } from '../../src/engine/output.js';
import { requireDataset } from '../../src/util/datasets.js';
import { natsAvailable, startNats, type NatsHandle } from '../utils/nats-server.js';

const quiet = () =>
  createOutput(
    'json',
    new Writable({ write: (_c, _e, cb) => cb() }),
    new Writable({ write: (_c, _e, cb) => cb() }),
  );

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return cond();
};

function gkeExec(pod: string): Record<string, unknown> {
  return {
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      methodName: 'io.k8s.core.v1.pods.exec.create',
      resourceName: `core/v1/namespaces/prod/pods/${pod}/exec`,
      authenticationInfo: { principalEmail: 'dev@example.com' },
      requestMetadata: { callerIp: '203.0.113.9' },
      status: {},
    },
    insertId: `exec-${pod}`,
    timestamp: new Date().toISOString(),
    labels: { 'authorization.k8s.io/decision': 'allow' },
  };
}

/** The options a command declares, by long flag. */
function flagsOf(name: string): string[] {
  const program = new Command();
  registerCluster(program);
  return program.commands.find((c) => c.name() === name)!.options.map((o) => o.long!);
}

describe('inputs in cluster mode', () => {
  it('each node and cluster input has a flag on the command that owns it', () => {
    expect(flagsOf('agent')).toEqual(
      expect.arrayContaining(['--rules', '--falco-file', '--tetragon-file', '--kubeconfig', '--in-cluster']),
    );
    expect(flagsOf('brain')).toEqual(
      expect.arrayContaining([
        '--rules',
        '--audit-webhook',
        '--audit-file',
        '--falco-webhook',
        '--kubeconfig',
      ]),
    );
  });

  it('the brain runs the sources and detectors of the inputs it is given, and no others', () => {
    expect(brainStages(stageConfig({}))).toEqual({ sourceNames: [], detectorNames: [] });
    expect(brainStages(stageConfig({ auditWebhook: true, auditFile: '/var/log/audit.log' }))).toEqual({
      sourceNames: ['k8s-audit-webhook', 'k8s-audit-file'],
      detectorNames: ['audit-anomaly'],
    });
    expect(brainStages(stageConfig({ falcoWebhook: true, rules: ['a.yaml,b.yaml'] }))).toEqual({
      sourceNames: ['falco-webhook'],
      detectorNames: ['rules', 'audit-anomaly'],
    });
  });
});

const rulesDir = requireDataset('falco-rules');

describe.runIf(natsAvailable() && rulesDir)('brain with audit inputs, over NATS', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('audit events pushed to its webhook and written to its audit file become stored alerts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigie-brain-audit-'));
    const auditFile = join(dir, 'audit.log');
    writeFileSync(auditFile, '');
    const db = openStore(':memory:');
    const config = stageConfig({
      auditWebhook: true,
      auditFile,
      rules: [join(rulesDir!, 'k8s_audit_rules.yaml')],
    });
    const stages = brainStages(config);
    const brain = await startBrain({
      nats: nats.url,
      db,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'AUDIT',
      config,
      ...stages,
    });
    const server = await startServerFor(brain.engine, db, '127.0.0.1:0');
    try {
      const token = new TokenStore(db).create('apiserver', 'responder').token;
      const r = await fetch(`${server.url}/k8s-audit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(gkeExec('web-1')),
      });
      expect(r.status).toBe(200);
      appendFileSync(auditFile, `${JSON.stringify(gkeExec('web-2'))}\n`);
      const store = new AlertStore(db);
      const execs = () => store.list().filter((a) => a.rule === 'Attach/Exec Pod');
      expect(await until(() => execs().length === 2)).toBe(true);
      expect(
        execs()
          .map((a) => a.output)
          .sort()
          .join(' '),
      ).toMatch(/web-1.*web-2/);
    } finally {
      await server.close();
      await brain.stop();
      db.close();
    }
  });
});
