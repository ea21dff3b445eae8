/**
 * Followed files across restarts, on real files and a real SQLite database: a restart hands on only
 * the lines appended while Vigie was stopped; a file rotated (renamed and replaced) or truncated while
 * stopped is read from its start once; a file rotated while running is read to its end, then the new
 * one; an event's id is its line's place in the file, the same however often the line is read.
 */
import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../src/infra/db.js';
import type { VigieEvent } from '../../src/model/event.js';
import { FilePositions } from '../../src/sources/file-positions.js';
import { JsonLinesFileSource } from '../../src/sources/json-lines-file.js';
import { K8sAuditFileSource } from '../../src/sources/k8s-audit-file.js';
import { createSources } from '../../src/sources/registry.js';
import { tetragonLineToEvents } from '../../src/sources/tetragon.js';
import { waitFor } from '../utils/live.js';

const tmp = mkdtempSync(join(tmpdir(), 'vigie-positions-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One Tetragon kprobe line; `fn` tells the lines apart. */
const line = (fn: string): string =>
  `${JSON.stringify({
    process_kprobe: { process: { pid: 5, binary: '/usr/bin/curl' }, function_name: fn, args: [] },
    node_name: 'n1',
    time: '2024-05-01T10:00:00Z',
  })}\n`;
const lines = (prefix: string, n: number): string =>
  Array.from({ length: n }, (_, i) => line(`${prefix}${i}`)).join('');
const fnOf = (e: VigieEvent): string => e.syscall!.name;

let dbs = 0;
/** A database as a process opens it: a restart is a new FilePositions over the same file. */
function database(): { path: string; open: () => Db } {
  const path = join(tmp, `vigie-${++dbs}.db`);
  return { path, open: () => openStore(path) };
}

/** One run of `vigie run --tetragon-file`: start, wait for `expect` events, stop, close the database. */
async function run(path: string, db: Db | undefined, expectEvents: number, during?: () => Promise<void>) {
  const src = new JsonLinesFileSource({
    name: 'tetragon',
    path,
    follow: true,
    pollMs: 20,
    toEvents: tetragonLineToEvents,
    positions: db ? new FilePositions(db) : undefined,
  });
  const got: VigieEvent[] = [];
  await src.start((ev) => got.push(ev) > 0);
  try {
    if (during) await during();
    await waitFor(() => got.length >= expectEvents || undefined, 5000, `${expectEvents} events`);
    // Give a wrongly replayed line time to show up.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await src.stop();
    db?.close();
  }
  return { got, stats: src.stats() };
}

describe('followed files resume from their saved position', () => {
  it('a restart hands on exactly the lines appended while stopped', async () => {
    const path = join(tmp, 'append.json');
    const store = database();
    writeFileSync(path, lines('a', 5));
    const first = await run(path, store.open(), 5);
    expect(first.got.map(fnOf)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);

    appendFileSync(path, lines('b', 3));
    const second = await run(path, store.open(), 3);
    expect(second.got.map(fnOf)).toEqual(['b0', 'b1', 'b2']);
    expect(second.stats).toMatchObject({ events: 3, malformed: 0, rotations: 0 });

    // Nothing appended: a third run hands on nothing.
    const third = await run(path, store.open(), 0);
    expect(third.got).toEqual([]);
  });

  it("names each event after its line's place, so a line read again has the same id", async () => {
    const path = join(tmp, 'ids.json');
    writeFileSync(path, lines('a', 3));
    const { dev, ino } = statSync(path, { bigint: true });
    const len = line('a0').length;
    // Without a positions store the file is read from its start on every run (the behaviour before
    // positions were kept): the same lines come again, and with them the same ids.
    const once = await run(path, undefined, 3);
    const again = await run(path, undefined, 3);
    expect(once.got.map((e) => e.id)).toEqual([0, len, 2 * len].map((o) => `tetragon:${dev}:${ino}:${o}`));
    expect(again.got.map((e) => e.id)).toEqual(once.got.map((e) => e.id));
  });

  it('a line half written at stop is handed on once, whole, after the restart', async () => {
    const path = join(tmp, 'partial.json');
    const store = database();
    const half = line('b0');
    writeFileSync(path, `${lines('a', 2)}${half.slice(0, 25)}`);
    const first = await run(path, store.open(), 2);
    expect(first.got.map(fnOf)).toEqual(['a0', 'a1']);
    appendFileSync(path, `${half.slice(25)}${line('b1')}`);
    const second = await run(path, store.open(), 2);
    expect(second.got.map(fnOf)).toEqual(['b0', 'b1']);
    expect(second.stats).toMatchObject({ malformed: 0 });
  });

  it('a file rotated while stopped (renamed, then a new file) is read from its start once', async () => {
    const path = join(tmp, 'rotate.json');
    const store = database();
    writeFileSync(path, lines('a', 4));
    await run(path, store.open(), 4);
    renameSync(path, `${path}.1`);
    writeFileSync(path, lines('c', 2));
    const second = await run(path, store.open(), 2);
    expect(second.got.map(fnOf)).toEqual(['c0', 'c1']);
    expect(second.stats).toMatchObject({ events: 2, rotations: 1 });
    const third = await run(path, store.open(), 0);
    expect(third.got).toEqual([]);
  });

  it('a file truncated while stopped is read from its start once', async () => {
    const path = join(tmp, 'truncate.json');
    const store = database();
    writeFileSync(path, lines('a', 4));
    await run(path, store.open(), 4);
    truncateSync(path, 0);
    appendFileSync(path, lines('t', 2));
    const second = await run(path, store.open(), 2);
    expect(second.got.map(fnOf)).toEqual(['t0', 't1']);
    expect(second.stats).toMatchObject({ events: 2, rotations: 1 });
    appendFileSync(path, lines('u', 1));
    const third = await run(path, store.open(), 1);
    expect(third.got.map(fnOf)).toEqual(['u0']);
  });

  it('a file rewritten while stopped (same inode, longer, other first bytes) is read from its start', async () => {
    // What a file deleted and recreated looks like when the filesystem gives its inode back.
    const path = join(tmp, 'rewrite.json');
    const store = database();
    writeFileSync(path, lines('a', 4));
    const { ino } = statSync(path);
    await run(path, store.open(), 4);
    writeFileSync(path, lines('z', 6));
    expect(statSync(path).ino).toBe(ino);
    const second = await run(path, store.open(), 6);
    expect(second.got.map(fnOf)).toEqual(['z0', 'z1', 'z2', 'z3', 'z4', 'z5']);
    expect(second.stats).toMatchObject({ events: 6, rotations: 1 });
  });

  it('a file rotated while running is read to its end, then the new file from its start', async () => {
    const path = join(tmp, 'live-rotate.json');
    const store = database();
    writeFileSync(path, lines('a', 2));
    const first = await run(path, store.open(), 5, async () => {
      await new Promise((r) => setTimeout(r, 60));
      // Written just before the rename: still read from the renamed file.
      appendFileSync(path, lines('b', 1));
      renameSync(path, `${path}.1`);
      writeFileSync(path, lines('c', 2));
    });
    expect(first.got.map(fnOf)).toEqual(['a0', 'a1', 'b0', 'c0', 'c1']);
    expect(first.stats).toMatchObject({ rotations: 1 });
    appendFileSync(path, lines('d', 1));
    const second = await run(path, store.open(), 1);
    expect(second.got.map(fnOf)).toEqual(['d0']);
  });

  it('the registry gives the Tetragon and audit file sources the positions store', async () => {
    const path = join(tmp, 'registry.json');
    const audit = join(tmp, 'audit.log');
    const ev = (id: string) =>
      `${JSON.stringify({ kind: 'Event', auditID: id, stage: 'ResponseComplete', verb: 'get', objectRef: { resource: 'pods', namespace: 'ns', name: 'p' } })}\n`;
    writeFileSync(path, lines('a', 2));
    writeFileSync(audit, ev('id-1'));
    const store = database();
    const once = async () => {
      const db = store.open();
      const positions = new FilePositions(db);
      const config = { tetragon: { path, follow: true }, 'k8s-audit-file': { path: audit, follow: true } };
      const sources = await createSources({ hostname: 'h', config, positions }, [
        'tetragon',
        'k8s-audit-file',
      ]);
      expect(sources.map((s) => s.name).sort()).toEqual(['k8s-audit-file', 'tetragon']);
      expect(sources[0]).toBeInstanceOf(K8sAuditFileSource);
      const got: string[] = [];
      for (const s of sources) await s.start((e) => got.push(e.source === 'tetragon' ? fnOf(e) : e.id) > 0);
      for (const s of sources) await s.stop();
      db.close();
      return got.sort();
    };
    expect(await once()).toEqual(['a0', 'a1', 'id-1:ResponseComplete']);
    appendFileSync(path, lines('b', 1));
    appendFileSync(audit, ev('id-2'));
    expect(await once()).toEqual(['b0', 'id-2:ResponseComplete']);
  });
});
