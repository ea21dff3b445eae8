import { describe, expect, it } from 'vitest';
import { AuditAnomalyModel, DEFAULT_AUDIT_ANOMALY } from '../../../src/detect/anomaly/audit/model.js';
import { createAuditAnomalyDetector } from '../../../src/detect/anomaly/audit/detector.js';
import type { VigieEvent } from '../../../src/model/event.js';
import type { AlertInput } from '../../../src/model/alert.js';

const S = 1_000_000_000n;
let n = 0;
function ev(
  t: bigint,
  user: string,
  verb: string,
  resource: string,
  ns: string,
  ip: string,
  code = 200,
): VigieEvent {
  return {
    id: `e${++n}`,
    kind: 'k8s_audit',
    ts: t,
    source: 'test',
    audit: {
      kind: 'Event',
      auditID: `a${n}`,
      stage: 'ResponseComplete',
      verb,
      user: { username: user },
      sourceIPs: [ip],
      objectRef: { resource, namespace: ns },
      responseStatus: { code },
    },
  };
}

const cfg = {
  ...DEFAULT_AUDIT_ANOMALY,
  learnNs: 600n * S,
  windowNs: 60n * S,
  minIdentityEvents: 5,
  burstFloor: 10,
  burstMargin: 3,
};

function trained(): AuditAnomalyModel {
  const m = new AuditAnomalyModel(cfg);
  // Ten minutes of routine: alice reads pods in "shop" from one address, a controller reads secrets
  // at most 2 per minute, bob gets a few 403s.
  for (let s = 0n; s < 600n; s += 10n) {
    expect(m.observe(ev(s * S, 'alice', 'get', 'pods', 'shop', '10.0.0.1'))).toEqual([]);
    if (s % 30n === 0n) m.observe(ev(s * S, 'ctrl', 'get', 'secrets', 'shop', '10.0.0.9'));
    if (s % 120n === 0n) m.observe(ev(s * S, 'bob', 'list', 'nodes', '', '10.0.0.2', 403));
  }
  return m;
}

describe('audit anomaly model', () => {
  it('learns silently, then reports first-seen identity/verb/resource/namespace once', () => {
    const m = trained();
    expect(m.state).toBe('learning');
    expect(m.observe(ev(600n * S, 'alice', 'get', 'pods', 'shop', '10.0.0.1'))).toEqual([]);
    expect(m.state).toBe('ready');
    const [a, ...rest] = m.observe(ev(601n * S, 'alice', 'delete', 'secrets', 'shop', '10.0.0.1'));
    expect(rest).toEqual([]);
    expect(a.kind).toBe('first-seen');
    expect(a.explanation).toMatch(/alice did "delete secrets" in namespace shop for the first time/);
    expect(m.observe(ev(602n * S, 'alice', 'delete', 'secrets', 'shop', '10.0.0.1'))).toEqual([]);
  });

  it('reports a known identity calling from a new address, once', () => {
    const m = trained();
    const out = m.observe(ev(700n * S, 'alice', 'get', 'pods', 'shop', '203.0.113.7'));
    expect(out.map((x) => x.kind)).toEqual(['rare-source-ip']);
    expect(out[0].explanation).toMatch(
      /from 203\.0\.113\.7, an address it never used in 60 learned requests \(known: 10\.0\.0\.1\)/,
    );
    expect(m.observe(ev(701n * S, 'alice', 'get', 'pods', 'shop', '203.0.113.7'))).toEqual([]);
    // An identity without history is reported as first-seen, not judged on its address.
    expect(m.observe(ev(702n * S, 'eve', 'list', 'nodes', '', '203.0.113.8')).map((x) => x.kind)).toEqual([
      'first-seen',
    ]);
  });

  it('reports bursts of denied requests and secret reads above the learned rate', () => {
    const m = trained();
    const kinds: string[] = [];
    for (let i = 0n; i < 15n; i++)
      kinds.push(
        ...m
          .observe(ev(800n * S + i * S, 'bob', 'list', 'nodes', '', '10.0.0.2', 403))
          .map((x) => `${x.kind}:${x.score}/${x.threshold}`),
      );
    expect(kinds).toEqual(['denied-burst:10/10']);
    // The controller learned at most 2 reads a minute: threshold max(10, 3×2) = 10.
    const reads: string[] = [];
    for (let i = 0n; i < 12n; i++)
      reads.push(
        ...m.observe(ev(900n * S + i * S, 'ctrl', 'get', 'secrets', 'shop', '10.0.0.9')).map((x) => x.kind),
      );
    expect(reads).toEqual(['secret-read-burst']);
    // Normal pace stays silent.
    expect(m.observe(ev(1200n * S, 'ctrl', 'get', 'secrets', 'shop', '10.0.0.9'))).toEqual([]);
  });

  it('as a detector emits anomaly alerts with explanation, score and threshold', () => {
    const d = createAuditAnomalyDetector({
      db: undefined as never,
      hostname: 'h',
      config: { 'audit-anomaly': { learnSeconds: 60 } },
    });
    const got: AlertInput[] = [];
    for (let s = 0n; s <= 60n; s += 10n)
      d.onEvent(ev(s * S, 'alice', 'get', 'pods', 'shop', '10.0.0.1'), (a) => got.push(a));
    d.onEvent(ev(70n * S, 'alice', 'create', 'clusterrolebindings', '', '10.0.0.1'), (a) => got.push(a));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      category: 'anomaly',
      detector: 'audit-anomaly',
      rule: 'K8s audit: first-seen identity action',
      score: 1,
      threshold: 1,
    });
    expect(got[0].explanation).toMatch(/cluster-wide for the first time/);
    expect(d.stats?.()).toMatchObject({ state: 'ready' });
  });
});
