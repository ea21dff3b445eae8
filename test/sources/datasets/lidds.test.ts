import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LineSplitter,
  newEventView,
  parse2019Line,
  parseScLine,
  ScNameTable,
  ScStream,
} from '../../../src/sources/datasets/sc-parser.js';
import {
  inflateScOnly,
  openLidDs2021Recording,
  parseLidDs2021Meta,
  readScFromZip,
} from '../../../src/sources/datasets/lidds2021.js';
import { parseRunsCsv } from '../../../src/sources/datasets/lidds2019.js';
import { runEvaluation } from '../../../src/eval/run.js';
import {
  generateRecording,
  makeZip,
  writeRecordingZip,
  writeScenario2019,
  writeScenario2021,
} from '../../utils/lidds-fixture.js';

const FIX = join(__dirname, '..', '..', 'fixtures', 'lidds');
const tmp = mkdtempSync(join(tmpdir(), 'vigie-lidds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function parseAll(text: string, parse: typeof parseScLine): ReturnType<typeof newEventView>[] {
  const out: ReturnType<typeof newEventView>[] = [];
  let line = 0;
  const ev = newEventView();
  const names = new ScNameTable();
  const sp = new LineSplitter((b, s, e) => {
    line++;
    if (parse(b, s, e, 'f', line, ev, names)) out.push({ ...ev });
  });
  // Feed in small chunks so that lines straddle chunk boundaries.
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += 7) sp.push(buf.subarray(i, i + 7));
  sp.end();
  return out;
}

describe('LID-DS readers on the exact formats', () => {
  it('parses real LID-DS 2021 .sc lines', () => {
    const evs = parseAll(readFileSync(join(FIX, '2021', 'sample.sc'), 'latin1'), parseScLine);
    expect(evs.length).toBe(4);
    expect(evs[0].tsNs).toBe(Number('1631078867467701544'));
    expect(evs[0]).toMatchObject({ pid: 2902774, tid: 2902774, name: 'accept', dir: '<', line: 1 });
    expect(evs[1]).toMatchObject({ name: 'open', dir: '>' });
    expect(evs[3]).toMatchObject({ name: 'read', tid: 2902781, line: 4 });
  });

  it('names file and line for a malformed .sc line', () => {
    expect(() => parseAll('1631078867467701544 33 2902774 apache2\n', parseScLine)).toThrow(
      /^f:1: malformed \.sc line/,
    );
    expect(() => parseAll('163107886746770154x 33 1 a 1 open >\n', parseScLine)).toThrow(/f:1: malformed/);
    expect(() => parseAll('1 33 1 a 1 open ?\n', parseScLine)).toThrow(/direction/);
  });

  it('reads the .json metadata (exploit time in seconds) and runs.csv', () => {
    const m = parseLidDs2021Meta(readFileSync(join(FIX, '2021', 'sample.json'), 'utf8'), 'sample.json');
    expect(m.exploit).toBe(true);
    expect(m.exploitTimeNs).toBeCloseTo(1631078867.4677e9, -3);
    expect(m.containers.map((c) => c.role)).toEqual(['victim', 'normal', 'attacker']);
    expect(() => parseLidDs2021Meta('{"exploit": true, "time": {}}', 'x.json')).toThrow(
      /x\.json: exploit recording without time\.exploit/,
    );
    const runs = parseRunsCsv(readFileSync(join(FIX, '2019', 'runs.csv'), 'utf8'), 'runs.csv');
    expect(runs).toEqual([
      {
        image: 'victim_img',
        name: 'run_a',
        exploit: false,
        warmupTime: 10,
        recordingTime: 30,
        exploitStart: undefined,
      },
      {
        image: 'victim_img',
        name: 'run_b',
        exploit: true,
        warmupTime: 10,
        recordingTime: 30,
        exploitStart: 12,
      },
    ]);
  });

  it('parses LID-DS 2019 lines (time of day, direction before the syscall)', () => {
    const evs = parseAll(readFileSync(join(FIX, '2019', 'run_a.txt'), 'latin1'), parse2019Line);
    expect(evs.map((e) => [e.name, e.dir, e.tid])).toEqual([
      ['accept', '>', 1201],
      ['accept', '<', 1201],
      ['read', '>', 1202],
    ]);
    expect(evs[0].tsNs).toBe(((23 * 60 + 59) * 60 + 59) * 1e9 + 999000000);
  });

  it('opens a recording zip with .sc, .json, .res and streams its calls', async () => {
    const dir = join(tmp, 'one');
    const sc = readFileSync(join(FIX, '2021', 'sample.sc'));
    const zip = makeZip([
      { name: 'sample.sc', data: sc },
      { name: 'sample.json', data: readFileSync(join(FIX, '2021', 'sample.json')) },
      { name: 'sample.res', data: readFileSync(join(FIX, '2021', 'sample.res')) },
    ]);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'sample.zip'), zip);
    const rec = await openLidDs2021Recording(join(dir, 'sample.zip'), 'S', 'test');
    expect(rec.exploit).toBe(true);
    const names: string[] = [];
    const res = await rec.read((ev) => names.push(`${ev.name}${ev.dir}`));
    expect(names).toEqual(['accept<', 'open>', 'open<', 'read>']);
    expect(res.lines).toBe(5);
  });

  it('inflates the .sc alone (benchmarks): its exact size, and a zip without .sc is named', async () => {
    const r = generateRecording(7, 300, false);
    const zip = writeRecordingZip(join(tmp, 'inflate'), 'rec', r);
    const sc = Buffer.from(`${r.lines.join('\n')}\n`, 'latin1');
    expect(await inflateScOnly(zip)).toEqual({ bytes: sc.length });
    const bad = join(tmp, 'x-without-sc.zip');
    writeFileSync(bad, makeZip([{ name: 'x.json', data: '{}' }]));
    await expect(inflateScOnly(bad)).rejects.toThrow(/x-without-sc\.zip.*no \.sc/);
  });
});

