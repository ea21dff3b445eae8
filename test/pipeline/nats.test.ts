import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeys } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus, natsAuthOptions, type NatsBusOptions } from '../../src/pipeline/nats.js';
import { makeCa, signedBy } from '../detect/posture/tls.js';
import { natsAvailable, startNats, type NatsHandle, type NatsServerOptions } from '../utils/nats-server.js';

const run = natsAvailable();

describe.runIf(run)('NATS JetStream bus (real nats-server)', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const until = async (cond: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return cond();
  };

  it('carries events with bigint timestamps from an agent to a brain', async () => {
    const agent = await NatsBus.connect({ servers: nats.url, stream: 'T1' });
    const brain = await NatsBus.connect({ servers: nats.url, stream: 'T1' });
    const got: { id: string; ts: string }[] = [];
    brain.subscribe<{ id: string; ts: string }>('events', (m) => void got.push(m), { name: 'brain' });
    for (let i = 0; i < 50; i++)
      agent.publish('events', { id: `e${i}`, ts: 1_700_000_000_000_000_000n + BigInt(i) });
    expect(await until(() => got.length === 50)).toBe(true);
    expect(got[0]).toEqual({ id: 'e0', ts: '1700000000000000000' });
    await agent.close();
    await brain.close();
  });

  it('never duplicates a republished message (same id) and resumes a durable consumer after restart', async () => {
    const agent = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    for (let i = 0; i < 10; i++) agent.publish('alerts', { uuid: `a${i}` });
    for (let i = 0; i < 10; i++) agent.publish('alerts', { uuid: `a${i}` }); // at-least-once replay
    await agent.close();

    const first = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    const seen: string[] = [];
    first.subscribe<{ uuid: string }>('alerts', (m) => void seen.push(m.uuid), { name: 'store' });
    expect(await until(() => seen.length >= 10)).toBe(true);
    await first.close();

    const agent2 = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    agent2.publish('alerts', { uuid: 'late' });
    await agent2.close();
    const second = await NatsBus.connect({ servers: nats.url, stream: 'T2' });
    const later: string[] = [];
    second.subscribe<{ uuid: string }>('alerts', (m) => void later.push(m.uuid), { name: 'store' });
    expect(await until(() => later.length >= 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    await second.close();
    expect(seen.sort()).toEqual([...Array(10).keys()].map((i) => `a${i}`).sort());
    expect(later).toEqual(['late']);
  });

  it('redelivers a message whose handler failed', async () => {
    const bus = await NatsBus.connect({ servers: nats.url, stream: 'T3' });
    let calls = 0;
    const ok: string[] = [];
    bus.subscribe<{ id: string }>(
      'actions',
      (m) => {
        calls++;
        if (calls === 1) throw new Error('transient');
        ok.push(m.id);
      },
      { name: 'responder' },
    );
    bus.publish('actions', { id: 'x1' });
    expect(await until(() => ok.length === 1, 15_000)).toBe(true);
    expect(calls).toBe(2);
    expect(bus.stats().handlerErrors).toBe(1);
    await bus.close();
  });

  it('counts drops when the outbound queue is full', async () => {
    const drops: number[] = [];
    const bus = await NatsBus.connect({
      servers: nats.url,
      stream: 'T4',
      capacity: 5,
      onDrop: (n) => drops.push(n.dropped),
    });
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (bus.publish('events', { id: `e${i}` })) accepted++;
    expect(accepted).toBeLessThan(100);
    expect(bus.stats().queues[0].dropped).toBe(100 - accepted);
    expect(drops.length).toBeGreaterThan(0);
    await bus.close();
  });
});

/** Connects, or says why the server refused: the error's code (AUTHORIZATION_VIOLATION, ...). */
async function refusal(o: Parameters<typeof NatsBus.connect>[0]): Promise<string> {
  try {
    const bus = await NatsBus.connect(o);
    await bus.close();
    return 'connected';
  } catch (e) {
    return String((e as { code?: string }).code ?? (e as Error).message);
  }
}

/** A message published by one connection reaches a subscriber on another. */
async function flows(a: NatsBusOptions, b: NatsBusOptions, stream: string): Promise<boolean> {
  const pub = await NatsBus.connect({ ...a, stream });
  const sub = await NatsBus.connect({ ...b, stream });
  const got: string[] = [];
  sub.subscribe<{ id: string }>('alerts', (m) => void got.push(m.id), { name: 'brain' });
  pub.publish('alerts', { id: 'x1' });
  const end = Date.now() + 10_000;
  while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await pub.close();
  await sub.close();
  return got[0] === 'x1';
}

describe.runIf(run)('NATS credentials and TLS (real nats-server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-nats-auth-'));
  const servers: NatsHandle[] = [];
  const start = async (o: NatsServerOptions) => {
    const h = await startNats(o);
    servers.push(h);
    return h;
  };
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('with a token: refuses a client without it or with another, carries messages with it', async () => {
    const nats = await start({ args: ['--auth', 'the-nats-token'] });
    expect(await refusal({ servers: nats.url })).toBe('AUTHORIZATION_VIOLATION');
    expect(await refusal({ servers: nats.url, auth: { token: 'a-guess' } })).toBe('AUTHORIZATION_VIOLATION');
    const auth = { token: 'the-nats-token' };
    expect(await flows({ servers: nats.url, auth }, { servers: nats.url, auth }, 'A1')).toBe(true);
  });

  it('with users and passwords from a configuration file (the password from the environment)', async () => {
    const conf = join(dir, 'users.conf');
    writeFileSync(
      conf,
      'authorization {\n  users: [\n    { user: agent, password: $AGENT_PASSWORD }\n    { user: brain, password: $BRAIN_PASSWORD }\n  ]\n}\n',
    );
    const nats = await start({
      args: ['-c', conf],
      env: { AGENT_PASSWORD: 'agent-secret', BRAIN_PASSWORD: 'brain-secret' },
    });
    expect(await refusal({ servers: nats.url })).toBe('AUTHORIZATION_VIOLATION');
    expect(await refusal({ servers: nats.url, auth: { user: 'agent', password: 'brain-secret' } })).toBe(
      'AUTHORIZATION_VIOLATION',
    );
    expect(
      await flows(
        { servers: nats.url, auth: { user: 'agent', password: 'agent-secret' } },
        { servers: nats.url, auth: { user: 'brain', password: 'brain-secret' } },
        'A2',
      ),
    ).toBe(true);
  });

  it('with a credentials file: the nkey seed signs the server nonce', async () => {
    const user = nkeys.createUser();
    const conf = join(dir, 'nkeys.conf');
    writeFileSync(conf, `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const nats = await start({ args: ['-c', conf] });
    // The creds layout; without trusted operators the server checks the nkey and ignores the JWT.
    const creds = new TextEncoder().encode(
      [
        '-----BEGIN NATS USER JWT-----',
        'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln',
        '------END NATS USER JWT------',
        '',
        '-----BEGIN USER NKEY SEED-----',
        new TextDecoder().decode(user.getSeed()),
        '------END USER NKEY SEED------',
        '',
      ].join('\n'),
    );
    expect(await refusal({ servers: nats.url })).toBe('AUTHORIZATION_VIOLATION');
    const other = nkeys.createUser();
    const otherCreds = new TextEncoder().encode(
      new TextDecoder()
        .decode(creds)
        .replace(new TextDecoder().decode(user.getSeed()), new TextDecoder().decode(other.getSeed())),
    );
    expect(await refusal({ servers: nats.url, auth: { creds: otherCreds } })).toBe('AUTHORIZATION_VIOLATION');
    const auth = { creds };
    expect(await flows({ servers: nats.url, auth }, { servers: nats.url, auth }, 'A3')).toBe(true);
  });

  it("over TLS with client certificates: fails without the server's CA or without a client certificate", async () => {
    const ca = makeCa('nats');
    const server = signedBy(ca, 'localhost', 'server');
    const client = signedBy(ca, 'vigie-agent', 'client');
    const nats = await start({
      args: [
        '--tls',
        '--tlscert',
        server.certPath,
        '--tlskey',
        server.keyPath,
        '--tlscacert',
        ca.certPath,
        '--tlsverify',
      ],
    });
    expect(await refusal({ servers: nats.url })).not.toBe('connected');
    // Without a client certificate the server ends the handshake; the client gives up at its timeout.
    expect(
      await refusal({ servers: nats.url, auth: { tls: { ca: String(ca.cert) } }, connectTimeoutMs: 3000 }),
    ).not.toBe('connected');
    const auth = { tls: { ca: String(ca.cert), cert: String(client.cert), key: String(client.key) } };
    expect(await flows({ servers: nats.url, auth }, { servers: nats.url, auth }, 'A4')).toBe(true);
  });

  it('refuses contradictory credentials before connecting', () => {
    expect(() => natsAuthOptions({ token: 't', user: 'u', password: 'p' })).toThrow(/one of/);
    expect(() => natsAuthOptions({ user: 'u' })).toThrow(/password/);
    expect(() => natsAuthOptions({ tls: { cert: 'c' } })).toThrow(/key/);
    expect(natsAuthOptions({ token: 't' })).toEqual({ token: 't' });
    expect(natsAuthOptions({ user: 'u', password: 'p', tls: { ca: 'CA' } })).toEqual({
      user: 'u',
      pass: 'p',
      tls: { ca: 'CA' },
    });
  });
});

describe.runIf(run)('malformed messages (real nats-server)', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('skips, counts and never redelivers a message that is not JSON or is too large', async () => {
    const bad: string[] = [];
    const bus = await NatsBus.connect({
      servers: nats.url,
      stream: 'M1',
      maxMessageBytes: 1000,
      onMalformed: (topic, reason) => bad.push(`${topic}:${reason}`),
    });
    const got: string[] = [];
    bus.subscribe<{ id: string }>('alerts', (m) => void got.push(m.id), { name: 'brain' });
    const nc = await connect({ servers: nats.url });
    const js = nc.jetstream();
    await js.publish('m1.alerts', new TextEncoder().encode('{"id": "not json'));
    await js.publish('m1.alerts', new TextEncoder().encode(JSON.stringify({ id: 'x'.repeat(2000) })));
    await js.publish('m1.alerts', new TextEncoder().encode(JSON.stringify({ id: 'fine' })));
    const end = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1500)); // a redelivery would come within this
    expect(got).toEqual(['fine']);
    expect(bad).toEqual(['alerts:json', 'alerts:size']);
    expect(bus.malformedCount()).toBe(2);
    expect(bus.stats().handlerErrors).toBe(0);
    await nc.close();
    await bus.close();
  });
});
