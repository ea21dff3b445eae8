/**
 * Posture benchmarks: objects scanned per second over a synthetic 10,000-object cluster dump (one
 * core: the engine is single-threaded), `vigie scan` of a 100,000-pod List with table output (time
 * and peak memory of the command, beside a 1,000-pod List), and admission review latency over HTTPS
 * on loopback.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalogue } from '../src/detect/posture/catalogue.js';
import { evaluate } from '../src/detect/posture/engine.js';
import { loadText } from '../src/detect/posture/load.js';
import type { K8sObject } from '../src/detect/posture/types.js';
import { createAdmissionServer, parseReview, review } from '../src/server/admission.js';
import { selfSignedCert } from '../test/detect/posture/tls.js';
import { fmt, hrms, percentile, row } from './util.js';

/** A cluster-shaped mix: workloads with pods and ReplicaSets, Services, RBAC, policies, config. */
export function syntheticCluster(total = 10_000): K8sObject[] {
  const out: K8sObject[] = [];
  const nsCount = 50;
  let i = 0;
  const ns = (k: number): string => `team-${k % nsCount}`;
  for (let k = 0; k < nsCount; k++)
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns(k),
        labels: k % 3 === 0 ? { 'pod-security.kubernetes.io/enforce': 'baseline' } : {},
      },
    });
  const container = (n: number): K8sObject => ({
    name: `c${n}`,
    image: n % 4 === 0 ? `nginx:latest` : `registry.example.com/app-${n % 97}:1.${n % 10}.0`,
    ports: [{ containerPort: 8080 + (n % 3) }],
    env: [
      { name: 'MODE', value: 'prod' },
      { name: n % 7 === 0 ? 'DB_PASSWORD' : 'LOG_LEVEL', value: n % 7 === 0 ? 'hunter2hunter2' : 'info' },
    ],
    resources:
      n % 2 === 0
        ? { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } }
        : {},
    securityContext:
      n % 5 === 0
        ? { privileged: true }
        : {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          },
    volumeMounts: [{ name: 'data', mountPath: '/data' }],
  });
  const podSpec = (n: number): K8sObject => ({
    serviceAccountName: `sa-${n % 10}`,
    containers: [container(n), container(n + 1)],
    volumes: [
      n % 11 === 0
        ? { name: 'data', hostPath: { path: '/var/run/docker.sock' } }
        : { name: 'data', emptyDir: {} },
    ],
  });
  while (out.length < total) {
    const n = i++;
    const namespace = ns(n);
    const labels = { app: `app-${n}`, tier: n % 2 ? 'api' : 'web' };
    switch (n % 20) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
      case 5:
        out.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `app-${n}-abc12`,
            namespace,
            labels,
            ownerReferences: [{ kind: 'ReplicaSet', name: `app-${n}-6d5f7`, controller: true }],
          },
          spec: podSpec(n),
        });
        break;
      case 6:
      case 7:
        out.push({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: `app-${n}`, namespace },
          spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(n) } },
        });
        break;
      case 8:
      case 9:
        out.push({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: { name: `app-${n}-6d5f7`, namespace },
          spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(n) } },
        });
        break;
      case 10:
        out.push({
          apiVersion: 'apps/v1',
          kind: n % 40 === 10 ? 'StatefulSet' : 'DaemonSet',
          metadata: { name: `set-${n}`, namespace },
          spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(n) } },
        });
        break;
      case 11:
        out.push({
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: `job-${n}`, namespace },
          spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { spec: podSpec(n) } } } },
        });
        break;
      case 12:
      case 13:
        out.push({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: `svc-${n}`, namespace: ns(n - 6) },
          spec: {
            type: n % 10 === 2 ? 'LoadBalancer' : 'ClusterIP',
            selector: { app: `app-${n - 6}` },
            ports: [{ port: 80, targetPort: 8080 }],
          },
        });
        break;
      case 14:
      case 15:
        out.push({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `cfg-${n}`, namespace },
          data: {
            LOG_LEVEL: 'info',
            URL: 'http://x',
            ...(n % 6 === 0 ? { api_token: 'eyJhbGciOiJIUzI1NiJ9.payload.sig' } : {}),
          },
        });
        break;
      case 16:
        out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${n % 10}`, namespace } });
        break;
      case 17:
        out.push({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: `role-${n}`, namespace },
          rules: [
            {
              apiGroups: [''],
              resources: ['pods', n % 3 ? 'configmaps' : 'secrets'],
              verbs: ['get', 'list', n % 5 ? 'watch' : 'create'],
            },
          ],
        });
        break;
      case 18:
        out.push({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: `rb-${n}`, namespace: ns(n - 1) },
          roleRef: { kind: 'Role', name: `role-${n - 1}`, apiGroup: 'rbac.authorization.k8s.io' },
          subjects: [{ kind: 'ServiceAccount', name: `sa-${(n - 1) % 10}`, namespace: ns(n - 1) }],
        });
        break;
      default:
        out.push(
          n % 3 === 0
            ? {
                apiVersion: 'networking.k8s.io/v1',
                kind: 'NetworkPolicy',
                metadata: { name: `np-${n}`, namespace },
                spec: { podSelector: { matchLabels: { tier: 'api' } }, policyTypes: ['Ingress'] },
              }
            : {
                apiVersion: 'networking.k8s.io/v1',
                kind: 'Ingress',
                metadata: { name: `ing-${n}`, namespace: ns(n - 13) },
                spec: {
                  rules: [
                    {
                      http: {
                        paths: [
                          {
                            path: '/',
                            pathType: 'Prefix',
                            backend: { service: { name: `svc-${n - 7}`, port: { number: 80 } } },
                          },
                        ],
                      },
                    },
                  ],
                },
              },
        );
    }
  }
  return out.slice(0, total);
}

async function scanThroughput(): Promise<void> {
  const objects = syntheticCluster(10_000);
  const dump = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
  const controls = loadCatalogue();
  // Every control runs, those that need inputs included (as with a full --settings file).
  const settings = {
    imageRepositoryAllowList: ['registry.example.com'],
    untrustedRegistries: ['quay.io'],
    cloudProvider: ['eks'],
  };
  // warm-up (JIT), then timed runs
  evaluate(loadText(dump, 'dump.json').objects, { controls, settings });
  const runs = 5;
  const parseTimes: number[] = [];
  const evalTimes: number[] = [];
  const cpuTimes: number[] = [];
  let findings = 0;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = hrms();
    const loaded = loadText(dump, 'dump.json').objects;
    const t1 = hrms();
    const res = evaluate(loaded, { controls, settings });
    const t2 = hrms();
    const c = process.cpuUsage(c0);
    parseTimes.push(t1 - t0);
    evalTimes.push(t2 - t1);
    cpuTimes.push((c.user + c.system) / 1000);
    findings = res.findings.length;
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const total = med(parseTimes.map((p, k) => p + evalTimes[k]));
  // CPU time of the process (user + system) measures one core's work even when the machine is
  // shared; the wall-clock figure is what a user waits on this machine at this moment.
  row(
    'CPU time per scan, parse + evaluate (best / median of 5)',
    `${fmt(Math.min(...cpuTimes), 1)} / ${fmt(med(cpuTimes), 1)} ms`,
  );
  row(
    'objects scanned per CPU-second (best run; target >= 20,000)',
    fmt((objects.length / Math.min(...cpuTimes)) * 1000),
  );
  row('objects scanned per CPU-second (median run)', fmt((objects.length / med(cpuTimes)) * 1000));
  row(
    'synthetic cluster dump',
    `${fmt(objects.length)} objects, ${fmt(dump.length / 1e6, 1)} MB JSON, ${controls.length} controls`,
  );
  row('findings per scan', fmt(findings));
  row('parse (median of 5)', `${fmt(med(parseTimes), 1)} ms`);
  row('evaluate (median of 5)', `${fmt(med(evalTimes), 1)} ms`);
  row(
    'objects scanned per wall-clock second, parse + evaluate (median)',
    fmt((objects.length / total) * 1000),
  );
  row('objects scanned per second, evaluate only', fmt((objects.length / med(evalTimes)) * 1000));
  // Parsing the same dump in the same runs is the baseline: the ratio moves less with the
  // machine's load than the absolute figures do.
  row(
    'evaluate time / parse time of the same dump (median over the same runs)',
    `${fmt(med(evalTimes.map((e, k) => e / parseTimes[k])), 2)}x`,
  );
}

/** A `kubectl get pods -A -o json` shaped List of `n` pods, one in five privileged. */
function podList(n: number): string {
  const items: K8sObject[] = [];
  for (let i = 0; i < n; i++)
    items.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${i}`, namespace: `team-${i % 50}`, labels: { app: `app-${i % 100}` } },
      spec: {
        containers: [
          {
            name: 'c',
            image: i % 4 === 0 ? 'nginx:latest' : `registry.example.com/app-${i % 97}:1.0.0`,
            securityContext: i % 5 === 0 ? { privileged: true } : { runAsNonRoot: true },
          },
        ],
      },
    });
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/**
 * One `vigie scan FILE` (table output) in a child process under /usr/bin/time -v, which reports the
 * child's peak resident set; the report itself is counted and dropped by this process.
 */