type Ev = ReturnType<typeof newEventView>;

/** Events, line count and first error of `text` fed in `step`-byte chunks, by the line-by-line parser. */
function byLines(text: Buffer, step: number): { evs: Ev[]; lines: number; error?: string } {
  const evs: Ev[] = [];
  let lines = 0;
  const ev = newEventView();
  const names = new ScNameTable();
  const sp = new LineSplitter((b, s, e) => {
    lines++;
    if (parseScLine(b, s, e, 'f.sc', lines, ev, names)) evs.push({ ...ev });
  });
  try {
    for (let i = 0; i < text.length; i += step) sp.push(text.subarray(i, i + step));
    sp.end();
  } catch (e) {
    return { evs, lines, error: (e as Error).message };
  }
  return { evs, lines };
}

/** The same through the one-pass stream parser. */
function byStream(text: Buffer, step: number): { evs: Ev[]; lines: number; error?: string } {
  const evs: Ev[] = [];
  const sp = new ScStream('f.sc', (ev) => evs.push({ ...ev }));
  try {
    for (let i = 0; i < text.length; i += step) sp.push(text.subarray(i, i + step));
    sp.end();
  } catch (e) {
    return { evs, lines: sp.lines, error: (e as Error).message };
  }
  return { evs, lines: sp.lines };
}

