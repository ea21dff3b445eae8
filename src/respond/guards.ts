/**
 * Guards: what must never be touched (Vigie itself, protected labels, names and namespaces), and the
 * budget of state-changing actions (rate limit, incident caps, one action in effect per target).
 */
import { readFileSync } from 'node:fs';
import { READ_ONLY_ACTIONS, type ActionTarget } from '../model/action.js';
import type { ActionStore, StoredAction } from '../store/actions.js';
import { globMatch, type Policy } from './policy.js';

/** Ids of the container this process runs in, if any: it must never be acted on. */
export function selfContainerIds(): string[] {
  const ids = new Set<string>();
  for (const f of ['/proc/self/cgroup', '/proc/self/mountinfo']) {
    try {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:docker[-/]|containers\/)([0-9a-f]{64})/g)) ids.add(m[1]);
    } catch {
      // Not Linux or not readable: nothing to add.
    }
  }
  return [...ids];
}

export class Guards {
  constructor(
    private readonly policy: Policy,
    private readonly store: ActionStore,
    private readonly selfIds: ReadonlySet<string>,
    private readonly now: () => Date,
  ) {}

  /** Why this target must never be touched, or undefined. */
  protectedReason(target: ActionTarget, state: unknown, allowProtectedNamespace = false): string | undefined {
    const s = (state ?? {}) as {
      id?: string;
      name?: string;
      labels?: Record<string, string>;
      namespace?: string;
    };
    const id = s.id ?? target.id;
    for (const self of this.selfIds) {
      if (id === self || (id.length >= 12 && self.startsWith(id))) return 'target is Vigie itself';
    }
    const labels = s.labels ?? {};
    if (labels['vigie.component'] !== undefined)
      return `target is a Vigie component (label vigie.component=${labels['vigie.component']})`;
    for (const [k, v] of Object.entries(this.policy.guards.protectLabels)) {
      if (labels[k] !== undefined && (v === '*' || labels[k] === v))
        return `protected by label ${k}=${labels[k]}`;
    }
    const names = [target.name, s.name].filter((n): n is string => !!n);
    for (const g of this.policy.guards.protectNames) {
      const n = names.find((x) => globMatch(g, x));
      if (n) return `protected by name (${n} matches "${g}")`;
    }
    const ns = s.namespace ?? target.namespace;
    // A policy step may explicitly reach into a protected namespace (`allowProtectedNamespace: true`).
    if (ns && !allowProtectedNamespace) {
      const g = this.policy.guards.protectNamespaces.find((p) => globMatch(p, ns));
      if (g) return `protected namespace ${ns}`;
    }
    return undefined;
  }

  /**
   * Rate limit, incident cap, action already in effect; read-only actions do not count. Synchronous (SQLite), so that the caller can
   * check and reserve with no await in between.
   */
  budgetReason(r: StoredAction): string | undefined {
    const g = this.policy.guards;
    const nowMs = this.now().getTime();
    const active = this.store.activeOn(r.target.id, r.action);
    if (
      active &&
      (active.status !== 'planned' || Date.parse(active.createdAt) >= nowMs - g.correlationWindowMs)
    ) {
      return `already ${active.status === 'planned' ? 'planned' : 'in effect'} as ${active.id}`;
    }
    const recent = this.store.countActingSince(new Date(nowMs - 60_000).toISOString(), [
      ...READ_ONLY_ACTIONS,
    ]);
    if (recent >= g.rateLimitPerMinute)
      return `rate limit: ${recent} actions in the last minute (max ${g.rateLimitPerMinute})`;
    if (r.corrKey) {
      const spent = this.store.spentFor(r.corrKey, [...READ_ONLY_ACTIONS]);
      if (spent.actions >= g.maxActionsPerIncident)
        return `incident cap: ${spent.actions} actions already taken for ${r.corrKey} (max ${g.maxActionsPerIncident})`;
      if (!spent.targets.includes(r.target.id) && spent.targets.length >= g.maxWorkloadsPerIncident)
        return `incident cap: ${spent.targets.length} workloads already touched for ${r.corrKey} (max ${g.maxWorkloadsPerIncident})`;
    }
    return undefined;
  }
}
