/**
 * One fuzz target per parser that reads outside input. A target is a function of the raw input
 * (bytes or text) that calls the parser and checks two properties:
 *
 *  1. the parser returns, or fails the way it documents: with its own error type whose message names
 *     the input (the file name it was given) and the place (line, line:column or offset). Any other
 *     exception (a TypeError, a RangeError from the stack, a bare Error where a typed one is due) is a
 *     finding;
 *  2. it takes bounded time: under BASE_MS plus PER_BYTE_MS per input byte (a slow call is timed a
 *     second time before it counts, so one garbage-collection pause on a shared machine is no finding).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { PostureEngine } from '../../src/detect/posture/engine.js';
import { formatError, loadText } from '../../src/detect/posture/load.js';
import { locateFindings } from '../../src/detect/posture/locate.js';
import { loadRuleSources, RuleLoadError } from '../../src/detect/rules/loader.js';
import { ConditionSyntaxError, parseCondition } from '../../src/detect/rules/parser.js';
import { parsePolicy, PolicyError } from '../../src/respond/policy.js';
import { BadReview, parseReview } from '../../src/server/admission.js';
import { SensorParser } from '../../src/sources/bpftrace/parser.js';
import { newEventView, parseScLine, ScNameTable } from '../../src/sources/datasets/sc-parser.js';
import { DatasetError } from '../../src/sources/datasets/types.js';
import { falcoLineToAlerts } from '../../src/sources/falco.js';
import { JsonLinesReader } from '../../src/sources/json-lines-file.js';
import {
  auditToEvent,
  collectAudit,
  parseAuditText,
  type AuditParse,
} from '../../src/sources/k8s-audit-file.js';
import { tetragonLineToEvents } from '../../src/sources/tetragon.js';
import { TemplateMiner, TemplateStateError } from '../../src/detect/logs/template-miner.js';
import { LogDecoder, type LogFormat } from '../../src/detect/logs/wrappers.js';
import {
  decodeTracesJson,
  decodeTracesProtobuf,
  OtlpDecodeError,
  OTLP_TYPES,
  type DecodedTraces,
} from '../../src/sources/otlp/decode.js';
import { isSpanId, isTraceId } from '../../src/model/span.js';
import { mutatedJson, mutatedSeeds, randomText, type Json } from './mutate.js';

export const BASE_MS = 50;
export const PER_BYTE_MS = 0.001;
/**
 * The budget per byte of the YAML readers: the yaml package spends up to ~5 µs per byte on deeply
 * nested input (thousands of `[`, `{a: ` or `- `), linear in the size; the bound still catches any
 * quadratic behaviour.
 */
export const YAML_PER_BYTE_MS = 0.01;
/** A slow call is timed again, up to this many times in all, before it counts (shared, noisy machine). */
const TIMING_ATTEMPTS = 3;
/** Rounds over the seeds before the first timed call. */
const WARM_UP_ROUNDS = 10;

export type FuzzInput = Uint8Array | string;

export interface FuzzTarget {
  readonly name: string;
  /** Near-valid inputs built from seeds, plus some random ones. */
  readonly inputs: fc.Arbitrary<FuzzInput>;
  /** Calls the parser on one input; throws a FuzzFinding when a property does not hold. */
  readonly run: (input: FuzzInput) => void;
}

/** A property that does not hold: the message says which and why. */
export class FuzzFinding extends Error {
  constructor(
    readonly target: string,
    readonly property: 'exception' | 'time',
    detail: string,
  ) {
    super(`${target}: ${property}: ${detail}`);
    this.name = 'FuzzFinding';
  }
}

const asText = (input: FuzzInput): string =>
  typeof input === 'string'
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
const asBytes = (input: FuzzInput): Buffer =>
  typeof input === 'string'
    ? Buffer.from(input, 'latin1')
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
const byteLength = (input: FuzzInput): number =>
  typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;

const describeError = (e: unknown): string =>
  e instanceof Error
    ? `${e.constructor.name}: ${e.message.slice(0, 300)}\n${e.stack ?? ''}`
    : `non-Error thrown: ${String(e)}`;

/**
 * Builds a target: `parse` calls the parser and returns the thrown value it considers acceptable
 * checked by `expected` (which returns why it is not, or undefined when it is).
 */