describe('LID-DS 2021 .sc stream parser', () => {
  const usual = generateRecording(3, 30, true).lines;
  const odd = [
    '1631078867467701544 33 2902774 apache2 2902774 accept < fd=12(<4t>192.168.240.3:50140->192.168.240.21:443) tuple=x',
    '1631078867467766934 33 2902774 apache2 2902774 open > ',
    '1631078867467766935 33 2902774 apache2 2902774 open >',
    '1631078867467766936 33 2902774 apache2 2902775 read > \r',
    '1631078867467766937 33 2902774 apache2 2902775 read >\r',
    '',
    '\r',
    '1 33 1 a 1 open >',
    '1631078867467766 33 7 a 7 openat <',
    '16310788674677669380 33 7 a 7 openat <',
    '1631078867467766939 root 7 a 7 x >',
    '1631078867467766940 33 7 a 7 ab <',
    '1631078867467766941 33 7 a 7 abc <',
    '1631078867467766942 33 7 a 7 abcd <',
    '1631078867467766943 33 7 a 7 abcdefgh <',
    '1631078867467766944 33 7 a 7 abcdefghi <',
    '1631078867467766945 33 7 a 7 abcdefghijklmnopqrstuvwxyz <',
    '1631078867467766946 33 7 a 7 abcdefghijklmnopqrstuvwxyA <',
    // Same length, first and last four bytes: told apart by the middle.
    '1631078867467766946 33 7 a 7 abcdXXXXwxyz <',
    '1631078867467766946 33 7 a 7 abcdYYYYwxyz <',
    '1631078867467766946 33 7 a 7 abcdXXXXwxyz <',
    '1631078867467766946 33 7 a 7 abcdXwxyz <',
    '1631078867467766946 33 7 a 7 abcdYwxyz <',
    // Same length and last four bytes as the "33 7 a 7 " before them: told apart by the pid.
    '1631078867467766947 33 8 a 7 read <',
    '1631078867467766947 33 9 a 7 read <',
    '1631078867467766947 33 7  7 read <',
    '1631078867467766948  7 a 7 read <',
    '1631078867467766949 33 7 a 7  <',
    '1631078867467766950 33 12345678901 a 98765432109 read > ',
    '1631078867467766951 33 7 a\r 7 read <',
    '1631078867467766952 33 7 a 7 re\rad <',
    '1631078867467766953 33 2902774 apache2 2902774 accept < fd=12 \t x',
  ];
  const bad = [
    'garbage line',
    '1631078867467701544 33 2902774 apache2',
    '163107886746770154x 33 1 a 1 open >',
    '1631078867467701544 33 x a 1 open >',
    '1631078867467701544 33 1 a 1x open >',
    '1631078867467701544 33 1 a  open >',
    '1631078867467701544 33 1 a 1 open ?',
    '1631078867467701544 33 1 a 1 open >x',
    '1631078867467701544 33 1 a 1 open',
  ];
  const steps = [1, 2, 3, 5, 7, 13, 64, 333, 4096, 1 << 20];

  it('gives the events and line numbers of the line-by-line parser, however the stream is chunked', () => {
    for (const text of [
      usual.join('\n') + '\n',
      usual.join('\r\n'),
      [...usual.slice(0, 20), ...odd, ...usual.slice(20)].join('\n') + '\n',
      odd.join('\n'),
    ]) {
      const buf = Buffer.from(text, 'latin1');
      const want = byLines(buf, 1 << 20);
      expect(want.error).toBeUndefined();
      expect(want.evs.length).toBeGreaterThan(10);
      // Each event holds the fields of its line (as split on spaces).
      const src = text.split('\n');
      for (const ev of want.evs) {
        const f = src[ev.line - 1].replace(/\r$/, '').split(' ');
        expect([ev.pid, ev.tid, ev.name, ev.dir], src[ev.line - 1]).toEqual([
          Number(f[2]),
          Number(f[4]),
          f[5],
          f[6],
        ]);
        if (f[0].length <= 19) expect(ev.tsNs).toBe(Number(f[0]));
      }
      for (const step of steps) expect(byStream(buf, step), `chunks of ${step}`).toEqual(want);
    }
    // The usual lines all give events (nothing falls through silently).
    expect(byStream(Buffer.from(usual.join('\n')), 4096).evs.length).toBe(usual.length);
  });

  it('stops at a malformed line with the same error, file and line number', () => {
    for (const b of bad) {
      for (const at of [0, 7, usual.length]) {
        const lines = [...usual];
        lines.splice(at, 0, b);
        const buf = Buffer.from(lines.join('\n') + '\n', 'latin1');
        const want = byLines(buf, 1 << 20);
        expect(want.error, b).toMatch(new RegExp(`^f\\.sc:${at + 1}: malformed`));
        for (const step of steps)
          expect(byStream(buf, step), `${b} at ${at}, chunks of ${step}`).toEqual(want);
      }
    }
  });

  it('names the file and line of an entry whose compressed data is corrupt or whose size is wrong', async () => {
    const dir = mkdtempSync(join(tmp, 'zip-'));
    const text = Buffer.from(generateRecording(9, 400, false).lines.join('\n') + '\n');
    const zip = makeZip([{ name: 'rec.sc', data: text }]);
    const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const write = (name: string, b: Buffer): string => {
      const p = join(dir, name);
      writeFileSync(p, b);
      return p;
    };
    let n = 0;
    const ok = await readScFromZip(write('ok.zip', zip), () => n++);
    expect(n).toBe(text.toString().split('\n').length - 1);
    expect(ok.lines).toBe(n);
    // Deflate data overwritten half way: zlib rejects it.
    const corrupt = Buffer.from(zip);
    corrupt.fill(0xff, 30 + 6 + 2000, 30 + 6 + 2400);
    await expect(readScFromZip(write('corrupt.zip', corrupt), () => {})).rejects.toThrow(
      /corrupt\.zip:rec\.sc:\d+: truncated or corrupt data/,
    );
    // The central directory declares more, then fewer bytes than the entry inflates to.
    for (const [delta, why] of [
      [10, /not enough bytes/],
      [-10, /too many bytes/],
    ] as const) {
      const wrong = Buffer.from(zip);
      wrong.writeUInt32LE(text.length + delta, cd + 24);
      await expect(readScFromZip(write('size.zip', wrong), () => {})).rejects.toThrow(why);
    }
  });
});

