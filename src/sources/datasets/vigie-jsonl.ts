/**
 * Vigie's own recordings: JSON lines of VigieEvent (kind "syscall"; `ts` a decimal string of ns).
 * Layout mirrors LID-DS 2021 so that the same protocol applies:
 * `<scenario>/{training,validation,test}/<name>.jsonl`, each with an optional `<name>.json` beside it
 * holding `{"exploit": true, "time": {"exploit": [{"absolute": <seconds>}]}}` (LID-DS's metadata shape).
 */
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseLidDs2021Meta } from './lidds2021.js';
import { LineSplitter, newEventView } from './sc-parser.js';
import { DatasetError, type Split, type SyscallRecording } from './types.js';

export function listVigieRecordings(scenarioDir: string): SyscallRecording[] {
  const out: SyscallRecording[] = [];
  const scenario = basename(scenarioDir);
  for (const [folder, split] of [
    ['training', 'training'],
    ['validation', 'validation'],
    ['test', 'test'],
  ] as [string, Split][]) {
    const d = join(scenarioDir, folder);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) {
      if (!f.endsWith('.jsonl')) continue;
      const path = join(d, f);
      const metaPath = path.replace(/\.jsonl$/, '.json');
      const meta = existsSync(metaPath)
        ? parseLidDs2021Meta(readFileSync(metaPath, 'utf8'), metaPath)
        : { exploit: false, exploitTimeNs: undefined };
      out.push({
        scenario,
        name: f.replace(/\.jsonl$/, ''),
        path,
        split,
        exploit: meta.exploit,
        exploitTimeNs: meta.exploitTimeNs,
        read: (onEvent) => readJsonl(path, onEvent),
      });
    }
  }
  return out;
}

async function readJsonl(
  path: string,
  onEvent: Parameters<SyscallRecording['read']>[0],
): Promise<{ lines: number }> {
  const ev = newEventView();
  let line = 0;
  const splitter = new LineSplitter((buf, a, b) => {
    line++;
    if (b <= a) return;
    let o: any;
    try {
      o = JSON.parse(buf.toString('utf8', a, b));
    } catch (e) {
      throw new DatasetError(path, line, `not JSON: ${(e as Error).message}`);
    }
    if (o?.kind !== 'syscall') return;
    const name = o.syscall?.name;
    const tid = o.proc?.tid ?? o.proc?.pid ?? 0;
    if (typeof name !== 'string' || (typeof o.ts !== 'string' && typeof o.ts !== 'number')) {
      throw new DatasetError(path, line, 'syscall event without syscall.name or ts');
    }
    ev.tsNs = Number(o.ts);
    ev.tid = Number(tid);
    ev.pid = Number(o.proc?.pid ?? tid);
    ev.name = name;
    ev.dir = o.syscall?.dir === '<' ? '<' : '>';
    ev.line = line;
    onEvent(ev);
  });
  const s = createReadStream(path, { highWaterMark: 1 << 20 });
  await splitter.drain(s, (err) => new DatasetError(path, line + 1, err.message));
  return { lines: line };
}
