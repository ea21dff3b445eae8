import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { openStore } from '../../src/infra/db.js';
import { AlertStore } from '../../src/store/alerts.js';
import { startAgent, startBrain } from '../../src/cli/scaleout.js';
import {
  natsAuthFromFlags,
  register as registerCluster,
  type NatsFlags,
} from '../../src/cli/commands/cluster.js';
import { createOutput } from '../../src/engine/output.js';
import { NatsBus } from '../../src/pipeline/nats.js';
import { ALERT_LIMITS, makeAlert } from '../../src/model/alert.js';
import { connect } from 'nats';
import type { Source, EventSink } from '../../src/sources/types.js';
import type { Detector } from '../../src/detect/types.js';
import { nowNs, type VigieEvent } from '../../src/model/event.js';
import { natsAvailable, startNats, type NatsHandle } from '../utils/nats-server.js';

const quiet = () =>
  createOutput(
    'json',
    new Writable({ write: (_c, _e, cb) => cb() }),
    new Writable({ write: (_c, _e, cb) => cb() }),
  );

/** A source the test drives by hand: the transport, not sensing, is under test here. */
class HandSource implements Source {
  readonly name = 'hand';
  sink?: EventSink;
  async start(sink: EventSink) {
    this.sink = sink;
  }
  async stop() {}
  stats() {
    return { events: 0, malformed: 0, lost: 0 };
  }
}

const shellDetector: Detector = {
  name: 'shell',
  kinds: ['process'],
  onEvent(ev, emit) {
    if (ev.proc?.name === 'sh')
      emit({
        rule: 'Shell',
        priority: 'Warning',
        output: 'sh ran',
        category: 'attack',
        detector: 'shell',
        explanation: 'sh',
        event: ev,
      });
  },
};

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return cond();
};

describe.runIf(natsAvailable())('agent and brain over NATS JetStream', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('an agent alert reaches the brain once, is stored, and survives a brain restart', async () => {
    const brainDb = openStore(':memory:');
    const src = new HandSource();
    const agent = await startAgent({
      nats: nats.url,
      db: openStore(':memory:'),
      node: 'node-a',
      output: quiet(),
      sources: [src],
      detectors: [shellDetector],
      stream: 'S1',
    });
    let brain = await startBrain({
      nats: nats.url,
      db: brainDb,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'S1',
    });
    const ev = (name: string): VigieEvent => ({
      id: `e-${name}`,
      kind: 'process',
      ts: nowNs(),
      source: 'hand',
      proc: { name },
      container: { id: 'c1', image: 'web' },
    });
    src.sink!(ev('sh'));
    src.sink!(ev('httpd'));
    const store = new AlertStore(brainDb);
    expect(await until(() => store.count(0) === 1)).toBe(true);
    const stored = store.list()[0];
    expect(stored.rule).toBe('Shell');
    expect(stored.hostname).toBe('node-a');

    // Replay the same alert (at-least-once): not stored twice.
    const replay = await NatsBus.connect({ servers: nats.url, stream: 'S1' });
    replay.publish('alerts', stored);
    await replay.close();

    // The brain restarts; alerts published meanwhile wait in the stream for its durable consumer.
    await brain.stop();
    src.sink!(ev('sh'));
    brain = await startBrain({
      nats: nats.url,
      db: brainDb,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'S1',
    });
    expect(await until(() => store.count(0) === 2)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(store.count(0)).toBe(2);
    await agent.stop();
    await brain.stop();
  });

  it('alerts from two agents on one workload become one incident in the brain, stored once each', async () => {
    const brainDb = openStore(':memory:');
    const a = new HandSource();
    const b = new HandSource();
    const agents = await Promise.all(
      [
        ['node-a', a],
        ['node-b', b],
      ].map(([node, src]) =>
        startAgent({
          nats: nats.url,
          db: openStore(':memory:'),
          node: node as string,
          output: quiet(),
          sources: [src as HandSource],
          detectors: [shellDetector],
          stream: 'S2',
        }),
      ),
    );
    const brain = await startBrain({
      nats: nats.url,
      db: brainDb,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'S2',
    });
    // The same Deployment's pods on two nodes.
    const ev = (node: string, pod: string): VigieEvent => ({
      id: `e-${node}`,
      kind: 'process',
      ts: nowNs(),
      source: 'hand',
      host: node,
      proc: { name: 'sh' },
      container: { id: `c-${node}`, image: 'shop/web:1' },
      k8s: { namespace: 'shop', pod, workload: 'web', node },
    });
    a.sink!(ev('node-a', 'web-1'));
    b.sink!(ev('node-b', 'web-2'));
    const store = new AlertStore(brainDb);
    expect(await until(() => store.count(0) === 2)).toBe(true);
    const incidents = new Set(store.list().map((x) => x.vigie.incident));
    expect(incidents.size).toBe(1);
    expect([...incidents][0]).toBeTruthy();
    // The agents keep no copy: storage and correlation are the brain's.
    for (const ag of agents) expect(ag.engine.alerts.count(0)).toBe(0);
    for (const ag of agents) await ag.stop();
    await brain.stop();
  });
});

