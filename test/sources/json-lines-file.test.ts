/**
 * Falco and Tetragon files as live sources: streamed, tailed across appends, partial lines and
 * rotation, malformed lines counted with file:line; Falco's alerts become Vigie alerts through the
 * engine.
 */
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Alert } from '../../src/model/alert.js';
import type { VigieEvent } from '../../src/model/event.js';
import { falcoLineToAlerts } from '../../src/sources/falco.js';
import { JsonLinesFileSource, JsonLinesReader } from '../../src/sources/json-lines-file.js';
import { createSources } from '../../src/sources/registry.js';
import { openStore } from '../../src/infra/db.js';
import { requireDataset } from '../../src/util/datasets.js';
import { waitFor, discardedOutput } from '../utils/live.js';

const storedAlerts = (db: ReturnType<typeof openStore>): number =>
  (db.prepare('SELECT COUNT(*) AS n FROM alerts').get() as { n: number }).n;

const tmp = mkdtempSync(join(tmpdir(), 'vigie-jsonl-src-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const alert = (rule: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    time: '2024-05-01T10:00:00.000000001Z',
    rule,
    priority: 'Notice',
    output: `10:00:00.000000001: Notice ${rule} (user=root container_id=abc123)`,
    source: 'syscall',
    hostname: 'n1',
    tags: ['container', 'shell', 'mitre_execution', 'T1059'],
    output_fields: { 'container.id': 'abc123', 'container.name': 'web', 'proc.name': 'bash', 'proc.pid': 77 },
    ...extra,
  });

describe('JSON-lines reader', () => {
  it('splits lines across chunks, converts them, counts malformed ones with file:line and goes on', () => {
    const got: Alert[] = [];
    const errors: string[] = [];
    const r = new JsonLinesReader<Alert>(
      'f.json',
      (o) => falcoLineToAlerts(o, 'h'),
      (e) => got.push(e),
      (w) => errors.push(w),
    );
    const text = Buffer.from(
      [alert('A'), '{not json', '', JSON.stringify({ rule: 'no fields' }), alert('B'), alert('C')].join('\n'),
    );
    for (let o = 0; o < text.length; o += 7) r.push(text.subarray(o, o + 7));
    expect(got.map((a) => a.rule)).toEqual(['A', 'B']);
    r.end(); // the last line has no newline
    expect(got).toHaveLength(3);
    expect(r.malformed).toBe(2);
    expect(errors[0]).toMatch(/^f\.json:2: invalid JSON/);
    expect(errors[1]).toMatch(/^f\.json:4: not a Falco alert/);
  });
});

