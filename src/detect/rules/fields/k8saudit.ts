/**
 * Fields of the `k8s_audit` source, as the k8saudit plugin defines them (ka.*), plus the json plugin's
 * jevt.* / json.* fields, read from the raw audit.k8s.io Event (v1 or v1beta1) in `ev.audit`.
 *
 * Values follow the plugin: non-string JSON values are rendered as compact JSON ("201", "true",
 * '{"name":"x"}'); list fields are arrays; a missing path yields undefined (and so every comparison on
 * it is false, as in Falco).
 */
import type { VigieEvent } from '../../../model/event.js';
import { MapCatalog, type FieldDef, type FieldValue, type Getter } from './types.js';

type J = unknown;

function asString(v: J): string | undefined {
  if (v === undefined || v === null) return v === null ? 'null' : undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function audit(ev: VigieEvent): Record<string, J> | undefined {
  const a = ev.audit;
  // Like the plugin, ignore JSON that is not an audit event.
  return a && (a as Record<string, J>).auditID !== undefined ? (a as Record<string, J>) : undefined;
}

function at(obj: J, keys: readonly string[]): J {
  let cur = obj;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, J>)[k];
    if (cur === undefined) return undefined;
  }
  return cur;
}

/**
 * The plugin's getValuesRecursive: walk keys, fanning out over arrays (or picking one index when an
 * index filter is given). Missing leaves inside a fan-out become `undefined` entries.
 */
function values(obj: J, keys: readonly string[], index: number, from = 0): J[] | undefined {
  let cur = obj;
  for (let i = from; i < keys.length; i++) {
    if (Array.isArray(cur)) {
      if (index < 0) {
        const out: J[] = [];
        for (const item of cur) {
          const r = values(item, keys, index, i);
          if (r) out.push(...r);
          else out.push(undefined);
        }
        return out;
      }
      if (index >= cur.length) return undefined;
      cur = cur[index];
    }
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, J>)[keys[i]];
    if (cur === undefined) return undefined;
  }
  return [cur];
}

function stringsSkipNil(arr: J[] | undefined): string[] | undefined {
  if (!arr) return undefined;
  const out: string[] = [];
  for (const v of arr) if (v !== undefined && v !== null) out.push(asString(v)!);
  return out.length ? out : undefined;
}

function indexOf(arg: string | undefined): number {
  if (arg === undefined || arg === '') return -1;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a numeric index but got "${arg}"`);
  return n;
}

function scalar(...keys: string[]): (arg?: string) => Getter {
  return () => (ev) => asString(at(audit(ev), keys));
}

function list(...keys: string[]): (arg?: string) => Getter {
  return () => (ev) => {
    const v = at(audit(ev), keys);
    if (!Array.isArray(v)) return undefined;
    const out = v.map((x) => asString(x) ?? '');
    return out.length ? out : undefined;
  };
}

function recursive(...keys: string[]): (arg?: string) => Getter {
  return (arg) => {
    const idx = indexOf(arg);
    return (ev) => stringsSkipNil(values(audit(ev), keys, idx));
  };
}

function rulesField(...keys: string[]): (arg?: string) => Getter {
  return (arg) => {
    const idx = indexOf(arg);
    return (ev) => {
      const arr = values(audit(ev), ['requestObject', 'rules', ...keys], idx);
      if (!arr) return undefined;
      const out: string[] = [];
      for (const v of arr)
        if (Array.isArray(v)) for (const x of v) if (x !== null && x !== undefined) out.push(asString(x)!);
      return out.length ? out : undefined;
    };
  };
}

function imagesOf(ev: VigieEvent, kind: string, idx: number): string[] | undefined {
  const arr = values(audit(ev), ['requestObject', 'spec', kind, 'image'], idx);
  if (!arr || arr.some((x) => x === undefined || x === null)) return undefined;
  return arr.map((x) => asString(x)!);
}

function repository(image: string): string {
  return image.split(':')[0].split('@')[0];
}

function effective(kind: string, key: string): (arg?: string) => Getter {
  return (arg) => {
    const idx = indexOf(arg);
    return (ev) => {
      const a = audit(ev);
      const podLevel = asString(at(a, ['requestObject', 'spec', 'securityContext', key])) ?? '0';
      const arr = values(a, ['requestObject', 'spec', kind, 'securityContext', key], idx);
      if (!arr) return undefined;
      return arr.map((v) => (v === undefined || v === null ? podLevel : asString(v)!));
    };
  };
}

function hostPorts(kind: string): (arg?: string) => Getter {
  return (arg) => {
    const idx = indexOf(arg);
    return (ev) => {
      const per = values(audit(ev), ['requestObject', 'spec', kind, 'ports'], idx);
      if (!per) return undefined;
      const out: string[] = [];
      for (const ports of per) {
        if (!Array.isArray(ports)) continue;
        for (const p of ports as Record<string, J>[]) {
          if (p?.hostPort !== undefined) out.push(asString(p.hostPort)!);
          else if (p?.containerPort !== undefined) out.push(asString(p.containerPort)!);
        }
      }
      return out.length ? out : undefined;
    };
  };
}

/** RFC 6901 JSON pointer: "/a~1b/0" → ["a/b", "0"]. */
export function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw new Error(`JSON pointer must start with "/": "${ptr}"`);
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function pointerGet(doc: J, path: readonly string[]): J {
  let cur = doc;
  for (const k of path) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(k)) return undefined;
      cur = cur[Number(k)];
    } else if (cur !== null && typeof cur === 'object') {
      cur = (cur as Record<string, J>)[k];
    } else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function jsonValue(arg: string | undefined): Getter {
  if (arg === undefined) throw new Error('jevt.value needs a JSON pointer argument, e.g. jevt.value[/stage]');
  const path = parsePointer(arg);
  return (ev) => asString(pointerGet(ev.audit, path));
}

function rawtime(ev: VigieEvent): FieldValue {
  return ev.audit ? Number(ev.ts) : undefined;
}

function fmtTime(ev: VigieEvent): FieldValue {
  if (!ev.audit) return undefined;
  const ns = ev.ts;
  const d = new Date(Number(ns / 1_000_000n));
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${d.toISOString().slice(11, 19)}.${frac}`;
}

