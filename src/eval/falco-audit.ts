/**
 * Replays Falco's own k8s_audit regression tests (../shared/datasets/falco-k8s-audit) through Vigie's
 * rule engine and compares the alerts with what Falco must produce: for a test marked True, each
 * listed rule fires exactly the listed number of times; for a test marked False, nothing fires.
 *
 *   npm run eval:falco-audit [-- --matching all]
 *
 * Test definitions come from _falco_k8s_audit_tests.yaml (rule files per test, detect_counts) and
 * _labels.tsv. Two gaps between Falco's test tree and the data set are bridged explicitly:
 * - the small rule files under Falco's test/rules/k8s_audit/ (allow/trust/disallow overrides) are not
 *   in the data set; Vigie writes its own equivalents below (FIXTURES), aimed at the list and macro
 *   names of the k8s_audit_rules.yaml in the data set; engine_v4_k8s_audit_rules.yaml (an old copy of
 *   the k8s audit rules) is replaced by the data set's k8s_audit_rules.yaml;
 * - the data set's rules split four rules the tests name (RENAMED); their counts are summed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { datasetPath } from '../util/datasets.js';
import { loadRuleSources, RuleReader, type RuleSource } from '../detect/rules/loader.js';
import { RuleEngine, type RuleMatching } from '../detect/rules/engine.js';
import { auditToEvent, parseAuditText } from '../sources/k8s-audit-file.js';

/** Vigie's own equivalents of Falco's per-test override files. */
export const FIXTURES: Readonly<Record<string, string>> = {
  'allow_namespace_foo.yaml': '- list: allowed_namespaces\n  items: [foo]\n  override:\n    items: append\n',
  'allow_user_some-user.yaml': '- list: allowed_k8s_users\n  items: ["some-user"]\n  append: true\n',
  // Turns off the activity rules (K8s Deployment Created, ...).
  'disallow_kactivity.yaml': '- macro: consider_activity_events\n  condition: (k8s_audit_never_true)\n',
  'allow_nginx_container.yaml':
    '- macro: allowed_k8s_containers\n  condition: ka.req.pod.containers.image.repository in (nginx)\n',
  'allow_only_apache_container.yaml':
    '- macro: allowed_k8s_containers\n  condition: ka.req.pod.containers.image.repository in (httpd, apache)\n',
  'engine_v4/allow_nginx_container.yaml':
    '- macro: allowed_k8s_containers\n  condition: (ka.req.container.image.repository = nginx)\n',
  'engine_v4/allow_only_apache_container.yaml':
    '- macro: allowed_k8s_containers\n  condition: (ka.req.container.image = apache)\n',
  'trust_nginx_container.yaml': [
    'k8s_audit_sensitive_mount_images',
    'k8s_audit_privileged_images',
    'k8s_audit_hostnetwork_images',
  ]
    .map((l) => `- list: ${l}\n  items: [nginx]\n  append: true\n`)
    .join('\n'),
  'single_rule_with_json_pointer.yaml': [
    '- rule: json_pointer_example',
    '  desc: JSON pointers with escaped "/" (~1) and "~" (~0)',
    '  condition: jevt.value[/annotations/authorization.k8s.io~1decision] exists and not (jevt.value[/a~1~0b] exists)',
    '  output: "JSON pointer matched (decision=%jevt.value[/annotations/authorization.k8s.io~1decision])"',
    '  priority: WARNING',
    '  source: k8s_audit',
    '',
  ].join('\n'),
};

/** Rules the tests name that the data set's rule file splits in two. */
export const RENAMED: Readonly<Record<string, readonly string[]>> = {
  'K8s Role/Clusterrole Created': ['K8s Role Created', 'K8s ClusterRole Created'],
  'K8s Role/Clusterrole Deleted': ['K8s Role Deleted', 'K8s ClusterRole Deleted'],
  'K8s Role/Clusterrolebinding Created': ['K8s RoleBinding Created', 'K8s ClusterRoleBinding Created'],
  'K8s Role/Clusterrolebinding Deleted': ['K8s RoleBinding Deleted', 'K8s ClusterRoleBinding Deleted'],
};

