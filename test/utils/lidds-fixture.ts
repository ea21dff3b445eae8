/**
 * Test helpers: a tiny zip writer (deflate, CRC-32) and a generator of LID-DS 2021 / 2019 scenarios in
 * the data set's exact formats, with an apache-like normal workload and an exploit that spawns a shell.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of the given files (deflated), as the LID-DS recordings are distributed. */
export function makeZip(files: { name: string; data: Buffer | string }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const raw = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data);
    const comp = deflateRawSync(raw);
    const name = Buffer.from(f.name);
    const crc = crc32(raw);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(8, 8);
    lh.writeUInt32LE(0, 10);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(raw.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    locals.push(lh, name, comp);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0, 8);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(0, 12);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(raw.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Deterministic pseudo-random numbers for the generator. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export interface GeneratedRecording {
  lines: string[];
  startNs: number;
  exploitNs?: number;
}

const NORMAL_REQUEST = [
  ['accept', 'fd=12(<4t>192.168.240.3:50140->192.168.240.21:443)'],
  ['read', 'fd=12 size=8000'],
  ['open', 'fd=13(<f>/var/www/html/index.html) name=/var/www/html/index.html flags=1(O_RDONLY)'],
  ['fstat', 'fd=13'],
  ['read', 'fd=13 size=4096'],
  ['close', 'fd=13'],
  ['writev', 'fd=12 size=5120'],
  ['poll', 'fds=12:p1'],
  ['close', 'fd=12'],
];
const EXPLOIT = [
  ['clone', 'res=0'],
  ['execve', 'filename=/bin/sh'],
  ['socket', 'domain=2(AF_INET) type=1'],
  ['connect', 'fd=3(<4t>192.168.240.21:40000->192.168.240.9:4444)'],
  ['dup2', 'oldfd=3 newfd=0'],
  ['dup2', 'oldfd=3 newfd=1'],
  ['execve', 'filename=/bin/cat'],
  ['open', 'fd=4(<f>/etc/shadow) name=/etc/shadow flags=1(O_RDONLY)'],
];

/**
 * One recording: `requests` normal requests served by 3 interleaved worker threads (enter and exit
 * lines, as sysdig writes them); with `exploit`, a worker runs a reverse shell half way through.
 */
export function generateRecording(seed: number, requests: number, exploit: boolean): GeneratedRecording {
  const rnd = lcg(seed);
  const startNs = 1631078867000000000 + seed * 1000000000;
  let ts = startNs;
  const lines: string[] = [];
  const tids = [2902774, 2902781, 2902790];
  const pos = [0, 0, 0];
  let exploitNs: number | undefined;
  let done = 0;
  const emit = (tid: number, name: string, args: string): void => {
    ts += 1000 + Math.floor(rnd() * 50000);
    lines.push(`${ts} 33 ${tids[0]} apache2 ${tid} ${name} > `);
    ts += 500 + Math.floor(rnd() * 5000);
    lines.push(`${ts} 33 ${tids[0]} apache2 ${tid} ${name} < ${args}`);
  };
  while (done < requests) {
    const w = Math.floor(rnd() * 3);
    const [name, args] = NORMAL_REQUEST[pos[w]];
    emit(tids[w], name, args);
    pos[w] = (pos[w] + 1) % NORMAL_REQUEST.length;
    if (pos[w] === 0) done++;
    if (exploit && exploitNs === undefined && done >= requests / 2) {
      exploitNs = ts + 1;
      for (const [n, a] of EXPLOIT) emit(tids[1], n, a);
    }
  }
  return { lines, startNs, exploitNs };
}

export function metaJson(r: GeneratedRecording, name: string): string {
  return JSON.stringify({
    container: [
      { ip: '192.168.240.21', name: 'victim_1', role: 'victim' },
      { ip: '192.168.240.3', name: 'normal_1', role: 'normal' },
    ],
    exploit: r.exploitNs !== undefined,
    exploit_name: r.exploitNs !== undefined ? 'CVE-2017-7529' : undefined,
    image: 'victim:latest',
    recording_time: 30,
    time: {
      container_ready: { absolute: r.startNs / 1e9 - 5, source: 'T1' },
      warmup_end: { absolute: r.startNs / 1e9 - 1, source: 'T1' },
      exploit:
        r.exploitNs !== undefined ? [{ absolute: r.exploitNs / 1e9, name: 'exploit', source: 'T2' }] : [],
    },
    name,
  });
}

export function resCsv(r: GeneratedRecording): string {
  const s = Math.floor(r.startNs / 1e9);
  return `timestamp,cpu_usage,memory_usage,network_received,network_send,storage_read,storage_written\n${s},0.1,1048576,100,200,0,0\n${s + 1},NULL,1048576,NULL,NULL,0,0\n`;
}

/** Writes one zip in LID-DS 2021 layout. */
export function writeRecordingZip(
  dir: string,
  name: string,
  r: GeneratedRecording,
  opts: { omitJson?: boolean; scText?: string } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const files: { name: string; data: string }[] = [
    { name: `${name}.sc`, data: opts.scText ?? r.lines.join('\n') + '\n' },
  ];
  if (!opts.omitJson) files.push({ name: `${name}.json`, data: metaJson(r, name) });
  files.push({ name: `${name}.res`, data: resCsv(r) });
  const path = join(dir, `${name}.zip`);
  writeFileSync(path, makeZip(files));
  return path;
}

/** A full LID-DS 2021 scenario: 4 training, 2 validation, 3 normal test, 3 exploit test recordings. */
export function writeScenario2021(root: string, scenario: string): string {
  const s = join(root, scenario);
  let seed = 1;
  for (let i = 0; i < 4; i++)
    writeRecordingZip(join(s, 'training'), `train_${i}`, generateRecording(seed++, 60, false));
  for (let i = 0; i < 2; i++)
    writeRecordingZip(join(s, 'validation'), `val_${i}`, generateRecording(seed++, 40, false));
  for (let i = 0; i < 3; i++)
    writeRecordingZip(join(s, 'test', 'normal'), `normal_${i}`, generateRecording(seed++, 40, false));
  for (let i = 0; i < 3; i++)
    writeRecordingZip(
      join(s, 'test', 'normal_and_attack'),
      `attack_${i}`,
      generateRecording(seed++, 40, true),
    );
  return s;
}

/** The same workload in LID-DS 2019 layout: runs.csv + one .txt per run (enter and exit lines). */
export function writeScenario2019(root: string, scenario: string): string {
  const s = join(root, scenario);
  mkdirSync(s, { recursive: true });
  const rows = [
    'image_name, scenario_name, is_executing_exploit, warmup_time, recording_time, exploit_start_time',
  ];
  for (let i = 0; i < 10; i++) {
    const exploit = i >= 8;
    const r = generateRecording(100 + i, 40, exploit);
    const name = `run_${i}`;
    let n = 0;
    const txt = r.lines.map((l) => {
      const [ts, uid, , proc, tid, sys, dir, ...args] = l.split(' ');
      const t = Number(ts) - r.startNs + 12 * 3600e9;
      const hh = Math.floor(t / 3600e9);
      const mm = Math.floor((t % 3600e9) / 60e9);
      const ss = Math.floor((t % 60e9) / 1e9);
      const ns = Math.round(t % 1e9);
      const time = `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}.${String(ns).padStart(9, '0')}`;
      return `${++n} ${time} 1 ${uid} ${proc} ${tid} ${dir} ${sys} ${args.join(' ')}`.trimEnd();
    });
    writeFileSync(join(s, `${name}.txt`), txt.join('\n') + '\n');
    const firstT = Number(r.lines[0].split(' ')[0]);
    const es = exploit ? ((r.exploitNs! - firstT) / 1e9).toFixed(6) : '-1';
    rows.push(`victim_img, ${name}, ${exploit ? 'True' : 'False'}, 10, 30, ${es}`);
  }
  writeFileSync(join(s, 'runs.csv'), rows.join('\n') + '\n');
  return s;
}
