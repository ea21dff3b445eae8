/**
 * The container image, built on this machine's dockerd by `npm run image` (scripts/image.sh: a
 * debootstrap base made once, then the build of this tree; reused while the tag keyed on the
 * content of dist/ exists) and started: `vigie --version`, `vigie agent --help`, a short `vigie run`
 * without a Docker socket (it starts, says what it cannot watch, stops cleanly), a posture scan of
 * the shipped manifest (the controls come from dist/, the image has no src/), and the user the
 * manifests run the brain as (1000) can run it; the brain, run as the manifests run it against a real
 * nats-server, becomes ready, keeps its database across containers, and reports NATS going away.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { root } from '../detect/posture/run-vigie.js';
import { dockerAvailable } from '../utils/live.js';
import { natsAvailable, startNats } from '../utils/nats-server.js';

const run = await dockerAvailable();
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

function docker(args: string[], input?: string) {
  return spawnSync('docker', args, { encoding: 'utf8', input, timeout: 120_000 });
}

describe.runIf(run)('the Vigie image', () => {
  let image = '';
  beforeAll(async () => {
    // First build on a fresh machine: debootstrap (minutes, mostly downloads) and npm run build.
    // Asynchronous: the test worker keeps answering its runner meanwhile.
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const p = spawn(join(root, 'scripts', 'image.sh'), [], { cwd: root });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += String(d)));
      p.stderr.on('data', (d: Buffer) => (err += String(d)));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, out, err }));
    });
    if (r.code !== 0) throw new Error(`scripts/image.sh failed (${r.code}):\n${r.err}`);
    image = r.out.trim().split('\n').at(-1)!;
  }, 1_600_000);

  it('is tagged with the package version and prints it', () => {
    expect(image).toBe(`vigie:${version}`);
    const r = docker(['run', '--rm', image, '--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('starts the agent and the brain commands', () => {
    for (const cmd of ['agent', 'brain']) {
      const r = docker(['run', '--rm', image, cmd, '--help']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Usage: vigie ${cmd}`);
      expect(r.stdout).toContain('--nats');
    }
  });

  it('runs vigie run without a Docker socket: it starts, says what it cannot watch, stops cleanly', () => {
    const r = docker(['run', '--rm', image, 'run', '--duration', '3', '--no-sensor']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/dockerd unavailable \(connect ENOENT \/var\/run\/docker\.sock\)/);
    expect(r.stderr).toMatch(/vigie: watching \(monitor mode/);
    expect(r.stderr).toMatch(/vigie: stopping/);
  });

  it('scans manifests with the controls of dist/, as the user the brain runs as', () => {
    const ls = docker(['run', '--rm', '--entrypoint', '/bin/sh', image, '-c', 'ls /app']);
    expect(ls.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(
      ['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json'].sort(),
    );
    const manifest = readFileSync(join(root, 'deploy', 'kubernetes', 'vigie.yaml'), 'utf8');
    const r = docker(
      ['run', '--rm', '-i', '--user', '1000:1000', image, 'scan', '-', '-o', 'json'],
      manifest,
    );
    expect(r.stderr).toBe('');
    const controls = (JSON.parse(r.stdout) as { findings: { control: string }[] }).findings.map(
      (f) => f.control,
    );
    expect(controls).toContain('VG-POD-001'); // the privileged agent, found by the shipped controls
  });

  it('carries bpftrace and CA certificates from its base', () => {
    const r = docker([
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      'bpftrace --version && ls /etc/ssl/certs/ca-certificates.crt',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^bpftrace v0\./);
  });

  it('runs the brain as the manifests do: user 1000, read-only root, its database on a volume that outlives it', async () => {
    if (!natsAvailable()) return;
    const nats = await startNats({ args: ['--auth', 'image-test-token'] });
    const data = mkdtempSync(join(tmpdir(), 'vigie-brain-data-'));
    writeFileSync(join(data, 'token'), 'image-test-token\n');
    chmodSync(data, 0o777); // the volume as fsGroup makes it: writable by the brain's user
    const port = 17000 + Math.floor(Math.random() * 2000);
    const name = `vigie-brain-test-${process.pid}`;
    const start = () =>
      docker([
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'host',
        '--read-only',
        '--user',
        '1000:1000',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
        '-v',
        `${data}:/data`,
        image,
        'brain',
        '--nats',
        nats.url,
        '--nats-token-file',
        '/data/token',
        '--db',
        '/data/vigie.db',
        '--listen',
        `127.0.0.1:${port}`,
        '--policy',
        '/app/dist/policies/default.yaml',
      ]);
    const readyz = async (): Promise<string | undefined> => {
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/readyz`);
          if (r.status === 200) return await r.text();
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      return undefined;
    };
    try {
      expect(start().status).toBe(0);
      expect(await readyz()).toBe('{"ok":true,"reasons":[]}');
      const first = docker(['logs', name]).stderr;
      expect(first).toMatch(/first start: admin token/);
      docker(['rm', '-f', name]);
      // A new container on the same volume: same database, no new admin token.
      expect(start().status).toBe(0);
      expect(await readyz()).toBe('{"ok":true,"reasons":[]}');
      expect(docker(['logs', name]).stderr).not.toMatch(/admin token/);
      // NATS gone: the brain stays alive (liveness) but says it is not ready.
      await nats.stop();
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      docker(['rm', '-f', name]);
      await nats.stop();
    }
  });
});
