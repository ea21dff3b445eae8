import { request } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExceptions } from '../../../src/detect/posture/exceptions.js';
import { createAdmissionServer } from '../../../src/server/admission.js';
import { admissionManifest } from '../../../src/cli/commands/admission.js';
import { loadText } from '../../../src/detect/posture/load.js';
import { makeCa, selfSignedCert, signedBy, type Pem } from './tls.js';

// The API server's side: it trusts the serving certificate and presents its client certificate.
const clientCa = makeCa('apiserver-clients');
const apiserver = signedBy(clientCa, 'kube-apiserver', 'client');

function post(
  url: string,
  ca: Buffer,
  body: string,
  client: Pem = apiserver,
): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/validate`,
      {
        method: 'POST',
        ca,
        cert: client.cert,
        key: client.key,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const review = (object: unknown, uid = 'u-1', operation = 'CREATE') =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, operation, namespace: 'team', kind: { group: '', version: 'v1', kind: 'Pod' }, object },
  });

const privileged = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'app:1.0', securityContext: { privileged: true } }] },
};
const modest = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'q' },
  spec: { containers: [{ name: 'c', image: 'app:1.0' }] },
};

describe('admission webhook over HTTPS', () => {
  const tls = selfSignedCert();
  let app: FastifyInstance;
  let dry: FastifyInstance;
  let url = '';
  let dryUrl = '';
  beforeAll(async () => {
    app = await createAdmissionServer({
      tls,
      clientAuth: { ca: clientCa.cert },
      denyOn: 'high',
      exceptions: parseExceptions(
        '- {control: VG-POD-001, namespace: team, name: allowed-*, reason: lab node}\n',
      ),
    });
    dry = await createAdmissionServer({
      tls,
      clientAuth: { ca: clientCa.cert },
      denyOn: 'high',
      dryRun: true,
    });
    url = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('127.0.0.1', 'localhost');
    dryUrl = (await dry.listen({ port: 0, host: '127.0.0.1' })).replace('127.0.0.1', 'localhost');
  });
  afterAll(async () => {
    await app?.close();
    await dry?.close();
  });

  it('denies at or above the threshold with the reasons, warns below it', async () => {
    const denied = await post(url, tls.cert, review(privileged, 'uid-deny'));
    expect(denied.status).toBe(200);
    expect(denied.json.apiVersion).toBe('admission.k8s.io/v1');
    expect(denied.json.response.uid).toBe('uid-deny');
    expect(denied.json.response.allowed).toBe(false);
    expect(denied.json.response.status.code).toBe(403);
    expect(denied.json.response.status.message).toMatch(
      /VG-POD-001 \(critical\) spec.containers\[0\].securityContext.privileged/,
    );
    expect(denied.json.response.status.message).toMatch(/team\/p/);

    const warned = await post(url, tls.cert, review(modest, 'uid-warn'));
    expect(warned.json.response.allowed).toBe(true);
    expect(warned.json.response.warnings.some((w: string) => w.startsWith('VG-POD-002'))).toBe(true);
  });

  it('lets exceptions through and allows deletes', async () => {
    const ok = await post(
      url,
      tls.cert,
      review({ ...privileged, metadata: { name: 'allowed-1' } }, 'uid-ex'),
    );
    expect(ok.json.response.allowed).toBe(true);
    const del = await post(url, tls.cert, review(null, 'uid-del', 'DELETE'));
    expect(del.json.response.allowed).toBe(true);
  });

  it('in dry-run mode never denies and says what it would have denied', async () => {
    const r = await post(dryUrl, tls.cert, review(privileged, 'uid-dry'));
    expect(r.json.response.allowed).toBe(true);
    expect(r.json.response.warnings.some((w: string) => w.startsWith('[would deny] VG-POD-001'))).toBe(true);
  });

  it('answers 400 with the reason for a bad AdmissionReview', async () => {
    const cases: [string, RegExp][] = [
      ['{not json', /./],
      [
        JSON.stringify({
          kind: 'AdmissionReview',
          apiVersion: 'admission.k8s.io/v1beta1',
          request: { uid: 'x' },
        }),
        /apiVersion/,
      ],
      [JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1' }), /request is missing/],
      [
        JSON.stringify({
          kind: 'AdmissionReview',
          apiVersion: 'admission.k8s.io/v1',
          request: { object: {} },
        }),
        /uid/,
      ],
      [JSON.stringify([1, 2]), /JSON object/],
    ];
    for (const [body, re] of cases) {
      const r = await post(url, tls.cert, body);
      expect(r.status, body).toBe(400);
      expect(r.json.error, body).toMatch(re);
    }
  });

  it('prints a registration manifest: ValidatingWebhookConfiguration + Service', () => {
    const text = admissionManifest({
      namespace: 'vigie',
      service: 'vigie-admission',
      port: 8443,
      caBundle: 'Q0E=',
      failurePolicy: 'Ignore',
      denyOn: 'high',
    });
    const { objects, errors } = loadText(text, 'manifest');
    expect(errors).toEqual([]);
    const [hook, svc] = objects.map((o) => o.obj);
    expect(hook.kind).toBe('ValidatingWebhookConfiguration');
    expect(hook.webhooks[0].admissionReviewVersions).toEqual(['v1']);
    expect(hook.webhooks[0].clientConfig.service).toMatchObject({
      namespace: 'vigie',
      name: 'vigie-admission',
      path: '/validate',
      port: 8443,
    });
    expect(hook.webhooks[0].clientConfig.caBundle).toBe('Q0E=');
    expect(svc.kind).toBe('Service');
  });
});
