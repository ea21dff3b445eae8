/**
 * Agreement with Kubescape's own rule test cases (regolibrary rules/<rule>/test/<case>): for every
 * Kubescape rule that a Vigie control implements, run each case through the posture engine with
 * only those controls and compare which objects are flagged with expected.json.
 *
 *   npm run eval:kubescape [-- --verbose] [-- --json]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCatalogue } from '../detect/posture/catalogue.js';
import { evaluate } from '../detect/posture/engine.js';
import { loadText } from '../detect/posture/load.js';
import { settingsFromDocument } from '../detect/posture/settings.js';
import type { ControlDef, LoadedObject } from '../detect/posture/types.js';
import { datasetPath } from '../util/datasets.js';

/**
 * Disagreements kept on purpose, each with its reason (the table "Differences from Kubescape kept
 * on purpose" in docs/posture.md says more). Keyed `rule/case`. A disagreement not listed here is
 * unexplained: the test fails on it, and a listed one that agrees again is reported stale.
 */
export const KEPT_DIFFERENCES: Readonly<Record<string, string>> = {
  'exposed-sensitive-interfaces-v1/filter-multi-service':
    'a bare Pod named kubernetes-dashboard behind a LoadBalancer is reachable from outside whatever owns it',
  'ingress-and-egress-blocked/cnp-only-egress':
    'Cilium enforces default deny only in the directions a policy has rules for: ingress stays open',
  'pod-security-admission-applied-2/test':
    'a mutating webhook enforces nothing; the namespace without an enforce label admits privileged pods',
  'psp-deny-allowprivilegeescalation/pass-no-true':
    'the PodSecurityPolicy API defaults allowPrivilegeEscalation to true',
  'set-seccomp-profile-RuntimeDefault/workloads':
    'Pod Security restricted accepts Localhost seccomp profiles',
  'rule-can-access-proxy-subresource/role-rolebinding':
    'a RoleBinding grants nothing cluster-scoped (nodes/proxy is not namespaced)',
  'rule-can-approve-cert-signing-request/role-rolebinding':
    'a RoleBinding grants nothing cluster-scoped (CertificateSigningRequests are not namespaced)',
  'rule-can-modify-admission-webhooks/role-rolebinding':
    'a RoleBinding grants nothing cluster-scoped (webhook configurations are not namespaced)',
  'rule-can-create-pv/role-rolebinding':
    'a RoleBinding grants nothing cluster-scoped (PersistentVolumes are not namespaced)',
};

export interface CaseResult {
  rule: string;
  case: string;
  expected: string[];
  actual: string[];
  agree: boolean;
  /** Trivial detectors on the same case. */
  flagAllAgrees: boolean;
  flagNoneAgrees: boolean;
}

export interface RuleResult {
  rule: string;
  controls: string[];
  cases: CaseResult[];
}

export interface EvalReport {
  rules: RuleResult[];
  /** Rules reachable through a control's kubescape ids that no Vigie control implements. */
  notImplemented: { rule: string; via: string[]; cases: number }[];
  totals: {
    rules: number;
    cases: number;
    agree: number;
    agreement: number;
    /** Agreement counting the differences kept on purpose (KEPT_DIFFERENCES) as explained. */
    explained: number;
    /** Disagreements not in KEPT_DIFFERENCES, `rule/case`. */
    unexplained: string[];
    /** KEPT_DIFFERENCES entries whose case agrees now (or no longer exists). */
    stale: string[];
    flagAll: number;
    flagNone: number;
  };
}

function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Kubescape rule name (rule.metadata.json "name") → folder under rules/. */
function ruleFolders(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of readdirSync(join(root, 'rules'))) {
    const meta = join(root, 'rules', d, 'rule.metadata.json');
    if (!existsSync(meta)) continue;
    try {
      out.set(String(readJson(meta).name ?? d), d);
    } catch {
      out.set(d, d);
    }
    if (!out.has(d)) out.set(d, d);
  }
  return out;
}

