/**
 * Findings grouped by root cause for reports. Controls overlap on purpose (each maps to its own
 * Kubescape rule, and the agreement eval, `--fail-on` and exceptions work on every control's own
 * findings), but a reviewer should read one missing memory limit once, and one binding to a broad
 * role once with the permissions it grants. Controls that name the same `cause` in their JSON and
 * fail on the same resource at the same place (the same RBAC subject, else the same container,
 * else the same path) are one reported finding: led by the most severe of them (then the lowest
 * control id), the others listed under `also`. Excepted and active findings are never mixed.
 */
import { severityRank, type Finding, type ResourceRef } from './types.js';

/** A finding as reports show it: one control's finding, or a group led by one (`also`: the rest). */
export interface ReportedFinding extends Finding {
  also?: readonly Finding[];
}

/** A group of findings with one root cause, seen through its lead. */
class GroupedFinding implements ReportedFinding {
  constructor(
    readonly lead: Finding,
    readonly also: readonly Finding[],
  ) {}
  get control(): string {
    return this.lead.control;
  }
  get title(): string {
    return this.lead.title;
  }
  get kubescape(): string[] {
    return this.lead.kubescape;
  }
  get severity(): Finding['severity'] {
    return this.lead.severity;
  }
  get resource(): ResourceRef {
    return this.lead.resource;
  }
  get path(): string {
    return this.lead.path;
  }
  get message(): string {
    return this.lead.message;
  }
  get fix(): string {
    return this.lead.fix;
  }
  get container(): string | undefined {
    return this.lead.container;
  }
  get subject(): Finding['subject'] {
    return this.lead.subject;
  }
  get related(): Finding['related'] {
    return this.lead.related;
  }
  get source(): Finding['source'] {
    return this.lead.source;
  }
  /** The lead's field in the source text: where the group is reported. */
  get location(): Finding['location'] {
    return this.lead.location;
  }
  get mitre(): Finding['mitre'] {
    return this.lead.mitre;
  }
  get excepted(): boolean {
    return this.lead.excepted;
  }
  get exception(): Finding['exception'] {
    return this.lead.exception;
  }
  get cause(): string | undefined {
    return this.lead.cause;
  }
}

function sameResource(a: ResourceRef, b: ResourceRef): boolean {
  return (
    a === b ||
    (a.kind === b.kind && a.name === b.name && a.namespace === b.namespace && a.apiVersion === b.apiVersion)
  );
}

const CONTAINER_PATH = /^.*?[cC]ontainers\[\d+\]/;

/** Where in the resource the root cause lies: the RBAC subject, the container, or the path. */
function placeOf(f: Finding): string {
  const s = f.subject;
  if (s) return `subject\u0000${s.kind}\u0000${s.namespace ?? ''}\u0000${s.name}`;
  const path = f.path;
  const m = CONTAINER_PATH.exec(path);
  return m ? m[0] : path;
}

/** Most severe first, then the lowest control id; stable otherwise. */
function leadOrder(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (a.control < b.control ? -1 : a.control > b.control ? 1 : 0)
  );
}

/**
 * The findings as reports list them: every finding without a cause as it is, and each group of
 * findings with one cause as one ReportedFinding at the place of its first member. Findings of one
 * resource are grouped when they are next to each other in the list (the engine lists an object's
 * findings together), so that a scan of millions of findings keeps one small map at a time.
 */
export function reportedFindings(findings: readonly Finding[]): ReportedFinding[] {
  const out: ReportedFinding[] = [];
  let groups: Map<string, { at: number; members: Finding[] }> | undefined;
  let current: ResourceRef | undefined;
  const flush = (): void => {
    if (!groups) return;
    for (const g of groups.values()) {
      if (g.members.length === 1) continue;
      const members = g.members.slice().sort(leadOrder);
      out[g.at] = new GroupedFinding(members[0], members.slice(1));
    }
    groups = undefined;
  };
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i];
    if (current === undefined || !sameResource(current, f.resource)) {
      flush();
      current = f.resource;
    }
    const cause = f.cause;
    if (cause === undefined) {
      out.push(f);
      continue;
    }
    const key = `${f.excepted ? 'x' : 'a'}\u0000${cause}\u0000${placeOf(f)}`;
    groups ??= new Map();
    const g = groups.get(key);
    if (g) g.members.push(f);
    else {
      groups.set(key, { at: out.length, members: [f] });
      out.push(f);
    }
  }
  flush();
  return out;
}

/** How many findings reports show, active by severity and excepted. */
export function reportedCounts(reported: readonly ReportedFinding[]): {
  findings: number;
  excepted: number;
  bySeverity: Record<Finding['severity'], number>;
} {
  const bySeverity: Record<Finding['severity'], number> = {
    critical: 0,
    high: 0,
    medium: 0,
    low: 0,
    info: 0,
  };
  let findings = 0;
  let excepted = 0;
  for (const f of reported) {
    if (f.excepted) excepted++;
    else {
      findings++;
      bySeverity[f.severity]++;
    }
  }
  return { findings, excepted, bySeverity };
}

/** "binding to cluster-admin" from "Binding to cluster-admin"; "NET_RAW not dropped" kept. */
function lowerFirst(s: string): string {
  return s.length > 1 && s[1] === s[1].toLowerCase() ? s[0].toLowerCase() + s.slice(1) : s;
}

/**
 * The other members of a group, for a line of text: each control once, by its title ("VG-RBAC-003
 * can read secrets"); a second finding of the lead's own control by its message.
 */
export function alsoText(f: ReportedFinding): string | undefined {
  if (!f.also || f.also.length === 0) return undefined;
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const a of f.also) {
    const text = a.control === f.control ? a.message : `${a.control} ${lowerFirst(a.title)}`;
    if (seen.has(text)) continue;
    seen.add(text);
    parts.push(text);
  }
  return parts.join('; ');
}
