/**
 * The field catalogs of the sources Vigie provides, for one loaded rule set.
 */
import { k8sAuditCatalog } from './k8saudit.js';
import { createSyscallCatalog, type SyscallFieldState } from './syscall.js';
import type { FieldCatalog } from './types.js';

/** Catalogs by source name; the syscall catalog reads `state` (evt.num, the event type). */
export function fieldCatalogs(state: SyscallFieldState): ReadonlyMap<string, FieldCatalog> {
  return new Map<string, FieldCatalog>([
    ['syscall', createSyscallCatalog(state)],
    ['k8s_audit', k8sAuditCatalog],
  ]);
}