describe('LID-DS 2021 inflating on the reading thread', () => {
  /** Every call of a zip's .sc, copied, read through one inflating path. */
  async function callsOf(zip: string, inflate: 'in-thread' | 'stream') {
    const out: ReturnType<typeof newEventView>[] = [];
    const r = await readScFromZip(zip, (ev) => out.push({ ...ev }), inflate);
    return { lines: r.lines, out };
  }

  it('gives exactly the calls of the streaming path, over many inflated pieces and on the fixture', async () => {
    const dir = mkdtempSync(join(tmp, 'inflate-'));
    // About 5 MB of .sc: twenty pieces of inflated data, lines split across them.
    const big = writeRecordingZip(dir, 'big', generateRecording(21, 4000, true));
    // The real lines of the fixture (long arguments, unusual lines) in a zip.
    const sample = join(dir, 'sample.zip');
    writeFileSync(
      sample,
      makeZip([{ name: 'sample.sc', data: readFileSync(join(FIX, '2021', 'sample.sc')) }]),
    );
    for (const zip of [big, sample]) {
      const want = await callsOf(zip, 'stream');
      const got = await callsOf(zip, 'in-thread');
      expect(want.out.length).toBeGreaterThan(0);
      expect(got.lines).toBe(want.lines);
      expect(got.out).toEqual(want.out);
    }
    expect((await callsOf(big, 'in-thread')).out.length).toBeGreaterThan(70_000);
  });

  it('rejects corrupt data and a wrong declared size as the streaming path does, at the same line', async () => {
    const dir = mkdtempSync(join(tmp, 'inflate-bad-'));
    const text = Buffer.from(generateRecording(22, 3000, false).lines.join('\n') + '\n');
    const zip = makeZip([{ name: 'rec.sc', data: text }]);
    const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const cases: [string, Buffer][] = [];
    // Overwritten deflate data: zlib rejects it early on, or, further in, inflates it to a
    // malformed line (whose number both paths give exactly).
    for (const at of [2000, 200_000]) {
      const corrupt = Buffer.from(zip);
      corrupt.fill(0xff, 30 + 6 + at, 30 + 6 + at + 400);
      cases.push([`corrupt-${at}.zip`, corrupt]);
    }
    for (const delta of [10, -10]) {
      const wrong = Buffer.from(zip);
      wrong.writeUInt32LE(text.length + delta, cd + 24);
      cases.push([`size${delta}.zip`, wrong]);
    }
    for (const [name, bytes] of cases) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      const errorOf = async (inflate: 'in-thread' | 'stream'): Promise<string> => {
        let n = 0;
        try {
          await readScFromZip(p, () => n++, inflate);
        } catch (e) {
          return `${(e as Error).message} after ${n} calls`;
        }
        return 'no error';
      };
      const want = await errorOf('stream');
      const got = await errorOf('in-thread');
      if (/malformed/.test(want)) expect(got, name).toBe(want);
      else {
        expect(want, name).toMatch(/truncated or corrupt data|bytes in the stream/);
        // The same message; the line it names (the first not parsed) and the calls handed over
        // before it depend on the sizes of the inflated pieces, which differ between the paths.
        const unplaced = (m: string): string => m.replace(/:\d+: | after \d+ calls/g, ' ');
        expect(unplaced(got), name).toBe(unplaced(want));
      }
    }
  });
});