export interface AuditTestCase {
  name: string;
  detect: boolean;
  level?: string;
  counts: Record<string, number>;
  rulesFiles: string[];
  trace: string;
  expectParseError: boolean;
}

export interface AuditTestResult {
  test: AuditTestCase;
  pass: boolean;
  fired: Record<string, number>;
  events: number;
  parseErrors: string[];
  why: string;
  /** Rule files actually loaded (data set paths or fixture names). */
  loaded: string[];
}

export function loadAuditTests(root = datasetPath('falco-k8s-audit')): AuditTestCase[] {
  const yamlText = readFileSync(join(root, '_falco_k8s_audit_tests.yaml'), 'utf8').replace(/!mux/g, '');
  const defs = (parseYaml(yamlText) as { trace_files: Record<string, Record<string, unknown>> }).trace_files;
  const tsv = readFileSync(join(root, '_labels.tsv'), 'utf8').trim().split('\n').slice(1);
  return tsv.map((line) => {
    const [name, detect, expected, trace] = line.split('\t');
    const def = defs[name];
    if (!def) throw new Error(`${root}/_labels.tsv: test ${name} is not in _falco_k8s_audit_tests.yaml`);
    const counts: Record<string, number> = {};
    for (const part of (expected ?? '').split(',').filter(Boolean)) {
      const eq = part.lastIndexOf('=');
      counts[part.slice(0, eq)] = Number(part.slice(eq + 1));
    }
    for (const c of (def.detect_counts as Record<string, number>[] | undefined) ?? []) {
      for (const [k, v] of Object.entries(c)) counts[k] ??= v;
    }
    return {
      name,
      detect: detect === 'True',
      level: def.detect_level as string | undefined,
      counts,
      rulesFiles: (def.rules_file as string[]) ?? [],
      trace,
      expectParseError: typeof def.stderr_contains === 'string',
    };
  });
}

/** Maps a path of Falco's test tree onto the data set or Vigie's fixtures. */
export function resolveRulesFile(p: string, rulesDir = datasetPath('falco-rules')): RuleSource {
  const base = p.split('/').pop()!;
  if (
    base === 'falco_rules.yaml' ||
    base === 'k8s_audit_rules.yaml' ||
    base === 'engine_v4_k8s_audit_rules.yaml'
  ) {
    const file = join(rulesDir, base === 'falco_rules.yaml' ? base : 'k8s_audit_rules.yaml');
    return { name: file, content: readFileSync(file, 'utf8') };
  }
  const m = /rules\/k8s_audit\/(.+)$/.exec(p);
  const key = m?.[1] ?? base;
  const fx = FIXTURES[key];
  if (fx === undefined) throw new Error(`no fixture for rules file ${p}`);
  return { name: `fixture:${key}`, content: fx };
}