/** Kubescape control id → rule names, from controls/*.json rulesNames and ControlID_RuleName.csv. */
function controlRules(root: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (c: string, r: string): void => {
    let s = out.get(c);
    if (!s) out.set(c, (s = new Set()));
    s.add(r);
  };
  for (const f of readdirSync(join(root, 'controls')).filter((x) => x.endsWith('.json'))) {
    try {
      const d = readJson(join(root, 'controls', f));
      for (const r of d.rulesNames ?? []) add(String(d.controlID), String(r));
    } catch {
      /* a malformed control file is skipped */
    }
  }
  const csv = join(root, 'ControlID_RuleName.csv');
  if (existsSync(csv)) {
    for (const line of readFileSync(csv, 'utf8').split(/\r?\n/).slice(1)) {
      const [c, r] = line.split(',');
      if (c && r) add(c.trim(), r.trim());
    }
  }
  return out;
}

function key(kind: unknown, name: unknown): string {
  return `${String(kind ?? '')}/${name == null ? '' : String(name)}`;
}

function expectedSet(expected: any[]): string[] {
  const s = new Set<string>();
  for (const e of expected) {
    const ao = e?.alertObject ?? {};
    for (const o of ao.k8sApiObjects ?? []) s.add(key(o?.kind, o?.metadata?.name));
    const ext = ao.externalObjects;
    if (ext && typeof ext === 'object') s.add(key(ext.kind, ext.name));
  }
  return [...s].sort();
}

function loadCaseInputs(dir: string): LoadedObject[] {
  const out: LoadedObject[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    const r = loadText(readFileSync(p, 'utf8'), p);
    out.push(...r.objects);
  }
  return out;
}

/** The case's data.json ({postureControlInputs, dataControlInputs}) read as `--settings` reads it. */
function caseSettings(dir: string): Record<string, string[]> {
  const p = join(dir, 'data.json');
  return existsSync(p) ? settingsFromDocument(readJson(p)) : {};
}