function target(
  name: string,
  seeds: readonly FuzzInput[],
  inputs: fc.Arbitrary<FuzzInput>,
  parse: (input: FuzzInput) => void,
  expected: (e: unknown) => string | undefined,
  perByteMs = PER_BYTE_MS,
): FuzzTarget {
  const once = (input: FuzzInput): number => {
    const t0 = performance.now();
    try {
      parse(input);
    } catch (e) {
      if (e instanceof FuzzFinding) throw e;
      const why = expected(e);
      if (why !== undefined) throw new FuzzFinding(name, 'exception', `${why}; got ${describeError(e)}`);
    }
    return performance.now() - t0;
  };
  let warm = false;
  const run = (input: FuzzInput): void => {
    if (!warm) {
      // The first calls of a parser run unoptimized code: time it once the JIT has seen the seeds.
      warm = true;
      for (let i = 0; i < WARM_UP_ROUNDS; i++) for (const s of seeds) once(s);
    }
    const budget = BASE_MS + perByteMs * byteLength(input);
    const times: number[] = [];
    for (let i = 0; i < TIMING_ATTEMPTS; i++) {
      times.push(once(input));
      if (times[i] <= budget) return;
    }
    throw new FuzzFinding(
      name,
      'time',
      `${Math.min(...times).toFixed(1)} ms at best of ${TIMING_ATTEMPTS} for ${byteLength(input)} bytes, budget ${budget.toFixed(1)} ms`,
    );
  };
  return { name, inputs, run };
}

/** Fails the current input with a property violation found in a returned value. */
function check(name: string, ok: boolean, detail: () => string): void {
  if (!ok) throw new FuzzFinding(name, 'exception', detail());
}

const repoFile = (rel: string): string =>
  readFileSync(fileURLToPath(new URL(`../../${rel}`, import.meta.url)), 'utf8');

/** Text inputs: mutated seeds (most), random text, and optionally structured JSON mutations. */
function textInputs(
  seeds: readonly string[],
  nesting: readonly (readonly [string, string])[],
  jsonSeeds: readonly Json[] = [],
): fc.Arbitrary<FuzzInput> {
  const parts: fc.WeightedArbitrary<string>[] = [
    { weight: 8, arbitrary: mutatedSeeds(seeds, nesting) },
    { weight: 1, arbitrary: randomText },
  ];
  if (jsonSeeds.length > 0) parts.push({ weight: 6, arbitrary: mutatedJson(jsonSeeds) });
  return fc.oneof(...parts);
}

/** Several JSON documents as lines (a JSON-lines file), each mutated on its own. */
function jsonLines(seeds: readonly string[], jsonSeeds: readonly Json[]): fc.Arbitrary<FuzzInput> {
  return fc
    .array(textInputs(seeds, JSON_NESTING, jsonSeeds) as fc.Arbitrary<string>, { minLength: 1, maxLength: 4 })
    .map((lines) => lines.join('\n'));
}

const JSON_NESTING: readonly (readonly [string, string])[] = [
  ['[', ']'],
  ['{"a":', '}'],
  ['{"items":[', ']}'],
  ['{"kind":"EventList","items":[', ']}'],
  ['{"records":[', ']}'],
];
const YAML_NESTING: readonly (readonly [string, string])[] = [
  ['[', ']'],
  ['{a: ', '}'],
  ['- ', ''],
  ['\n  ', ''],
  ['&a [*a, ', ']'],
];

// ---- YAML manifests (vigie scan)

const MANIFEST_FILE = 'fuzz-manifest.yaml';
const manifestSeeds = [
  repoFile('deploy/kubernetes/vigie.yaml'),
  repoFile('test/detect/posture/fixtures/shop.yaml').slice(0, 3000),
  'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n    securityContext: {privileged: true}\n',
  '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}]}',
  'a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\nkind: ConfigMap\n',
];

export const postureManifests = target(
  'posture-manifests',
  manifestSeeds,
  textInputs(manifestSeeds, YAML_NESTING, [JSON.parse(manifestSeeds[3]) as Json]),
  (input) => {
    const r = loadText(asText(input), MANIFEST_FILE);
    for (const e of r.errors) {
      check(postureManifests.name, e.file === MANIFEST_FILE, () => `error names "${e.file}"`);
      check(
        postureManifests.name,
        e.line === undefined ||
          (Number.isInteger(e.line) && e.line >= 1 && Number.isInteger(e.column) && e.column! >= 1),
        () => `error place ${e.line}:${e.column}`,
      );
      check(postureManifests.name, formatError(e).startsWith(MANIFEST_FILE), () => formatError(e));
    }
  },
  () => 'loadText reports errors, it never throws',
  YAML_PER_BYTE_MS,
);

/** One engine for every input: building one reads the catalogue. */
let locateEngine: PostureEngine | undefined;

