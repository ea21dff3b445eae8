/** A small cluster used by the Kubernetes tests: a shop namespace with a web Deployment and a bare pod. */
import type { K8sObject } from './k8s-api-double.js';

export function shopCluster(): K8sObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vigie' } },
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
      spec: {},
    },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' }, spec: {} },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: 'shop' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop', uid: 'dep-web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { serviceAccountName: 'web', containers: [{ name: 'web', image: 'shop/web:1.0' }] },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-7d9f',
        namespace: 'shop',
        uid: 'rs-web',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-web', controller: true },
        ],
      },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } } },
    },
    pod('web-7d9f-abcde', 'shop', { app: 'web', tier: 'front' }, 'node-1', {
      serviceAccountName: 'web',
      owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-web', controller: true },
      annotations: { 'team.example/owner': 'payments' },
      volumes: [
        { name: 'docker', hostPath: { path: '/var/run/docker.sock' } },
        { name: 'creds', secret: { secretName: 'web-db-creds' } },
      ],
      privileged: true,
    }),
    pod('web-7d9f-fghij', 'shop', { app: 'web', tier: 'front' }, 'node-2', {
      serviceAccountName: 'web',
      owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-web', controller: true },
    }),
    pod('db-0', 'shop', { app: 'db' }, 'node-1', {}),
    pod('cache-0', 'shop', { app: 'cache' }, 'node-2', {}),
    pod('debug', 'shop', { app: 'debug' }, 'node-1', {}),
    pod('coredns-1', 'kube-system', { 'k8s-app': 'kube-dns' }, 'node-1', {}),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080 }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'db-from-web', namespace: 'shop' },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 5432 }] }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'cache-locked', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'cache' } }, policyTypes: ['Ingress'], ingress: [] },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'web-db-creds', namespace: 'shop' },
      type: 'Opaque',
      data: { password: 'c2VjcmV0' },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'secret-reader', namespace: 'shop' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'web-secrets', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'web-admin', namespace: 'shop', labels: { team: 'payments' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'admin' },
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    },
  ];
}

export function pod(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  node: string,
  o: {
    serviceAccountName?: string;
    owner?: Record<string, unknown>;
    annotations?: Record<string, string>;
    volumes?: Record<string, unknown>[];
    privileged?: boolean;
  },
): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels,
      annotations: o.annotations,
      ownerReferences: o.owner ? [o.owner] : undefined,
    },
    spec: {
      nodeName: node,
      serviceAccountName: o.serviceAccountName,
      volumes: o.volumes,
      containers: [
        {
          name: 'main',
          image: `${name}:1`,
          securityContext: o.privileged ? { privileged: true } : undefined,
          volumeMounts: o.volumes?.map((v) => ({ name: v.name, mountPath: `/mnt/${String(v.name)}` })),
        },
      ],
    },
    status: { phase: 'Running', podIP: `10.0.0.${name.length}` },
  };
}
