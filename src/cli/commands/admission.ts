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

export type ManifestClientAuth = 'cert' | 'token' | 'none';

/** Names the manifest uses for what the operator creates (certificates, CA, token). */
export const ADMISSION_OBJECTS = {
  servingSecret: 'vigie-admission-tls',
  clientCaConfigMap: 'vigie-admission-client-ca',
  tokenSecret: 'vigie-admission-token',
} as const;

/** How the API server authenticates to the webhook, as comments (files on the control-plane nodes). */
function apiServerSide(o: {
  namespace: string;
  service: string;
  port: number;
  clientAuth: ManifestClientAuth;
}): string {
  const n = ADMISSION_OBJECTS;
  // The kubeconfig user is matched on the service's DNS name, with its port unless 443.
  const host = `${o.service}.${o.namespace}.svc${o.port === 443 ? '' : `:${o.port}`}`;
  const admissionConfig = `#   kube-apiserver --admission-control-config-file=/etc/kubernetes/vigie/admission.yaml, with
#   (add the plugin to the API server's file if it already has one):
#     apiVersion: apiserver.config.k8s.io/v1
#     kind: AdmissionConfiguration
#     plugins:
#       - name: ValidatingAdmissionWebhook
#         configuration:
#           apiVersion: apiserver.config.k8s.io/v1
#           kind: WebhookAdmissionConfiguration
#           kubeConfigFile: /etc/kubernetes/vigie/webhook-kubeconfig.yaml
#   and /etc/kubernetes/vigie/webhook-kubeconfig.yaml (mode 0600):
#     apiVersion: v1
#     kind: Config
#     users:
#       - name: ${host}
#         user:`;
  if (o.clientAuth === 'cert')
    return `# Caller authentication: a client certificate. The webhook completes the TLS handshake only with a
# certificate signed by the CA in ConfigMap ${n.clientCaConfigMap}; give one to the API server:
#   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \\
#     -subj /CN=vigie-admission-clients -addext basicConstraints=critical,CA:TRUE -keyout ca.key -out ca.crt
#   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=kube-apiserver \\
#     -keyout apiserver-client.key -out apiserver-client.csr
#   printf 'extendedKeyUsage=clientAuth\\n' > client.ext
#   openssl x509 -req -in apiserver-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \\
#     -extfile client.ext -out apiserver-client.crt
#   kubectl -n ${o.namespace} create configmap ${n.clientCaConfigMap} --from-file=ca.crt
# Keep ca.key offline. On every control-plane node, copy apiserver-client.crt and .key to
# /etc/kubernetes/vigie/ and start
${admissionConfig}
#           client-certificate: /etc/kubernetes/vigie/apiserver-client.crt
#           client-key: /etc/kubernetes/vigie/apiserver-client.key
`;
  if (o.clientAuth === 'token')
    return `# Caller authentication: a bearer token, in Secret ${n.tokenSecret}:
#   kubectl -n ${o.namespace} create secret generic ${n.tokenSecret} --from-literal=token="$(openssl rand -base64 24)"
# On every control-plane node, start
${admissionConfig}
#           token: <the token>
`;
  return `# No caller authentication (--no-client-auth): anyone who reaches port ${o.port} can submit reviews.
# Admit only the API server with a NetworkPolicy on the pods of Service ${o.service}.
`;
}

