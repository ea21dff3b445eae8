/**
 * Falco's JSON alerts (json_output: true, or Falcosidekick's payload) → Vigie events of kind
 * 'internal' carrying the alert, so that Falco's detections enter the same pipeline, plus the process,
 * container and k8s context its output_fields name, for correlation.
 */
import { isoToNs, nextEventId, nowNs, type VigieEvent } from '../model/event.js';
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

export function falcoAlertToEvent(a: FalcoAlert): VigieEvent {
  const f = (a.output_fields ?? {}) as Obj;
  let ts: bigint;
  try {
    ts = isoToNs(a.time);
  } catch {
    ts = nowNs();
  }
  const ev: VigieEvent = {
    id: nextEventId(),
    kind: 'internal',
    ts,
    source: 'falco',
    host: a.hostname,
    internal: { type: 'falco_alert', message: `${a.priority} ${a.rule}: ${a.output}`, counts: {} },
  };
  (ev as VigieEvent & { falco?: FalcoAlert }).falco = a;
  const cid = str(f['container.id']);
  if (cid && cid !== 'host')
    ev.container = {
      id: cid,
      name: str(f['container.name']),
      image: str(f['container.image.repository']) ?? str(f['container.image']),
    };
  const ns = str(f['k8s.ns.name']) ?? str(f['ka.target.namespace']);
  const pod = str(f['k8s.pod.name']);
  if (ns || pod) ev.k8s = { namespace: ns, pod };
  const name = str(f['proc.name']);
  if (name || f['proc.pid'] !== undefined) {
    ev.proc = {
      name,
      pid: num(f['proc.pid']),
      cmdline: str(f['proc.cmdline']),
      exe: str(f['proc.exepath']),
      pname: str(f['proc.pname']),
      uid: num(f['user.uid']),
    };
  }
  return ev;
}

/** One line of Falco's JSON output → its event; throws with the reason when it is not an alert. */
export function falcoLineToEvents(o: unknown): VigieEvent[] {
  if (!isFalcoAlert(o)) throw new Error('not a Falco alert (needs time, rule, priority, output)');
  return [falcoAlertToEvent(o)];
}

/** Registry factory: Falco's JSON output file (`json_output: true` with `file_output`), config.falco. */
export const createFalcoFileSource = jsonLinesFileFactory('falco', falcoLineToEvents);