export function runKubescapeEval(
  root = datasetPath('kubescape-regolibrary'),
  controls: ControlDef[] = loadCatalogue(),
): EvalReport {
  const folders = ruleFolders(root);
  const byControl = controlRules(root);
  const implementedBy = new Map<string, ControlDef[]>();
  for (const c of controls) {
    for (const r of c.rules ?? []) {
      const viaIds = c.kubescape.filter((id) => byControl.get(id)?.has(r));
      if (viaIds.length === 0)
        throw new Error(
          `control ${c.id} claims rule ${r}, which none of its kubescape ids (${c.kubescape.join(', ')}) maps to`,
        );
      let l = implementedBy.get(r);
      if (!l) implementedBy.set(r, (l = []));
      l.push(c);
    }
  }
  const reachable = new Map<string, Set<string>>();
  for (const c of controls)
    for (const id of c.kubescape)
      for (const r of byControl.get(id) ?? []) {
        let s = reachable.get(r);
        if (!s) reachable.set(r, (s = new Set()));
        s.add(id);
      }
  const countCases = (rule: string): number => {
    const f = folders.get(rule);
    const t = f ? join(root, 'rules', f, 'test') : '';
    return f && existsSync(t) ? readdirSync(t).length : 0;
  };
  const notImplemented = [...reachable.entries()]
    .filter(([r]) => !implementedBy.has(r))
    .map(([rule, via]) => ({ rule, via: [...via].sort(), cases: countCases(rule) }))
    .sort((a, b) => a.rule.localeCompare(b.rule));

  const rules: RuleResult[] = [];
  for (const [rule, cs] of [...implementedBy.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const folder = folders.get(rule);
    const testDir = folder ? join(root, 'rules', folder, 'test') : undefined;
    const rr: RuleResult = { rule, controls: cs.map((c) => c.id), cases: [] };
    if (testDir && existsSync(testDir)) {
      for (const cname of readdirSync(testDir).sort()) {
        const cdir = join(testDir, cname);
        const inputDir = join(cdir, 'input');
        if (!existsSync(inputDir) || !existsSync(join(cdir, 'expected.json'))) continue;
        const objects = loadCaseInputs(inputDir);
        const expected = expectedSet(readJson(join(cdir, 'expected.json')));
        const res = evaluate(objects, { controls: cs, settings: caseSettings(cdir) });
        const actual = [
          ...new Set(
            res.findings.map((f) =>
              f.subject ? key(f.subject.kind, f.subject.name) : key(f.resource.kind, f.resource.name),
            ),
          ),
        ].sort();
        const all = [...new Set(objects.map((o) => key(o.obj.kind, o.obj.metadata?.name)))].sort();
        const eq = (a: string[], b: string[]): boolean =>
          a.length === b.length && a.every((x, i) => x === b[i]);
        rr.cases.push({
          rule,
          case: cname,
          expected,
          actual,
          agree: eq(expected, actual),
          flagAllAgrees: eq(expected, all),
          flagNoneAgrees: expected.length === 0,
        });
      }
    }
    rules.push(rr);
  }
  const cases = rules.flatMap((r) => r.cases);
  const agree = cases.filter((c) => c.agree).length;
  const differing = new Set(cases.filter((c) => !c.agree).map((c) => `${c.rule}/${c.case}`));
  const unexplained = [...differing].filter((k) => KEPT_DIFFERENCES[k] === undefined);
  const stale = Object.keys(KEPT_DIFFERENCES).filter((k) => !differing.has(k));
  return {
    rules,
    notImplemented,
    totals: {
      rules: rules.filter((r) => r.cases.length > 0).length,
      cases: cases.length,
      agree,
      agreement: cases.length === 0 ? 0 : agree / cases.length,
      explained: cases.length === 0 ? 0 : (agree + differing.size - unexplained.length) / cases.length,
      unexplained,
      stale,
      flagAll: cases.filter((c) => c.flagAllAgrees).length,
      flagNone: cases.filter((c) => c.flagNoneAgrees).length,
    },
  };
}

function keptNote(key: string): string {
  const why = KEPT_DIFFERENCES[key];
  return why === undefined ? '  (UNEXPLAINED)' : `\n         kept on purpose: ${why}`;
}

function pct(n: number, d: number): string {
  return d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`;
}

export function printReport(rep: EvalReport, verbose: boolean): void {
  console.log(`${'rule'.padEnd(58)} ${'controls'.padEnd(24)} cases agree`);
  for (const r of rep.rules) {
    const a = r.cases.filter((c) => c.agree).length;
    console.log(
      `${r.rule.padEnd(58)} ${r.controls.join(',').padEnd(24)} ${String(r.cases.length).padStart(5)} ${String(a).padStart(5)}${a < r.cases.length ? '  <-' : ''}`,
    );
    for (const c of r.cases) {
      if (!c.agree || verbose)
        console.log(
          `    ${c.agree ? 'ok  ' : 'DIFF'} ${c.case}: expected [${c.expected.join(', ')}] got [${c.actual.join(', ')}]${c.agree ? '' : keptNote(`${c.rule}/${c.case}`)}`,
        );
    }
  }
  if (rep.notImplemented.length > 0) {
    console.log(
      `\nrules reachable through mapped Kubescape controls but not implemented (${rep.notImplemented.length}):`,
    );
    for (const n of rep.notImplemented)
      console.log(`    ${n.rule} (via ${n.via.join(', ')}; ${n.cases} test cases)`);
  }
  const t = rep.totals;
  console.log(
    `\ntotal: ${t.rules} rules with test cases, ${t.cases} cases, ${t.agree} agree = ${pct(t.agree, t.cases)}`,
  );
  console.log(
    `differences: ${t.cases - t.agree - t.unexplained.length} kept on purpose (listed with reasons), ${t.unexplained.length} unexplained${t.unexplained.length ? ` (${t.unexplained.join(', ')})` : ''}; agreement counting the kept ones as explained ${pct(Math.round(t.explained * t.cases), t.cases)}${t.stale.length ? `; stale entries: ${t.stale.join(', ')}` : ''}`,
  );
  console.log(
    `trivial baselines on the same cases: flag every input object ${t.flagAll}/${t.cases} = ${pct(t.flagAll, t.cases)}; flag nothing ${t.flagNone}/${t.cases} = ${pct(t.flagNone, t.cases)}`,
  );
  console.log(
    `targets: agreement >= 95% (${t.agreement >= 0.95 ? 'met' : 'NOT met'}), cases >= 150 (${t.cases >= 150 ? 'met' : 'NOT met'}), rules >= 60 (${t.rules >= 60 ? 'met' : 'NOT met'})`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = datasetPath('kubescape-regolibrary');
  if (!existsSync(root)) {
    console.error(`kubescape-regolibrary data set not found at ${root} (set VIGIE_DATA)`);
    process.exit(2);
  }
  const rep = runKubescapeEval(root);
  if (process.argv.includes('--json')) console.log(JSON.stringify(rep, null, 2));
  else printReport(rep, process.argv.includes('--verbose'));
}