export function admissionManifest(o: {
  namespace: string;
  service: string;
  port: number;
  caBundle?: string;
  failurePolicy: string;
  denyOn: string;
  clientAuth?: ManifestClientAuth;
  image?: string;
}): string {
  const clientAuth = o.clientAuth ?? 'cert';
  const n = ADMISSION_OBJECTS;
  const ca = o.caBundle ? `\n      caBundle: ${o.caBundle}` : '';
  const authArgs =
    clientAuth === 'cert'
      ? `, '--client-ca', '/client-ca/ca.crt'`
      : clientAuth === 'token'
        ? `, '--token-file', '/token/token'`
        : `, '--no-client-auth'`;
  const authMount =
    clientAuth === 'cert'
      ? `\n            - { name: client-ca, mountPath: /client-ca, readOnly: true }`
      : clientAuth === 'token'
        ? `\n            - { name: token, mountPath: /token, readOnly: true }`
        : '';
  const authVolume =
    clientAuth === 'cert'
      ? `\n        - name: client-ca\n          configMap: { name: ${n.clientCaConfigMap} }`
      : clientAuth === 'token'
        ? `\n        - name: token\n          secret: { secretName: ${n.tokenSecret}, defaultMode: 288 }`
        : '';
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
---
# The serving certificate (valid for ${o.service}.${o.namespace}.svc) and its key, in Secret
# ${n.servingSecret} (kubectl -n ${o.namespace} create secret tls ${n.servingSecret} --cert=tls.crt --key=tls.key);
# the CA that signed it goes in the caBundle above (--ca-bundle-file).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${o.service}
  namespace: ${o.namespace}
  labels:
    app.kubernetes.io/name: vigie
    app.kubernetes.io/component: admission
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: vigie
      app.kubernetes.io/component: admission
  template:
    metadata:
      labels:
        app.kubernetes.io/name: vigie
        app.kubernetes.io/component: admission
        vigie.protect: 'true'
    spec:
      automountServiceAccountToken: false
      containers:
        - name: admission
          image: ${o.image ?? 'vigie:0.1.0'}
          args: ['admission', 'serve', '--tls-cert', '/tls/tls.crt', '--tls-key', '/tls/tls.key', '--port', '${o.port}', '--deny-on', '${o.denyOn}'${authArgs}]
          ports: [{ containerPort: ${o.port}, name: https }]
          # TCP probes: with a client CA, the TLS handshake refuses the kubelet (it has no client certificate).
          readinessProbe: { tcpSocket: { port: ${o.port} }, periodSeconds: 10 }
          livenessProbe: { tcpSocket: { port: ${o.port} }, periodSeconds: 20 }
          resources:
            requests: { cpu: 50m, memory: 128Mi }
            limits: { cpu: '1', memory: 512Mi }
          securityContext:
            runAsNonRoot: true
            runAsUser: 1000
            runAsGroup: 1000
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
            seccompProfile: { type: RuntimeDefault }
          volumeMounts:
            - { name: tls, mountPath: /tls, readOnly: true }${authMount}
      # Secret files mode 0440 (288: the decimal form reads the same in every YAML parser), group
      # fsGroup, so that the webhook's user reads them.
      securityContext:
        fsGroup: 1000
      volumes:
        - name: tls
          secret: { secretName: ${n.servingSecret}, defaultMode: 288 }${authVolume}
---
# The API server calls from the control plane, which no pod selector names: the webhook's port is
# open to any source (the caller authentication guards it); the webhook calls no one.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${o.service}
  namespace: ${o.namespace}
  labels:
    app.kubernetes.io/name: vigie
    app.kubernetes.io/component: admission
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: vigie
      app.kubernetes.io/component: admission
  policyTypes: [Ingress, Egress]
  ingress:
    - ports: [{ port: ${o.port} }]
${apiServerSide({ namespace: o.namespace, service: o.service, port: o.port, clientAuth })}`;
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
    .option(
      '--client-ca <file>',
      'require a client certificate signed by this CA (PEM), checked in the TLS handshake',
    )
    .option(
      '--token-file <file>',
      'require the bearer token in this file (first line) on every request but /healthz',
    )
    .option(
      '--no-client-auth',
      'serve without authenticating callers: anyone who reaches the port may submit reviews',
    )
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
        clientCa?: string;
        tokenFile?: string;
        clientAuth: boolean;
        settings?: string;
      }) => {
        const given = opts.clientCa !== undefined || opts.tokenFile !== undefined;
        if (!opts.clientAuth && given) fail('--no-client-auth contradicts --client-ca and --token-file');
        if (opts.clientAuth && !given)
          fail(
            'give --client-ca and/or --token-file to authenticate the API server (see `vigie admission manifest`), or --no-client-auth to serve without',
          );
        let clientCa: Buffer | undefined;
        let token: string | undefined;
        try {
          if (opts.clientCa !== undefined) clientCa = readFileSync(opts.clientCa);
          if (opts.tokenFile !== undefined)
            token = readFileSync(opts.tokenFile, 'utf8').split(/\r?\n/)[0].trim();
        } catch (e) {
          fail(`cannot read client authentication material: ${(e as Error).message}`);
        }
        if (token === '') fail(`empty token in ${opts.tokenFile}`);
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
          clientAuth: opts.clientAuth ? { ca: clientCa, token } : 'none',
          denyOn,
          dryRun: !!opts.dryRun,
          exceptions,
          settings,
        });
        const addr = await app.listen({ port: Number(opts.port), host: opts.host });
        const callers = [clientCa ? 'client certificate' : '', token ? 'bearer token' : '']
          .filter(Boolean)
          .join(' and ');
        process.stderr.write(
          `vigie admission: listening on ${addr} (deny on ${denyOn}${opts.dryRun ? ', dry run' : ''}; callers need ${callers || 'nothing'})\n`,
        );
        if (!opts.clientAuth)
          process.stderr.write(
            `WARNING: --no-client-auth: anyone who reaches ${addr} may submit reviews and read /metrics; admit only the API server with a NetworkPolicy\n`,
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
    .option('--deny-on <severity>', 'deny findings at or above this severity', 'high')
    .option(
      '--client-auth <how>',
      'how the API server authenticates to the webhook: cert (client certificate), token, or none',
      'cert',
    )
    .option('--image <ref>', 'Vigie image for the webhook Deployment', 'vigie:0.1.0')
    .action(
      (opts: {
        namespace: string;
        service: string;
        port: string;
        caBundleFile?: string;
        failurePolicy: string;
        denyOn: string;
        clientAuth: string;
        image: string;
      }) => {
        if (opts.failurePolicy !== 'Fail' && opts.failurePolicy !== 'Ignore')
          fail('--failure-policy must be Fail or Ignore');
        if (!['cert', 'token', 'none'].includes(opts.clientAuth))
          fail('--client-auth must be cert, token or none');
        try {
          parseSeverity(opts.denyOn);
        } catch (e) {
          fail((e as Error).message);
        }
        const caBundle = opts.caBundleFile ? readFileSync(opts.caBundleFile).toString('base64') : undefined;
        process.stdout.write(
          admissionManifest({
            namespace: opts.namespace,
            service: opts.service,
            port: Number(opts.port),
            caBundle,
            failurePolicy: opts.failurePolicy,
            denyOn: opts.denyOn,
            clientAuth: opts.clientAuth as ManifestClientAuth,
            image: opts.image,
          }),
        );
      },
    );
}
