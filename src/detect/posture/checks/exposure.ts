/** Exposure: workloads and Services reachable from outside the cluster, SSH ports, Ingress TLS. */
import type { ScanContext } from '../context.js';
import { nameOf, nsOf, refOf } from '../k8s.js';
import type { Hit, K8sObject } from '../types.js';
import { list, NONE } from './helpers.js';
import type { Check } from './types.js';

const workloadExposed: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    let out: Hit[] | undefined;
    const ns = nsOf(o) ?? 'default';
    const names = params.sensitiveOnly ? (ctx.settings.sensitiveInterfaces ?? []) : undefined;
    if (names && !namesSensitiveInterface(o, names, ctx)) return NONE;
    for (const p of ctx.memo.podSpecsOf(o)) {
      for (const { service, ingresses } of ctx.servicesExposing(ns, p.labels)) {
        const type = service.spec?.type ?? 'ClusterIP';
        if (type === 'LoadBalancer' || type === 'NodePort') {
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `pods are reachable from outside the cluster through ${type} Service ${nameOf(service)}; put them behind a ClusterIP Service and an authenticated Ingress, or restrict the Service's source ranges`,
            related: [refOf(service)],
          });
        } else if (ingresses.length > 0) {
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `pods are reachable from outside the cluster through Ingress ${nameOf(ingresses[0])} → Service ${nameOf(service)}; require authentication on the route, or remove it`,
            related: [refOf(service), refOf(ingresses[0])],
          });
        }
      }
    }
    return out ?? NONE;
  },
};

/** The object's name or one of its containers' images contains one of the names. */
function namesSensitiveInterface(o: K8sObject, names: string[], ctx: ScanContext): boolean {
  if (containsAny(nameOf(o), names)) return true;
  const known = imagesNaming(ctx, names);
  for (const p of ctx.memo.podSpecsOf(o)) {
    const cs = list(p.spec.containers);
    for (let i = 0; i < cs.length; i++) {
      const image = String(cs[i]?.image ?? '');
      let r = known.get(image);
      if (r === undefined) {
        if (known.size >= 4096) known.clear();
        known.set(image, (r = containsAny(image, names)));
      }
      if (r) return true;
    }
  }
  return false;
}

function containsAny(s: string, names: string[]): boolean {
  for (let i = 0; i < names.length; i++) if (s.includes(names[i])) return true;
  return false;
}

/** Per names list, whether an image contains one of them (few distinct images, many pods). */
function imagesNaming(ctx: ScanContext, names: string[]): Map<string, boolean> {
  const byList = ctx.answers.imagesNaming;
  let m = byList.get(names);
  if (!m) byList.set(names, (m = new Map()));
  return m;
}

const serviceExternal: Check = {
  appliesTo: ['Service'],
  fn: (o) => {
    const t = o.spec?.type;
    if (t === 'NodePort' || t === 'LoadBalancer')
      return [
        {
          path: 'spec.type',
          message: `Service of type ${t} is reachable from outside the cluster; use type ClusterIP behind an Ingress, or restrict loadBalancerSourceRanges`,
        },
      ];
    if (list(o.spec?.externalIPs).length > 0)
      return [
        {
          path: 'spec.externalIPs',
          message:
            'Service is reachable on external IPs; remove spec.externalIPs unless the cluster needs them',
        },
      ];
    return [];
  },
};

const SSH_PORTS: readonly number[] = [22, 2222];

/** Workloads reachable on an SSH port through a Service. */
const sshExposed: Check = {
  appliesTo: ['podspec'],
  fn: (o, ctx, params) => {
    const ports: readonly number[] = (params.ports as number[]) ?? SSH_PORTS;
    let out: Hit[] | undefined;
    for (const p of ctx.memo.podSpecsOf(o)) {
      for (const { service } of ctx.servicesExposing(nsOf(o) ?? 'default', p.labels)) {
        const sp = list(service.spec?.ports).find(
          (x) =>
            ports.includes(x?.port) ||
            ports.includes(typeof x?.targetPort === 'number' ? x.targetPort : Number(x?.targetPort)),
        );
        if (sp)
          (out ??= []).push({
            path: `${p.metaPrefix}metadata.labels`,
            message: `pods serve SSH on port ${sp.port} through Service ${nameOf(service)}; remove the SSH server and use kubectl exec for access`,
            related: [refOf(service)],
          });
      }
    }
    return out ?? NONE;
  },
};

const servicePort: Check = {
  appliesTo: ['Service'],
  fn: (o, _ctx, params) => {
    const ports = (params.ports as number[]) ?? [22];
    const out: Hit[] = [];
    list(o.spec?.ports).forEach((p, i) => {
      const tp = typeof p?.targetPort === 'number' ? p.targetPort : Number(p?.targetPort);
      if (ports.includes(p?.port) || ports.includes(tp))
        out.push({
          path: `spec.ports[${i}]`,
          message: `Service exposes port ${p.port} (${params.what ?? 'sensitive'}); remove the port or restrict who can reach it`,
        });
    });
    return out;
  },
};

const ingressNoTls: Check = {
  appliesTo: ['Ingress'],
  fn: (o) =>
    list(o.spec?.tls).length === 0
      ? [
          {
            path: 'spec.tls',
            message: `Ingress ${nameOf(o)} serves plain HTTP (no tls section); add a tls section with a certificate`,
          },
        ]
      : [],
};

export const exposureChecks: Readonly<Record<string, Check>> = {
  workloadExposed,
  serviceExternal,
  servicePort,
  sshExposed,
  ingressNoTls,
};
