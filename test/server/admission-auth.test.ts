/**
 * Caller authentication of the admission webhook, over real TLS: a client certificate from the
 * configured CA (checked in the handshake), a bearer token (checked before the body is read), the
 * throttle of failed token checks, /metrics behind the same checks, and the CLI's refusal to serve
 * without authentication unless --no-client-auth says so.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdmissionServer } from '../../src/server/admission.js';
import { admissionManifest, register } from '../../src/cli/commands/admission.js';
import { loadText } from '../../src/detect/posture/load.js';
import { makeCa, signedBy, type Pem } from '../detect/posture/tls.js';

const ROOT = resolve(__dirname, '..', '..');

// The webhook's serving certificate, and the API server's client certificates: one from the CA the
// webhook trusts, one from another CA.
const servingCa = makeCa('serving');
const serving = signedBy(servingCa, 'localhost', 'server');
const clientCa = makeCa('apiserver-clients');
const apiserver = signedBy(clientCa, 'kube-apiserver', 'client');
const otherCa = makeCa('someone-else');
const stranger = signedBy(otherCa, 'kube-apiserver', 'client');
const tls = { cert: serving.cert, key: serving.key };

const REVIEW = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'uid-1',
    operation: 'CREATE',
    namespace: 'team',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'app:1.0', securityContext: { privileged: true } }] },
    },
  },
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request; rejects with the TLS or socket error when no HTTP answer comes. */
function call(
  port: number,
  o: { method?: string; path?: string; client?: Pem; token?: string; body?: string },
): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const opts: RequestOptions = {
      host: '127.0.0.1',
      servername: 'localhost',
      port,
      method: o.method ?? 'POST',
      path: o.path ?? '/validate',
      ca: servingCa.cert,
      agent: false,
      headers: {
        'content-type': 'application/json',
        ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}),
      },
      ...(o.client ? { cert: o.client.cert, key: o.client.key } : {}),
    };
    const req = request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.method === 'GET' ? undefined : (o.body ?? REVIEW));
  });
}

/** Over TLS: the request line and headers, then only `first` of a body announced as `length` bytes. */
function partialPost(port: number, headers: string[], length: number, first: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: servingCa.cert, servername: 'localhost' });
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
        'POST /validate HTTP/1.1',
        'Host: localhost',
        'Content-Type: application/json',
        `Content-Length: ${length}`,
        ...headers,
        '',
        first,
      ].join('\r\n'),
    );
  });
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

describe('admission webhook with a client CA (mutual TLS)', () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    app = await createAdmissionServer({ tls, clientAuth: { ca: clientCa.cert }, denyOn: 'high' });
    port = await listen(app);
  });
  afterAll(async () => app?.close());

  it('reviews a request that presents a certificate from the CA', async () => {
    const r = await call(port, { client: apiserver });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).response).toMatchObject({ uid: 'uid-1', allowed: false });
  });

  it('refuses, in the TLS handshake, a client without a certificate or with one from another CA', async () => {
    // No HTTP answer at all: the connection ends with a TLS alert.
    await expect(call(port, {})).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/),
    });
    await expect(call(port, { client: stranger })).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET|EPIPE/),
    });
    // The serving certificate itself is no client certificate of the trusted CA either.
    await expect(call(port, { client: serving })).rejects.toBeInstanceOf(Error);
    // /healthz and /metrics sit behind the same handshake.
    await expect(call(port, { method: 'GET', path: '/healthz' })).rejects.toBeInstanceOf(Error);
    await expect(call(port, { method: 'GET', path: '/metrics' })).rejects.toBeInstanceOf(Error);
  });

  it('counts refused handshakes in /metrics, served to an authenticated caller', async () => {
    const m = await call(port, { method: 'GET', path: '/metrics', client: apiserver });
    expect(m.status).toBe(200);
    const failures = Number(/vigie_admission_tls_failures_total (\d+)/.exec(m.body)?.[1]);
    expect(failures).toBeGreaterThanOrEqual(4);
    expect(m.body).toMatch(/vigie_admission_reviews_total [1-9]/);
  });
});