describe('LID-DS protocol end to end on generated scenarios', () => {
  it('LID-DS 2021: STIDE detects every exploit with no false alarm; trivial detectors bracket it', async () => {
    const root = join(tmp, '2021');
    writeScenario2021(root, 'CVE-2017-7529');
    const run = await runEvaluation({
      dataset: 'lidds2021',
      data: root,
      algos: ['stide', 'ngram-lm'],
      params: { n: '3', L: '10', threshold: 'max' },
    });
    const out = run.output;
    expect(out.dataset).toBe('lidds2021');
    expect(Object.keys(out.algorithms[0])).toEqual(['name', 'params', 'scenarios', 'mean']);
    expect(Object.keys(out.algorithms[0].scenarios[0]).sort()).toEqual(
      ['auc', 'cfa', 'dr', 'f1', 'fpr', 'latencyMs', 'name', 'precision', 'recall'].sort(),
    );
    expect(Object.keys(out.algorithms[0].mean).sort()).toEqual(
      ['auc', 'cfa', 'dr', 'f1', 'fpr', 'precision', 'recall'].sort(),
    );
    const stide = out.algorithms.find((a) => a.name === 'stide')!;
    const s = stide.scenarios[0];
    expect(s.name).toBe('CVE-2017-7529');
    expect(s.dr).toBe(1);
    expect(s.cfa).toBe(0);
    expect(s.auc).toBe(1);
    expect(s.fpr).toBe(0);
    expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    expect(s.latencyMs).toBeLessThan(10);
    const lm = out.algorithms.find((a) => a.name === 'ngram-lm')!.scenarios[0];
    expect(lm.dr).toBe(1);
    const all = out.algorithms.find((a) => a.name === 'flag-everything')!.scenarios[0];
    expect(all.dr).toBe(1);
    // One run of false alarms per normal test recording and one before each exploit.
    expect(all.cfa).toBe(6);
    const none = out.algorithms.find((a) => a.name === 'flag-nothing')!.scenarios[0];
    expect(none.dr).toBe(0);
    expect(none.cfa).toBe(0);
    expect(out.skipped).toEqual([]);
    expect(run.timelines.length).toBeGreaterThan(0);
  });

  it('skips and reports a truncated zip, a zip without .json and a malformed line; the run goes on', async () => {
    const root = join(tmp, 'bad');
    const s = writeScenario2021(root, 'S');
    const good = writeRecordingZip(join(s, 'test', 'normal'), 'cut', generateRecording(50, 40, false));
    writeFileSync(good, readFileSync(good).subarray(0, 200));
    writeRecordingZip(join(s, 'test', 'normal'), 'nojson', generateRecording(51, 40, false), {
      omitJson: true,
    });
    const r = generateRecording(52, 40, false);
    const lines = [...r.lines];
    lines[5] = 'garbage line';
    writeRecordingZip(join(s, 'test', 'normal'), 'badline', r, { scText: lines.join('\n') + '\n' });
    const run = await runEvaluation({
      dataset: 'lidds2021',
      data: root,
      algos: ['stide'],
      params: { n: '3', L: '10' },
    });
    const sk = run.output.skipped;
    expect(sk.length).toBe(3);
    expect(sk.find((x) => x.file.endsWith('cut.zip'))?.error).toMatch(/cut\.zip/);
    expect(sk.find((x) => x.file.endsWith('nojson.zip'))?.error).toMatch(/no \.json metadata/);
    const bl = sk.find((x) => x.file.includes('badline'))!;
    expect(bl.line).toBe(6);
    expect(bl.error).toMatch(/badline\.zip:badline\.sc:6: malformed/);
    expect(run.output.algorithms[0].scenarios[0].dr).toBe(1);
    const { writeReport } = await import('../../../src/eval/report.js');
    const md = readFileSync(writeReport(run, join(tmp, 'report')), 'utf8');
    expect(md).toMatch(/3 input\(s\) could not be read/);
    expect(md).toMatch(/badline\.sc:6/);
    expect(readFileSync(join(tmp, 'report', 'roc-S.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('LID-DS 2019: runs.csv split, exploit time relative to the first call', async () => {
    const root = join(tmp, '2019');
    writeScenario2019(root, 'CVE-2014-0160');
    const run = await runEvaluation({
      dataset: 'lidds2019',
      data: root,
      algos: ['stide'],
      params: { n: '3', L: '10' },
    });
    const s = run.output.algorithms[0].scenarios[0];
    expect(s.name).toBe('CVE-2014-0160');
    expect(s.dr).toBe(1);
    expect(s.cfa).toBe(0);
    expect(s.latencyMs).toBeLessThan(10);
  });
});