const s = (
  name: string,
  desc: string,
  make: (arg?: string) => Getter,
  arg: FieldDef['arg'] = 'none',
): FieldDef => ({
  name,
  type: 'string',
  provided: true,
  desc,
  make,
  arg,
});
const l = (
  name: string,
  desc: string,
  make: (arg?: string) => Getter,
  arg: FieldDef['arg'] = 'optional',
): FieldDef => ({
  name,
  type: 'string',
  list: true,
  provided: true,
  desc,
  make,
  arg,
});

function containerFields(kind: 'containers' | 'initContainers' | 'ephemeralContainers'): FieldDef[] {
  const p = `ka.req.pod.${kind}`;
  const sc = (key: string) => recursive('requestObject', 'spec', kind, 'securityContext', key);
  return [
    l(`${p}.image`, `images of the pod's ${kind}`, (arg) => {
      const idx = indexOf(arg);
      return (ev) => imagesOf(ev, kind, idx);
    }),
    l(`${p}.image.repository`, `image repositories of the pod's ${kind}`, (arg) => {
      const idx = indexOf(arg);
      return (ev) => imagesOf(ev, kind, idx)?.map(repository);
    }),
    l(`${p}.host_port`, `hostPort values of the pod's ${kind}`, hostPorts(kind)),
    l(`${p}.privileged`, `privileged flags of the pod's ${kind}`, sc('privileged')),
    l(`${p}.allow_privilege_escalation`, 'allowPrivilegeEscalation flags', sc('allowPrivilegeEscalation')),
    l(`${p}.read_only_fs`, 'readOnlyRootFilesystem flags', sc('readOnlyRootFilesystem')),
    l(`${p}.run_as_user`, 'runAsUser of each container', sc('runAsUser')),
    l(
      `${p}.eff_run_as_user`,
      'effective runAsUser (container, else pod, else 0)',
      effective(kind, 'runAsUser'),
    ),
    l(`${p}.run_as_group`, 'runAsGroup of each container', sc('runAsGroup')),
    l(
      `${p}.eff_run_as_group`,
      'effective runAsGroup (container, else pod, else 0)',
      effective(kind, 'runAsGroup'),
    ),
    l(`${p}.proc_mount`, 'procMount of each container', sc('procMount')),
    l(`${p}.add_capabilities`, 'capabilities added to each container', (arg) => {
      const idx = indexOf(arg);
      return (ev) => {
        const per = values(
          audit(ev),
          ['requestObject', 'spec', kind, 'securityContext', 'capabilities', 'add'],
          idx,
        );
        if (!per) return undefined;
        const out: string[] = [];
        for (const v of per) if (Array.isArray(v)) for (const x of v) out.push(asString(x)!);
        return out.length ? out : undefined;
      };
    }),
  ];
}