/** Where findings of manifests are located (locate.ts): inside the text, start before end. */
export const postureLocations = target(
  'posture-locations',
  manifestSeeds,
  textInputs(manifestSeeds, YAML_NESTING, [JSON.parse(manifestSeeds[3]) as Json]),
  (input) => {
    const text = asText(input);
    const r = loadText(text, MANIFEST_FILE);
    const res = (locateEngine ??= new PostureEngine()).evaluate(r.objects);
    locateFindings(res.findings, r.objects);
    const lines = text.split('\n');
    for (const f of res.findings) {
      const l = f.location;
      const where = (): string => `${f.path} at ${JSON.stringify(l)}`;
      check(postureLocations.name, l !== undefined, () => `${f.path} not located`);
      if (!l) continue;
      const inside = (line: number, column: number): boolean =>
        Number.isInteger(line) &&
        Number.isInteger(column) &&
        line >= 1 &&
        line <= lines.length &&
        column >= 1 &&
        column <= lines[line - 1].length + 1;
      check(postureLocations.name, inside(l.line, l.column), () => `start outside the text: ${where()}`);
      check(postureLocations.name, inside(l.endLine, l.endColumn), () => `end outside the text: ${where()}`);
      check(
        postureLocations.name,
        l.endLine > l.line || (l.endLine === l.line && l.endColumn >= l.column),
        () => `end before start: ${where()}`,
      );
    }
  },
  () => 'loading, evaluating and locating never throw',
  2 * YAML_PER_BYTE_MS,
);

// ---- Falco rule files and conditions

const RULES_FILE = 'fuzz-rules.yaml';
const RULES_PLACE = /^fuzz-rules\.yaml:\d+:\d+: /;
const ruleSeeds = [
  `- required_engine_version: 15
- list: allowed
  items: [bob, "alice"]
- macro: is_create
  condition: ka.verb=create
- rule: Not allowed
  desc: d
  condition: is_create and not ka.user.name in (allowed)
  output: user=%ka.user.name verb=%ka.verb image=%ka.req.pod.containers.image
  priority: WARNING
  source: k8s_audit
  tags: [k8s, b_tag, a_tag]
`,
  `- list: shell_binaries
  items: [bash, sh, zsh]
- macro: spawned_process
  condition: (evt.type in (execve, execveat) and evt.dir=<)
- rule: Shell in container
  desc: a shell was spawned in a container
  condition: spawned_process and container.id != host and proc.name in (shell_binaries) and not proc.pname startswith "runc"
  output: shell (user=%user.name cmd=%proc.cmdline container=%container.id)
  priority: NOTICE
  tags: [container, shell, mitre_execution, T1059]
  exceptions:
    - name: known
      fields: [proc.name, container.image.repository]
      comps: [=, startswith]
      values:
        - [bash, docker.io/library/busybox]
- rule: Shell in container
  condition: and proc.args contains "-c"
  append: true
- rule: Read sensitive file
  desc: d
  condition: open_read and fd.name pmatch (/etc/shadow, /etc/sudoers) and evt.num > 0 and tolower(proc.name) = cat
  output: "%proc.name read %fd.name"
  priority: ERROR
  enabled: false
- macro: open_read
  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0
`,
];

export const ruleFiles = target(
  'rule-files',
  ruleSeeds,
  textInputs(ruleSeeds, [...YAML_NESTING, ['(', ')'], ['not ', '']]),
  (input) => {
    const text = asText(input);
    const r = loadRuleSources([{ name: RULES_FILE, content: text }], { skipUnknown: text.length % 2 === 1 });
    for (const w of r.warnings)
      check(
        ruleFiles.name,
        w.where.file === RULES_FILE,
        () => `warning names "${w.where.file}": ${w.message}`,
      );
  },
  (e) =>
    e instanceof RuleLoadError && RULES_PLACE.test(e.message)
      ? undefined
      : `expected a RuleLoadError "${RULES_FILE}:line:col: ..."`,
  YAML_PER_BYTE_MS,
);

const conditionSeeds = [
  'evt.type in (execve, execveat) and evt.dir=< and proc.name in (bash, sh) and not proc.pname startswith "runc"',
  'ka.verb=create and ka.target.resource=pods and ka.req.pod.containers.privileged intersects (true)',
  'fd.name pmatch (/etc/shadow, /etc/sudoers) or (fd.directory = /etc and evt.is_open_write=true)',
  'tolower(proc.name) = "cat" and proc.args contains "-c" and evt.num > 0 and proc.aname[2] exists',
  "not (fd.sip in ('10.0.0.1', \"127.0.0.1\") and fd.sport >= 1024) and fd.typechar='f'",
  'ka.uri glob "/api/*" and val(ka.user.name) != ka.target.name and ka.req.binding.subjects.name icontains admin',
];

