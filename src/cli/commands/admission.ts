/** `vigie admission serve|manifest`: the validating admission webhook and its registration. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadExceptions } from '../../detect/posture/exceptions.js';
import { loadSettings } from '../../detect/posture/settings.js';
import { parseSeverity } from '../../detect/posture/types.js';
import { createAdmissionServer } from '../../server/admission.js';

function fail(msg: string): never {
  const e = new Error(msg) as Error & { exitCode: number };
  e.exitCode = 2;
  throw e;
}

export function admissionManifest(o: {
  namespace: string;
  service: string;
  port: number;
  caBundle?: string;
  failurePolicy: string;
  denyOn: string;
}): string {
  const ca = o.caBundle ? `\n      caBundle: ${o.caBundle}` : '';
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vigie-posture
  labels:
    app.kubernetes.io/name: vigie
    app.kubernetes.io/component: admission
webhooks:
  - name: posture.vigie.dev
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: ${o.failurePolicy}
    timeoutSeconds: 5
    matchPolicy: Equivalent
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: ["kube-system", "${o.namespace}"]
    rules:
      - apiGroups: ["", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"]
        apiVersions: ["*"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers", "podtemplates", "services", "ingresses", "configmaps", "roles", "rolebindings", "clusterroles", "clusterrolebindings"]
        scope: "*"
    clientConfig:
      service:
        namespace: ${o.namespace}
        name: ${o.service}
        path: /validate
        port: ${o.port}${ca}
---
apiVersion: v1
kind: Service
metadata:
  name: ${o.service}
  namespace: ${o.namespace}
  labels:
    app.kubernetes.io/name: vigie
    app.kubernetes.io/component: admission
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: vigie
    app.kubernetes.io/component: admission
  ports:
    - name: https
      port: ${o.port}
      targetPort: ${o.port}
      protocol: TCP
# The webhook denies findings at or above: ${o.denyOn}. Run the server with:
#   vigie admission serve --tls-cert /tls/tls.crt --tls-key /tls/tls.key --port ${o.port} --deny-on ${o.denyOn}
`;
}

export function register(program: Command): void {
  const adm = program
    .command('admission')
    .description('validating admission webhook that blocks or warns on misconfigurations');
  adm
    .command('serve')
    .description('serve AdmissionReview v1 over HTTPS (POST /validate)')
    .requiredOption('--tls-cert <file>', 'PEM certificate')
    .requiredOption('--tls-key <file>', 'PEM private key')
    .option('--port <n>', 'port', '8443')
    .option('--host <addr>', 'listen address', '0.0.0.0')
    .option('--dry-run', 'never deny; report what would be denied as warnings')
    .option('--deny-on <severity>', 'deny findings at or above this severity', 'high')
    .option('--exceptions <file>', 'exceptions file')
    .option('--settings <file>', 'control inputs, as for vigie scan --settings')
    .action(
      async (opts: {
        tlsCert: string;
        tlsKey: string;
        port: string;
        host: string;
        dryRun?: boolean;
        denyOn: string;
        exceptions?: string;
        settings?: string;
      }) => {
        let cert: Buffer;
        let key: Buffer;
        try {
          cert = readFileSync(opts.tlsCert);
          key = readFileSync(opts.tlsKey);
        } catch (e) {
          fail(`cannot read TLS material: ${(e as Error).message}`);
        }
        let denyOn;
        try {
          denyOn = parseSeverity(opts.denyOn);
        } catch (e) {
          fail((e as Error).message);
        }
        const exceptions = opts.exceptions ? loadExceptions(opts.exceptions) : [];
        let settings;
        try {
          settings = opts.settings ? loadSettings(opts.settings) : undefined;
        } catch (e) {
          fail(`settings ${opts.settings}: ${(e as Error).message}`);
        }
        const app = await createAdmissionServer({
          tls: { cert, key },
          denyOn,
          dryRun: !!opts.dryRun,
          exceptions,
          settings,
        });
        const addr = await app.listen({ port: Number(opts.port), host: opts.host });
        process.stderr.write(
          `vigie admission: listening on ${addr} (deny on ${denyOn}${opts.dryRun ? ', dry run' : ''})\n`,
        );
        const stop = (): void => {
          void app.close().then(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
  adm
    .command('manifest')
    .description('print a ValidatingWebhookConfiguration and Service that register the webhook')
    .option('--namespace <ns>', 'namespace of the webhook service', 'vigie')
    .option('--service <name>', 'service name', 'vigie-admission')
    .option('--port <n>', 'service port', '8443')
    .option('--ca-bundle-file <file>', 'PEM CA that signed the serving certificate (embedded base64)')
    .option('--failure-policy <p>', 'Fail or Ignore', 'Ignore')
    .option('--deny-on <severity>', 'severity noted in the manifest', 'high')
    .action(
      (opts: {
        namespace: string;
        service: string;
        port: string;
        caBundleFile?: string;
        failurePolicy: string;
        denyOn: string;
      }) => {
        if (opts.failurePolicy !== 'Fail' && opts.failurePolicy !== 'Ignore')
          fail('--failure-policy must be Fail or Ignore');
        const caBundle = opts.caBundleFile ? readFileSync(opts.caBundleFile).toString('base64') : undefined;
        process.stdout.write(
          admissionManifest({
            namespace: opts.namespace,
            service: opts.service,
            port: Number(opts.port),
            caBundle,
            failurePolicy: opts.failurePolicy,
            denyOn: opts.denyOn,
          }),
        );
      },
    );
}
