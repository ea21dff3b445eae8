/**
 * The learned seccomp profile checked on real dockerd: a busybox httpd runs while bpftrace records
 * the system calls of its container; a fresh container of the same image then runs under the
 * generated profile. Its normal requests still succeed, and a call outside the profile (mkdir, which
 * the web server never made) fails with EPERM.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { dockerBlastRadius, inspectAll } from '../../src/characterize/blast-docker.js';
import { createCharacterizer } from '../../src/characterize/live.js';
import { makeAlert } from '../../src/model/alert.js';
import { openStore } from '../../src/infra/db.js';
import { seccompProfile, syscallsFromRecording } from '../../src/characterize/harden.js';

const execFileP = promisify(execFile);
/** docker CLI calls are bounded: a stuck call fails the test with its command line, not a timeout. */
const run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) =>
  execFileP(cmd, args, { timeout: 90_000, ...opts });
let trace: ChildProcess | undefined;

function available(): string | undefined {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    return 'dockerd not reachable';
  }
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'bpftrace not installed';
  }
  if (process.getuid?.() !== 0) return 'needs root for bpftrace';
  return undefined;
}
const missing = available();
if (missing && process.env.CI === 'true')
  throw new Error(`seccomp test needs dockerd and bpftrace in CI: ${missing}`);

const tag = `vigie-harden-test:${process.pid}`;
const names: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'vigie-harden-'));