export const ruleCondition = target(
  'rule-condition',
  conditionSeeds,
  textInputs(conditionSeeds, [
    ['(', ')'],
    ['not ', ''],
    ['tolower(', ')'],
    ['"', ''],
  ]),
  (input) => {
    parseCondition(asText(input));
  },
  (e) => {
    if (!(e instanceof ConditionSyntaxError)) return 'expected a ConditionSyntaxError';
    if (!Number.isInteger(e.pos) || e.pos < 0) return `bad offset ${e.pos}`;
    if (e.message !== 'empty condition' && !e.message.endsWith(` at offset ${e.pos}`))
      return 'message does not end with "at offset N"';
    return undefined;
  },
);

// ---- Kubernetes audit events and their cloud envelopes

const AUDIT_FILE = 'fuzz-audit.json';
const auditEvent: Json = JSON.parse(
  '{"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""},"auditID":"14933b4e-7b09-4964-af09-b7987367e1ba","kind":"Event","level":"Request","objectRef":{"apiVersion":"v1","name":"nginx-7998647bdf-phvq7","namespace":"default","resource":"pods","subresource":"attach"},"requestReceivedTimestamp":"2018-10-26T13:42:46.764713Z","requestURI":"/api/v1/namespaces/default/pods/nginx-7998647bdf-phvq7/attach?container=nginx1&stdin=true","responseStatus":{"code":101},"sourceIPs":["192.168.99.1"],"stage":"ResponseStarted","stageTimestamp":"2018-10-26T13:42:46.808261Z","user":{"groups":["system:masters"],"username":"minikube-user"},"verb":"create"}',
) as Json;
const auditJsonSeeds: Json[] = [
  auditEvent,
  { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [auditEvent, auditEvent] },
  { logEvents: [{ id: '1', timestamp: 1, message: JSON.stringify(auditEvent) }] },
  { records: [{ category: 'kube-audit', properties: { log: JSON.stringify(auditEvent) } }] },
  {
    insertId: 'x1',
    timestamp: '2024-01-01T00:00:00Z',
    labels: { 'authorization.k8s.io/decision': 'allow' },
    protoPayload: {
      methodName: 'io.k8s.core.v1.pods.exec.create',
      resourceName: 'core/v1/namespaces/default/pods/nginx/exec',
      authenticationInfo: { principalEmail: 'a@b.c' },
      requestMetadata: { callerIp: '10.0.0.1', callerSuppliedUserAgent: 'kubectl' },
      status: { code: 7 },
    },
  },
];
const auditSeeds = auditJsonSeeds.map((j) => JSON.stringify(j));
const AUDIT_PLACE = /^fuzz-audit\.json(:\d+)?([[.:]|$)/;

export const k8sAudit = target(
  'k8s-audit',
  auditSeeds,
  fc.oneof(
    textInputs([...auditSeeds, auditSeeds.join('\n')], JSON_NESTING, auditJsonSeeds),
    jsonLines(auditSeeds, auditJsonSeeds),
  ),
  (input) => {
    const text = asText(input);
    const r = parseAuditText(text, AUDIT_FILE);
    for (const e of r.errors)
      check(k8sAudit.name, AUDIT_PLACE.test(e), () => `error does not name its place: ${e}`);
    for (const a of r.events) auditToEvent(a);
    // The webhook decodes the body itself and hands the value to collectAudit.
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return; // not the parser's input: the webhook answers 400 before collectAudit
    }
    const out: AuditParse = { events: [], errors: [] };
    collectAudit(doc, out, 'body');
    for (const e of out.errors) check(k8sAudit.name, /^body([[.:]|$)/.test(e), () => `webhook error: ${e}`);
    for (const a of out.events) auditToEvent(a, 'k8s-audit-webhook');
  },
  () => 'parseAuditText and collectAudit report errors, they never throw',
);

// ---- bpftrace sensor lines

const j = (data: string) => JSON.stringify({ type: 'printf', data });
const sensorSeeds = [
  j('S\t42\t10\t11\thttpd\t4\t0\t1311747\n'),
  j('S\t42\t10\t11\tweird"name\t1\t0\t3\n'),
  [
    j('A\t77\n'),
    JSON.stringify({ type: 'join', data: 'cat /etc/shadow' }),
    j('E\t9\t77\t77\texe\t70\t0\tsh\t1\t/proc/self/exe\n'),
  ].join('\n'),
  j('C\t9\t77\t78\tcurl\t2\t10.0.0.1\t443\n'),
  j('P\t9\t77\t78\tnginx\t10\t::ffff:10.0.0.2\t8080\n'),
  j('O\t9\t77\t78\tcat\t577\t/etc/shadow\twith\ttabs\n'),
  JSON.stringify({ type: 'lost_events', data: { events: 12 } }),
  JSON.stringify({ type: 'attached_probes', data: { probes: 9 } }),
  'Lost 123 events',
];

export const bpftraceLines = target(
  'bpftrace-lines',
  sensorSeeds,
  textInputs(sensorSeeds, JSON_NESTING),
  (input) => {
    const p = new SensorParser();
    for (const line of asText(input).split('\n')) {
      p.parseLine(line);
      p.parseStderr(line);
    }
    check(
      bpftraceLines.name,
      p.malformedSamples.length <= 5,
      () => `${p.malformedSamples.length} samples kept`,
    );
    check(bpftraceLines.name, Number.isFinite(p.stats.lost), () => `lost = ${p.stats.lost}`);
  },
  () => 'SensorParser counts malformed lines, it never throws',
);

// ---- LID-DS .sc lines

const SC_FILE = 'fuzz.sc';
const scSeeds = [
  repoFile('test/fixtures/lidds/2021/sample.sc').split('\n').slice(0, 12).join('\n'),
  '1631078867467766934 33 2902774 apache2 2902774 open > ',
  '123 0 1 a 1 b <',
];

export const scLines = target(
  'lidds-sc-lines',
  scSeeds.map((s) => Buffer.from(s, 'latin1')),
  (textInputs(scSeeds, [['(', ')']]) as fc.Arbitrary<string>).map((s): FuzzInput => Buffer.from(s, 'latin1')),
  (input) => {
    const buf = asBytes(input);
    const names = new ScNameTable();
    const view = newEventView();
    let start = 0;
    let line = 1;
    while (start <= buf.length) {
      let end = buf.indexOf(10, start);
      if (end < 0) end = buf.length;
      try {
        parseScLine(buf, start, end, SC_FILE, line, view, names);
      } catch (e) {
        if (e instanceof DatasetError && (e.file !== SC_FILE || e.line !== line))
          throw new FuzzFinding(
            scLines.name,
            'exception',
            `error names ${e.file}:${e.line}, not ${SC_FILE}:${line}`,
          );
        throw e;
      }
      start = end + 1;
      line++;
    }
  },
  (e) =>
    e instanceof DatasetError && e.message.startsWith(`${SC_FILE}:${e.line}: `)
      ? undefined
      : `expected a DatasetError "${SC_FILE}:line: ..."`,
);

// ---- Falco JSON and Tetragon JSON (JSON lines; the reader adds file:line to a converter's reason)

/** Feeds `text` through the JSON-lines reader with `convert`; checks each reason names file:line. */
function readLines<T>(name: string, file: string, text: string, convert: (o: unknown) => T[]): void {
  const place = new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+: `);
  const reasons: string[] = [];
  const reader = new JsonLinesReader<T>(
    file,
    convert,
    () => undefined,
    (why) => reasons.push(why),
  );
  reader.push(Buffer.from(text));
  reader.end();
  for (const r of reasons) check(name, place.test(r), () => `reason does not name file:line: ${r}`);
}

/** A converter's own throw must be a plain Error with a reason (a TypeError etc. is a bug). */
function plainErrorOnly(e: unknown): string | undefined {
  return e instanceof Error && e.constructor === Error && e.message.length > 0
    ? undefined
    : 'expected a plain Error with the reason';
}

const falcoAlert: Json = {
  time: '2024-05-01T10:00:00.123456789Z',
  rule: 'Read sensitive file untrusted',
  priority: 'Warning',
  output: '10:00:00 Warning Sensitive file opened for reading (file=/etc/shadow)',
  source: 'syscall',
  hostname: 'node-7',
  tags: ['filesystem', 'mitre_credential_access', 'T1555'],
  output_fields: {
    'container.id': 'c0ffee123456',
    'fd.name': '/etc/shadow',
    'k8s.ns.name': 'shop',
    'proc.pid': 42,
  },
};
const falcoSeeds = [JSON.stringify(falcoAlert)];

export const falcoJson = target(
  'falco-json',
  falcoSeeds,
  jsonLines(falcoSeeds, [falcoAlert]),
  (input) => {
    const text = asText(input);
    readLines(falcoJson.name, 'fuzz-falco.json', text, (o) => falcoLineToAlerts(o, 'fuzz-host'));
    for (const line of text.split('\n')) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        continue;
      }
      falcoLineToAlerts(o, 'fuzz-host');
    }
  },
  plainErrorOnly,
);

const tetragonExec: Json = {
  process_exec: {
    process: {
      exec_id: 'a2luZDox',
      pid: 52699,
      uid: 0,
      cwd: '/',
      binary: '/usr/bin/curl',
      arguments: 'https://example.com',
      start_time: '2024-01-01T00:00:00.000000001Z',
      pod: {
        namespace: 'default',
        name: 'xwing',
        container: {
          id: 'containerd://abc123',
          name: 'spaceship',
          image: { name: 'docker.io/tgraf/netperf:latest' },
        },
        pod_labels: { app: 'xwing' },
        workload: 'xwing',
      },
    },
    parent: { exec_id: 'p1', pid: 52690, binary: '/bin/bash' },
  },
  node_name: 'kind-control-plane',
  time: '2024-01-01T00:00:00.000000002Z',
};
const tetragonKprobe: Json = {
  process_kprobe: {
    process: { exec_id: 'a2luZDox', pid: 1, binary: '/usr/bin/cat' },
    function_name: 'security_file_permission',
    args: [{ file_arg: { path: '/etc/shadow' } }, { int_arg: 4 }],
    action: 'KPROBE_ACTION_POST',
  },
  time: '2024-01-01T00:00:00Z',
};
const tetragonSeeds = [JSON.stringify(tetragonExec), JSON.stringify(tetragonKprobe)];

export const tetragonJson = target(
  'tetragon-json',
  tetragonSeeds,
  jsonLines(tetragonSeeds, [tetragonExec, tetragonKprobe]),
  (input) => {
    const text = asText(input);
    readLines(tetragonJson.name, 'fuzz-tetragon.json', text, (o) =>
      tetragonLineToEvents(o, { next: () => 'id' }),
    );
    for (const line of text.split('\n')) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        continue;
      }
      tetragonLineToEvents(o, { next: () => 'id' });
    }
  },
  plainErrorOnly,
);

// ---- Admission reviews (the server decodes the JSON body; parseReview checks its shape)

const admissionReview: Json = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    namespace: 'default',
    name: 'p',
    operation: 'CREATE',
    dryRun: false,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] },
    },
  },
};

export const admissionReviews = target(
  'admission-review',
  [JSON.stringify(admissionReview)],
  textInputs([JSON.stringify(admissionReview)], JSON_NESTING, [admissionReview]),
  (input) => {
    let body: unknown;
    try {
      body = JSON.parse(asText(input));
    } catch {
      return; // not the parser's input: the server answers 400 before parseReview
    }
    const r = parseReview(body);
    check(admissionReviews.name, typeof r.uid === 'string' && r.uid !== '', () => `uid ${String(r.uid)}`);
  },
  (e) =>
    e instanceof BadReview && e.message.length > 0 ? undefined : 'expected a BadReview with the reason',
);

// ---- Response policy files

const POLICY_FILE = 'fuzz-policy.yaml';
const policySeeds = [
  repoFile('policies/default.yaml'),
  'version: 1\nname: p\nmode: enforce\nrules:\n  - name: r\n    match: { category: attack, minPriority: Error, rule: ["Shell*"] }\n    actions: [capture_evidence, { action: pause, ttl: 10m }]\n',
];

export const policyFiles = target(
  'policy-files',
  policySeeds,
  textInputs(policySeeds, YAML_NESTING),
  (input) => {
    parsePolicy(asText(input), POLICY_FILE);
  },
  (e) => {
    if (!(e instanceof PolicyError)) return 'expected a PolicyError';
    const at = e.line !== undefined ? `${POLICY_FILE}:${e.line}:${e.column ?? 1}: ` : `${POLICY_FILE}: `;
    return e.file === POLICY_FILE && e.message.startsWith(at)
      ? undefined
      : `message does not start with "${at}"`;
  },
  YAML_PER_BYTE_MS,
);

// ---- Container log lines (Docker JSON, CRI, stack traces) and the template miner

const LOG_INPUT = 'fuzz-container.log';
const LOG_PLACE = /^fuzz-container\.log:\d+: /;
const logSeeds = [
  [
    '{"log":"GET /api/v1/orders/42 200 12ms\\n","stream":"stdout","time":"2019-04-30T09:04:27.540434392Z"}',
    '{"log":"partial ","stream":"stdout","time":"2019-04-30T09:04:27.540434393Z"}',
    '{"log":"end\\n","stream":"stdout","time":"2019-04-30T09:04:27.540434394Z"}',
  ].join('\n'),
  [
    '2016-10-06T00:17:09.669794202Z stdout P First line of ',
    '2016-10-06T00:17:09.669794203Z stderr F ERROR payment failed',
    '2016-10-06T00:17:09.669794204Z stderr F java.lang.IllegalStateException: card declined',
    '2016-10-06T00:17:09.669794205Z stderr F \tat com.shop.Payment.charge(Payment.java:42)',
    '2016-10-06T00:17:09.669794206Z stderr F Caused by: java.io.IOException: x',
    '2016-10-06T00:17:09.669794207Z stderr F \t... 3 more',
    '2016-10-06T00:17:10.113242941Z stdout F log entry 2',
  ].join('\n'),
  [
    'ERROR:root:handler failed',
    'Traceback (most recent call last):',
    '  File "app.py", line 3, in <module>',
    "ValueError: invalid literal for int() with base 10: 'x'",
    '',
    'During handling of the above exception, another exception occurred:',
    '',
    'Traceback (most recent call last):',
    "KeyError: 'k'",
    'PacketResponder 1 for block blk_38865049064139660 terminating',
    'session opened for user cyrus by (uid=0) user=root ok=true',
  ].join('\n'),
];
const LOG_FORMATS: readonly LogFormat[] = ['auto', 'docker', 'cri', 'plain'];

/** Raw lines through the decoder, then every event through a small template miner, then its state back. */
export const containerLogs = target(
  'container-logs',
  logSeeds,
  textInputs(logSeeds, [
    ['{"log":"', '\\n"}'],
    ['2016-10-06T00:17:09.669794202Z stdout P ', ''],
    ['\tat ', ''],
    ['Traceback (most recent call last):\n', ''],
  ]),
  (input) => {
    const text = asText(input);
    const d = new LogDecoder(LOG_INPUT, LOG_FORMATS[text.length % LOG_FORMATS.length], {
      maxLineLength: 4096,
      maxEventLines: 20,
    });
    const miner = new TemplateMiner({
      maxTemplates: 64,
      maxTokens: 32,
      maxLineLength: 2048,
      maxValuesPerParam: 4,
    });
    const events = d.flush(
      text.split('\n').reduce((out, l) => d.push(l, out), [] as ReturnType<LogDecoder['flush']>),
    );
    for (const e of d.errors)
      check(
        containerLogs.name,
        LOG_PLACE.test(e.message),
        () => `error does not name input:line: ${e.message}`,
      );
    const st = d.stats();
    check(
      containerLogs.name,
      st.events === events.length,
      () => `${st.events} events counted, ${events.length} returned`,
    );
    for (const e of events) {
      check(
        containerLogs.name,
        e.message.length <= 4096,
        () => `event of ${e.message.length} characters past the bound`,
      );
      const r = miner.add(e.message);
      check(containerLogs.name, r.templateId >= 0 && r.params.every((p) => typeof p === 'string'), () =>
        JSON.stringify(r),
      );
    }
    const again = TemplateMiner.fromJSON(JSON.parse(JSON.stringify(miner)));
    check(
      containerLogs.name,
      JSON.stringify(again) === JSON.stringify(miner),
      () => 'state does not round-trip',
    );
  },
  () => 'the decoder counts bad lines and the miner takes any text: nothing throws',
);

const stateMiner = new TemplateMiner({ maxTemplates: 16, maxValuesPerParam: 3 });
for (const l of logSeeds.join('\n').split('\n')) stateMiner.add(l);
const stateSeed = JSON.parse(JSON.stringify(stateMiner)) as Json;

/** A stored template state, possibly hostile: restored, or refused with the place named. */
export const logTemplateState = target(
  'log-template-state',
  [JSON.stringify(stateSeed)],
  textInputs([JSON.stringify(stateSeed)], JSON_NESTING, [stateSeed]),
  (input) => {
    let doc: unknown;
    try {
      doc = JSON.parse(asText(input));
    } catch {
      return; // not JSON: the store hands over parsed JSON only
    }
    const m = TemplateMiner.fromJSON(doc);
    m.add('PacketResponder 2 for block blk_1 terminating');
    TemplateMiner.fromJSON(JSON.parse(JSON.stringify(m)));
  },
  (e) =>
    e instanceof TemplateStateError && /^template state at \$/.test(e.message)
      ? undefined
      : 'expected a TemplateStateError naming the place ($...)',
);

// ---- OTLP/HTTP trace requests (JSON and protobuf)

const otlpRequest: Json = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
      scopeSpans: [
        {
          scope: { name: 'lib', version: '1' },
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              parentSpanId: 'eee19b7ec3c1b173',
              name: 'GET /cart',
              kind: 2,
              startTimeUnixNano: '1544712660000000000',
              endTimeUnixNano: '1544712661000000000',
              attributes: [
                { key: 'http.status_code', value: { intValue: '500' } },
                {
                  key: 'list',
                  value: { arrayValue: { values: [{ doubleValue: 1.5 }, { boolValue: true }] } },
                },
                {
                  key: 'map',
                  value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } },
                },
              ],
              events: [{ timeUnixNano: '1544712660500000000', name: 'retry' }],
              links: [{ traceId: '5b8efff798038103d269b633813fc60d', spanId: 'eee19b7ec3c1b175' }],
              status: { code: 2, message: 'boom' },
            },
          ],
        },
      ],
    },
  ],
};
const otlpJsonSeeds = [JSON.stringify(otlpRequest)];
const otlpProtobufSeed: Uint8Array = (() => {
  const doc = JSON.parse(otlpJsonSeeds[0]) as {
    resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
  };
  const sp = doc.resourceSpans[0].scopeSpans[0].spans[0];
  for (const k of ['traceId', 'spanId', 'parentSpanId']) sp[k] = Buffer.from(sp[k] as string, 'hex');
  for (const l of sp.links as Record<string, unknown>[])
    for (const k of ['traceId', 'spanId']) l[k] = Buffer.from(l[k] as string, 'hex');
  return OTLP_TYPES.request.encode(OTLP_TYPES.request.fromObject(doc)).finish();
})();

/** Protobuf inputs: the seed with bytes changed, cut or inserted, and random bytes. */
const otlpBytes: fc.Arbitrary<FuzzInput> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'cut', 'insert')), {
        minLength: 1,
        maxLength: 8,
      })
      .map((edits) => {
        let b = [...otlpProtobufSeed];
        for (const [at, v, op] of edits) {
          const i = b.length ? at % b.length : 0;
          if (op === 'set') b[i] = v;
          else if (op === 'cut') b = b.slice(0, i);
          else b.splice(i, 0, v);
        }
        return new Uint8Array(b);
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  // A span attribute whose value nests AnyValue{array_value: ArrayValue{values: …}} thousands deep.
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map(deepOtlpRequest) },
);

/**
 * Request{resource_spans: {scope_spans: {spans: {attributes: {value: AnyValue nested `depth` deep}}}}},
 * written from the inside out: each level is a tag and the length of what it wraps.
 */
function deepOtlpRequest(depth: number): Uint8Array {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    do {
      out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return out;
  };
  const headers: number[][] = [];
  let len = 0;
  const wrap = (tag: number) => {
    const h = [tag, ...varint(len)];
    headers.push(h);
    len += h.length;
  };
  for (let i = 0; i < depth; i++) {
    wrap(0x0a); // ArrayValue.values = 1
    wrap(0x2a); // AnyValue.array_value = 5
  }
  wrap(0x12); // KeyValue.value = 2
  wrap(0x4a); // Span.attributes = 9
  wrap(0x12); // ScopeSpans.spans = 2
  wrap(0x12); // ResourceSpans.scope_spans = 2
  wrap(0x0a); // ExportTraceServiceRequest.resource_spans = 1
  return new Uint8Array(headers.reverse().flat());
}

function checkSpans(d: DecodedTraces): void {
  for (const s of d.spans)
    check(
      otlpTraces.name,
      isTraceId(s.traceId) && isSpanId(s.spanId) && s.durationNs >= 0,
      () => `bad span ${JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  check(otlpTraces.name, d.reasons.length <= 10, () => `${d.reasons.length} reasons kept`);
}

export const otlpTraces = target(
  'otlp-traces',
  [...otlpJsonSeeds, otlpProtobufSeed],
  fc.oneof(textInputs(otlpJsonSeeds, JSON_NESTING, [otlpRequest]), otlpBytes),
  (input) => {
    // Each input is given to both decoders: bytes that look like JSON, text that is protobuf.
    let first: unknown;
    for (const decode of [() => decodeTracesJson(asText(input)), () => decodeTracesProtobuf(asBytes(input))])
      try {
        checkSpans(decode());
      } catch (e) {
        if (e instanceof FuzzFinding) throw e;
        first ??= e;
      }
    if (first !== undefined) throw first;
  },
  (e) =>
    e instanceof OtlpDecodeError &&
    (e.input === 'JSON body' || e.input === 'protobuf body') &&
    e.message.startsWith(`${e.input}: `) &&
    e.reason.length > 0
      ? undefined
      : 'expected an OtlpDecodeError naming the body',
);

export const TARGETS: readonly FuzzTarget[] = [
  postureManifests,
  postureLocations,
  ruleFiles,
  ruleCondition,
  k8sAudit,
  bpftraceLines,
  scLines,
  falcoJson,
  tetragonJson,
  admissionReviews,
  policyFiles,
  containerLogs,
  logTemplateState,
  otlpTraces,
];
