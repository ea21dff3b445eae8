/**
 * The live noisy-neighbour scenario on real dockerd: the victim's latency must rise when the
 * neighbour's hog starts, Vigie must name the neighbour and cap it, and the victim's latency must come
 * back near its baseline. Skips with a message when dockerd is not reachable (except under CI=true).
 */
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { runNoisyNeighbour } from '../../src/testbed/noisy-neighbour.js';

async function dockerUp(): Promise<boolean> {
  try {
    await new Docker().ping();
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('dockerd not reachable in CI');
    console.warn('skipping: dockerd not reachable (run scripts/setup.sh)');
    return false;
  }
}

const up = await dockerUp();

describe.skipIf(!up)('noisy-neighbour scenario (live dockerd)', () => {
  it('detects the degradation, names and caps the neighbour, and the victim recovers', async () => {
    const r = await runNoisyNeighbour({ baselineSeconds: 20, recoverySeconds: 15, log: () => undefined });
    // Degradation was real.
    expect(r.during.p50).toBeGreaterThan(2 * r.baseline.p50);
    // Detected, the right container named, and contained in enforce mode.
    const nn = r.alerts.find((a) => a.rule === 'Noisy neighbour');
    expect(nn?.vigie.category).toBe('performance');
    expect(r.named).toBe(r.neighbour);
    expect(nn?.vigie.entities.container?.name).toBe(r.neighbour);
    expect(r.alerts.some((a) => a.output.includes(r.bystander) && a.rule === 'Noisy neighbour')).toBe(false);
    expect(r.detectedAfterMs).toBeLessThan(15_000);
    expect(r.contained).toBe(true);
    const throttle = r.actions.find((a) => a.action === 'throttle');
    expect(throttle?.status).toBe('executed');
    expect(throttle?.verified).toBe(true);
    // Back near baseline: the median within twice the baseline median (or 15 ms of it, whichever is looser).
    expect(r.after.p50).toBeLessThanOrEqual(Math.max(2 * r.baseline.p50, r.baseline.p50 + 15));
    expect(r.after.errors).toBe(0);
  }, 150_000);
});