describe.runIf(natsAvailable())('agent and brain on a NATS server that requires a token', () => {
  let nats: NatsHandle;
  beforeAll(async () => {
    nats = await startNats({ args: ['--auth', 'cluster-token'] });
  });
  afterAll(async () => {
    await nats?.stop();
  });
  const natsAuth = { token: 'cluster-token' };

  it('refuses an agent without the token and carries alerts with it', async () => {
    await expect(
      startAgent({ nats: nats.url, db: openStore(':memory:'), output: quiet(), sources: [], detectors: [] }),
    ).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    const brainDb = openStore(':memory:');
    const src = new HandSource();
    const agent = await startAgent({
      nats: nats.url,
      natsAuth,
      db: openStore(':memory:'),
      node: 'node-a',
      output: quiet(),
      sources: [src],
      detectors: [shellDetector],
      stream: 'S3',
    });
    const brain = await startBrain({
      nats: nats.url,
      natsAuth,
      db: brainDb,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'S3',
    });
    src.sink!({
      id: 'e-1',
      kind: 'process',
      ts: nowNs(),
      source: 'hand',
      proc: { name: 'sh' },
      container: { id: 'c1', image: 'web' },
    });
    const store = new AlertStore(brainDb);
    expect(await until(() => store.count(0) === 1)).toBe(true);
    expect(brain.invalid()).toBe(0);
    await agent.stop();
    await brain.stop();
  });

  it('the brain counts and skips what is not an alert, and goes on with the next', async () => {
    const brainDb = openStore(':memory:');
    const brain = await startBrain({
      nats: nats.url,
      natsAuth,
      db: brainDb,
      output: quiet(),
      mode: 'monitor',
      responder: null,
      stream: 'S4',
    });
    const good = makeAlert(
      {
        rule: 'Shell',
        priority: 'Warning',
        output: 'sh ran',
        category: 'attack',
        detector: 'shell',
        explanation: 'sh',
        entities: { container: { id: 'c9', image: 'web' }, workload: 'docker:web|' },
      },
      'node-b',
    );
    const malformed: unknown[] = [
      { hello: 'world' },
      { ...good, uuid: 'u-1', priority: 'Catastrophic' },
      { ...good, uuid: 'u-2', vigie: { ...good.vigie, category: 'mischief' } },
      { ...good, uuid: 'u-3', vigie: null },
      { ...good, uuid: 'u-4', output: 'x'.repeat(ALERT_LIMITS.text + 1) },
      { ...good, uuid: 'u-5', vigie: { ...good.vigie, entities: { k8s: { namespace: { $ne: 1 } } } } },
      { ...good, uuid: 'u-6', time: 'yesterday' },
      { ...good, uuid: 'bad uuid\u001b[31m' },
      { ...good, uuid: 'u-7', tags: Array.from({ length: ALERT_LIMITS.tags + 1 }, (_, i) => `t${i}`) },
      { ...good, uuid: 'u-8', rule: 42 },
      // The sender's key reaches the log line, escaped: no terminal sequence gets through.
      { ...good, uuid: 'u-9', output_fields: { '\u001b]0;owned\u0007\nFAKE LINE': { nested: true } } },
      [good],
      'just a string',
    ];
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return write(chunk);
    });
    const raw = await connect({ servers: nats.url, token: 'cluster-token' });
    const js = raw.jetstream();
    for (const m of malformed) await js.publish('s4.alerts', new TextEncoder().encode(JSON.stringify(m)));
    await js.publish('s4.alerts', new TextEncoder().encode('{"uuid": "not json\u001b]0;pwned\u0007'));
    await js.publish('s4.alerts', new TextEncoder().encode(JSON.stringify(good)));
    await raw.close();

    const store = new AlertStore(brainDb);
    expect(await until(() => store.count(0) === 1)).toBe(true);
    expect(await until(() => brain.invalid() === malformed.length + 1)).toBe(true);
    expect(store.get(good.uuid)?.rule).toBe('Shell');
    spy.mockRestore();
    const skipped = logged.filter((l) => l.includes('invalid alert from NATS skipped'));
    expect(skipped).toHaveLength(malformed.length + 1);
    const fields = skipped.find((l) => l.includes('output_fields.'))!;
    expect(fields).toContain('output_fields.\\x1b]0;owned\\x07\\nFAKE LINE');
    // One line each: no control character but the final newline.
    for (const l of skipped)
      expect(
        [...l.slice(0, -1)].filter((c) => c.charCodeAt(0) < 0x20),
        l,
      ).toEqual([]);
    const metrics = brain.engine.metrics.render();
    expect(metrics).toContain(`vigie_brain_alerts_invalid_total{reason="schema"} ${malformed.length}`);
    expect(metrics).toContain('vigie_brain_alerts_invalid_total{reason="json"} 1');
    await new Promise((r) => setTimeout(r, 500));
    expect(store.count(0)).toBe(1);
    await brain.stop();
  });
});

