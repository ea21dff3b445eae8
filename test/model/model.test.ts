import { describe, expect, it } from 'vitest';
import { isoToNs, nsToIso, parseEvent, workloadKey, eventToJson } from '../../src/model/event.js';
import { makeAlert, parsePriority, alertSchema } from '../../src/model/alert.js';

describe('event envelope', () => {
  it('round-trips nanosecond timestamps through ISO-8601', () => {
    const ns = 1631078867467701544n;
    expect(nsToIso(ns)).toBe('2021-09-08T05:27:47.467701544Z');
    expect(isoToNs(nsToIso(ns))).toBe(ns);
  });

  it('validates at the boundary and names the bad field', () => {
    const ev = parseEvent({ id: 'a', kind: 'syscall', ts: '123', source: 'test', syscall: { name: 'open' } });
    expect(ev.ts).toBe(123n);
    expect(() => parseEvent({ id: 'a', kind: 'nope', ts: 1, source: 's' })).toThrow(/kind/);
    expect(JSON.parse(eventToJson(ev)).ts).toBe('123');
  });

  it('keys baselines by workload, not container', () => {
    expect(workloadKey({ container: { id: 'c1', image: 'nginx', command: 'nginx -g' } })).toBe(
      'docker:nginx|nginx -g',
    );
    expect(workloadKey({ container: { id: 'c2', image: 'nginx', command: 'nginx -g' } })).toBe(
      'docker:nginx|nginx -g',
    );
    expect(workloadKey({ k8s: { namespace: 'shop', workload: 'Deployment/web' } })).toBe(
      'k8s:shop/Deployment/web',
    );
  });
});

describe('alert envelope', () => {
  it('is Falco-shaped with a vigie block', () => {
    const a = makeAlert(
      {
        rule: 'Terminal shell in container',
        priority: parsePriority('NOTICE'),
        output: 'shell',
        tags: ['shell', 'container', 'T1059'],
        category: 'attack',
        detector: 'runtime',
        explanation: 'sh spawned',
        event: {
          id: 'e1',
          kind: 'process',
          ts: 1_700_000_000_000_000_000n,
          source: 'bpftrace',
          container: { id: 'abc' },
        },
      },
      'host1',
    );
    expect(alertSchema.parse(a)).toBeTruthy();
    expect(a.tags).toEqual(['T1059', 'container', 'shell']);
    expect(a.time).toBe('2023-11-14T22:13:20.000000000Z');
    expect(a.vigie.evidence).toEqual(['e1']);
    expect(a.vigie.entities.container?.id).toBe('abc');
    expect(() => parsePriority('LOUD')).toThrow(/unknown priority/);
  });
});
