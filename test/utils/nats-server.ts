/** Starts Debian's nats-server with JetStream on a free loopback port, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER = process.env.VIGIE_NATS_SERVER ?? '/usr/sbin/nats-server';

export function natsAvailable(): boolean {
  if (existsSync(NATS_SERVER)) return true;
  if (process.env.CI === 'true')
    throw new Error(`${NATS_SERVER} missing in CI (scripts/setup.sh installs nats-server)`);
  console.warn(`skipping NATS tests: ${NATS_SERVER} not found`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export interface NatsHandle {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface NatsServerOptions {
  /** More arguments: `--auth TOKEN`, `-c nats.conf`, `--tls --tlscert F --tlskey F ...`. */
  args?: string[];
  /** More environment (a configuration file can read variables: `token: $NATS_TOKEN`). */
  env?: Record<string, string>;
}

export async function startNats(o: NatsServerOptions = {}): Promise<NatsHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigie-nats-'));
  const start = async (): Promise<ChildProcess> => {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, ...(o.args ?? [])];
    const proc = spawn(NATS_SERVER, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('nats-server did not start in 10 s')), 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        if (String(d).includes('Server is ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.on('exit', (c) => reject(new Error(`nats-server exited with ${c}`)));
    });
    return proc;
  };
  const h: NatsHandle = {
    url: `nats://127.0.0.1:${port}`,
    proc: await start(),
    async stop() {
      if (h.proc.exitCode !== null || h.proc.signalCode !== null) return;
      const exited = new Promise((r) => h.proc.once('exit', r));
      h.proc.kill('SIGTERM');
      await exited;
    },
    async restart() {
      await h.stop();
      h.proc = await start();
    },
  };
  process.once('exit', () => {
    h.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return h;
}
