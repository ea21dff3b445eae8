/**
 * The 'baseline' detector: feeds every runtime event of a container to its workload baseline, which
 * learns, then alerts (category 'anomaly') on what was never seen.
 */
import type { Alert } from '../../../model/alert.js';
import type { EventKind, VigieEvent } from '../../../model/event.js';
import type { DetectorContext } from '../../types.js';
import type { AlertEmitter, Detector } from '../../types.js';
import { createBaselineManager, type BaselineManager } from './manager.js';

export class BaselineDetector implements Detector {
  readonly name = 'baseline';
  readonly kinds: readonly EventKind[] = [
    'syscall',
    'process',
    'file',
    'network',
    'metric',
    'container',
    'internal',
  ];
  private events = 0;
  private syscalls = 0;
  private malformed = 0;
  private unattributed = 0;

  constructor(readonly manager: BaselineManager) {
    manager.active = true;
  }

  /**
   * Every alert the engine raises, from any detector. A workload's own security alerts pause its
   * learning and make an incident, not drift, of its anomalies; performance and posture alerts do
   * not (docs/detectors.md, "Lifecycle").
   */
  onAlert(a: Alert): void {
    this.manager.noteAlertRecord(a);
  }

  onEvent(ev: VigieEvent, emit: AlertEmitter): void {
    this.events++;
    try {
      const ts = ev.ts;
      if (typeof ts !== 'bigint') {
        this.malformed++;
        return;
      }
      const nowMs = Number(ts) / 1e6;
      if (ev.kind === 'syscall') {
        const sc = ev.syscall;
        if (sc === undefined || sc === null || typeof sc.name !== 'string' || sc.name === '') {
          this.malformed++;
          return;
        }
        // Enter and exit of one call are one element of the sequence.
        if (sc.dir === '<') return;
        const wb = this.manager.resolve(ev, nowMs);
        if (wb === undefined) {
          this.unattributed++;
          return;
        }
        this.syscalls++;
        const p = ev.proc;
        let tid = 0;
        if (p !== undefined && p !== null) {
          if (typeof p.tid === 'number') tid = p.tid;
          else if (typeof p.pid === 'number') tid = p.pid;
        }
        wb.onSyscall(tid, this.manager.calls.of(sc), nowMs, ev, emit);
        return;
      }
      if (ev.kind === 'internal') {
        const type = ev.internal?.type;
        if (type === 'sensor_lost' || type === 'sensor_restart' || type === 'queue_drop')
          this.manager.noteLoss(nowMs);
        return;
      }
      if (ev.kind === 'container') {
        const action = ev.lifecycle?.action;
        if (ev.container && (action === 'destroy' || action === 'die'))
          this.manager.forgetContainer(ev.container.id);
        return;
      }
      const body =
        ev.kind === 'process'
          ? ev.proc
          : ev.kind === 'file'
            ? ev.file
            : ev.kind === 'network'
              ? ev.network
              : ev.metric;
      if (body === undefined || body === null || typeof body !== 'object') {
        this.malformed++;
        return;
      }
      const wb = this.manager.resolve(ev, nowMs);
      if (wb === undefined) {
        this.unattributed++;
        return;
      }
      wb.onEvent(ev, nowMs, emit);
    } catch {
      // An odd event must not take the pipeline down: count it and go on.
      this.malformed++;
    }
  }

  tick(nowNs: bigint, emit: AlertEmitter): void {
    this.manager.tick(Number(nowNs) / 1e6, emit);
  }

  close(): void {
    this.manager.save();
  }

  stats(): Record<string, number | string> {
    const out: Record<string, number | string> = {
      events: this.events,
      syscalls: this.syscalls,
      malformed: this.malformed,
      unattributed: this.unattributed,
      anomalies: [...this.manager.workloads.values()].reduce((n, w) => n + w.anomalies, 0),
      workloads: this.manager.workloads.size,
      losses: this.manager.losses,
      suppressedByLoss: this.manager.loss.suppressed,
    };
    for (const w of this.manager.workloads.values())
      out[`state.${w.state}`] = (Number(out[`state.${w.state}`]) || 0) + 1;
    return out;
  }
}

/**
 * Registry factory: learns into the manager the context gives (shared with the 'runtime' detector and
 * the API); without one, into a manager of its own over the context's store.
 */
export function createBaselineDetector(ctx: DetectorContext): BaselineDetector {
  return new BaselineDetector(ctx.baselines ?? createBaselineManager(ctx.db, ctx.config.baseline));
}