afterAll(async () => {
  trace?.kill('SIGKILL');
  // Containers first: a network with endpoints attached cannot be removed.
  for (const n of names) await run('docker', ['rm', '-f', n]).catch(() => undefined);
  await run('docker', ['network', 'rm', `vigie-blast-${process.pid}`]).catch(() => undefined);
  await run('docker', ['rmi', '-f', tag]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function startContainer(name: string, extra: string[] = []): Promise<{ id: string; ip: string }> {
  names.push(name);
  const { stdout } = await run('docker', [
    'run',
    '-d',
    '--name',
    name,
    ...extra,
    tag,
    '/bin/busybox',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/www',
  ]);
  const id = stdout.trim();
  const { stdout: ip } = await run('docker', [
    'inspect',
    '-f',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
    id,
  ]);
  return { id, ip: ip.trim() };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return { status: r.status, body: await r.text() };
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`GET ${url} failed for 20 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function traffic(c: { id: string; ip: string }): Promise<void> {
  try {
    for (let i = 0; i < 5; i++) {
      expect((await get(`http://${c.ip}:8080/`)).status).toBe(200);
      expect((await get(`http://${c.ip}:8080/missing`)).status).toBe(404);
    }
  } catch (err) {
    // Say what the container was doing, so a failure here is diagnosable.
    const state = await run('docker', [
      'inspect',
      '-f',
      '{{.State.Status}} exit={{.State.ExitCode}} ip={{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
      c.id,
    ]).then(
      (r) => r.stdout.trim(),
      (e: Error) => e.message,
    );
    const logs = await run('docker', ['logs', '--tail', '20', c.id]).then(
      (r) => r.stdout + r.stderr,
      () => '',
    );
    throw new Error(
      `${(err as Error).message}; container ${c.id.slice(0, 12)}: ${state}; logs: ${logs.slice(0, 500)}`,
    );
  }
}

describe.skipIf(missing !== undefined)(
  'seccomp profile learned from a busybox httpd, on real dockerd',
  () => {
    beforeAll(async () => {
      const ctx = join(dir, 'ctx');
      execFileSync('mkdir', ['-p', ctx]);
      copyFileSync('/bin/busybox', join(ctx, 'busybox'));
      writeFileSync(join(ctx, 'index.html'), '<h1>vigie harden</h1>\n');
      writeFileSync(
        join(ctx, 'Dockerfile'),
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\nCOPY index.html /www/index.html\n',
      );
      await run('docker', ['build', '-q', '-t', tag, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    }, 120_000);

    it('allows the service, refuses a syscall it never made with EPERM', async () => {
      // Record, keyed by cgroup, every syscall made by busybox processes, from before the container starts.
      trace = spawn(
        'bpftrace',
        [
          '-f',
          'json',
          '-e',
          'tracepoint:raw_syscalls:sys_enter /comm == "busybox"/ { @[cgroup, args->id] = count(); }',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      const proc = trace;
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
      const t0 = Date.now();
      while (!out.includes('attached_probes')) {
        if (Date.now() - t0 > 30_000) throw new Error('bpftrace did not attach');
        await new Promise((r) => setTimeout(r, 50));
      }
      const learned = await startContainer(`vigie-harden-learn-${process.pid}`);
      // bpftrace's `cgroup` is the cgroup-v2 inode: hybrid hierarchy with cgroupfs (this machine), or pure v2.
      const candidates = [
        `/sys/fs/cgroup/unified/docker/${learned.id}`,
        `/sys/fs/cgroup/system.slice/docker-${learned.id}.scope`,
        `/sys/fs/cgroup/docker/${learned.id}`,
      ];
      const cgPath = candidates.find((p) => existsSync(p));
      if (!cgPath)
        throw new Error(
          `cgroup v2 directory of container ${learned.id.slice(0, 12)} not found (tried ${candidates.join(', ')})`,
        );
      const cgroup = statSync(cgPath).ino;
      await traffic(learned);
      proc.kill('SIGINT');
      // bpftrace prints its map on SIGINT and exits; never wait for it forever.
      const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
      if (!out.includes('"type": "map"'))
        throw new Error(`bpftrace exited without printing its map (output: ${out.slice(0, 300)})`);

      const seen = syscallsFromRecording(out, 'bpftrace output', cgroup);
      expect(seen).toEqual(expect.arrayContaining(['socket', 'bind', 'listen', 'accept', 'read', 'write']));
      expect(seen).not.toContain('mkdir');
      const profile = seccompProfile(seen);
      const profilePath = join(dir, 'httpd-seccomp.json');
      writeFileSync(profilePath, JSON.stringify(profile, null, 2));

      const hardened = await startContainer(`vigie-harden-run-${process.pid}`, [
        '--security-opt',
        `seccomp=${profilePath}`,
      ]);
      const ok = await get(`http://${hardened.ip}:8080/`);
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('vigie harden');
      await traffic(hardened);

      // mkdir was never made by the web server: refused with EPERM under the profile...
      const denied = await run('docker', [
        'exec',
        hardened.id,
        '/bin/busybox',
        'mkdir',
        '/created-by-test',
      ]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/Operation not permitted/);
      // ...while the same command works in the learning container (Docker's default profile).
      await run('docker', ['exec', learned.id, '/bin/busybox', 'mkdir', '/created-by-test']);
      // The hardened service is still up after the refusal.
      expect((await get(`http://${hardened.ip}:8080/`)).status).toBe(200);
    }, 180_000);

    it('Docker blast radius: shared network, published port, docker socket, secret env, added capability', async () => {
      const net = `vigie-blast-${process.pid}`;
      await run('docker', ['network', 'create', net]);
      const victim = await startContainer(`vigie-blast-victim-${process.pid}`, [
        '--network',
        net,
        '-p',
        '127.0.0.1::8080',
        '-v',
        '/var/run/docker.sock:/var/run/docker.sock:ro',
        '-e',
        'DB_PASSWORD=hunter2',
        '--cap-add',
        'SYS_PTRACE',
      ]);
      await startContainer(`vigie-blast-peer-${process.pid}`, ['--network', net]);
      await startContainer(`vigie-blast-apart-${process.pid}`, ['--network', 'none']);
      const all = await inspectAll(new Docker());
      const b = dockerBlastRadius(all, victim.id, 'host-1')!;
      expect(b.reachable).toEqual([`vigie-blast-peer-${process.pid}`]);
      expect(b.coLocated).toEqual(
        expect.arrayContaining([`vigie-blast-peer-${process.pid}`, `vigie-blast-apart-${process.pid}`]),
      );
      expect(b.hostPaths).toEqual(['/var/run/docker.sock']);
      expect(b.secrets).toEqual(['env DB_PASSWORD']);
      expect(JSON.stringify(b)).not.toContain('hunter2');
      expect(b.hostAccess).toEqual(['runtime socket /var/run/docker.sock', 'capability SYS_PTRACE']);
      expect(b.exposedBy[0]).toMatch(/^127\.0\.0\.1:\d+ → 8080\/tcp$/);
      expect(b.items.find((i) => i.kind === 'hostPath')!.risk).toBe('high');
      const apart = dockerBlastRadius(all, `vigie-blast-apart-${process.pid}`)!;
      expect(apart.reachable).toEqual([]);
      expect(apart.score).toBeLessThan(b.score);

      // The live characterizer attaches it to a container incident.
      const db = openStore(':memory:');
      const ch = await createCharacterizer({ db, docker: new Docker() });
      const alert = makeAlert(
        {
          rule: 'Terminal shell in container',
          priority: 'Warning',
          output: 'sh',
          category: 'attack',
          detector: 't',
          explanation: 'sh',
          entities: { container: { id: victim.id, name: 'victim' } },
        },
        'host-1',
      );
      const inc = ch.correlate(alert);
      await ch.settled();
      expect(ch.correlator.store.get(inc.id)!.blastRadius?.hostPaths).toEqual(['/var/run/docker.sock']);
      db.close();
    }, 120_000);
  },
);