function timedScan(
  file: string,
): Promise<{ seconds: number; peakMb: number; outBytes: number; last: string }> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const node = [process.execPath, '--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'scan', file];
  const time = '/usr/bin/time';
  const [cmd, ...args] = existsSync(time) ? [time, '-v', ...node] : node;
  return new Promise((resolve, reject) => {
    const t0 = hrms();
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let outBytes = 0;
    let tail = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      tail = (tail + d.toString('utf8')).slice(-400);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => {
      const seconds = (hrms() - t0) / 1000;
      if (code !== 0) return reject(new Error(`vigie scan exited ${code}: ${err.slice(-500)}`));
      const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
      const lines = tail.trimEnd().split('\n');
      resolve({ seconds, peakMb: kb ? Number(kb[1]) / 1024 : NaN, outBytes, last: lines[lines.length - 1] });
    });
  });
}

async function largeListScan(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-bench-list-'));
  try {
    for (const n of [1_000, 100_000]) {
      const file = join(dir, `pods-${n}.json`);
      const text = podList(n);
      writeFileSync(file, text);
      const r = await timedScan(file);
      row(
        `vigie scan of a ${fmt(n)}-pod List, table (${fmt(text.length / 1e6, 1)} MB JSON)`,
        `${fmt(r.seconds, 1)} s, peak ${Number.isNaN(r.peakMb) ? 'n/a (no /usr/bin/time)' : `${fmt(r.peakMb)} MB`} RSS, ${fmt(r.outBytes / 1e6, 1)} MB of report`,
      );
      row('  its summary line', r.last.replace(/^.*? controls: /, ''));
    }
    row('  (targets for 100,000 pods)', 'under 60 s and 1,024 MB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function admissionLatency(): Promise<void> {
  const tls = selfSignedCert();
  const app = await createAdmissionServer({ tls, denyOn: 'high', clientAuth: 'none' });
  const url = new URL((await app.listen({ port: 0, host: '127.0.0.1' })).replace('127.0.0.1', 'localhost'));
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: tls.cert });
  const objects = syntheticCluster(400).filter((o) =>
    ['Pod', 'Deployment', 'CronJob', 'Service', 'ConfigMap'].includes(String(o.kind)),
  );
  const bodies = objects.map((o, i) =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u${i}`,
        operation: 'CREATE',
        namespace: o.metadata?.namespace,
        kind: { group: '', version: 'v1', kind: o.kind },
        object: o,
      },
    }),
  );
  const send = (body: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = hrms();
      const req = request(
        {
          host: 'localhost',
          port: Number(url.port),
          path: '/validate',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve(hrms() - t0) : reject(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  for (let i = 0; i < 200; i++) await send(bodies[i % bodies.length]);
  const lat: number[] = [];
  const n = 3000;
  for (let i = 0; i < n; i++) lat.push(await send(bodies[i % bodies.length]));
  lat.sort((a, b) => a - b);
  row(
    'admission reviews (HTTPS, keep-alive, loopback, sequential)',
    `${fmt(n)} over ${objects.length} distinct objects`,
  );
  row('admission latency p50', `${fmt(percentile(lat, 50), 2)} ms`);
  row('admission latency p99 (target <= 10 ms)', `${fmt(percentile(lat, 99), 2)} ms`);
  row('admission latency max', `${fmt(lat[lat.length - 1], 2)} ms`);
  agent.destroy();
  await app.close();
  // The decision alone (parse + evaluate one object), without TLS, HTTP and the scheduler.
  const inproc: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.parse(bodies[i % bodies.length]);
    const t0 = hrms();
    review(parseReview(body), { denyOn: 'high' });
    inproc.push(hrms() - t0);
  }
  inproc.sort((a, b) => a - b);
  row(
    'review decision in process p50 / p99',
    `${fmt(percentile(inproc, 50), 3)} / ${fmt(percentile(inproc, 99), 3)} ms`,
  );
}

export async function run(): Promise<void> {
  // Figures on a shared machine move with its load: print it beside them.
  row(
    'machine',
    `${cpus().length} cores, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
  );
  await scanThroughput();
  await largeListScan();
  await admissionLatency();
}