describe('admission webhook with a bearer token', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  const start = async (max = 20) => {
    app = await createAdmissionServer({
      tls,
      clientAuth: { token: 'the-apiserver-token' },
      authFailureLimit: { max, windowMs: 60_000 },
      denyOn: 'high',
    });
    return listen(app);
  };

  it('reviews with the token, answers 401 and closes the connection without it', async () => {
    const port = await start();
    const ok = await call(port, { token: 'the-apiserver-token' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).response.uid).toBe('uid-1');
    for (const token of [undefined, '', 'the-apiserver', 'the-apiserver-token-and-more']) {
      const r = await call(port, { token });
      expect(r.status, String(token)).toBe(401);
      expect(r.headers.connection).toBe('close');
    }
  });

  it('answers 401 before reading the body', async () => {
    const port = await start();
    // 8 MB announced, 9 bytes sent: only an answer given before the body is read arrives.
    const refused = await partialPost(port, ['Authorization: Bearer wrong'], 8_000_000, '{"kind":');
    expect(refused).toMatch(/^HTTP\/1\.1 401 /);
    expect(refused.toLowerCase()).toContain('connection: close');
    const waiting = await partialPost(
      port,
      ['Authorization: Bearer the-apiserver-token'],
      8_000_000,
      '{"kind":',
    );
    expect(waiting).toBe('no answer');
  });

  it('guards /metrics with the token and leaves /healthz open', async () => {
    const port = await start();
    expect((await call(port, { method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await call(port, { method: 'GET', path: '/metrics' })).status).toBe(401);
    expect((await call(port, { method: 'GET', path: '/nowhere' })).status).toBe(401);
    const m = await call(port, { method: 'GET', path: '/metrics', token: 'the-apiserver-token' });
    expect(m.status).toBe(200);
    expect(m.body).toContain('vigie_admission_auth_failures_total 2');
  });

  it('throttles failed authentications with 429 and Retry-After, never the right token', async () => {
    const port = await start(3);
    for (let i = 0; i < 3; i++) expect((await call(port, { token: `guess-${i}` })).status).toBe(401);
    const limited = await call(port, { token: 'guess-3' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers.connection).toBe('close');
    expect((await call(port, { token: 'the-apiserver-token' })).status).toBe(200);
  });
});

describe('admission webhook with both a client CA and a token', () => {
  it('requires both', async () => {
    const app = await createAdmissionServer({
      tls,
      clientAuth: { ca: clientCa.cert, token: 'tok' },
      denyOn: 'high',
    });
    try {
      const port = await listen(app);
      expect((await call(port, { client: apiserver })).status).toBe(401);
      expect((await call(port, { client: apiserver, token: 'tok' })).status).toBe(200);
      await expect(call(port, { token: 'tok' })).rejects.toBeInstanceOf(Error);
    } finally {
      await app.close();
    }
  });

  it('refuses a configuration that authenticates nobody by mistake', async () => {
    await expect(createAdmissionServer({ tls, clientAuth: {} })).rejects.toThrow(/CA, a token or both/);
    await expect(createAdmissionServer({ tls, clientAuth: { token: '' } })).rejects.toThrow(/empty/);
    await expect(createAdmissionServer({ clientAuth: { ca: clientCa.cert } })).rejects.toThrow(/needs TLS/);
  });
});

describe('vigie admission serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-admission-cli-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'file-token\n');
  const base = ['admission', 'serve', '--tls-cert', serving.certPath, '--tls-key', serving.keyPath];

  const refusal = async (args: string[]) => {
    const program = new Command().exitOverride();
    register(program);
    return program.parseAsync(['node', 'vigie', ...base, ...args]).then(
      () => undefined,
      (e: Error & { exitCode?: number }) => ({ exitCode: e.exitCode, message: e.message }),
    );
  };

  it('refuses to serve without caller authentication unless --no-client-auth says so', async () => {
    expect(await refusal([])).toMatchObject({ exitCode: 2, message: /--client-ca and\/or --token-file/ });
    expect(await refusal(['--no-client-auth', '--token-file', tokenFile])).toMatchObject({
      exitCode: 2,
      message: /contradicts/,
    });
    expect(await refusal(['--client-ca', join(dir, 'missing.crt')])).toMatchObject({
      exitCode: 2,
      message: /cannot read/,
    });
  });

  it('serves with a client CA and a token file', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        ...base,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--client-ca',
        clientCa.certPath,
        '--token-file',
        tokenFile,
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.setEncoding('utf8');
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const port = await new Promise<number>((resolvePort, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 20_000);
        child.stderr.on('data', (d: string) => {
          err += d;
          const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            resolvePort(Number(m[1]));
          }
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect(err).toContain('callers need client certificate and bearer token');
      expect((await call(port, { client: apiserver, token: 'file-token' })).status).toBe(200);
      expect((await call(port, { client: apiserver, token: 'other' })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 30_000);
});

describe('vigie admission manifest', () => {
  const render = (clientAuth: 'cert' | 'token' | 'none', port = 8443) =>
    admissionManifest({
      namespace: 'vigie',
      service: 'vigie-admission',
      port,
      failurePolicy: 'Ignore',
      denyOn: 'high',
      clientAuth,
    });
  const deployment = (text: string) => {
    const { objects, errors } = loadText(text, 'manifest');
    expect(errors).toEqual([]);
    const d = objects.map((o) => o.obj).find((o) => o.kind === 'Deployment')!;
    const pod = d.spec.template.spec;
    return { args: pod.containers[0].args as string[], pod };
  };

  it('runs the webhook with the client CA mounted, and says how the API server presents its certificate', () => {
    const text = render('cert');
    const { args, pod } = deployment(text);
    expect(args).toEqual(expect.arrayContaining(['--client-ca', '/client-ca/ca.crt']));
    expect(pod.volumes).toContainEqual({
      name: 'client-ca',
      configMap: { name: 'vigie-admission-client-ca' },
    });
    expect(pod.containers[0].readinessProbe.tcpSocket.port).toBe(8443);
    expect(text).toContain('kind: AdmissionConfiguration');
    expect(text).toContain('kind: WebhookAdmissionConfiguration');
    expect(text).toContain('- name: vigie-admission.vigie.svc:8443');
    expect(text).toContain('client-certificate: /etc/kubernetes/vigie/apiserver-client.crt');
    // The port is left out of the kubeconfig user's name on 443.
    expect(render('cert', 443)).toContain('- name: vigie-admission.vigie.svc\n');
  });

  it('runs it with the token mounted, or without authentication only when asked', () => {
    const token = render('token');
    expect(deployment(token).args).toEqual(expect.arrayContaining(['--token-file', '/token/token']));
    expect(deployment(token).pod.volumes).toContainEqual({
      name: 'token',
      secret: { secretName: 'vigie-admission-token', defaultMode: 0o440 },
    });
    expect(token).toContain('token: <the token>');
    const none = render('none');
    expect(deployment(none).args).toContain('--no-client-auth');
    expect(none).toMatch(/NetworkPolicy/);
    expect(none).not.toContain('AdmissionConfiguration');
  });
});