describe('the NATS flags of vigie agent and vigie brain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-nats-flags-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('read secrets from files: the first line of a token or password, whole creds and PEM files', () => {
    expect(
      natsAuthFromFlags({ nats: 'nats://n:4222', natsTokenFile: file('token', 'tok-1\nignored\n') }),
    ).toEqual({
      token: 'tok-1',
    });
    const auth = natsAuthFromFlags({
      nats: 'nats://n:4222',
      natsUser: 'agent',
      natsPasswordFile: file('password', 'pw\r\n'),
      natsCa: file('ca.crt', 'CA PEM'),
      natsCert: file('tls.crt', 'CERT PEM'),
      natsKey: file('tls.key', 'KEY PEM'),
    });
    expect(auth).toEqual({
      user: 'agent',
      password: 'pw',
      tls: { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' },
    });
    const creds = natsAuthFromFlags({ nats: 'nats://n:4222', natsCreds: file('user.creds', 'CREDS') });
    expect(new TextDecoder().decode(creds!.creds)).toBe('CREDS');
  });

  it('refuse missing or empty files and contradictory flags with a usage error', () => {
    const cases: [NatsFlags, RegExp][] = [
      [{ nats: 'n', natsTokenFile: join(dir, 'missing') }, /--nats-token-file: cannot read/],
      [{ nats: 'n', natsTokenFile: file('empty', '\n') }, /--nats-token-file: .* is empty/],
      [{ nats: 'n', natsTokenFile: file('t2', 't'), natsCreds: file('c2', 'c') }, /one of/],
      [{ nats: 'n', natsUser: 'agent' }, /password/],
      [{ nats: 'n', natsCert: file('c3', 'c') }, /key/],
    ];
    for (const [flags, re] of cases) {
      let err: (Error & { exitCode?: number }) | undefined;
      try {
        natsAuthFromFlags(flags);
      } catch (e) {
        err = e as Error & { exitCode?: number };
      }
      expect(err?.message, JSON.stringify(flags)).toMatch(re);
      expect(err?.exitCode).toBe(2);
    }
  });

  it('warn when nothing authenticates the connection', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      lines.push(String(c));
      return true;
    });
    try {
      expect(natsAuthFromFlags({ nats: 'nats://n:4222' })).toBeUndefined();
      natsAuthFromFlags({ nats: 'nats://n:4222', natsCa: file('ca2', 'CA') });
      natsAuthFromFlags({ nats: 'nats://n:4222', natsTokenFile: file('t3', 't') });
    } finally {
      spy.mockRestore();
    }
    expect(lines.filter((l) => l.includes('no NATS credentials given'))).toHaveLength(2);
  });

  it('take each flag from its environment variable too', () => {
    const program = new Command();
    registerCluster(program);
    for (const name of ['agent', 'brain']) {
      const cmd = program.commands.find((c) => c.name() === name)!;
      const env = Object.fromEntries(cmd.options.map((o) => [o.long, o.envVar]));
      expect(env).toMatchObject({
        '--nats': 'VIGIE_NATS',
        '--nats-token-file': 'VIGIE_NATS_TOKEN_FILE',
        '--nats-user': 'VIGIE_NATS_USER',
        '--nats-password-file': 'VIGIE_NATS_PASSWORD_FILE',
        '--nats-creds': 'VIGIE_NATS_CREDS',
        '--nats-ca': 'VIGIE_NATS_CA',
        '--nats-cert': 'VIGIE_NATS_CERT',
        '--nats-key': 'VIGIE_NATS_KEY',
      });
    }
  });
});
