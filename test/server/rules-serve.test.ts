/**
 * `vigie rules serve`, the standalone audit webhook: a bearer token is required unless --no-auth
 * says otherwise (one is generated when none is given), it guards the counters too, it is checked
 * before the body is read, and the server stops quietly when the reader of its alerts goes away.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerK8sAuditRoute, type K8sAuditRouteStats } from '../../src/server/routes/k8s-audit.js';
import { bearerMatches } from '../../src/server/routes/json-webhook.js';
import { register } from '../../src/cli/commands/rules.js';

const ROOT = resolve(__dirname, '..', '..');

const EXEC = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Request',
  auditID: '6e0d3b4a-0000-4000-8000-000000000001',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods/web/exec?command=sh',
  verb: 'create',
  user: { username: 'mallory' },
  objectRef: { resource: 'pods', namespace: 'default', name: 'web', subresource: 'exec', apiVersion: 'v1' },
  responseStatus: { code: 101 },
  stageTimestamp: '2024-05-01T10:00:00.100000Z',
};

const dir = mkdtempSync(join(tmpdir(), 'vigie-rules-serve-'));
const rulesFile = join(dir, 'rules.yaml');
writeFileSync(
  rulesFile,
  '- rule: Exec into pod\n  desc: d\n  condition: ka.verb=create and ka.target.subresource=exec\n  output: exec into %ka.target.name by %ka.user.name\n  priority: WARNING\n  source: k8s_audit\n',
);

/** Sends the request line and headers, and only `first` of a body announced as `length` bytes. */
function partialPost(port: number, headers: string[], length: number, first: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const s = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolvePromise(answer || 'no answer');
    }, 2000);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      answer += d;
      if (answer.includes('\r\n\r\n') && answer.includes('}')) {
        clearTimeout(timer);
        s.destroy();
        resolvePromise(answer);
      }
    });
    s.on('error', reject);
    s.write(
      [
        'POST /k8s-audit HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `Content-Length: ${length}`,
        ...headers,
        '',
        first,
      ].join('\r\n'),
    );
  });
}

