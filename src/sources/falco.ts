/**
 * Falco's JSON alerts (json_output: true, or Falcosidekick's payload) enter Vigie as alerts: Falco
 * detected, Vigie correlates, stores and contains. Each keeps Falco's rule, priority, output, tags
 * and fields, gets its ATT&CK references from the tags (as Vigie's own rules do), and the container,
 * pod and process its output_fields name as entities. Its uuid is derived from the alert itself, so
 * the same alert read again (a restart, a webhook retry) is recognized and not handled twice.
 */
import { createHash } from 'node:crypto';
import {
  makeAlert,
  parsePriority,
  type Alert,
  type AlertEntities,
  type Category,
  type Priority,
} from '../model/alert.js';
import { isoToNs, nowNs, workloadKey, type ContainerRef } from '../model/event.js';
import { mitreFromTags } from '../model/mitre-tags.js';
import { jsonLinesFileFactory } from './json-lines-file.js';

type Obj = Record<string, unknown>;

export interface FalcoAlert {
  time: string;
  rule: string;
  priority: string;
  output: string;
  source?: string;
  hostname?: string;
  tags?: string[];
  output_fields?: Record<string, unknown>;
}

export function isFalcoAlert(o: unknown): o is FalcoAlert {
  const a = o as Obj;
  return (
    !!a &&
    typeof a === 'object' &&
    typeof a.rule === 'string' &&
    typeof a.output === 'string' &&
    typeof a.priority === 'string' &&
    typeof a.time === 'string'
  );
}

const str = (v: unknown) => (typeof v === 'string' && v !== '<NA>' ? v : undefined);
const num = (v: unknown) =>
  typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined;

type Field = string | number | boolean | null;

/** A UUID-shaped id derived from the alert's own content (same alert, same uuid). */
export function falcoAlertUuid(a: FalcoAlert): string {
  const h = createHash('sha256')
    .update(
      JSON.stringify([
        a.time,
        typeof a.hostname === 'string' ? a.hostname : '',
        a.rule,
        a.priority,
        a.output,
      ]),
    )
    .digest('hex');
  // Version 8 (custom) UUID layout: the variant and version nibbles set, the rest from the hash.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Falco's alert as a Vigie alert (`hostname` is this Vigie's, for alerts that do not name theirs). */
export function falcoToAlert(a: FalcoAlert, hostname: string): Alert {
  const f = (a.output_fields ?? {}) as Obj;
  let ts: bigint;
  try {
    ts = isoToNs(a.time);
  } catch {
    ts = nowNs();
  }
  let priority: Priority;
  let note = '';
  try {
    priority = parsePriority(a.priority);
  } catch {
    priority = 'Warning';
    note = ` (unknown priority "${a.priority}", taken as Warning)`;
  }
  // Only the four fields isFalcoAlert checks are known to be strings; the others are checked here.
  const tags = (Array.isArray(a.tags) ? (a.tags as unknown[]) : []).filter(
    (t): t is string => typeof t === 'string',
  );
  const host = typeof a.hostname === 'string' ? a.hostname : undefined;
  const mitre = mitreFromTags(tags);
  const fields: Record<string, Field> = {};
  for (const [k, v] of Object.entries(f))
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v as Field;
  // Falco's rules are threat detections unless their tags say otherwise.
  const category: Category =
    mitre.length > 0
      ? 'attack'
      : tags.some((t) => t === 'k8s' || t === 'cis' || t === 'compliance')
        ? 'misconfiguration'
        : 'attack';

  const entities: AlertEntities = {};
  if (host) entities.host = host;
  let container: ContainerRef | undefined;
  const cid = str(f['container.id']);
  if (cid && cid !== 'host') {
    container = {
      id: cid,
      name: str(f['container.name']),
      image: str(f['container.image.repository']) ?? str(f['container.image']),
    };
    entities.container = { id: cid, name: container.name, image: container.image };
  }
  const ns = str(f['k8s.ns.name']) ?? str(f['ka.target.namespace']);
  const pod = str(f['k8s.pod.name']);
  if (ns || pod) entities.k8s = { namespace: ns, pod };
  const name = str(f['proc.name']);
  if (name || f['proc.pid'] !== undefined)
    entities.process = { name, pid: num(f['proc.pid']), cmdline: str(f['proc.cmdline']) };
  const uid = num(f['user.uid']);
  if (uid !== undefined) entities.user = String(uid);
  const workload = workloadKey({ container, k8s: entities.k8s });
  if (workload) entities.workload = workload;

  const uuid = falcoAlertUuid(a);
  const alert = makeAlert(
    {
      rule: a.rule,
      priority,
      source: typeof a.source === 'string' ? a.source : 'syscall',
      output: a.output,
      tags,
      output_fields: fields,
      category,
      detector: 'falco',
      explanation: `reported by Falco${host ? ` on ${host}` : ''}${note}`,
      mitre,
      entities,
      evidence: [`falco:${uuid}`],
      ts,
    },
    host ?? hostname,
  );
  alert.uuid = uuid;
  return alert;
}

/** One line of Falco's JSON output → its alert; throws with the reason when it is not an alert. */
export function falcoLineToAlerts(o: unknown, hostname: string): Alert[] {
  if (!isFalcoAlert(o)) throw new Error('not a Falco alert (needs time, rule, priority, output)');
  return [falcoToAlert(o, hostname)];
}

/** Registry factory: Falco's JSON output file (`json_output: true` with `file_output`), config.falco. */
export function createFalcoFileSource(
  ctx: Parameters<ReturnType<typeof jsonLinesFileFactory>>[0] & { hostname: string },
) {
  return jsonLinesFileFactory('falco', { toAlerts: (o) => falcoLineToAlerts(o, ctx.hostname) })(ctx);
}
