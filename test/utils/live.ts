/** Helpers for the live tests (real dockerd and bpftrace). */
import Docker from 'dockerode';
import { spawnSync } from 'node:child_process';
import type { VigieEvent } from '../../src/model/event.js';
import { PassThrough } from 'node:stream';
import { createOutput, type Output } from '../../src/engine/output.js';

export const docker = new Docker();

export async function dockerAvailable(): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    if (process.env.CI === 'true')
      throw new Error('dockerd is not answering in CI (scripts/setup.sh starts it)');
    console.warn('skipping: dockerd is not answering (run scripts/setup.sh)');
    return false;
  }
}

export function bpftraceAvailable(): boolean {
  const ok =
    process.getuid?.() === 0 && spawnSync('bpftrace', ['--version'], { timeout: 10_000 }).status === 0;
  if (!ok && process.env.CI === 'true')
    throw new Error('bpftrace cannot run in CI (needs root and bpftrace)');
  if (!ok) console.warn('skipping: bpftrace cannot run here (needs root and the bpftrace package)');
  return ok;
}

export async function waitFor<T>(fn: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class Collector {
  events: VigieEvent[] = [];
  sink = (ev: VigieEvent): boolean => {
    this.events.push(ev);
    return true;
  };
  find(pred: (e: VigieEvent) => boolean): VigieEvent | undefined {
    return this.events.find(pred);
  }
}

export async function removeContainer(id: string | undefined): Promise<void> {
  if (!id) return;
  await docker
    .getContainer(id)
    .remove({ force: true })
    .catch(() => undefined);
}

/** An engine output whose lines nobody reads (drained, so that writing never blocks). */
export function discardedOutput(): Output {
  const out = new PassThrough();
  out.resume();
  return createOutput('json', out, new PassThrough());
}
