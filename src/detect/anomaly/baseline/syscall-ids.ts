/**
 * The ids of the system calls a baseline learns: the x86_64 kernel numbers (model/syscalls.ts). An
 * event of the bpftrace sensor carries its number (`syscall.nr`); an event that only names its call
 * is looked up in the kernel table. A name no kernel table knows (a source's own event names, test
 * data) still has to be learned: it gets an id above every kernel number, assigned on first sight
 * by the manager that owns this object. Persisted baselines are written with names, so these extra
 * ids never leave the process.
 */
import type { SyscallBody } from '../../../model/event.js';
import { syscallName, syscallNumber } from '../../../model/syscalls.js';

/** Above every kernel number (the sensor packs them in 10 bits; x86_64 numbers stay under 1024). */
const FIRST_EXTRA_ID = 1 << 20;

export class SyscallIds {
  private readonly extraIds = new Map<string, number>();
  private readonly extraNames: string[] = [];

  /** Id of an event's call: its kernel number when the event carries one, else by name. */
  of(sc: Pick<SyscallBody, 'name' | 'nr'>): number {
    const nr = sc.nr;
    if (typeof nr === 'number' && Number.isInteger(nr) && nr >= 0 && nr < FIRST_EXTRA_ID) return nr;
    return this.byName(sc.name);
  }

  /** Id of a system-call name: its kernel number, or an extra id when no kernel table knows it. */
  byName(name: string): number {
    const nr = syscallNumber(name);
    if (nr !== undefined && nr < FIRST_EXTRA_ID) return nr;
    let id = this.extraIds.get(name);
    if (id === undefined) {
      id = FIRST_EXTRA_ID + this.extraNames.length;
      this.extraNames.push(name);
      this.extraIds.set(name, id);
    }
    return id;
  }

  /** Name of an id, for display and persistence. */
  nameOf(id: number): string {
    return id >= FIRST_EXTRA_ID ? (this.extraNames[id - FIRST_EXTRA_ID] ?? `#${id}`) : syscallName(id);
  }
}
