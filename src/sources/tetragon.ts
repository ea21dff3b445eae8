/**
 * Tetragon's JSON export (one event per line, keyed by type: process_exec, process_exit,
 * process_kprobe, process_tracepoint) → Vigie events. Exec events become kind 'process' so that the
 * syscall rules (spawned_process) see them; kprobes on tcp_connect become 'network' connects, kprobes
 * on file hooks become 'file' opens, other kprobes and tracepoints 'syscall' events.
 */
import {
  EventIds,
  isoToNs,
  nowNs,
  type ContainerRef,
  type EventIdSource,
  type K8sRef,
  type ProcInfo,
  type VigieEvent,
} from '../model/event.js';
import { boundedJson } from '../model/text.js';
import { jsonLinesFileFactory, readJsonLinesFile } from './json-lines-file.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/**
 * A scalar field as text; anything else (an object, an array: exported data never has them there) is
 * `fallback`. String() on a deeply nested array would recurse until the stack runs out.
 */
const text = (v: unknown, fallback = ''): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
      ? String(v)
      : fallback;

function base(p: string | undefined): string | undefined {
  return p === undefined ? undefined : p.slice(p.lastIndexOf('/') + 1);
}

function procOf(p: Obj | undefined, parent: Obj | undefined): ProcInfo | undefined {
  if (!p) return undefined;
  const binary = typeof p.binary === 'string' ? p.binary : undefined;
  const args = typeof p.arguments === 'string' ? p.arguments : '';
  const out: ProcInfo = {
    pid: typeof p.pid === 'number' ? p.pid : undefined,
    uid: typeof p.uid === 'number' ? p.uid : undefined,
    name: base(binary)?.slice(0, 15),
    exe: binary,
    cmdline: binary ? `${binary}${args ? ` ${args}` : ''}` : undefined,
    cwd: typeof p.cwd === 'string' ? p.cwd : undefined,
  };
  if (parent) {
    out.ppid = typeof parent.pid === 'number' ? parent.pid : undefined;
    const pb = typeof parent.binary === 'string' ? parent.binary : undefined;
    out.pname = base(pb)?.slice(0, 15);
    if (out.pname) out.anames = [out.pname];
  }
  return out;
}

function podOf(p: Obj | undefined): { container?: ContainerRef; k8s?: K8sRef } {
  const pod = p && isObj(p.pod) ? p.pod : undefined;
  if (!pod) return {};
  const c = isObj(pod.container) ? pod.container : undefined;
  const image = c && isObj(c.image) ? c.image : undefined;
  const labels = isObj(pod.pod_labels) ? (pod.pod_labels as Record<string, string>) : undefined;
  return {
    container: c
      ? {
          id: text(c.id).replace(/^[a-z]+:\/\//, ''),
          name: typeof c.name === 'string' ? c.name : undefined,
          image: typeof image?.name === 'string' ? image.name : undefined,
        }
      : undefined,
    k8s: {
      namespace: typeof pod.namespace === 'string' ? pod.namespace : undefined,
      pod: typeof pod.name === 'string' ? pod.name : undefined,
      workload: typeof pod.workload === 'string' ? pod.workload : undefined,
      labels,
    },
  };
}

function tsOf(e: Obj, body: Obj): bigint {
  const t = (e.time ?? (isObj(body.process) ? body.process.start_time : undefined)) as string | undefined;
  try {
    return t ? isoToNs(t) : nowNs();
  } catch {
    return nowNs();
  }
}

/**
 * Converts one exported Tetragon event; unknown types yield no event. An exec or exit is named by its
 * process's exec_id (one of each per process); other events by `ids` (their line, when read from a
 * file), since one process has many kprobe and tracepoint events.
 */
export function tetragonToEvents(e: Obj, ids?: EventIdSource): VigieEvent[] {
  const type = Object.keys(e).find((k) => k.startsWith('process_'));
  if (!type || !isObj(e[type])) return [];
  const body = e[type] as Obj;
  const proc = isObj(body.process) ? body.process : undefined;
  const parent = isObj(body.parent) ? body.parent : undefined;
  const ev: VigieEvent = {
    id:
      typeof proc?.exec_id === 'string' && (type === 'process_exec' || type === 'process_exit')
        ? `${proc.exec_id}:${type}`
        : (ids ?? new EventIds()).next(),
    kind: 'process',
    ts: tsOf(e, body),
    source: 'tetragon',
    host: typeof e.node_name === 'string' ? e.node_name : undefined,
    proc: procOf(proc, parent),
    ...podOf(proc),
  };
  if (!ev.container) delete ev.container;
  if (!ev.k8s) delete ev.k8s;
  if (type === 'process_exec') return [ev];
  if (type === 'process_exit') {
    return [
      {
        ...ev,
        kind: 'syscall',
        syscall: { name: 'procexit', dir: '<', ret: typeof body.status === 'number' ? body.status : 0 },
      },
    ];
  }
  const fn = text(body.function_name ?? body.event);
  // An argument that is not an object (null, a number) names no value, as before, instead of throwing.
  const args = Array.isArray(body.args) ? body.args.map((a): Obj => (isObj(a) ? a : {})) : [];
  if (type === 'process_kprobe' && /tcp_connect/.test(fn)) {
    const sock = args.map((a) => a.sock_arg).find(isObj);
    if (sock) {
      return [
        {
          ...ev,
          kind: 'network',
          network: {
            op: 'connect',
            proto: text(sock.protocol, 'IPPROTO_TCP')
              .replace(/^IPPROTO_/, '')
              .toLowerCase(),
            srcIp: sock.saddr as string | undefined,
            srcPort: sock.sport as number | undefined,
            dstIp: sock.daddr as string | undefined,
            dstPort: sock.dport as number | undefined,
          },
        },
      ];
    }
  }
  const file = args.map((a) => a.file_arg ?? a.path_arg).find(isObj);
  if (type === 'process_kprobe' && file && typeof file.path === 'string') {
    const write = /write|truncate/.test(fn) || /W/.test(text(file.permission));
    return [
      { ...ev, kind: 'file', file: { op: /unlink/.test(fn) ? 'unlink' : 'open', path: file.path, write } },
    ];
  }
  const named: Record<string, string> = {};
  args.forEach((a, i) => {
    const v = Object.values(a)[0];
    // Bounded: an argument nested thousands deep must not overflow the stack, nor fill memory.
    named[`arg${i}`] = typeof v === 'object' ? boundedJson(v) : String(v);
  });
  return [
    {
      ...ev,
      kind: 'syscall',
      syscall: { name: fn.replace(/^__x64_sys_|^sys_|^security_/, '') || type, dir: '<', args: named },
    },
  ];
}

/** One line of Tetragon's export → its events; throws with the reason when it is not one. */
export function tetragonLineToEvents(o: unknown, ids: EventIdSource): VigieEvent[] {
  if (!isObj(o)) throw new Error('not an object');
  const evs = tetragonToEvents(o, ids);
  if (evs.length === 0) throw new Error('not a Tetragon event');
  return evs;
}

/** Reads a Tetragon JSON export (JSON lines) as a stream. */
export function readTetragonFile(path: string): Promise<{ events: VigieEvent[]; errors: string[] }> {
  return readJsonLinesFile(path, tetragonLineToEvents);
}

/** Registry factory: Tetragon's JSON export (e.g. /var/run/cilium/tetragon/tetragon.log), config.tetragon. */
export const createTetragonFileSource = jsonLinesFileFactory('tetragon', { toEvents: tetragonLineToEvents });
