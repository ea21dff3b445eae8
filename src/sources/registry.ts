/**
 * Live sources, one line each. A factory returns undefined when its source is not configured.
 */
import { existsSync } from 'node:fs';
import type { Source, SourceContext, SourceFactory } from './types.js';
import { createK8sAuditFileSource } from './k8s-audit-file.js';
import { createCgroupSource } from './metrics/cgroup.js';
import { createPrometheusSource } from './metrics/prometheus.js';
import { createK8sMetricsSource } from './metrics/k8s-metrics.js';
import { createContainerCatalogue, createDockerSource } from './docker.js';
import { createBpftraceSensor } from './bpftrace/sensor.js';
import { createKubernetesSource } from './kubernetes.js';
import { createPodDirectory } from './pods.js';
import { createAuditWebhookSource, createFalcoWebhookSource } from './push.js';
import { createFalcoFileSource } from './falco.js';
import { createTetragonFileSource } from './tetragon.js';
import { createOtlpSource } from './otlp/source.js';

export type { SourceContext, SourceFactory } from './types.js';

const factories: readonly (readonly [name: string, factory: SourceFactory])[] = [
  ['k8s-audit-file', createK8sAuditFileSource],
  ['cgroup', createCgroupSource],
  ['prometheus', createPrometheusSource],
  ['k8s-metrics', createK8sMetricsSource],
  ['docker', createDockerSource],
  ['bpftrace', createBpftraceSensor],
  ['kubernetes', createKubernetesSource],
  ['k8s-audit-webhook', createAuditWebhookSource],
  ['falco', createFalcoFileSource],
  ['falco-webhook', createFalcoWebhookSource],
  ['tetragon', createTetragonFileSource],
  ['otlp', createOtlpSource],
];

/**
 * Creates the configured sources (only those named in `only`, when given). They share
 * `ctx.containers`, or one container catalogue created here when the caller has none, and
 * `ctx.pods`, or one pod directory (the Kubernetes watch fills it, the eBPF sensor reads it).
 */
export async function createSources(ctx: SourceContext, only?: string[]): Promise<Source[]> {
  const shared: SourceContext = {
    ...ctx,
    containers: ctx.containers ?? createContainerCatalogue(ctx.config),
    pods: ctx.pods ?? createPodDirectory(ctx.config, existsSync),
  };
  const out: Source[] = [];
  for (const [name, f] of factories) {
    if (only && !only.includes(name)) continue;
    const s = await f(shared);
    if (s) out.push(s);
  }
  return out;
}

export function sourceNames(): string[] {
  return factories.map(([n]) => n);
}
