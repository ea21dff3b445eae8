import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { auditToEvent, parseAuditText } from '../../src/sources/k8s-audit-file.js';
import { loadRuleFiles } from '../../src/detect/rules/loader.js';
import { RuleEngine } from '../../src/detect/rules/engine.js';
import { auditFacts } from '../../src/detect/anomaly/audit/model.js';
import { requireDataset } from '../../src/util/datasets.js';

/** A GKE Cloud Logging entry for `kubectl exec` (the shape Cloud Logging exports). */
function gkeEntry(method: string, resource: string): Record<string, unknown> {
  return {
    protoPayload: {
      '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
      methodName: method,
      resourceName: resource,
      authenticationInfo: { principalEmail: 'dev@example.com' },
      requestMetadata: { callerIp: '203.0.113.9', callerSuppliedUserAgent: 'kubectl/v1.30.0' },
      status: {},
    },
    insertId: `id-${method}`,
    timestamp: '2024-05-01T10:00:00Z',
    labels: { 'authorization.k8s.io/decision': 'allow' },
  };
}

const exec = gkeEntry('io.k8s.core.v1.pods.exec.create', 'core/v1/namespaces/prod/pods/web-1/exec');
const get = gkeEntry('io.k8s.core.v1.pods.get', 'core/v1/namespaces/prod/pods/web-1');

describe('GKE audit entries', () => {
  it('an exec entry is the started stream; other requests are complete', () => {
    const [e, g] = parseAuditText(JSON.stringify([exec, get])).events;
    expect(e).toMatchObject({
      stage: 'ResponseStarted',
      verb: 'create',
      objectRef: { namespace: 'prod', resource: 'pods', name: 'web-1', subresource: 'exec' },
    });
    expect(g.stage).toBe('ResponseComplete');
  });

  it('the audit anomaly model counts the started stream of an exec, not of other requests', () => {
    const [e] = parseAuditText(JSON.stringify(exec)).events;
    expect(auditFacts(auditToEvent(e))).toMatchObject({ verb: 'create', resource: 'pods/exec' });
    const watchStarted = { ...parseAuditText(JSON.stringify(get)).events[0], stage: 'ResponseStarted' };
    expect(auditFacts(auditToEvent(watchStarted))).toBeUndefined();
  });

  const rules = requireDataset('falco-rules');
  it.skipIf(!rules)("Falco's Attach/Exec Pod rule fires on a GKE exec entry", () => {
    const loaded = loadRuleFiles([join(rules!, 'k8s_audit_rules.yaml')], { sources: ['k8s_audit'] });
    const engine = new RuleEngine(loaded);
    const fired: string[] = [];
    for (const a of parseAuditText(JSON.stringify([exec, get])).events)
      engine.evaluate(auditToEvent(a), (r) => fired.push(r.name));
    expect(fired).toContain('Attach/Exec Pod');
    expect(fired.filter((n) => n === 'Attach/Exec Pod')).toHaveLength(1);
  });
});
