/**
 * The response engine against real dockerd: monitor vs enforce, each Docker action verified with
 * docker inspect and rolled back exactly, guards, TTL, a container vanishing mid-action, crash recovery.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionRecord } from '../../src/model/action.js';
import { DockerActuator, type DockerSnapshot } from '../../src/respond/actuators/docker.js';
import { createResponder } from '../../src/respond/engine.js';
import { parsePolicy } from '../../src/respond/policy.js';
import { ActionStore } from '../../src/store/actions.js';
import { openStore, type Db } from '../../src/infra/db.js';
import { alertFor, buildImage, docker, freeSubnet, removeByPrefix, startContainer } from './helpers.js';

const PREFIX = `vigie-rsp-${randomBytes(3).toString('hex')}-`;
const actuator = new DockerActuator();

function policy(actions: string, extra = ''): ReturnType<typeof parsePolicy> {
  return parsePolicy(
    `name: test\nmode: monitor\n${extra}\nrules:\n  - name: attacks\n    match: { category: attack, minPriority: Error }\n    actions:\n${actions}`,
    'test.yaml',
  );
}

function responder(
  db: Db,
  actions: string,
  extra = '',
  mode: 'monitor' | 'enforce' = 'enforce',
  onRecord?: (r: ActionRecord) => void,
) {
  return createResponder({
    db,
    hostname: 'test-host',
    mode,
    policy: policy(actions, extra),
    actuators: [actuator],
    selfIds: [],
    onRecord,
  });
}

beforeAll(async () => {
  buildImage();
});
afterAll(async () => {
  await removeByPrefix(PREFIX);
});

describe('docker response', () => {
  it('monitor mode plans and records without touching the container', async () => {
    const c = await startContainer(PREFIX + 'mon');
    const before = await c.inspect();
    const db = openStore(':memory:');
    const r = responder(
      db,
      '      - pause\n      - { action: throttle, params: { cpus: 0.2 } }',
      '',
      'monitor',
    );
    const recs = await r.onAlert(await alertFor(c));
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['pause', 'planned'],
      ['throttle', 'planned'],
    ]);
    expect(recs.every((x) => x.mode === 'monitor')).toBe(true);
    const after = await c.inspect();
    expect(after.State.Paused).toBe(false);
    expect(after.HostConfig.CpuQuota).toBe(before.HostConfig.CpuQuota);
    expect((after.HostConfig as { NanoCpus?: number }).NanoCpus).toBe(
      (before.HostConfig as { NanoCpus?: number }).NanoCpus,
    );
    // Replaying the same alert finds the same records.
    const again = await r.onAlert(await alertForSame(recs[0].alert!, c));
    expect(again.map((x) => x.id).sort()).toEqual(recs.map((x) => x.id).sort());
    expect(r.list().length).toBe(2);
    // A planned action runs when approved.
    const approved = await r.approve(recs[0].id);
    expect(approved.status).toBe('executed');
    expect((await c.inspect()).State.Paused).toBe(true);
    await r.rollback(approved.id);
    expect((await c.inspect()).State.Paused).toBe(false);
    await r.close();
  });

  it('enforce pauses, verified by inspect; rollback unpauses', async () => {
    const c = await startContainer(PREFIX + 'pause');
    const db = openStore(':memory:');
    const seen: string[] = [];
    const r = responder(db, '      - pause', '', 'enforce', (x) => seen.push(x.status));
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('executed');
    expect(rec.verified).toBe(true);
    expect((rec.stateBefore as DockerSnapshot).paused).toBe(false);
    expect((rec.stateAfter as DockerSnapshot).paused).toBe(true);
    expect(seen).toEqual(['approved', 'executing', 'executed']);
    expect((await c.inspect()).State.Paused).toBe(true);
    const rb = await r.rollback(rec.id);
    expect(rb.status).toBe('rolled_back');
    expect((await c.inspect()).State.Paused).toBe(false);
    await expect(r.rollback(rec.id)).rejects.toThrow(/rolled_back/);
    await r.close();
  });

  it('throttle sets NanoCpus and Memory; rollback restores the exact previous values', async () => {
    const c = await startContainer(PREFIX + 'thr', {
      hostConfig: {
        NanoCpus: 1_500_000_000,
        Memory: 256 * 1024 * 1024,
        MemorySwap: 512 * 1024 * 1024,
      } as never,
    });
    const free = await startContainer(PREFIX + 'thr-free');
    const db = openStore(':memory:');
    const r = responder(db, "      - { action: throttle, params: { cpus: 0.2, memory: '64m' } }");
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('executed');
    expect(rec.verified).toBe(true);
    let hc = (await c.inspect()).HostConfig as { NanoCpus: number; Memory: number; MemorySwap: number };
    expect(hc.NanoCpus).toBe(200_000_000);
    expect(hc.Memory).toBe(64 * 1024 * 1024);
    await r.rollback(rec.id);
    hc = (await c.inspect()).HostConfig as { NanoCpus: number; Memory: number; MemorySwap: number };
    expect([hc.NanoCpus, hc.Memory, hc.MemorySwap]).toEqual([
      1_500_000_000,
      256 * 1024 * 1024,
      512 * 1024 * 1024,
    ]);

    // Without a previous CPU limit the quota is used, so that rollback can make it unlimited again.
    const [rec2] = await r.onAlert(await alertFor(free));
    expect(rec2.status).toBe('executed');
    let f = (await free.inspect()).HostConfig;
    expect([f.CpuQuota, f.CpuPeriod]).toEqual([20_000, 100_000]);
    const rb = await r.rollback(rec2.id);
    expect(rb.status).toBe('rolled_back');
    f = (await free.inspect()).HostConfig;
    expect(f.CpuQuota).toBe(-1);
    expect((rb as { rollbackNote?: string }).rollbackNote).toMatch(/memory limit cannot be removed/);
    await r.close();
  });

  it('a memory cap never goes below current usage (throttle must not become an OOM kill)', async () => {
    const c = await docker.createContainer({
      name: PREFIX + 'mem',
      Image: 'vigie-respond-bb:test',
      Cmd: [
        'sh',
        '-c',
        'dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null; while true; do sleep 1; done',
      ],
    });
    await c.start();
    await new Promise((res) => setTimeout(res, 1000));
    const db = openStore(':memory:');
    const r = responder(db, "      - { action: throttle, params: { memory: '16m' } }");
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('executed');
    expect(rec.reason).toMatch(/memory cap raised to \d+ bytes to stay above current usage/);
    const info = await c.inspect();
    expect(info.State.Running).toBe(true);
    expect(info.HostConfig.Memory).toBeGreaterThan(40 * 1024 * 1024);
    await r.close();
  });

  it('isolate disconnects from a user-defined network; rollback reconnects with alias and address', async () => {
    const net = PREFIX + 'net';
    const { subnet, host } = await freeSubnet();
    await docker.createNetwork({ Name: net, IPAM: { Config: [{ Subnet: subnet }] } });
    const c = await startContainer(PREFIX + 'iso', {
      network: { name: net, aliases: ['web'], ip: host(10) },
    });
    const db = openStore(':memory:');
    const r = responder(db, '      - isolate');
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('executed');
    expect(Object.keys((await c.inspect()).NetworkSettings.Networks)).toEqual([]);
    const rb = await r.rollback(rec.id);
    expect(rb.status).toBe('rolled_back');
    const n = (await c.inspect()).NetworkSettings.Networks[net];
    expect(n).toBeDefined();
    expect(n.IPAddress).toBe(host(10));
    expect(n.Aliases).toContain('web');
    await r.close();
  });

  it('a protected container is skipped with the reason', async () => {
    const c = await startContainer(PREFIX + 'prot', { labels: { 'vigie.protect': 'true' } });
    const byName = await startContainer(PREFIX + 'db-main');
    const db = openStore(':memory:');
    const r = responder(db, '      - pause', `guards:\n  protect:\n    names: ['*-db-*']`);
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('skipped');
    expect(rec.reason).toMatch(/label vigie.protect=true/);
    const [rec2] = await r.onAlert(await alertFor(byName));
    expect(rec2.status).toBe('skipped');
    expect(rec2.reason).toMatch(/protected by name/);
    expect((await c.inspect()).State.Paused).toBe(false);
    // Vigie's own container is never touched, whatever the policy.
    const self = createResponder({
      db,
      hostname: 'h',
      mode: 'enforce',
      policy: policy('      - pause'),
      actuators: [actuator],
      selfIds: [(await byName.inspect()).Id],
    });
    const [rec3] = await self.onAlert(await alertFor(byName, { rule: 'other' }));
    expect(rec3.reason).toMatch(/Vigie itself/);
    await r.close();
  });

  it('rate limit and per-incident cap are enforced and recorded', async () => {
    const cs = await Promise.all([0, 1, 2].map((i) => startContainer(`${PREFIX}rl${i}`)));
    const db = openStore(':memory:');
    const r = responder(
      db,
      '      - pause',
      'guards:\n  rateLimit: { perMinute: 2 }\n  maxWorkloadsPerIncident: 5',
    );
    const out = [];
    for (const c of cs) out.push(...(await r.onAlert(await alertFor(c))));
    expect(out.map((x) => x.status)).toEqual(['executed', 'executed', 'skipped']);
    expect(out[2].reason).toMatch(/rate limit: 2 actions in the last minute/);
    expect((await cs[2].inspect()).State.Paused).toBe(false);
    for (const x of out.slice(0, 2)) await r.rollback(x.id);

    const db2 = openStore(':memory:');
    const r2 = responder(
      db2,
      '      - pause\n      - { action: throttle, params: { cpus: 0.5 } }',
      'guards:\n  maxWorkloadsPerIncident: 1\n  maxActionsPerIncident: 1',
    );
    const a0 = await r2.onAlert(await alertFor(cs[0], { incident: 'inc-1' }));
    expect(a0.map((x) => x.status)).toEqual(['executed', 'skipped']);
    expect(a0[1].reason).toMatch(/incident cap: 1 actions already taken for incident:inc-1/);
    const a1 = await r2.onAlert(await alertFor(cs[1], { incident: 'inc-1' }));
    expect(a1[0].status).toBe('skipped');
    expect(a1[0].reason).toMatch(/incident cap/);
    expect((await cs[1].inspect()).State.Paused).toBe(false);
    await r2.rollback(a0[0].id);
    await r.close();
    await r2.close();
  });

  it('TTL expiry rolls the action back in tick()', async () => {
    const c = await startContainer(PREFIX + 'ttl');
    const db = openStore(':memory:');
    const r = responder(db, '      - { action: pause, ttl: 2s }');
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('executed');
    expect(rec.expiresAt).toBeDefined();
    expect(await r.tick(new Date())).toEqual([]);
    expect((await c.inspect()).State.Paused).toBe(true);
    const lifted = await r.tick(new Date(Date.now() + 3000));
    expect(lifted.map((x) => [x.id, x.status])).toEqual([[rec.id, 'expired']]);
    expect((await c.inspect()).State.Paused).toBe(false);
    await r.close();
  });

  it('a container removed mid-action is recorded as failed with the reason', async () => {
    const name = PREFIX + 'gone';
    const c = await startContainer(name);
    const db = openStore(':memory:');
    const r = responder(db, '      - pause', '', 'enforce', (x) => {
      // Between the recorded state and the call to Docker, the container disappears.
      if (x.status === 'executing') execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
    });
    const [rec] = await r.onAlert(await alertFor(c));
    expect(rec.status).toBe('failed');
    expect(rec.error).toMatch(/no longer exists/);
    // An alert for a container that is already gone is a recorded failure too, not a throw.
    const again = await r.onAlert({ ...(await alertForGone(rec)), uuid: 'x-' + rec.id });
    expect(again[0].status).toBe('failed');
    await r.close();
  });

  it('evidence is captured before a destructive step', async () => {
    const c = await startContainer(PREFIX + 'stop', { env: ['API_TOKEN=s3cr3t-value'] });
    await new Promise((res) => setTimeout(res, 1200));
    const db = openStore(':memory:');
    const r = responder(db, '      - { action: stop, params: { timeout: 2 } }');
    const recs = await r.onAlert(await alertFor(c));
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['capture_evidence', 'executed'],
      ['stop', 'executed'],
    ]);
    const ev = recs[0].evidence as { logs: string; inspect: { Id: string }; top: unknown };
    expect(ev.logs).toMatch(/tick 0/);
    expect(ev.inspect.Id).toBe((await c.inspect()).Id);
    expect(ev.top).toBeDefined();
    expect(JSON.stringify(recs[0])).not.toMatch(/s3cr3t-value/);
    expect(JSON.stringify(ev.inspect)).toMatch(/API_TOKEN=<redacted>/);
    expect(r.list({ action: 'capture_evidence' })[0].evidence).toMatchObject({ captured: true });
    expect((await c.inspect()).State.Running).toBe(false);
    await r.rollback(recs[1].id);
    expect((await c.inspect()).State.Running).toBe(true);
    await r.close();
  });

  it('kill suspends the restart policy so the container stays down; rollback starts it and restores the policy', async () => {
    const c = await startContainer(PREFIX + 'kill', { hostConfig: { RestartPolicy: { Name: 'always' } } });
    const db = openStore(':memory:');
    const r = responder(db, '      - capture_evidence\n      - kill');
    const recs = await r.onAlert(await alertFor(c));
    expect(recs.map((x) => [x.action, x.status])).toEqual([
      ['capture_evidence', 'executed'],
      ['kill', 'executed'],
    ]);
    await new Promise((res) => setTimeout(res, 1500));
    let info = await c.inspect();
    expect(info.State.Running).toBe(false);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('no');
    const rb = await r.rollback(recs[1].id);
    expect(rb.status).toBe('rolled_back');
    expect((rb as { rollbackNote?: string }).rollbackNote).toMatch(/process state is not restored/);
    info = await c.inspect();
    expect(info.State.Running).toBe(true);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('always');
    await r.close();
  });

  it('an action left executing by a crash is rolled back at start-up', async () => {
    const c = await startContainer(PREFIX + 'crash');
    const db = openStore(':memory:');
    // What a crash between "pause sent" and "verified" leaves: the container paused, the record executing.
    const before = await actuator.inspect({
      kind: 'container',
      id: (await c.inspect()).Id,
      platform: 'docker',
    });
    await c.pause();
    new ActionStore(db).put({
      id: 'act-crashed-1',
      action: 'pause',
      target: { kind: 'container', id: before.id, name: before.name, platform: 'docker' },
      status: 'executing',
      mode: 'enforce',
      reason: 'test',
      createdAt: new Date().toISOString(),
      stateBefore: before,
    });
    const r = responder(db, '      - pause');
    const recovered = await r.ready;
    expect(recovered.map((x) => [x.id, x.status])).toEqual([['act-crashed-1', 'rolled_back']]);
    expect(r.get('act-crashed-1')!.reason).toMatch(/interrupted by a restart/);
    expect((await c.inspect()).State.Paused).toBe(false);
    await r.close();
  });

  it('an isolate interrupted half way (one network of two) is reconnected at start-up', async () => {
    const a = PREFIX + 'net-a';
    const b = PREFIX + 'net-b';
    await docker.createNetwork({ Name: a });
    const netB = await docker.createNetwork({ Name: b });
    const c = await startContainer(PREFIX + 'half', { network: { name: a, aliases: ['api'] } });
    await netB.connect({ Container: (await c.inspect()).Id, EndpointConfig: { Aliases: ['api-b'] } });
    const before = await actuator.inspect({
      kind: 'container',
      id: (await c.inspect()).Id,
      platform: 'docker',
    });
    expect(Object.keys(before.networks).sort()).toEqual([a, b].sort());
    await netB.disconnect({ Container: before.id, Force: true });
    const db = openStore(':memory:');
    new ActionStore(db).put({
      id: 'act-half-isolate',
      action: 'isolate',
      target: { kind: 'container', id: before.id, name: before.name, platform: 'docker' },
      status: 'executing',
      mode: 'enforce',
      reason: 'test',
      createdAt: new Date().toISOString(),
      stateBefore: before,
    });
    const r = responder(db, '      - isolate');
    const [rec] = await r.ready;
    expect(rec.status).toBe('rolled_back');
    const nets = (await c.inspect()).NetworkSettings.Networks;
    expect(Object.keys(nets).sort()).toEqual([a, b].sort());
    expect(nets[b].Aliases).toContain('api-b');
    await r.close();
  });
});

async function alertForSame(uuid: string, c: import('dockerode').Container) {
  const a = await alertFor(c);
  a.uuid = uuid;
  return a;
}

async function alertForGone(rec: ActionRecord) {
  const { makeAlert } = await import('../../src/model/alert.js');
  return makeAlert(
    {
      rule: 'Terminal shell in container',
      priority: 'Critical',
      output: 'x',
      category: 'attack',
      detector: 'runtime',
      explanation: 'x',
      entities: { container: { id: rec.target.id, name: rec.target.name } },
    },
    'h',
  );
}