export function runAuditTest(
  t: AuditTestCase,
  root: string,
  matching: RuleMatching = 'first',
  reader: RuleReader = new RuleReader(),
): AuditTestResult {
  const sources = t.rulesFiles.map((p) => resolveRulesFile(p));
  // Falco runs with only the k8s_audit source enabled for these tests.
  const loaded = loadRuleSources(sources, { sources: ['k8s_audit'], reader });
  const engine = new RuleEngine(loaded, { ruleMatching: matching });
  const parsed = parseAuditText(readFileSync(join(root, t.trace), 'utf8'), t.trace);
  const fired: Record<string, number> = {};
  const alertsByPriority: Record<string, number> = {};
  for (const a of parsed.events) {
    engine.evaluate(auditToEvent(a), (r) => {
      fired[r.name] = (fired[r.name] ?? 0) + 1;
      alertsByPriority[r.priority] = (alertsByPriority[r.priority] ?? 0) + 1;
    });
  }
  const problems: string[] = [];
  const total = Object.values(fired).reduce((a, b) => a + b, 0);
  if (!t.detect) {
    if (total > 0) problems.push(`expected no alert, got ${JSON.stringify(fired)}`);
  } else {
    for (const [rule, want] of Object.entries(t.counts)) {
      const names = RENAMED[rule] ?? [rule];
      const got = names.reduce((s, n) => s + (fired[n] ?? 0), 0);
      if (got !== want) problems.push(`${rule}: expected ${want}, got ${got}`);
    }
    if (total === 0) problems.push('expected alerts, got none');
    if (t.level) {
      const lvl = t.level.toLowerCase();
      const seen = Object.keys(alertsByPriority).some((p) => p.toLowerCase().startsWith(lvl.slice(0, 4)));
      if (!seen) problems.push(`no alert at priority ${t.level}`);
    }
  }
  if (t.expectParseError && parsed.errors.length === 0)
    problems.push('expected the input to be rejected as not an audit event');
  return {
    test: t,
    pass: problems.length === 0,
    fired,
    events: parsed.events.length,
    parseErrors: parsed.errors,
    why: problems.join('; '),
    loaded: sources.map((s) => s.name.split('/').pop()!),
  };
}

/** Scores a trivial detector that fires every listed rule on every event (or nothing). */
function trivialPasses(tests: AuditTestCase[], root: string, mode: 'everything' | 'nothing'): number {
  let pass = 0;
  for (const t of tests) {
    const n = parseAuditText(readFileSync(join(root, t.trace), 'utf8')).events.length;
    if (mode === 'nothing') {
      if (!t.detect) pass++;
      continue;
    }
    if (t.detect && n > 0 && Object.values(t.counts).every((c) => c === n)) pass++;
  }
  return pass;
}

export function runFalcoAuditEval(matching: RuleMatching = 'first'): {
  results: AuditTestResult[];
  flagEverything: number;
  flagNothing: number;
} {
  const root = datasetPath('falco-k8s-audit');
  const tests = loadAuditTests(root);
  // The tests load the same rule files again and again: one reader keeps what it parsed.
  const reader = new RuleReader();
  const results = tests.map((t) => runAuditTest(t, root, matching, reader));
  return {
    results,
    flagEverything: trivialPasses(tests, root, 'everything'),
    flagNothing: trivialPasses(tests, root, 'nothing'),
  };
}

function fmtCounts(c: Record<string, number>): string {
  const e = Object.entries(c);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(', ') : '-';
}

async function main(): Promise<void> {
  const matching = (
    process.argv.includes('--matching') ? process.argv[process.argv.indexOf('--matching') + 1] : 'first'
  ) as RuleMatching;
  const { results, flagEverything, flagNothing } = runFalcoAuditEval(matching);
  const rows = results.map((r) => [
    r.pass ? 'PASS' : 'FAIL',
    r.test.name,
    r.test.detect ? 'True' : 'False',
    fmtCounts(r.test.counts),
    fmtCounts(r.fired),
    r.why,
  ]);
  const head = ['result', 'test', 'detect', 'expected', 'fired (Vigie)', 'problem'];
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log(
    `Falco k8s_audit regression tests (data set: ${datasetPath('falco-k8s-audit')}), rule_matching=${matching}`,
  );
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  const n = results.length;
  const passed = results.filter((r) => r.pass).length;
  console.log('');
  console.log(`Vigie rules engine        ${passed}/${n} tests pass`);
  console.log(`trivial: flag nothing     ${flagNothing}/${n} tests pass`);
  console.log(`trivial: flag everything  ${flagEverything}/${n} tests pass (every rule once per event)`);
  console.log(`Fixtures written by Vigie for Falco's test overrides: ${Object.keys(FIXTURES).join(', ')}`);
  console.log(
    `Renamed rules counted together: ${Object.entries(RENAMED)
      .map(([k, v]) => `${k} = ${v.join(' + ')}`)
      .join('; ')}`,
  );
  if (passed !== n) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
