/**
 * The 'audit-anomaly' detector: AuditAnomalyModel on live k8s audit events, alerts of category
 * 'anomaly' with the model's explanation. Settings in ctx.config['audit-anomaly']:
 * learnSeconds, windowSeconds, minIdentityEvents, burstFloor, burstMargin.
 */
import type { DetectorContext } from '../../types.js';
import type { Detector } from '../../types.js';
import type { Priority } from '../../../model/alert.js';
import {
  AuditAnomalyModel,
  DEFAULT_AUDIT_ANOMALY,
  type AuditAnomaly,
  type AuditAnomalyConfig,
} from './model.js';

const PRIORITY: Readonly<Record<AuditAnomaly['kind'], Priority>> = {
  'first-seen': 'Notice',
  'rare-source-ip': 'Warning',
  'denied-burst': 'Warning',
  'secret-read-burst': 'Error',
};

const TITLE: Readonly<Record<AuditAnomaly['kind'], string>> = {
  'first-seen': 'K8s audit: first-seen identity action',
  'rare-source-ip': 'K8s audit: identity from a new source IP',
  'denied-burst': 'K8s audit: burst of denied requests',
  'secret-read-burst': 'K8s audit: burst of secret reads',
};

const MITRE: Readonly<Record<AuditAnomaly['kind'], readonly { tactic: string; technique: string }[]>> = {
  'first-seen': [{ tactic: 'discovery', technique: 'T1613' }],
  'rare-source-ip': [{ tactic: 'initial-access', technique: 'T1078' }],
  'denied-burst': [{ tactic: 'discovery', technique: 'T1613' }],
  'secret-read-burst': [{ tactic: 'credential-access', technique: 'T1552.007' }],
};

export function configFrom(raw: Record<string, unknown> | undefined): AuditAnomalyConfig {
  const c = { ...DEFAULT_AUDIT_ANOMALY };
  const n = (k: string) => (typeof raw?.[k] === 'number' ? (raw[k] as number) : undefined);
  if (n('learnSeconds') !== undefined) c.learnNs = BigInt(Math.round(n('learnSeconds')! * 1e9));
  if (n('windowSeconds') !== undefined) c.windowNs = BigInt(Math.round(n('windowSeconds')! * 1e9));
  if (n('minIdentityEvents') !== undefined) c.minIdentityEvents = n('minIdentityEvents')!;
  if (n('burstFloor') !== undefined) c.burstFloor = n('burstFloor')!;
  if (n('burstMargin') !== undefined) c.burstMargin = n('burstMargin')!;
  return c;
}

export function anomalyAlertInput(a: AuditAnomaly) {
  return {
    rule: TITLE[a.kind],
    priority: PRIORITY[a.kind],
    source: 'k8s_audit',
    output: a.explanation,
    tags: ['k8s', 'anomaly', a.kind],
    output_fields: { 'ka.user.name': a.identity, ...a.details },
    category: 'anomaly' as const,
    detector: 'audit-anomaly',
    score: a.score,
    threshold: a.threshold,
    explanation: a.explanation,
    mitre: [...MITRE[a.kind]],
    event: a.event,
    entities: { user: a.identity },
  };
}

export function createAuditAnomalyDetector(ctx: DetectorContext): Detector {
  const model = new AuditAnomalyModel(configFrom(ctx.config['audit-anomaly']));
  return {
    name: 'audit-anomaly',
    kinds: ['k8s_audit'],
    onEvent(ev, emit) {
      for (const a of model.observe(ev)) emit(anomalyAlertInput(a));
    },
    tick(now) {
      model.advance(now);
    },
    stats() {
      return { state: model.state, ...model.counters };
    },
  };
}