export const K8S_AUDIT_FIELDS: readonly FieldDef[] = [
  s('ka.auditid', 'audit event id', scalar('auditID')),
  s('ka.stage', 'request stage', scalar('stage')),
  s('ka.auth.decision', 'authorization decision', scalar('annotations', 'authorization.k8s.io/decision')),
  s('ka.auth.reason', 'authorization reason', scalar('annotations', 'authorization.k8s.io/reason')),
  s('ka.user.name', 'user name', scalar('user', 'username')),
  l('ka.user.groups', 'user groups', list('user', 'groups'), 'none'),
  s('ka.impuser.name', 'impersonated user name', scalar('impersonatedUser', 'username')),
  s('ka.verb', 'verb', scalar('verb')),
  s('ka.uri', 'request URI', scalar('requestURI')),
  s(
    'ka.uri.param',
    'query parameter of the URI',
    (arg) => (ev) => {
      const uri = asString(at(audit(ev), ['requestURI']));
      if (uri === undefined) return undefined;
      const q = uri.indexOf('?');
      if (q < 0) return undefined;
      return new URLSearchParams(uri.slice(q + 1)).get(arg!) ?? undefined;
    },
    'required',
  ),
  s('ka.target.name', 'target object name', scalar('objectRef', 'name')),
  s('ka.target.namespace', 'target namespace', scalar('objectRef', 'namespace')),
  s('ka.target.resource', 'target resource', scalar('objectRef', 'resource')),
  s('ka.target.subresource', 'target subresource', scalar('objectRef', 'subresource')),
  l(
    'ka.req.binding.subjects',
    'subjects of a (cluster) role binding',
    list('requestObject', 'subjects'),
    'none',
  ),
  s('ka.req.binding.role', 'role of a (cluster) role binding', scalar('requestObject', 'roleRef', 'name')),
  s(
    'ka.req.binding.subject.has_name',
    'deprecated; always "true" like the plugin',
    () => (ev) => (audit(ev) ? 'true' : undefined),
    'required',
  ),
  s('ka.req.configmap.name', 'configmap name', scalar('objectRef', 'name')),
  s('ka.req.configmap.obj', 'configmap data (JSON)', scalar('requestObject', 'data')),
  ...containerFields('containers'),
  ...containerFields('initContainers'),
  ...containerFields('ephemeralContainers'),
  s(
    'ka.req.container.image',
    'deprecated: image of the first container',
    () => (ev) => imagesOf(ev, 'containers', 0)?.[0],
  ),
  s('ka.req.container.image.repository', 'deprecated: repository of the first container', () => (ev) => {
    const i = imagesOf(ev, 'containers', 0)?.[0];
    return i === undefined ? undefined : repository(i);
  }),
  s('ka.req.pod.host_ipc', 'hostIPC', scalar('requestObject', 'spec', 'hostIPC')),
  s('ka.req.pod.host_network', 'hostNetwork', scalar('requestObject', 'spec', 'hostNetwork')),
  s(
    'ka.req.container.host_network',
    'deprecated alias of ka.req.pod.host_network',
    scalar('requestObject', 'spec', 'hostNetwork'),
  ),
  s('ka.req.pod.host_pid', 'hostPID', scalar('requestObject', 'spec', 'hostPID')),
  s('ka.req.container.privileged', 'deprecated: "true" when any container is privileged', () => (ev) => {
    const arr = values(
      audit(ev),
      ['requestObject', 'spec', 'containers', 'securityContext', 'privileged'],
      -1,
    );
    if (!arr) return undefined;
    return arr.some((v) => v === true) ? 'true' : 'false';
  }),
  s(
    'ka.req.pod.run_as_user',
    'pod runAsUser',
    scalar('requestObject', 'spec', 'securityContext', 'runAsUser'),
  ),
  s(
    'ka.req.pod.run_as_group',
    'pod runAsGroup',
    scalar('requestObject', 'spec', 'securityContext', 'runAsGroup'),
  ),
  s('ka.req.pod.fs_group', 'pod fsGroup', scalar('requestObject', 'spec', 'securityContext', 'fsGroup')),
  l(
    'ka.req.pod.supplemental_groups',
    'pod supplementalGroups',
    list('requestObject', 'spec', 'securityContext', 'supplementalGroups'),
    'none',
  ),
  l('ka.req.role.rules', 'rules of a (cluster) role', list('requestObject', 'rules'), 'none'),
  l('ka.req.role.rules.apiGroups', 'apiGroups of the role rules', rulesField('apiGroups')),
  l('ka.req.role.rules.nonResourceURLs', 'nonResourceURLs of the role rules', rulesField('nonResourceURLs')),
  l('ka.req.role.rules.verbs', 'verbs of the role rules', rulesField('verbs')),
  l('ka.req.role.rules.resources', 'resources of the role rules', rulesField('resources')),
  s('ka.req.service.type', 'service type', scalar('requestObject', 'spec', 'type')),
  l('ka.req.service.ports', 'service ports (JSON)', recursive('requestObject', 'spec', 'ports')),
  l(
    'ka.req.pod.volumes.hostpath',
    'hostPath paths of the volumes',
    recursive('requestObject', 'spec', 'volumes', 'hostPath', 'path'),
  ),
  s(
    'ka.req.volume.hostpath',
    'deprecated: "true" when a volume uses the given host path (prefix with a trailing *)',
    (arg) => {
      const prefix = arg!.endsWith('*') ? arg!.slice(0, -1) : undefined;
      return (ev) => {
        const paths = stringsSkipNil(
          values(audit(ev), ['requestObject', 'spec', 'volumes', 'hostPath', 'path'], -1),
        );
        if (!audit(ev)) return undefined;
        if (!paths) return 'false';
        return paths.some((p) => (prefix !== undefined ? p.startsWith(prefix) : p === arg))
          ? 'true'
          : 'false';
      };
    },
    'required',
  ),
  l(
    'ka.req.pod.volumes.flexvolume_driver',
    'flexVolume drivers',
    recursive('requestObject', 'spec', 'volumes', 'flexVolume', 'driver'),
  ),
  l('ka.req.pod.volumes.volume_type', 'volume types', (arg) => {
    const idx = indexOf(arg);
    return (ev) => {
      const vols = values(audit(ev), ['requestObject', 'spec', 'volumes'], idx);
      if (!vols) return undefined;
      const out: string[] = [];
      for (const v of vols) {
        const items = Array.isArray(v) ? v : [v];
        for (const it of items)
          if (it && typeof it === 'object') for (const k of Object.keys(it)) if (k !== 'name') out.push(k);
      }
      return out.length ? out : undefined;
    };
  }),
  s('ka.resp.name', 'response object name', scalar('responseObject', 'metadata', 'name')),
  s('ka.response.code', 'response code', scalar('responseStatus', 'code')),
  s('ka.response.reason', 'response reason', scalar('responseStatus', 'reason')),
  s('ka.useragent', 'user agent', scalar('userAgent')),
  l('ka.sourceips', 'source IPs', (arg) => {
    const idx = indexOf(arg);
    return (ev) => {
      const v = at(audit(ev), ['sourceIPs']);
      if (!Array.isArray(v)) return undefined;
      if (idx >= 0) return idx < v.length ? [asString(v[idx])!] : undefined;
      return v.length ? v.map((x) => asString(x)!) : undefined;
    };
  }),
  // json plugin
  s('jevt.value', 'value at a JSON pointer', jsonValue, 'required'),
  s('json.value', 'value at a JSON pointer', jsonValue, 'required'),
  s('jevt.obj', 'the whole event (JSON)', () => (ev) => (ev.audit ? JSON.stringify(ev.audit) : undefined)),
  s('json.obj', 'the whole event (JSON)', () => (ev) => (ev.audit ? JSON.stringify(ev.audit) : undefined)),
  {
    name: 'jevt.rawtime',
    type: 'number',
    provided: true,
    desc: 'event time, ns',
    make: () => rawtime,
    arg: 'none',
  },
  {
    name: 'json.rawtime',
    type: 'number',
    provided: true,
    desc: 'event time, ns',
    make: () => rawtime,
    arg: 'none',
  },
  s('jevt.time', 'event time HH:MM:SS.ns', () => fmtTime),
  s(
    'jevt.time.iso8601',
    'event time ISO-8601',
    () => (ev) => (ev.audit ? new Date(Number(ev.ts / 1_000_000n)).toISOString() : undefined),
  ),
  // Fields Falco's engine adds to every source.
  s('evt.source', 'event source', () => (ev) => (ev.audit ? 'k8s_audit' : undefined)),
];

export const k8sAuditCatalog = new MapCatalog('k8s_audit', K8S_AUDIT_FIELDS);