describe('the standalone audit webhook route with a token', () => {
  let app: FastifyInstance;
  let stats: K8sAuditRouteStats;
  let port: number;
  afterEach(async () => app?.close());

  async function start(token: string) {
    app = Fastify();
    stats = await registerK8sAuditRoute(app, { token, bodyLimit: 4 << 20, onEvents: () => {} });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  }

  it('guards the counters as well as the POST', async () => {
    await start('s3cret-token');
    const stat = (authorization?: string) =>
      app.inject({ url: '/k8s-audit/stats', headers: authorization ? { authorization } : {} });
    expect((await stat()).statusCode).toBe(401);
    expect((await stat('Bearer s3cret')).statusCode).toBe(401);
    expect((await stat('Bearer s3cret-token-and-more')).statusCode).toBe(401);
    expect((await stat('Basic s3cret-token')).statusCode).toBe(401);
    expect((await stat('Bearer s3cret-token')).statusCode).toBe(200);
    const post = (authorization?: string) =>
      app.inject({
        method: 'POST',
        url: '/k8s-audit',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        payload: JSON.stringify(EXEC),
      });
    expect((await post()).statusCode).toBe(401);
    expect((await post('Bearer s3cret-token')).json()).toMatchObject({ accepted: 1 });
    expect(stats).toMatchObject({ requests: 1, events: 1 });
  });

  it('answers 401 before reading the body', async () => {
    await start('s3cret-token');
    // 4 MB announced, 9 bytes sent: only an answer given before the body is read arrives.
    const refused = await partialPost(port, ['Authorization: Bearer wrong'], 4_000_000, '{"kind":');
    expect(refused).toMatch(/^HTTP\/1\.1 401 /);
    expect(refused.toLowerCase()).toContain('connection: close');
    const waiting = await partialPost(port, ['Authorization: Bearer s3cret-token'], 4_000_000, '{"kind":');
    expect(waiting).toBe('no answer');
    expect(stats.requests).toBe(0);
  });

  it('compares tokens of any length without throwing', () => {
    expect(bearerMatches('Bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('bearer   abc ', 'abc')).toBe(true);
    for (const h of [undefined, '', 'Bearer', 'Bearer ab', 'Bearer abcd', 'abc', ['Bearer abc']])
      expect(bearerMatches(h, 'abc'), String(h)).toBe(false);
  });
});

interface Served {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  stderr: () => string;
  /** Resolves with the first match of `re` in what the server wrote to stderr. */
  stderrMatch: (re: RegExp) => Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

async function serve(args: string[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'rules', 'serve', '--rules', rulesFile, '--port', '0', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stderr.on('data', (d: string) => (err += d));
  const stderrMatch = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolveMatch, reject) => {
      const look = () => {
        const m = re.exec(err);
        if (!m) return false;
        child.stderr.off('data', look);
        resolveMatch(m);
        return true;
      };
      if (look()) return;
      child.stderr.on('data', look);
      void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
    });
  // A server that never says where it listens is stopped, not left behind.
  const timer = setTimeout(() => child.kill(), 20_000);
  const url = (
    await stderrMatch(/listening on (http:\/\/\S+)\/k8s-audit/).finally(() => clearTimeout(timer))
  )[1];
  return { child, url, stderr: () => err, stderrMatch, exited };
}

const postEvent = (url: string, token?: string) =>
  fetch(`${url}/k8s-audit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(EXEC),
  });

describe('vigie rules serve', () => {
  it('requires a token by default, generated and printed once when none is given', async () => {
    const s = await serve([]);
    try {
      const token = (await s.stderrMatch(/Authorization: Bearer (\S+?)"/))[1];
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect((await postEvent(s.url)).status).toBe(401);
      expect((await fetch(`${s.url}/k8s-audit/stats`)).status).toBe(401);
      const firstLine = new Promise<string>((r) => s.child.stdout.once('data', (d: Buffer) => r(String(d))));
      expect((await postEvent(s.url, token)).status).toBe(200);
      expect(JSON.parse(await firstLine)).toMatchObject({ rule: 'Exec into pod', source: 'k8s_audit' });
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  }, 30_000);

  it('stops quietly when the reader of its alerts goes away', async () => {
    const s = await serve(['--token', 'a-token']);
    try {
      const firstLine = new Promise<string>((r) => s.child.stdout.once('data', (d: Buffer) => r(String(d))));
      expect((await postEvent(s.url, 'a-token')).status).toBe(200);
      await firstLine;
      // The reader goes away (`vigie rules serve ... | head -1`): the next alerts cannot be written.
      s.child.stdout.destroy();
      for (let i = 0; i < 5; i++) await postEvent(s.url, 'a-token').catch(() => undefined);
      expect(await s.exited).toBe(0);
      expect(s.stderr()).not.toMatch(/EPIPE|Error|\n\s+at /);
    } finally {
      s.child.kill();
    }
  }, 30_000);

  it('serves without a token only with --no-auth, and says so', async () => {
    const s = await serve(['--no-auth']);
    try {
      await s.stderrMatch(/WARNING: --no-auth: anyone who can reach http:\/\/127\.0\.0\.1:\d+ may post/);
      expect((await postEvent(s.url)).status).toBe(200);
      expect((await fetch(`${s.url}/k8s-audit/stats`)).status).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
  }, 30_000);

  it('takes the token from a file and refuses contradictory options', async () => {
    const run = async (args: string[]) => {
      const p = new Command().exitOverride();
      register(p);
      await p.parseAsync(['node', 'vigie', 'rules', 'serve', '--rules', rulesFile, '--port', '0', ...args]);
    };
    await expect(run(['--no-auth', '--token', 'x'])).rejects.toThrow(/--no-auth contradicts/);
    await expect(run(['--token', 'x', '--token-file', rulesFile])).rejects.toThrow(/not both/);
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n', { mode: 0o600 });
    await expect(run(['--token-file', empty])).rejects.toThrow(/empty token/);
    const file = join(dir, 'token');
    writeFileSync(file, 'from-a-file\n', { mode: 0o600 });
    const s = await serve(['--token-file', file]);
    try {
      expect(s.stderr()).not.toMatch(/generated|WARNING/);
      expect((await postEvent(s.url, 'from-a-file')).status).toBe(200);
      expect((await postEvent(s.url, 'from-a-fil')).status).toBe(401);
    } finally {
      s.child.kill('SIGTERM');
    }
  }, 30_000);
});
