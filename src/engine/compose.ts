/**
 * The composition root: builds, with static imports only, the stages an engine was not handed.
 * Sources and detectors come from their registries, the characterize stage over the store (with the
 * local Docker and the cluster when they are watched), the response stage under the policy. Every
 * service a stage needs is created here and passed in; no stage looks another up.
 */
import Docker from 'dockerode';
import { KubeConfig } from '@kubernetes/client-node';
import { createCharacterizer, type Characterizer } from '../characterize/live.js';
import { createBaselineManager, type BaselineManager } from '../detect/anomaly/baseline/manager.js';
import type { TraceModel } from '../detect/traces/model.js';
import type { PostureIndex } from '../detect/posture/posture-index.js';
import { createDetectors } from '../detect/registry.js';
import type { Detector } from '../detect/types.js';
import type { ActionRecord } from '../model/action.js';
import { createResponder } from '../respond/engine.js';
import { createContainerCatalogue } from '../sources/docker.js';
import { FilePositions } from '../sources/file-positions.js';
import { createSources } from '../sources/registry.js';
import type { ContainerCatalogue, Source } from '../sources/types.js';
import type { EngineOptions, LiveResponder, StageConfig } from './types.js';

/** One baseline manager shared by the baseline and runtime detectors (and the API), when either runs. */
export function composeBaselines(o: EngineOptions): BaselineManager | undefined {
  if (o.baselines) return o.baselines;
  const learns = !o.detectorNames || o.detectorNames.some((n) => n === 'baseline' || n === 'runtime');
  return learns ? createBaselineManager(o.db, o.config?.baseline) : undefined;
}

export function composeDetectors(
  o: EngineOptions,
  services: { baselines?: BaselineManager; posture: PostureIndex; traces?: TraceModel },
): Promise<Detector[]> {
  return createDetectors(
    { db: o.db, hostname: o.hostname, config: withRulesFromEnv(o.config ?? {}), ...services },
    o.detectorNames,
  );
}

/**
 * VIGIE_RULES (':'-separated rule files) stands in for config.rules.files when none is configured:
 * the environment is read here, at the edge, and the rules detector validates what it is given.
 */
export function withRulesFromEnv(config: StageConfig, env = process.env): StageConfig {
  const files = (env.VIGIE_RULES ?? '').split(':').filter(Boolean);
  if (config.rules?.files !== undefined || files.length === 0) return config;
  return { ...config, rules: { ...config.rules, files } };
}

/**
 * The one container catalogue of an engine: the Docker source fills it, the sensor attributes
 * through it, and the engine resolves every event's workload identity through it.
 */
export function composeContainers(o: EngineOptions): ContainerCatalogue {
  return o.containers ?? createContainerCatalogue(o.config ?? {});
}

export function composeSources(o: EngineOptions, containers: ContainerCatalogue): Promise<Source[]> {
  const config = o.config ?? {};
  return createSources(
    {
      hostname: o.hostname,
      config,
      containers,
      // Followed files (Falco, Tetragon, audit logs) resume where they stopped, across restarts.
      positions: new FilePositions(o.db),
    },
    o.sourceNames,
  );
}

export function composeCharacterizer(o: EngineOptions, posture: PostureIndex): Promise<Characterizer> {
  const kc = o.config?.kubernetes?.kubeConfig;
  return createCharacterizer({
    db: o.db,
    kubeConfig: kc instanceof KubeConfig ? kc : undefined,
    // Docker blast radius (co-located containers, shared networks) only when watching Docker.
    docker: !o.sourceNames || o.sourceNames.includes('docker') ? new Docker() : undefined,
    // Incidents on a workload count the posture findings the posture detector published.
    postureOf: (namespace, workload) => posture.findingsFor(namespace, workload),
  });
}

export function composeResponder(
  o: EngineOptions,
  mode: 'monitor' | 'enforce',
  onRecord: (r: ActionRecord) => void,
): LiveResponder {
  return createResponder({
    db: o.db,
    hostname: o.hostname,
    mode,
    policyFile: o.policyFile,
    onRecord,
    config: o.config ?? {},
  });
}
