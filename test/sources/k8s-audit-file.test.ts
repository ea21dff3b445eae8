/** Audit events from outside input: fields that are not what the API server writes. */
import { describe, expect, it } from 'vitest';
import { auditToEvent } from '../../src/sources/k8s-audit-file.js';

describe('auditToEvent on hostile fields', () => {
  it('a stage nested thousands of arrays deep is ignored, not turned into text (which overflowed the stack)', () => {
    let stage: unknown = 'ResponseComplete';
    for (let i = 0; i < 200_000; i++) stage = [stage];
    const ev = auditToEvent({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      auditID: 'a1',
      stage,
      verb: 'get',
      user: { username: 'u' },
      requestReceivedTimestamp: '2026-01-01T00:00:00Z',
    } as never);
    expect(ev?.id).toBe('a1:');
  });
});