describe('Falco and Tetragon file sources', () => {
  it('tails a Falco file: appends, a line written in two parts, rotation; malformed counted', async () => {
    const path = join(tmp, 'falco.json');
    writeFileSync(path, `${alert('A')}\nnot json\n`);
    const [src] = await createSources({ hostname: 'h', config: { falco: { path, follow: true } } }, [
      'falco',
    ]);
    expect(src).toBeInstanceOf(JsonLinesFileSource);
    (src as unknown as { opts: { pollMs: number } }).opts.pollMs = 20;
    const got: string[] = [];
    await src.start(
      () => {
        throw new Error("Falco's alerts are not events");
      },
      (a) => {
        got.push(a.rule);
        return true;
      },
    );
    try {
      expect(got).toEqual(['A']);
      const half = alert('B');
      appendFileSync(path, half.slice(0, 30));
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(['A']); // not a whole line yet
      appendFileSync(path, `${half.slice(30)}\n${alert('C')}\n`);
      await waitFor(() => got.length === 3 || undefined, 5000, 'the appended alerts');
      expect(got).toEqual(['A', 'B', 'C']);
      truncateSync(path, 0);
      await new Promise((r) => setTimeout(r, 100));
      appendFileSync(path, `${alert('D')}\n`);
      await waitFor(() => got.length === 4 || undefined, 5000, 'the alert after rotation');
      expect(got[3]).toBe('D');
      const st = src.stats();
      expect(st).toMatchObject({ events: 4, malformed: 1, lost: 0 });
      expect(Number(st.rotations)).toBeGreaterThanOrEqual(1);
      expect((src as JsonLinesFileSource).lastErrors[0]).toMatch(/falco\.json:2: invalid JSON/);
    } finally {
      await src.stop();
    }
  });

  const tetragon = requireDataset('tetragon', 'events.json');
  it.skipIf(!tetragon)("reads Tetragon's export as process events", async () => {
    const [src] = await createSources({ hostname: 'h', config: { tetragon: { path: tetragon! } } }, [
      'tetragon',
    ]);
    const got: VigieEvent[] = [];
    await src.start((ev) => got.push(ev) > 0);
    await src.stop();
    expect(got).toHaveLength(3);
    expect(got.every((e) => e.source === 'tetragon')).toBe(true);
    expect(src.stats()).toMatchObject({ events: 3, malformed: 0 });
  });

  it("turns Falco's alerts into Vigie alerts through the engine, with entities and MITRE", async () => {
    const path = join(tmp, 'falco-engine.json');
    writeFileSync(
      path,
      `${alert('Terminal shell in container')}\n${alert('Odd priority', { priority: 'loud', tags: [] })}\n`,
    );
    const db = openStore(join(tmp, 'vigie.db'));
    const config = { falco: { path } };
    const sources = await createSources({ hostname: 'h', config }, ['falco']);
    const alerts: Alert[] = [];
    const engine = new Engine({
      db,
      hostname: 'h',
      output: discardedOutput(),
      sources,
      detectors: [],
      responder: null,
      onAlert: (a) => alerts.push(a),
    });
    await engine.start();
    try {
      await waitFor(() => alerts.length === 2 || undefined, 5000, 'the two alerts');
    } finally {
      await engine.stop();
    }
    const [shell, odd] = alerts;
    expect(shell).toMatchObject({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      source: 'syscall',
      hostname: 'n1',
      output_fields: { 'container.id': 'abc123', 'proc.pid': 77 },
      vigie: {
        category: 'attack',
        detector: 'falco',
        entities: { container: { id: 'abc123', name: 'web' }, process: { name: 'bash', pid: 77 } },
        mitre: [{ tactic: 'execution', technique: 'T1059' }],
      },
    });
    // An unknown priority is kept as Warning and said, not dropped.
    expect(odd.priority).toBe('Warning');
    expect(odd.vigie.explanation).toMatch(/unknown priority "loud"/);
    expect(engine.stats().alerts).toBe(2);
    // Falco's alerts are stored once, with their incident, and are not events for the detectors.
    expect(engine.stats().events).toBe(0);
    expect(engine.alerts.get(shell.uuid)?.vigie.incident).toBe(shell.vigie.incident);
    expect(shell.vigie.incident).toBeTruthy();
  });

  it('reads the same Falco alert again without handling it twice (a restart from the start of a file)', async () => {
    const path = join(tmp, 'falco-replay.json');
    writeFileSync(
      path,
      `${alert('Replayed')}
`,
    );
    const db = openStore(join(tmp, 'replay.db'));
    const run = async () => {
      const alerts: Alert[] = [];
      const engine = new Engine({
        db,
        hostname: 'h',
        output: discardedOutput(),
        sources: await createSources({ hostname: 'h', config: { falco: { path } } }, ['falco']),
        detectors: [],
        responder: null,
        onAlert: (a) => alerts.push(a),
      });
      await engine.start();
      await engine.stop();
      return { alerts, stats: engine.stats() };
    };
    const first = await run();
    const second = await run();
    expect(first.alerts).toHaveLength(1);
    expect(second.alerts).toHaveLength(0);
    expect(second.stats.replays).toBe(1);
    expect(storedAlerts(db)).toBe(1);
    db.close();
  });
});
