/**
 * Terminal and log injection: text from a watched workload (a command line, a file path, a manifest
 * name, a rule output) cannot forge a line or drive the terminal in any human-readable output.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { actionToLine, createOutput } from '../../src/engine/output.js';
import { alertToLine, makeAlert } from '../../src/model/alert.js';
import { escapeControl } from '../../src/model/text.js';
import { toTable } from '../../src/detect/posture/output.js';

const HOSTILE =
  'cat /etc/passwd\n2026-01-01T00:00:00Z Informational [anomaly] all clear: nothing to see' +
  '\u001b]0;owned\u0007\u001b[2J\r\u202ereversed\u0000';

describe('control characters in human-readable output', () => {
  it('escapes C0/C1 controls, ESC sequences and bidi overrides visibly, and keeps the rest', () => {
    expect(escapeControl('a\nb\tc\u001b[31md\r\u0007\u009b\u202e')).toBe(
      'a\\nb\tc\\x1b[31md\\r\\x07\\x9b\\u202e',
    );
    expect(escapeControl('plain – ünïcode ✓')).toBe('plain – ünïcode ✓');
  });

  it('an alert line, an action line and a notice stay one line, with no ESC', () => {
    const a = makeAlert(
      {
        rule: 'Shell\nspawned',
        priority: 'Warning',
        output: HOSTILE,
        category: 'attack',
        detector: 't',
        explanation: 'x',
      },
      'h',
    );
    const line = alertToLine(a);
    const action = actionToLine({
      id: 'a1',
      action: 'pause',
      target: { kind: 'container', id: 'c'.repeat(64), name: 'web\u001b[2Jx', platform: 'docker' },
      status: 'executed',
      mode: 'enforce',
      reason: HOSTILE,
      createdAt: '2026-01-01T00:00:00Z',
    });
    const err = new PassThrough();
    let noticed = '';
    err.on('data', (c: Buffer) => (noticed += c.toString()));
    createOutput('text', new PassThrough(), err).notice(
      `container ${HOSTILE.replace(/\n/g, ' ')} started\nsummary`,
    );
    // A notice keeps the lines Vigie wrote; the quoted text's other controls are escaped.
    expect(noticed.split('\n')).toHaveLength(3);
    const [quoted, summary] = noticed.split('\n');
    expect(summary).toBe('summary');
    for (const s of [line, action, quoted]) {
      for (const c of ['\n', '\r', '\u001b', '\u0007', '\u0000', '\u202e']) expect(s).not.toContain(c);
      expect(s).toContain('\\x1b');
    }
  });

  it('JSON output stays exact', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const a = makeAlert(
      {
        rule: 'r',
        priority: 'Warning',
        output: HOSTILE,
        category: 'attack',
        detector: 't',
        explanation: 'x',
      },
      'h',
    );
    createOutput('json', out, new PassThrough()).alert(a);
    expect(JSON.parse(text).output).toBe(HOSTILE);
  });

  it('the scan table escapes names and messages, and renders 100,000 findings without overflowing the stack', () => {
    const finding = (i: number) => ({
      control: 'VG-POD-001',
      severity: 'critical' as const,
      excepted: false,
      resource: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: 'default',
        name: i === 0 ? 'evil\n\u001b[2Jpod' : `pod-${i}`,
      },
      path: 'spec.containers[0].securityContext.privileged',
      message: 'privileged',
      file: 'x.yaml',
    });
    const findings = Array.from({ length: 100_000 }, (_, i) => finding(i));
    const res = {
      findings,
      errors: [],
      summary: {
        objects: 100_000,
        resources: 100_000,
        controls: 1,
        findings: findings.length,
        excepted: 0,
        errors: 0,
        score: 0,
        bySeverity: { critical: findings.length, high: 0, medium: 0, low: 0, info: 0 },
      },
    };
    const table = toTable(res as never);
    expect(table.split('\n').length).toBe(100_000 + 4);
    expect(table).not.toContain('\u001b');
    expect(table).toContain('evil\\n\\x1b[2Jpod');
  });
});

describe('boundedJson', () => {
  it('writes JSON like JSON.stringify for ordinary values', async () => {
    const { boundedJson } = await import('../../src/model/text.js');
    const v = { a: [1, 'x', null, true], b: { c: 'd"e' } };
    expect(boundedJson(v)).toBe(JSON.stringify(v));
  });
  it('bounds depth and length instead of overflowing the stack', async () => {
    const { boundedJson } = await import('../../src/model/text.js');
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const s = boundedJson(deep, 16, 4096);
    expect(s).toBe(`${'['.repeat(16)}"…"${']'.repeat(16)}`);
    expect(boundedJson('x'.repeat(10_000), 16, 100)).toHaveLength(101);
  });
});
